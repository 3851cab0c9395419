"""The seam between the generic core and the model specs.

1. No core module names a spec's field: everything model-specific lives in a spec.
2. A spec defined entirely in tests/ (tests/toy/spec.py: synthetic data, other field names, no date, not counts)
   goes through train -> publish to S3 -> serve through the real predict handler -> retrain on an upload, through
   the real TrainFunction handler, with no edit outside tests/.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from moto import mock_aws

from bikecast.spec import ModelSpec, load_specs
from tests.conftest import BUCKET, REPO, FakeLambdaContext, load_event
from tests.toy import spec as toy

CORE = sorted(
    [
        *(REPO / "layers/shared/bikecast").glob("*.py"),
        *(REPO / "training").glob("*.py"),
        REPO / "functions/predict/app.py",
    ]
)


def field_names(spec: ModelSpec) -> set[str]:
    return {*spec.input_fields, *spec.data.labels.model_fields, *spec.feature_names}


def mentions(path: Path, names: set[str]) -> list[str]:
    text = path.read_text(encoding="utf-8")
    shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path.name
    return [
        f"{shown}:{text.count(chr(10), 0, m.start()) + 1}: {name}"
        for name in sorted(names)
        for m in re.finditer(rf"\b{re.escape(name)}\b", text)
    ]


@pytest.mark.parametrize("spec", [*load_specs().values(), toy.SPEC], ids=lambda spec: spec.name)
def test_no_core_module_names_a_field_of_a_spec(spec: ModelSpec) -> None:
    assert CORE, "no core modules found"
    found = [line for path in CORE for line in mentions(path, field_names(spec))]
    assert found == [], "model-specific names in the core:\n" + "\n".join(found)


def test_the_check_finds_a_field_name_where_one_is(tmp_path: Path) -> None:
    planted = tmp_path / "core.py"
    planted.write_text('value = batch["weathersit"]  # no weathersitting here\n')
    assert mentions(planted, {"weathersit", "sit"}) == ["core.py:1: weathersit"]


# -- the toy spec, end to end in process -------------------------------------------------------------------------


@pytest.fixture
def toy_deployment(aws_env: None, powertools_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MODEL_SPECS", "tests.toy.spec:SPEC")
    monkeypatch.setenv("MODEL_REFRESH_SECONDS", "0")
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield


def fresh(module: str) -> ModuleType:
    sys.modules.pop(module, None)
    return importlib.import_module(module)


def upload(handler: ModuleType, key: str, text: str) -> dict[str, Any]:
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=text.encode())
    event = copy.deepcopy(load_event("s3-put-training-data"))
    event["Records"][0]["s3"]["bucket"]["name"] = BUCKET
    event["Records"][0]["s3"]["object"]["key"] = quote_plus(key, safe="/")
    (outcome,) = handler.lambda_handler(event, FakeLambdaContext())["outcomes"]
    return dict(outcome)


def ask(app: ModuleType, path: str, body: Any = None) -> tuple[int, Any, str | None]:
    event = load_event("predict-single" if body is not None else "health")
    event.update(path=path, resource=path, body=None if body is None else json.dumps(body))
    if body is None:
        event["httpMethod"] = "GET"
    response = app.lambda_handler(event, FakeLambdaContext())
    version = (response.get("multiValueHeaders") or {}).get("X-Model-Version", [None])[-1]
    return response["statusCode"], json.loads(response["body"]), version


def test_a_spec_defined_in_the_tests_trains_serves_and_retrains(toy_deployment: None) -> None:
    trainer = fresh("training.handler")
    first = upload(trainer, "training-data/machines-1.csv", toy.csv_text(range(0, 400), seed=1))
    assert (first["model"], first["status"], first["promoted"]) == ("toy", "trained", True), first

    app = fresh("app")
    rows = [
        {"machine_id": 9000, "utilisation": 0.5, "fan_level": 1, "room_celsius": 21.0},
        {"machine_id": 9001, "utilisation": 0.9, "fan_level": 0, "room_celsius": -5.0},
    ]
    status, body, version = ask(app, "/predict", {"instances": rows, "explain": True})
    assert (status, version) == (200, first["version"]), body
    expected = [21 + 20 - 6, -5 + 36]
    for forecast, truth in zip(body["predictions"], expected, strict=True):
        assert isinstance(forecast, float)
        assert abs(forecast - truth) < 6, (forecast, truth)  # degrees, not counts: decimals, may be negative
    for explanation, forecast in zip(body["explanations"], body["predictions"], strict=True):
        # room_celsius_squared is folded onto room_celsius; machine_id is no feature
        assert set(explanation["contributions"]) == {"utilisation", "fan_level", "room_celsius"}
        assert explanation["baseline"] + sum(explanation["contributions"].values()) == pytest.approx(forecast)
    status, listed, _ = ask(app, "/models")
    assert [m["name"] for m in listed["models"]] == ["toy"]
    assert ask(app, "/models/toy/predict", {"instances": rows})[0] == 200
    assert ask(app, "/models/daily/predict", {"instances": rows})[0] == 404

    second = upload(trainer, "training-data/machines-2.csv", toy.csv_text(range(400, 800), seed=2))
    assert second["status"] == "trained", second
    assert second["promoted"] is True, second["reason"]
    assert ask(app, "/predict", {"instances": rows})[2] == second["version"]  # the warm function follows
