"""TrainFunction: S3 ObjectCreated on the training-data prefix -> training.retrain. Wiring only."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from bikecast.registry import ModelRegistry
from bikecast.store import S3Store
from training import drift, promotion, retrain

logger = Logger()
metrics = Metrics()

settings = retrain.RetrainSettings(
    gate=promotion.GateSettings(
        holdout_days=int(os.environ.get("GATE_HOLDOUT_DAYS", "122")),
        tolerance=float(os.environ.get("GATE_TOLERANCE", "0.05")),
        joblib_fallback=os.environ.get("JOBLIB_FALLBACK", "Disabled") == "Enabled",
    ),
    drift=drift.DriftSettings(threshold=float(os.environ.get("DRIFT_THRESHOLD", "1.5"))),
)


@logger.inject_lambda_context
@metrics.log_metrics
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    outcomes = []
    for record in event.records:
        store = S3Store(record.s3.bucket.name)
        registry = ModelRegistry(store, os.environ.get("MODEL_PREFIX", "models/"))
        outcome = retrain.on_upload(store, registry, record.s3.get_object.key, settings, logger.info)
        metrics.add_metric(name=f"Upload{outcome['status'].title()}", unit=MetricUnit.Count, value=1)
        if "drift" in outcome:
            metrics.add_metric(name="DriftMaeRatio", unit=MetricUnit.NoUnit, value=outcome["drift"]["mae_ratio"])
        if outcome["status"] == "trained":
            metrics.add_metric(name="ModelPromoted", unit=MetricUnit.Count, value=int(outcome["promoted"]))
        outcomes.append({k: v for k, v in outcome.items() if k != "drift"})
    return {"outcomes": outcomes}
