"""The local inner loop through SAM CLI and Docker: `python benchmarks/local_loop.py` (part of `make bench`).

1. `sam local invoke PredictFunction -e events/makecalc-seed.json`, as the project runs it (sam_local.invoke_command:
   the function's layers baked into an image, a built template without layers, STS answered by moto_server): wall
   time of INVOKE_RUNS runs, after a first one reported apart (it bakes the image if the layers changed since the
   last bake); from each run's --debug log, the seconds SAM CLI spent before the image (STS among them) and on it
   (for a plain invoke, the rebuild with the layers sent as build context); and the local runtime's REPORT for the
   cold request in the container (init included). For comparison, PLAIN_RUNS plain invokes with the template's
   layers (as typed by hand: SAM CLI rebuilds the image every time), and NO_STS_RUNS runs as SAM CLI does by
   default offline: STS unanswered.
2. The same cold start in process: a fresh Python importing the handler (model from the same moto_server) and
   answering once (benchmarks/child.py handler).
3. `sam local start-api` with warm containers: seconds until /health first answers, the first POST
   /api/makecalc/ after that, then the p50 of WARM_REQUESTS warm ones.

Replaces the section LOCAL_SECTION of benchmarks/RESULTS.md (run.py keeps it when it rewrites the rest).
Reports what it measured; asserts nothing about time. All traffic: loopback and the project's own containers.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root, for `benchmarks`

from benchmarks import common

common.add_import_roots()

import sam_local  # noqa: E402

from bikecast.bikes import daily  # noqa: E402
from bikecast.store import S3Store  # noqa: E402
from training import data, publish  # noqa: E402

RESULTS = common.BENCH_DIR / "RESULTS.md"
LOCAL_SECTION = common.LOCAL_SECTION
SEED_EVENT = common.EVENTS / "makecalc-seed.json"
INVOKE_RUNS = 5
PLAIN_RUNS = 3
NO_STS_RUNS = 3
WARM_REQUESTS = 50
STAMP = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \| (.*)$")


def say(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def phases(stderr: str, started: float, ended: float) -> dict[str, float]:
    """Where an invoke's seconds went, from the timestamps of SAM CLI's --debug log (wall-clock times)."""
    stamps = []
    for line in stderr.splitlines():
        found = STAMP.search(line)  # the build's lines follow "Building image...." on the same line
        if found:
            at = dt.datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            stamps.append((at, found.group(2)))
    # "Mounting <code> as /var/task": the image is ready and the container is being created.
    ready = next((i for i, (_, text) in enumerate(stamps) if text.startswith("Mounting ")), None)
    if ready is None:
        return {}
    # A build's own lines arrive once it has received the context; it starts after the last line before them.
    # No build (the project's baked image): the image step is SAM CLI finding its image, from the line before.
    build = next((i for i, (_, text) in enumerate(stamps[:ready]) if "Build stream" in text), ready)
    before = stamps[max(build - 1, 0)][0]
    return {
        "startup_s": stamps[0][0] - started,  # Python and SAM CLI's imports, until its first log line
        "before_build_s": before - stamps[0][0],  # template, parameters, STS for the account id
        "image_build_s": stamps[ready][0] - before,  # plain invoke: the layers sent as build context, steps cached
        "container_s": ended - stamps[ready][0],  # container created, started, cold request, removed
    }


def invoke(env_vars: Path, moto_url: str, sts: bool = True, plain: bool = False) -> dict[str, float]:
    """One invoke of the seed event: as the project runs it, or ``plain`` (the template's layers, as typed by hand)."""
    started, started_at = time.perf_counter(), time.time()
    env = sam_local.sam_env(moto_url if sts else None)
    if plain:
        command = sam_local.local_command("invoke", env_vars, None, (), "PredictFunction", "-e", str(SEED_EVENT))
    else:
        command = sam_local.invoke_command("PredictFunction", SEED_EVENT, env_vars, None)
    prepared = time.perf_counter() - started
    done = subprocess.run([*command, "--debug"], cwd=common.REPO, env=env, capture_output=True, timeout=300)
    wall = time.perf_counter() - started
    stderr = done.stderr.decode(errors="replace")
    answer = json.loads([line for line in done.stdout.decode().splitlines() if line.strip()][-1])
    if done.returncode != 0 or answer.get("statusCode") != 200:
        raise RuntimeError(f"invoke failed ({done.returncode}): {stderr[-2000:]}")
    report = sam_local.parse_report(stderr)
    cold = (report["init_ms"] + report["duration_ms"]) / 1000 if report else float("nan")
    timings = phases(stderr, started_at + prepared, started_at + wall)
    return {"wall_s": wall, "prepare_s": prepared, "cold_request_s": cold, **timings}


def in_process_cold_start(moto_url: str) -> float:
    env = common.bench_env(moto_url)
    done = subprocess.run(
        [sys.executable, str(common.BENCH_DIR / "child.py"), "handler"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    line = [line for line in done.stdout.splitlines() if line.startswith(common.RESULT_PREFIX)][-1]
    answered: float = json.loads(line.removeprefix(common.RESULT_PREFIX))["answer_s"]
    return answered


def post(url: str, body: bytes) -> float:
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as answer:
        answer.read()
    return time.perf_counter() - started


def start_api(env_vars: Path, moto_url: str) -> dict[str, float]:
    body = json.loads(SEED_EVENT.read_text())["body"].encode()
    started = time.perf_counter()
    with sam_local.start_api(env_vars, aws_endpoint=moto_url) as api:
        ready = time.perf_counter() - started
        first = post(api.url + "/api/makecalc/", body)
        warm = [post(api.url + "/api/makecalc/", body) for _ in range(WARM_REQUESTS)]
    return {"ready_s": ready, "first_s": first, "warm_p50_s": statistics.median(warm)}


def spread(runs: list[dict[str, float]], key: str) -> str:
    values = sorted(run[key] for run in runs if key in run)
    return f"{statistics.median(values):.2f} s ({values[0]:.2f}-{values[-1]:.2f})" if values else "n/a"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def section(
    first: dict[str, float],
    fixed: list[dict[str, float]],
    plain: list[dict[str, float]],
    default: list[dict[str, float]],
    in_process: list[float],
    api: dict[str, float],
    elapsed: float,
    loads: tuple[str, str],
) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = [
        ("`sam local invoke`, wall (seed event), as the project runs it", spread(fixed, "wall_s")),
        ("- preparing it: built template without layers, the layers' fingerprint", spread(fixed, "prepare_s")),
        ("- SAM CLI starting (Python, imports)", spread(fixed, "startup_s")),
        ("- template, parameters, STS for the account id", spread(fixed, "before_build_s")),
        ("- image (the layers baked in beforehand: SAM CLI only finds it)", spread(fixed, "image_build_s")),
        ("- container: created, started, cold request, removed", spread(fixed, "container_s")),
        ("- of which the cold request in the container (runtime REPORT, init included)", spread(
            fixed, "cold_request_s")),
        ("the run's first invoke (not among those above), wall; of which preparing it (a bake, if the layers "
         "changed since the last one)", f"{first['wall_s']:.2f} s; {first['prepare_s']:.2f} s"),
        ("plain `sam local invoke` with the template's layers (as typed by hand; STS answered), wall", spread(
            plain, "wall_s")),
        ("- image build (the layers sent as build context; every step cached)", spread(plain, "image_build_s")),
        ("`sam local invoke`, wall, STS unanswered (SAM CLI's default offline)", spread(default, "wall_s")),
        ("- template, parameters, STS for the account id", spread(default, "before_build_s")),
        ("the same cold start in process (fresh Python: import, model, one answer)", spread(
            [{"s": s} for s in in_process], "s")),
        ("`sam local start-api` (warm, LAZY): start to the first answer of /health", f"{api['ready_s']:.2f} s"),
        ("first POST /api/makecalc/ through start-api", f"{api['first_s'] * 1000:.0f} ms"),
        (f"warm POST /api/makecalc/ through start-api, p50 of {WARM_REQUESTS}", f"{api['warm_p50_s'] * 1000:.1f} ms"),
    ]  # fmt: skip
    table = "| | p50 (min-max) |\n| --- | --- |\n" + "".join(f"| {name} | {value} |\n" for name, value in rows)
    return (
        f"{LOCAL_SECTION}\n\n"
        f"Generated by `python benchmarks/local_loop.py` (`make bench`) on {now}; {elapsed:.0f} s. "
        f"{INVOKE_RUNS} invokes as the project runs them (STS answered by moto_server), {PLAIN_RUNS} plain ones, "
        f"{NO_STS_RUNS} without STS; "
        f"load average {loads[0]} at the start, {loads[1]} at the end (2 CPUs; other work on the machine slows "
        "every figure here). The model is in a moto_server on this machine; the function runs in Docker from the "
        "local base image (`local-emulation/lambda-image.sh`).\n\n" + table
    )


def write_section(text: str) -> None:
    current = RESULTS.read_text() if RESULTS.exists() else ""
    kept = current.split(LOCAL_SECTION, 1)[0].rstrip("\n")
    RESULTS.write_text((kept + "\n\n" if kept else "") + text)


def main() -> int:
    started = time.perf_counter()
    loads = load_average()
    say("sam build")
    sam_local.build()
    with sam_local.moto_server() as moto_url:
        env = common.bench_env(moto_url)
        os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
        say("training and publishing the default model")
        S3Store(common.BUCKET).ensure_bucket()
        labelled = data.load(daily.SPEC, str(data.bundled(daily.SPEC)))
        common.put_in_place(publish.build(daily.SPEC, labelled, progress=lambda _: None), common.BUCKET)
        env_vars = sam_local.env_file(common.BUCKET, moto_url, sam_local.STATE / "bench-env.json")
        say("sam local invoke: the first (bakes the layers' image if they changed since the last bake)")
        first = invoke(env_vars, moto_url)
        fixed, plain, default, in_process = [], [], [], []
        for run in range(INVOKE_RUNS):
            say(f"sam local invoke {run + 1}/{INVOKE_RUNS}")
            fixed.append(invoke(env_vars, moto_url))
            in_process.append(in_process_cold_start(moto_url))
        for run in range(PLAIN_RUNS):
            say(f"plain sam local invoke (the template's layers) {run + 1}/{PLAIN_RUNS}")
            plain.append(invoke(env_vars, moto_url, plain=True))
        for run in range(NO_STS_RUNS):
            say(f"sam local invoke without STS {run + 1}/{NO_STS_RUNS}")
            default.append(invoke(env_vars, moto_url, sts=False))
        say("sam local start-api")
        api = start_api(env_vars, moto_url)
    elapsed = time.perf_counter() - started
    text = section(first, fixed, plain, default, in_process, api, elapsed, (loads, load_average()))
    write_section(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
