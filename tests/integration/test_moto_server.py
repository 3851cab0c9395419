"""Training and the predict handler against moto_server over HTTP: the same S3 calls as on AWS."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from bikecast.registry import ModelRegistry
from bikecast.store import S3Store
from tests.conftest import DAILY, REPO, FakeLambdaContext, load_event, put_in_place
from training import cli, data, publish

pytestmark = pytest.mark.integration


@pytest.fixture
def endpoint(moto_url: str, aws_env: None, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
    return moto_url


def test_train_publishes_over_http_and_the_handler_serves_it(
    endpoint: str, powertools_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bucket = "integration-models"
    assert cli.main(["train", "--bucket", bucket, "--create-bucket", "--output-dir", str(tmp_path)]) == 0
    registry = ModelRegistry(S3Store(bucket))
    pointer = registry.current()
    assert pointer is not None
    assert pointer.version in registry.versions()

    monkeypatch.setenv("MODEL_BUCKET", bucket)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    monkeypatch.setenv("S3_ENDPOINT_URL", endpoint)  # the variable the SAM template declares
    sys.modules.pop("app", None)
    app = importlib.import_module("app")
    response = app.lambda_handler(load_event("makecalc-seed"), FakeLambdaContext())
    assert response["statusCode"] == 200
    assert response["multiValueHeaders"]["X-Model-Version"] == [pointer.version]
    assert sorted(json.loads(response["body"])) == ["0", "1", "2"]


def test_training_data_from_an_s3_uri_is_checked_against_its_sha256(endpoint: str, tmp_path: Path) -> None:
    bucket = "integration-data"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="training-data/day.csv", Body=data.bundled(DAILY).read_bytes())
    expected = data.expected_sha256(str(data.bundled(DAILY)))
    assert expected
    uri = f"s3://{bucket}/training-data/day.csv"
    assert len(data.load(DAILY, uri, expected)) == 731
    with pytest.raises(data.DataRejected, match="sha256"):
        data.load(DAILY, uri, "0" * 64)


def test_a_cold_start_answering_small_requests_never_imports_scikit_learn(
    endpoint: str, built_artifact: publish.Artifact, tmp_path: Path
) -> None:
    bucket = "integration-cold"
    S3Store(bucket).ensure_bucket()
    put_in_place(built_artifact, bucket)
    script = f"""
import json, os, sys
sys.path[:0] = {[str(REPO / "layers" / "shared"), str(REPO / "functions" / "predict"), str(REPO)]!r}
os.environ.update(MODEL_BUCKET={bucket!r}, S3_ENDPOINT_URL={endpoint!r}, POWERTOOLS_TRACE_DISABLED="true",
                  POWERTOOLS_METRICS_NAMESPACE="bikecast")
import app

class Context:
    function_name, memory_limit_in_mb, aws_request_id = "PredictFunction", 1024, "cold"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:PredictFunction"

event = json.load(open({str(REPO / "events" / "makecalc-seed.json")!r}))
response = app.lambda_handler(event, Context())
print("RESULT", json.dumps({{"status": response["statusCode"],
                             "sklearn": sorted(m for m in sys.modules if m.split(".")[0] in ("sklearn", "scipy"))}}))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    assert json.loads(line.removeprefix("RESULT ")) == {"status": 200, "sklearn": []}
