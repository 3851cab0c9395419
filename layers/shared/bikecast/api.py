"""HTTP shapes of the predict API: success and error bodies, shared by the handler's routes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from bikecast.schema import ErrorDetail, ErrorResponse, HealthResponse, Observation, PredictResponse
from bikecast.serving import Forecast, ModelUnavailable, Predictor

VERSION_HEADER = "X-Model-Version"


def ok(body: Any, model_version: str) -> Response[Any]:
    return Response(200, content_types.APPLICATION_JSON, body, headers={VERSION_HEADER: model_version})


def error(status: int, code: str, message: str, details: Iterable[tuple[str, str]] = ()) -> Response[Any]:
    body = ErrorResponse(error=code, message=message, details=[ErrorDetail(field=f, problem=p) for f, p in details])
    return Response(status, content_types.APPLICATION_JSON, body.model_dump())


def field_name(loc: Sequence[Any]) -> str:
    """("body", "instances", 0, "temp") -> "instances[0].temp"; the body itself is "body"."""
    parts = [part for part in loc if part != "body"] if len(loc) > 1 else list(loc)
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def problem(item: Mapping[str, Any]) -> str:
    kind = item.get("type")
    if kind == "json_invalid":
        return f"body is not valid JSON: {item.get('ctx', {}).get('error', 'decode error')}"
    if kind == "unsupported_content_type":
        return str(item.get("msg", "unsupported content type")) + "; send application/json"
    return str(item.get("msg", "invalid value")).removeprefix("Value error, ")


def validation_error(errors: Sequence[Mapping[str, Any]]) -> Response[Any]:
    details = []
    for item in errors:
        loc = item.get("loc", ("body",))
        name = "body" if item.get("type") == "json_invalid" else field_name(loc)
        details.append((name, problem(item)))
    unsupported = any(item.get("type") == "unsupported_content_type" for item in errors)
    status, code = (415, "unsupported_media_type") if unsupported else (422, "invalid_request")
    summary = "; ".join(f"{f}: {p}" for f, p in details[:5]) + (
        f"; and {len(details) - 5} more" if len(details) > 5 else ""
    )
    return error(status, code, summary, details)


def predict_response(forecast: Forecast) -> PredictResponse:
    warnings = [w.message(f"instances[{w.row}]") for w in forecast.warnings]
    if forecast.more_warnings:
        warnings.append(f"… and {forecast.more_warnings} more out-of-range values")
    return PredictResponse(predictions=forecast.predictions, model_version=forecast.model_version, warnings=warnings)


def makecalc(predictor: Predictor, rows: Mapping[str, Observation]) -> tuple[list[str], Forecast]:
    if not rows:
        raise EmptyBatch()
    keys = list(rows)
    return keys, predictor.predict([rows[key] for key in keys])


class EmptyBatch(ValueError):
    def __init__(self) -> None:
        super().__init__("the request holds no rows")


def health(predictor: Predictor) -> Response[Any]:
    try:
        current = predictor.current()
    except ModelUnavailable as unavailable:
        body = HealthResponse(status="unavailable", reason=str(unavailable))
        return Response(503, content_types.APPLICATION_JSON, body.model_dump(exclude_none=True))
    return ok(HealthResponse(status="ok", model_version=current.version).model_dump(exclude_none=True), current.version)


def public_manifest(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest without where training read its data from (a local path or bucket name is internal)."""
    shown = dict(manifest)
    shown["training_data"] = {k: v for k, v in manifest.get("training_data", {}).items() if k != "source"}
    return shown
