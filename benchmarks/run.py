"""Benchmarks of the predict function, side by side in one run: `python benchmarks/run.py` (or `make bench`).

1. warm latency: the real handler (API Gateway event in, JSON out) vs the seed article's Flask app vs the bare
   model's ``predict`` on a ready feature matrix, for 1, 100 and 10,000 rows;
2. cold start: a fresh process that imports the handler and answers once vs a naive pandas + joblib start;
3. size of the function and its layers after ``sam build``;
4. memory of a predict process before and after 1,000 requests.

Prints a Markdown report and writes it to benchmarks/RESULTS.md. Reports ratios; asserts nothing about time.
S3 is a moto_server on loopback, started and stopped here by its pid.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import functools
import importlib
import io
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
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
from bikecast.features import INPUT_FIELDS  # noqa: E402

RESULTS = common.BENCH_DIR / "RESULTS.md"
CHILD = common.BENCH_DIR / "child.py"
BUILD_DIR = common.REPO / ".aws-sam" / "build"
BUILD_PARTS = ("PredictFunction", "DepsLayer", "SharedLayer")  # the default deployment (JoblibFallback=Disabled)
FALLBACK_PART = "SklearnLayer"  # added to the predict function by JoblibFallback=Enabled
SAM = common.REPO / ".venv-sam" / "bin" / "sam"
LAMBDA_UNZIPPED_LIMIT_MIB = 250
MIB = 1024 * 1024

# (rows, repetitions, warm-up rounds, time budget for all paths in seconds): bounded in count and in time.
LATENCY_PLAN = ((1, 2000, 20, 40.0), (100, 300, 5, 25.0), (1_000, 100, 3, 25.0), (10_000, 25, 2, 40.0))
# Lambda x86 prices (us-east-1): per GB-second of billed duration, and per million requests.
PRICE_GB_SECOND = 0.0000166667
MEMORY_GB = 1.0  # PredictMemorySize in template.yaml
PRICE_PER_MILLION_REQUESTS = 0.20
COLD_RUNS = 5
MEMORY_REQUESTS = 1000


STARTED = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - STARTED:5.1f} s] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------- setup


@dataclass(frozen=True)
class Setup:
    app: ModuleType
    version: str
    model_key: str
    rows: list[Any]  # training.data.LabelledObservation, in file order
    seed_model: Any  # the same estimator class and parameters, fitted on the seed's 12 features
    agreement: dict[str, Any]


def publish_model(moto_url: str) -> tuple[str, str, list[Any], Any]:
    """Train and publish as `make demo` does; also fit the seed-feature model for the Flask path."""
    from bikecast.registry import MODEL_FILE, ModelRegistry
    from bikecast.store import S3Store
    from training import data, model, publish

    store = S3Store(common.BUCKET)
    store.ensure_bucket()
    training = data.load(str(data.DEFAULT_DATA))
    built = publish.build(training, progress=lambda _: None)
    registry = ModelRegistry(store)
    publish.publish(built, registry, progress=lambda _: None)
    seed_model = model.build_pipeline().named_steps["model"]
    seed_model.fit(model.seed_matrix(training.batch), training.target)
    return built.version, registry.key(built.version, MODEL_FILE), list(training.rows), seed_model


def request_row(row: Any) -> dict[str, Any]:
    """A day.csv row as the seed client sends it: the input columns, the date as a UTC midnight timestamp."""
    fields: dict[str, Any] = {name: getattr(row, name) for name in INPUT_FIELDS}
    fields["dteday"] = f"{row.dteday.isoformat()}T00:00:00.000Z"
    return fields


def cycled(rows: Sequence[Any], count: int) -> list[Any]:
    return [rows[i % len(rows)] for i in range(count)]


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


@dataclass(frozen=True)
class LatencyRow:
    rows: int
    handler: Timing
    flask: Timing
    floor: Timing
    seed_floor: Timing


def serving_agreement(app: ModuleType, rows: list[Any]) -> dict[str, Any]:
    """The serving path's forecasts vs the joblib pipeline's, on the full data set."""
    from bikecast import features

    served = app.predictor.model
    batch = features.batch_from_observations(rows)
    ours = served.trees.predict(features.feature_matrix(batch))
    reference = served.pipeline.predict(batch)
    return {
        "rows": len(rows),
        "max_abs_diff": float(np.max(np.abs(ours - reference))),
        "rounded_diffs": int(np.sum(np.rint(ours) != np.rint(reference))),
    }


def latency(setup: Setup) -> list[LatencyRow]:
    import pandas as pd

    from benchmarks import seed_flask
    from bikecast import features
    from bikecast.serving import to_rentals
    from training import model

    seed_flask.model = setup.seed_model
    client = seed_flask.app.test_client()
    serving = setup.app.predictor.model  # the very object the handler serves
    pipeline = serving.pipeline
    estimator = pipeline.named_steps["model"]
    context = common.FakeLambdaContext()
    results = []
    for count, reps, warmup, budget in LATENCY_PLAN:
        rows = cycled(setup.rows, count)
        requests = [request_row(row) for row in rows]
        event = common.predict_event(requests)
        seed_body = json.dumps({str(i): row for i, row in enumerate(requests)})
        batch = features.batch_from_observations(rows)
        matrix: NDArray[np.float64] = pipeline.named_steps["features"].transform(batch)
        seed_matrix = model.seed_matrix(batch)

        def handler(event: dict[str, Any] = event) -> dict[str, Any]:
            response: dict[str, Any] = setup.app.lambda_handler(event, context)
            if response["statusCode"] != 200:
                raise RuntimeError(f"handler answered {response['statusCode']}: {response['body'][:300]}")
            return response

        def flask(body: str = seed_body) -> bytes:
            response = client.post(
                "/api/makecalc/", data=body, headers={"content-type": "application/json", "Accept-Charset": "UTF-8"}
            )
            if response.status_code != 200:
                raise RuntimeError(f"Flask answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
            return response.get_data()

        with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):  # Powertools prints metrics
            # The handler must answer as its bare model does; the Flask path must compute the seed's features.
            served = json.loads(handler()["body"])["predictions"]
            if served != to_rentals(estimator.predict(matrix)):
                raise RuntimeError(f"{count} rows: handler and bare model disagree")
            if sorted(json.loads(flask()), key=int) != [str(i) for i in range(count)]:
                raise RuntimeError(f"{count} rows: Flask did not answer every row")
            frame = pd.read_json(io.StringIO(seed_body), orient="index", convert_dates=["dteday"])
            frame["dteday"] = frame["dteday"].dt.tz_localize(None)
            # Not the predictions: read_json's fast float parser can be 1 ulp off, which flips a rare tree split.
            if not np.allclose(seed_flask.doTheCalculation(frame), seed_matrix, rtol=0, atol=1e-12):
                raise RuntimeError(f"{count} rows: the Flask path's features differ from training.model.seed_matrix")
            say(f"  {count:,} rows: up to {reps} repetitions or {budget:.0f} s")
            timings = time_interleaved(
                [
                    handler,
                    flask,
                    functools.partial(serving.trees.predict, matrix),  # the engine the handler uses
                    functools.partial(setup.seed_model.predict, seed_matrix),
                ],
                reps,
                warmup,
                budget,
            )
        results.append(LatencyRow(count, *timings))
    return results


# ------------------------------------------------------------------------------------------ child processes


@dataclass(frozen=True)
class ChildRun:
    inside: dict[str, float]
    wall_s: float


def run_child(mode: str, env: dict[str, str]) -> ChildRun:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(CHILD), mode], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    wall = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.startswith(common.RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"child {mode} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    inside: dict[str, float] = json.loads(lines[-1].removeprefix(common.RESULT_PREFIX))
    return ChildRun(inside, wall)


def cold_starts(env: dict[str, str]) -> dict[str, list[ChildRun]]:
    """Alternating handler and naive starts; the first of each is discarded (it warms the page cache)."""
    runs: dict[str, list[ChildRun]] = {"handler": [], "naive": []}
    for attempt in range(COLD_RUNS + 1):
        for mode, kept in runs.items():
            say(f"  cold start {mode} {attempt}/{COLD_RUNS}")
            run = run_child(mode, env)
            if attempt:
                kept.append(run)
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
    for part in (*BUILD_PARTS, FALLBACK_PART):
        if not (BUILD_DIR / part).is_dir():
            continue
        found = files_under(BUILD_DIR / part)
        parts[part] = (sum(found.values()), len(found))
    built = dt.datetime.fromtimestamp((BUILD_DIR / "template.yaml").stat().st_mtime, dt.UTC)
    return Sizes(parts, package_sizes(BUILD_DIR / "DepsLayer" / "python"), built.isoformat(timespec="minutes"))


# -------------------------------------------------------------------------------------------------- report


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def ms(value: float) -> str:
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.1f}×"


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

    @classmethod
    def now(cls) -> CpuSnapshot:
        ticks = os.sysconf("SC_CLK_TCK")
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait (guest time is inside user)
        times = os.times()
        own = times.user + times.system + times.children_user + times.children_system
        return cls(busy / ticks, fields[7] / ticks, own)


def machine_load(start: CpuSnapshot, end: CpuSnapshot, elapsed_s: float) -> str:
    capacity = elapsed_s * len(os.sched_getaffinity(0))
    others = max(0.0, (end.busy_s - start.busy_s) - (end.own_s - start.own_s))
    return (
        f"during the run, other processes used {others / capacity:.0%} of the CPUs' time and this benchmark "
        f"{(end.own_s - start.own_s) / capacity:.0%} (steal {(end.steal_s - start.steal_s) / capacity:.0%}; "
        f"load average at the end {os.getloadavg()[0]:.1f})"
    )


def versions() -> str:
    from importlib.metadata import version

    names = ("numpy", "scikit-learn", "pydantic", "aws-lambda-powertools", "pandas", "flask")
    return ", ".join(f"{name} {version(name)}" for name in names)


def report(
    setup: Setup,
    lat: list[LatencyRow],
    cold: dict[str, list[ChildRun]],
    mem: ChildRun,
    size: Sizes | None,
    elapsed_s: float,
    load: str,
) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = f"""# bikecast benchmarks

Generated by `python benchmarks/run.py` (`make bench`) on {now}; the whole run took {elapsed_s:.0f} s.
Machine: {os.cpu_count()} CPUs (`nproc` {len(os.sched_getaffinity(0))}), {cpu_model()}; \
Python {platform.python_version()} on {platform.system()} {platform.release()}; {versions()};
`OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS", "unset")}` for every path (bikecast's setting).
S3 is a moto_server on loopback; {load}. Wall-clock numbers vary from run to run and machine to
machine (and with what else runs): compare the ratios, which come from one run on one machine.

What each path runs (model version `{setup.version}`):

- **handler**: the real `functions/predict/app.py` `lambda_handler`, in process, model already loaded from
  moto_server: an API Gateway REST event (events/predict-single.json with the rows as `{{"instances": [...]}}`)
  in, the JSON response out, Powertools on (tracing disabled, log level WARNING, its metrics stdout redirected
  to /dev/null). Model: the published version, `GradientBoostingRegressor` (`training.model.MODEL_PARAMS`,
  11 features) fitted on all 731 days, served from its tree arrays (`bikecast/trees.py`, leaf bitmasks in numpy)
  at every batch size; scikit-learn is never imported.
- **seed Flask**: the seed article's app (benchmarks/seed_flask.py: `pd.read_json` → `doTheCalculation` →
  `model.predict` → `jsonify`, adapted only where pandas 3 requires), called through Flask's test client with
  the article's body `{{"0": row, "1": row, ...}}`. Model: a `GradientBoostingRegressor` with the same
  `MODEL_PARAMS` fitted on the same 731 days, but on the seed's 12 features (`training.model.seed_matrix`),
  since the seed's feature matrix differs from ours.
- **floor**: the engine the handler uses (`TreeEnsemble.predict`), on a feature matrix prepared in
  advance. **seed floor**: the
  scikit-learn seed-feature model on its own matrix (what the Flask path pays for the model alone).

Rows are real day.csv rows in file order (cycled past 731 to reach 10,000): the 13 input columns, calendar fields
included (the seed's features need them), `dteday` as the seed client sends it (`2011-01-01T00:00:00.000Z`).
Both services get the same rows, as pre-serialised JSON text. Before timing, the handler's answers are checked
against its bare model, and the Flask path's feature matrix against `training.model.seed_matrix` (not its answers:
`read_json`'s default float parser can be 1 ulp off, which flips a rare tree split).
"""
    latency_rows = [
        [
            f"{row.rows:,}",
            str(row.handler.reps),
            f"{ms(row.handler.p50_ms)} / {ms(row.handler.p95_ms)}",
            f"{ms(row.flask.p50_ms)} / {ms(row.flask.p95_ms)}",
            f"{ms(row.floor.p50_ms)} / {ms(row.floor.p95_ms)}",
            f"{ms(row.seed_floor.p50_ms)} / {ms(row.seed_floor.p95_ms)}",
            f"{ratio(row.handler.p50_ms, row.floor.p50_ms)} / {ratio(row.handler.p95_ms, row.floor.p95_ms)}",
            f"{ratio(row.flask.p50_ms, row.handler.p50_ms)} / {ratio(row.flask.p95_ms, row.handler.p95_ms)}",
        ]
        for row in lat
    ]
    latency_table = table(
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
        latency_rows,
    )

    def median(mode: str, key: str) -> float:
        return statistics.median(run.inside[key] for run in cold[mode])

    def wall(mode: str) -> float:
        return statistics.median(run.wall_s for run in cold[mode])

    def spread(mode: str) -> str:
        values = [run.inside["answer_s"] for run in cold[mode]]
        return f"{min(values):.2f}–{max(values):.2f}"

    cold_table = table(
        ["start", "runs", "in child, median s (min–max)", "process wall, median s", "phases (medians, s from start)"],
        [
            [
                "handler: import app (pointer + manifest + model over HTTP, sha256, load), 1 request",
                str(len(cold["handler"])),
                f"{median('handler', 'answer_s'):.2f} ({spread('handler')})",
                f"{wall('handler'):.2f}",
                f"imported+loaded {median('handler', 'import_and_load_s'):.2f}, "
                f"answered {median('handler', 'answer_s'):.2f}",
            ],
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

    if size is None:
        size_text = "`.aws-sam/build` is missing or incomplete: run `make build`, then this benchmark again."
    else:
        default = {name: size.parts[name] for name in BUILD_PARTS}
        total = sum(bytes_ for bytes_, _ in default.values())
        part_rows = [[name, f"{b / MIB:.2f}", f"{n:,}"] for name, (b, n) in default.items()]
        part_rows.append(
            [
                "**predict function + layers (default, JoblibFallback=Disabled)**",
                f"**{total / MIB:.1f}**",
                f"{sum(n for _, n in default.values()):,}",
            ]
        )
        part_rows.append(["Lambda's unzipped limit", f"{LAMBDA_UNZIPPED_LIMIT_MIB}", f"{total / MIB / 250:.0%} used"])
        if FALLBACK_PART in size.parts:
            extra, files = size.parts[FALLBACK_PART]
            part_rows.append([f"{FALLBACK_PART} (scikit-learn, scipy, joblib)", f"{extra / MIB:.2f}", f"{files:,}"])
            part_rows.append(
                [
                    "predict function + layers with JoblibFallback=Enabled",
                    f"{(total + extra) / MIB:.1f}",
                    f"{(total + extra) / MIB / 250:.0%} of the limit",
                ]
            )
        package_rows = [[name, f"{b / MIB:.1f}"] for name, b in size.packages[:10]]
        size_text = (
            f"Sum of file sizes under `.aws-sam/build/<part>` (build of {size.built_at}; MiB = 2^20 bytes).\n\n"
            + table(["part", "MiB", "files"], part_rows)
            + "\n\nLargest packages in DepsLayer (files listed in each wheel's RECORD and present after trimming):\n\n"
            + table(["package", "MiB"], package_rows)
        )

    memory_table = table(
        ["measure (fresh process, handler imported, model loaded from moto_server)", "MiB"],
        [
            ["RSS after load, before any request (VmRSS)", f"{mem.inside['rss_after_load_mib']:.0f}"],
            ["peak RSS after load (VmHWM)", f"{mem.inside['peak_after_load_mib']:.0f}"],
            [
                f"RSS after {int(mem.inside['requests']):,} single-row requests (VmRSS)",
                f"{mem.inside['rss_after_requests_mib']:.0f}",
            ],
            [
                f"**peak RSS after {int(mem.inside['requests']):,} single-row requests (VmHWM)**",
                f"**{mem.inside['peak_after_requests_mib']:.0f}**",
            ],
        ],
    )

    by_rows = {row.rows: row for row in lat}
    cost_rows = []
    for label, rows_per_request, count in (("1-row requests", 1, 1), ("1,000-row requests", 1000, 1000)):
        billed_ms = max(1.0, math.ceil(by_rows[count].handler.p50_ms))
        requests_per_million_rows = 1_000_000 / rows_per_request
        compute = requests_per_million_rows * billed_ms / 1000 * MEMORY_GB * PRICE_GB_SECOND
        invocations = requests_per_million_rows / 1_000_000 * PRICE_PER_MILLION_REQUESTS
        cost_rows.append(
            [
                label,
                f"{by_rows[count].handler.p50_ms:.2f}",
                f"{billed_ms:.0f}",
                f"${compute:.4f}",
                f"${invocations:.4f}",
                f"**${compute + invocations:.4f}**",
            ]
        )
    cost_table = table(
        ["per million rows, as", "handler p50 ms", "billed ms", "compute", "requests", "total"], cost_rows
    )
    agreement = setup.agreement
    return (
        header
        + "\n## 0. Correctness\n\n"
        + f"Tree arrays vs the joblib pipeline on all {agreement['rows']} rows of day.csv: max difference "
        + f"{agreement['max_abs_diff']:.2g} rentals; rows whose rounded forecast differs: "
        + f"{agreement['rounded_diffs']}.\n"
        + "\n## 1. Warm request latency\n\n"
        + latency_table
        + "\n\nRatios: p50 / p95. Each repetition calls the four paths once, in turn (so load from other processes "
        + "on the machine falls on all of them alike); repetitions are bounded in count and in time.\n"
        + "\n## 2. Cold start\n\nA fresh `python` process (this venv) per run; the first run of each kind is "
        + "discarded (it warms the page cache), the others alternate. *In child*: `time.perf_counter()` from the "
        + "child's first line to the answer (excludes interpreter start-up). *Process wall*: `subprocess.run` "
        + "from spawn to exit, measured by the parent.\n\n"
        + cold_table
        + "\n\n## 3. Size after `sam build`\n\n"
        + size_text
        + "\n\n## 4. Memory\n\n"
        + memory_table
        + f"\n\n## 5. Lambda cost at {MEMORY_GB * 1024:.0f} MB (x86: ${PRICE_GB_SECOND} per GB-s, "
        + f"${PRICE_PER_MILLION_REQUESTS} per million requests)\n\n"
        + "From the handler p50 above, billed per started millisecond. Lambda at 1024 MB gets about 0.6 of a vCPU, "
        + "so real durations can be ~1.7x these (the first ms of a 1-row request is billed either way).\n\n"
        + cost_table
        + "\n"
    )


# ---------------------------------------------------------------------------------------------------- main


def main() -> int:
    started, cpu_start = time.perf_counter(), CpuSnapshot.now()
    say("size of .aws-sam/build")
    size = sizes()
    import sam_local

    with sam_local.moto_server() as moto_url:
        env = common.bench_env(moto_url)
        for name in set(os.environ) - set(env):
            del os.environ[name]  # AWS_PROFILE and the like: nothing may reach a real account
        os.environ.update(env)
        say(f"training and publishing a model to {moto_url}")
        version, model_key, rows, seed_model = publish_model(moto_url)
        app = importlib.import_module("app")
        setup = Setup(app, version, model_key, rows, seed_model, serving_agreement(app, rows))
        say("warm latency")
        lat = latency(setup)
        child_env = {**env, "BENCH_MODEL_KEY": model_key}
        say("cold starts")
        cold = cold_starts(child_env)
        say("memory")
        mem = run_child("memory", child_env)
    elapsed = time.perf_counter() - started
    text = report(setup, lat, cold, mem, size, elapsed, machine_load(cpu_start, CpuSnapshot.now(), elapsed))
    local = RESULTS.read_text().partition(common.LOCAL_SECTION) if RESULTS.exists() else ("", "", "")
    RESULTS.write_text(text + (f"\n{local[1]}{local[2]}" if local[1] else ""))
    print(text)
    say(f"written to {RESULTS.relative_to(common.REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
