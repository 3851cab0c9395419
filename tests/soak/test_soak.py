"""Soak: sequential requests through the real handler in one process; resident memory must stay flat."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import sys
import time
from collections import Counter

import boto3
import pytest
from moto import mock_aws

from tests.conftest import BUCKET, FakeLambdaContext, load_event, put_in_place
from training import publish

pytestmark = pytest.mark.soak
REQUESTS = int(os.environ.get("SOAK_REQUESTS", "100000"))
WARMUP = 1_000


def resident_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def test_memory_stays_flat_over_many_requests(
    aws_env: None, powertools_env: None, built_artifact: publish.Artifact, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pytest keeps every log record that reaches the root logger: the seed request's warning (a weekday that
    # contradicts its date), logged on every request, would look like a leak. The function's own handler still
    # writes it (to the sink below).
    monkeypatch.setattr(logging.getLogger(os.environ["POWERTOOLS_SERVICE_NAME"]), "propagate", False)
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        put_in_place(built_artifact)
        sys.modules.pop("app", None)
        app = importlib.import_module("app")
        events = [load_event("makecalc-seed"), load_event("predict-batch"), load_event("bad-weathersit")]
        context = FakeLambdaContext()
        statuses: Counter[int] = Counter()
        sink = io.StringIO()
        started = time.monotonic()
        with contextlib.redirect_stdout(sink):  # Powertools prints a metrics line per request
            for i in range(REQUESTS):
                if i == WARMUP:
                    start_mb = resident_mb()
                statuses[app.lambda_handler(events[i % 3], context)["statusCode"]] += 1
                if i % 1000 == 0:
                    sink.seek(0)
                    sink.truncate()
        end_mb = resident_mb()
        elapsed = time.monotonic() - started
    summary = {"requests": REQUESTS, "statuses": dict(statuses), "rss_start_mb": round(start_mb, 1),
               "rss_end_mb": round(end_mb, 1), "seconds": round(elapsed, 1)}  # fmt: skip
    print("soak:", json.dumps(summary))
    assert statuses == Counter({200: REQUESTS - REQUESTS // 3, 422: REQUESTS // 3})
    assert end_mb - start_mb < 10, summary
