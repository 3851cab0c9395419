"""What the benchmark driver and its child processes share: paths, environment, events, a Lambda context.

Standard library only at import time, so a cold-start child pays nothing here that the handler would not.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.fakes import FakeLambdaContext as FakeLambdaContext  # re-exported for child and run

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "benchmarks"
EVENTS = REPO / "events"
# The same import roots as the tests (pyproject's pytest pythonpath).
IMPORT_ROOTS = (REPO / "layers" / "shared", REPO / "functions" / "predict", REPO / "local-emulation", REPO)
BUCKET = "bikecast-bench-models"
RESULT_PREFIX = "BENCH-RESULT "
# The section of RESULTS.md that local_loop.py writes; run.py keeps it when it rewrites the rest.
LOCAL_SECTION = "## 6. Local emulation: SAM CLI and Docker"

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
POWERTOOLS = {
    "POWERTOOLS_SERVICE_NAME": "bikecast-predict",
    "POWERTOOLS_METRICS_NAMESPACE": "bikecast",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_DEV": "false",
}


def add_import_roots() -> None:
    for root in reversed(IMPORT_ROOTS):
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))


def bench_env(moto_url: str, bucket: str = BUCKET) -> dict[str, str]:
    """Environment for the handler: fake credentials (nothing can reach AWS), moto_server as S3, Powertools quiet."""
    env = {key: value for key, value in os.environ.items() if key not in ("AWS_PROFILE", "AWS_CONFIG_FILE")}
    env.update(FAKE_AWS)
    env.update(POWERTOOLS)
    env.update({"MODEL_BUCKET": bucket, "S3_ENDPOINT_URL": moto_url, "AWS_ENDPOINT_URL_S3": moto_url})
    return env


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def predict_event(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """An API Gateway REST event for POST /predict: events/predict-single.json with these rows as the body."""
    event = copy.deepcopy(load_event("predict-single"))
    event["body"] = json.dumps({"instances": list(rows)})
    return event


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mib() -> float:
    """Resident set size now (VmRSS), MiB."""
    return _status_mib("VmRSS")


def peak_rss_mib() -> float:
    """Peak resident set size of this process image (VmHWM), MiB. Not ru_maxrss: Linux carries that across
    execve, so a child started by a big parent reports the parent's peak."""
    return _status_mib("VmHWM")
