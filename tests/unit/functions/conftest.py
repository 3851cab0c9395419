"""Fixtures of the handler tests: a moto bucket with the artifact put in place as production does, and the handler
imported as a cold start would import it."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from types import ModuleType

import boto3
import pytest
from moto import mock_aws

from bikecast.store import S3Store
from tests.conftest import BUCKET, put_in_place
from training import publish


def fresh_app() -> ModuleType:
    """Import the handler as a cold start would: module globals, model load and all."""
    sys.modules.pop("app", None)
    return importlib.import_module("app")


@pytest.fixture
def s3(aws_env: None, powertools_env: None) -> Iterator[S3Store]:
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield S3Store(BUCKET)


@pytest.fixture
def published(s3: S3Store, built_artifact: publish.Artifact) -> publish.Artifact:
    put_in_place(built_artifact)
    return built_artifact


@pytest.fixture
def app(published: publish.Artifact) -> ModuleType:
    return fresh_app()
