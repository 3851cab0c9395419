"""The predict handler, in process, against moto's in-memory S3 and the sample events in events/."""

from __future__ import annotations

import json
import math
from types import ModuleType
from typing import Any

import pytest

from bikecast.store import S3Store
from tests.conftest import EVENTS, REPO, FakeLambdaContext, load_event, put_in_place
from tests.unit.functions.conftest import fresh_app
from training import publish

SEED_ACTUAL = {"0": 985, "1": 801, "2": 1349}


def call(app: ModuleType, event: dict[str, Any], context: FakeLambdaContext) -> tuple[int, dict[str, Any], Any]:
    response = app.lambda_handler(event, context)
    headers = dict(response.get("headers") or {})
    headers.update({name: values[-1] for name, values in (response.get("multiValueHeaders") or {}).items()})
    return response["statusCode"], headers, json.loads(response["body"])


def test_seed_request_gets_the_article_contract(app: ModuleType, lambda_context: FakeLambdaContext) -> None:
    status, headers, body = call(app, load_event("makecalc-seed"), lambda_context)
    assert status == 200
    assert list(body) == ["0", "1", "2"]
    for key, actual in SEED_ACTUAL.items():
        assert isinstance(body[key], int)
        assert body[key] > 0
        assert abs(body[key] - actual) <= 0.35 * actual, (key, body[key], actual)
    assert headers["X-Model-Version"]


def test_predict_batch_returns_counts_version_and_range_warnings(
    app: ModuleType, published: publish.Artifact, lambda_context: FakeLambdaContext
) -> None:
    status, _, body = call(app, load_event("predict-batch"), lambda_context)
    assert status == 200
    assert len(body["predictions"]) == 4
    assert all(isinstance(p, int) and p >= 0 for p in body["predictions"])
    assert body["model_version"] == published.version
    # row 3 is in 2013: yr=2 and its date lie outside what training saw, and the answer says so
    assert any(w.startswith("instances[3]: yr=2 is outside") for w in body["warnings"])
    assert any(w.startswith("instances[3]: dteday=2013-06-01 is outside") for w in body["warnings"])
    assert not any(w.startswith("instances[0]") for w in body["warnings"])


def test_out_of_range_value_is_forecast_with_a_warning(app: ModuleType, lambda_context: FakeLambdaContext) -> None:
    event = load_event("predict-single")
    row = json.loads(event["body"])["instances"][0] | {"windspeed": 2000}
    event["body"] = json.dumps({"instances": [row]})
    status, _, body = call(app, event, lambda_context)
    assert status == 200
    assert len(body["predictions"]) == 1
    assert body["warnings"] == [
        "instances[0]: windspeed=2000 is outside the range seen in training [0.022392, 0.507463]; "
        "the forecast is an extrapolation"
    ]


def test_missing_calendar_fields_are_derived_from_the_date(app: ModuleType, lambda_context: FakeLambdaContext) -> None:
    full = json.loads(load_event("predict-single")["body"])["instances"][0]
    weather_only = {k: full[k] for k in ("dteday", "weathersit", "temp", "atemp", "hum", "windspeed")}
    event = load_event("predict-single")
    event["body"] = json.dumps({"instances": [full, weather_only]})
    status, _, body = call(app, event, lambda_context)
    assert status == 200
    assert body["predictions"][0] == body["predictions"][1]


@pytest.mark.parametrize("name", sorted(json.loads((EVENTS / "bad-requests.expected.json").read_text())))
def test_bad_requests_get_a_4xx_naming_the_field(app: ModuleType, lambda_context: FakeLambdaContext, name: str) -> None:
    expected_field = json.loads((EVENTS / "bad-requests.expected.json").read_text())[name]
    status, _, body = call(app, load_event(name), lambda_context)
    assert 400 <= status < 500, body
    assert body["error"] in ("invalid_request", "unsupported_media_type")
    assert expected_field in [d["field"] for d in body["details"]], body
    assert "Traceback" not in json.dumps(body)


def test_batch_over_the_limit_is_413(
    app: ModuleType, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    row = json.loads(load_event("predict-single")["body"])["instances"][0]
    event = load_event("predict-single")
    event["body"] = json.dumps({"instances": [row] * (app.settings.max_batch_rows + 1)})
    status, _, body = call(app, event, lambda_context)
    assert status == 413
    assert body["details"][0]["field"] == "instances"


def test_health_and_model_report_the_version(
    app: ModuleType, published: publish.Artifact, lambda_context: FakeLambdaContext
) -> None:
    status, _, health = call(app, load_event("health"), lambda_context)
    assert (status, health["status"], health["model_version"]) == (200, "ok", published.version)
    status, _, manifest = call(app, load_event("model"), lambda_context)
    assert status == 200
    assert manifest["version"] == published.version
    assert set(manifest["metrics"]) == {"chronological", "random_80_20"}
    assert "source" not in manifest["training_data"]


def test_without_a_model_predict_is_503_and_health_says_why(s3: S3Store, lambda_context: FakeLambdaContext) -> None:
    app = fresh_app()  # bucket exists, nothing published
    status, _, body = call(app, load_event("makecalc-seed"), lambda_context)
    assert status == 503
    assert body["error"] == "model_unavailable"
    status, _, health = call(app, load_event("health"), lambda_context)
    assert status == 503
    assert health["status"] == "unavailable"
    assert health["reason"]


def test_body_over_the_byte_limit_is_413_before_parsing(
    published: publish.Artifact, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_BODY_BYTES", "1000")
    app = fresh_app()
    event = load_event("predict-single")
    event["body"] = json.dumps({"instances": [json.loads(event["body"])["instances"][0]] * 10})
    status, _, body = call(app, event, lambda_context)
    assert status == 413
    assert body["details"][0]["field"] == "body"
    assert "at most 1,000 are accepted" in body["message"]


LEGACY = REPO / "tests" / "fixtures" / "legacy-daily"  # written by bikecast before model specs (commit c543f9d)


def test_a_bucket_written_before_model_specs_is_served_as_it_was(
    s3: S3Store, lambda_context: FakeLambdaContext
) -> None:
    """Same layout, same answers: the old version is served with the features it was exported for."""
    manifest = json.loads((LEGACY / "manifest.json").read_text())
    version = manifest["version"]
    s3.put_new(f"models/versions/{version}/model.trees.npz", (LEGACY / "model.trees.npz").read_bytes(), "x")
    s3.put_new(f"models/versions/{version}/manifest.json", (LEGACY / "manifest.json").read_bytes(), "x")
    s3.put_new("models/current.json", json.dumps({"version": version}).encode(), "application/json")
    app = fresh_app()
    status, headers, body = call(app, load_event("makecalc-seed"), lambda_context)
    assert (status, headers["X-Model-Version"]) == (200, version)
    assert body == {"0": 918, "1": 1013, "2": 1406}  # what that code answered
    status, _, body = call(app, load_event("predict-batch"), lambda_context)
    assert status == 200
    assert "intervals" not in body  # published before intervals were calibrated
    event = load_event("predict-single")
    event["body"] = json.dumps(json.loads(event["body"]) | {"explain": True})
    status, _, body = call(app, event, lambda_context)
    assert (status, body["details"][0]["field"]) == (422, "explain")
    assert call(app, load_event("health"), lambda_context)[0] == 200
    assert call(app, load_event("model"), lambda_context)[2]["version"] == version


def test_explanations_take_each_forecast_apart_by_field(app: ModuleType, lambda_context: FakeLambdaContext) -> None:
    status, _, body = call(app, load_event("predict-explain"), lambda_context)
    assert status == 200, body
    inputs = set(json.loads(load_event("predict-single")["body"])["instances"][0])
    for forecast, explanation in zip(body["predictions"], body["explanations"], strict=True):
        contributions = explanation["contributions"]
        assert set(contributions) <= inputs
        assert "yr" in contributions
        assert "dteday" in contributions
        assert "atemp" not in contributions  # not a feature of the model
        # in the model's output space, the log of the count: the forecast is the exponential of the sum
        total = explanation["baseline"] + sum(contributions.values())
        assert abs(math.exp(total) - forecast) <= 0.5 + 1e-9 * forecast
    first = body["explanations"][0]["contributions"]
    assert first["yr"] < 0 < body["explanations"][1]["contributions"]["yr"]  # 2011 below, 2012 above the mean


def test_every_forecast_has_its_interval(app: ModuleType, lambda_context: FakeLambdaContext) -> None:
    status, _, body = call(app, load_event("predict-batch"), lambda_context)
    assert status == 200
    assert body["interval_level"] == 0.8
    for forecast, interval in zip(body["predictions"], body["intervals"], strict=True):
        assert isinstance(interval["lower"], int)
        assert isinstance(interval["upper"], int)
        assert 0 <= interval["lower"] <= forecast <= interval["upper"]


def test_the_models_route_lists_each_model(app: ModuleType, lambda_context: FakeLambdaContext) -> None:
    status, _, body = call(app, load_event("models"), lambda_context)
    assert status == 200
    assert body["default"] == "daily"
    daily, hourly = body["models"]
    assert (daily["name"], hourly["name"]) == ("daily", "hourly")
    assert daily["version"] is not None
    assert hourly["version"] is None  # none published in this bucket: listed, without a version
    assert "hr" in hourly["required_fields"]
    assert call(app, load_event("hourly-predict"), lambda_context)[0] == 503


def test_the_hourly_model_answers_on_its_route(
    published: publish.Artifact, hourly_artifact: publish.Artifact, lambda_context: FakeLambdaContext
) -> None:
    put_in_place(hourly_artifact)
    app = fresh_app()
    status, headers, body = call(app, load_event("hourly-predict"), lambda_context)
    assert (status, headers["X-Model-Version"]) == (200, hourly_artifact.version)
    assert len(body["predictions"]) == len(body["intervals"]) == 24
    assert call(app, load_event("makecalc-seed"), lambda_context)[1]["X-Model-Version"] == published.version
    status, _, manifest = call(app, dict(load_event("model"), path="/models/hourly"), lambda_context)
    assert (status, manifest["model_name"]) == (200, "hourly")
