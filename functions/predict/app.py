"""Predict function: API Gateway -> Powertools -> bikecast.serving. Wiring only; the logic lives in the layer."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from bikecast import api
from bikecast.schema import HealthResponse, Observation, PredictRequest, PredictResponse
from bikecast.serving import BatchTooLarge, ModelUnavailable, Predictor, Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver(enable_validation=True)

settings = Settings.from_env()
predictor = Predictor.from_settings(settings)
predictor.refresh(force=True)  # cold start: load the model once per container


@app.post("/predict")
def predict(request: PredictRequest) -> Response[PredictResponse]:
    forecast = predictor.predict(request.instances)
    metrics.add_metric(name="RowsPredicted", unit=MetricUnit.Count, value=len(forecast.predictions))
    return api.ok(api.predict_response(forecast), forecast.model_version)


@app.post("/api/makecalc/")
def makecalc(rows: Annotated[dict[str, Observation], Body()]) -> Response[dict[str, int]]:
    """The seed article's contract: {"0": {row}, ...} -> {"0": 1063, ...}."""
    keys, forecast = api.makecalc(predictor, rows)
    metrics.add_metric(name="RowsPredicted", unit=MetricUnit.Count, value=len(forecast.predictions))
    for warning in forecast.warnings:
        logger.warning(warning.message(f"row {keys[warning.row]!r}"))
    return api.ok(dict(zip(keys, forecast.predictions, strict=True)), forecast.model_version)


@app.get("/health")
def health() -> Response[HealthResponse]:
    return api.health(predictor)


@app.get("/model")
def model() -> Response[dict[str, Any]]:
    current = predictor.current()
    return api.ok(api.public_manifest(current.manifest), current.version)


@app.exception_handler([RequestValidationError, RequestUnsupportedContentType])
def invalid_request(error: RequestValidationError | RequestUnsupportedContentType) -> Response[dict[str, Any]]:
    return api.validation_error(error.errors())


@app.exception_handler(api.EmptyBatch)
def empty_batch(error: api.EmptyBatch) -> Response[dict[str, Any]]:
    return api.error(422, "invalid_request", str(error), [("body", str(error))])


@app.exception_handler(BatchTooLarge)
def batch_too_large(error: BatchTooLarge) -> Response[dict[str, Any]]:
    return api.error(413, "batch_too_large", str(error), [("instances", str(error))])


@app.exception_handler(ModelUnavailable)
def model_unavailable(error: ModelUnavailable) -> Response[dict[str, Any]]:
    metrics.add_metric(name="ModelUnavailable", unit=MetricUnit.Count, value=1)
    return api.error(503, "model_unavailable", str(error))


@app.exception_handler(Exception)
def unexpected(error: Exception) -> Response[dict[str, Any]]:
    logger.exception("unhandled error")
    return api.error(500, "internal_error", "the request could not be processed")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
