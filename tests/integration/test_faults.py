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

from bikecast.registry import ModelRegistry
from bikecast.scoring import Scorer
from bikecast.store import S3Store
from bikecast.trees import TREES_FILE
from tests.conftest import FakeLambdaContext, load_event, put_in_place
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
        put_in_place(built_artifact, store.bucket)
        yield ModelRegistry(store)


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
        S3Store("recovering").ensure_bucket()
        put_in_place(built_artifact, "recovering")
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
    trees = built_artifact.files[TREES_FILE]
    if fault in ("truncated", "tampered"):
        broken = trees[: len(trees) // 2] if fault == "truncated" else trees[:100] + b"\x00" + trees[101:]
        published.publish("broken", {TREES_FILE: broken}, built_artifact.manifest | {"version": "broken"})
        published.move_pointer("broken")
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
    monkeypatch.setattr(Scorer, "values", lambda self, raw: np.full(len(raw), np.nan))
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


class StallingProxy:
    """A TCP proxy to moto_server that can stall: once ``stall`` is set it accepts connections and forwards nothing,
    like an S3 endpoint that stopped answering."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.stall = threading.Event()
        self.done = threading.Event()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.server.settimeout(0.2)
        while not self.done.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                continue
            self.sockets.append(client)
            if self.stall.is_set():
                continue  # held open, never answered
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self.sockets.append(upstream)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while not self.done.is_set():
                data = source.recv(65536)
                if not data:
                    return
                while self.stall.is_set() and not self.done.is_set():
                    time.sleep(0.05)  # hold what arrived: the endpoint went silent mid-connection
                target.sendall(data)
        except OSError:
            return

    def close(self) -> None:
        self.done.set()
        for item in [*self.sockets, self.server]:
            item.close()


def test_a_stalled_s3_costs_a_warm_request_about_a_second(
    published: ModelRegistry, built_artifact: publish.Artifact, monkeypatch: pytest.MonkeyPatch, moto_url: str
) -> None:
    """The pointer check of a warm container runs inside a user's request: with S3 silent, that request is
    answered by the model it has, after the quick store's one short attempt (it took 4-7 s before)."""
    proxy = StallingProxy(int(moto_url.rsplit(":", 1)[1]))
    try:
        app = cold_start(monkeypatch, published.store.bucket, f"http://127.0.0.1:{proxy.port}")
        assert ask(app)[0:3:2] == (200, built_artifact.version)
        proxy.stall.set()
        started = time.monotonic()
        status, _, version = ask(app)
        elapsed = time.monotonic() - started
        assert (status, version) == (200, built_artifact.version)
        assert elapsed < 2.5, f"a warm request took {elapsed:.1f} s against a stalled S3"
    finally:
        proxy.close()
