"""Predict function: API Gateway -> Powertools -> bikecast.serving. Wiring only; the logic lives in the layer."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseHeader
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from snapstart import on_restore

import bikecast
from bikecast import api
from bikecast.schema import ErrorResponse, HealthResponse, ObservationsByKey, PredictRequest, PredictResponse
from bikecast.serving import BatchTooLarge, ModelUnavailable, Predictor, Settings

API_DESCRIPTION = """\
Daily bike-rental forecasts from the weather and the calendar (UCI Bike Sharing data).

`POST /predict` is the documented API; `POST /api/makecalc/` keeps the seed article's contract. Every answer
carries the model version in the `X-Model-Version` header. Errors are JSON (`ErrorResponse`) and name the field:
422 for a body that is not valid JSON or does not validate, 415 for a content type other than JSON, 413 for more
rows or bytes than the per-request limits, 503 while no model is loaded."""

logger = Logger()
# No Powertools Tracer: importing the X-Ray SDK cost 180 ms of every cold start (0.53 s -> 0.40 s without it).
# The function still runs with Tracing: Active, so X-Ray shows each invocation and its initialisation.
metrics = Metrics()
settings = Settings.from_env()

app = APIGatewayRestResolver(enable_validation=True)
app.configure_openapi(title="bikecast", version=bikecast.__version__, description=API_DESCRIPTION)
# Powertools' request validation, reading bodies as documented: JSON only, no repeated keys, bounded batches.
app._request_validation_middleware = api.JsonBodyValidation(settings.max_batch_rows, settings.max_body_bytes)
if os.environ.get("ENABLE_SWAGGER", "").strip().lower() == "true":
    app.enable_swagger(path="/swagger")  # off by default: the spec is committed as openapi/openapi.json

predictor = Predictor.from_settings(settings)
predictor.refresh(force=True)  # cold start: load the model once per container


@on_restore
def after_restore() -> None:
    """SnapStart: a restored snapshot holds the model current at publication; check the pointer now, over new
    connections (see snapstart.py)."""
    predictor.registry.store.client.close()
    predictor.refresh(force=True)


def _error(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": ErrorResponse}}}


VERSION_HEADER: dict[str, OpenAPIResponseHeader] = {
    api.VERSION_HEADER: {"description": "The version of the model that answered.", "schema": {"type": "string"}}
}
INVALID = _error("Malformed JSON, a repeated key, or a field that does not validate; `details` names each field.")
UNAVAILABLE = _error("No model could be loaded; the function still answers.")
# Powertools lists a 422 for every route when validation is on; these routes read no input, so it cannot happen.
NO_INPUT = _error("Listed for every route by request validation; this route reads no input, so it does not occur.")
BATCH_RESPONSES: dict[int, OpenAPIResponse] = {
    200: {"description": "One forecast per row.", "headers": VERSION_HEADER},
    413: _error("More rows than MAX_BATCH_ROWS (10,000 by default) or more bytes than MAX_BODY_BYTES (5,000,000)."),
    415: _error("A content type other than JSON."),
    422: INVALID,
    503: UNAVAILABLE,
}


@app.post("/predict", summary="Forecast daily rentals", responses=BATCH_RESPONSES)
def predict(request: PredictRequest) -> Response[PredictResponse]:
    forecast = predictor.predict(request.instances)
    metrics.add_metric(name="RowsPredicted", unit=MetricUnit.Count, value=len(forecast.predictions))
    return api.ok(api.predict_response(forecast), forecast.model_version)


@app.post("/api/makecalc/", summary="The seed article's contract", responses=BATCH_RESPONSES)
def makecalc(rows: Annotated[ObservationsByKey, Body()]) -> Response[dict[str, int]]:
    """The seed article's contract: {"0": {row}, ...} -> {"0": 1063, ...}."""
    keys, forecast = api.makecalc(predictor, rows)
    metrics.add_metric(name="RowsPredicted", unit=MetricUnit.Count, value=len(forecast.predictions))
    for warning in forecast.warnings:
        logger.warning(warning.message(f"row {keys[warning.row]!r}"))
    return api.ok(dict(zip(keys, forecast.predictions, strict=True)), forecast.model_version)


@app.get(
    "/health",
    summary="Whether a model is loaded",
    responses={
        200: {"description": "A model is loaded.", "headers": VERSION_HEADER},
        422: NO_INPUT,
        503: {
            "description": "No model could be loaded; `reason` says why.",
            "content": {"application/json": {"model": HealthResponse}},
        },
    },
)
def health() -> Response[HealthResponse]:
    return api.health(predictor)


@app.get(
    "/model",
    summary="The serving model's manifest",
    responses={
        200: {"description": "Version, metrics, input schema, libraries.", "headers": VERSION_HEADER},
        422: NO_INPUT,
        503: UNAVAILABLE,
    },
)
def model() -> Response[dict[str, Any]]:
    current = predictor.current()
    return api.ok(api.public_manifest(current.manifest), current.version)


def openapi_json() -> str:
    """The OpenAPI document of these routes, as committed in openapi/openapi.json (see tests/unit/functions)."""
    spec = json.loads(app.get_openapi_json_schema())
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@app.exception_handler([RequestValidationError, RequestUnsupportedContentType])
def invalid_request(error: RequestValidationError | RequestUnsupportedContentType) -> Response[dict[str, Any]]:
    return api.validation_error(error.errors())


@app.exception_handler(api.EmptyBatch)
def empty_batch(error: api.EmptyBatch) -> Response[dict[str, Any]]:
    return api.error(422, "invalid_request", str(error), [("body", str(error))])


@app.exception_handler(BatchTooLarge)
def batch_too_large(error: BatchTooLarge) -> Response[dict[str, Any]]:
    field = error.field if isinstance(error, api.TooManyRows) else "instances"
    return api.error(413, "batch_too_large", str(error), [(field, str(error))])


@app.exception_handler(ModelUnavailable)
def model_unavailable(error: ModelUnavailable) -> Response[dict[str, Any]]:
    metrics.add_metric(name="ModelUnavailable", unit=MetricUnit.Count, value=1)
    return api.error(503, "model_unavailable", str(error))


@app.not_found
def not_found(error: NotFoundError) -> Response[dict[str, Any]]:
    event = app.current_event
    return api.error(404, "not_found", "no such route", [("path", f"{event.http_method} {event.path}")])


@app.exception_handler(Exception)
def unexpected(error: Exception) -> Response[dict[str, Any]]:
    logger.exception("unhandled error")
    return api.error(500, "internal_error", "the request could not be processed")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
