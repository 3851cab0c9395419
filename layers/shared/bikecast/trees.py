"""A fitted gradient-boosting model as plain arrays, and its prediction in numpy: the serving format.

Why not a library: onnxruntime (the natural choice) is 70 MB unzipped, treelite imports scipy and predicted
10,000 rows in 170 ms, and scikit-learn with scipy is 125 MB and a second to import. This format loads with
``numpy.load(allow_pickle=False)`` (data, never code) and imports nothing beyond numpy. Training checks it against
scikit-learn on every training row before publishing it (``max_abs_diff``).

Prediction does not walk the trees node by node. It uses the leaf-bitmask method of QuickScorer (Lucchese et al.,
SIGIR 2015): every split that a row fails rules out the leaves of its left subtree, and the leaf a row reaches is
the leftmost one not ruled out. Sorting each feature's thresholds turns "the splits this row fails" into a prefix
found by one ``searchsorted``, so a batch costs one table lookup per feature instead of one gather per tree level:
10,000 rows in ~11 ms, one row in ~0.03 ms.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

TREES_FORMAT = "trees-npz"
TREES_FILE = "model.trees.npz"
MAX_LEAVES = 8  # a tree's leaves are one byte of bits; max_depth 3 gives at most 8
# Rows scored at a time: 512 rows x 500 trees of leaf bytes stay in the CPU cache (10,000 rows: 11 ms, not 23 ms).
CHUNK_ROWS = 512

# Two trees' leaf bytes read as one little-endian uint16 -> the pair's leaf index (first tree's leaf * 8 + second's).
_BYTES = np.arange(65536)
_LOWEST_BIT = np.array([(b & -b).bit_length() - 1 if b else 0 for b in range(256)], np.uint8)
_PAIR_LEAF = (_LOWEST_BIT[_BYTES & 0xFF].astype(np.uint16) * MAX_LEAVES + _LOWEST_BIT[_BYTES >> 8]).astype(np.uint8)


@dataclass(frozen=True)
class TreeEnsemble:
    """``base + sum over trees of value[leaf]``, stored as node arrays, each tree padded to the same node count.

    Leaves point to themselves with an infinite threshold. Like scikit-learn, features are compared as float32
    against float64 thresholds (``x <= threshold``: left).
    """

    feature: NDArray[np.intp]  # (trees, nodes)
    threshold: NDArray[np.float64]
    left: NDArray[np.intp]
    right: NDArray[np.intp]
    value: NDArray[np.float64]  # leaf values, already multiplied by the learning rate
    base: float
    depth: int
    _scorer: _LeafMasks = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_scorer", _LeafMasks.from_nodes(self))

    @classmethod
    def from_gradient_boosting(cls, model: Any) -> TreeEnsemble:
        """From a fitted ``sklearn.ensemble.GradientBoostingRegressor`` (squared-error loss)."""
        trees = [estimator[0].tree_ for estimator in model.estimators_]
        count, width = len(trees), max(tree.node_count for tree in trees)
        feature = np.zeros((count, width), np.intp)
        threshold = np.full((count, width), np.inf)
        left = np.zeros((count, width), np.intp)
        right = np.zeros((count, width), np.intp)
        value = np.zeros((count, width))
        for i, tree in enumerate(trees):
            n = tree.node_count
            leaf = tree.children_left[:n] == -1
            itself = np.arange(n)
            feature[i, :n] = np.where(leaf, 0, tree.feature[:n])
            threshold[i, :n] = np.where(leaf, np.inf, tree.threshold[:n])
            left[i, :n] = np.where(leaf, itself, tree.children_left[:n])
            right[i, :n] = np.where(leaf, itself, tree.children_right[:n])
            value[i, :n] = tree.value[:n, 0, 0] * model.learning_rate
        base = float(np.ravel(model.init_.constant_)[0])
        return cls(feature, threshold, left, right, value, base, max(tree.max_depth for tree in trees))

    def predict(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        return self._scorer.predict(matrix)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer, feature=self.feature, threshold=self.threshold, left=self.left, right=self.right,
            value=self.value, base=np.array(self.base), depth=np.array(self.depth),
        )  # fmt: skip
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> TreeEnsemble:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return cls(
                arrays["feature"].astype(np.intp), arrays["threshold"], arrays["left"].astype(np.intp),
                arrays["right"].astype(np.intp), arrays["value"], float(arrays["base"]), int(arrays["depth"]),
            )  # fmt: skip


@dataclass(frozen=True)
class _LeafMasks:
    """Per feature: its split thresholds sorted, and for each prefix of them the leaves still possible in every
    tree (one byte per tree, bit i = the tree's i-th leaf from the left). Trees are scored in pairs."""

    thresholds: list[NDArray[np.float64]]  # per feature, ascending
    masks: list[NDArray[np.uint8]]  # per feature: (len(thresholds) + 1, trees); row k = after failing the first k
    pair_values: NDArray[np.float64]  # (trees / 2) * 64: value of leaf a of tree 2j plus leaf b of tree 2j+1
    pair_offsets: NDArray[np.intp]
    base: float

    @classmethod
    def from_nodes(cls, trees: TreeEnsemble) -> _LeafMasks:
        count = len(trees.feature) + len(trees.feature) % 2  # an even count: pad with a tree that adds 0
        features_used = int(trees.feature.max()) + 1 if trees.feature.size else 0
        splits: list[list[tuple[float, int, int]]] = [[] for _ in range(features_used)]
        values = np.zeros((count, MAX_LEAVES))
        feature, threshold = trees.feature.tolist(), trees.threshold.tolist()
        left, right, value = trees.left.tolist(), trees.right.tolist(), trees.value.tolist()
        for t in range(len(feature)):
            leaves: list[int] = []  # node ids, left to right

            def visit(node: int, t: int = t, leaves: list[int] = leaves) -> int:
                """Collect the leaves under ``node``; return the bits of those leaves."""
                if left[t][node] == node:
                    leaves.append(node)
                    return 1 << (len(leaves) - 1)
                left_bits = visit(left[t][node])
                right_bits = visit(right[t][node])
                splits[feature[t][node]].append((threshold[t][node], t, ~left_bits & 0xFF))
                return left_bits | right_bits

            visit(0)
            if len(leaves) > MAX_LEAVES:
                raise ValueError(f"tree {t} has {len(leaves)} leaves; this format holds at most {MAX_LEAVES}")
            values[t, : len(leaves)] = [value[t][node] for node in leaves]
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
        return cls(thresholds, masks, pair_values, pair_offsets, trees.base)

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
