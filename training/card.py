"""The model card: a Markdown page in the spec's words, with plots of the chronological holdout, and the
breakdowns a spec's key calls for (an hourly model: per hour of day, and summed per day)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bikecast.spec import ModelSpec
from training.fit import Evaluation, metrics

CARD_FILE = "model_card.md"
HOLDOUT_PLOT = "holdout.png"


def breakdowns(spec: ModelSpec, evaluation: Evaluation) -> dict[str, Any]:
    """For a spec keyed by time and something else (a day and an hour): metrics per value of the other key field,
    and of the forecasts summed per time unit (daily sums of hourly forecasts)."""
    time, key = spec.data.time, spec.data.key
    others = [name for name in key if name != time]
    if time is None or not others:
        return {}
    test = evaluation.test.batch
    found: dict[str, Any] = {}
    by = others[0]
    values = test[by]
    found[f"by_{by}"] = {
        str(int(v) if float(v).is_integer() else v): metrics(
            evaluation.actual[values == v], evaluation.predicted[values == v]
        )
        for v in np.unique(values)
    }
    actual, predicted, _ = sums_by(test[time], evaluation.actual, evaluation.predicted)
    found[f"sum_by_{time}"] = metrics(actual, predicted) | {"groups": len(actual)}
    return found


def sums_by(
    groups: NDArray[Any], actual: NDArray[np.float64], predicted: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[Any]]:
    keys, index = np.unique(groups, return_inverse=True)
    return np.bincount(index, actual), np.bincount(index, predicted), keys


def plots(spec: ModelSpec, evaluation: Evaluation | None) -> dict[str, bytes]:
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
    figure, axes = plt.subplots(1, 2 if time else 1, figsize=(12 if time else 5, 4.5), squeeze=False)
    scatter = axes[0, -1]
    actual, predicted = evaluation.actual, evaluation.predicted
    if time is not None:
        series = axes[0, 0]
        summed_actual, summed_predicted, keys = sums_by(evaluation.test.batch[time], actual, predicted)
        dates = np.array([dt.date.fromordinal(int(k)) for k in keys], dtype="datetime64[D]")
        series.plot(dates, summed_actual, label="actual", color="#333333", linewidth=1.5)
        series.plot(dates, summed_predicted, label="forecast", color="#1f77b4", linewidth=1.5)
        series.set_title(f"{spec.card.title}, holdout {evaluation.split.description}")
        series.set_ylabel(spec.card.unit if len(keys) == len(actual) else f"{spec.answer.unit} per {time}, summed")
        series.legend()
        series.tick_params(axis="x", rotation=30)
    top = float(max(actual.max(), predicted.max())) * 1.05
    low = float(min(actual.min(), predicted.min(), 0.0))
    scatter.scatter(actual, predicted, s=8 if len(actual) > 500 else 12, alpha=0.5, color="#1f77b4")
    scatter.plot([low, top], [low, top], color="#999999", linestyle="--", linewidth=1)
    scatter.set_xlim(low, top)
    scatter.set_ylim(low, top)
    scatter.set_xlabel("actual")
    scatter.set_ylabel("forecast")
    r2 = evaluation.model["r2"]
    scatter.set_title(f"RMSE {evaluation.model['rmse']:.0f}, R² {'n/a' if r2 is None else f'{r2:.2f}'}")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return {HOLDOUT_PLOT: buffer.getvalue()}


def _number(value: Any, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


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
            if key.startswith("sum_by_"):
                unit = key.removeprefix("sum_by_")
                scores = f"RMSE {_number(value['rmse'])}, MAE {_number(value['mae'])}, R² {_number(value['r2'], 3)}"
                lines += ["", f"{name}, forecasts summed per {unit} ({value['groups']} groups): {scores}."]
            elif key.startswith("by_"):
                lines += ["", f"{name}, per {key.removeprefix('by_')}:", "", "| value | RMSE | MAE | R² |"]
                lines += ["| --- | --- | --- | --- |"]
                for group, m in value.items():
                    lines.append(f"| {group} | {_number(m['rmse'])} | {_number(m['mae'])} | {_number(m['r2'], 3)} |")
    plotted = HOLDOUT_PLOT in manifest.get("plots", [])
    lines += [
        "",
        f"![forecast vs actual on the chronological holdout]({HOLDOUT_PLOT})" if plotted else "(plots not rendered)",
        "",
        "## Input schema (ranges seen in training; values outside them are forecast with a warning)",
        "",
        "| field | type | required | min | max | meaning |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, field in manifest["input_schema"].items():
        lines.append(
            f"| {name} | {field['type']} | {'yes' if field['required'] else 'no'} | {field['min']} | {field['max']} | "
            f"{field.get('description', '')} |"
        )
    lines += ["", "## Limits", ""]
    lines += [f"- {limit}" for limit in spec.card.limits]
    lines += ["- Libraries: " + ", ".join(f"{k} {v}" for k, v in manifest["libraries"].items()) + ".", ""]
    return "\n".join(lines)
