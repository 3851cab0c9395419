import copy

import pytest

from bikecast import artifact
from bikecast.features import batch_from_observations
from bikecast.registry import MODEL_FILE
from training import publish
from training.data import TrainingData


def test_round_trip_predicts_the_same(built_artifact: publish.Artifact, training_data: TrainingData) -> None:
    model_bytes = built_artifact.files[MODEL_FILE]
    loaded = artifact.load_model(model_bytes, built_artifact.manifest)
    again = artifact.load_model(model_bytes, built_artifact.manifest)
    batch = batch_from_observations(training_data.rows[:50])
    assert (loaded.predict(batch) == again.predict(batch)).all()


def test_tampered_or_truncated_model_is_refused_before_unpickling(built_artifact: publish.Artifact) -> None:
    model_bytes = built_artifact.files[MODEL_FILE]
    for broken in (model_bytes[:-100], model_bytes[:10] + b"x" + model_bytes[11:]):
        with pytest.raises(artifact.ArtifactInvalid, match="does not match the manifest"):
            artifact.load_model(broken, built_artifact.manifest)


def test_other_scikit_learn_minor_version_is_refused(built_artifact: publish.Artifact) -> None:
    manifest = copy.deepcopy(built_artifact.manifest)
    manifest["libraries"]["scikit-learn"] = "0.24.2"
    with pytest.raises(artifact.ArtifactInvalid, match=r"trained with scikit-learn 0\.24\.2"):
        artifact.load_model(built_artifact.files[MODEL_FILE], manifest)


def test_manifest_describes_the_artifact(built_artifact: publish.Artifact) -> None:
    manifest = built_artifact.manifest
    assert manifest["model"]["sha256"] == artifact.sha256_hex(built_artifact.files[MODEL_FILE])
    assert manifest["training_data"]["rows"] == 731
    assert manifest["training_data"]["sha256"].startswith("a6bcf826")
    assert set(manifest["libraries"]) >= {"python", "scikit-learn", "numpy"}
    assert manifest["input_schema"]["temp"] == {"type": "number", "required": True, "min": 0.0591304, "max": 0.861667}
    assert manifest["input_schema"]["weekday"]["required"] is False
    for holdout in ("chronological", "random_80_20"):
        result = manifest["metrics"][holdout]
        assert result["model"]["rmse"] < result["baseline"]["rmse"], holdout
