"""SnapStart, as the runtime drives it: initialise, run the before-snapshot hooks, (time passes: the pointer moves),
run the after-restore hooks, answer. No local tool emulates SnapStart; the hooks are run here by the Lambda runtime
interface client's own runner (awslambdaric.lambda_runtime_hooks_runner), against moto_server over HTTP."""

from __future__ import annotations

import importlib
import json
import random
import sys
import uuid
from collections.abc import Iterator
from types import ModuleType

import pytest
import snapshot_restore_py  # type: ignore[import-untyped]
from awslambdaric import lambda_runtime_hooks_runner  # type: ignore[import-untyped]

from bikecast.registry import ModelRegistry
from bikecast.store import S3Store
from tests.conftest import FakeLambdaContext, load_event
from training import publish

pytestmark = pytest.mark.integration
BUCKET = "snapstart-models"


@pytest.fixture
def registry(moto_url: str, aws_env: None, monkeypatch: pytest.MonkeyPatch) -> ModelRegistry:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
    store = S3Store(BUCKET)
    store.ensure_bucket()
    return ModelRegistry(store)


@pytest.fixture
def snapshotted_app(
    registry: ModelRegistry, moto_url: str, powertools_env: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModuleType]:
    """The predict function initialised as for a snapshot: imported (model loaded), before-snapshot hooks run.
    A warm container would re-check the pointer only after an hour."""
    monkeypatch.setenv("MODEL_BUCKET", BUCKET)
    monkeypatch.setenv("MODEL_REFRESH_SECONDS", "3600")
    monkeypatch.setenv("S3_ENDPOINT_URL", moto_url)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    snapshot_restore_py.get_before_snapshot().clear()
    snapshot_restore_py.get_after_restore().clear()
    sys.modules.pop("app", None)
    app = importlib.import_module("app")
    lambda_runtime_hooks_runner.run_before_snapshot()
    yield app
    snapshot_restore_py.get_after_restore().clear()
    sys.modules.pop("app", None)


def served(app: ModuleType) -> str:
    answer = app.lambda_handler(load_event("makecalc-seed"), FakeLambdaContext())
    assert answer["statusCode"] == 200, answer["body"]
    assert sorted(json.loads(answer["body"])) == ["0", "1", "2"]
    (version,) = answer["multiValueHeaders"]["X-Model-Version"]
    return str(version)


def release(registry: ModelRegistry, artifact: publish.Artifact, label: str) -> str:
    """Publish the artifact as a new version (versions are never overwritten) and make it current."""
    version = f"{label}-{uuid.uuid4().hex[:8]}"
    registry.publish(version, artifact.files, artifact.manifest | {"version": version})
    registry.move_pointer(version)
    return version


def test_a_function_restored_after_the_pointer_moved_serves_the_new_version(
    registry: ModelRegistry, built_artifact: publish.Artifact, request: pytest.FixtureRequest
) -> None:
    first = release(registry, built_artifact, "snapshotted")
    app = request.getfixturevalue("snapshotted_app")
    assert app.predictor.model.version == first
    assert len(snapshot_restore_py.get_after_restore()) == 1  # registered by importing the function
    snapshot_random = random.getstate()

    second = release(registry, built_artifact, "after-publication")  # while the snapshot waits to be restored
    assert app.predictor.model.version == first  # the snapshot's model, until a hook checks
    lambda_runtime_hooks_runner.run_after_restore()

    assert served(app) == second
    assert random.getstate() != snapshot_random  # each restored environment draws its own


def test_without_a_move_a_restored_function_keeps_the_snapshots_model(
    registry: ModelRegistry, built_artifact: publish.Artifact, request: pytest.FixtureRequest
) -> None:
    version = release(registry, built_artifact, "snapshotted")
    app = request.getfixturevalue("snapshotted_app")
    loaded = app.predictor.model
    lambda_runtime_hooks_runner.run_after_restore()
    assert app.predictor.model is loaded  # kept, not loaded again
    assert served(app) == version
