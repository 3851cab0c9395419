"""The warm model: cold-start load, cheap refresh, and never trading a good model for a broken one."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import boto3
import numpy as np
import pytest
from moto import mock_aws

from bikecast.registry import ModelRegistry
from bikecast.serving import BatchTooLarge, ModelUnavailable, Predictor, Settings
from bikecast.store import S3Store
from bikecast.trees import TREES_FILE
from tests.conftest import BUCKET, DAILY
from training import publish

ROW = DAILY.row.model_validate(
    {"dteday": "2012-06-01", "weathersit": 1, "temp": 0.6, "atemp": 0.55, "hum": 0.5, "windspeed": 0.2}
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def registry(aws_env: None) -> Iterator[ModelRegistry]:
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield ModelRegistry(S3Store(BUCKET))


def release(registry: ModelRegistry, built: publish.Artifact, version: str, trees: bytes | None = None) -> None:
    """Publish a copy of the built artifact as ``version`` (optionally with another tree file) and move the
    pointer to it, unchecked (as a broken trainer or a careless operator could)."""
    manifest = copy.deepcopy(built.manifest) | {"version": version}
    files = dict(built.files) | ({TREES_FILE: trees} if trees is not None else {})
    registry.publish(version, files, manifest)
    registry.move_pointer(version)


def predictor(registry: ModelRegistry, clock: Clock, **settings: float) -> Predictor:
    values = {"bucket": BUCKET, "refresh_seconds": 60, "retry_seconds": 5} | settings
    return Predictor(DAILY, registry, Settings.model_validate(values), clock=clock)


def test_pointer_move_is_picked_up_after_the_refresh_interval(
    registry: ModelRegistry, built_artifact: publish.Artifact
) -> None:
    clock = Clock()
    release(registry, built_artifact, "v1")
    serving = predictor(registry, clock)
    assert serving.forecast([ROW]).model_version == "v1"
    release(registry, built_artifact, "v2")
    clock.now = 59
    assert serving.forecast([ROW]).model_version == "v1"  # not re-checked yet
    clock.now = 61
    assert serving.forecast([ROW]).model_version == "v2"


def test_corrupt_new_versions_keep_the_last_good_model_and_are_named(
    registry: ModelRegistry, built_artifact: publish.Artifact
) -> None:
    clock = Clock()
    release(registry, built_artifact, "v1")
    serving = predictor(registry, clock)
    serving.refresh(force=True)
    release(registry, built_artifact, "v2", trees=built_artifact.files[TREES_FILE][:-10])
    clock.now = 100
    assert serving.forecast([ROW]).model_version == "v1"
    assert serving.refused is not None
    assert serving.refused[0] == "v2"
    assert "sha256" in serving.refused[1]
    registry.store.put(registry.pointer_key, b"garbage", "application/json")
    clock.now = 200
    assert serving.forecast([ROW]).model_version == "v1"
    registry.store.put(registry.pointer_key, b'{"version": "missing"}', "application/json")
    clock.now = 300
    assert serving.forecast([ROW]).model_version == "v1"
    registry.move_pointer("v1")  # back to the serving version: nothing is refused any more
    clock.now = 400
    assert serving.forecast([ROW]).model_version == "v1"
    assert serving.refused is None


def test_a_refused_version_is_not_fetched_again_until_the_pointer_moves(
    registry: ModelRegistry, built_artifact: publish.Artifact, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    release(registry, built_artifact, "v1")
    serving = predictor(registry, clock, refresh_seconds=0)
    serving.refresh(force=True)
    release(registry, built_artifact, "v2", trees=b"not a tree file")
    fetched: list[str] = []
    original = ModelRegistry.model_file

    def model_file(self: ModelRegistry, version: str, name: str = "") -> bytes:
        fetched.append(version)
        return original(self, version, name)

    monkeypatch.setattr(ModelRegistry, "model_file", model_file)
    for tick in range(1, 5):
        clock.now = tick
        assert serving.forecast([ROW]).model_version == "v1"
    assert fetched == ["v2"]


def test_without_a_model_it_is_unavailable_then_recovers(
    registry: ModelRegistry, built_artifact: publish.Artifact
) -> None:
    clock = Clock()
    serving = predictor(registry, clock)
    with pytest.raises(ModelUnavailable):
        serving.forecast([ROW])
    release(registry, built_artifact, "v1")
    clock.now = 6  # past the retry interval
    assert serving.forecast([ROW]).model_version == "v1"


def test_batch_limit_and_non_finite_or_absurd_forecasts(registry: ModelRegistry) -> None:
    serving = predictor(registry, Clock(), max_batch_rows=2)
    with pytest.raises(BatchTooLarge, match="3 rows exceed the limit of 2"):
        serving.forecast([ROW] * 3)
    assert serving.answer(np.array([-3.2, 0.4, 1062.6])) == [0, 0, 1063]
    for broken in (np.array([1.0, np.nan]), np.array([np.inf]), np.array([1e30])):
        with pytest.raises(ModelUnavailable, match="not a finite number"):
            serving.answer(broken)
