"""Shared fixtures: the real data sets, trained artifacts (built once per session), sample events, and putting a
model in place the way production does (through the gate)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bikecast.bikes import daily, hourly
from bikecast.spec import ModelSpec
from tests.fakes import FAKE_CREDENTIALS
from tests.fakes import FakeLambdaContext as FakeLambdaContext
from training import data, promotion, publish
from training.deployment import Deployment
from training.settings import TrainSettings

REPO = Path(__file__).resolve().parent.parent
EVENTS = REPO / "events"
BUCKET = "bikecast-test-models"
DAILY: ModelSpec = daily.SPEC
HOURLY: ModelSpec = hourly.SPEC


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def deployment(bucket: str = BUCKET, **settings: Any) -> Deployment:
    return Deployment(TrainSettings().model_copy(update={"bucket": bucket, **settings}))


def put_in_place(artifact: publish.Artifact, bucket: str = BUCKET) -> promotion.Verdict:
    """Publish a built artifact through the gate production uses; promoted when no model serves yet."""
    where = deployment(bucket)
    name = artifact.spec.name
    pointer, current = promotion.current_model(where, name)
    verdict = promotion.judge(where, name, artifact, current, progress=lambda _: None)
    return promotion.release(where, name, artifact, verdict, pointer, progress=lambda _: None)


@pytest.fixture(scope="session")
def training_data() -> data.Labelled:
    return data.load(DAILY, str(data.bundled(DAILY)))


@pytest.fixture(scope="session")
def built_artifact(training_data: data.Labelled) -> publish.Artifact:
    return publish.build(DAILY, training_data, progress=lambda _: None)


@pytest.fixture(scope="session")
def hourly_data() -> data.Labelled:
    return data.load(HOURLY, str(data.bundled(HOURLY)))


@pytest.fixture(scope="session")
def hourly_artifact(hourly_data: data.Labelled) -> publish.Artifact:
    """The hourly model trained on its first 2,000 hours: a real model for serving tests, in seconds."""
    return publish.build(HOURLY, hourly_data.subset(np.arange(2_000)), progress=lambda _: None)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, so nothing can reach a real account even by mistake."""
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "S3_ENDPOINT_URL", "MODEL_SPECS"):
        monkeypatch.delenv(name, raising=False)


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
