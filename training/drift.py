"""Actual vs expected error: how the serving model does on newly uploaded days, against what its manifest promised."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from bikecast.serving import ServingModel
from bikecast.store import S3Store
from training.data import LabelledObservation, TrainingData
from training.model import metrics

REPORTS_PREFIX = "reports/"


@dataclass(frozen=True)
class DriftSettings:
    # The shift is flagged when the actual MAE exceeds the promised one by more than this factor.
    threshold: float = 1.5


def promised(manifest: dict[str, Any]) -> tuple[str, dict[str, float]]:
    """The holdout error the manifest promised: the chronological one (future days) when there is one."""
    for holdout in ("chronological", "random_80_20"):
        if holdout in manifest.get("metrics", {}):
            return holdout, manifest["metrics"][holdout]["model"]
    raise KeyError("the manifest holds no holdout metrics")


def report(
    current: ServingModel, upload_key: str, rows: list[LabelledObservation], settings: DriftSettings
) -> dict[str, Any]:
    scored = TrainingData(upload_key, "", rows)
    actual = metrics(scored.target, current.predict(scored.batch))
    holdout, expected = promised(current.manifest)
    ratio = actual["mae"] / expected["mae"] if expected["mae"] else float("inf")
    return {
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "upload": upload_key,
        "rows_scored": len(rows),
        "days": [rows[0].dteday.isoformat(), rows[-1].dteday.isoformat()] if rows else [],
        "model_version": current.version,
        "actual": actual,
        "expected": {"holdout": holdout, **expected},
        "mae_ratio": round(ratio, 3),
        "rmse_ratio": round(actual["rmse"] / expected["rmse"], 3) if expected["rmse"] else None,
        "threshold": settings.threshold,
        "drifted": ratio > settings.threshold,
    }


def save(store: S3Store, drift: dict[str, Any], prefix: str = REPORTS_PREFIX) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    key = f"{prefix}drift/{stamp}.json"
    store.put_new(key, json.dumps(drift, indent=2).encode(), "application/json")
    return key


def latest(store: S3Store, prefix: str = REPORTS_PREFIX) -> dict[str, Any] | None:
    keys = sorted(store.keys(f"{prefix}drift/"))
    if not keys:
        return None
    found: dict[str, Any] = json.loads(store.get(keys[-1]).body)
    return found
