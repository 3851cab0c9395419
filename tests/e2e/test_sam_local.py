"""End to end through SAM CLI: `sam build`, `sam local invoke` and `sam local start-api` in Docker, against a model
trained here and published into moto_server. Needs Docker and the Lambda base image (`make emulation`)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import pytest
import requests
import sam_local

from bikecast import rows
from bikecast.registry import MODEL_FILE
from bikecast.store import S3Store
from tests.conftest import DAILY, EVENTS, load_event, put_in_place
from training import publish
from training.data import Labelled

pytestmark = pytest.mark.e2e
BUCKET = "e2e-models"
SEED_ACTUAL = {"0": 985, "1": 801, "2": 1349}


@pytest.fixture(scope="module")
def local_stack(
    sam_built: Path,
    moto_url: str,
    built_artifact: publish.Artifact,
    hourly_artifact: publish.Artifact,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """An env file pointing the built function at both models, published in moto_server through the gate."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in sam_local.FAKE_AWS.items():
            patch.setenv(name, value)
        patch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
        S3Store(BUCKET).ensure_bucket()
        put_in_place(built_artifact, BUCKET)
        put_in_place(hourly_artifact, BUCKET)
    return sam_local.env_file(BUCKET, moto_url, tmp_path_factory.mktemp("sam") / "env.json")


@pytest.fixture(scope="module")
def api(local_stack: Path, moto_url: str) -> Iterator[str]:
    with sam_local.start_api(local_stack, aws_endpoint=moto_url) as local_api:
        # /health has answered: the predict function's container is up, and stays up (warm, LAZY).
        assert len(sam_local.containers(local_api.network)) == 1, "start-api keeps no warm container"
        yield local_api.url
    assert not sam_local.containers(local_api.network), "start-api left containers behind"
    assert not sam_local.network_exists(local_api.network)


def assert_seed_answer(body: dict[str, int]) -> None:
    assert list(body) == ["0", "1", "2"]
    for key, actual in SEED_ACTUAL.items():
        assert isinstance(body[key], int)
        assert body[key] > 0
        assert abs(body[key] - actual) <= 0.35 * actual, (key, body[key], actual)


def test_invoke_answers_the_seed_event(local_stack: Path, moto_url: str, built_artifact: publish.Artifact) -> None:
    answer = sam_local.invoke(
        "PredictFunction", EVENTS / "makecalc-seed.json", local_stack, aws_endpoint=moto_url
    ).answer
    assert answer["statusCode"] == 200
    assert answer["multiValueHeaders"]["X-Model-Version"] == [built_artifact.version]
    assert_seed_answer(json.loads(answer["body"]))


def test_invoke_answers_a_bad_event_with_422(local_stack: Path, moto_url: str) -> None:
    answer = sam_local.invoke(
        "PredictFunction", EVENTS / "bad-weathersit.json", local_stack, aws_endpoint=moto_url
    ).answer
    assert answer["statusCode"] == 422
    assert json.loads(answer["body"])["details"][0]["field"] == "instances[0].weathersit"


def test_the_article_client_gets_three_forecasts(api: str) -> None:
    # The seed article's client code, with only the URL changed.
    url = f"{api}/api/makecalc/"
    text = load_event("makecalc-seed")["body"]
    headers = {"content-type": "application/json", "Accept-Charset": "UTF-8"}
    r = requests.post(url, data=text, headers=headers, timeout=60)
    assert r.status_code == 200
    assert_seed_answer(r.json())


def test_documented_api_batch_health_and_model(api: str, built_artifact: publish.Artifact) -> None:
    body = json.loads(load_event("predict-batch")["body"])
    r = requests.post(f"{api}/predict", json=body, timeout=60)
    assert r.status_code == 200
    answer = r.json()
    assert len(answer["predictions"]) == len(body["instances"])
    assert answer["model_version"] == built_artifact.version
    assert any(w.startswith("instances[3]: yr=2") for w in answer["warnings"])
    assert requests.get(f"{api}/health", timeout=30).json()["model_version"] == built_artifact.version
    assert requests.get(f"{api}/model", timeout=30).json()["metrics"]["chronological"]["model"]["rmse"] > 0


@pytest.mark.parametrize("name", sorted(json.loads((EVENTS / "bad-requests.expected.json").read_text())))
def test_bad_requests_get_a_4xx_naming_the_field(api: str, name: str) -> None:
    event = load_event(name)
    expected_field = json.loads((EVENTS / "bad-requests.expected.json").read_text())[name]
    headers = {k: v for k, v in event["headers"].items() if k.lower() == "content-type"}
    r = requests.post(f"{api}{event['path']}", data=event["body"], headers=headers, timeout=60)
    assert 400 <= r.status_code < 500, r.text
    assert expected_field in [d["field"] for d in r.json()["details"]]


def test_built_layers_carry_bytecode_and_the_predict_layers_no_scikit_learn(sam_built: Path) -> None:
    """/opt is read-only in Lambda: without .pyc files every cold start compiles the code again."""
    for package in (sam_built / "DepsLayer" / "python" / "pydantic", sam_built / "SharedLayer" / "python" / "bikecast"):
        sources = {p.stem for p in package.glob("*.py")}
        compiled = {p.name.split(".")[0] for p in package.glob("__pycache__/*.cpython-313.pyc")}
        assert sources, package
        assert sources <= compiled, (package, sorted(sources - compiled)[:5])
    assert not (sam_built / "DepsLayer" / "python" / "sklearn").exists()
    assert not (sam_built / "DepsLayer" / "python" / "scipy").exists()
    assert (sam_built / "SklearnLayer" / "python" / "sklearn").is_dir()
    assert not (sam_built / "SklearnLayer" / "python" / "numpy").exists()  # one numpy: DepsLayer's


def test_ten_thousand_rows_are_answered_by_the_slim_function(
    api: str, built_artifact: publish.Artifact, training_data: Labelled
) -> None:
    """The deployed function has no scikit-learn (see above); its tree file answers a full batch exactly as the
    fitted model does."""
    index = np.arange(10_000) % len(training_data)
    batch = {name: column[index] for name, column in training_data.batch.items()}
    instances = [row.model_dump(mode="json") for row in rows.Columns(DAILY.row, batch)]
    r = requests.post(f"{api}/predict", json={"instances": instances}, timeout=120)
    assert r.status_code == 200, r.text[:500]
    fitted = joblib.load(io.BytesIO(built_artifact.files[MODEL_FILE]))
    assert r.json()["predictions"] == DAILY.answer(fitted.predict(batch))


def test_the_hourly_model_answers_beside_the_daily_one(api: str, hourly_artifact: publish.Artifact) -> None:
    hours = [json.loads(load_event("predict-single")["body"])["instances"][0] | {"hr": hour} for hour in range(24)]
    r = requests.post(f"{api}/models/hourly/predict", json={"instances": hours}, timeout=60)
    assert r.status_code == 200, r.text[:500]
    assert r.headers["X-Model-Version"] == hourly_artifact.version
    assert len(r.json()["predictions"]) == 24
    listed = requests.get(f"{api}/models", timeout=30).json()
    assert [m["name"] for m in listed["models"]] == ["daily", "hourly"]
    assert requests.get(f"{api}/models/weekly", timeout=30).status_code == 404
