"""Retraining on upload, in process against moto's in-memory S3: drift, gate, promotion, rejection, held uploads,
races, rollback, each model on its own, a bucket written before uploads were recorded, and the predict function
picking up the new version without a restart."""

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
from urllib.parse import unquote_plus

import boto3
import pytest
from moto import mock_aws

from bikecast.registry import ModelRegistry
from tests.conftest import BUCKET, DAILY, FakeLambdaContext, deployment, load_event
from training import data, drift, promotion, retrain
from training.deployment import Deployment

CUTOFF = dt.date(2012, 9, 1)


@pytest.fixture(scope="module")
def halves() -> tuple[str, str]:
    return data.split_by_date(data.bundled(DAILY).read_text(), CUTOFF, "dteday")


@pytest.fixture
def bucket(aws_env: None, powertools_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    monkeypatch.setenv("MODEL_REFRESH_SECONDS", "0")  # re-check the pointer on every request
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield deployment()


def upload(where: Deployment, name: str, text: str) -> dict[str, Any]:
    key = f"training-data/{name}"
    where.store.put(key, text.encode(), "text/csv")
    return retrain.on_upload(where, key, progress=lambda _: None)


def current_version(where: Deployment, model: str = "daily") -> str:
    pointer = where.registry(model).current()
    assert pointer is not None
    return pointer.version


def predict(app: ModuleType, event: str = "makecalc-seed") -> tuple[int, str]:
    response = app.lambda_handler(load_event(event), FakeLambdaContext())
    return response["statusCode"], response["multiValueHeaders"].get("X-Model-Version", [""])[0]


def test_upload_retrains_promotes_and_the_warm_function_serves_it(bucket: Deployment, halves: tuple[str, str]) -> None:
    first = upload(bucket, "day-2011-01-to-2012-08.csv", halves[0])
    assert first["promoted"] is True
    assert first["reason"].startswith("no model is serving yet")
    assert "drift" not in first  # nothing was serving to drift
    sys.modules.pop("app", None)
    app = importlib.import_module("app")
    assert predict(app) == (200, first["version"])

    second = upload(bucket, "day-2012-09-to-12.csv", halves[1])
    assert second["promoted"] is True, second["reason"]
    assert current_version(bucket) == second["version"]
    assert predict(app) == (200, second["version"])  # same warm module, new model, no restart

    registry = bucket.registry("daily")
    manifest = registry.manifest(second["version"])
    assert manifest["training_data"]["rows"] == 731
    assert [f["key"] for f in manifest["training_data"]["files"]] == [
        "training-data/day-2011-01-to-2012-08.csv",
        "training-data/day-2012-09-to-12.csv",
    ]
    assert manifest["gate"]["accepted_days"]["trusted_days"] == ["2012-05-02", "2012-08-31"]  # its last 122 days
    assert [r["status"] for r in registry.upload_records()] == ["accepted", "accepted"]
    assert [d["action"] for d in registry.decisions()] == ["promote", "promote"]


def test_drift_report_compares_actual_and_promised_error(bucket: Deployment, halves: tuple[str, str]) -> None:
    first = upload(bucket, "before.csv", halves[0])
    second = upload(bucket, "after.csv", halves[1])
    report = second["drift"]
    assert report["model_version"] == first["version"]
    assert report["rows_scored"] == 122
    assert report["expected"]["holdout"] == "chronological"
    promised = bucket.registry("daily").manifest(first["version"])["metrics"]["chronological"]["model"]
    assert report["expected"]["mae"] == promised["mae"]
    assert report["mae_ratio"] == pytest.approx(report["actual"]["mae"] / promised["mae"], abs=0.001)
    assert report["drifted"] == (report["mae_ratio"] > 1.5)
    assert drift.latest(bucket.store, "reports/") == report
    assert second["drift_report"].startswith("reports/drift/")


def test_rewriting_history_with_shuffled_counts_is_refused(bucket: Deployment, halves: tuple[str, str]) -> None:
    good = upload(bucket, "day.csv", data.bundled(DAILY).read_text())
    header, *lines = halves[0].splitlines()
    counts = [line.rsplit(",", 1)[1] for line in lines]
    random.Random(7).shuffle(counts)
    shuffled = [
        line.rsplit(",", 3)[0] + ",,," + c for line, c in zip(lines, counts, strict=True)
    ]  # no casual/registered
    outcome = upload(bucket, "noisy.csv", "\n".join([header, *shuffled]))
    assert outcome.get("promoted") is not True, outcome
    assert current_version(bucket) == good["version"]


def test_a_drifted_upload_is_published_held_and_promoted_by_an_operator(
    bucket: Deployment, halves: tuple[str, str]
) -> None:
    strict = deployment(drift_threshold=1.01)  # the real Sep-Dec upload drifts past this
    first = upload(strict, "before.csv", halves[0])
    held = upload(strict, "after.csv", halves[1])
    assert held["promoted"] is False
    assert held["reason"].startswith("the upload drifted")
    registry = strict.registry("daily")
    refusal = registry.decisions()[-1]
    assert (refusal["action"], refusal["version"], refusal["reason"]) == ("keep", held["version"], held["reason"])
    assert registry.manifest(held["version"])["gate"]["reason"] == held["reason"]
    assert current_version(strict) == first["version"]
    assert registry.upload_record("training-data/after.csv")["status"] == "held"  # type: ignore[index]
    # held data is left out of the next training
    later = upload(strict, "again.csv", halves[0].replace("2011-01-01", "2011-01-01"))
    assert "training-data/after.csv" not in [
        f["key"] for f in registry.manifest(later["version"])["training_data"]["files"]
    ]
    promotion.promote(strict, "daily", held["version"], "Sep-Dec checked by hand: real")
    assert current_version(strict) == held["version"]
    assert registry.upload_record("training-data/after.csv")["status"] == "accepted"  # type: ignore[index]
    assert registry.decisions()[-1]["action"] == "manual-promote"


def test_a_bad_upload_is_rejected_whole_with_a_report_and_nothing_changes(
    bucket: Deployment, halves: tuple[str, str]
) -> None:
    good = upload(bucket, "before.csv", halves[0])
    keys_before = set(bucket.store.keys(""))
    bad_text = halves[1].replace("2012-09-03", "2012-09-31").replace(",0.2,", ",warm,", 1)
    outcome = upload(bucket, "after.csv", bad_text)
    assert outcome["status"] == "rejected"
    assert any("dteday" in p for p in outcome["problems"])
    report = json.loads(bucket.store.get(outcome["report"]).body)
    assert report["file"] == f"s3://{BUCKET}/training-data/after.csv"
    assert report["problems"][: len(outcome["problems"])] == outcome["problems"]
    added = set(bucket.store.keys("")) - keys_before
    record = bucket.registry("daily").upload_record_key("training-data/after.csv")
    assert added == {"training-data/after.csv", outcome["report"], record}  # the upload, its report, its record
    assert current_version(bucket) == good["version"]
    later = upload(bucket, "after-fixed.csv", halves[1])
    files = [f["key"] for f in bucket.registry("daily").manifest(later["version"])["training_data"]["files"]]
    assert "training-data/after.csv" not in files


def test_the_same_event_twice_trains_once(bucket: Deployment, halves: tuple[str, str]) -> None:
    first = upload(bucket, "before.csv", halves[0])
    again = retrain.on_upload(bucket, "training-data/before.csv", progress=lambda _: None)
    assert again["status"] == "duplicate"
    assert bucket.registry("daily").versions() == [first["version"]]


def test_racing_retrains_leave_a_valid_pointer_and_every_version(
    bucket: Deployment, halves: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    upload(bucket, "before.csv", halves[0])
    barrier = threading.Barrier(2, timeout=120)
    real_move = ModelRegistry.move_pointer
    first_attempt: set[int] = set()

    def move_together(self: ModelRegistry, version: str, **kwargs: Any) -> None:
        if threading.get_ident() not in first_attempt:
            first_attempt.add(threading.get_ident())
            barrier.wait()  # both have read the same pointer and been judged against it
        real_move(self, version, **kwargs)

    monkeypatch.setattr(ModelRegistry, "move_pointer", move_together)
    bucket.store.put_new("training-data/a.csv", halves[1].encode(), "text/csv")
    bucket.store.put_new("training-data/b.csv", halves[1].encode(), "text/csv")
    outcomes: list[dict[str, Any]] = []

    def run(key: str) -> None:
        outcomes.append(retrain.on_upload(deployment(), key, progress=lambda _: None))

    threads = [threading.Thread(target=run, args=(k,)) for k in ("training-data/a.csv", "training-data/b.csv")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert len(outcomes) == 2
    assert sorted(o["promoted"] for o in outcomes) == [False, True]
    registry = bucket.registry("daily")
    assert {o["version"] for o in outcomes} <= set(registry.versions())
    assert current_version(bucket) in {o["version"] for o in outcomes}
    for version in registry.versions():
        registry.manifest(version)  # every version complete


def test_rollback_and_promote_move_the_pointer_and_warm_containers_follow(
    bucket: Deployment, halves: tuple[str, str]
) -> None:
    first = upload(bucket, "before.csv", halves[0])
    second = upload(bucket, "after.csv", halves[1])
    sys.modules.pop("app", None)
    app = importlib.import_module("app")
    assert predict(app)[1] == second["version"]
    assert promotion.rollback(bucket, "daily") == first["version"]
    assert predict(app)[1] == first["version"]
    with pytest.raises(LookupError):
        promotion.rollback(bucket, "daily")  # nothing before the first
    promotion.promote(bucket, "daily", second["version"], "back to the newer one")
    assert predict(app)[1] == second["version"]
    assert [row["current"] for row in promotion.version_table(bucket, "daily")] == [False, True]


def test_writes_that_are_not_training_uploads_are_ignored(bucket: Deployment) -> None:
    for key in ("models/versions/x/model.csv", "reports/drift/x.csv", "training-data/notes.txt", "day.csv",
                "training-data/day.CSV"):  # fmt: skip
        bucket.store.put_new(key, b"{}", "application/json")
        assert retrain.on_upload(bucket, key, progress=lambda _: None)["status"] == "ignored"
    assert bucket.registry("daily").versions() == []


def test_an_upload_of_a_key_that_is_gone_is_ignored(bucket: Deployment) -> None:
    outcome = retrain.on_upload(bucket, "training-data/gone.csv", progress=lambda _: None)
    assert outcome == {"model": "daily", "key": "training-data/gone.csv", "status": "ignored",
                       "reason": "the object no longer exists"}  # fmt: skip


def test_a_bucket_written_before_uploads_were_recorded_is_adopted(bucket: Deployment, halves: tuple[str, str]) -> None:
    """Files an earlier bikecast accepted are adopted; one that never read is rejected with a report, once."""
    bucket.store.put_new("training-data/old.csv", halves[0].encode(), "text/csv")
    bucket.store.put_new("training-data/broken.csv", b"\x89PNG", "text/csv")
    outcome = upload(bucket, "new.csv", halves[1])
    files = [f["key"] for f in bucket.registry("daily").manifest(outcome["version"])["training_data"]["files"]]
    assert sorted(files) == ["training-data/new.csv", "training-data/old.csv"]
    statuses = {r["key"]: r["status"] for r in bucket.registry("daily").upload_records()}
    assert statuses == {"training-data/old.csv": "accepted", "training-data/broken.csv": "rejected",
                        "training-data/new.csv": "accepted"}  # fmt: skip


def test_train_function_handler_runs_on_the_sample_s3_event(bucket: Deployment, halves: tuple[str, str]) -> None:
    event = load_event("s3-put-training-data")
    record = event["Records"][0]["s3"]
    where = deployment(record["bucket"]["name"])
    where.store.ensure_bucket()
    key = unquote_plus(record["object"]["key"])  # S3 sends keys URL-encoded: this one holds spaces
    assert " " in key
    where.store.put_new(key, halves[1].encode(), "text/csv")
    sys.modules.pop("training.handler", None)
    handler = importlib.import_module("training.handler")
    result = handler.lambda_handler(event, FakeLambdaContext())
    (outcome,) = result["outcomes"]
    assert outcome["status"] == "trained"
    assert outcome["promoted"] is True
    assert where.registry("daily").current() is not None
