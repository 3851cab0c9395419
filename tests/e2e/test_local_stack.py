"""The local stack (`make local`): an upload to the emulated bucket retrains by itself, and the running API serves the
new version. Nobody invokes anything: moto_server's bucket notification (configured from template.yaml) -> SQS ->
dispatcher -> `sam local invoke TrainFunction` with the event moto produced. `make down` leaves nothing behind."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import retrain_demo
import sam_local
import stack

from tests.conftest import load_event

pytestmark = pytest.mark.e2e


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def local_stack(sam_built: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack.Stack]:
    """`make local` on free ports, its first model trained on Jan 2011..Aug 2012; `make down` after the tests."""
    config = stack.Config(
        state=tmp_path_factory.mktemp("stack"),
        bucket="e2e-upload-trigger",
        moto_port=sam_local.free_port(),
        api_port=sam_local.free_port(),
        refresh_seconds=1,
        retry_delay=0.2,
        retries=1,  # one retry is enough to show retrying; Lambda's default of 2 costs another invocation
    )
    running = stack.up(config, seed=retrain_demo.seed_with_first_months, quiet=True)
    try:
        assert all(running.running().values()), running.pids
        assert len(sam_local.containers(running.network)) == 1, "start-api keeps no warm predict container"
        yield running
    finally:
        stack.down(config.state)
    assert not any(alive(pid) for pid in running.pids.values())
    assert not sam_local.containers(running.network)
    assert not sam_local.network_exists(running.network)
    assert not (config.state / "stack.json").exists()


def dispatched(running: stack.Stack, key: str, seconds: float) -> dict[str, Any]:
    """The dispatcher's journal entry for an upload (as S3 names it in the event), waiting for it if need be."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = [entry for entry in retrain_demo.journal(running) if entry["key"] == key]
        if found:
            (entry,) = found
            return entry
        time.sleep(0.5)
    raise AssertionError(f"nothing dispatched for {key} within {seconds:.0f} s: {retrain_demo.journal(running)}")


def test_an_upload_with_a_space_in_its_key_retrains_and_the_running_api_serves_the_new_version(
    local_stack: stack.Stack,
) -> None:
    running = local_stack
    first = retrain_demo.served_version(running.api_url)
    assert first is not None
    # What the template's filter leaves out never reaches the function (S3 matches suffixes case-sensitively).
    s3, _ = stack.aws_clients(running.moto_url)
    for key in ("training-data/notes.txt", "models/not-training.csv", "training-data/upper.CSV"):
        s3.put_object(Bucket=running.config.bucket, Key=key, Body=b"dteday\n")

    key = retrain_demo.upload_later_months(running)
    served, seconds = retrain_demo.wait_for_new_version(running.api_url, first, 300)
    print(f"upload -> new version served: {seconds:.1f} s")

    entry = dispatched(running, "training-data%2Fday+2012-09-to-12.csv", 10)  # as S3 sends it: URL-encoded
    assert [e["key"] for e in retrain_demo.journal(running)] == [entry["key"]]  # nothing else was dispatched
    assert entry["function"] == "TrainFunction"
    assert entry["status"] == "ok", entry
    (outcome,) = entry["answer"]["outcomes"]
    assert outcome["key"] == key == "training-data/day 2012-09-to-12.csv"  # decoded by the function
    assert outcome["status"] == "trained"
    assert outcome["promoted"] is True, outcome["reason"]
    assert outcome["drift_report"].startswith("reports/drift/")
    assert served == outcome["version"] != first, seconds  # the running API: no restart, no redeploy
    assert not (running.config.state / "dead-letter").exists()


def test_a_retrain_that_keeps_failing_lands_in_the_dead_letter_folder(local_stack: stack.Stack) -> None:
    """The dispatcher retries a failing invocation (as Lambda does for S3's asynchronous invocations, here once),
    then files the event in the dead-letter folder. The failure is real and not the data's (those are rejected
    with a report, never raised): S3 refuses the function, for the event names a bucket that does not exist."""
    running = local_stack
    event = load_event("s3-put-training-data")
    record = event["Records"][0]["s3"]
    record["configurationId"] = "TrainFunction.TrainingDataUploaded"
    record["bucket"]["name"] = "no-such-bucket-here"
    record["object"]["key"] = "training-data%2Fgone.csv"
    _, sqs = stack.aws_clients(running.moto_url)
    sqs.send_message(QueueUrl=running.queue_url, MessageBody=json.dumps(event))
    entry = dispatched(running, "training-data%2Fgone.csv", 300)
    assert entry["status"] == "dead-letter", entry
    assert entry["attempts"] == 2
    (letter,) = (running.config.state / "dead-letter").glob("*.json")
    filed = json.loads(letter.read_text())
    assert filed["function"] == "TrainFunction"
    assert filed["event"]["Records"][0]["s3"]["bucket"]["name"] == "no-such-bucket-here"
    assert len(filed["errors"]) == 2
    assert "S3 refused the request" in filed["errors"][-1] or "StoreError" in filed["errors"][-1], filed["errors"]
