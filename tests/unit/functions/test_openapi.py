"""The OpenAPI contract: generated from the handler's routes and models, committed as openapi/openapi.json, and
served with Swagger UI only when ENABLE_SWAGGER=true.

Regenerate the committed file after changing a route or a model:

    BIKECAST_UPDATE_OPENAPI=1 .venv/bin/python -m pytest tests/unit/functions/test_openapi.py
"""

from __future__ import annotations

import difflib
import importlib
import json
import os
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

import bikecast
from tests.conftest import BUCKET, REPO, FakeLambdaContext, load_event

SPEC = REPO / "openapi" / "openapi.json"
REGENERATE = "BIKECAST_UPDATE_OPENAPI=1 .venv/bin/python -m pytest tests/unit/functions/test_openapi.py"
ERROR_STATUSES = {"413", "415", "422", "503"}


def fresh_app() -> ModuleType:
    """Import the handler as a cold start would (module globals read the environment then)."""
    sys.modules.pop("app", None)
    return importlib.import_module("app")


@pytest.fixture
def start(aws_env: None, powertools_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """In moto's S3 with an empty bucket: the handler starts (no model, which these tests do not need)."""
    monkeypatch.delenv("ENABLE_SWAGGER", raising=False)
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield monkeypatch


def get(app: ModuleType, path: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    event = load_event("health")
    event["path"] = event["resource"] = event["requestContext"]["resourcePath"] = path
    event["requestContext"]["path"] = f"/Prod{path}"
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    response: dict[str, Any] = app.lambda_handler(event, FakeLambdaContext())
    return response


def content_type(response: dict[str, Any]) -> str:
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    headers.update({k.lower(): v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()})
    return str(headers.get("content-type", ""))


def test_committed_spec_is_the_one_the_handler_generates(start: pytest.MonkeyPatch) -> None:
    generated = fresh_app().openapi_json()
    if os.environ.get("BIKECAST_UPDATE_OPENAPI") == "1":
        SPEC.parent.mkdir(exist_ok=True)
        SPEC.write_text(generated, encoding="utf-8")
    committed = SPEC.read_text(encoding="utf-8") if SPEC.exists() else ""
    if committed != generated:
        diff = difflib.unified_diff(
            committed.splitlines(), generated.splitlines(), "openapi/openapi.json", "app.openapi_json()", lineterm=""
        )
        pytest.fail(
            "openapi/openapi.json differs from the spec the handler generates from its routes and models.\n"
            f"Regenerate it with:\n    {REGENERATE}\n\n" + "\n".join(list(diff)[:60]),
            pytrace=False,
        )


def test_spec_is_pretty_sorted_and_ends_with_a_newline() -> None:
    text = SPEC.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_spec_documents_the_api_and_its_errors() -> None:
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    assert spec["info"]["title"] == "bikecast"
    assert spec["info"]["version"] == bikecast.__version__
    assert spec["info"]["description"]
    models = {"/models", "/models/daily", "/models/daily/predict", "/models/hourly", "/models/hourly/predict"}
    assert set(spec["paths"]) == {"/predict", "/api/makecalc", "/health", "/model"} | models
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for path in ("/predict", "/api/makecalc", "/models/daily/predict", "/models/hourly/predict"):
        responses = spec["paths"][path]["post"]["responses"]
        assert set(responses) >= ERROR_STATUSES, path
        for status in ERROR_STATUSES:
            assert responses[status]["content"]["application/json"]["schema"] == error_ref, (path, status)
        assert "X-Model-Version" in responses["200"]["headers"]
    assert spec["paths"]["/model"]["get"]["responses"]["503"]["content"]["application/json"]["schema"] == error_ref
    health_503 = spec["paths"]["/health"]["get"]["responses"]["503"]["content"]["application/json"]["schema"]
    assert health_503 == {"$ref": "#/components/schemas/HealthResponse"}
    request = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert request == {"$ref": "#/components/schemas/DailyPredictRequest"}
    hourly = spec["paths"]["/models/hourly/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert hourly == {"$ref": "#/components/schemas/HourlyPredictRequest"}
    answer = spec["paths"]["/predict"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/DailyPredictResponse"}


def test_swagger_is_off_by_default(start: pytest.MonkeyPatch) -> None:
    response = get(fresh_app(), "/swagger")
    assert response["statusCode"] == 404
    assert content_type(response).startswith("application/json")
    body = json.loads(response["body"])
    assert body["error"] == "not_found"
    assert body["details"] == [{"field": "path", "problem": "GET /swagger"}]
    assert get(fresh_app(), "/swagger", {"format": "json"})["statusCode"] == 404


@pytest.mark.parametrize("value", ["false", "0", "", "yes"])
def test_only_true_switches_swagger_on(start: pytest.MonkeyPatch, value: str) -> None:
    start.setenv("ENABLE_SWAGGER", value)
    assert get(fresh_app(), "/swagger")["statusCode"] == 404


def test_swagger_serves_the_ui_and_the_spec_when_switched_on(start: pytest.MonkeyPatch) -> None:
    start.setenv("ENABLE_SWAGGER", "true")
    app = fresh_app()
    page = get(app, "/swagger")
    assert page["statusCode"] == 200
    assert content_type(page).startswith("text/html")
    assert "SwaggerUIBundle" in page["body"]

    served = get(app, "/swagger", {"format": "json"})
    assert served["statusCode"] == 200
    assert content_type(served).startswith("application/json")
    spec = json.loads(served["body"])
    committed = json.loads(SPEC.read_text(encoding="utf-8"))
    # Served under the stage the request came in on (/Prod here), so "Try it out" reaches the API.
    assert spec.pop("servers") == [{"url": "/Prod"}]
    committed.pop("servers")
    assert spec == committed
    # The Swagger route itself stays out of the contract.
    assert app.openapi_json() == SPEC.read_text(encoding="utf-8")
