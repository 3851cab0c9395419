"""Retraining on upload: what the TrainFunction does for each new CSV under the training-data prefix.

validate the upload (reject it whole, with a report, if any row is bad) -> drift report of the serving model on
the uploaded days -> train on the union of all uploads -> quality gate -> publish, and promote if better.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bikecast.registry import ModelRegistry
from bikecast.store import ObjectMissing, S3Store
from training import dataset, drift, promotion, publish
from training.data import DataRejected

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RetrainSettings:
    training_prefix: str = dataset.TRAINING_PREFIX
    reports_prefix: str = drift.REPORTS_PREFIX
    gate: promotion.GateSettings = field(default_factory=promotion.GateSettings)
    drift: drift.DriftSettings = field(default_factory=drift.DriftSettings)


def on_upload(
    store: S3Store, registry: ModelRegistry, key: str, settings: RetrainSettings, progress: Progress
) -> dict[str, Any]:
    if not dataset.is_training_upload(key, settings.training_prefix):
        progress(f"ignored {key}: not a .csv under {settings.training_prefix}")
        return {"status": "ignored", "key": key}
    info = next((i for i in store.objects(key) if i.key == key), None)
    if info is None:
        raise ObjectMissing(f"s3://{store.bucket}/{key} is gone")
    try:
        upload = dataset.read_upload(store, info)
    except DataRejected as rejection:
        report_key = save_rejection(store, key, rejection, settings.reports_prefix)
        progress(f"rejected {key}; nothing changed. Report: s3://{store.bucket}/{report_key}\n{rejection}")
        return {"status": "rejected", "key": key, "report": report_key, "problems": rejection.problems[:20]}
    progress(f"{key}: {len(upload.rows)} valid rows")

    _, current = promotion.current_model(registry)
    outcome: dict[str, Any] = {"status": "trained", "key": key}
    if current is not None:
        report = drift.report(current, upload.key, upload.rows, settings.drift)
        outcome["drift"] = report
        outcome["drift_report"] = drift.save(store, report, settings.reports_prefix)
        progress(
            f"drift: serving model {current.version} has MAE {report['actual']['mae']:.0f} on the upload, "
            f"promised {report['expected']['mae']:.0f} ({report['mae_ratio']:.2f}x; drifted={report['drifted']})"
        )

    found, rejected = dataset.uploads(store, settings.training_prefix)
    for old in rejected:
        progress(f"left out of training (rejected earlier): {old.source}")
    data = dataset.training_set(store, found, settings.training_prefix)
    progress(f"training set: {len(data.rows)} days from {len(found)} file(s)")
    built = publish.build(data, progress)
    verdict = promotion.publish_gated(built, data, registry, settings.gate, progress)
    return outcome | {"version": built.version, "promoted": verdict["promote"], "reason": verdict["reason"]}


def save_rejection(store: S3Store, key: str, rejection: DataRejected, prefix: str) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    report_key = f"{prefix}rejected/{stamp}-{key.rsplit('/', 1)[-1]}.json"
    body = {"file": rejection.source, "rejected_at": stamp, "problems": rejection.problems}
    store.put_new(report_key, json.dumps(body, indent=2).encode(), "application/json")
    return report_key
