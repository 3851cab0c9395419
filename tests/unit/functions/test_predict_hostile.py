"""Hostile requests and events through the real predict handler, in process against moto's S3: each one a finding
that once answered 500, an oversized answer, a wrong acceptance or an unbounded log line."""

from __future__ import annotations

import copy
import json
from types import ModuleType
from typing import Any

import pytest

from bikecast.registry import ModelRegistry
from bikecast.store import S3Store
from tests.conftest import FakeLambdaContext, load_event
from tests.strategies import ISO_FORMS_OF_2012_06_01
from tests.unit.functions.conftest import fresh_app
from training import publish

ROW = {"dteday": "2012-06-01", "weathersit": 1, "temp": 0.6, "atemp": 0.55, "hum": 0.5, "windspeed": 0.2}
LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024  # bytes of the whole response Lambda may return synchronously


def invoke(app: ModuleType, event: Any) -> dict[str, Any]:
    response: dict[str, Any] = app.lambda_handler(event, FakeLambdaContext())
    return response


def header(response: dict[str, Any], name: str) -> str | None:
    for source in (response.get("multiValueHeaders") or {}, response.get("headers") or {}):
        if name in source:
            value = source[name]
            return str(value[-1] if isinstance(value, list) else value)
    return None


def predict_event(body: str, path: str = "/predict") -> dict[str, Any]:
    event = load_event("predict-single")
    event.update(path=path, resource=path, body=body)
    return event


def post(app: ModuleType, body: str, path: str = "/predict") -> tuple[int, Any, dict[str, Any]]:
    response = invoke(app, predict_event(body, path))
    return response["statusCode"], json.loads(response["body"]), response


def with_row(**changes: Any) -> str:
    return json.dumps({"instances": [ROW | changes]})


def test_a_raw_lone_surrogate_in_the_body_is_not_a_500(app: ModuleType) -> None:
    # json.dumps would escape it; a client (or sam local) can deliver the raw code point in the event's string.
    status, body, _ = post(app, '{"instances": [' + json.dumps(ROW)[:-1] + ', "dteday": "\ud800"}]}')
    assert status == 422, body
    status, body, _ = post(app, '{"instances": [' + json.dumps(ROW | {"dteday": "\udfff2012-06-01"}) + "]}")
    assert status == 422, body
    assert body["details"][0]["field"] == "instances[0].dteday"
    status, body, _ = post(app, '{"k\ud800": ' + json.dumps(ROW) + "}", "/api/makecalc/")
    assert status == 200, body


@pytest.mark.parametrize("emoji", [460_000, 1_200_000])
def test_every_answer_fits_in_a_lambda_response(app: ModuleType, emoji: int) -> None:
    """The seed contract echoes keys: 460,000 emoji (1.8 MB sent) became a 6.44 MB answer, which Lambda refuses.
    Lambda serialises the response with escapes (12 bytes an emoji): what does not fit is a 413."""
    request = json.dumps({"😀" * emoji: ROW}, ensure_ascii=False)
    response = invoke(app, predict_event(request, "/api/makecalc/"))
    assert len(json.dumps(response).encode()) <= LAMBDA_RESPONSE_LIMIT
    if emoji * 12 > LAMBDA_RESPONSE_LIMIT:
        assert response["statusCode"] == 413, response["body"][:300]
        assert json.loads(response["body"])["details"][0]["field"] == "body"
    else:
        assert response["statusCode"] in (200, 413)


@pytest.mark.parametrize("odd", [None, [], ["a", "b"], "text", 5])
def test_model_route_survives_an_odd_manifest(s3: S3Store, built_artifact: publish.Artifact, odd: Any) -> None:
    manifest = copy.deepcopy(built_artifact.manifest) | {"training_data": odd}
    registry = ModelRegistry(s3)
    registry.publish(built_artifact.version, built_artifact.files, manifest)
    registry.move_pointer(built_artifact.version)
    app = fresh_app()
    response = invoke(app, load_event("model"))
    assert response["statusCode"] == 200, response["body"]


ODD_EVENTS: dict[str, Any] = {
    "query value null": {"queryStringParameters": {"a": None}, "multiValueQueryStringParameters": {"a": [None]}},
    "headers a list": {"headers": ["Content-Type"], "multiValueHeaders": None},
    "multi-value headers not lists": {"multiValueHeaders": {"Content-Type": "application/json"}},
    "body a number": {"body": 5},
    "body an object": {"body": {"instances": [ROW]}},
    "no httpMethod": {"httpMethod": None},
    "no path": {"path": None},
    "isBase64Encoded a string": {"isBase64Encoded": "yes"},
}


@pytest.mark.parametrize("name", list(ODD_EVENTS))
def test_malformed_events_get_a_400_not_an_exception(app: ModuleType, name: str) -> None:
    event = load_event("predict-single")
    for key, value in ODD_EVENTS[name].items():
        if value is None and key in ("httpMethod", "path"):
            del event[key]
        else:
            event[key] = value
    response = invoke(app, event)
    assert response["statusCode"] == 400, response
    body = json.loads(response["body"])
    assert body["error"] == "bad_event"
    assert body["details"][0]["field"].startswith("event")


@pytest.mark.parametrize("event", [None, [], "text", 5])
def test_an_event_that_is_not_an_object_gets_a_400(app: ModuleType, event: Any) -> None:
    response = invoke(app, event)
    assert response["statusCode"] == 400


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temp", "0.5"),
        ("temp", " 0.5 "),
        ("hum", "1_000"),
        ("temp", True),
        ("weathersit", "1"),
        ("weathersit", True),
        ("yr", "1"),
        ("dteday", "20120601ab"),
        ("dteday", " 2012-06-01"),
        ("dteday", "2012-06-01 "),
        ("dteday", 20120601),
    ],
)
def test_a_string_is_not_a_number_and_trailing_garbage_is_not_a_date(app: ModuleType, field: str, value: Any) -> None:
    for rows in (1, 20):  # row by row, and column by column
        status, body, _ = post(app, json.dumps({"instances": [ROW | {field: value}] * rows}))
        assert status == 422, (field, value, rows, body)
        assert body["details"][0]["field"] == f"instances[0].{field}", body


@pytest.mark.parametrize("text", ISO_FORMS_OF_2012_06_01)
def test_iso_8601_forms_are_read_with_the_date_as_written(app: ModuleType, text: str) -> None:
    for rows in (1, 20):
        status, body, _ = post(app, json.dumps({"instances": [ROW | {"dteday": text}] * rows}))
        assert status == 200, (text, body)
        reference = post(app, json.dumps({"instances": [ROW] * rows}))[1]
        assert body["predictions"] == reference["predictions"], text


def test_the_body_limit_counts_bytes(app: ModuleType) -> None:
    # 2.6 million two-byte characters: under 5,000,000 characters, over 5,000,000 bytes.
    status, body, _ = post(app, json.dumps({"instances": [ROW], "note": "é" * 2_600_000}, ensure_ascii=False))
    assert status == 413, body
    assert "bytes" in body["message"]


def test_error_answers_carry_the_model_version(app: ModuleType, built_artifact: publish.Artifact) -> None:
    for body, path in ((with_row(weathersit=9), "/predict"), ("{", "/predict"), ("{}", "/nowhere")):
        response = invoke(app, predict_event(body, path))
        assert response["statusCode"] in (404, 422)
        assert header(response, "X-Model-Version") == built_artifact.version, (path, response)


def test_log_lines_are_clipped(caplog: pytest.LogCaptureFixture, app: ModuleType) -> None:
    # Records, not stdout: Powertools' handler writes to the stream of the first import of the logger's name.
    caplog.clear()
    key = "k" * 4_900_000
    response = invoke(app, predict_event(json.dumps({key: ROW | {"dteday": "2013-06-01"}}), "/api/makecalc/"))
    assert response["statusCode"] in (200, 413)
    messages = [record.getMessage() for record in caplog.records]
    assert any(message.startswith("row 'kkkkkkkk") for message in messages), messages  # logged, its key clipped
    assert sum(map(len, messages)) < 50_000


def test_a_calendar_field_that_contradicts_the_date_is_used_with_a_warning(app: ModuleType) -> None:
    for rows in (1, 20):
        status, body, _ = post(app, json.dumps({"instances": [ROW | {"yr": 0}] * rows}))
        assert status == 200, body
        assert any(w.startswith("instances[0]: yr=0 contradicts dteday=2012-06-01") for w in body["warnings"]), body
        derived = post(app, json.dumps({"instances": [ROW] * rows}))[1]
        assert body["predictions"] != derived["predictions"]  # the given value is used, as the seed contract says
