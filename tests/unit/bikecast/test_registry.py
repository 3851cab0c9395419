from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from bikecast.registry import ModelRegistry, PointerInvalid
from bikecast.store import ObjectExists, ObjectMissing, PreconditionFailed, S3Store
from tests.conftest import BUCKET

MANIFEST = {"version": "v1", "model": {"sha256": "0" * 64}}


@pytest.fixture
def registry(aws_env: None) -> Iterator[ModelRegistry]:
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield ModelRegistry(S3Store(BUCKET))


def test_publish_then_promote_moves_the_pointer(registry: ModelRegistry) -> None:
    assert registry.current() is None
    registry.publish("v1", {"model.joblib": b"one"}, MANIFEST)
    assert registry.current() is None  # publishing alone serves nothing
    registry.promote("v1")
    pointer = registry.current()
    assert pointer is not None
    assert pointer.version == "v1"
    assert registry.versions() == ["v1"]


def test_a_version_is_never_overwritten(registry: ModelRegistry) -> None:
    registry.publish("v1", {"model.joblib": b"one"}, MANIFEST)
    with pytest.raises(ObjectExists):
        registry.publish("v1", {"model.joblib": b"two"}, MANIFEST)
    assert registry.model_file("v1") == b"one"


def test_promoting_an_incomplete_version_is_refused(registry: ModelRegistry) -> None:
    registry.store.put_new(registry.key("v2", "model.joblib"), b"half", "application/octet-stream")
    with pytest.raises(ObjectMissing):
        registry.promote("v2")
    assert registry.current() is None


def test_conditional_promotion_loses_a_race_cleanly(registry: ModelRegistry) -> None:
    for version in ("v1", "v2", "v3"):
        registry.publish(version, {"model.joblib": version.encode()}, MANIFEST)
    registry.promote("v1")
    seen = registry.current()
    registry.promote("v2", expected=seen)
    with pytest.raises(PreconditionFailed):
        registry.promote("v3", expected=seen)  # the pointer moved since it was read
    current = registry.current()
    assert current is not None
    assert current.version == "v2"


def test_garbage_pointer_is_reported(registry: ModelRegistry) -> None:
    registry.store.put(registry.pointer_key, b"{not json", "application/json")
    with pytest.raises(PointerInvalid):
        registry.current()
    registry.store.put(registry.pointer_key, b'{"version": "../../etc"}', "application/json")
    with pytest.raises(PointerInvalid):
        registry.current()
