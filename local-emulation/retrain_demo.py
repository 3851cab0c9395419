"""Retraining on upload, on local emulation:

upload Jan 2011..Aug 2012 -> TrainFunction (sam local invoke) -> v1 served by `sam local start-api`
-> upload Sep..Dec 2012 -> `sam local invoke TrainFunction -e events/s3-put-training-data.json`
-> drift report, quality gate, promotion -> the running API answers with v2, without restart or redeploy.

Run through `make retrain-demo`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path
from urllib.parse import unquote_plus

import requests
import sam_local

from bikecast.store import S3Store
from training import cli, data
from training.deployment import Deployment
from training.settings import TrainSettings

EVENT = sam_local.REPO / "events" / "s3-put-training-data.json"


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def main() -> int:
    os.environ.update(sam_local.FAKE_AWS)
    record = json.loads(EVENT.read_text())["Records"][0]["s3"]
    bucket, key = record["bucket"]["name"], unquote_plus(record["object"]["key"])  # S3 sends keys URL-encoded
    daily = Deployment(TrainSettings()).spec("daily")
    day_csv = data.bundled(daily).read_text()
    data.load(daily, str(data.bundled(daily)))  # verifies the checksum and every row
    before, after = data.split_by_date(day_csv, dt.date(2012, 9, 1), "dteday")
    files = sam_local.STATE / "data"
    files.mkdir(parents=True, exist_ok=True)
    (files / "day-2011-01-to-2012-08.csv").write_text(before)
    (files / Path(key).name).write_text(after)

    with sam_local.moto_server(int(os.environ.get("MOTO_PORT", "5555"))) as s3_url:
        os.environ["AWS_ENDPOINT_URL_S3"] = s3_url
        common = ["--bucket", bucket]
        S3Store(bucket).ensure_bucket()
        step("sam build")
        sam_local.build()
        env_vars = sam_local.env_file(bucket, s3_url, sam_local.STATE / "env.json", refresh_seconds=5)

        step("upload Jan 2011..Aug 2012 and run the TrainFunction on it (sam local invoke)")
        cli.main(["upload", str(files / "day-2011-01-to-2012-08.csv"), *common])
        first_event = sam_local.s3_put_event(bucket, "training-data/day-2011-01-to-2012-08.csv",
                                             sam_local.STATE / "s3-put-first.json")  # fmt: skip
        print(json.dumps(sam_local.invoke("TrainFunction", first_event, env_vars), indent=2))

        step("sam local start-api")
        with sam_local.start_api(env_vars, port=int(os.environ.get("API_PORT", "3000"))) as api:
            seed = json.loads((sam_local.REPO / "events" / "makecalc-seed.json").read_text())["body"]
            r = requests.post(f"{api}/api/makecalc/", data=seed, timeout=60)
            print(f"{r.text}  <- model {r.headers.get('X-Model-Version')}")

            step(f"upload Sep..Dec 2012 to s3://{bucket}/{key}; sam local invoke TrainFunction -e {EVENT.name}")
            cli.main(["upload", str(files / Path(key).name), "--key", key, *common])
            outcome = sam_local.invoke("TrainFunction", EVENT, env_vars)["outcomes"][0]
            print(json.dumps(outcome, indent=2))

            step("the running API picks up the new model (re-checks the pointer every 5 s)")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                r = requests.post(f"{api}/api/makecalc/", data=seed, timeout=60)
                if r.headers.get("X-Model-Version") == outcome.get("version"):
                    break
                time.sleep(1)
            print(f"{r.text}  <- model {r.headers.get('X-Model-Version')}")

        step("python -m training drift")
        cli.main(["drift", *common])
        step("python -m training versions")
        cli.main(["versions", *common])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
