"""HTTP shapes of the predict API: how a request body is read, success and error bodies, shared by the routes."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pydantic_core
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import OpenAPIRequestValidationMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from bikecast.schema import ErrorDetail, ErrorResponse, HealthResponse, Observation, ObservationColumns, PredictResponse
from bikecast.serving import BatchTooLarge, Forecast, ModelUnavailable, Predictor

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
    from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

VERSION_HEADER = "X-Model-Version"
MAX_DETAILS = 100  # error details listed in one answer; the message still counts them all


def ok(body: Any, model_version: str) -> Response[Any]:
    return Response(200, content_types.APPLICATION_JSON, body, headers={VERSION_HEADER: model_version})


def error(status: int, code: str, message: str, details: Iterable[tuple[str, str]] = ()) -> Response[Any]:
    """An error body. Texts that echo the request (a field name, a value) are clipped, so a huge request cannot
    make a huge answer: Lambda refuses to return more than 6 MB."""
    body = ErrorResponse(
        error=code,
        message=clip(message, 1000),
        details=[ErrorDetail(field=clip(f, 200), problem=clip(p, 300)) for f, p in details],
    )
    return Response(status, content_types.APPLICATION_JSON, body.model_dump())


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    for item in errors[:MAX_DETAILS]:
        loc = item.get("loc", ("body",))
        name = "body" if item.get("type") == "json_invalid" else field_name(loc)
        details.append((name, problem(item)))
    unsupported = any(item.get("type") == "unsupported_content_type" for item in errors)
    status, code = (415, "unsupported_media_type") if unsupported else (422, "invalid_request")
    summary = "; ".join(f"{f}: {p}" for f, p in details[:5]) + (
        f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
    )
    return error(status, code, summary, details)


class TooManyRows(BatchTooLarge):
    """More rows than one request may hold, found before any row is validated."""

    def __init__(self, rows: int, limit: int, field: str) -> None:
        super().__init__(f"{rows} rows exceed the limit of {limit} per request")
        self.field = field


class BodyTooLarge(TooManyRows):
    """More bytes than one request may hold, found before the body is parsed."""

    def __init__(self, size: int, limit: int) -> None:
        BatchTooLarge.__init__(self, f"the body has {size:,} bytes; at most {limit:,} are accepted")
        self.field = "body"


def is_json(content_type: str) -> bool:
    """``application/json`` (any parameters, any case) or ``application/*+json``; no content type counts as JSON."""
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type in ("", "application/json") or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _body_error(kind: str, message: str, loc: tuple[str | int, ...] = ("body",)) -> RequestValidationError:
    ctx = {"error": message} if kind == "json_invalid" else {}
    return RequestValidationError([{"type": kind, "loc": loc, "msg": message, "input": {}, "ctx": ctx}])


def read_body(event: BaseProxyEvent, max_rows: int, max_bytes: int) -> Any:
    """The request body as JSON, or a 4xx naming what is wrong with it.

    Stricter than Powertools' own reading: only JSON is accepted (a form or multipart body is a 415, as
    documented), a key given twice in one object is refused instead of silently keeping the last value, a body
    nested too deeply or holding a number too long to convert is a 422 rather than a Python error, and a batch
    over the row or byte limit is refused before its rows are validated (or its bytes parsed).
    """
    content_type = str(event.headers.get("content-type") or "")
    if not is_json(content_type):
        raise RequestUnsupportedContentType(
            "Unsupported content type",
            errors=[
                {
                    "type": "unsupported_content_type",
                    "loc": ("body",),
                    "msg": f"Unsupported content type: {content_type[:100]}",
                    "input": {},
                    "ctx": {},
                }
            ],
        )
    text = event.body
    if text and len(text) > max_bytes:
        raise BodyTooLarge(len(text), max_bytes)
    if text and event.is_base64_encoded:
        try:
            text = base64.b64decode(text, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise _body_error("body_undecodable", "body is not base64-encoded UTF-8 text") from None
    if not text:
        return None
    body = parse_json(text)
    check_batch_size(body, max_rows)
    return body


class _Repeated(dict[str, Any]):
    """A JSON object in which ``key`` occurred more than once."""

    key: str


def parse_json(text: str) -> Any:
    """``json.loads``, but a JSON object that repeats a key is a 422 naming where, not "last one wins"."""
    body = _parse_known_shape(text)
    return body if body is not None else _parse_strictly(text)


_SPACE_BEFORE_COLON = re.compile(r'"\s+:')


def _parse_known_shape(text: str) -> dict[str, Any] | None:
    """The API's two body shapes parsed by pydantic's JSON parser (jiter, ~2x ``json``), or None.

    jiter keeps the last of repeated keys without telling, so the result is used only when counting proves no key
    repeats: every dict in the result is the body, a value of it or an item of a list value of it (there are as
    many ``{`` in the text as such dicts), and there are as many ``":`` in the text as keys in them. A ``{`` or
    ``":`` inside a string only makes a count too high, and then the body is simply read by ``_parse_strictly``.
    Any text jiter refuses is read there too, so errors keep their wording."""
    if _SPACE_BEFORE_COLON.search(text):
        return None
    try:
        body = pydantic_core.from_json(text)
    except ValueError:
        return None
    if type(body) is not dict:
        return None
    dicts = [body]
    for value in body.values():
        if type(value) is dict:
            dicts.append(value)
        elif type(value) is list:
            dicts.extend(item for item in value if type(item) is dict)
    if text.count("{") != len(dicts) or text.count('":') != sum(map(len, dicts)):
        return None
    return body


def _parse_strictly(text: str) -> Any:
    repeated: list[_Repeated] = []

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        marked = _Repeated(obj)
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                marked.key = key
                break
            seen.add(key)
        repeated.append(marked)
        return marked

    try:
        body = json.loads(text, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as decode_error:
        where = f"line {decode_error.lineno}, column {decode_error.colno}"
        raise _body_error("json_invalid", f"{decode_error.msg} ({where})") from None
    except RecursionError:
        raise _body_error("json_too_deep", "body is nested too deeply") from None
    except ValueError:  # the only other one json.loads raises: an integer of more than sys.get_int_max_str_digits()
        raise _body_error("json_invalid", "a number has too many digits") from None
    if repeated:
        loc = _location(body, repeated[0])
        raise _body_error("duplicate_key", f"duplicate key {repeated[0].key!r}", ("body", *loc, repeated[0].key))
    return body


def _location(root: Any, target: object) -> tuple[str | int, ...]:
    """Where ``target`` sits inside ``root`` (found without recursion: the body may be deeply nested)."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if node is target:
            return loc
        if isinstance(node, dict):
            stack.extend((value, (*loc, key)) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend((value, (*loc, index)) for index, value in enumerate(node))
    return ()


def check_batch_size(body: Any, max_rows: int) -> None:
    """Refuse a batch over the limit before validating it: its rows would only produce work and errors."""
    if not isinstance(body, dict):
        return
    instances = body.get("instances")
    if isinstance(instances, list) and len(instances) > max_rows:
        raise TooManyRows(len(instances), max_rows, "instances")
    if len(body) > max_rows:
        raise TooManyRows(len(body), max_rows, "body")


class JsonBodyValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, with the body read by ``read_body``."""

    def __init__(self, max_rows: int, max_bytes: int) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Powertools leaves it unannotated
        self.max_rows = max_rows
        self.max_bytes = max_bytes

    def _get_body(self, app: ApiGatewayResolver) -> dict[str, Any]:
        body: dict[str, Any] = read_body(app.current_event, self.max_rows, self.max_bytes)
        return body


def predict_response(forecast: Forecast) -> PredictResponse:
    warnings = [w.message(f"instances[{w.row}]") for w in forecast.warnings]
    if forecast.more_warnings:
        warnings.append(f"… and {forecast.more_warnings} more out-of-range values")
    return PredictResponse(predictions=forecast.predictions, model_version=forecast.model_version, warnings=warnings)


def makecalc(predictor: Predictor, rows: Mapping[str, Observation] | ObservationColumns) -> tuple[list[str], Forecast]:
    """The seed's body ``{"0": row, ...}``: forecasts under the same keys, in the same order."""
    if isinstance(rows, ObservationColumns):
        return rows.keys or [], predictor.predict(rows)
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
