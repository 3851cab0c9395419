"""What the benchmark driver and its child processes share: paths, environment, events, a Lambda context, and
putting a model in place the way production does.

Standard library only at import time, so a cold-start child pays nothing here that the handler would not: the
fake credentials (``sam_local.FAKE_CREDENTIALS``, the one copy) and the training imports are imported inside the
functions that need them, which only the driver calls.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from training.promotion import Verdict
    from training.publish import Artifact

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "benchmarks"
EVENTS = REPO / "events"
# The same import roots as the tests (pyproject's pytest pythonpath).
IMPORT_ROOTS = (REPO / "layers" / "shared", REPO / "functions" / "predict", REPO / "local-emulation", REPO)
APP_FILE = REPO / "functions" / "predict" / "app.py"
BUCKET = "bikecast-bench-models"
RESULT_PREFIX = "BENCH-RESULT "
# The section of RESULTS.md that local_loop.py writes; run.py keeps it when it rewrites the rest.
LOCAL_SECTION = "## 6. Local emulation: SAM CLI and Docker"
DAILY_ONLY = "bikecast.bikes.daily:SPEC"  # MODEL_SPECS of a deployment that serves the daily model alone
HOURLY_PATH = "/models/hourly/predict"

POWERTOOLS = {
    "POWERTOOLS_SERVICE_NAME": "bikecast-predict",
    "POWERTOOLS_METRICS_NAMESPACE": "bikecast",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_DEV": "false",
}


class FakeLambdaContext:
    """The Lambda context, as ``tests.fakes.FakeLambdaContext``: not imported from there, because tests.fakes
    imports sam_local (subprocess, urllib.request, uuid: ~10 ms that no Lambda cold start pays), and a cold-start
    child measures everything it imports."""

    function_name = "PredictFunction"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:PredictFunction"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def add_import_roots() -> None:
    for root in reversed(IMPORT_ROOTS):
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))


def bench_env(moto_url: str, bucket: str = BUCKET) -> dict[str, str]:
    """Environment for the handler: fake credentials (nothing can reach AWS), moto_server as S3, Powertools quiet,
    every model the function serves by default (MODEL_SPECS unset)."""
    add_import_roots()
    from sam_local import FAKE_CREDENTIALS

    drop = ("AWS_PROFILE", "AWS_CONFIG_FILE", "MODEL_SPECS", "MODEL_PREFIX")
    env = {key: value for key, value in os.environ.items() if key not in drop}
    env.update(FAKE_CREDENTIALS)
    env.update(POWERTOOLS)
    env.update({"MODEL_BUCKET": bucket, "S3_ENDPOINT_URL": moto_url, "AWS_ENDPOINT_URL_S3": moto_url})
    return env


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def predict_event(
    rows: Sequence[Mapping[str, Any]], path: str = "/predict", explain: bool | None = None
) -> dict[str, Any]:
    """An API Gateway REST event for POST ``path``: events/predict-single.json with these rows as the body."""
    event = copy.deepcopy(load_event("predict-single"))
    event["resource"] = event["path"] = event["requestContext"]["resourcePath"] = path
    event["requestContext"]["path"] = "/Prod" + path
    body: dict[str, Any] = {"instances": list(rows)}
    if explain is not None:
        body["explain"] = explain
    event["body"] = json.dumps(body)
    return event


def hourly_row() -> dict[str, Any]:
    """The sample event's day at 8 in the morning, as one row for the hourly model."""
    row: dict[str, Any] = json.loads(load_event("predict-single")["body"])["instances"][0]
    row.pop("instant", None)
    return row | {"hr": 8}


def put_in_place(artifact: Artifact, bucket: str = BUCKET) -> Verdict:
    """Publish a built artifact through the gate production uses (as tests.conftest.put_in_place, which the
    benchmarks do not import: it pulls in pytest); promoted when no model of its name serves yet."""
    from training import promotion
    from training.deployment import Deployment
    from training.settings import TrainSettings

    where = Deployment(TrainSettings().model_copy(update={"bucket": bucket}))
    name = artifact.spec.name
    pointer, current = promotion.current_model(where, name)
    verdict = promotion.judge(where, name, artifact, current, progress=lambda _: None)
    return promotion.release(where, name, artifact, verdict, pointer, progress=lambda _: None)


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
