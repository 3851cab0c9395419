"""The model card: a Markdown page in the spec's words, with plots of the chronological holdout (forecasts, the
calibrated interval, actual values) and of global importance (mean absolute contribution per input field), and the
breakdowns a spec calls for (an hourly model: per hour of day, and summed per day; notable days left out)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bikecast.scoring import Interval
from bikecast.spec import ModelSpec
from training.data import Labelled
from training.fit import Evaluation, Fitted, metrics, without_days

CARD_FILE = "model_card.md"
HOLDOUT_PLOT = "holdout.png"
IMPORTANCE_PLOT = "importance.png"
IMPORTANCE_ROWS = 2_000  # rows explained for global importance (a sample, fixed, of the training data)


def breakdowns(spec: ModelSpec, evaluation: Evaluation) -> dict[str, Any]:
    """Metrics without each set of notable days; with growth, if it were 5% off; for a spec keyed by time and
    something else (a day and an hour): per value of the other key field, and of the forecasts summed per time unit
    (daily sums of hourly forecasts)."""
    found: dict[str, Any] = {}
    actual, predicted = evaluation.actual, evaluation.predicted
    for name, dates in spec.card.notable_days.items():
        keep = without_days(evaluation, spec, dates)
        if keep is not None:
            found[f"without {name}"] = metrics(actual[keep], predicted[keep])
    growth = evaluation.fitted.growth
    if growth is not None:
        matrix = spec.features(evaluation.test.batch)
        steps = np.clip(matrix[:, growth.feature], growth.low, growth.high) - growth.low
        found["growth_sensitivity"] = {
            f"growth x{factor}": metrics(actual, predicted * factor**steps) for factor in (0.95, 1.05)
        }
    time, key = spec.data.time, spec.data.key
    others = [name for name in key if name != time]
    if time is None or not others:
        return found
    test = evaluation.test.batch
    values = test[others[0]]
    found[f"by_{others[0]}"] = {
        _label(v): metrics(actual[values == v], predicted[values == v]) for v in np.unique(values).tolist()
    }
    summed_actual, summed_predicted, keys = sums_by(test[time], actual, predicted)
    found[f"sum_by_{time}"] = metrics(summed_actual, summed_predicted) | {"groups": len(keys)}
    return found


def _label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def sums_by(
    groups: NDArray[Any], actual: NDArray[np.float64], predicted: NDArray[np.float64]
) -> tuple[NDArray[Any], ...]:
    keys, index = np.unique(groups, return_inverse=True)
    return np.bincount(index, actual), np.bincount(index, predicted), keys


def importance(spec: ModelSpec, fitted: Fitted, data: Labelled) -> dict[str, float]:
    """Mean absolute contribution of each input field to the raw output, over (a sample of) the training rows."""
    rows = np.random.default_rng(0).permutation(len(data))[:IMPORTANCE_ROWS]
    matrix = spec.features(data.subset(np.sort(rows)).batch)
    _, contributions = fitted.scorer().explain(matrix)
    found = {}
    for name, group in spec.explanation_groups():
        found[name] = round(float(np.mean(np.abs(contributions[:, group].sum(axis=1)))), 6)
    return dict(sorted(found.items(), key=lambda item: -item[1]))


def plots(spec: ModelSpec, evaluation: Evaluation | None, interval: Interval | None) -> dict[str, bytes]:
    """The PNGs, or none where matplotlib is not installed (the TrainFunction's layers leave it out: 40 MB)."""
    if evaluation is None:
        return {}
    try:
        import matplotlib
    except ImportError:
        return {}
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    time = spec.data.time
    figure, axes = plt.subplots(1, 2 if time else 1, figsize=(13 if time else 5, 4.8), squeeze=False)
    scatter = axes[0, -1]
    actual, predicted = evaluation.actual, evaluation.predicted
    if time is not None:
        series = axes[0, 0]
        summed_actual, summed_predicted, keys = sums_by(evaluation.test.batch[time], actual, predicted)
        dates = np.array([dt.date.fromordinal(int(k)) for k in keys], dtype="datetime64[D]")
        one_row_each = len(keys) == len(actual)
        if interval is not None and one_row_each:
            order = np.argsort(evaluation.test.batch[time])
            low, high = spec.answer.bounds(*interval.around(predicted, spec.features(evaluation.test.batch)))
            series.fill_between(dates, np.array(low)[order], np.array(high)[order], color="#1f77b4", alpha=0.18,
                                label=f"{interval.level:.0%} interval", linewidth=0)  # fmt: skip
        series.plot(dates, summed_actual, label="actual", color="#333333", linewidth=1.4)
        series.plot(dates, summed_predicted, label="forecast", color="#1f77b4", linewidth=1.4)
        for name, days in spec.card.notable_days.items():
            for day in days:
                series.axvline(np.datetime64(day), color="#d62728", linestyle=":", linewidth=1)
            series.text(np.datetime64(days[0]), series.get_ylim()[1] * 0.97, f" {name}", color="#d62728", fontsize=8)
        series.set_title(f"{spec.card.title}, holdout {evaluation.split.description}", fontsize=10)
        series.set_ylabel(spec.card.unit if one_row_each else f"{spec.answer.unit}, summed per {time}")
        series.legend(loc="lower left", fontsize=8)
        series.tick_params(axis="x", rotation=30)
    top = float(max(actual.max(), predicted.max())) * 1.05
    low_end = float(min(actual.min(), predicted.min(), 0.0))
    scatter.scatter(actual, predicted, s=8 if len(actual) > 500 else 12, alpha=0.5, color="#1f77b4")
    scatter.plot([low_end, top], [low_end, top], color="#999999", linestyle="--", linewidth=1)
    scatter.set_xlim(low_end, top)
    scatter.set_ylim(low_end, top)
    scatter.set_xlabel("actual")
    scatter.set_ylabel("forecast")
    r2 = evaluation.model["r2"]
    scatter.set_title(f"RMSE {evaluation.model['rmse']:.0f}, R² {'n/a' if r2 is None else f'{r2:.2f}'}", fontsize=10)
    figure.tight_layout()
    found = {HOLDOUT_PLOT: _png(figure, plt)}
    return found


def importance_plot(spec: ModelSpec, ranked: dict[str, float]) -> dict[str, bytes]:
    try:
        import matplotlib
    except ImportError:
        return {}
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 0.35 * len(ranked) + 1.2))
    names = list(ranked)[::-1]
    axis.barh(names, [ranked[name] for name in names], color="#1f77b4")
    axis.set_xlabel("mean |contribution| to the model's output (log space for a log target)")
    axis.set_title(f"{spec.card.title}: what drives the forecasts", fontsize=10)
    figure.tight_layout()
    return {IMPORTANCE_PLOT: _png(figure, plt)}


def _png(figure: Any, plt: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def _number(value: Any, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _scores(m: dict[str, Any]) -> str:
    return f"RMSE {_number(m['rmse'])}, MAE {_number(m['mae'])}, R² {_number(m['r2'], 3)}"


def markdown(spec: ModelSpec, manifest: dict[str, Any]) -> str:
    training = manifest["training_data"]
    span = f", {training['first_day']} .. {training['last_day']}" if "first_day" in training else ""
    lines = [
        f"# {spec.card.title}: model {manifest['version']}",
        "",
        spec.card.about,
        "",
        f"Created {manifest['created_at']} from `{training['source']}` ({training['rows']} rows{span}, "
        f"sha256 `{training['sha256'][:16]}…`).",
        "",
        f"Model: {manifest['model']['estimator']} ({manifest['model']['target']} target) on features "
        f"{', '.join(manifest['features'])}; refitted on all rows after evaluation. Compared with "
        f"{manifest['baseline']}.",
        "",
        f"## Holdout metrics ({spec.card.unit})",
        "",
        "| holdout | rows (train/test) | RMSE | MAE | R² | baseline RMSE | baseline MAE | baseline R² |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, result in manifest["metrics"].items():
        m, b = result["model"], result["baseline"]
        lines.append(
            f"| {name}: {result['description']} | {result['train_rows']}/{result['test_rows']} | "
            f"{_number(m['rmse'])} | {_number(m['mae'])} | {_number(m['r2'], 3)} | {_number(b['rmse'])} | "
            f"{_number(b['mae'])} | {_number(b['r2'], 3)} |"
        )
    for name, result in manifest["metrics"].items():
        for key, value in result.items():
            if key.startswith("without "):
                lines += ["", f"{name}, {key}: {_scores(value)}."]
            elif key.startswith("sum_by_"):
                unit = key.removeprefix("sum_by_")
                lines += ["", f"{name}, forecasts summed per {unit} ({value['groups']} groups): {_scores(value)}."]
            elif key.startswith("by_"):
                lines += ["", f"{name}, per {key.removeprefix('by_')}:", "", "| value | RMSE | MAE | R² |"]
                lines += ["| --- | --- | --- | --- |"]
                for group, m in value.items():
                    lines.append(f"| {group} | {_number(m['rmse'])} | {_number(m['mae'])} | {_number(m['r2'], 3)} |")
    plots = manifest.get("plots", [])
    lines += [
        "",
        f"![forecast vs actual on the chronological holdout]({HOLDOUT_PLOT})" if HOLDOUT_PLOT in plots else "",
    ]
    coverage = manifest.get("coverage") or {}
    if coverage:
        lines += [
            "",
            "## Intervals",
            "",
            f"Every forecast comes with a {coverage['level']:.0%} interval, calibrated on data before the "
            f"{coverage['holdout']} holdout (split-conformal quantiles of forward errors, widening with the square "
            f"root of the forecast). On that holdout it held the actual value {coverage['coverage']:.1%} of the "
            f"time, {coverage['mean_width']:.0f} {spec.answer.unit} wide on average.",
        ]
        for key, value in coverage.items():
            if key.startswith("without "):
                lines.append(f"{key.capitalize()}: {value['coverage']:.1%}, {value['mean_width']:.0f} wide.")
    growth = manifest["model"].get("growth")
    if growth:
        sensitivity = manifest["metrics"].get("chronological", {}).get("growth_sensitivity", {})
        shown = "; ".join(f"{name}: {_scores(m)}" for name, m in sensitivity.items())
        lines += [
            "",
            "## Growth",
            "",
            f"Demand grows along `{growth['feature']}`: a tree cannot carry growth forward, so it is a separate term,"
            f" constant in {spec.answer.unit} per day between the first and last {growth['feature']} in the training"
            f" data and expressed per `{growth['by']}` (a factor on each level; see `model.growth.table`, in log"
            " space). "
            f"Past the last {growth['feature']} seen in training the growth is held, not extrapolated: a forecast for"
            " a later year assumes the last year's level, and says so in its warnings.",
            "",
            f"Sensitivity, chronological holdout forecasts if the growth were 5% lower or higher: {shown}.",
        ]
    ranked = manifest.get("importance") or {}
    if ranked:
        lines += ["", "## What drives the forecasts", ""]
        lines += [
            "Mean absolute contribution to the model's output (exact Shapley values; log space for a log target),"
        ]
        lines += ["over training rows:", "", "| field | mean abs. contribution |", "| --- | --- |"]
        lines += [f"| {name} | {value:.4f} |" for name, value in ranked.items()]
        if IMPORTANCE_PLOT in plots:
            lines += ["", f"![global importance]({IMPORTANCE_PLOT})"]
    lines += [
        "",
        "## Input schema (ranges seen in training; values outside them are forecast with a warning)",
        "",
        "| field | type | required | min | max | meaning |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, entry in manifest["input_schema"].items():
        lines.append(
            f"| {name} | {entry['type']} | {'yes' if entry['required'] else 'no'} | {entry['min']} | {entry['max']} | "
            f"{entry.get('description', '')} |"
        )
    lines += ["", "## Limits", ""]
    lines += [f"- {limit}" for limit in spec.card.limits]
    lines += ["- Libraries: " + ", ".join(f"{k} {v}" for k, v in manifest["libraries"].items()) + ".", ""]
    return "\n".join(lines)
