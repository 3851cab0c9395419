"""The warm model: cold-start load, cheap refresh, and never trading a good model for a broken one."""

import copy
from collections.abc import Iterator

import boto3
import numpy as np
import pytest
from moto import mock_aws

from bikecast.registry import MODEL_FILE, ModelRegistry
from bikecast.schema import Observation
from bikecast.serving import BatchTooLarge, ModelUnavailable, Predictor, Settings, to_rentals
from bikecast.store import S3Store
from bikecast.trees import TREES_FILE
from tests.conftest import BUCKET
from training import publish

ROW = Observation.model_validate(
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


def release(registry: ModelRegistry, built: publish.Artifact, version: str, **replaced: bytes) -> None:
    """Publish a copy of the built artifact as ``version`` (optionally with other files: ``model``, ``trees``) and
    promote it."""
    manifest = copy.deepcopy(built.manifest) | {"version": version}
    names = {"model": MODEL_FILE, "trees": TREES_FILE}
    files = dict(built.files) | {names[kind]: body for kind, body in replaced.items()}
    registry.publish(version, files, manifest)
    registry.promote(version)


def predictor(registry: ModelRegistry, clock: Clock, **settings: float) -> Predictor:
    return Predictor(registry, Settings(bucket=BUCKET, refresh_seconds=60, retry_seconds=5, **settings), clock)  # type: ignore[arg-type]


def test_pointer_move_is_picked_up_after_the_refresh_interval(
    registry: ModelRegistry, built_artifact: publish.Artifact
) -> None:
    clock = Clock()
    release(registry, built_artifact, "v1")
    serving = predictor(registry, clock)
    assert serving.predict([ROW]).model_version == "v1"
    release(registry, built_artifact, "v2")
    clock.now = 59
    assert serving.predict([ROW]).model_version == "v1"  # not re-checked yet
    clock.now = 61
    assert serving.predict([ROW]).model_version == "v2"


def test_corrupt_new_version_keeps_the_last_good_model(
    registry: ModelRegistry, built_artifact: publish.Artifact
) -> None:
    clock = Clock()
    release(registry, built_artifact, "v1")
    serving = predictor(registry, clock)
    serving.refresh(force=True)
    release(
        registry,
        built_artifact,
        "v2",
        model=built_artifact.files[MODEL_FILE][:-10],
        trees=built_artifact.files[TREES_FILE][:-10],
    )
    clock.now = 100
    assert serving.predict([ROW]).model_version == "v1"
    registry.store.put(registry.pointer_key, b"garbage", "application/json")
    clock.now = 200
    assert serving.predict([ROW]).model_version == "v1"
    registry.store.put(registry.pointer_key, b'{"version": "missing"}', "application/json")
    clock.now = 300
    assert serving.predict([ROW]).model_version == "v1"


def test_a_broken_tree_file_falls_back_to_the_joblib_pipeline(
    registry: ModelRegistry, built_artifact: publish.Artifact
) -> None:
    release(registry, built_artifact, "v1", trees=b"\x00" + built_artifact.files[TREES_FILE][1:])
    serving = predictor(registry, Clock())
    forecast = serving.predict([ROW])
    assert forecast.model_version == "v1"
    assert serving.model is not None
    assert serving.model.trees is None  # answered by the unpickled pipeline


def test_a_version_with_a_tree_file_never_reads_its_joblib_file(
    registry: ModelRegistry, built_artifact: publish.Artifact
) -> None:
    release(registry, built_artifact, "v1", model=b"not a pickle: never read while the tree file serves")
    assert predictor(registry, Clock()).predict([ROW]).model_version == "v1"


def test_without_a_model_it_is_unavailable_then_recovers(
    registry: ModelRegistry, built_artifact: publish.Artifact
) -> None:
    clock = Clock()
    serving = predictor(registry, clock)
    with pytest.raises(ModelUnavailable):
        serving.predict([ROW])
    release(registry, built_artifact, "v1")
    clock.now = 6  # past the retry interval
    assert serving.predict([ROW]).model_version == "v1"


def test_batch_limit_and_non_finite_forecasts(registry: ModelRegistry) -> None:
    serving = predictor(registry, Clock(), max_batch_rows=2)
    with pytest.raises(BatchTooLarge, match="3 rows exceed the limit of 2"):
        serving.predict([ROW] * 3)
    assert to_rentals(np.array([-3.2, 0.4, 1062.6])) == [0, 0, 1063]
    with pytest.raises(ModelUnavailable, match="non-finite"):
        to_rentals(np.array([1.0, np.nan]))
