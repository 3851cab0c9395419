"""Faults around the predict function, each with the real handler and S3 over HTTP (moto_server):
no 5xx beyond a clean 503, the last good model keeps serving, and nothing in the bucket is deleted or overwritten."""

from __future__ import annotations

import importlib
import json
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import sam_local

from bikecast.registry import MODEL_FILE, ModelRegistry
from bikecast.store import S3Store
from tests.conftest import FakeLambdaContext, load_event
from training import publish

pytestmark = pytest.mark.integration


def cold_start(monkeypatch: pytest.MonkeyPatch, bucket: str, endpoint: str, retry_seconds: float = 0) -> ModuleType:
    monkeypatch.setenv("MODEL_BUCKET", bucket)
    monkeypatch.setenv("S3_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("MODEL_RETRY_SECONDS", str(retry_seconds))
    monkeypatch.setenv("MODEL_REFRESH_SECONDS", "0")
    sys.modules.pop("app", None)
    return importlib.import_module("app")


def ask(app: ModuleType, name: str = "makecalc-seed") -> tuple[int, dict[str, Any], str]:
    response = app.lambda_handler(load_event(name), FakeLambdaContext())
    version = (response.get("multiValueHeaders") or {}).get("X-Model-Version", [""])[0]
    return response["statusCode"], json.loads(response["body"]), version


def snapshot(store: S3Store) -> dict[str, str]:
    return {info.key: info.etag for info in store.objects("models/")}


@pytest.fixture
def published(
    moto_url: str, aws_env: None, powertools_env: None, built_artifact: publish.Artifact
) -> Iterator[ModelRegistry]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
        store = S3Store(f"faults-{uuid.uuid4().hex[:12]}")
        store.ensure_bucket()
        registry = ModelRegistry(store)
        publish.publish(built_artifact, registry, progress=lambda _: None)
        yield registry


def test_s3_unreachable_at_cold_start_then_recovers_without_restart(
    aws_env: None, powertools_env: None, built_artifact: publish.Artifact, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = sam_local.free_port()
    started = time.monotonic()
    app = cold_start(monkeypatch, "recovering", f"http://127.0.0.1:{port}")  # nothing listens there yet
    assert time.monotonic() - started < 8
    status, body, _ = ask(app)
    assert (status, body["error"]) == (503, "model_unavailable")
    assert ask(app, "health")[0] == 503
    with sam_local.moto_server(port):
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")
        store = S3Store("recovering")
        store.ensure_bucket()
        publish.publish(built_artifact, ModelRegistry(store), progress=lambda _: None)
        status, _, version = ask(app)  # same module: no restart
        assert (status, version) == (200, built_artifact.version)


def test_slow_s3_never_hangs_past_the_budget(
    aws_env: None, powertools_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that accepts connections and never answers: botocore's timeouts and retries end it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        app = cold_start(monkeypatch, "slow", f"http://127.0.0.1:{server.getsockname()[1]}")
        elapsed = time.monotonic() - started
        assert elapsed < 9, f"cold start took {elapsed:.1f} s against a silent S3"
        assert ask(app)[0] == 503
    finally:
        stop.set()
        thread.join(2)
        for connection in held:
            connection.close()
        server.close()


@pytest.mark.parametrize("fault", ["truncated", "tampered", "missing-version", "garbage-pointer", "empty-pointer"])
def test_a_broken_new_model_leaves_the_last_good_one_serving(
    published: ModelRegistry,
    built_artifact: publish.Artifact,
    monkeypatch: pytest.MonkeyPatch,
    moto_url: str,
    fault: str,
) -> None:
    app = cold_start(monkeypatch, published.store.bucket, moto_url)
    assert ask(app)[2] == built_artifact.version
    model = built_artifact.files[MODEL_FILE]
    if fault in ("truncated", "tampered"):
        broken = model[: len(model) // 2] if fault == "truncated" else model[:100] + b"\x00" + model[101:]
        published.publish("broken", {MODEL_FILE: broken}, built_artifact.manifest | {"version": "broken"})
        published.promote("broken")
    elif fault == "missing-version":
        published.store.put(published.pointer_key, b'{"version": "does-not-exist"}', "application/json")
    elif fault == "garbage-pointer":
        published.store.put(published.pointer_key, b"\x89PNG not json", "application/json")
    else:
        published.store.put(published.pointer_key, b"", "application/json")
    before = snapshot(published.store)
    for _ in range(3):
        status, _, version = ask(app)
        assert (status, version) == (200, built_artifact.version)
    assert ask(app, "health")[0] == 200
    assert snapshot(published.store) == before  # serving never writes, deletes or overwrites


def test_a_model_that_returns_nan_is_a_clean_503(
    published: ModelRegistry, monkeypatch: pytest.MonkeyPatch, moto_url: str
) -> None:
    app = cold_start(monkeypatch, published.store.bucket, moto_url)
    model = app.predictor.model
    assert model is not None
    monkeypatch.setattr(model, "predict", lambda batch: np.full(len(batch["dteday"]), np.nan))
    status, body, _ = ask(app)
    assert (status, body["error"]) == (503, "model_unavailable")
    assert "Traceback" not in json.dumps(body)


def test_a_full_or_missing_tmp_does_not_matter(
    published: ModelRegistry,
    built_artifact: publish.Artifact,
    monkeypatch: pytest.MonkeyPatch,
    moto_url: str,
    tmp_path: Path,
) -> None:
    """The model is loaded from memory, never through /tmp."""
    unusable = tmp_path / "no-space"
    unusable.write_text("a file where a directory should be")
    monkeypatch.setenv("TMPDIR", str(unusable))
    monkeypatch.setattr("tempfile.tempdir", str(unusable))
    app = cold_start(monkeypatch, published.store.bucket, moto_url)
    assert ask(app)[0:3:2] == (200, built_artifact.version)
    assert not os.path.isdir(unusable)
