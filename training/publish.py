"""Train, evaluate and assemble one artifact: the fitted model, its serving format (checked against it on every
training row), the manifest, the model card and its plots."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bikecast import artifact, rows
from bikecast.registry import MANIFEST_FILE, MODEL_FILE, finite
from bikecast.scoring import Scorer, ServingInvalid
from bikecast.spec import ModelSpec
from bikecast.trees import TREES_FILE, TREES_FORMAT, TreesInvalid
from training import card, fit
from training.data import Labelled

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Artifact:
    spec: ModelSpec
    version: str
    manifest: dict[str, Any]
    files: dict[str, bytes]
    data: Labelled

    def write_to(self, directory: Path) -> Path:
        target = directory / self.spec.name / self.version
        target.mkdir(parents=True, exist_ok=True)
        for name, body in self.files.items():
            (target / name).write_bytes(body)
        (target / MANIFEST_FILE).write_text(json.dumps(finite(self.manifest), indent=2, sort_keys=True) + "\n")
        return target


def input_schema(spec: ModelSpec, data: Labelled) -> dict[str, dict[str, Any]]:
    """Each input field: its type, whether required, the range seen in training, what it means."""
    described = rows.json_schema_fields(spec.row)
    schema: dict[str, dict[str, Any]] = {}
    for rule in rows.rules(spec.row):
        column = data.batch[rule.name]
        low, high = float(np.nanmin(column)), float(np.nanmax(column))
        if rule.kind == "date":
            shown: tuple[Any, Any] = (
                dt.date.fromordinal(int(low)).isoformat(),
                dt.date.fromordinal(int(high)).isoformat(),
            )
        elif rule.kind == "integer":
            shown = (int(low), int(high))
        else:
            shown = (low, high)
        schema[rule.name] = {
            "type": rule.kind,
            "required": rule.required,
            "min": shown[0],
            "max": shown[1],
            "description": described.get(rule.name, {}).get("description", ""),
        }
    return schema


def new_version(now: dt.datetime, model_sha256: str) -> str:
    """Sortable by time and unique even for two trainings of the same data in the same second:
    20261125T031500Z-1a2b3c4d-9f2e (time, model checksum, random)."""
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{model_sha256[:8]}-{secrets.token_hex(2)}"


def build(spec: ModelSpec, data: Labelled, progress: Progress = print) -> Artifact:
    evaluations = []
    for split in fit.splits(spec, data):
        progress(f"evaluating on the {split.name} holdout ({len(split.train)} train / {len(split.test)} test rows)")
        evaluation = fit.evaluate(spec, data, split)
        progress(f"  model    {evaluation.model}")
        progress(f"  baseline {evaluation.baseline}")
        evaluations.append(evaluation)
    first = evaluations[0] if evaluations else None
    judged_by, published, judged = fit.calibrate(spec, data, first, progress)
    coverage = judge_coverage(spec, judged, judged_by)
    if coverage:
        progress(f"interval coverage on the {coverage['holdout']} holdout: {coverage['coverage']:.3f} "
                 f"(mean width {coverage['mean_width']:.0f}, level {coverage['level']})")  # fmt: skip

    progress(f"refitting on all {len(data)} rows")
    fitted = fit.fit(spec, data)
    fitted.interval = published
    model_bytes = artifact.dump_model(fitted)
    model_sha256 = artifact.sha256_hex(model_bytes)
    now = dt.datetime.now(dt.UTC)
    version = new_version(now, model_sha256)

    files = {MODEL_FILE: model_bytes}
    serving = export(spec, fitted, data, files, progress)
    if serving["format"] == TREES_FORMAT and evaluations:
        serving["residual_scale"] = residual_scale(spec, evaluations)
    progress("writing the model card and plots")
    ranked = card.importance(spec, fitted, data) if serving["format"] == TREES_FORMAT else {}
    plots = card.plots(spec, first, judged_by) | (card.importance_plot(spec, ranked) if ranked else {})
    files |= plots
    days = data.days
    manifest: dict[str, Any] = {
        "model_name": spec.name,
        "version": version,
        "created_at": now.isoformat(timespec="seconds"),
        "model": {
            "file": MODEL_FILE,
            "sha256": model_sha256,
            "bytes": len(model_bytes),
            "estimator": type(fitted.estimator).__name__,
            "params": dict(spec.recipe.params),
            "target": spec.recipe.target,
            "growth": None if fitted.growth is None else fitted.growth.as_dict(spec.feature_names),
        },
        "features": list(spec.feature_names),
        "serving": serving,
        "input_schema": input_schema(spec, data),
        "training_data": {
            "source": data.source,
            "sha256": data.sha256,
            "rows": len(data),
            **(
                {"first_day": fit.day_text(int(days.min())), "last_day": fit.day_text(int(days.max()))}
                if days is not None
                else {}
            ),
            "files": data.sources,
        },
        "metrics": {e.split.name: e.summary() | card.breakdowns(spec, e) for e in evaluations},
        "coverage": coverage,
        "baseline": spec.recipe.baseline_name,
        "libraries": artifact.library_versions(),
        "plots": sorted(plots),
        "importance": ranked,
    }
    files[card.CARD_FILE] = card.markdown(spec, manifest).encode()
    manifest["files"] = {name: artifact.sha256_hex(body) for name, body in files.items()}
    return Artifact(spec, version, finite(manifest), files, data)


def judge_coverage(spec: ModelSpec, judged: fit.Evaluation | None, interval: Any) -> dict[str, Any]:
    """Coverage and width of the interval on the holdout it was calibrated before, with each notable set of days
    left out too."""
    if judged is None:
        return {}
    matrix = spec.features(judged.test.batch)
    found = fit.coverage(interval, judged.actual, judged.predicted, matrix, spec)
    found |= {
        "holdout": judged.split.name,
        "level": spec.recipe.interval_level,
        "calibration": interval.as_dict(spec.feature_names),
    }
    for name, dates in spec.card.notable_days.items():
        keep = fit.without_days(judged, spec, dates)
        if keep is not None:
            found[f"without {name}"] = fit.coverage(
                interval, judged.actual[keep], judged.predicted[keep], matrix[keep], spec
            )
    return found


def residual_scale(spec: ModelSpec, evaluations: list[fit.Evaluation]) -> float:
    """The typical error in the raw output space: the median absolute residual on the first holdout
    (chronological when there is one). Uploads' labels are judged in this unit (``training.labels``)."""
    first = evaluations[0]
    residuals = fit.to_raw(first.actual, spec.recipe.target) - fit.to_raw(first.predicted, spec.recipe.target)
    return max(float(np.median(np.abs(residuals))), 1e-9)


def export(
    spec: ModelSpec, fitted: fit.Fitted, data: Labelled, files: dict[str, bytes], progress: Progress
) -> dict[str, Any]:
    """The serving format, published only if the predict function's own loader accepts it and it agrees with
    the fitted model on every training row."""
    try:
        scorer = fitted.scorer()
        tree_file = scorer.trees.to_bytes()
        serving: dict[str, Any] = {
            "format": TREES_FORMAT,
            "file": TREES_FILE,
            "sha256": artifact.sha256_hex(tree_file),
            "features": list(spec.feature_names),
            "n_features": len(spec.feature_names),
            "transform": scorer.transform,
            "linear": [term.as_dict(spec.feature_names) for term in scorer.linear],
            "interval": None if scorer.interval is None else scorer.interval.as_dict(spec.feature_names),
        }
        loaded = Scorer.load(serving, tree_file, spec.computable)
    except (TreesInvalid, ServingInvalid, ValueError) as error:
        progress(f"no serving format ({error}); this version cannot serve")
        return {"format": "none", "reason": f"no serving format for this model: {error}"}
    matrix = spec.features(data.batch)
    ours, theirs = loaded.values(loaded.raw(matrix)), fitted.predict(data.batch)
    difference = float(np.max(np.abs(ours - theirs)))
    allowed = 1e-6 * max(1.0, float(np.max(np.abs(theirs))))
    if not difference <= allowed:  # NaN fails too
        progress(f"the serving format differs from the model by {difference:.3g}; this version cannot serve")
        return {"format": "none", "reason": f"the serving format differs by {difference:.3g} > {allowed:.3g}"}
    files[TREES_FILE] = tree_file
    progress(f"serving format agrees with scikit-learn on {len(data)} rows (max difference {difference:.2g})")
    return serving | {"max_abs_diff": difference, "rows_checked": len(data)}
