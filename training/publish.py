"""Train, evaluate and assemble one artifact (model file, manifest, model card, plot), then publish it."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bikecast import artifact, features
from bikecast.registry import MANIFEST_FILE, MODEL_FILE, ModelRegistry
from bikecast.trees import TREES_FILE, TREES_FORMAT, TreeEnsemble
from training import card, model
from training.data import TrainingData

Progress = Callable[[str], None]

FIELD_TYPES = {"dteday": "date", "temp": "number", "atemp": "number", "hum": "number", "windspeed": "number"}


@dataclass(frozen=True)
class Artifact:
    version: str
    manifest: dict[str, Any]
    files: dict[str, bytes]

    def write_to(self, directory: Path) -> Path:
        target = directory / self.version
        target.mkdir(parents=True, exist_ok=True)
        for name, body in self.files.items():
            (target / name).write_bytes(body)
        (target / MANIFEST_FILE).write_text(_json_text(self.manifest))
        return target


def input_schema(batch: features.Batch) -> dict[str, dict[str, Any]]:
    schema: dict[str, dict[str, Any]] = {}
    for name in features.INPUT_FIELDS:
        low, high = batch[name].min(), batch[name].max()
        if name == "dteday":
            shown: tuple[Any, Any] = (
                dt.date.fromordinal(int(low)).isoformat(),
                dt.date.fromordinal(int(high)).isoformat(),
            )
        else:
            shown = (float(low), float(high)) if FIELD_TYPES.get(name) == "number" else (int(low), int(high))
        schema[name] = {
            "type": FIELD_TYPES.get(name, "integer"),
            "required": name in features.REQUIRED_FIELDS,
            "min": shown[0],
            "max": shown[1],
        }
    return schema


def new_version(now: dt.datetime, model_sha256: str) -> str:
    """Sortable by time and unique even for two trainings of the same data in the same second:
    20261125T031500Z-1a2b3c4d-9f2e (time, model checksum, random)."""
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{model_sha256[:8]}-{secrets.token_hex(2)}"


def build(data: TrainingData, progress: Progress = print) -> Artifact:
    batch, target, days = data.batch, data.target, data.days
    evaluations = []
    for split in model.splits(days):
        progress(f"evaluating on the {split.name} holdout ({len(split.train)} train / {len(split.test)} test rows)")
        evaluation = model.evaluate(batch, target, split)
        progress(f"  model    {evaluation.model}")
        progress(f"  baseline {evaluation.baseline}")
        evaluations.append(evaluation)

    progress(f"refitting on all {len(target)} rows")
    pipeline = model.build_pipeline().fit(batch, target)
    model_bytes = artifact.dump_model(pipeline)
    model_sha256 = artifact.sha256_hex(model_bytes)
    now = dt.datetime.now(dt.UTC)
    version = new_version(now, model_sha256)

    files = {MODEL_FILE: model_bytes}
    serving = export_trees(pipeline, batch, files, progress)
    progress("writing the model card and plot")
    chronological = next((e for e in evaluations if e.split.name == "chronological"), evaluations[0])
    png = card.plot(chronological, days)
    if png is not None:
        files[card.PLOT_FILE] = png
    manifest: dict[str, Any] = {
        "version": version,
        "created_at": now.isoformat(timespec="seconds"),
        "model": {
            "file": MODEL_FILE,
            "sha256": model_sha256,
            "bytes": len(model_bytes),
            "estimator": type(pipeline.named_steps["model"]).__name__,
            "params": model.MODEL_PARAMS,
        },
        "features": list(features.FEATURE_NAMES),
        "serving": serving,
        "input_schema": input_schema(batch),
        "training_data": {
            "source": data.source,
            "sha256": data.sha256,
            "rows": len(target),
            "first_day": dt.date.fromordinal(int(days.min())).isoformat(),
            "last_day": dt.date.fromordinal(int(days.max())).isoformat(),
            "files": data.sources,
        },
        "metrics": {e.split.name: e.summary() for e in evaluations},
        "libraries": artifact.library_versions(),
        "plot": png is not None,
    }
    files[card.CARD_FILE] = card.markdown(manifest).encode()
    manifest["files"] = {name: artifact.sha256_hex(body) for name, body in files.items()}
    return Artifact(version, manifest, files)


MAX_SERVING_DIFF = 0.5  # rentals


def export_trees(pipeline: Any, batch: features.Batch, files: dict[str, bytes], progress: Progress) -> dict[str, Any]:
    """The fast serving format, published only if it agrees with the pipeline on every training row."""
    try:
        ensemble = TreeEnsemble.from_gradient_boosting(pipeline.named_steps["model"])
    except (AttributeError, ValueError) as error:  # not a gradient-boosting model, or trees too deep
        progress(f"no tree export ({error}); serving will use the joblib pipeline")
        return {"format": "joblib", "reason": f"no tree export for this model: {error}"}
    difference = float(np.max(np.abs(ensemble.predict(features.feature_matrix(batch)) - pipeline.predict(batch))))
    rows = len(batch["dteday"])
    if difference > MAX_SERVING_DIFF:
        progress(f"tree export differs by {difference:.3f} rentals; serving will use the joblib pipeline")
        return {"format": "joblib", "reason": f"tree export differs by {difference:.3f} > {MAX_SERVING_DIFF}"}
    data = ensemble.to_bytes()
    files[TREES_FILE] = data
    progress(f"tree export agrees with scikit-learn on {rows} rows (max difference {difference:.2g} rentals)")
    return {
        "format": TREES_FORMAT,
        "file": TREES_FILE,
        "sha256": artifact.sha256_hex(data),
        "max_abs_diff": difference,
        "rows_checked": rows,
    }


def publish(built: Artifact, registry: ModelRegistry, progress: Progress = print) -> None:
    progress(f"publishing {built.version} to s3://{registry.store.bucket}/{registry.key(built.version, '')}")
    registry.publish(built.version, built.files, built.manifest)
    registry.promote(built.version)
    progress(f"current model is now {built.version}")


def _json_text(value: Any) -> str:
    import json

    return json.dumps(value, indent=2, sort_keys=True) + "\n"
