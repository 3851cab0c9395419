"""Retraining on upload, in process against moto's in-memory S3: drift, gate, promotion, rejection, races,
rollback, and the predict function picking up the new version without a restart."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import random
import sys
import threading
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bikecast.registry import ModelRegistry
from bikecast.store import S3Store
from tests.conftest import BUCKET, FakeLambdaContext, load_event
from training import data, drift, model, promotion, retrain

CUTOFF = dt.date(2012, 9, 1)
SETTINGS = retrain.RetrainSettings()


@pytest.fixture(scope="module")
def halves() -> tuple[str, str]:
    return data.split_by_date(data.DEFAULT_DATA.read_text(), CUTOFF)


@pytest.fixture
def bucket(aws_env: None, powertools_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModelRegistry]:
    monkeypatch.setenv("MODEL_REFRESH_SECONDS", "0")  # re-check the pointer on every request
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield ModelRegistry(S3Store(BUCKET))


def upload(registry: ModelRegistry, name: str, text: str) -> dict[str, Any]:
    key = f"training-data/{name}"
    registry.store.put_new(key, text.encode(), "text/csv")
    return retrain.on_upload(registry.store, registry, key, SETTINGS, progress=lambda _: None)


def current_version(registry: ModelRegistry) -> str:
    pointer = registry.current()
    assert pointer is not None
    return pointer.version


def predict(app: ModuleType) -> tuple[int, str]:
    response = app.lambda_handler(load_event("makecalc-seed"), FakeLambdaContext())
    return response["statusCode"], response["multiValueHeaders"].get("X-Model-Version", [""])[0]


def test_upload_retrains_promotes_and_the_warm_function_serves_it(
    bucket: ModelRegistry, halves: tuple[str, str]
) -> None:
    first = upload(bucket, "day-2011-01-to-2012-08.csv", halves[0])
    assert first["promoted"] is True
    assert first["reason"] == "no model is serving yet"
    assert "drift" not in first  # nothing was serving to drift
    sys.modules.pop("app", None)
    app = importlib.import_module("app")
    assert predict(app) == (200, first["version"])

    second = upload(bucket, "day-2012-09-to-12.csv", halves[1])
    assert second["promoted"] is True, second["reason"]
    assert current_version(bucket) == second["version"]
    assert predict(app) == (200, second["version"])  # same warm module, new model, no restart

    manifest = bucket.manifest(second["version"])
    assert manifest["training_data"]["rows"] == 731
    assert [f["key"] for f in manifest["training_data"]["files"]] == [
        "training-data/day-2011-01-to-2012-08.csv",
        "training-data/day-2012-09-to-12.csv",
    ]
    assert manifest["gate"]["holdout"] == {"first_day": "2012-09-01", "last_day": "2012-12-31", "rows": 122}


def test_drift_report_compares_actual_and_promised_error(bucket: ModelRegistry, halves: tuple[str, str]) -> None:
    first = upload(bucket, "before.csv", halves[0])
    second = upload(bucket, "after.csv", halves[1])
    report = second["drift"]
    assert report["model_version"] == first["version"]
    assert report["rows_scored"] == 122
    assert report["expected"]["holdout"] == "chronological"
    promised = bucket.manifest(first["version"])["metrics"]["chronological"]["model"]
    assert report["expected"]["mae"] == promised["mae"]
    assert report["mae_ratio"] == pytest.approx(report["actual"]["mae"] / promised["mae"], abs=0.001)
    assert report["drifted"] == (report["mae_ratio"] > 1.5)
    assert drift.latest(bucket.store) == report
    assert second["drift_report"].startswith("reports/drift/")


def test_a_worse_candidate_is_kept_but_not_promoted(bucket: ModelRegistry) -> None:
    good = upload(bucket, "day.csv", data.DEFAULT_DATA.read_text())
    # Newer rows for every day before the gate's holdout, with the counts shuffled: valid, but nonsense to learn.
    before, _ = data.split_by_date(data.DEFAULT_DATA.read_text(), CUTOFF)
    header, *lines = before.splitlines()
    counts = [line.rsplit(",", 1)[1] for line in lines]
    random.Random(7).shuffle(counts)
    noisy = "\n".join([header] + [line.rsplit(",", 1)[0] + "," + c for line, c in zip(lines, counts, strict=True)])
    worse = upload(bucket, "noisy.csv", noisy)
    assert worse["promoted"] is False
    assert worse["reason"].startswith("failed: candidate RMSE")
    assert current_version(bucket) == good["version"]
    assert worse["version"] in bucket.versions()  # kept, with the reason recorded
    assert bucket.manifest(worse["version"])["gate"]["promote"] is False
    assert bucket.decisions()[-1] == bucket.decisions()[-1] | {"action": "keep", "version": worse["version"]}


@pytest.mark.parametrize("joblib_fallback", [False, True])
def test_a_model_without_a_tree_file_is_promoted_only_where_the_function_can_unpickle_it(
    bucket: ModelRegistry, halves: tuple[str, str], monkeypatch: pytest.MonkeyPatch, joblib_fallback: bool
) -> None:
    first = upload(bucket, "before.csv", halves[0])
    monkeypatch.setitem(model.MODEL_PARAMS, "max_depth", 4)  # 16 leaves: more than the tree file holds
    key = "training-data/after.csv"
    bucket.store.put_new(key, halves[1].encode(), "text/csv")
    # A generous tolerance: this test is about servability, not about depth 4 scoring a little worse.
    gate = promotion.GateSettings(tolerance=1.0, joblib_fallback=joblib_fallback)
    settings = retrain.RetrainSettings(gate=gate)
    deeper = retrain.on_upload(bucket.store, bucket, key, settings, progress=lambda _: None)
    manifest = bucket.manifest(deeper["version"])
    assert manifest["serving"]["format"] == "joblib"
    assert "at most 8" in manifest["serving"]["reason"]
    if joblib_fallback:
        assert deeper["promoted"] is True, deeper["reason"]
    else:
        assert deeper["promoted"] is False
        assert "JoblibFallback=Enabled" in deeper["reason"]
        assert current_version(bucket) == first["version"]


def test_a_bad_upload_is_rejected_whole_with_a_report_and_nothing_changes(
    bucket: ModelRegistry, halves: tuple[str, str]
) -> None:
    good = upload(bucket, "before.csv", halves[0])
    keys_before = set(bucket.store.keys(""))
    bad_text = halves[1].replace("2012-09-03", "2012-09-31").replace(",0.2,", ",warm,", 1)
    outcome = upload(bucket, "after.csv", bad_text)
    assert outcome["status"] == "rejected"
    assert any("dteday" in p for p in outcome["problems"])
    report = json.loads(bucket.store.get(outcome["report"]).body)
    assert report["file"] == f"s3://{BUCKET}/training-data/after.csv"
    assert report["problems"] == outcome["problems"]
    added = set(bucket.store.keys("")) - keys_before
    assert added == {"training-data/after.csv", outcome["report"]}  # only the upload itself and its report
    assert current_version(bucket) == good["version"]
    # a later good upload trains without the rejected file
    later = upload(bucket, "after-fixed.csv", halves[1])
    sources = [f["key"] for f in bucket.manifest(later["version"])["training_data"]["files"]]
    assert "training-data/after.csv" not in sources


def test_racing_retrains_leave_a_valid_pointer_and_every_version(
    bucket: ModelRegistry, halves: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    upload(bucket, "before.csv", halves[0])
    barrier = threading.Barrier(2, timeout=60)
    real_promote = ModelRegistry.promote
    first_attempt: set[int] = set()

    def promote_together(self: ModelRegistry, version: str, **kwargs: Any) -> None:
        if threading.get_ident() not in first_attempt:
            first_attempt.add(threading.get_ident())
            barrier.wait()  # both have read the same pointer and judged against it
        real_promote(self, version, **kwargs)

    monkeypatch.setattr(ModelRegistry, "promote", promote_together)
    bucket.store.put_new("training-data/a.csv", halves[1].encode(), "text/csv")
    bucket.store.put_new("training-data/b.csv", halves[1].encode(), "text/csv")
    outcomes: list[dict[str, Any]] = []

    def run(key: str) -> None:
        registry = ModelRegistry(S3Store(BUCKET))
        outcomes.append(retrain.on_upload(registry.store, registry, key, SETTINGS, progress=lambda _: None))

    threads = [threading.Thread(target=run, args=(k,)) for k in ("training-data/a.csv", "training-data/b.csv")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(outcomes) == 2
    versions = bucket.versions()
    assert {o["version"] for o in outcomes} <= set(versions)
    assert len(versions) == 3
    assert current_version(bucket) in {o["version"] for o in outcomes}
    for version in versions:
        bucket.manifest(version)  # every version complete


def test_rollback_and_promote_move_the_pointer_and_warm_containers_follow(
    bucket: ModelRegistry, halves: tuple[str, str]
) -> None:
    first = upload(bucket, "before.csv", halves[0])
    second = upload(bucket, "after.csv", halves[1])
    sys.modules.pop("app", None)
    app = importlib.import_module("app")
    assert predict(app)[1] == second["version"]
    assert promotion.rollback(bucket) == first["version"]
    assert predict(app)[1] == first["version"]
    with pytest.raises(LookupError):
        promotion.rollback(bucket)  # nothing before the first
    promotion.promote(bucket, second["version"])
    assert predict(app)[1] == second["version"]
    table = promotion.version_table(bucket)
    assert [row["current"] for row in table] == [False, True]


def test_writes_outside_the_training_prefix_are_ignored(bucket: ModelRegistry) -> None:
    for key in ("models/versions/x/model.csv", "reports/drift/x.csv", "training-data/notes.txt", "day.csv"):
        bucket.store.put_new(key, b"{}", "application/json")
        assert retrain.on_upload(bucket.store, bucket, key, SETTINGS, progress=lambda _: None)["status"] == "ignored"
    assert bucket.versions() == []


def test_train_function_handler_runs_on_the_sample_s3_event(bucket: ModelRegistry, halves: tuple[str, str]) -> None:
    event = load_event("s3-put-training-data")
    record = event["Records"][0]["s3"]
    s3 = S3Store(record["bucket"]["name"])
    s3.ensure_bucket()
    s3.put_new(record["object"]["key"], halves[1].encode(), "text/csv")
    s3.put_new("training-data/before.csv", halves[0].encode(), "text/csv")
    sys.modules.pop("training.handler", None)
    handler = importlib.import_module("training.handler")
    result = handler.lambda_handler(event, FakeLambdaContext())
    (outcome,) = result["outcomes"]
    assert outcome["status"] == "trained"
    assert outcome["promoted"] is True
    assert ModelRegistry(s3).current() is not None
