"""A fitted gradient-boosting model as plain arrays, and its prediction in numpy: the serving format.

Why not a library: onnxruntime (the natural choice) is 70 MB unzipped, treelite imports scipy and predicted
10,000 rows far slower, and scikit-learn with scipy is 125 MB and a second to import (README: Performance). This
format loads with ``numpy.load(allow_pickle=False)`` (data, never code) and imports nothing beyond numpy.
Training checks it against scikit-learn on every training row before publishing it.

A file is checked before it can serve (``TreeEnsemble.from_bytes``): every array of the right shape and type,
every tree a tree (children in range, no node reached twice, so no cycle), at most ``MAX_LEAVES`` leaves, every
split on a feature the serving function has, finite thresholds, leaf values and node covers. All without
recursion: a file is data from a bucket, not trusted to be well formed.

Prediction does not walk the trees node by node. It uses the leaf-bitmask method of QuickScorer (Lucchese et al.,
SIGIR 2015): every split that a row fails rules out the leaves of its left subtree, and the leaf a row reaches is
the leftmost one not ruled out. Sorting each feature's thresholds turns "the splits this row fails" into a prefix
found by one ``searchsorted``, so a batch costs one table lookup per feature instead of one gather per tree level.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bikecast.explain import TreeExplainer

TREES_FORMAT = "trees-npz"
TREES_FILE = "model.trees.npz"
MAX_LEAVES = 8  # a tree's leaves are one byte of bits; max_depth 3 gives at most 8
MAX_NODES = 2 * MAX_LEAVES - 1
MAX_TREES = 20_000
# Rows scored at a time, so that a chunk's leaf bytes (rows x trees) stay in the CPU cache.
CHUNK_ROWS = 512

# Two trees' leaf bytes read as one little-endian uint16 -> the pair's leaf index (first tree's leaf * 8 + second's).
_BYTES = np.arange(65536)
_LOWEST_BIT = np.array([(b & -b).bit_length() - 1 if b else 0 for b in range(256)], np.uint8)
_PAIR_LEAF = (_LOWEST_BIT[_BYTES & 0xFF].astype(np.uint16) * MAX_LEAVES + _LOWEST_BIT[_BYTES >> 8]).astype(np.uint8)


class TreesInvalid(ValueError):
    """The arrays are not a model this function can serve; the message says why."""


@dataclass(frozen=True)
class TreeEnsemble:
    """``base + sum over trees of value[leaf]``, stored as node arrays, each tree padded to the same node count.

    Leaves point to themselves with an infinite threshold. Like scikit-learn, features are compared as float32
    against float64 thresholds (``x <= threshold``: left). ``cover`` is the training weight that reached each node
    (what exact explanations need); ``n_features`` is how many feature columns the trees expect.
    """

    feature: NDArray[np.intp]  # (trees, nodes)
    threshold: NDArray[np.float64]
    left: NDArray[np.intp]
    right: NDArray[np.intp]
    value: NDArray[np.float64]  # leaf values, already multiplied by the learning rate
    cover: NDArray[np.float64]
    base: float
    n_features: int
    _scorer: _LeafMasks = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_scorer", _LeafMasks.from_nodes(self))

    @classmethod
    def from_gradient_boosting(
        cls, model: Any, columns: Sequence[int] | None = None, n_features: int | None = None
    ) -> TreeEnsemble:
        """From a fitted ``sklearn.ensemble.GradientBoostingRegressor`` (squared-error loss). A model fitted on
        some ``columns`` of an ``n_features``-wide matrix has its splits mapped onto that matrix's columns."""
        trees = [estimator[0].tree_ for estimator in model.estimators_]
        mapping = np.asarray(list(columns) if columns is not None else range(model.n_features_in_), dtype=np.intp)
        count, width = len(trees), max(tree.node_count for tree in trees)
        feature = np.zeros((count, width), np.intp)
        threshold = np.full((count, width), np.inf)
        left = np.tile(np.arange(width), (count, 1))  # padding nodes: unreachable leaves
        right = left.copy()
        value = np.zeros((count, width))
        cover = np.zeros((count, width))
        for i, tree in enumerate(trees):
            n = tree.node_count
            leaf = tree.children_left[:n] == -1
            itself = np.arange(n)
            feature[i, :n] = np.where(leaf, 0, mapping[np.maximum(tree.feature[:n], 0)])
            threshold[i, :n] = np.where(leaf, np.inf, tree.threshold[:n])
            left[i, :n] = np.where(leaf, itself, tree.children_left[:n])
            right[i, :n] = np.where(leaf, itself, tree.children_right[:n])
            value[i, :n] = tree.value[:n, 0, 0] * model.learning_rate
            cover[i, :n] = tree.weighted_n_node_samples[:n]
        base = float(np.ravel(model.init_.constant_)[0])
        return cls(feature, threshold, left, right, value, cover, base, n_features or int(model.n_features_in_))

    @property
    def trees(self) -> int:
        return int(self.feature.shape[0])

    def predict(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        return self._scorer.predict(matrix)

    def explainer(self) -> TreeExplainer:
        """Exact per-feature contributions to ``predict`` (``bikecast.explain``); ValueError without covers."""
        return TreeExplainer.from_arrays(
            self.feature, self.threshold, self.left, self.right, self.value, self.cover, self.base, self.n_features
        )

    def output_bounds(self) -> tuple[float, float]:
        """The smallest and largest output any input can get (each tree's smallest and largest reachable leaf)."""
        low, high = self._scorer.leaf_bounds
        return self.base + low, self.base + high

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer, feature=self.feature, threshold=self.threshold, left=self.left, right=self.right,
            value=self.value, cover=self.cover, base=np.array(self.base), n_features=np.array(self.n_features),
        )  # fmt: skip
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, n_features: int) -> TreeEnsemble:
        """Load and check a tree file for a function whose feature matrix has ``n_features`` columns."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
        except Exception as error:  # a zip or npy header that numpy cannot read: not a tree file
            raise TreesInvalid(f"not a readable tree file ({type(error).__name__})") from None
        names = ("feature", "threshold", "left", "right", "value")
        missing = [name for name in (*names, "base") if name not in arrays]
        if missing:
            raise TreesInvalid(f"the tree file lacks {', '.join(missing)}")
        shape = arrays["feature"].shape
        if len(shape) != 2 or not (1 <= shape[0] <= MAX_TREES and 1 <= shape[1] <= MAX_NODES):
            raise TreesInvalid(f"tree arrays of shape {shape}; at most {MAX_TREES} trees of {MAX_NODES} nodes")
        # Files written before covers were recorded still serve; they cannot explain (covers of zero).
        cover = arrays.get("cover", np.zeros(shape))
        for name, array in [*((n, arrays[n]) for n in names), ("cover", cover)]:
            if array.shape != shape or array.dtype.kind not in ("i", "u", "f"):
                raise TreesInvalid(
                    f"array {name!r} has shape {array.shape} and type {array.dtype}, not {shape} numbers"
                )
        declared = int(arrays["n_features"]) if "n_features" in arrays else n_features
        if declared != n_features:
            raise TreesInvalid(f"the trees expect {declared} features; this function computes {n_features}")
        base = float(arrays["base"])
        if not np.isfinite(base):
            raise TreesInvalid("the base value is not finite")
        return cls(
            arrays["feature"].astype(np.intp), arrays["threshold"].astype(np.float64), arrays["left"].astype(np.intp),
            arrays["right"].astype(np.intp), arrays["value"].astype(np.float64), cover.astype(np.float64), base,
            n_features,
        )  # fmt: skip


def leaves_in_order(
    tree: int, left: list[int], right: list[int], feature: list[int], n_features: int
) -> tuple[list[int], list[tuple[int, int]]]:
    """The leaves of one tree from left to right, and each split node with the bits of the leaves in its left
    subtree, checking on the way that it is a tree over ``n_features`` features. Iterative (no recursion)."""
    nodes = len(left)
    leaves: list[int] = []
    splits: list[tuple[int, int]] = []  # (node, bits of the leaves under its left child)
    seen = [False] * nodes
    stack: list[tuple[int, bool]] = [(0, False)]  # (node, children done)
    first_leaf: dict[int, int] = {}  # node -> index of the first leaf under it
    while stack:
        node, done = stack.pop()
        if done:
            start, middle = first_leaf[node], first_leaf[right[node]]
            splits.append((node, ((1 << (middle - start)) - 1) << start))
            continue
        if not 0 <= node < nodes:
            raise TreesInvalid(f"tree {tree}: a child index {node} is outside its {nodes} nodes")
        if seen[node]:
            raise TreesInvalid(f"tree {tree}: node {node} is reached twice (a cycle or a shared subtree)")
        seen[node] = True
        first_leaf[node] = len(leaves)
        if left[node] == node and right[node] == node:
            leaves.append(node)
            if len(leaves) > MAX_LEAVES:
                raise TreesInvalid(
                    f"tree {tree} has more than {MAX_LEAVES} leaves; this format holds at most {MAX_LEAVES}"
                )
            continue
        if left[node] == node or right[node] == node:
            raise TreesInvalid(f"tree {tree}: node {node} is its own child")
        if not 0 <= feature[node] < n_features:
            raise TreesInvalid(f"tree {tree}: node {node} splits on feature {feature[node]}; there are {n_features}")
        # Left subtree first, then the right one, then this node is finished (its right child's first leaf known).
        stack.append((node, True))
        stack.append((right[node], False))
        stack.append((left[node], False))
    return leaves, splits


@dataclass(frozen=True)
class _LeafMasks:
    """Per feature: its split thresholds sorted, and for each prefix of them the leaves still possible in every
    tree (one byte per tree, bit i = the tree's i-th leaf from the left). Trees are scored in pairs."""

    thresholds: list[NDArray[np.float64]]  # per feature, ascending
    masks: list[NDArray[np.uint8]]  # per feature: (len(thresholds) + 1, trees); row k = after failing the first k
    pair_values: NDArray[np.float64]  # (trees / 2) * 64: value of leaf a of tree 2j plus leaf b of tree 2j+1
    pair_offsets: NDArray[np.intp]
    base: float
    leaf_bounds: tuple[float, float]

    @classmethod
    def from_nodes(cls, trees: TreeEnsemble) -> _LeafMasks:
        count = trees.trees + trees.trees % 2  # an even count: pad with a tree that adds 0
        splits: list[list[tuple[float, int, int]]] = [[] for _ in range(trees.n_features)]
        values = np.zeros((count, MAX_LEAVES))
        feature, threshold = trees.feature.tolist(), trees.threshold.tolist()
        left, right, value = trees.left.tolist(), trees.right.tolist(), trees.value.tolist()
        low = high = 0.0
        for t in range(trees.trees):
            leaves, tree_splits = leaves_in_order(t, left[t], right[t], feature[t], trees.n_features)
            leaf_values = [value[t][node] for node in leaves]
            if not np.isfinite(leaf_values).all():
                raise TreesInvalid(f"tree {t} has a leaf value that is not finite")
            for node, left_bits in tree_splits:
                if not np.isfinite(threshold[t][node]):
                    raise TreesInvalid(f"tree {t}: node {node} has a threshold that is not finite")
                splits[feature[t][node]].append((threshold[t][node], t, ~left_bits & 0xFF))
            values[t, : len(leaves)] = leaf_values
            low, high = low + min(leaf_values), high + max(leaf_values)
        if not np.isfinite(trees.cover).all() or (trees.cover < 0).any():
            raise TreesInvalid("node covers must be finite and non-negative")
        thresholds, masks = [], []
        for found in splits:
            found.sort(key=lambda split: split[0])
            table = np.full((len(found) + 1, count), 0xFF, np.uint8)
            for k, (_, t, keep) in enumerate(found, start=1):
                table[k] = table[k - 1]
                table[k, t] &= keep
            thresholds.append(np.array([split[0] for split in found], np.float64))
            masks.append(table)
        pair_values = (values[0::2, :, None] + values[1::2, None, :]).ravel()
        pair_offsets = np.arange(count // 2, dtype=np.intp) * MAX_LEAVES * MAX_LEAVES
        return cls(thresholds, masks, pair_values, pair_offsets, trees.base, (low, high))

    def predict(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        rows = np.asarray(matrix, dtype=np.float32).astype(np.float64)  # scikit-learn compares float32 inputs
        if len(rows) <= CHUNK_ROWS:
            return self._predict_chunk(rows)
        return np.concatenate([self._predict_chunk(rows[i : i + CHUNK_ROWS]) for i in range(0, len(rows), CHUNK_ROWS)])

    def _predict_chunk(self, rows: NDArray[np.float64]) -> NDArray[np.float64]:
        possible = np.full((len(rows), len(self.pair_offsets) * 2), 0xFF, np.uint8)
        for column, (thresholds, masks) in enumerate(zip(self.thresholds, self.masks, strict=True)):
            if len(thresholds):
                failed = thresholds.searchsorted(rows[:, column], side="left")  # splits with threshold < x
                np.bitwise_and(possible, masks.take(failed, axis=0), out=possible)
        pair_leaf = _PAIR_LEAF.take(possible.view("<u2"))
        result: NDArray[np.float64] = self.base + self.pair_values.take(pair_leaf + self.pair_offsets).sum(axis=1)
        return result
