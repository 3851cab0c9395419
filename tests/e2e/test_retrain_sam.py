"""Retraining end to end: `sam local invoke TrainFunction -e events/s3-put-training-data.json` (a key holding spaces,
URL-encoded as S3 sends it) trains and publishes into moto_server, and the API already running under
`sam local start-api` then answers with that version."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from urllib.parse import unquote_plus

import pytest
import requests
import sam_local

from tests.conftest import DAILY, EVENTS, deployment, load_event
from training import data, retrain

pytestmark = pytest.mark.e2e


def test_upload_then_train_function_then_the_api_serves_the_new_version(
    sam_built: Path, fake_aws: str, tmp_path: Path
) -> None:
    record = load_event("s3-put-training-data")["Records"][0]["s3"]
    bucket, key = record["bucket"]["name"], unquote_plus(record["object"]["key"])
    assert " " in key
    where = deployment(bucket)
    where.store.ensure_bucket()
    before, after = data.split_by_date(data.bundled(DAILY).read_text(), dt.date(2012, 9, 1), "dteday")
    where.store.put_new("training-data/day-2011-01-to-2012-08.csv", before.encode(), "text/csv")
    first = retrain.on_upload(where, "training-data/day-2011-01-to-2012-08.csv", lambda _: None)
    env_vars = sam_local.env_file(bucket, fake_aws, tmp_path / "env.json", refresh_seconds=2)

    with sam_local.start_api(env_vars) as api:
        assert requests.get(f"{api}/health", timeout=30).json()["model_version"] == first["version"]
        where.store.put_new(key, after.encode(), "text/csv")  # the upload the event announces
        answer = sam_local.invoke("TrainFunction", EVENTS / "s3-put-training-data.json", env_vars)
        (outcome,) = answer["outcomes"]
        assert outcome["key"] == key
        assert outcome["status"] == "trained"
        assert outcome["promoted"] is True, outcome["reason"]
        assert outcome["drift_report"].startswith("reports/drift/")
        deadline = time.monotonic() + 60
        served = ""
        while time.monotonic() < deadline and served != outcome["version"]:
            r = requests.post(f"{api}/api/makecalc/", data=load_event("makecalc-seed")["body"], timeout=60)
            served = r.headers["X-Model-Version"]
            time.sleep(1)
        assert served == outcome["version"]  # no restart, no redeploy
        assert sorted(json.loads(r.text)) == ["0", "1", "2"]
