"""Retraining end to end: `sam local invoke TrainFunction -e events/s3-put-training-data.json` trains and publishes
into moto_server, and the API already running under `sam local start-api` then answers with that version."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest
import requests
import sam_local

from bikecast.registry import ModelRegistry
from bikecast.store import S3Store
from tests.conftest import EVENTS, load_event
from training import data, retrain

pytestmark = pytest.mark.e2e


def test_upload_then_train_function_then_the_api_serves_the_new_version(
    sam_built: Path, fake_aws: str, tmp_path: Path
) -> None:
    record = load_event("s3-put-training-data")["Records"][0]["s3"]
    bucket, key = record["bucket"]["name"], record["object"]["key"]
    store = S3Store(bucket)
    store.ensure_bucket()
    registry = ModelRegistry(store)
    before, after = data.split_by_date(data.DEFAULT_DATA.read_text(), dt.date(2012, 9, 1))
    store.put_new("training-data/day-2011-01-to-2012-08.csv", before.encode(), "text/csv")
    first = retrain.on_upload(
        store, registry, "training-data/day-2011-01-to-2012-08.csv", retrain.RetrainSettings(), lambda _: None
    )
    env_vars = sam_local.env_file(bucket, fake_aws, tmp_path / "env.json", refresh_seconds=2)

    with sam_local.start_api(env_vars) as api:
        assert requests.get(f"{api}/health", timeout=30).json()["model_version"] == first["version"]
        store.put_new(key, after.encode(), "text/csv")  # the upload the event announces
        answer = sam_local.invoke("TrainFunction", EVENTS / "s3-put-training-data.json", env_vars)
        (outcome,) = answer["outcomes"]
        assert outcome["status"] == "trained"
        assert outcome["promoted"] is True, outcome["reason"]
        assert outcome["drift_report"].startswith("reports/drift/")
        assert registry.current() is not None
        deadline = time.monotonic() + 60
        served = ""
        while time.monotonic() < deadline and served != outcome["version"]:
            r = requests.post(f"{api}/api/makecalc/", data=load_event("makecalc-seed")["body"], timeout=60)
            served = r.headers["X-Model-Version"]
            time.sleep(1)
        assert served == outcome["version"]  # no restart, no redeploy
        assert sorted(json.loads(r.text)) == ["0", "1", "2"]
