"""The HTTP layer of the predict function, for any model spec: what is checked before Powertools sees an event,
how a body is read, success and error bodies, and the bound on every answer's size.

Order of checks for one event: the event's own shape (400), the content type (415), the body's size in bytes
(413) and encoding (422) — all in ``guard``, before ``app.resolve``; then Powertools routes and validates, with the
body read by ``strict_json`` (a repeated key, too deep a nesting or too long a number is a 422, too many rows a
413, before any row is validated). Finally ``bounded`` makes sure no answer exceeds what Lambda may return.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pydantic_core
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, create_model

from bikecast.serving import BatchTooLarge, Forecast, ModelUnavailable, Predictor, Service
from bikecast.spec import ModelSpec

VERSION_HEADER = "X-Model-Version"
MAX_DETAILS = 100  # error details listed in one answer; the message still counts them all
# Lambda returns at most 6 MB (6,291,456 bytes) from a synchronous invocation, the response's JSON envelope
# included; past it, API Gateway answers 502. Answers are refused before that, with a margin.
MAX_RESPONSE_BYTES = 6_000_000
MAX_LOGGED_TEXT = 200  # characters of client text (a key, a value) put into one log line


class ErrorDetail(BaseModel):
    field: str
    problem: str


class ErrorResponse(BaseModel):
    error: str
    message: str
    details: list[ErrorDetail] = []


class HealthResponse(BaseModel):
    status: str = Field(description="ok, or unavailable when no model can serve.")
    model_version: str | None = Field(default=None, description="The version that is serving.")
    reason: str | None = Field(default=None, description="Why no model can serve.")
    refused_version: str | None = Field(
        default=None,
        description="A newer version the pointer named that was refused at load; the last good one serves.",
    )
    refused_reason: str | None = Field(default=None, description="Why that version was refused.")


class Interval(BaseModel):
    lower: int | float
    upper: int | float


class Explanation(BaseModel):
    baseline: float = Field(description="The model's output for an average row, in its output space.")
    contributions: dict[str, float] = Field(description="Each input field's share of this row's output.")


class ModelInfo(BaseModel):
    name: str
    summary: str
    version: str | None = Field(description="The version serving it; null while no version can serve.")
    input_fields: list[str]
    required_fields: list[str]


class ModelList(BaseModel):
    models: list[ModelInfo]
    default: str


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_body(code: str, message: str, details: Iterable[tuple[str, str]] = ()) -> dict[str, Any]:
    """An error body. Texts that echo the request (a field name, a value) are clipped, so a huge request cannot
    make a huge answer."""
    body = ErrorResponse(
        error=code,
        message=clip(message, 1000),
        details=[ErrorDetail(field=clip(f, 200), problem=clip(p, 300)) for f, p in details],
    )
    return body.model_dump()


def error(status: int, code: str, message: str, details: Iterable[tuple[str, str]] = ()) -> Response[Any]:
    return Response(status, content_types.APPLICATION_JSON, error_body(code, message, details))


def ok(body: Any, model_version: str) -> Response[Any]:
    """A success answer, serialised here: Powertools would first walk it in Python (jsonable_encoder), which for
    10,000 forecasts cost more than computing them. pydantic's serialiser (Rust) is 3x ``json.dumps``, but cannot
    carry a lone surrogate (valid in JSON, and echoed in the seed contract's keys): then ``json.dumps``."""
    try:
        text = pydantic_core.to_json(body).decode()
    except (pydantic_core.PydanticSerializationError, UnicodeError, ValueError):
        text = json.dumps(body, separators=(",", ":"))
    return Response(200, content_types.APPLICATION_JSON, text, headers={VERSION_HEADER: model_version})


def proxy_error(status: int, code: str, message: str, details: Iterable[tuple[str, str]] = ()) -> dict[str, Any]:
    """An error as a Lambda proxy response, for events refused before Powertools resolves them."""
    return {
        "statusCode": status,
        "multiValueHeaders": {"Content-Type": [content_types.APPLICATION_JSON]},
        "body": json.dumps(error_body(code, message, details), separators=(",", ":")),
        "isBase64Encoded": False,
    }


# -- before Powertools: the event ---------------------------------------------------------------------------------

_EVENT_SHAPE: dict[str, tuple[type, ...]] = {
    "httpMethod": (str,),
    "path": (str,),
    "headers": (dict, type(None)),
    "multiValueHeaders": (dict, type(None)),
    "queryStringParameters": (dict, type(None)),
    "multiValueQueryStringParameters": (dict, type(None)),
    "pathParameters": (dict, type(None)),
    "body": (str, type(None)),
    "isBase64Encoded": (bool, type(None)),
    "requestContext": (dict, type(None)),
}


def event_problem(event: Any) -> tuple[str, str] | None:
    """What makes ``event`` something other than an API Gateway REST proxy event, if anything: (field, problem).
    API Gateway never sends such an event; a direct invoke or a test tool can."""
    if not isinstance(event, dict):
        return "event", f"must be an API Gateway proxy event (a JSON object), not {type(event).__name__}"
    for name, types in _EVENT_SHAPE.items():
        if not isinstance(event.get(name), types):
            wanted = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            if name in ("httpMethod", "path") and name not in event:
                return f"event.{name}", "is missing"
            return f"event.{name}", f"must be {wanted}, not {type(event.get(name)).__name__}"
    for name, many in (("headers", False), ("queryStringParameters", False), ("pathParameters", False),
                       ("multiValueHeaders", True), ("multiValueQueryStringParameters", True)):  # fmt: skip
        for key, value in (event.get(name) or {}).items():
            values = value if many and isinstance(value, list) else [value] if not many else None
            if not isinstance(key, str) or values is None or not all(isinstance(v, str) for v in values):
                shown = clip(str(key), 100)
                return f"event.{name}.{shown}", "must map names to " + ("lists of strings" if many else "strings")
    return None


def is_json(content_type: str) -> bool:
    """``application/json`` (any parameters, any case) or ``application/*+json``; no content type counts as JSON."""
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type in ("", "application/json") or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _header(event: Mapping[str, Any], name: str) -> str:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    for key, values in (event.get("multiValueHeaders") or {}).items():
        if key.lower() == name and values:
            return str(values[-1])
    return ""


def guard(event: Any, max_bytes: int) -> dict[str, Any] | None:
    """A proxy response refusing ``event`` before routing, or None to go on: a malformed event (400), a body
    that is not JSON (415), more bytes than ``max_bytes`` (413), base64 that is not UTF-8 text (422)."""
    problem = event_problem(event)
    if problem is not None:
        return proxy_error(400, "bad_event", f"{problem[0]}: {problem[1]}", [problem])
    body = event.get("body")
    if event["httpMethod"].upper() != "POST" and not body:
        return None
    content_type = _header(event, "content-type")
    if not is_json(content_type):
        message = f"Unsupported content type: {clip(content_type, 100)}; send application/json"
        return proxy_error(415, "unsupported_media_type", message, [("body", message)])
    _say_json(event)
    if not body:
        return None
    text = body
    if event.get("isBase64Encoded"):
        try:
            text = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            undecodable = "body is not base64-encoded UTF-8 text"
            return proxy_error(422, "invalid_request", f"body: {undecodable}", [("body", undecodable)])
    size = _utf8_size(text, max_bytes)
    if size > max_bytes:
        message = f"the body has {size:,} bytes; at most {max_bytes:,} are accepted"
        return proxy_error(413, "batch_too_large", message, [("body", message)])
    return None


def _say_json(event: dict[str, Any]) -> None:
    """Name a JSON content type the way Powertools' body reader recognises it (it matches ``application/json``
    exactly, in lower case); every form ``is_json`` accepts is JSON."""
    for key in event.get("headers") or {}:
        if key.lower() == "content-type":
            event["headers"][key] = "application/json"
    for key in event.get("multiValueHeaders") or {}:
        if key.lower() == "content-type":
            event["multiValueHeaders"][key] = ["application/json"]


def _utf8_size(text: str, limit: int) -> int:
    """Bytes of ``text`` as UTF-8 (a lone surrogate counts as the 3 bytes it would take), counted only when the
    character count leaves it in doubt."""
    if len(text) > limit:
        return len(text)  # already over: every character is at least one byte
    if len(text) * 4 <= limit:
        return len(text)  # cannot be over: a character is at most four bytes
    return len(text.encode("utf-8", "surrogatepass"))


# -- inside Powertools: the body ----------------------------------------------------------------------------------


class TooManyRows(BatchTooLarge):
    """More rows than one request may hold, found before any row is validated."""

    def __init__(self, rows: int, limit: int, field: str) -> None:
        super().__init__(f"{rows} rows exceed the limit of {limit} per request")
        self.field = field


def _body_error(kind: str, message: str, loc: tuple[str | int, ...] = ("body",)) -> RequestValidationError:
    ctx = {"error": message} if kind == "json_invalid" else {}
    return RequestValidationError([{"type": kind, "loc": loc, "msg": message, "input": {}, "ctx": ctx}])


def strict_json(max_rows: int) -> Callable[[str], Any]:
    """The body reader for Powertools (``json_body_deserializer``): JSON where a key given twice in one object is
    refused instead of silently keeping the last value, a body nested too deeply or holding a number too long to
    convert is a 422, and a batch over the row limit is refused before its rows are validated."""

    def read(text: str) -> Any:
        body = parse_json(text)
        check_batch_size(body, max_rows)
        return body

    return read


class _Repeated(dict[str, Any]):
    """A JSON object in which ``key`` occurred more than once."""

    key: str


def parse_json(text: str) -> Any:
    """``json.loads``, but a JSON object that repeats a key is a 422 naming where, not "last one wins"."""
    body = _parse_known_shape(text)
    return body if body is not None else _parse_strictly(text)


_SPACE_BEFORE_COLON = re.compile(r'"\s+:')


def _parse_known_shape(text: str) -> dict[str, Any] | None:
    """The API's body shapes parsed by pydantic's JSON parser (jiter, ~2x ``json``), or None.

    jiter keeps the last of repeated keys without telling, so the result is used only when counting proves no key
    repeats: every dict in the result is the body, a value of it or an item of a list value of it (there are as
    many ``{`` in the text as such dicts), and there are as many ``":`` in the text as keys in them. A ``{`` or
    ``":`` inside a string only makes a count too high, and then the body is simply read by ``_parse_strictly``.
    Any text jiter refuses (a lone surrogate, which it cannot encode, included) is read there too, so errors keep
    their wording."""
    if _SPACE_BEFORE_COLON.search(text):
        return None
    try:
        body = pydantic_core.from_json(text)
    except (ValueError, TypeError):
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


def field_name(loc: Sequence[Any]) -> str:
    """("body", "instances", 0, "speed") -> "instances[0].speed"; the body itself is "body"."""
    parts = [part for part in loc if part != "body"] if len(loc) > 1 else list(loc)
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def problem(item: Mapping[str, Any]) -> str:
    kind = item.get("type")
    if kind == "json_invalid":
        return f"body is not valid JSON: {item.get('ctx', {}).get('error', 'decode error')}"
    return str(item.get("msg", "invalid value")).removeprefix("Value error, ")


def validation_error(errors: Sequence[Mapping[str, Any]]) -> Response[Any]:
    details = []
    for item in errors[:MAX_DETAILS]:
        loc = item.get("loc", ("body",))
        name = "body" if item.get("type") == "json_invalid" else field_name(loc)
        details.append((name, problem(item)))
    summary = "; ".join(f"{f}: {p}" for f, p in details[:5]) + (
        f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
    )
    return error(422, "invalid_request", summary, details)


# -- after Powertools: the answer ---------------------------------------------------------------------------------


def bounded(response: dict[str, Any]) -> dict[str, Any]:
    """The response, or a 413 if it would not fit in what Lambda may return (the seed contract echoes keys)."""
    body = response.get("body")
    if not isinstance(body, str) or len(body) < MAX_RESPONSE_BYTES // 8:
        return response  # cannot be over: JSON escaping at most doubles a character, UTF-8 takes at most 4 bytes
    size = len(json.dumps(response).encode())
    if size <= MAX_RESPONSE_BYTES:
        return response
    message = (
        f"the answer would take {size:,} bytes, more than the {MAX_RESPONSE_BYTES:,} a response may hold; "
        "send fewer rows or shorter keys"
    )
    refused = proxy_error(413, "answer_too_large", message, [("body", message)])
    versions = (response.get("multiValueHeaders") or {}).get(VERSION_HEADER)
    if versions:
        refused["multiValueHeaders"][VERSION_HEADER] = versions
    return refused


def with_version(response: dict[str, Any], version: str | None) -> dict[str, Any]:
    """Every answer names the model version that is serving, errors included (when one is loaded)."""
    if version is None:
        return response
    headers = response.setdefault("multiValueHeaders", {}) or {}
    response["multiValueHeaders"] = headers
    if VERSION_HEADER not in headers and VERSION_HEADER not in (response.get("headers") or {}):
        headers[VERSION_HEADER] = [version]
    return response


# -- routes' shapes -----------------------------------------------------------------------------------------------


def response_model(spec: ModelSpec, name: str) -> type[BaseModel]:
    """The body of a successful ``/predict`` for this spec."""
    number: Any = int if spec.answer.integer else float
    bound: Any = (number, Field(description="A bound of the interval, in the answer's units."))
    interval: Any = create_model(f"{name}Interval", lower=bound, upper=bound)
    model: type[BaseModel] = create_model(
        name,
        predictions=(list[number], Field(description=f"One forecast per row ({spec.answer.unit}).")),
        intervals=(
            list[interval] | None,
            Field(
                default=None,
                description="Per row, the calibrated interval holding the actual value with "
                "probability `interval_level` (absent for a version published without calibration).",
            ),
        ),
        interval_level=(float | None, Field(default=None, description="The intervals' coverage probability.")),
        explanations=(
            list[Explanation] | None,
            Field(default=None, description="Per row, with `explain: true`: see the API description."),
        ),
        model_version=(str, ...),
        warnings=(
            list[str],
            Field(
                description="Values outside the range seen in training, and given values that "
                "contradict the ones derived from others, by row and field."
            ),
        ),
    )
    return model


def warning_lines(forecast: Forecast, label: Callable[[int], str]) -> list[str]:
    lines = [warning.message(label(warning.row)) for warning in forecast.warnings]
    if forecast.more_warnings:
        lines.append(f"… and {forecast.more_warnings} more warnings")
    return lines


def predict_body(forecast: Forecast) -> dict[str, Any]:
    body: dict[str, Any] = {"predictions": forecast.predictions}
    if forecast.intervals is not None:
        body["intervals"] = [{"lower": low, "upper": high} for low, high in forecast.intervals]
        body["interval_level"] = forecast.interval_level
    if forecast.explanations is not None:
        body["explanations"] = [
            {"baseline": e.baseline, "contributions": e.contributions} for e in forecast.explanations
        ]
    body["model_version"] = forecast.model_version
    body["warnings"] = warning_lines(forecast, lambda row: f"instances[{row}]")
    return body


def logged_key(key: str) -> str:
    """A client's key as it may appear in a log line: clipped, so a 5 MB key writes one short line."""
    return repr(clip(key, MAX_LOGGED_TEXT))


def makecalc_keys(rows: Any) -> tuple[list[str], Sequence[Any]]:
    """The seed's body ``{"0": row, ...}``: its keys and rows in order."""
    keys = getattr(rows, "keys", None)
    if isinstance(keys, list):  # validated column by column: the keys were kept aside
        return keys, rows
    if not rows:
        raise EmptyBatch()
    return list(rows), list(rows.values())


class EmptyBatch(ValueError):
    def __init__(self) -> None:
        super().__init__("the request holds no rows")


def health(predictor: Predictor) -> Response[Any]:
    refused = (
        {"refused_version": predictor.refused[0], "refused_reason": predictor.refused[1]} if predictor.refused else {}
    )
    try:
        current = predictor.current()
    except ModelUnavailable as unavailable:
        body = HealthResponse(status="unavailable", reason=str(unavailable), **refused)
        return Response(503, content_types.APPLICATION_JSON, body.model_dump(exclude_none=True))
    # refresh may have refused a newer version just now
    refused = (
        {"refused_version": predictor.refused[0], "refused_reason": predictor.refused[1]} if predictor.refused else {}
    )
    body = HealthResponse(status="ok", model_version=current.version, **refused)
    return ok(body.model_dump(exclude_none=True), current.version)


def public_manifest(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest without where training read its data from (a local path or bucket name is internal)."""
    shown = dict(manifest)
    training = manifest.get("training_data")
    if isinstance(training, dict):
        shown["training_data"] = {k: v for k, v in training.items() if k != "source"}
    return shown


def model_list(service: Service) -> ModelList:
    """Every model this deployment serves, with the version serving it (loading it if need be)."""
    models = []
    for name, spec in service.specs.items():
        try:
            version: str | None = service.predictor(name).current().version
        except ModelUnavailable:
            version = None
        models.append(
            ModelInfo(
                name=name,
                summary=spec.summary,
                version=version,
                input_fields=list(spec.input_fields),
                required_fields=list(spec.required_fields),
            )
        )
    return ModelList(default=service.default, models=models)
