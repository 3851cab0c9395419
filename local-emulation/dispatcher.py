"""The local stand-in for S3 invoking a function: S3 event messages from an SQS queue in moto_server ->
`sam local invoke <function> -e <the event moto produced>`.

On AWS the bucket notification invokes the TrainFunction asynchronously: one at a time (its reserved concurrency
is 1), retried twice when it fails, then sent to its dead-letter queue. Here: one message at a time, the same
retries, and a dead-letter folder. moto_server builds the events itself from the bucket's notification
configuration, which the local stack sets from template.yaml (see sam_template.py), so the function gets the event
S3 would send, URL-encoded key included.

Run by `make local` (stack.py) in the background; SIGTERM stops it after ending the invocation in progress.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import sam_local
import sam_template

RETRIES = 2  # as Lambda's asynchronous invocation (MaximumRetryAttempts: 0 to 2, 2 by default)
# A message stays invisible while it is handled: longer than the TrainFunction's timeout times its attempts.
VISIBILITY_SECONDS = 3600


@dataclass(frozen=True)
class Settings:
    queue_url: str
    aws_endpoint: str  # moto_server on loopback (SQS, and STS for SAM CLI)
    env_vars: Path
    network: str
    state: Path  # events/, dead-letter/ and dispatched.jsonl go here
    retry_delay: float = 2.0  # seconds before the first retry; doubled for the next (AWS waits 1 min, then 2)
    retries: int = RETRIES

    @property
    def dead_letter(self) -> Path:
        return self.state / "dead-letter"

    @property
    def journal(self) -> Path:
        """One JSON line per message handled: what was invoked, how often, and the function's answer."""
        return self.state / "dispatched.jsonl"


def log(message: str) -> None:
    print(f"{dt.datetime.now().isoformat(timespec='seconds')} {message}", flush=True)


def sqs_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=sam_local.FAKE_AWS["AWS_DEFAULT_REGION"],
        aws_access_key_id=sam_local.FAKE_AWS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=sam_local.FAKE_AWS["AWS_SECRET_ACCESS_KEY"],
    )


def handle(body: dict[str, Any], message_id: str, triggers: list[sam_template.S3Trigger], settings: Settings) -> None:
    """Invoke the function the event is for, with retries; after the last failure, file it as a dead letter."""
    if body.get("Event") == "s3:TestEvent":  # S3 sends one when the notification is configured
        return
    configuration = body["Records"][0]["s3"]["configurationId"]
    function = sam_template.function_for(triggers, configuration)
    if function is None:
        log(f"{message_id}: no function in template.yaml has the S3 event {configuration!r}; dead letter")
        dead_letter(settings, message_id, body, None, [f"unknown configurationId {configuration!r}"])
        return
    key = body["Records"][0]["s3"]["object"]["key"]
    event = settings.state / "events" / f"{message_id}.json"
    event.parent.mkdir(parents=True, exist_ok=True)
    event.write_text(json.dumps(body, indent=2))
    errors: list[str] = []
    started = time.monotonic()
    for attempt in range(1 + settings.retries):
        if attempt:
            time.sleep(settings.retry_delay * 2 ** (attempt - 1))
        log(f"{message_id}: sam local invoke {function} for key {key!r} (attempt {attempt + 1})")
        try:
            invocation = sam_local.invoke(
                function, event, settings.env_vars, aws_endpoint=settings.aws_endpoint, network=settings.network
            )
        except (sam_local.InvokeFailed, OSError, ValueError) as error:
            errors.append(str(error)[-2000:])
            log(f"{message_id}: failed: {str(error)[-500:]}")
            continue
        if invocation.failed:
            errors.append(json.dumps(invocation.answer)[-2000:])
            log(f"{message_id}: {function} raised: {invocation.answer.get('errorMessage')}")
            continue
        log(f"{message_id}: done in {invocation.wall_seconds:.1f} s: {json.dumps(invocation.answer)[:1000]}")
        record(settings, message_id, function, key, "ok", attempt + 1, time.monotonic() - started, invocation.answer)
        return
    dead_letter(settings, message_id, body, function, errors)
    record(settings, message_id, function, key, "dead-letter", 1 + settings.retries, time.monotonic() - started, None)


def record(
    settings: Settings,
    message_id: str,
    function: str,
    key: str,
    status: str,
    attempts: int,
    seconds: float,
    answer: dict[str, Any] | None,
) -> None:
    line = {
        "message_id": message_id,
        "function": function,
        "key": key,
        "status": status,
        "attempts": attempts,
        "seconds": round(seconds, 2),
        "answer": answer,
        "finished_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    with settings.journal.open("a") as journal:
        journal.write(json.dumps(line) + "\n")


def dead_letter(
    settings: Settings, message_id: str, body: dict[str, Any], function: str | None, errors: list[str]
) -> Path:
    settings.dead_letter.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = settings.dead_letter / f"{stamp}-{message_id}.json"
    path.write_text(json.dumps({"function": function, "event": body, "errors": errors}, indent=2))
    log(f"{message_id}: dead letter {path}")
    return path


def run(settings: Settings) -> None:
    triggers = sam_template.s3_triggers(sam_template.load())
    sqs = sqs_client(settings.aws_endpoint)
    log(f"waiting for S3 events on {settings.queue_url} ({', '.join(t.id for t in triggers)})")
    while True:
        received = sqs.receive_message(
            QueueUrl=settings.queue_url,
            MaxNumberOfMessages=1,  # one at a time, as ReservedConcurrentExecutions: 1
            WaitTimeSeconds=5,
            VisibilityTimeout=VISIBILITY_SECONDS,
        )
        for message in received.get("Messages", []):
            handle(json.loads(message["Body"]), message["MessageId"], triggers, settings)
            sqs.delete_message(QueueUrl=settings.queue_url, ReceiptHandle=message["ReceiptHandle"])


def stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Unwinds through subprocess.run, which then kills the `sam local invoke` in progress.
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--aws-endpoint", required=True, help="moto_server on loopback")
    parser.add_argument("--env-vars", type=Path, required=True, help="sam local --env-vars file")
    parser.add_argument("--network", required=True, help="Docker network for the function containers")
    parser.add_argument("--state", type=Path, required=True, help="folder for events, dead letters, journal")
    parser.add_argument("--retry-delay", type=float, default=2.0)
    parser.add_argument("--retries", type=int, choices=range(3), default=RETRIES)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    settings = Settings(
        args.queue_url, args.aws_endpoint, args.env_vars, args.network, args.state, args.retry_delay, args.retries
    )
    run(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
