"""Feature contributions (path-dependent TreeSHAP): checked against the Shapley values computed from their definition,
against the forecasts they explain, and against the shap package where it is installed."""

from __future__ import annotations

import itertools
import math
import tracemalloc
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from bikecast import explain
from bikecast.explain import TreeExplainer, fold
from bikecast.trees import TreeEnsemble

# feature, threshold, left, right, value, cover: (trees, nodes) each
Arrays = tuple[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any]]
GRID = np.arange(-1, 6) / 4  # thresholds and row values on one grid: rows land exactly on thresholds


# ---- the reference: the value function by recursion over the tree, Shapley values by the subset formula ----


def node_value(arrays: Arrays, t: int, node: int, x: NDArray[np.float64], known: frozenset[int]) -> float:
    """Expected output below ``node``: a known feature's split sends x its own way (compared as float32), an
    unknown one's follows both children, weighted by their cover over the node's."""
    feature, threshold, left, right, value, cover = arrays
    low, high = int(left[t, node]), int(right[t, node])
    if low == node:
        return float(value[t, node])
    f = int(feature[t, node])
    if f in known:
        return node_value(arrays, t, low if x[f] <= threshold[t, node] else high, x, known)
    low_value, high_value = node_value(arrays, t, low, x, known), node_value(arrays, t, high, x, known)
    return float((cover[t, low] * low_value + cover[t, high] * high_value) / cover[t, node])


def brute_force(arrays: Arrays, base: float, row: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
    """(v(no feature known), exact Shapley values of v) for one row."""
    n = len(row)
    x = row.astype(np.float32).astype(np.float64)
    trees = len(arrays[0])
    v = {
        frozenset(s): base + sum(node_value(arrays, t, 0, x, frozenset(s)) for t in range(trees))
        for size in range(n + 1)
        for s in itertools.combinations(range(n), size)
    }
    phi = np.zeros(n)
    for i in range(n):
        for s, value in v.items():
            if i not in s:
                weight = math.factorial(len(s)) * math.factorial(n - len(s) - 1) / math.factorial(n)
                phi[i] += weight * (v[s | {i}] - value)
    return v[frozenset()], phi


def leaf_paths(arrays: Arrays, t: int) -> list[list[int]]:
    """The features split on along the path to each leaf of tree t."""
    feature, _, left, right = arrays[:4]
    found, stack = [], [(0, list[int]())]
    while stack:
        node, path = stack.pop()
        if left[t, node] == node:
            found.append(path)
        else:
            stack += [
                (int(left[t, node]), [*path, int(feature[t, node])]),
                (int(right[t, node]), [*path, int(feature[t, node])]),
            ]
    return found


def repeats_on_a_path(arrays: Arrays, t: int) -> bool:
    return any(len(set(path)) < len(path) for path in leaf_paths(arrays, t))


def random_tree(rng: np.random.Generator, depth: int, n_features: int, full: bool, by_level: bool) -> list[list[Any]]:
    """Nodes [feature, threshold, left, right, value, cover] of one random tree, the root first; ``by_level``: the
    splits at depth k are on feature k % n_features."""
    nodes: list[list[Any]] = []

    def grow(level: int) -> int:
        k = len(nodes)
        nodes.append([0, np.inf, k, k, float(rng.normal()), 0.0])
        if level < depth and (full or level == 0 or rng.random() < 0.75):
            nodes[k][:2] = [
                level % n_features if by_level else int(rng.integers(n_features)),
                float(rng.choice(GRID[1:-1])),
            ]
            nodes[k][2] = grow(level + 1)
            nodes[k][3] = grow(level + 1)
        return k

    grow(0)
    nodes[0][5] = 100.0
    for k, node in enumerate(nodes):  # preorder: a parent's cover is set before its children's
        for child in {node[2], node[3]} - {k}:
            empty = nodes[child][2] == child and rng.random() < 0.15  # a leaf no training row reached
            nodes[child][5] = 0.0 if empty else node[5] * rng.uniform(0.05, 0.95)
    order = np.concatenate([[0], rng.permutation(np.arange(1, len(nodes)))])  # order[new id] = old id
    new_id = np.argsort(order)
    return [[f, thr, int(new_id[lo]), int(new_id[hi]), v, c] for f, thr, lo, hi, v, c in (nodes[k] for k in order)]


def random_trees(
    rng: np.random.Generator, count: int, depth: int, n_features: int, full: bool = False, by_level: bool = False
) -> Arrays:
    """Random trees up to ``depth``: uneven shapes, few features (so paths split one feature more than once, at times
    into an empty interval), thresholds on GRID, covers that need not add up (some leaves with none), node ids
    shuffled, and never-reached padding nodes."""
    trees = [random_tree(rng, depth, n_features, full, by_level) for _ in range(count)]
    width = max(map(len, trees)) + 2
    arrays = [np.zeros((count, width), np.intp), np.full((count, width), np.inf), np.zeros((count, width), np.intp)]
    arrays += [np.zeros((count, width), np.intp), np.full((count, width), 99.0), np.zeros((count, width))]
    for t, tree in enumerate(trees):
        arrays[2][t] = arrays[3][t] = np.arange(width)  # padding: leaves nobody reaches
        for k, node in enumerate(tree):
            for array, item in zip(arrays, node, strict=True):
                array[t, k] = item
    feature, threshold, left, right, value, cover = arrays
    return feature, threshold, left, right, value, cover


def probe_rows(rng: np.random.Generator, n_features: int, count: int = 8) -> NDArray[np.float64]:
    on_grid = rng.choice(GRID, size=(count, n_features))
    return np.vstack([on_grid, rng.uniform(-0.5, 1.5, size=(2, n_features))])


@pytest.fixture(params=["tables", "paths"])
def kernel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of computing: outcome tables per tree, and the formula per leaf (forced by a zero table budget)."""
    if request.param == "paths":
        monkeypatch.setattr(explain, "TABLE_MAX_ENTRIES", 0)
    return str(request.param)


def check_kernel(explainer: TreeExplainer, kernel: str, small_trees: bool) -> None:
    used = type(explainer._kernel).__name__
    assert used == ("_SplitTables" if kernel == "tables" and small_trees else "_LeafPaths")


# ---- against the definition ----


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("seed", range(6))
def test_hand_built_trees_match_the_definition(kernel: str, depth: int, seed: int) -> None:
    rng = np.random.default_rng(seed * 10 + depth)
    n_features = 3 + seed % 4
    arrays = random_trees(rng, count=1 + seed % 3, depth=depth, n_features=n_features)
    base = float(rng.normal())
    explainer = TreeExplainer.from_arrays(*arrays, base=base, n_features=n_features)
    splits = max(int((arrays[2][t] != np.arange(arrays[2].shape[1])).sum()) for t in range(len(arrays[0])))
    check_kernel(explainer, kernel, small_trees=splits <= explain.TABLE_MAX_SPLITS)
    rows = probe_rows(rng, n_features)
    ours = explainer.contributions(rows)
    for row, contributions in zip(rows, ours, strict=True):
        empty, expected = brute_force(arrays, base, row)
        np.testing.assert_allclose(contributions, expected, rtol=0, atol=1e-9)
        assert explainer.baseline == pytest.approx(empty, abs=1e-9)


def test_a_full_tree_of_the_default_max_depth_matches_the_definition() -> None:
    """255 splits: far past outcome tables, computed per leaf; paths of 8 splits on 4 features, then on 8."""
    rng = np.random.default_rng(8)
    arrays = random_trees(rng, count=1, depth=8, n_features=4, full=True)
    explainer = TreeExplainer.from_arrays(*arrays, base=0.0, n_features=4)
    check_kernel(explainer, "paths", small_trees=False)
    rows = probe_rows(rng, 4, count=4)
    for row, contributions in zip(rows, explainer.contributions(rows), strict=True):
        empty, expected = brute_force(arrays, 0.0, row)
        np.testing.assert_allclose(contributions, expected, rtol=0, atol=1e-9)
        assert explainer.baseline == pytest.approx(empty, abs=1e-9)
    distinct = random_trees(rng, count=1, depth=8, n_features=8, full=True, by_level=True)  # 8 features on every path
    explainer = TreeExplainer.from_arrays(*distinct, base=0.0, n_features=8)
    assert isinstance(explainer._kernel, explain._LeafPaths)
    assert explainer._kernel.paths.zero.shape == (8, 256)  # 8 slots: 4 quadrature nodes
    rows = probe_rows(rng, 8, count=2)
    for row, contributions in zip(rows, explainer.contributions(rows), strict=True):
        np.testing.assert_allclose(contributions, brute_force(distinct, 0.0, row)[1], rtol=0, atol=1e-9)
    deeper = random_trees(rng, count=1, depth=9, n_features=4, full=True)
    with pytest.raises(ValueError, match="deeper than max_depth=8"):
        TreeExplainer.from_arrays(*deeper, base=0.0, n_features=4)


def test_no_rows_no_contributions(kernel: str) -> None:
    arrays = random_trees(np.random.default_rng(1), count=2, depth=3, n_features=3)
    explainer = TreeExplainer.from_arrays(*arrays, base=0.0, n_features=3)
    assert explainer.contributions(np.zeros((0, 3))).shape == (0, 3)


def gradient_boosting(depth: int, n_features: int, trees: int, seed: int) -> tuple[Any, NDArray[np.float64]]:
    from sklearn.ensemble import GradientBoostingRegressor

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 5, size=(300, n_features)) / 4  # few distinct values: features split more than once
    y = 3 * x[:, 0] + (x[:, 1] > 0.5) * x[:, 2] - x[:, -1] ** 2 + rng.normal(0, 0.1, len(x))
    model = GradientBoostingRegressor(n_estimators=trees, max_depth=depth, subsample=0.8, random_state=seed)
    return model.fit(x, y), x


def sklearn_arrays(model: Any) -> Arrays:
    """The arrays of TreeEnsemble, and cover read straight from scikit-learn's trees."""
    ensemble = TreeEnsemble.from_gradient_boosting(model)
    cover = np.zeros(ensemble.value.shape)
    for t, estimator in enumerate(model.estimators_):
        tree = estimator[0].tree_
        cover[t, : tree.node_count] = tree.weighted_n_node_samples
    return ensemble.feature, ensemble.threshold, ensemble.left, ensemble.right, ensemble.value, cover


def thresholds_as_rows(model: Any, rng: np.random.Generator, n_features: int, count: int) -> NDArray[np.float64]:
    """Rows whose values are the model's own thresholds (a row exactly on a split) or grid values."""
    found: dict[int, list[float]] = {f: list(GRID) for f in range(n_features)}
    for estimator in model.estimators_:
        tree = estimator[0].tree_
        for f, thr in zip(tree.feature, tree.threshold, strict=True):
            if f >= 0:
                found[int(f)].append(float(thr))
    return np.array([[rng.choice(found[f]) for f in range(n_features)] for _ in range(count)])


@pytest.mark.parametrize(("depth", "n_features"), [(1, 3), (2, 4), (3, 3), (3, 5), (3, 6)])
def test_scikit_learn_models_match_the_definition(kernel: str, depth: int, n_features: int) -> None:
    model, x = gradient_boosting(depth, n_features, trees=3, seed=depth + n_features)
    arrays = sklearn_arrays(model)
    if depth == 3:  # the fits split a feature twice on some path
        assert any(repeats_on_a_path(arrays, t) for t in range(len(arrays[0])))
    explainer = TreeEnsemble.from_gradient_boosting(model).explainer()
    check_kernel(explainer, kernel, small_trees=True)
    base = float(np.ravel(model.init_.constant_)[0])
    rng = np.random.default_rng(depth)
    rows = np.vstack([x[:4], thresholds_as_rows(model, rng, n_features, 6)])
    ours = explainer.contributions(rows)
    for row, contributions in zip(rows, ours, strict=True):
        empty, expected = brute_force(arrays, base, row)
        np.testing.assert_allclose(contributions, expected, rtol=0, atol=1e-9)
        assert explainer.baseline == pytest.approx(empty, abs=1e-9)
    np.testing.assert_allclose(explainer.baseline + ours.sum(axis=1), model.predict(rows), rtol=1e-9, atol=1e-9)


# ---- against the forecasts ----


@pytest.fixture(scope="module")
def big_model() -> tuple[Any, TreeEnsemble, TreeExplainer]:
    """The bikecast shape: 500 trees of depth 3 on 11 features."""
    from sklearn.ensemble import GradientBoostingRegressor

    rng = np.random.default_rng(11)
    x = rng.normal(size=(731, 11))
    y = 4000 + 900 * x[:, 0] + 300 * np.sin(2 * x[:, 1]) + 200 * x[:, 2] * x[:, 3] + rng.normal(0, 50, len(x))
    model = GradientBoostingRegressor(n_estimators=500, max_depth=3, learning_rate=0.03, subsample=0.8, random_state=0)
    model.fit(x, y)
    ensemble = TreeEnsemble.from_gradient_boosting(model)
    return model, ensemble, ensemble.explainer()


@pytest.mark.parametrize("rows", [1, 100, 10_000])
def test_contributions_add_up_to_the_forecast(big_model: tuple[Any, TreeEnsemble, TreeExplainer], rows: int) -> None:
    model, ensemble, explainer = big_model
    assert type(explainer._kernel).__name__ == "_SplitTables"
    matrix = np.random.default_rng(rows).normal(size=(rows, 11)) * 1.5
    total = explainer.baseline + explainer.contributions(matrix).sum(axis=1)
    np.testing.assert_allclose(total, ensemble.predict(matrix), rtol=1e-9)
    np.testing.assert_allclose(total, model.predict(matrix), rtol=1e-9)


def test_the_baseline_is_the_cover_weighted_mean_forecast(big_model: tuple[Any, TreeEnsemble, TreeExplainer]) -> None:
    model, _, explainer = big_model
    expected = float(np.ravel(model.init_.constant_)[0])
    for estimator in model.estimators_:
        tree = estimator[0].tree_
        leaf = tree.children_left == -1
        weight = tree.weighted_n_node_samples[leaf] / tree.weighted_n_node_samples[0]
        expected += model.learning_rate * float(weight @ tree.value[leaf, 0, 0])
    assert explainer.baseline == pytest.approx(expected, rel=1e-12)


def test_ten_thousand_rows_in_bounded_memory(big_model: tuple[Any, TreeEnsemble, TreeExplainer]) -> None:
    _, _, explainer = big_model
    matrix = np.random.default_rng(0).normal(size=(10_000, 11))
    tracemalloc.start()
    try:
        explainer.contributions(matrix)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Unchunked, the per-tree look-ups alone would be 500 trees x 10,000 rows x 11 features x 8 bytes = 440 MB.
    assert peak < 64 * 2**20


def test_a_forced_per_leaf_kernel_agrees_on_the_big_model(
    big_model: tuple[Any, TreeEnsemble, TreeExplainer], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, _, tables = big_model
    monkeypatch.setattr(explain, "TABLE_MAX_ENTRIES", 0)
    paths = TreeEnsemble.from_gradient_boosting(model).explainer()
    assert type(paths._kernel).__name__ == "_LeafPaths"
    matrix = np.random.default_rng(5).normal(size=(300, 11))
    np.testing.assert_allclose(paths.contributions(matrix), tables.contributions(matrix), rtol=0, atol=1e-9)
    assert paths.baseline == tables.baseline


# ---- comparisons in float32, like TreeEnsemble and scikit-learn ----


def stump(threshold: float) -> tuple[Arrays, TreeExplainer]:
    """x0 <= threshold: -1 (cover 4), else +1 (cover 6); baseline 0.2."""
    arrays = (
        np.array([[0, 0, 0]]),
        np.array([[threshold, np.inf, np.inf]]),
        np.array([[1, 1, 2]]),
        np.array([[2, 1, 2]]),
        np.array([[0.0, -1.0, 1.0]]),
        np.array([[10.0, 4.0, 6.0]]),
    )
    return arrays, TreeExplainer.from_arrays(*arrays, base=0.0, n_features=2)


def test_a_value_that_rounds_onto_the_threshold_in_float32_goes_left() -> None:
    threshold = float(np.float32(0.1))  # a float32 value, as float64
    arrays, explainer = stump(threshold)
    above_in_float64 = threshold + 1e-10  # > threshold, but float32(it) == threshold
    next_float32 = float(np.nextafter(np.float32(threshold), np.float32(1)))
    rows = np.array([[above_in_float64, 5.0], [next_float32, 5.0], [threshold, 5.0]])
    ours = explainer.contributions(rows)
    np.testing.assert_allclose(ours[:, 0], [-1.2, 0.8, -1.2], atol=1e-12)
    np.testing.assert_array_equal(ours[:, 1], 0.0)
    ensemble = TreeEnsemble(*arrays, base=0.0, n_features=2)
    np.testing.assert_allclose(explainer.baseline + ours.sum(axis=1), ensemble.predict(rows), atol=1e-12)


def test_a_float64_value_on_a_float64_threshold_goes_right_when_float32_rounds_it_up() -> None:
    _, explainer = stump(0.1)  # float32(0.1) = 0.10000000149 > 0.1
    np.testing.assert_allclose(explainer.contributions(np.array([[0.1, 0.0]]))[:, 0], [0.8], atol=1e-12)


def test_nan_goes_right_at_every_split_and_infinities_to_their_side_as_in_tree_ensemble(kernel: str) -> None:
    rng = np.random.default_rng(3)
    arrays = random_trees(rng, count=3, depth=3, n_features=3)
    explainer = TreeExplainer.from_arrays(*arrays, base=0.5, n_features=3)
    check_kernel(explainer, kernel, small_trees=True)
    ensemble = TreeEnsemble(*arrays, base=0.5, n_features=3)
    rows = np.array([[np.nan, 0.25, 0.5], [np.nan, np.nan, np.nan], [-np.inf, np.inf, 0.0]])
    total = explainer.baseline + explainer.contributions(rows).sum(axis=1)
    np.testing.assert_allclose(total, ensemble.predict(rows), atol=1e-12)


# ---- refusals ----


def test_a_tree_deeper_than_max_depth_is_refused() -> None:
    arrays = random_trees(np.random.default_rng(0), count=1, depth=5, n_features=3)
    depth = max(len(path) for path in leaf_paths(arrays, 0))
    assert depth >= 2
    TreeExplainer.from_arrays(*arrays, base=0.0, n_features=3, max_depth=depth)
    with pytest.raises(ValueError, match=f"deeper than max_depth={depth - 1}"):
        TreeExplainer.from_arrays(*arrays, base=0.0, n_features=3, max_depth=depth - 1)


def test_a_cycle_is_refused_not_looped_on() -> None:
    arrays = (
        np.array([[0, 1]]),
        np.array([[0.5, 0.5]]),
        np.array([[1, 0]]),  # node 1's children are both the root
        np.array([[1, 0]]),
        np.zeros((1, 2)),
        np.ones((1, 2)),
    )
    with pytest.raises(ValueError, match="deeper than max_depth"):
        TreeExplainer.from_arrays(*arrays, base=0.0, n_features=2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a[0].__setitem__((0, 0), 7), "outside 0..2"),
        (lambda a: a[2].__setitem__((0, 0), 40), "child outside the tree"),
        (lambda a: a[5].__setitem__((0, 0), 0.0), "cover must be positive"),
        (lambda a: a[3].__setitem__((0, 1), 2), "point to itself on both sides"),
    ],
)
def test_malformed_arrays_are_refused(change: Any, message: str) -> None:
    feature, threshold, left, right, value, cover = (np.array(a) for a in stump(0.5)[0])
    arrays = (feature, threshold, left, right, value, cover)
    change(arrays)
    with pytest.raises(ValueError, match=message):
        TreeExplainer.from_arrays(*arrays, base=0.0, n_features=3)


def test_a_matrix_of_the_wrong_width_is_refused() -> None:
    _, explainer = stump(0.5)
    with pytest.raises(ValueError, match=r"\(rows, 2\)"):
        explainer.contributions(np.zeros((3, 3)))


# ---- fold ----


def test_fold_sums_the_columns_of_each_field() -> None:
    contributions = np.arange(12.0).reshape(2, 6) ** 2
    folded = fold(contributions, [[0, 3], [1], [2, 4, 5], []])
    expected = np.array([[0 + 9, 1, 4 + 16 + 25, 0], [36 + 81, 49, 64 + 100 + 121, 0]])
    np.testing.assert_array_equal(folded, expected)
    np.testing.assert_array_equal(folded.sum(axis=1), contributions.sum(axis=1))


@pytest.mark.parametrize("groups", [[[0, 1], [1, 2]], [[0], [2]], [[0, 1, 2, 3]]])
def test_fold_refuses_groups_that_are_not_a_partition(groups: list[list[int]]) -> None:
    with pytest.raises(ValueError, match="exactly once"):
        fold(np.zeros((1, 3)), groups)


# ---- the shap package, where installed ----


def test_agrees_with_the_shap_package() -> None:
    shap = pytest.importorskip("shap")
    model, x = gradient_boosting(depth=3, n_features=5, trees=40, seed=4)
    rng = np.random.default_rng(4)
    probe = np.vstack([x[:50], thresholds_as_rows(model, rng, 5, 50), rng.uniform(-0.5, 1.5, (50, 5))])
    reference = shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")
    ours = TreeEnsemble.from_gradient_boosting(model).explainer()
    np.testing.assert_allclose(ours.contributions(probe), reference.shap_values(probe), rtol=0, atol=1e-9)
    assert ours.baseline == pytest.approx(float(np.ravel(reference.expected_value)[0]), abs=1e-9)
