"""Actual vs expected error: how the serving model does on newly uploaded rows, against what its manifest promised."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bikecast.registry import to_json
from bikecast.serving import ServingModel
from bikecast.store import S3Store
from training.data import Labelled
from training.fit import day_text, metrics


def promised(manifest: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The holdout error the manifest promised: the chronological one (future days) when there is one."""
    recorded = manifest.get("metrics")
    for holdout in ("chronological", "random_80_20"):
        if isinstance(recorded, dict) and isinstance(recorded.get(holdout), dict):
            return holdout, recorded[holdout]["model"]
    raise KeyError("the manifest holds no holdout metrics")


def report(current: ServingModel, upload: Labelled, threshold: float) -> dict[str, Any]:
    actual = metrics(upload.target, current.predict(upload.batch))
    holdout, expected = promised(current.manifest)
    expected_mae = expected.get("mae") or 0
    ratio = actual["mae"] / expected_mae if expected_mae and actual["mae"] is not None else None
    days = upload.days
    return {
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model": current.spec.name,
        "upload": upload.source,
        "rows_scored": len(upload),
        "days": [day_text(int(days.min())), day_text(int(days.max()))] if days is not None and len(days) else [],
        "model_version": current.version,
        "actual": actual,
        "expected": {"holdout": holdout, **expected},
        "mae_ratio": None if ratio is None else round(ratio, 3),
        "threshold": threshold,
        "drifted": ratio is not None and ratio > threshold,
    }


def save(store: S3Store, drift: dict[str, Any], prefix: str) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    key = f"{prefix}drift/{stamp}.json"
    store.put_new(key, to_json(drift), "application/json")
    return key


def latest(store: S3Store, prefix: str) -> dict[str, Any] | None:
    import json

    keys = sorted(store.keys(f"{prefix}drift/"))
    if not keys:
        return None
    found: dict[str, Any] = json.loads(store.get(keys[-1]).body)
    return found
