"""Timing of feature contributions (bikecast.explain): `python benchmarks/explain_bench.py [daily|hourly]`.

Fits a model spec's recipe (``training.fit.fit``; the daily model by default: 300 trees of depth 3) on its bundled
data, then prints p50 timings of ``TreeExplainer.contributions`` for 1, 100, 1,000 and 10,000 rows next to
``TreeEnsemble.predict`` on the same rows, the explainer's build time, the largest additivity error (trees only:
the growth term outside them is explained in closed form by ``bikecast.scoring``) and the peak memory of
explaining 10,000 rows. Asserts nothing; every timing loop is bounded in count and in time. The handler's cost of
explanations, end to end, is in run.py's section 1.3.
"""

from __future__ import annotations

import functools
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
for root in (REPO, REPO / "layers" / "shared"):  # this checkout's bikecast and training, not installed ones
    sys.path.insert(0, str(root))

import numpy as np  # noqa: E402

import bikecast  # noqa: E402, F401  (sets OMP_NUM_THREADS=1 before scikit-learn loads)
from bikecast.spec import load_specs  # noqa: E402
from training import data, fit  # noqa: E402

# (rows, repetitions, seconds at most) per batch size
PLAN = ((1, 2000, 10.0), (100, 300, 10.0), (1_000, 60, 15.0), (10_000, 10, 20.0))
BUILDS = 7
WIDTHS = (6, 17, 9, 11, 22)


def p50_ms(call: Callable[[], object], repetitions: int, budget_s: float) -> float:
    call()  # warm-up
    times: list[float] = []
    deadline = time.perf_counter() + budget_s
    for _ in range(repetitions):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
        if time.perf_counter() > deadline:
            break
    return statistics.median(times)


def main() -> None:
    spec = load_specs()[sys.argv[1] if len(sys.argv) > 1 else "daily"]
    training = data.load(spec, str(data.bundled(spec)))
    fitted = fit.fit(spec, training)
    regressor = fitted.estimator
    matrix = spec.features(training.batch)

    build_ms = []
    for _ in range(BUILDS):
        start = time.perf_counter()
        explainer = fitted.scorer().trees.explainer()
        build_ms.append((time.perf_counter() - start) * 1000)
    ensemble = fitted.scorer().trees
    kernel = type(explainer._kernel).__name__
    shape = f"max_depth {regressor.max_depth}" if regressor.max_depth else f"max_leaf_nodes {regressor.max_leaf_nodes}"
    print(f"{spec.name} model: {len(regressor.estimators_)} trees, {shape}, {matrix.shape[1]} features")
    print(f"explainer build (Fitted.scorer().trees.explainer()): p50 {statistics.median(build_ms):.1f} ms; {kernel}")
    print()
    header = ("rows", "contributions p50", "per row", "predict p50", "max |additivity error|")
    print(" | ".join(f"{name:>{width}}" for name, width in zip(header, WIDTHS, strict=True)))
    rng = np.random.default_rng(0)
    for rows, repetitions, budget_s in PLAN:
        batch = matrix[rng.integers(0, len(matrix), rows)]
        explain_ms = p50_ms(functools.partial(explainer.contributions, batch), repetitions, budget_s)
        predict_ms = p50_ms(functools.partial(ensemble.predict, batch), repetitions, budget_s)
        total = explainer.baseline + explainer.contributions(batch).sum(axis=1)
        error = float(np.max(np.abs(total - ensemble.predict(batch))))
        cells = (
            f"{rows}",
            f"{explain_ms:.3f} ms",
            f"{explain_ms / rows:.4f} ms",
            f"{predict_ms:.3f} ms",
            f"{error:.2e}",
        )
        print(" | ".join(f"{cell:>{width}}" for cell, width in zip(cells, WIDTHS, strict=True)))
    batch = matrix[rng.integers(0, len(matrix), 10_000)]
    tracemalloc.start()
    explainer.contributions(batch)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"\npeak memory traced while explaining 10,000 rows: {peak / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
