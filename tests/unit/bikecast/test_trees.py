"""The tree-array serving format: same forecasts as scikit-learn, data-only file, no scikit-learn at serving, and
a file that is not a servable tree ensemble refused before it can serve."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from bikecast.scoring import Scorer
from bikecast.serving import serving_section
from bikecast.trees import MAX_LEAVES, TREES_FILE, TreeEnsemble, TreesInvalid
from tests.conftest import DAILY
from training import publish
from training.data import Labelled


@pytest.fixture(scope="module")
def scorer(built_artifact: publish.Artifact) -> Scorer:
    return Scorer.load(serving_section(built_artifact.manifest), built_artifact.files[TREES_FILE], DAILY.computable)


def test_agrees_with_scikit_learn_on_every_row(
    scorer: Scorer, built_artifact: publish.Artifact, training_data: Labelled
) -> None:
    import joblib

    fitted = joblib.load(io.BytesIO(built_artifact.files["model.joblib"]))
    ours = scorer.values(scorer.raw(DAILY.features(training_data.batch)))
    theirs = fitted.predict(training_data.batch)
    assert np.max(np.abs(ours - theirs)) < 1e-6
    assert (np.rint(ours) == np.rint(theirs)).all()
    serving = built_artifact.manifest["serving"]
    assert serving["format"] == "trees-npz"
    assert serving["features"] == list(DAILY.feature_names)
    assert serving["rows_checked"] == 731


def test_extreme_inputs_still_land_on_leaves(scorer: Scorer) -> None:
    extreme = np.array([[1e30] * len(DAILY.feature_names), [-1e30] * len(DAILY.feature_names)])
    assert np.isfinite(scorer.raw(extreme)).all()


def test_the_file_is_data_only(built_artifact: publish.Artifact) -> None:
    with zipfile.ZipFile(io.BytesIO(built_artifact.files[TREES_FILE])) as archive:
        for name in archive.namelist():
            assert archive.read(name)[:6] == b"\x93NUMPY", name  # np.load(allow_pickle=False) refuses objects


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
    ensemble = TreeEnsemble.from_bytes(TreeEnsemble.from_gradient_boosting(model).to_bytes(), 4)
    probe = np.vstack([x, x + 1e-9, x - 1e-9, rng.normal(0.5, 2, size=(200, 4))])
    assert np.max(np.abs(ensemble.predict(probe) - model.predict(probe))) < 1e-9
    low, high = ensemble.output_bounds()
    assert low - 1e-9 <= model.predict(probe).min()
    assert model.predict(probe).max() <= high + 1e-9


def test_deeper_trees_are_refused_not_mispredicted() -> None:
    from sklearn.ensemble import GradientBoostingRegressor

    x = np.random.default_rng(0).random((300, 3))
    model = GradientBoostingRegressor(n_estimators=2, max_depth=5, random_state=0).fit(x, x.sum(axis=1))
    with pytest.raises(TreesInvalid, match=f"at most {MAX_LEAVES}"):
        TreeEnsemble.from_gradient_boosting(model)


def arrays(built: publish.Artifact) -> dict[str, np.ndarray]:  # type: ignore[type-arg]
    with np.load(io.BytesIO(built.files[TREES_FILE]), allow_pickle=False) as stored:
        return {name: stored[name].copy() for name in stored.files}


def npz(values: dict[str, np.ndarray]) -> bytes:  # type: ignore[type-arg]
    buffer = io.BytesIO()
    np.savez(buffer, **values)  # type: ignore[arg-type]
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda a: a.update(feature=a["feature"][:, :2]), "has shape"),
        (lambda a: a.update(threshold=a["threshold"].astype(str)), "type"),
        (lambda a: a.pop("left"), "lacks left"),
        (lambda a: a.update(base=np.array(np.nan)), "base value"),
        (lambda a: a.update(n_features=np.array(12)), "expect 12 features"),
        (lambda a: a["left"].__setitem__((3, 0), 0), "its own child"),
        (lambda a: a["left"].__setitem__((3, 0), a["right"][3, 0]), "reached twice"),
        (lambda a: a["right"].__setitem__((3, 0), -5), "outside"),
        (lambda a: a["feature"].__setitem__((3, 0), 11), "splits on feature 11"),
        (lambda a: a["value"].__setitem__((3, slice(None)), np.inf), "not finite"),
        (lambda a: a["cover"].__setitem__((3, 0), -1.0), "covers"),
    ],
)
def test_a_damaged_file_is_refused_with_the_reason(
    built_artifact: publish.Artifact, damage: object, words: str
) -> None:
    damaged = arrays(built_artifact)
    damage(damaged)  # type: ignore[operator]
    with pytest.raises(TreesInvalid, match=words):
        TreeEnsemble.from_bytes(npz(damaged), len(DAILY.feature_names))


def test_not_an_npz_file_is_refused() -> None:
    for data in (b"", b"PK\x03\x04 not a zip", b"\x93NUMPY garbage"):
        with pytest.raises(TreesInvalid, match="not a readable tree file"):
            TreeEnsemble.from_bytes(data, 11)


def test_a_cycle_is_found_at_once_without_recursion(built_artifact: publish.Artifact) -> None:
    damaged = arrays(built_artifact)
    for tree in range(len(damaged["left"])):
        damaged["left"][tree, damaged["left"][tree, 0]] = 0  # every tree's left child points back at its root
    with pytest.raises(TreesInvalid, match="reached twice"):  # the recursive walk it replaced grew past 1.6 GB
        TreeEnsemble.from_bytes(npz(damaged), len(DAILY.feature_names))
