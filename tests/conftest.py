"""Shared fixtures: the real data set, a trained artifact (built once per session), sample events."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FAKE_CREDENTIALS
from tests.fakes import FakeLambdaContext as FakeLambdaContext
from training import data, publish

REPO = Path(__file__).resolve().parent.parent
EVENTS = REPO / "events"
BUCKET = "bikecast-test-models"


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


@pytest.fixture(scope="session")
def training_data() -> data.TrainingData:
    return data.load(str(data.DEFAULT_DATA))


@pytest.fixture(scope="session")
def built_artifact(training_data: data.TrainingData) -> publish.Artifact:
    return publish.build(training_data, progress=lambda _: None)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, so nothing can reach a real account even by mistake."""
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("S3_ENDPOINT_URL", raising=False)


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def powertools_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "bikecast-predict")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "bikecast")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_DEV", "false")
    monkeypatch.setenv("MODEL_BUCKET", BUCKET)
    monkeypatch.setenv("MODEL_PREFIX", "models/")


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto_server over real HTTP on this machine, for integration and end-to-end tests."""
    import sam_local

    with sam_local.moto_server() as url:
        yield url


def require(condition: bool, reason: str) -> None:
    """Skip on a developer machine without the prerequisite; in CI the test must run, so fail instead."""
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run this test: {reason}")
        pytest.skip(reason)
