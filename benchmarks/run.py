"""Benchmarks of the predict function, side by side in one run: `python benchmarks/run.py` (or `make bench`).

0. correctness: the serving format (what the handler loaded) vs the fitted model, on every training row of both
   models;
1. warm latency, every table from interleaved repetitions in one run:
   - the daily model: the real handler (API Gateway event in, JSON out) vs the seed article's Flask app vs the
     bare tree engine on a ready feature matrix, for 1, 100, 1,000 and 10,000 rows;
   - intervals: the handler serving a version with intervals vs the same artifact published with its manifest's
     ``serving.interval`` set to null (another bucket, another handler instance), at 1 and 10,000 rows;
   - explanations: the handler with ``"explain": true`` vs false at 1, 1,000 and 10,000 rows, and the first
     explain request of a version (the explainer is built lazily);
   - the hourly model: the handler on /models/hourly/predict at 1, 24, 1,000 and 10,000 rows vs its engine;
2. cold start: a fresh process that imports the handler and answers once vs a naive pandas + joblib start, and
   the first hourly request after a daily cold start (the second model's lazy load);
3. size of the function and its layers after ``sam build``;
4. memory of a predict process with the daily model loaded, then with both;
5. Lambda cost from the handler's p50.

Prints a Markdown report and writes it to benchmarks/RESULTS.md, keeping section 6 (local_loop.py's). Reports
ratios, and whether the speed targets of issues 10 and 11 are met in this run; asserts nothing about time.
S3 is a moto_server on loopback, started and stopped here by its pid. Each model is trained once per run.

``BENCH_QUICK=1``: a few repetitions of everything and the hourly model trained on its first 2,000 hours, to
check the code path in about two minutes; its report goes to ``BENCH_OUT`` (default: a file in the temporary
directory), never to RESULTS.md.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import dataclasses
import datetime as dt
import functools
import gc
import importlib
import importlib.util
import io
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root, for `benchmarks`

from benchmarks import common

common.add_import_roots()

import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

# Before scikit-learn loads its OpenMP runtime: bikecast sets OMP_NUM_THREADS=1 (unless set), as in the Lambda.
# Every path here, and every child process (they inherit the environment), runs with that one setting.
import bikecast  # noqa: E402, F401
from bikecast.bikes import daily, hourly  # noqa: E402
from bikecast.rows import Batch  # noqa: E402
from bikecast.scoring import Scorer  # noqa: E402
from bikecast.spec import ModelSpec  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
RESULTS = common.BENCH_DIR / "RESULTS.md"
OUTPUT = Path(
    os.environ.get("BENCH_OUT") or (Path(tempfile.gettempdir()) / "bikecast-RESULTS.quick.md" if QUICK else RESULTS)
)
CHILD = common.BENCH_DIR / "child.py"
BUILD_DIR = common.REPO / ".aws-sam" / "build"
BUILD_PARTS = ("PredictFunction", "DepsLayer", "SharedLayer")  # what the predict function deploys
TRAINING_PART = "SklearnLayer"  # the TrainFunction's; not part of the predict function
SAM = common.REPO / ".venv-sam" / "bin" / "sam"
LAMBDA_UNZIPPED_LIMIT_MIB = 250
MIB = 1024 * 1024
NO_INTERVAL_BUCKET = "bikecast-bench-no-interval"
TREE_FILE = "model.trees.npz"
MODEL_FILE = "model.joblib"
# benchmarks/RESULTS.md as committed for the single-model code (before model specs): issue 10's reference.
REFERENCE_COMMIT = "9ab1c9815274c79c6f199584c7862afd11029ce3"

Plan = tuple[tuple[int, int, int, float], ...]  # (rows, repetitions, warm-up rounds, time budget in s)


def scaled(plan: Plan) -> Plan:
    """Quick mode: a few repetitions, a short budget."""
    return tuple((rows, max(3, reps // 40), min(warmup, 2), budget / 10) for rows, reps, warmup, budget in plan)


# Bounded in count and in time; the budget covers all paths of a row together.
LATENCY_PLAN: Plan = ((1, 2000, 20, 40.0), (100, 300, 5, 25.0), (1_000, 100, 3, 25.0), (10_000, 25, 2, 40.0))
INTERVAL_PLAN: Plan = ((1, 2000, 20, 30.0), (10_000, 25, 2, 40.0))
EXPLAIN_PLAN: Plan = ((1, 1000, 20, 25.0), (1_000, 60, 3, 30.0), (10_000, 8, 1, 45.0))
HOURLY_PLAN: Plan = ((1, 1000, 20, 20.0), (24, 1000, 10, 20.0), (1_000, 100, 3, 25.0), (10_000, 25, 2, 40.0))
FIRST_EXPLAIN_RUNS = 7
COLD_RUNS = 5
MEMORY_REQUESTS = 1000
HOURLY_ROWS: int | None = None  # all of hour.csv
if QUICK:
    LATENCY_PLAN, INTERVAL_PLAN, EXPLAIN_PLAN, HOURLY_PLAN = map(
        scaled, (LATENCY_PLAN, INTERVAL_PLAN, EXPLAIN_PLAN, HOURLY_PLAN)
    )
    FIRST_EXPLAIN_RUNS, COLD_RUNS, MEMORY_REQUESTS, HOURLY_ROWS = 2, 1, 100, 2_000

# Lambda x86 prices (us-east-1): per GB-second of billed duration, and per million requests.
PRICE_GB_SECOND = 0.0000166667
MEMORY_GB = 1.0  # PredictMemorySize in template.yaml
PRICE_PER_MILLION_REQUESTS = 0.20

# The speed targets (issue 10: ratios within 10% of the reference; issue 11: intervals, explanations, 10,000 rows).
RATIO_TOLERANCE = 0.10
INTERVAL_MAX_EXTRA = 0.20
EXPLAIN_MAX_MS_PER_ROW = {1: 1.0, 1_000: 0.3}
LARGE_REQUEST_MAX_MS = 50.0

STARTED = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - STARTED:5.1f} s] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Powertools prints its metrics (EMF) to stdout on every request."""
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        yield


# --------------------------------------------------------------------------------------------------- setup


@dataclass(frozen=True)
class Model:
    """One model, trained once per run: its data, its artifact, the fitted model inside it (``model.joblib``),
    the serving engine loaded from it as the function loads it, and its training rows as request rows."""

    spec: ModelSpec
    data: Any  # training.data.Labelled
    artifact: Any  # training.publish.Artifact
    fitted: Any  # training.fit.Fitted
    scorer: Scorer
    requests: list[dict[str, Any]]
    build_s: float

    def index(self, count: int) -> NDArray[np.intp]:
        """The first ``count`` rows in file order, cycled past the end."""
        return np.arange(count) % len(self.requests)

    def batch(self, count: int) -> Batch:
        subset: Batch = self.data.subset(self.index(count)).batch
        return subset

    def rows(self, count: int) -> list[dict[str, Any]]:
        return [self.requests[i] for i in self.index(count).tolist()]

    def matrix(self, count: int) -> NDArray[np.float64]:
        return self.spec.features(self.batch(count), self.scorer.feature_names)

    @property
    def trees(self) -> int:
        return int(self.scorer.trees.trees)


def request_rows(spec: ModelSpec, labelled: Any) -> list[dict[str, Any]]:
    """Training rows as a client sends them: the row model's fields, the date as the seed client sends it (a UTC
    midnight timestamp, ``2011-01-01T00:00:00.000Z``)."""
    from bikecast import rows

    found = []
    for row in rows.Columns(spec.row, labelled.batch):
        fields: dict[str, Any] = row.model_dump(mode="json")
        fields["dteday"] = f"{fields['dteday']}T00:00:00.000Z"
        found.append(fields)
    return found


def build_model(spec: ModelSpec, first_rows: int | None = None) -> Model:
    import joblib

    from bikecast.serving import serving_section
    from training import data, publish

    started = time.perf_counter()
    labelled = data.load(spec, str(data.bundled(spec)))
    if first_rows is not None:
        labelled = labelled.subset(np.arange(first_rows))
    artifact = publish.build(spec, labelled, progress=lambda _: None)
    build_s = time.perf_counter() - started
    fitted = joblib.load(io.BytesIO(artifact.files[MODEL_FILE]))
    scorer = Scorer.load(serving_section(artifact.manifest), artifact.files[TREE_FILE], spec.computable)
    return Model(spec, labelled, artifact, fitted, scorer, request_rows(spec, labelled), build_s)


def without_interval(artifact: Any) -> Any:
    """The same artifact (same files, same checksums) under another version name, with the manifest's
    ``serving.interval`` set to null."""
    version = f"{artifact.version}-no-interval"
    manifest = copy.deepcopy(artifact.manifest)
    manifest["serving"]["interval"] = None
    manifest["version"] = version
    manifest.pop("gate", None)
    return dataclasses.replace(artifact, version=version, manifest=manifest)


def load_handler(module_name: str, bucket: str) -> ModuleType:
    """A second instance of functions/predict/app.py (its own Service, routes and predictors) for ``bucket``."""
    spec = importlib.util.spec_from_file_location(module_name, common.APP_FILE)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {common.APP_FILE}")
    module = importlib.util.module_from_spec(spec)
    previous = os.environ["MODEL_BUCKET"]
    os.environ["MODEL_BUCKET"] = bucket
    try:
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    finally:
        os.environ["MODEL_BUCKET"] = previous
    return module


def fit_seed_model(model: Model) -> Any:
    """The seed path's model: the daily recipe's estimator and parameters on the seed's 12 features and the count
    itself (no log, no growth term), fitted on all 731 days."""
    from sklearn.ensemble import GradientBoostingRegressor

    matrix = model.spec.features(model.data.batch, daily.SEED_FEATURES)
    return GradientBoostingRegressor(**daily.SPEC.recipe.params).fit(matrix, model.data.target)


# ------------------------------------------------------------------------------------------- correctness


@dataclass(frozen=True)
class Agreement:
    model: str
    rows: int
    max_abs_diff: float
    rounded_diffs: int
    version: str


def agreement(app: ModuleType, model: Model) -> Agreement:
    """What the handler loaded (its predictor's model) vs the fitted model from model.joblib, on every row."""
    served = app.service.predictor(model.spec.name).current()
    if served.version != model.artifact.version:
        raise RuntimeError(f"{model.spec.name}: the handler serves {served.version}, not {model.artifact.version}")
    batch = model.data.batch
    ours = served.predict(batch)
    reference = model.fitted.predict(batch)
    differ = np.array(model.spec.answer(ours)) != np.array(model.spec.answer(reference))
    return Agreement(
        model.spec.name, len(ours), float(np.max(np.abs(ours - reference))), int(differ.sum()), served.version
    )


def expected_body(model: Model, count: int, intervals: bool = True) -> dict[str, Any]:
    """What the handler must answer for the first ``count`` rows: the engine's values as answers, and the
    interval bounds rounded outwards."""
    matrix = model.matrix(count)
    values = model.scorer.values(model.scorer.raw(matrix))
    expected: dict[str, Any] = {"predictions": model.spec.answer(values)}
    bounds = model.scorer.intervals(values, matrix)
    if intervals and bounds is not None:
        lower, upper = model.spec.answer.bounds(*bounds)
        expected["intervals"] = [{"lower": low, "upper": high} for low, high in zip(lower, upper, strict=True)]
    return expected


def check_answer(label: str, body: dict[str, Any], model: Model, count: int, intervals: bool = True) -> None:
    expected = expected_body(model, count, intervals)
    for key, value in expected.items():
        if body.get(key) != value:
            raise RuntimeError(f"{label}: the handler's {key} differ from its engine's")
    if not intervals and "intervals" in body:
        raise RuntimeError(f"{label}: a version without an interval answered intervals")
    if "explanations" in body:
        raw = model.scorer.raw(model.matrix(count))
        sums = np.array([e["baseline"] + sum(e["contributions"].values()) for e in body["explanations"]])
        if len(sums) != count or not np.allclose(sums, raw, rtol=0, atol=1e-9):
            raise RuntimeError(f"{label}: explanations do not add up to the model's raw output")


# -------------------------------------------------------------------------------------------- warm latency


@dataclass(frozen=True)
class Timing:
    reps: int
    p50_ms: float
    p95_ms: float


def time_interleaved(calls: Sequence[Callable[[], object]], reps: int, warmup: int, budget_s: float) -> list[Timing]:
    """Each repetition calls every path once, in turn, so a noisy moment on a shared machine hits all of them."""
    for _ in range(warmup):
        for call in calls:
            call()
    samples: list[list[float]] = [[] for _ in calls]
    deadline = time.perf_counter() + budget_s
    for _ in range(reps):
        for call, kept in zip(calls, samples, strict=True):
            start = time.perf_counter()
            call()
            kept.append((time.perf_counter() - start) * 1000)
        if time.perf_counter() > deadline:
            break
    timings = []
    for kept in samples:
        p50, p95 = np.percentile(kept, [50, 95])
        timings.append(Timing(len(kept), float(p50), float(p95)))
    return timings


def handler_call(app: ModuleType, event: dict[str, Any], label: str) -> Callable[[], dict[str, Any]]:
    context = common.FakeLambdaContext()

    def call() -> dict[str, Any]:
        response: dict[str, Any] = app.lambda_handler(event, context)
        if response["statusCode"] != 200:
            raise RuntimeError(f"{label}: handler answered {response['statusCode']}: {response['body'][:300]}")
        return response

    return call


def answered(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(call()["body"])
    return body


@dataclass(frozen=True)
class LatencyRow:
    rows: int
    handler: Timing
    flask: Timing
    floor: Timing
    seed_floor: Timing


def daily_latency(app: ModuleType, model: Model, seed_model: Any) -> list[LatencyRow]:
    import pandas as pd

    from benchmarks import seed_flask

    seed_flask.model = seed_model
    client = seed_flask.app.test_client()
    results = []
    for count, reps, warmup, budget in LATENCY_PLAN:
        requests = model.rows(count)
        handler = handler_call(app, common.predict_event(requests), f"daily {count} rows")
        seed_body = json.dumps({str(i): row for i, row in enumerate(requests)})
        matrix = model.matrix(count)
        seed_matrix = model.spec.features(model.batch(count), daily.SEED_FEATURES)

        def flask(body: str = seed_body) -> bytes:
            response = client.post(
                "/api/makecalc/", data=body, headers={"content-type": "application/json", "Accept-Charset": "UTF-8"}
            )
            if response.status_code != 200:
                raise RuntimeError(f"Flask answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
            return response.get_data()

        with quiet():
            # The handler must answer as its engine does; the Flask path must compute the seed's features.
            check_answer(f"daily, {count} rows", answered(handler), model, count)
            if sorted(json.loads(flask()), key=int) != [str(i) for i in range(count)]:
                raise RuntimeError(f"{count} rows: Flask did not answer every row")
            frame = pd.read_json(io.StringIO(seed_body), orient="index", convert_dates=["dteday"])
            frame["dteday"] = frame["dteday"].dt.tz_localize(None)
            # Not the predictions: read_json's fast float parser can be 1 ulp off, which flips a rare tree split.
            if not np.allclose(seed_flask.doTheCalculation(frame), seed_matrix, rtol=0, atol=1e-12):
                raise RuntimeError(f"{count} rows: the Flask path's features differ from daily.SEED_FEATURES")
            say(f"  daily {count:,} rows: up to {reps} repetitions or {budget:.0f} s")
            timings = time_interleaved(
                [
                    handler,
                    flask,
                    functools.partial(model.scorer.trees.predict, matrix),  # the engine the handler uses
                    functools.partial(seed_model.predict, seed_matrix),
                ],
                reps,
                warmup,
                budget,
            )
        results.append(LatencyRow(count, *timings))
    return results


@dataclass(frozen=True)
class PairRow:
    """Two handler paths on the same rows, interleaved: ``base`` and ``extra`` (the one that does more)."""

    rows: int
    base: Timing
    extra: Timing

    @property
    def ratio(self) -> float:
        return self.extra.p50_ms / self.base.p50_ms

    @property
    def ms_per_row(self) -> float:
        return (self.extra.p50_ms - self.base.p50_ms) / self.rows


def interval_cost(app: ModuleType, bare: ModuleType, model: Model) -> list[PairRow]:
    """The handler serving the version with intervals vs the same artifact without (its own handler instance)."""
    results = []
    for count, reps, warmup, budget in INTERVAL_PLAN:
        event = common.predict_event(model.rows(count))
        without = handler_call(bare, copy.deepcopy(event), f"no interval, {count} rows")
        with_ = handler_call(app, event, f"intervals, {count} rows")
        with quiet():
            check_answer(f"intervals, {count} rows", answered(with_), model, count)
            check_answer(f"no interval, {count} rows", answered(without), model, count, intervals=False)
            say(f"  intervals {count:,} rows: up to {reps} repetitions or {budget:.0f} s")
            timings = time_interleaved([without, with_], reps, warmup, budget)
        results.append(PairRow(count, *timings))
    return results


def explain_cost(app: ModuleType, model: Model) -> list[PairRow]:
    results = []
    for count, reps, warmup, budget in EXPLAIN_PLAN:
        rows = model.rows(count)
        plain = handler_call(app, common.predict_event(rows, explain=False), f"explain false, {count} rows")
        explained = handler_call(app, common.predict_event(rows, explain=True), f"explain true, {count} rows")
        with quiet():
            check_answer(f"explain, {count} rows", answered(explained), model, count)
            say(f"  explanations {count:,} rows: up to {reps} repetitions or {budget:.0f} s")
            timings = time_interleaved([plain, explained], reps, warmup, budget)
        results.append(PairRow(count, *timings))
    return results


@dataclass(frozen=True)
class FirstExplain:
    model: str
    runs: int
    first_ms: float  # p50 of a 1-row explain request with no explainer built yet
    warm_ms: float  # p50 of the same request once it is built
    build_ms: float  # p50 of TreeEnsemble.explainer() alone on the serving trees


def first_explain(app: ModuleType, model: Model, path: str) -> FirstExplain:
    """The first explain request of a version builds its explainer: dropped before each run, timed, repeated."""
    predictor = app.service.predictor(model.spec.name)
    call = handler_call(app, common.predict_event(model.rows(1), path, explain=True), f"{model.spec.name} explain")
    first, warm, build = [], [], []
    with quiet():
        for _ in range(FIRST_EXPLAIN_RUNS):
            predictor.current().scorer._explainer = None  # as a freshly loaded version has it
            start = time.perf_counter()
            call()
            first.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            call()
            warm.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            model.scorer.trees.explainer()
            build.append((time.perf_counter() - start) * 1000)
    return FirstExplain(
        model.spec.name, len(first), statistics.median(first), statistics.median(warm), statistics.median(build)
    )


@dataclass(frozen=True)
class EngineRow:
    rows: int
    handler: Timing
    floor: Timing


def hourly_latency(app: ModuleType, model: Model) -> list[EngineRow]:
    results = []
    for count, reps, warmup, budget in HOURLY_PLAN:
        handler = handler_call(app, common.predict_event(model.rows(count), common.HOURLY_PATH), f"hourly {count}")
        matrix = model.matrix(count)
        with quiet():
            check_answer(f"hourly, {count} rows", answered(handler), model, count)
            say(f"  hourly {count:,} rows: up to {reps} repetitions or {budget:.0f} s")
            timings = time_interleaved(
                [handler, functools.partial(model.scorer.trees.predict, matrix)], reps, warmup, budget
            )
        results.append(EngineRow(count, *timings))
    return results


# ------------------------------------------------------------------------------------------ child processes


@dataclass(frozen=True)
class ChildRun:
    inside: dict[str, float]
    wall_s: float


def run_child(mode: str, env: dict[str, str]) -> ChildRun:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(CHILD), mode], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    wall = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.startswith(common.RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"child {mode} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    inside: dict[str, float] = json.loads(lines[-1].removeprefix(common.RESULT_PREFIX))
    return ChildRun(inside, wall)


# (kind, child mode, extra environment)
COLD_KINDS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("handler", "handler", {}),
    ("daily only", "handler", {"MODEL_SPECS": common.DAILY_ONLY}),
    ("naive", "naive", {}),
    ("second", "second", {}),
)


def cold_starts(env: dict[str, str]) -> dict[str, list[ChildRun]]:
    """Each kind in turn, repeatedly; the first run of each is discarded (it warms the page cache)."""
    runs: dict[str, list[ChildRun]] = {kind: [] for kind, _, _ in COLD_KINDS}
    for attempt in range(COLD_RUNS + 1):
        for kind, mode, extra in COLD_KINDS:
            say(f"  cold start {kind} {attempt}/{COLD_RUNS}")
            run = run_child(mode, env | extra)
            if attempt:
                runs[kind].append(run)
    return runs


# ---------------------------------------------------------------------------------------------------- size


@dataclass(frozen=True)
class Sizes:
    parts: dict[str, tuple[int, int]]  # name -> (bytes, files)
    packages: list[tuple[str, int]]  # DepsLayer distributions, largest first
    built_at: str


def files_under(root: Path) -> dict[Path, int]:
    return {path: path.lstat().st_size for path in root.rglob("*") if path.is_file() and not path.is_symlink()}


def package_sizes(site: Path) -> list[tuple[str, int]]:
    """Bytes per distribution, from the files each dist-info RECORD lists that are still there after trimming."""
    sizes = files_under(site)
    claimed: set[Path] = set()
    totals: dict[str, int] = {}
    for record in site.glob("*.dist-info/RECORD"):
        name = record.parent.name.split("-")[0]
        with record.open(newline="") as handle:
            paths = {(site / entry[0]).resolve() for entry in csv.reader(handle) if entry}
        owned = {path for path in sizes if path.resolve() in paths or path.parent == record.parent} - claimed
        claimed |= owned
        totals[name] = sum(sizes[path] for path in owned)
    rest = sum(size for path, size in sizes.items() if path not in claimed)
    if rest:
        totals["(files in no RECORD)"] = rest
    return sorted(totals.items(), key=lambda item: -item[1])


def sizes() -> Sizes | None:
    if not BUILD_DIR.is_dir() and SAM.exists():
        say("  .aws-sam/build is missing: running sam build")
        subprocess.run([str(SAM), "build"], cwd=common.REPO, env={**os.environ, "SAM_CLI_TELEMETRY": "0"}, check=False)
    if not all((BUILD_DIR / part).is_dir() for part in BUILD_PARTS):
        return None
    parts = {}
    for part in (*BUILD_PARTS, TRAINING_PART):
        if not (BUILD_DIR / part).is_dir():
            continue
        found = files_under(BUILD_DIR / part)
        parts[part] = (sum(found.values()), len(found))
    built = dt.datetime.fromtimestamp((BUILD_DIR / "template.yaml").stat().st_mtime, dt.UTC)
    return Sizes(parts, package_sizes(BUILD_DIR / "DepsLayer" / "python"), built.isoformat(timespec="minutes"))


# ------------------------------------------------------------------------------------------- the reference


@dataclass(frozen=True)
class Reference:
    generated: str
    ratios: dict[int, tuple[float, float]]  # rows -> (handler / floor, seed Flask / handler), p50
    flask_ms: dict[int, float]  # rows -> seed Flask p50


def reference() -> Reference | None:
    """The daily table of benchmarks/RESULTS.md as committed for the single-model code (``REFERENCE_COMMIT``)."""
    done = subprocess.run(
        ["git", "-C", str(common.REPO), "show", f"{REFERENCE_COMMIT}:benchmarks/RESULTS.md"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or "## 1. Warm request latency" not in done.stdout:
        return None
    generated = re.search(r"on (\d{4}-\d\d-\d\d \d\d:\d\d UTC)", done.stdout)
    section = done.stdout.split("## 1. Warm request latency", 1)[1].split("\n## ", 1)[0]
    ratios, flask_ms = {}, {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 8 and cells[0].replace(",", "").isdigit():
            handler, flask, floor = (float(cells[i].split("/")[0]) for i in (2, 3, 4))
            ratios[int(cells[0].replace(",", ""))] = (handler / floor, flask / handler)
            flask_ms[int(cells[0].replace(",", ""))] = flask
    if not ratios:
        return None
    return Reference(generated.group(1) if generated else REFERENCE_COMMIT[:7], ratios, flask_ms)


# -------------------------------------------------------------------------------------------------- report


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def ms(value: float) -> str:
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.1f}×"


def both(timing: Timing) -> str:
    return f"{ms(timing.p50_ms)} / {ms(timing.p95_ms)}"


def rows_text(count: int) -> str:
    return "1 row" if count == 1 else f"{count:,} rows"


def met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


@dataclass(frozen=True)
class CpuSnapshot:
    busy_s: float  # all CPUs, since boot
    steal_s: float
    own_s: float  # this process and its waited-for children
    load: float  # 1-minute load average

    @classmethod
    def now(cls) -> CpuSnapshot:
        ticks = os.sysconf("SC_CLK_TCK")
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait (guest time is inside user)
        times = os.times()
        own = times.user + times.system + times.children_user + times.children_system
        return cls(busy / ticks, fields[7] / ticks, own, os.getloadavg()[0])


def machine_load(start: CpuSnapshot, end: CpuSnapshot, elapsed_s: float) -> str:
    capacity = elapsed_s * len(os.sched_getaffinity(0))
    others = max(0.0, (end.busy_s - start.busy_s) - (end.own_s - start.own_s))
    return (
        f"during the run, other processes used {others / capacity:.0%} of the CPUs' time and this benchmark "
        f"{(end.own_s - start.own_s) / capacity:.0%} (steal {(end.steal_s - start.steal_s) / capacity:.0%}; "
        f"load average {start.load:.2f} at the start, {end.load:.2f} at the end)"
    )


def versions() -> str:
    from importlib.metadata import version

    names = ("numpy", "scikit-learn", "pydantic", "aws-lambda-powertools", "pandas", "flask")
    return ", ".join(f"{name} {version(name)}" for name in names)


@dataclass(frozen=True)
class Results:
    models: dict[str, Model]
    agreements: list[Agreement]
    daily: list[LatencyRow]
    intervals: list[PairRow]
    explain: list[PairRow]
    first_explain: list[FirstExplain]
    hourly: list[EngineRow]
    cold: dict[str, list[ChildRun]]
    memory: ChildRun
    size: Sizes | None
    reference: Reference | None


def describe(model: Model) -> str:
    params = model.spec.recipe.params
    shape = f"depth {params['max_depth']}" if params.get("max_depth") else f"{params.get('max_leaf_nodes')} leaves"
    serving = model.artifact.manifest["serving"]
    growth = ", a growth term on `yr` by month outside the trees" if serving.get("linear") else ""
    return (
        f"`{model.spec.name}` version `{model.artifact.version}`: `GradientBoostingRegressor` "
        f"({model.trees} trees of {shape}, learning rate {params['learning_rate']}, {model.spec.recipe.target} "
        f"target{growth}) on {len(model.scorer.feature_names)} features, trained on {len(model.data):,} rows "
        f"in {model.build_s:.0f} s; interval {serving['interval']['kind'] if serving.get('interval') else 'none'}"
    )


def header(results: Results, elapsed_s: float, load: str) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    quick = (
        "\n**Quick mode (`BENCH_QUICK=1`): a few repetitions, the hourly model trained on its first 2,000 hours. "
        "Checks the code path only; not for comparison.**\n"
        if QUICK
        else ""
    )
    models = "\n".join(f"- {describe(model)}" for model in results.models.values())
    hour_rows = f"{'its first ' if QUICK else ''}{len(results.models['hourly'].data):,} rows"
    return f"""# bikecast benchmarks

Generated by `python benchmarks/run.py` (`make bench`) on {now}; the whole run took {elapsed_s:.0f} s.
Machine: {os.cpu_count()} CPUs (`nproc` {len(os.sched_getaffinity(0))}), {cpu_model()}; \
Python {platform.python_version()} on {platform.system()} {platform.release()}; {versions()};
`OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS", "unset")}` for every path (bikecast's setting).
S3 is a moto_server on loopback; {load}. Wall-clock numbers vary from run to run and machine to
machine (and with what else runs): compare the ratios, which come from one run on one machine.
{quick}
Models (each trained once for the whole run by `training.publish.build`, then published through the gate, as
production does, to a moto_server bucket):

{models}

What each path runs:

- **handler**: the real `functions/predict/app.py` `lambda_handler`, in process, models already loaded from
  moto_server: an API Gateway REST event (events/predict-single.json with the rows as `{{"instances": [...]}}`,
  its path set to the route) in, the JSON response out, Powertools on (tracing disabled, log level WARNING, its
  metrics stdout redirected to /dev/null). Every answer carries predictions and an 80% interval per row (and
  explanations when asked); the model is served from its tree arrays (`bikecast/trees.py`, leaf bitmasks in numpy)
  plus its growth term (`bikecast/scoring.py`); scikit-learn is never imported by it.
- **seed Flask**: the seed article's app (benchmarks/seed_flask.py: `pd.read_json` → `doTheCalculation` →
  `model.predict` → `jsonify`, adapted only where pandas 3 requires), called through Flask's test client with
  the article's body `{{"0": row, "1": row, ...}}`. Model: a `GradientBoostingRegressor` with the daily recipe's
  parameters (`daily.SPEC.recipe.params`: {results.models["daily"].trees} trees of depth 3) fitted on the same
  731 days, but on the seed's 12 features (`daily.SEED_FEATURES`) and on the count itself, as the seed did: no log
  target, no growth term, no interval (the daily model is log-target with its growth term outside the trees).
- **floor**: the tree engine the handler uses (`TreeEnsemble.predict`, `scorer.trees.predict`), on a feature
  matrix prepared in advance: the trees alone (no growth term, no exp, no interval). **seed floor**: the
  scikit-learn seed-feature model on its own matrix (what the Flask path pays for the model alone).

Rows are real training rows in file order, cycled past the end: day.csv (731 rows) and hour.csv \
({hour_rows}; 24 rows are the hours of 2011-01-01), every field of the
request row given (`rows.Columns(spec.row, batch)`, calendar fields included: the seed's features need them),
`dteday` as the seed client sends it (`2011-01-01T00:00:00.000Z`). The services get the same rows, as
pre-serialised JSON text. Before any timing, each handler's answer is checked against its engine (predictions
and interval bounds equal, explanations adding up to the raw output within 1e-9), and the Flask path's feature
matrix against `daily.SEED_FEATURES` (not its answers: `read_json`'s default float parser can be 1 ulp off,
which flips a rare tree split). What the set-up built (training data, fitted models, request rows) is then moved
out of the garbage collector's generations (`gc.freeze()`), since a Lambda process holds none of it.
"""


def correctness_section(results: Results) -> str:
    rows = [
        [a.model, f"{a.rows:,}", f"{a.max_abs_diff:.2g}", str(a.rounded_diffs), f"`{a.version}`"]
        for a in results.agreements
    ]
    return (
        "## 0. Correctness\n\nWhat the handler loaded (the serving format: tree arrays, growth term, exp) vs the "
        "fitted model in the same version's `model.joblib` (`training.fit.Fitted.predict`, scikit-learn), on every "
        "training row.\n\n"
        + table(["model", "rows", "max difference (rentals)", "rows whose rounded forecast differs", "version"], rows)
        + "\n"
    )


def daily_section(results: Results) -> str:
    rows = [
        [
            f"{row.rows:,}",
            str(row.handler.reps),
            both(row.handler),
            both(row.flask),
            both(row.floor),
            both(row.seed_floor),
            f"{ratio(row.handler.p50_ms, row.floor.p50_ms)} / {ratio(row.handler.p95_ms, row.floor.p95_ms)}",
            f"{ratio(row.flask.p50_ms, row.handler.p50_ms)} / {ratio(row.flask.p95_ms, row.handler.p95_ms)}",
        ]
        for row in results.daily
    ]
    text = (
        "### 1.1 Daily model: handler vs the seed's Flask path\n\n"
        + table(
            [
                "rows",
                "reps",
                "handler ms p50 / p95",
                "seed Flask ms p50 / p95",
                "floor ms p50 / p95",
                "seed floor ms p50 / p95",
                "handler / floor",
                "seed Flask / handler",
            ],
            rows,
        )
        + "\n\nRatios: p50 / p95. Each repetition calls the four paths once, in turn (so load from other processes "
        "on the machine falls on all of them alike); repetitions are bounded in count and in time.\n"
    )
    ref = results.reference
    if ref is None:
        return text + "\nThe reference (RESULTS.md of the single-model code) could not be read from git.\n"
    compared = []
    for row in results.daily:
        if row.rows not in ref.ratios:
            continue
        floor_now, flask_now = row.handler.p50_ms / row.floor.p50_ms, row.flask.p50_ms / row.handler.p50_ms
        floor_ref, flask_ref = ref.ratios[row.rows]
        compared.append(
            [
                f"{row.rows:,}",
                f"{floor_now:.2f}× vs {floor_ref:.2f}× ({floor_now / floor_ref - 1:+.0%})",
                f"{flask_now:.2f}× vs {flask_ref:.2f}× ({flask_now / flask_ref - 1:+.0%})",
            ]
        )
    return (
        text + f"\np50 ratios against the reference: benchmarks/RESULTS.md of the single-model code (commit "
        f"`{REFERENCE_COMMIT[:7]}`, run of {ref.generated}: 500 trees of depth 3 on 11 features, count target, no "
        "interval; its seed path had the same 500-tree parameters). Issue 10 asks for both within "
        f"{RATIO_TOLERANCE:.0%}. The floor is the tree engine alone, so a model with fewer trees has a lower floor "
        "and the handler's fixed costs weigh more in handler / floor.\n\n"
        + table(["rows", "handler / floor: now vs reference", "seed Flask / handler: now vs reference"], compared)
        + "\n"
    )


def pair_table(rows: Sequence[PairRow], base: str, extra: str, per_row: bool) -> str:
    lines = []
    for row in rows:
        cells = [f"{row.rows:,}", str(row.base.reps), both(row.base), both(row.extra), f"{row.ratio:.2f}×"]
        cells.append(f"{row.extra.p50_ms - row.base.p50_ms:+.3f}")
        if per_row:
            cells.append(f"{row.ms_per_row:+.4f}")
        lines.append(cells)
    headers = ["rows", "reps", f"{base} ms p50 / p95", f"{extra} ms p50 / p95", "p50 ratio", "extra ms (p50)"]
    return table(headers + (["extra ms per row (p50)"] if per_row else []), lines)


def intervals_section(results: Results) -> str:
    return (
        "### 1.2 Intervals\n\nThe daily handler serving its version (with intervals) vs the same artifact published "
        f"as `<version>-no-interval` to another bucket (`{NO_INTERVAL_BUCKET}`) with the manifest's "
        "`serving.interval` set to null: the same files and `sha256`s, only the manifest differs, so the answer has "
        "no `intervals` and `interval_level`. Each is served by its own instance of the handler module (its own "
        "`Service`), called in turn in each repetition.\n\n"
        + pair_table(results.intervals, "without interval", "with intervals", per_row=False)
        + "\n"
    )


def explain_section(results: Results) -> str:
    first = [
        [
            f.model,
            str(f.runs),
            f"{f.first_ms:.1f}",
            f"{f.warm_ms:.3f}",
            f"{f.first_ms - f.warm_ms:.1f}",
            f"{f.build_ms:.1f}",
        ]
        for f in results.first_explain
    ]
    return (
        '### 1.3 Explanations\n\nThe daily handler with `"explain": true` vs `false` in the body, same rows, in '
        "turn in each repetition; both answers carry intervals.\n\n"
        + pair_table(results.explain, "explain false", "explain true", per_row=True)
        + "\n\nThe explainer is built on the first explain request of a version (`Scorer.explain`). Below, a 1-row "
        "explain request with no explainer built (it is dropped before each run), then the same request again, "
        "and `TreeEnsemble.explainer()` alone on the serving trees; medians.\n\n"
        + table(
            [
                "model",
                "runs",
                "first explain request ms",
                "next explain request ms",
                "difference ms",
                "explainer build alone ms",
            ],
            first,
        )
        + "\n"
    )


def hourly_section(results: Results) -> str:
    rows = [
        [
            f"{row.rows:,}",
            str(row.handler.reps),
            both(row.handler),
            both(row.floor),
            f"{ratio(row.handler.p50_ms, row.floor.p50_ms)} / {ratio(row.handler.p95_ms, row.floor.p95_ms)}",
            f"{row.handler.p50_ms / row.rows * 1000:.1f}",
        ]
        for row in results.hourly
    ]
    model = results.models["hourly"]
    return (
        f"### 1.4 Hourly model\n\n`POST {common.HOURLY_PATH}` (answers with intervals, no explanations) vs its tree "
        f"engine on a ready matrix ({model.trees} trees of at most "
        f"{model.spec.recipe.params.get('max_leaf_nodes')} leaves); handler and floor in turn in each "
        "repetition.\n\n"
        + table(["rows", "reps", "handler ms p50 / p95", "floor ms p50 / p95", "handler / floor", "µs per row"], rows)
        + "\n"
    )


def targets_section(results: Results) -> str:
    rows: list[list[str]] = []
    ref = results.reference
    for row in results.daily:
        if ref is None or row.rows not in ref.ratios:
            continue
        for name, now, was in (
            ("handler / floor", row.handler.p50_ms / row.floor.p50_ms, ref.ratios[row.rows][0]),
            ("seed Flask / handler", row.flask.p50_ms / row.handler.p50_ms, ref.ratios[row.rows][1]),
        ):
            rows.append(
                [
                    "10",
                    f"daily {name} p50 at {rows_text(row.rows)} within {RATIO_TOLERANCE:.0%} of the reference",
                    f"{now:.2f}× vs {was:.2f}× ({now / was - 1:+.0%})",
                    met(abs(now / was - 1) <= RATIO_TOLERANCE),
                ]
            )
    one_row = next((pair for pair in results.intervals if pair.rows == 1), None)
    if one_row is not None:
        rows.append(
            [
                "11",
                f"intervals add at most {INTERVAL_MAX_EXTRA:.0%} to the 1-row handler p50",
                f"{one_row.ratio - 1:+.1%} ({ms(one_row.base.p50_ms)} → {ms(one_row.extra.p50_ms)} ms)",
                met(one_row.ratio - 1 <= INTERVAL_MAX_EXTRA),
            ]
        )
    for pair in results.explain:
        limit = EXPLAIN_MAX_MS_PER_ROW.get(pair.rows)
        if limit is not None:
            rows.append(
                [
                    "11",
                    f"explanations at most {limit} ms per row at {rows_text(pair.rows)}",
                    f"{pair.ms_per_row:.4f} ms per row",
                    met(pair.ms_per_row <= limit),
                ]
            )
    large = next((timed for timed in results.daily if timed.rows == 10_000), None)
    if large is not None:
        rows.append(
            [
                "11",
                f"10,000-row request with intervals at most {LARGE_REQUEST_MAX_MS:.0f} ms p50",
                f"{ms(large.handler.p50_ms)} ms (table 1.1)",
                met(large.handler.p50_ms <= LARGE_REQUEST_MAX_MS),
            ]
        )
    return (
        "### 1.5 Speed targets (issues 10 and 11), in this run\n\n"
        + table(["issue", "target", "this run", ""], rows)
        + "\n"
        + machine_yardstick(results)
    )


def machine_yardstick(results: Results) -> str:
    """How fast this machine is against the reference run's, judged by the seed Flask path: its code is the
    reference's (only its model has fewer trees now, which makes it a little cheaper)."""
    ref = results.reference
    if ref is None:
        return ""
    slower = {row.rows: row.flask.p50_ms / ref.flask_ms[row.rows] for row in results.daily if row.rows in ref.flask_ms}
    if not slower:
        return ""
    shown = ", ".join(f"{factor:.2f}× at {rows_text(count)}" for count, factor in slower.items())
    large = next((row for row in results.daily if row.rows == 10_000), None)
    scaled = (
        f" Scaled by the 10,000-row factor, the 10,000-row handler p50 would be about "
        f"{large.handler.p50_ms / slower[10_000]:.0f} ms on the reference run's machine (an estimate, not a "
        "measurement)."
        if large is not None and 10_000 in slower
        else ""
    )
    return (
        "\nAbsolute times against the reference run: the seed Flask path, whose code has not changed (its model "
        f"now has {results.models['daily'].trees} trees instead of 500, a little cheaper), took {shown} its "
        "reference time: this machine is slower than the reference run's was, by a factor that varies with the "
        f"batch size and from run to run (a rough indication, not a correction).{scaled}\n"
    )


def cold_section(results: Results) -> str:
    cold = results.cold

    def median(kind: str, key: str) -> float:
        return statistics.median(run.inside[key] for run in cold[kind])

    def wall(kind: str) -> float:
        return statistics.median(run.wall_s for run in cold[kind])

    def spread(kind: str, key: str = "answer_s") -> str:
        values = [run.inside[key] for run in cold[kind]]
        return f"{min(values):.2f}–{max(values):.2f}"

    def spread_ms(kind: str, key: str) -> str:
        values = [run.inside[key] * 1000 for run in cold[kind]]
        return f"{min(values):.1f}–{max(values):.1f}"

    def handler_row(kind: str, label: str) -> list[str]:
        return [
            label,
            str(len(cold[kind])),
            f"{median(kind, 'answer_s'):.2f} ({spread(kind)})",
            f"{wall(kind):.2f}",
            f"imported+loaded {median(kind, 'import_and_load_s'):.2f}, answered {median(kind, 'answer_s'):.2f}",
        ]

    starts = table(
        ["start", "runs", "in child, median s (min–max)", "process wall, median s", "phases (medians, s from start)"],
        [
            handler_row(
                "handler",
                "handler: import app (daily pointer + manifest + tree file over HTTP, sha256, load; the hourly model "
                "is not loaded), 1 request",
            ),
            handler_row(
                "daily only",
                f"handler serving the daily model alone (`MODEL_SPECS={common.DAILY_ONLY}`), 1 request",
            ),
            [
                "naive: import pandas + scikit-learn + boto3, GET model.joblib, joblib.load, predict 1 row",
                str(len(cold["naive"])),
                f"{median('naive', 'answer_s'):.2f} ({spread('naive')})",
                f"{wall('naive'):.2f}",
                f"imported {median('naive', 'import_s'):.2f}, downloaded {median('naive', 'download_s'):.2f}, "
                f"loaded {median('naive', 'load_s'):.2f}, answered {median('naive', 'answer_s'):.2f}",
            ],
            [
                "**naive / handler (how many times faster the handler starts)**",
                "",
                ratio(median("naive", "answer_s"), median("handler", "answer_s")),
                ratio(wall("naive"), wall("handler")),
                "",
            ],
        ],
    )
    second = table(
        ["after a daily cold start (fresh process, import, 1 daily request)", "runs", "median ms (min–max)"],
        [
            [
                label,
                str(len(cold["second"])),
                f"{median('second', key) * 1000:.1f} ({spread_ms('second', key)})",
            ]
            for label, key in (
                ("the daily request (model already loaded at import)", "daily_s"),
                (
                    "**the first hourly request: loads the hourly model (pointer, manifest, tree file, checks)**",
                    "first_hourly_s",
                ),
                ("the second hourly request (warm)", "second_hourly_s"),
            )
        ],
    )
    extra_import = median("handler", "import_and_load_s") - median("daily only", "import_and_load_s")
    first_load = median("second", "first_hourly_s") - median("second", "second_hourly_s")
    return (
        "## 2. Cold start\n\nA fresh `python` process (this venv) per run; the first run of each kind is "
        "discarded (it warms the page cache), the kinds then alternate. *In child*: `time.perf_counter()` from the "
        "child's first line to the answer (excludes interpreter start-up). *Process wall*: `subprocess.run` "
        "from spawn to exit, measured by the parent.\n\n"
        + starts
        + "\n\nWhat the second model costs a container. At import, only its routes and request models: import and "
        f"load took {median('handler', 'import_and_load_s'):.3f} s with both models configured and "
        f"{median('daily only', 'import_and_load_s'):.3f} s with the daily model alone (medians; a difference of "
        f"{extra_import * 1000:+.0f} ms, to be read against the spread above). Its own load waits for its first "
        "request:\n\n"
        + second
        + f"\n\nThe hourly model's lazy load: {first_load * 1000:.0f} ms (first hourly request minus the second).\n"
    )


def size_section(results: Results) -> str:
    size = results.size
    if size is None:
        return (
            "## 3. Size after `sam build`\n\n`.aws-sam/build` is missing or incomplete: run `make build`, then this "
            "benchmark again.\n"
        )
    deployed = {name: size.parts[name] for name in BUILD_PARTS}
    total = sum(bytes_ for bytes_, _ in deployed.values())
    part_rows = [[name, f"{b / MIB:.2f}", f"{n:,}"] for name, (b, n) in deployed.items()]
    part_rows.append(
        ["**predict function + layers**", f"**{total / MIB:.1f}**", f"{sum(n for _, n in deployed.values()):,}"]
    )
    part_rows.append(["Lambda's unzipped limit", f"{LAMBDA_UNZIPPED_LIMIT_MIB}", f"{total / MIB / 250:.0%} used"])
    if TRAINING_PART in size.parts:
        extra, files = size.parts[TRAINING_PART]
        part_rows.append(
            [
                f"({TRAINING_PART}: scikit-learn, scipy, joblib; the TrainFunction's only)",
                f"{extra / MIB:.2f}",
                f"{files:,}",
            ]
        )
    package_rows = [[name, f"{b / MIB:.1f}"] for name, b in size.packages[:10]]
    models = results.models
    return (
        "## 3. Size after `sam build`\n\n"
        f"Sum of file sizes under `.aws-sam/build/<part>` (build of {size.built_at}; MiB = 2^20 bytes).\n\n"
        + table(["part", "MiB", "files"], part_rows)
        + "\n\nLargest packages in DepsLayer (files listed in each wheel's RECORD and present after trimming):\n\n"
        + table(["package", "MiB"], package_rows)
        + "\n\nThe models are not in the package; each container fetches its tree file from S3 ("
        + ", ".join(f"{name} {len(m.artifact.files[TREE_FILE]) / 1024:.0f} KiB" for name, m in models.items())
        + ").\n"
    )


def memory_section(results: Results) -> str:
    inside = results.memory.inside
    requests = int(inside["requests"])
    added = inside["peak_after_both_mib"] - inside["peak_after_requests_mib"]
    rows: list[tuple[str, float]] = [
        ("RSS after the cold start (daily model loaded), before any request (VmRSS)", inside["rss_after_load_mib"]),
        ("peak RSS after load (VmHWM)", inside["peak_after_load_mib"]),
        (f"RSS after {requests:,} single-row daily requests (VmRSS)", inside["rss_after_requests_mib"]),
        (f"**peak RSS after {requests:,} single-row daily requests (VmHWM)**", inside["peak_after_requests_mib"]),
        ("RSS after the first hourly request (both models loaded)", inside["rss_after_hourly_load_mib"]),
        (f"RSS after {requests:,} more requests of each model", inside["rss_after_both_mib"]),
        (f"**peak RSS with both models, after {requests:,} more of each (VmHWM)**", inside["peak_after_both_mib"]),
    ]
    shown = [[label, f"**{value:.0f}**" if label.startswith("**") else f"{value:.0f}"] for label, value in rows]
    shown.append(["**what the hourly model adds (peak with both − peak with the daily model)**", f"**{added:+.0f}**"])
    return (
        "## 4. Memory\n\nOne fresh process: the handler imported (daily model loaded from moto_server), daily "
        "requests, then the first hourly request and more of both.\n\n" + table(["measure", "MiB"], shown) + "\n"
    )


def cost_section(results: Results) -> str:
    by_rows = {row.rows: row.handler for row in results.daily}
    hourly_rows = {row.rows: row.handler for row in results.hourly}
    cost_rows = []
    for label, count, timing in (
        ("daily, 1-row requests", 1, by_rows.get(1)),
        ("daily, 1,000-row requests", 1000, by_rows.get(1000)),
        ("hourly, 24-row requests (one day's hours)", 24, hourly_rows.get(24)),
    ):
        if timing is None:
            continue
        billed_ms = max(1.0, math.ceil(timing.p50_ms))
        requests_per_million_rows = 1_000_000 / count
        compute = requests_per_million_rows * billed_ms / 1000 * MEMORY_GB * PRICE_GB_SECOND
        invocations = requests_per_million_rows / 1_000_000 * PRICE_PER_MILLION_REQUESTS
        cost_rows.append(
            [
                label,
                f"{timing.p50_ms:.2f}",
                f"{billed_ms:.0f}",
                f"${compute:.4f}",
                f"${invocations:.4f}",
                f"**${compute + invocations:.4f}**",
            ]
        )
    return (
        f"## 5. Lambda cost at {MEMORY_GB * 1024:.0f} MB (x86: ${PRICE_GB_SECOND} per GB-s, "
        f"${PRICE_PER_MILLION_REQUESTS} per million requests)\n\n"
        "From the handler p50 above, billed per started millisecond. Lambda at 1024 MB gets about 0.6 of a vCPU, "
        "so real durations can be ~1.7x these (the first ms of a 1-row request is billed either way).\n\n"
        + table(["per million rows, as", "handler p50 ms", "billed ms", "compute", "requests", "total"], cost_rows)
        + "\n"
    )


def report(results: Results, elapsed_s: float, load: str) -> str:
    return "\n".join(
        [
            header(results, elapsed_s, load),
            correctness_section(results),
            "## 1. Warm request latency\n",
            daily_section(results),
            intervals_section(results),
            explain_section(results),
            hourly_section(results),
            targets_section(results),
            cold_section(results),
            size_section(results),
            memory_section(results),
            cost_section(results),
        ]
    )


def local_section() -> str:
    """Section 6 as local_loop.py last wrote it into RESULTS.md (its header may carry another number)."""
    if not RESULTS.exists():
        return ""
    text = RESULTS.read_text()
    title = common.LOCAL_SECTION.split(". ", 1)[1]
    found = re.search(r"^## \d+\. " + re.escape(title) + r"$", text, flags=re.MULTILINE)
    if found is None:
        return ""
    rest = text[found.end() :]
    following = re.search(r"^## ", rest, flags=re.MULTILINE)
    body = rest[: following.start()] if following else rest
    return common.LOCAL_SECTION + body.rstrip("\n") + "\n"


# ---------------------------------------------------------------------------------------------------- main


def main() -> int:
    started, cpu_start = time.perf_counter(), CpuSnapshot.now()
    say(f"size of .aws-sam/build{' (quick mode)' if QUICK else ''}")
    size = sizes()
    import sam_local

    from bikecast.registry import Layout, ModelRegistry
    from bikecast.store import S3Store

    with sam_local.moto_server() as moto_url:
        env = common.bench_env(moto_url)
        for name in set(os.environ) - set(env):
            del os.environ[name]  # AWS_PROFILE and the like: nothing may reach a real account
        os.environ.update(env)
        models: dict[str, Model] = {}
        for spec, first_rows in ((daily.SPEC, None), (hourly.SPEC, HOURLY_ROWS)):
            say(f"training the {spec.name} model{'' if first_rows is None else f' on its first {first_rows:,} rows'}")
            models[spec.name] = build_model(spec, first_rows)
        say("publishing both models through the gate, and the daily one without its interval to another bucket")
        for bucket in (common.BUCKET, NO_INTERVAL_BUCKET):
            S3Store(bucket).ensure_bucket()
        for model in models.values():
            common.put_in_place(model.artifact, common.BUCKET)
        common.put_in_place(without_interval(models["daily"].artifact), NO_INTERVAL_BUCKET)
        seed_model = fit_seed_model(models["daily"])
        app = importlib.import_module("app")
        bare = load_handler("app_without_interval", NO_INTERVAL_BUCKET)
        say("correctness")
        agreements = [agreement(app, model) for model in models.values()]
        gc.collect()
        gc.freeze()  # training data, fitted models, rows: a Lambda process holds none of them
        say("warm latency: daily model")
        lat = daily_latency(app, models["daily"], seed_model)
        say("warm latency: intervals")
        intervals = interval_cost(app, bare, models["daily"])
        say("warm latency: explanations")
        explain = explain_cost(app, models["daily"])
        firsts = [
            first_explain(app, models["daily"], "/predict"),
            first_explain(app, models["hourly"], common.HOURLY_PATH),
        ]
        say("warm latency: hourly model")
        hourly_rows = hourly_latency(app, models["hourly"])
        child_env = env | {
            "BENCH_MODEL_KEY": ModelRegistry(S3Store(common.BUCKET), Layout.of("daily", True).models).key(
                models["daily"].artifact.version, MODEL_FILE
            ),
            "BENCH_REQUESTS": str(MEMORY_REQUESTS),
        }
        say("cold starts")
        cold = cold_starts(child_env)
        say("memory")
        mem = run_child("memory", child_env)
    results = Results(models, agreements, lat, intervals, explain, firsts, hourly_rows, cold, mem, size, reference())
    elapsed = time.perf_counter() - started
    text = report(results, elapsed, machine_load(cpu_start, CpuSnapshot.now(), elapsed))
    local = local_section()
    OUTPUT.write_text(text + (f"\n{local}" if local else ""))
    print(text)
    say(f"written to {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
