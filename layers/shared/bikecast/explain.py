"""Why a forecast is what it is: each feature's contribution, by exact path-dependent TreeSHAP in numpy.

The value of a set S of known features is the one of shap's ``TreeExplainer(feature_perturbation=
"tree_path_dependent")``: the expected tree output when a split on a feature in S sends the row down its own branch
and a split on any other feature follows both branches, weighted by the share of training weight ("cover") each
received. The contributions are the Shapley values of that game, summed over trees, so that for every row
``baseline + contributions.sum(axis=1) == prediction``.

Method. Grouping a leaf's splits by feature, a tree's game is a sum over its leaves of
``value * prod_j (o_j if j in S else z_j)`` over the distinct features j on the leaf's path, where ``o_j`` is 1 when
the row passes every split on j along the path (an interval test) and ``z_j`` is the product of those splits' cover
fractions. The Shapley value of such a product for a feature i on the path is
``(o_i - z_i) * ∫_0^1 prod_{j != i} (z_j + t (o_j - z_j)) dt``: a polynomial in t of degree below the path's length,
which Gauss-Legendre quadrature with ceil(length / 2) nodes integrates exactly.

Every o_j is decided by the row's side at a few of the tree's splits, so a tree's contributions depend on the row
only through the sides it takes at the tree's split nodes: for a tree of at most 8 splits (every tree of depth 3 or
less, the serving format's), that is at most 256 outcomes. ``_SplitTables`` computes the contributions of every
outcome of every tree when the explainer is built; explaining a batch is then one comparison per split node, a code
of the sides taken per tree, a look-up and a sum over trees (500 trees of depth 3 on 11 features: a 5.6 MB table,
see benchmarks/RESULTS.md for its cost). For larger trees, or tables past ``TABLE_MAX_ENTRIES`` (more than
~1,490 depth-3 trees on 11 features), ``_LeafPaths`` evaluates the formula per row, leaf and path feature instead:
exact too, and several times slower.

Cover is not in ``TreeEnsemble``'s file: a caller explaining a served model needs the trees' node cover (scikit-learn's
``weighted_n_node_samples``) stored beside it, padded like the other node arrays.

Imports nothing beyond numpy, like ``bikecast.trees``: the predict function has neither shap nor scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

MAX_DEPTH = 8  # the default refusal depth
TABLE_MAX_SPLITS = 8  # split nodes per tree for the outcome tables: codes fit one byte
TABLE_MAX_ENTRIES = 1 << 21  # trees x 2^splits x features (16 MiB); past it, contributions are computed per leaf
CHUNK_ENTRIES = 1 << 18  # elements in the largest intermediate of a chunk of rows (2 MiB): bounded memory

# A leaf path's splits on one feature: the interval lower < x <= upper, the product of their cover fractions, and
# the bits of the tree's split nodes involved (mask) with the side the path takes there (want: 1 = left).
_Bounds = tuple[float, float, float, int, int]


@dataclass(frozen=True)
class _Paths:
    """Every leaf below at least one split, its distinct path features padded to ``slots`` with features that add
    nothing (interval (-inf, inf], z = 1, no bits). Slots first: each slot's row is contiguous."""

    tree: NDArray[np.intp]  # (leaves,)
    value: NDArray[np.float64]  # (leaves,)
    feature: NDArray[np.intp]  # (slots, leaves)
    lower: NDArray[np.float64]  # (slots, leaves)
    upper: NDArray[np.float64]  # (slots, leaves)
    zero: NDArray[np.float64]  # (slots, leaves)
    mask: NDArray[np.intp]  # (slots, leaves)
    want: NDArray[np.intp]  # (slots, leaves)

    @classmethod
    def from_leaves(cls, leaves: list[tuple[int, float, dict[int, _Bounds]]]) -> _Paths:
        slots = max((len(bounds) for _, _, bounds in leaves), default=0)
        padding = (0, -np.inf, np.inf, 1.0, 0, 0)  # feature, lower, upper, zero, mask, want
        flat: list[float] = []
        for *_, bounds in leaves:
            for f, split in sorted(bounds.items()):
                flat.append(f)
                flat.extend(split)
            flat.extend(padding * (slots - len(bounds)))
        columns = np.array(flat, np.float64).reshape(len(leaves), slots, 6)  # masks < 2^TABLE_MAX_SPLITS: exact
        feature, mask, want = (np.ascontiguousarray(columns[..., k].T).astype(np.intp) for k in (0, 4, 5))
        lower, upper, zero = (np.ascontiguousarray(columns[..., k].T) for k in (1, 2, 3))
        tree = np.array([t for t, _, _ in leaves], np.intp)
        value = np.array([v for _, v, _ in leaves], np.float64)
        return cls(tree, value, feature, lower, upper, zero, mask, want)


@dataclass(frozen=True)
class _SplitTables:
    """Per tree, the contributions of each outcome of its split nodes (bit k of the code: the row went left at
    split k): ``table[tree * 2^splits + code]`` is a row of n_features."""

    feature: NDArray[np.intp]  # (splits * trees,): split k of every tree, then split k + 1; padding never fails
    threshold: NDArray[np.float64]  # (splits * trees, 1)
    offset: NDArray[np.intp]  # (trees, 1): tree * 2^splits
    table: NDArray[np.float64]  # (trees * 2^splits, n_features)
    splits: int

    @classmethod
    def build(
        cls, paths: _Paths, features: list[list[int]], thresholds: list[list[float]], n_features: int
    ) -> _SplitTables:
        trees, splits = len(features), max(map(len, features), default=0)
        feature = np.zeros((splits, trees), np.intp)
        threshold = np.full((splits, trees), np.inf)
        for t, (f, thr) in enumerate(zip(features, thresholds, strict=True)):
            feature[: len(f), t], threshold[: len(f), t] = f, thr
        outcomes = 1 << splits
        table = np.zeros(trees * outcomes * n_features)
        codes = np.arange(outcomes, dtype=np.uint8)[:, None]  # (outcomes, 1)
        slots, count = paths.zero.shape
        # A leaf's contributions depend on its own tests only: 2^slots cases, computed once per leaf and then looked
        # up for each outcome of its tree. Bit s of a case: the row passes the leaf's test on slot s.
        cases = (np.arange(1 << slots) >> np.arange(slots)[:, None]) & 1  # (slots, cases)
        mask, want = paths.mask.astype(np.uint8), paths.want.astype(np.uint8)
        target = (paths.tree << splits) * n_features + paths.feature  # (slots, leaves): table entry of outcome 0
        block = max(1, CHUNK_ENTRIES // (max(outcomes, 1 << slots) * max(slots, 1)))
        for start in range(0, count, block):
            leaves = np.arange(start, min(start + block, count))
            zero = paths.zero[:, None, leaves]
            shares = paths.value[leaves] * _shapley(cases[..., None].astype(np.float64), zero)  # (slots, cases, leaves)
            case = np.zeros((outcomes, len(leaves)), np.intp)
            for s in range(slots):
                case |= ((codes & mask[s, leaves]) == want[s, leaves]).view(np.uint8) << s
            # (outcomes, slots, leaves): where in shares, and where in the table
            source = np.arange(slots)[:, None] * shares[0].size + (case * len(leaves) + np.arange(len(leaves)))[:, None]
            entry = target[:, leaves] + codes[:, :, None].astype(np.intp) * n_features
            # Leaves come tree by tree: a block adds to the tables of its own trees only.
            first, last = ((int(paths.tree[i]) << splits) * n_features for i in (leaves[0], leaves[-1]))
            size = last - first + outcomes * n_features
            weights = shares.ravel().take(source.ravel())
            table[first : first + size] += np.bincount(entry.ravel() - first, weights, minlength=size)
        offset = (np.arange(trees, dtype=np.intp) << splits)[:, None]
        return cls(feature.ravel(), threshold.reshape(-1, 1), offset, table.reshape(-1, n_features), splits)

    def chunk_rows(self, n_features: int) -> int:
        return max(1, CHUNK_ENTRIES // max(1, len(self.offset) * max(self.splits, n_features)))

    def explain(self, rows: NDArray[np.float64]) -> NDArray[np.float64]:
        columns = np.ascontiguousarray(rows.T)  # (n_features, rows): a split's feature is one contiguous take
        left = (columns.take(self.feature, axis=0) <= self.threshold).view(np.uint8)
        left = left.reshape(self.splits, len(self.offset), len(rows))
        code = np.repeat(self.offset, len(rows), axis=1)  # (trees, rows): tree * 2^splits + the sides' bits
        for k in range(self.splits):
            code |= left[k] << k
        result: NDArray[np.float64] = self.table.take(code, axis=0).sum(axis=0)  # (trees, rows, features) summed
        return result


@dataclass(frozen=True)
class _LeafPaths:
    """The formula evaluated per row, leaf and path feature: for trees too large for outcome tables."""

    paths: _Paths
    n_features: int

    def chunk_rows(self, n_features: int) -> int:
        slots, count = self.paths.zero.shape
        return max(1, CHUNK_ENTRIES // max(1, int(count) * int(slots)))

    def explain(self, rows: NDArray[np.float64]) -> NDArray[np.float64]:
        paths = self.paths
        columns = np.ascontiguousarray(rows.T)  # (n_features, rows)
        x = columns[paths.feature]  # (slots, leaves, rows)
        inside = ((x > paths.lower[..., None]) & (x <= paths.upper[..., None])).astype(np.float64)
        shares = paths.value[:, None] * _shapley(inside, paths.zero[..., None])
        index = paths.feature[..., None] * len(rows) + np.arange(len(rows))
        result = np.bincount(index.ravel(), shares.ravel(), minlength=self.n_features * len(rows))
        return np.ascontiguousarray(result.reshape(self.n_features, len(rows)).T)


@dataclass(frozen=True)
class TreeExplainer:
    """Per-feature contributions to an ensemble's raw prediction, ``base + sum over trees of value[leaf]``."""

    n_features: int
    baseline: float  # the prediction when no feature is known: base + each tree's cover-weighted mean leaf value
    _kernel: _SplitTables | _LeafPaths = field(repr=False, compare=False)

    @classmethod
    def from_arrays(
        cls,
        feature: NDArray[np.intp],
        threshold: NDArray[np.float64],
        left: NDArray[np.intp],
        right: NDArray[np.intp],
        value: NDArray[np.float64],
        cover: NDArray[np.float64],
        base: float,
        n_features: int,
        *,
        max_depth: int = MAX_DEPTH,
    ) -> TreeExplainer:
        """From node arrays shaped (trees, nodes) as in ``bikecast.trees.TreeEnsemble`` (leaves point to themselves;
        a row goes left when ``float64(float32(x)) <= threshold``; leaf values include the learning rate), with
        ``cover`` the training weight of each node (scikit-learn's ``weighted_n_node_samples``).

        The trees are assumed acyclic; ValueError for a tree deeper than ``max_depth``, a split on a feature outside
        ``range(n_features)``, a child outside the tree, a split node without positive cover or a negative child cover.
        """
        arrays = [np.asarray(a) for a in (feature, threshold, left, right, value, cover)]
        if any(a.ndim != 2 or a.shape != arrays[0].shape for a in arrays) or arrays[0].shape[1] == 0:
            raise ValueError("feature, threshold, left, right, value and cover must be 2-D arrays of one shape")
        if max_depth < 0:
            raise ValueError("max_depth must not be negative")
        nodes = arrays[0].shape[1]
        features, thresholds, lefts, rights, values, covers = (a.tolist() for a in arrays)
        leaves: list[tuple[int, float, dict[int, _Bounds]]] = []
        split_features: list[list[int]] = []
        split_thresholds: list[list[float]] = []
        baseline = float(base)
        for t in range(len(features)):
            split_features.append([])
            split_thresholds.append([])
            stack: list[tuple[int, int, dict[int, _Bounds]]] = [(0, 0, {})]  # node, depth, path splits per feature
            while stack:
                node, depth, bounds = stack.pop()
                low, high = lefts[t][node], rights[t][node]
                if low == node or high == node:
                    if low != high:
                        raise ValueError(f"tree {t} node {node}: a leaf must point to itself on both sides")
                    leaf_value = float(values[t][node])
                    baseline += leaf_value * math.prod(z for _, _, z, _, _ in bounds.values())
                    if bounds:  # a tree that is a single leaf only adds to the baseline
                        leaves.append((t, leaf_value, bounds))
                    continue
                if depth >= max_depth:
                    raise ValueError(f"tree {t} is deeper than max_depth={max_depth}")
                f, split, weight = features[t][node], float(thresholds[t][node]), float(covers[t][node])
                if not 0 <= f < n_features:
                    raise ValueError(f"tree {t} node {node} splits on feature {f}, outside 0..{n_features - 1}")
                if not (0 <= low < nodes and 0 <= high < nodes):
                    raise ValueError(f"tree {t} node {node} has a child outside the tree")
                low_cover, high_cover = float(covers[t][low]), float(covers[t][high])
                if not (weight > 0 and np.isfinite(weight) and low_cover >= 0 and high_cover >= 0):
                    raise ValueError(
                        f"tree {t} node {node}: cover must be positive at a split, children's not negative"
                    )
                # This split's bit in the tree's outcome code; a tree with more splits has no outcome table.
                bit = 1 << len(split_features[t]) if len(split_features[t]) < TABLE_MAX_SPLITS else 0
                split_features[t].append(f)
                split_thresholds[t].append(split)
                lo, hi, z, mask, want = bounds.get(f, (-np.inf, np.inf, 1.0, 0, 0))
                right_bounds = (max(lo, split), hi, z * high_cover / weight, mask | bit, want)
                left_bounds = (lo, min(hi, split), z * low_cover / weight, mask | bit, want | bit)
                stack.append((high, depth + 1, bounds | {f: right_bounds}))
                stack.append((low, depth + 1, bounds | {f: left_bounds}))
        paths = _Paths.from_leaves(leaves)
        splits = max(map(len, split_features), default=0)
        kernel: _SplitTables | _LeafPaths
        if splits <= TABLE_MAX_SPLITS and len(split_features) * (1 << splits) * n_features <= TABLE_MAX_ENTRIES:
            kernel = _SplitTables.build(paths, split_features, split_thresholds, n_features)
        else:
            kernel = _LeafPaths(paths, n_features)
        return cls(int(n_features), baseline, kernel)

    def contributions(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        """(rows, n_features) -> (rows, n_features): each feature's share of each row's raw prediction, so that
        ``baseline + contributions(matrix).sum(axis=1)`` is the prediction. As in ``TreeEnsemble``, features are
        compared as float32, and NaN goes right at every split."""
        rows = np.asarray(matrix, dtype=np.float32).astype(np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            raise ValueError(f"expected a (rows, {self.n_features}) matrix, got shape {rows.shape}")
        # NaN fails every split, as in TreeEnsemble's search; -inf must pass every "lower < x" test.
        rows = np.nan_to_num(rows, nan=np.inf, posinf=np.inf, neginf=np.finfo(np.float64).min)
        kernel = self._kernel
        chunk = kernel.chunk_rows(self.n_features)
        if len(rows) <= chunk:
            return kernel.explain(rows)
        return np.concatenate([kernel.explain(rows[i : i + chunk]) for i in range(0, len(rows), chunk)])


def _nodes(slots: int) -> int:
    """Gauss-Legendre nodes that integrate a polynomial of degree slots - 1 exactly."""
    return max(1, (slots + 1) // 2)


def _shapley(inside: NDArray[np.float64], zero: NDArray[np.float64]) -> NDArray[np.float64]:
    """Shapley values of the product game ``g(S) = prod_j (inside_j if j in S else zero_j)`` with the players on the
    first axis: ``(o_i - z_i) * ∫_0^1 prod_{j != i} (z_j + t (o_j - z_j)) dt``, exact by Gauss-Legendre quadrature."""
    gain = inside - zero  # (slots, ...)
    slots = len(gain)
    total = np.zeros_like(gain)
    nodes, weights = np.polynomial.legendre.leggauss(_nodes(slots))
    for t, w in zip((nodes + 1) / 2, weights / 2, strict=True):  # on [0, 1]
        factor = zero + t * gain
        after = np.ones_like(factor)  # after[s] = prod over j > s
        for s in range(slots - 2, -1, -1):
            np.multiply(after[s + 1], factor[s + 1], out=after[s])
        before = np.full(factor.shape[1:], w)  # w * prod over j < s
        for s in range(slots):
            total[s] += before * after[s]
            before = before * factor[s]
    result: NDArray[np.float64] = gain * total
    return result


def fold(contributions: NDArray[np.float64], groups: Sequence[Sequence[int]]) -> NDArray[np.float64]:
    """Sum feature columns onto input fields: groups[k] lists the feature columns that come from field k.

    (rows, n_features) -> (rows, len(groups)). Every column must be in exactly one group, so that the folded
    contributions still add up to the prediction; ValueError otherwise.
    """
    contributions = np.asarray(contributions, dtype=np.float64)
    if contributions.ndim != 2:
        raise ValueError(f"expected a (rows, features) matrix, got shape {contributions.shape}")
    columns = contributions.shape[1]
    if sorted(int(c) for group in groups for c in group) != list(range(columns)):
        raise ValueError(f"groups must list each of the {columns} feature columns exactly once")
    result = np.zeros((len(contributions), len(groups)))
    for k, group in enumerate(groups):
        if len(group):
            result[:, k] = contributions[:, list(group)].sum(axis=1)
    return result
