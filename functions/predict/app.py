"""Predict function: API Gateway -> Powertools -> bikecast.serving. Wiring only; the logic lives in the layer.

Routes are made from the model specs this deployment serves (``MODEL_SPECS``): each model gets
``POST /models/{name}/predict`` and ``GET /models/{name}``; the default model also answers the original routes
``POST /predict``, ``POST /api/makecalc/`` (the seed article's contract) and ``GET /model``.
"""

# No `from __future__ import annotations`: Powertools reads the routes' annotations, which are made per model.
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
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseHeader
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from snapstart import on_restore

import bikecast
from bikecast import api, rows
from bikecast.scoring import CannotExplain
from bikecast.serving import BatchTooLarge, ModelUnavailable, Service, Settings
from bikecast.spec import ModelSpec

logger = Logger()
# No Powertools Tracer: importing the X-Ray SDK was a large share of every cold start (README, Performance).
# The function still runs with Tracing: Active, so X-Ray shows each invocation and its initialisation.
metrics = Metrics()
settings = Settings.from_env(os.environ)
service = Service(settings)
DEFAULT = service.default

API_DESCRIPTION = f"""\
Forecasts from the models this deployment serves ({", ".join(service.specs)}; the default is `{DEFAULT}`).

`POST /predict` is the documented API of the default model; `POST /api/makecalc/` keeps the seed article's
contract. `POST /models/{{name}}/predict` asks any model, with the same body and answer. Every answer carries the
serving model's version in the `X-Model-Version` header. Errors are JSON (`ErrorResponse`) and name the field: 400
for an event that is not an API Gateway proxy event, 422 for a body that is not valid JSON or does not validate,
415 for a content type other than JSON, 413 for more rows than {settings.max_batch_rows:,} or bytes than
{settings.max_body_bytes:,} in a request (or an answer too large to return), 404 for an unknown route or model,
503 while no model can serve."""

app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=api.strict_json(settings.max_batch_rows))
app.configure_openapi(title="bikecast", version=bikecast.__version__, description=API_DESCRIPTION)
if settings.enable_swagger:
    app.enable_swagger(path="/swagger")  # off by default: the spec is committed as openapi/openapi.json


@on_restore
def after_restore() -> None:
    """SnapStart: a restored snapshot holds the models current at publication; check each pointer now, over new
    connections (see snapstart.py)."""
    for loaded in service.predictors.values():
        loaded.reconnect()
        loaded.refresh(force=True)


def _error(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": api.ErrorResponse}}}


VERSION_HEADER: dict[str, OpenAPIResponseHeader] = {
    api.VERSION_HEADER: {"description": "The version of the model that answered.", "schema": {"type": "string"}}
}
INVALID = _error("Malformed JSON, a repeated key, or a field that does not validate; `details` names each field.")
UNAVAILABLE = _error("No model could be loaded; the function still answers.")
# Powertools lists a 422 for every route when validation is on; these routes read no input, so it cannot happen.
NO_INPUT = _error("Listed for every route by request validation; this route reads no input, so it does not occur.")
BATCH_RESPONSES: dict[int, OpenAPIResponse] = {
    200: {"description": "One forecast per row.", "headers": VERSION_HEADER},
    413: _error(
        f"More than {settings.max_batch_rows:,} rows or {settings.max_body_bytes:,} bytes, or an answer "
        "too large to return."
    ),
    415: _error("A content type other than JSON."),
    422: INVALID,
    503: UNAVAILABLE,
}
MANIFEST_RESPONSES: dict[int, OpenAPIResponse] = {
    200: {
        "description": "Version, metrics, interval coverage, input schema, libraries (the manifest, less where its "
        "training data came from).",
        "headers": VERSION_HEADER,
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
    422: NO_INPUT,
    503: UNAVAILABLE,
}


def documented_not_revalidated(route: Any) -> Any:
    """Powertools validates an annotated answer and re-serialises it through pydantic: for 10,000 forecasts that
    costs more than computing them, and pydantic's serialiser mangles a key holding a lone surrogate (valid JSON,
    echoed by the seed contract). The answers are built from validated parts and documented in ``responses``."""
    route.__annotations__.pop("return", None)
    return route


def record_rows(count: int, name: str) -> None:
    metrics.add_dimension(name="model", value=name)
    metrics.add_metric(name="RowsPredicted", unit=MetricUnit.Count, value=count)


def predict_route(spec: ModelSpec, path: str, operation: str) -> None:
    """``POST path``: ``{"instances": [...]}`` -> predictions (with intervals) for one model."""
    title = "".join(part.title() for part in spec.name.split("-"))
    request_model = rows.request_model(spec.row, f"{title}PredictRequest")
    reply_model = api.response_model(spec, f"{title}PredictResponse")
    name = spec.name

    @documented_not_revalidated
    def predict(request: request_model) -> Response[dict[str, Any]]:  # type: ignore[valid-type]
        forecast = service.predictor(name).forecast(request.instances, request.explain)  # type: ignore[attr-defined]
        record_rows(len(forecast.predictions), name)
        return api.ok(api.predict_body(forecast), forecast.model_version)

    predict.__name__ = operation
    responses = BATCH_RESPONSES | {
        200: {
            "description": "One forecast per row.",
            "headers": VERSION_HEADER,
            "content": {"application/json": {"model": reply_model}},
        }
    }
    app.post(path, summary=f"Forecast: {spec.summary}", responses=responses)(predict)


def manifest_route(spec: ModelSpec, path: str, operation: str) -> None:
    name = spec.name

    @documented_not_revalidated
    def manifest() -> Response[dict[str, Any]]:
        current = service.predictor(name).current()
        return api.ok(api.public_manifest(current.manifest), current.version)

    manifest.__name__ = operation
    app.get(path, summary=f"The serving manifest of the {name} model", responses=MANIFEST_RESPONSES)(manifest)


for model_name, model_spec in service.specs.items():
    predict_route(model_spec, f"/models/{model_name}/predict", f"predict_{model_name.replace('-', '_')}")
    manifest_route(model_spec, f"/models/{model_name}", f"manifest_{model_name.replace('-', '_')}")
predict_route(service.specs[DEFAULT], "/predict", "predict")
manifest_route(service.specs[DEFAULT], "/model", "model")
SeedRows = rows.rows_by_key_type(service.specs[DEFAULT].row)


SEED_ANSWER: OpenAPIResponse = {
    "description": "One forecast per key, under the same keys, in the same order.",
    "headers": VERSION_HEADER,
    "content": {"application/json": {"schema": {"type": "object", "additionalProperties": {"type": "integer"}}}},
}


@app.post("/api/makecalc/", summary="The seed article's contract", responses=BATCH_RESPONSES | {200: SEED_ANSWER})
@documented_not_revalidated
def makecalc(body: Annotated[SeedRows, Body()]) -> Response[dict[str, Any]]:  # type: ignore[valid-type]
    """The seed article's contract: {"0": {row}, ...} -> {"0": 1063, ...}."""
    keys, instances = api.makecalc_keys(body)
    forecast = service.predictor(DEFAULT).forecast(instances)
    record_rows(len(forecast.predictions), DEFAULT)
    for line in api.warning_lines(forecast, lambda row: f"row {api.logged_key(keys[row])}"):
        logger.warning(line)
    return api.ok(dict(zip(keys, forecast.predictions, strict=True)), forecast.model_version)


@app.get(
    "/models",
    summary="The models this deployment serves",
    responses={
        200: {"description": "Each model.", "content": {"application/json": {"model": api.ModelList}}},
        422: NO_INPUT,
    },
)
@documented_not_revalidated
def models() -> Response[dict[str, Any]]:
    return Response(200, "application/json", api.model_list(service).model_dump())


@app.get("/models/<name>", summary="An unknown model", include_in_schema=False)
def unknown_model(name: Annotated[str, Path()]) -> Response[dict[str, Any]]:
    raise UnknownModel(name)


@app.post("/models/<name>/predict", summary="An unknown model", include_in_schema=False)
def unknown_model_predict(name: Annotated[str, Path()]) -> Response[dict[str, Any]]:
    raise UnknownModel(name)


@app.get(
    "/health",
    summary="Whether the default model can serve",
    responses={
        200: {
            "description": "A model is serving; a refused newer version is named.",
            "headers": VERSION_HEADER,
            "content": {"application/json": {"model": api.HealthResponse}},
        },
        422: NO_INPUT,
        503: {
            "description": "No model could be loaded; `reason` says why.",
            "content": {"application/json": {"model": api.HealthResponse}},
        },
    },
)
@documented_not_revalidated
def health() -> Response[dict[str, Any]]:
    return api.health(service.predictor(DEFAULT))


class UnknownModel(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


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


@app.exception_handler(CannotExplain)
def cannot_explain(error: CannotExplain) -> Response[dict[str, Any]]:
    return api.error(422, "invalid_request", f"explain: {error}", [("explain", str(error))])


@app.exception_handler(UnknownModel)
def unknown(error: UnknownModel) -> Response[dict[str, Any]]:
    known = ", ".join(service.specs)
    message = f"no model named {api.clip(error.name, 100)!r}; this deployment serves {known}"
    return api.error(404, "not_found", message, [("path", message)])


@app.not_found
def not_found(error: NotFoundError) -> Response[dict[str, Any]]:
    event = app.current_event
    return api.error(404, "not_found", "no such route", [("path", f"{event.http_method} {api.clip(event.path, 200)}")])


@app.exception_handler(Exception)
def unexpected(error: Exception) -> Response[dict[str, Any]]:
    logger.exception("unhandled error")
    return api.error(500, "internal_error", "the request could not be processed")


def answering_model(event: Any) -> str:
    """The model a request is for: /models/<name>/... names it; every other route is the default model's."""
    path = event.get("path") if isinstance(event, dict) else None
    parts = path.strip("/").split("/") if isinstance(path, str) else []
    return parts[1] if len(parts) >= 2 and parts[0] == "models" and parts[1] in service.specs else DEFAULT


predictor = service.predictor(DEFAULT)
predictor.refresh(force=True)  # cold start: load the default model once per container; the others on first use


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    response = api.guard(event, settings.max_body_bytes) or app.resolve(event, context)
    return api.bounded(api.with_version(response, service.loaded_version(answering_model(event))))
