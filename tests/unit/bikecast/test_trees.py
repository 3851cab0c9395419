"""The tree-array serving format: same forecasts as scikit-learn, data-only file, no scikit-learn at serving."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from bikecast import features
from bikecast.registry import MODEL_FILE
from bikecast.serving import ServingModel
from bikecast.trees import MAX_LEAVES, TREES_FILE, TreeEnsemble
from training import publish
from training.data import TrainingData


@pytest.fixture(scope="module")
def ensemble(built_artifact: publish.Artifact) -> TreeEnsemble:
    return TreeEnsemble.from_bytes(built_artifact.files[TREES_FILE])


def test_agrees_with_scikit_learn_on_every_row(
    ensemble: TreeEnsemble, built_artifact: publish.Artifact, training_data: TrainingData
) -> None:
    pipeline = ServingModel("v", built_artifact.manifest, None, lambda: built_artifact.files[MODEL_FILE]).pipeline
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


def test_batches_of_every_size_never_unpickle_the_pipeline(
    ensemble: TreeEnsemble, built_artifact: publish.Artifact, training_data: TrainingData
) -> None:
    def never_fetched() -> bytes:
        raise AssertionError("the joblib pipeline was fetched")

    model = ServingModel("v", built_artifact.manifest, ensemble, never_fetched)
    for rows in (1, 731, 10_000):
        batch = {k: np.resize(v, rows) for k, v in training_data.batch.items()}
        assert len(model.predict(batch)) == rows
    assert model._pipeline is None


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("trees", [1, 2, 7])
def test_agrees_with_scikit_learn_on_uneven_trees(depth: int, trees: int) -> None:
    """Trees of different shapes (a stump, unbalanced ones), an odd tree count, ties on thresholds, and
    values exactly on a threshold: the leaf-bitmask walk must land where scikit-learn does."""
    from sklearn.ensemble import GradientBoostingRegressor

    rng = np.random.default_rng(depth * 10 + trees)
    x = rng.integers(0, 5, size=(400, 4)).astype(np.float64) / 4  # few distinct values: ties and exact hits
    y = x[:, 0] * 3 + (x[:, 1] > 0.5) * x[:, 2] + rng.normal(0, 0.1, 400)
    model = GradientBoostingRegressor(n_estimators=trees, max_depth=depth, random_state=0).fit(x, y)
    ensemble = TreeEnsemble.from_bytes(TreeEnsemble.from_gradient_boosting(model).to_bytes())
    probe = np.vstack([x, x + 1e-9, x - 1e-9, rng.normal(0.5, 2, size=(200, 4))])
    assert np.max(np.abs(ensemble.predict(probe) - model.predict(probe))) < 1e-9


def test_deeper_trees_are_refused_not_mispredicted() -> None:
    from sklearn.ensemble import GradientBoostingRegressor

    x = np.random.default_rng(0).random((300, 3))
    model = GradientBoostingRegressor(n_estimators=2, max_depth=5, random_state=0).fit(x, x.sum(axis=1))
    with pytest.raises(ValueError, match=f"at most {MAX_LEAVES}"):
        TreeEnsemble.from_gradient_boosting(model)
