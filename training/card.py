"""The model card: a Markdown page and a PNG of predicted vs actual rentals on the chronological holdout."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import numpy as np

from training.model import Evaluation

PLOT_FILE = "holdout.png"
CARD_FILE = "model_card.md"


def plot(evaluation: Evaluation, days: np.ndarray[Any, Any]) -> bytes | None:
    """The PNG, or None where matplotlib is not installed (the TrainFunction's layers leave it out: 40 MB)."""
    try:
        import matplotlib
    except ImportError:
        return None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dates = np.array([dt.date.fromordinal(int(d)) for d in days[evaluation.split.test]], dtype="datetime64[D]")
    order = np.argsort(dates)
    figure, (series, scatter) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [2, 1]})
    series.plot(dates[order], evaluation.actual[order], label="actual", color="#333333", linewidth=1.5)
    series.plot(dates[order], evaluation.predicted[order], label="forecast", color="#1f77b4", linewidth=1.5)
    series.set_title(f"Daily rentals, holdout {evaluation.split.description}")
    series.set_ylabel("rentals per day")
    series.legend()
    series.tick_params(axis="x", rotation=30)
    top = float(max(evaluation.actual.max(), evaluation.predicted.max())) * 1.05
    scatter.scatter(evaluation.actual, evaluation.predicted, s=12, alpha=0.7, color="#1f77b4")
    scatter.plot([0, top], [0, top], color="#999999", linestyle="--", linewidth=1)
    scatter.set_xlim(0, top)
    scatter.set_ylim(0, top)
    scatter.set_xlabel("actual")
    scatter.set_ylabel("forecast")
    scatter.set_title(f"RMSE {evaluation.model['rmse']:.0f}, R² {evaluation.model['r2']:.2f}")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def markdown(manifest: dict[str, Any]) -> str:
    lines = [
        f"# bikecast model {manifest['version']}",
        "",
        f"Created {manifest['created_at']} from `{manifest['training_data']['source']}` "
        f"({manifest['training_data']['rows']} days, {manifest['training_data']['first_day']} .. "
        f"{manifest['training_data']['last_day']}, sha256 `{manifest['training_data']['sha256'][:16]}…`).",
        "",
        f"Model: {manifest['model']['estimator']} on features {', '.join(manifest['features'])}; "
        "refitted on all rows after evaluation.",
        "",
        "## Holdout metrics (model vs the seed's random forest)",
        "",
        "| holdout | rows (train/test) | RMSE | MAE | R² | baseline RMSE | baseline MAE | baseline R² |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, result in manifest["metrics"].items():
        m, b = result["model"], result["baseline"]
        lines.append(
            f"| {name}: {result['description']} | {result['train_rows']}/{result['test_rows']} | "
            f"{m['rmse']:.0f} | {m['mae']:.0f} | {m['r2']:.3f} | {b['rmse']:.0f} | {b['mae']:.0f} | {b['r2']:.3f} |"
        )
    plotted = manifest.get("plot", False)
    lines += [
        "",
        f"![predicted vs actual on the chronological holdout]({PLOT_FILE})" if plotted else "(plot not rendered)",
        "",
        "## Input schema (ranges seen in training; values outside them are forecast with a warning)",
        "",
        "| field | type | required | min | max |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, spec in manifest["input_schema"].items():
        lines.append(
            f"| {name} | {spec['type']} | {'yes' if spec['required'] else 'no'} | {spec['min']} | {spec['max']} |"
        )
    lines += [
        "",
        "## Limits",
        "",
        "- Trained on two years of one city (Washington D.C., 2011–2012); demand grew strongly between them, and a",
        "  tree model does not extrapolate that growth to later years.",
        "- Libraries: " + ", ".join(f"{k} {v}" for k, v in manifest["libraries"].items()) + ".",
        "",
    ]
    return "\n".join(lines)
