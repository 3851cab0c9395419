"""TrainFunction: S3 ObjectCreated under a model's training-data prefix -> training.retrain. Wiring only.

S3 sends object keys URL-encoded (``my data.csv`` arrives as ``my+data.csv``, ``été`` as ``%C3%A9t%C3%A9``):
each is decoded before use, as Powertools' ``S3Event.object_key`` does for the first record.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from training import retrain
from training.deployment import Deployment
from training.settings import TrainSettings

logger = Logger()
metrics = Metrics()
settings = TrainSettings.from_env(os.environ)


@logger.inject_lambda_context
@metrics.log_metrics
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    outcomes = []
    for record in event.records:
        deployment = Deployment(settings.model_copy(update={"bucket": record.s3.bucket.name}))
        key = unquote_plus(record.s3.get_object.key)
        outcome = retrain.on_upload(deployment, key, logger.info)
        metrics.add_metric(name=f"Upload{outcome['status'].title()}", unit=MetricUnit.Count, value=1)
        if outcome.get("drift", {}).get("mae_ratio") is not None:
            metrics.add_metric(name="DriftMaeRatio", unit=MetricUnit.NoUnit, value=outcome["drift"]["mae_ratio"])
        if outcome["status"] == "trained":
            metrics.add_metric(name="ModelPromoted", unit=MetricUnit.Count, value=int(outcome["promoted"]))
        outcomes.append({k: v for k, v in outcome.items() if k != "drift"})
    return {"outcomes": outcomes}
