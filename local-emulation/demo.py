"""The main job, end to end on local emulation (no AWS account):

train both models on the bundled data -> publish to a moto_server bucket -> `sam build` -> `sam local start-api`
-> send the seed article's request with the seed article's client code -> print the answer -> ask the hourly
model when rentals peak on one day -> stop everything.

Run through `make demo` (which first brings up Docker and the Lambda base image).
"""

from __future__ import annotations

import csv
import json
import os

import requests
import sam_local

from training import cli, data
from training.deployment import Deployment
from training.settings import TrainSettings

BUCKET = os.environ.get("MODEL_BUCKET", "bikecast-models-local")
SEED_EVENT = sam_local.REPO / "events" / "makecalc-seed.json"
DAY = "2012-10-10"  # a Wednesday in the chronological holdout
HOUR_FIELDS = ("dteday", "hr", "weathersit", "temp", "atemp", "hum", "windspeed")


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def hours_of(day: str) -> tuple[list[dict[str, object]], list[int]]:
    """That day's 24 hours of weather from the bundled hour.csv, and their actual rentals."""
    hourly = Deployment(TrainSettings()).spec("hourly")
    with data.bundled(hourly).open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["dteday"] == day]
    instances: list[dict[str, object]] = [
        {k: row[k] if k == "dteday" else (float(row[k]) if "." in row[k] else int(row[k])) for k in HOUR_FIELDS}
        for row in rows
    ]
    return instances, [int(row["cnt"]) for row in rows]


def main() -> int:
    os.environ.update(sam_local.FAKE_AWS)
    with sam_local.moto_server(int(os.environ.get("MOTO_PORT", "5555"))) as s3_url:
        os.environ["AWS_ENDPOINT_URL_S3"] = s3_url
        for model in ("daily", "hourly"):
            step(
                f"training the {model} model on its bundled data; publishing to s3://{BUCKET} at {s3_url} (moto_server)"
            )
            if cli.main(["train", "--model", model, "--bucket", BUCKET, "--create-bucket"]) != 0:
                return 1
        step("sam build")
        sam_local.build()
        env_vars = sam_local.env_file(BUCKET, s3_url, sam_local.STATE / "env.json")
        step("sam local start-api (warm containers)")
        port = int(os.environ.get("API_PORT", "3000"))
        with sam_local.start_api(env_vars, aws_endpoint=s3_url, port=port) as local_api:
            api = local_api.url
            # The seed article's client, unchanged but for the URL.
            url = f"{api}/api/makecalc/"
            text = json.loads(SEED_EVENT.read_text())["body"]
            headers = {"content-type": "application/json", "Accept-Charset": "UTF-8"}
            step(f"POST {url}")
            r = requests.post(url, data=text, headers=headers, timeout=60)
            print(f"HTTP {r.status_code}, model version {r.headers.get('X-Model-Version')}")
            print(r.text)

            step(f"POST {api}/models/hourly/predict: when do rentals peak on {DAY}?")
            instances, actual = hours_of(DAY)
            hourly = requests.post(f"{api}/models/hourly/predict", json={"instances": instances}, timeout=60)
            answer = hourly.json()
            print(f"HTTP {hourly.status_code}, model version {hourly.headers.get('X-Model-Version')}")
            intervals = answer.get("intervals") or [None] * len(instances)
            print(" hour  forecast  interval        actual")
            for instance, forecast, interval, real in zip(
                instances, answer["predictions"], intervals, actual, strict=True
            ):
                shown = f"{interval['lower']:>5}..{interval['upper']:<6}" if interval else " " * 13
                print(f"  {instance['hr']:>2}   {forecast:>6}   {shown}  {real:>6}")
            peak = max(range(len(instances)), key=lambda i: answer["predictions"][i])
            print(f"peak: {instances[peak]['hr']}:00 with {answer['predictions'][peak]} rentals forecast "
                  f"(actual peak {instances[actual.index(max(actual))]['hr']}:00); day total forecast "
                  f"{sum(answer['predictions'])}, actual {sum(actual)}")  # fmt: skip
        return 0 if r.ok and hourly.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
