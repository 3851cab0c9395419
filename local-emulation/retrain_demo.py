"""Retraining on upload, on local emulation, with nobody invoking anything by hand:

a local stack (stack.py: moto_server, the upload trigger, `sam local start-api`) whose model was trained on
Jan 2011..Aug 2012 -> upload Sep..Dec 2012 to s3://BUCKET/training-data/day 2012-09-to-12.csv with any S3 client
-> moto_server's bucket notification -> SQS -> dispatcher -> `sam local invoke TrainFunction` with that event
-> drift report, quality gate, promotion -> the running API answers with the new version, without restart.

Run through `make retrain-demo`. It brings up a stack of its own (its own folder, free ports) and stops it at the
end, so it runs beside a `make local` stack. (The first model is trained on the earlier months only: a model that
has already seen the uploaded days would rightly win the quality gate against the candidate.)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import sam_local
import stack

FIRST_KEY = "training-data/day-2011-01-to-2012-08.csv"
# A space, as people name files: S3 sends it URL-encoded in the event ("day+2012-09-to-12.csv").
UPLOAD_KEY = "training-data/day 2012-09-to-12.csv"
SPLIT = dt.date(2012, 9, 1)


def split_default_data(folder: Path) -> tuple[Path, Path]:
    from training import data
    from training.deployment import Deployment
    from training.settings import TrainSettings

    daily = Deployment(TrainSettings()).spec("daily")
    before, after = data.split_by_date(data.bundled(daily).read_text(), SPLIT, "dteday")
    folder.mkdir(parents=True, exist_ok=True)
    first, second = folder / "day-2011-01-to-2012-08.csv", folder / "day 2012-09-to-12.csv"
    first.write_text(before)
    second.write_text(after)
    return first, second


def seed_with_first_months(running: stack.Stack) -> None:
    """The first model, from an upload of Jan 2011..Aug 2012, trained before the trigger is set up by the very code
    the TrainFunction runs (`python -m training retrain KEY`)."""
    first, _ = split_default_data(running.config.state / "data")
    bucket = running.config.bucket
    env = stack.cli_env(running.moto_url)
    for command in (["upload", str(first), "--key", FIRST_KEY], ["retrain", FIRST_KEY]):
        subprocess.run(
            [sys.executable, "-m", "training", *command, "--bucket", bucket],
            cwd=sam_local.REPO,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )


def upload_later_months(running: stack.Stack) -> str:
    """Sep..Dec 2012 under a key with a space, with a plain S3 client."""
    _, second = split_default_data(running.config.state / "data")
    s3, _ = stack.aws_clients(running.moto_url)
    s3.put_object(Bucket=running.config.bucket, Key=UPLOAD_KEY, Body=second.read_bytes(), ContentType="text/csv")
    return UPLOAD_KEY


def served_version(api: str) -> str | None:
    with urllib.request.urlopen(api + "/health", timeout=30) as answer:
        version: str | None = json.loads(answer.read()).get("model_version")
        return version


def wait_for_new_version(api: str, old: str | None, seconds: float) -> tuple[str | None, float]:
    """Poll /health (twice a second, at most ``seconds``) until another version answers."""
    started = time.monotonic()
    version = old
    while version == old and time.monotonic() - started < seconds:
        time.sleep(0.5)
        version = served_version(api)
    return version, time.monotonic() - started


def makecalc(api: str) -> tuple[str, str | None]:
    seed = json.loads((sam_local.REPO / "events" / "makecalc-seed.json").read_text())["body"]
    request = urllib.request.Request(
        api + "/api/makecalc/", data=seed.encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return answer.read().decode(), answer.headers.get("X-Model-Version")


def journal(running: stack.Stack) -> list[dict[str, Any]]:
    path = running.config.state / "dispatched.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def main() -> int:
    config = stack.Config(
        state=sam_local.STATE / "retrain-demo",
        bucket="bikecast-retrain-demo",
        moto_port=int(os.environ.get("DEMO_MOTO_PORT") or sam_local.free_port()),
        api_port=int(os.environ.get("DEMO_API_PORT") or sam_local.free_port()),
        refresh_seconds=2,
    )
    step(f"local stack in {config.state}: first model from an upload of Jan 2011..Aug 2012")
    running = stack.up(config, seed=seed_with_first_months)
    try:
        body, version = makecalc(running.api_url)
        print(f"{running.api_url}/api/makecalc/ -> {body}  <- model {version}")

        step(f"upload Sep..Dec 2012 to s3://{config.bucket}/{UPLOAD_KEY} (boto3 put_object; nothing else)")
        upload_later_months(running)
        new, seconds = wait_for_new_version(running.api_url, version, 300)
        if new == version:
            print(f"no new version within {seconds:.0f} s; see {config.state}/dispatcher.log", file=sys.stderr)
            return 1
        print(f"the running API serves {new}, {seconds:.1f} s after the upload")
        for entry in journal(running):
            print(f"dispatcher: {entry['function']} for key {entry['key']!r}: {entry['status']} ", end="")
            print(f"after {entry['attempts']} attempt(s), {entry['seconds']} s")
            print(json.dumps(entry["answer"], indent=2))
        body, version = makecalc(running.api_url)
        print(f"{running.api_url}/api/makecalc/ -> {body}  <- model {version}")

        env = stack.cli_env(running.moto_url)
        for command in ("drift", "versions"):
            step(f"python -m training {command}")
            subprocess.run(
                [sys.executable, "-m", "training", command, "--bucket", config.bucket],
                cwd=sam_local.REPO,
                env=env,
                check=False,
            )
    finally:
        step("stopping the demo's stack")
        stack.down(config.state)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
