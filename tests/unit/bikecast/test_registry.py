import json
import math
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from bikecast.registry import Layout, ModelRegistry, PointerInvalid, to_json
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
    registry.move_pointer("v1")
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
        registry.move_pointer("v2")
    assert registry.current() is None


def test_conditional_promotion_loses_a_race_cleanly(registry: ModelRegistry) -> None:
    for version in ("v1", "v2", "v3"):
        registry.publish(version, {"model.joblib": version.encode()}, MANIFEST)
    registry.move_pointer("v1")
    seen = registry.current()
    registry.move_pointer("v2", expected=seen)
    with pytest.raises(PreconditionFailed):
        registry.move_pointer("v3", expected=seen)  # the pointer moved since it was read
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


def test_each_model_has_its_own_prefixes_and_the_default_keeps_the_root() -> None:
    daily = Layout.of("daily", default=True)
    hourly = Layout.of("hourly", default=False)
    assert (daily.models, daily.training, daily.reports) == ("models/", "training-data/", "reports/")
    assert (hourly.models, hourly.training, hourly.reports) == (
        "models/hourly/",
        "training-data/hourly/",
        "reports/hourly/",
    )
    layouts = {"daily": daily, "hourly": hourly}
    assert daily.owns_upload("training-data/day.csv", layouts)
    assert daily.owns_upload("training-data/2024/day.csv", layouts)  # any folder but another model's
    assert not daily.owns_upload("training-data/hourly/hour.csv", layouts)
    assert hourly.owns_upload("training-data/hourly/hour.csv", layouts)
    for key in ("training-data/day.CSV", "training-data/day.csv.txt", "models/x.csv", "day.csv"):
        assert not daily.owns_upload(key, layouts), key
        assert not hourly.owns_upload(key, layouts), key


def test_models_do_not_see_each_others_versions(registry: ModelRegistry) -> None:
    hourly = ModelRegistry(registry.store, Layout.of("hourly", default=False).models)
    registry.publish("v1", {"model.joblib": b"one"}, MANIFEST)
    hourly.publish("h1", {"model.joblib": b"two"}, MANIFEST | {"version": "h1"})
    registry.move_pointer("v1")
    assert registry.versions() == ["v1"]
    assert hourly.versions() == ["h1"]
    assert hourly.current() is None


def test_upload_records_are_kept_per_key(registry: ModelRegistry) -> None:
    registry.record_upload({"key": "training-data/a b.csv", "etag": "1", "status": "accepted"})
    registry.record_upload({"key": "training-data/a b.csv", "etag": "2", "status": "rejected"})
    assert [(r["key"], r["etag"], r["status"]) for r in registry.upload_records()] == [
        ("training-data/a b.csv", "2", "rejected")
    ]
    assert not registry.adopted()
    registry.mark_adopted()
    assert registry.adopted()


def test_json_written_to_the_bucket_never_holds_nan() -> None:
    written = json.loads(to_json({"r2": math.nan, "list": [math.inf, 1.0], "nested": {"x": -math.inf}}))
    assert written == {"r2": None, "list": [None, 1.0], "nested": {"x": None}}
