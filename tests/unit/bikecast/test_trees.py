"""The tree-array serving format: same forecasts as scikit-learn, data-only file, used for small batches."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from bikecast import features
from bikecast.registry import MODEL_FILE
from bikecast.serving import ServingModel
from bikecast.trees import SMALL_BATCH, TREES_FILE, TreeEnsemble
from training import publish
from training.data import TrainingData


@pytest.fixture(scope="module")
def ensemble(built_artifact: publish.Artifact) -> TreeEnsemble:
    return TreeEnsemble.from_bytes(built_artifact.files[TREES_FILE])


def test_agrees_with_scikit_learn_on_every_row(
    ensemble: TreeEnsemble, built_artifact: publish.Artifact, training_data: TrainingData
) -> None:
    pipeline = ServingModel("v", built_artifact.manifest, built_artifact.files[MODEL_FILE], None).pipeline
    batch = training_data.batch
    ours = ensemble.predict(features.feature_matrix(batch))
    assert np.max(np.abs(ours - pipeline.predict(batch))) < 1e-6
    assert (np.rint(ours) == np.rint(pipeline.predict(batch))).all()
    serving = built_artifact.manifest["serving"]
    assert serving["format"] == "trees-npz"
    assert serving["max_abs_diff"] <= 0.5
    assert serving["rows_checked"] == 731


def test_extreme_inputs_still_land_on_leaves(ensemble: TreeEnsemble) -> None:
    extreme = np.array([[1e30] * len(features.FEATURE_NAMES), [-1e30] * len(features.FEATURE_NAMES)])
    assert np.isfinite(ensemble.predict(extreme)).all()


def test_the_file_is_data_only(built_artifact: publish.Artifact) -> None:
    with zipfile.ZipFile(io.BytesIO(built_artifact.files[TREES_FILE])) as archive:
        for name in archive.namelist():
            header = archive.read(name)[:10]
            assert header.startswith(b"\x93NUMPY"), name  # plain arrays; np.load(allow_pickle=False) refuses objects


def test_small_batches_use_the_trees_and_large_ones_the_pipeline(
    ensemble: TreeEnsemble, built_artifact: publish.Artifact, training_data: TrainingData
) -> None:
    model = ServingModel("v", built_artifact.manifest, built_artifact.files[MODEL_FILE], ensemble)
    small = {k: v[:SMALL_BATCH] for k, v in training_data.batch.items()}
    model.predict(small)
    assert model._pipeline is None  # never unpickled
    large = {k: np.concatenate([v, v]) for k, v in training_data.batch.items()}
    assert len(large["dteday"]) > SMALL_BATCH
    model.predict(large)
    assert model._pipeline is not None
