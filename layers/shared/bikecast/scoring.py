"""What a published model computes, read from its manifest's ``serving`` section and its tree file:

    raw      = trees(features) + each linear term
    value    = raw; exp(raw) for a model fitted on log(target); exp(raw) - 1 on log(1 + target)   ("transform")
    interval = value -/+ q * sqrt(value) ("sqrt", for counts) or value -/+ q ("constant"), q calibrated in
               training, one per level of a feature if ``by`` is given                          ("interval")

A linear term is ``clip(x, low, high) * c``, where ``c`` is one coefficient or, with ``by``, a coefficient per
level of another feature (growth that differs by month, say). It carries what a tree cannot: a trend.

Explanations (``explain``) are exact Shapley values: path-dependent TreeSHAP for the trees (``bikecast.explain``),
and for a linear term the closed form of its game over the training distribution of its features (independent
marginals): ``coefficient * (x - mean x)`` for one coefficient; for ``x * c(by)``, ``(x - mean x)(mean c + c) / 2``
to x and ``(c - mean c)(mean x + x) / 2`` to ``by``. They add up: baseline + sum of contributions = raw.

Model-agnostic: which features, what they mean, and how a value becomes an answer are the spec's business.
Everything here is checked when a version is loaded, so a model that cannot serve is refused then, not on a
request: the feature names and count must be the function's own, and no input can take an output past
``MAX_VALUE``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bikecast.explain import TreeExplainer
from bikecast.trees import TREES_FORMAT, TreeEnsemble, TreesInvalid

# Larger than any forecast a model of counts or amounts makes, small enough to stay exact as an integer.
MAX_VALUE = 1e15
TRANSFORMS = ("identity", "log", "log1p")
INTERVALS = ("sqrt", "constant")


class ServingInvalid(ValueError):
    """The manifest's serving section does not describe a model this function can serve."""


class CannotExplain(Exception):
    """This version cannot be explained (published before node covers were recorded)."""


@dataclass(frozen=True)
class Linear:
    """``clip(x, low, high) * c`` added to the trees' output, ``c`` being ``coefficient`` or, with ``by``, the
    coefficient of ``by``'s level in ``table`` (``coefficient`` for a level not in it). ``mean`` is the training
    mean of clip(x); ``mean_coefficient`` the training mean of c."""

    feature: int
    coefficient: float
    low: float
    high: float
    mean: float
    by: int | None = None
    table: Mapping[float, float] = field(default_factory=dict)
    mean_coefficient: float = 0.0

    @functools.cached_property
    def _lookup(self) -> Table:
        return Table.of(self.table, self.coefficient)

    def coefficients(self, matrix: NDArray[np.float64]) -> NDArray[np.float64] | float:
        if self.by is None:
            return self.coefficient
        return self._lookup(matrix[:, self.by])

    def term(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        x = np.clip(matrix[:, self.feature], self.low, self.high)
        result: NDArray[np.float64] = x * self.coefficients(matrix)
        return result

    def bounds(self) -> tuple[float, float]:
        coefficients = [self.coefficient, *self.table.values()]
        ends = [x * c for x in (self.low, self.high) for c in coefficients]
        return min(ends), max(ends)

    def shapley(self, matrix: NDArray[np.float64], into: NDArray[np.float64]) -> float:
        """Add this term's contributions to ``into`` (rows x features); return its part of the baseline."""
        x = np.clip(matrix[:, self.feature], self.low, self.high)
        if self.by is None:
            into[:, self.feature] += self.coefficient * (x - self.mean)
            return self.coefficient * self.mean
        c = self.coefficients(matrix)
        into[:, self.feature] += (x - self.mean) * (self.mean_coefficient + c) / 2
        into[:, self.by] += (c - self.mean_coefficient) * (self.mean + x) / 2
        return self.mean * self.mean_coefficient

    def as_dict(self, names: Sequence[str]) -> dict[str, Any]:
        described: dict[str, Any] = {
            "feature": names[self.feature], "coefficient": self.coefficient, "low": self.low, "high": self.high,
            "mean": self.mean,
        }  # fmt: skip
        if self.by is not None:
            described |= {
                "by": names[self.by],
                "table": [[level, value] for level, value in sorted(self.table.items())],
                "mean_coefficient": self.mean_coefficient,
            }
        return described


@dataclass(frozen=True)
class Interval:
    """``value -/+ q * spread``: spread ``sqrt(value)`` ("sqrt") or 1 ("constant"); ``q`` per level of feature
    ``by`` in ``table`` (``q`` for a level not in it)."""

    kind: str
    q: float
    level: float
    by: int | None = None
    table: Mapping[float, float] = field(default_factory=dict)

    def around(self, values: NDArray[np.float64], matrix: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
        q: NDArray[np.float64] | float = self.q
        if self.by is not None:
            q = self._lookup(matrix[:, self.by])
        spread = np.sqrt(np.clip(values, 0, None)) if self.kind == "sqrt" else 1.0
        return values - q * spread, values + q * spread

    @functools.cached_property
    def _lookup(self) -> Table:
        return Table.of(self.table, self.q)

    def widest(self) -> float:
        return max([self.q, *self.table.values()])

    def as_dict(self, names: Sequence[str]) -> dict[str, Any]:
        described: dict[str, Any] = {"kind": self.kind, "q": self.q, "level": self.level}
        if self.by is not None:
            described |= {"by": names[self.by], "table": [[level, q] for level, q in sorted(self.table.items())]}
        return described


@dataclass
class Scorer:
    trees: TreeEnsemble
    linear: tuple[Linear, ...] = ()
    transform: str = "identity"
    interval: Interval | None = None
    feature_names: tuple[str, ...] = ()  # the columns of the matrix it reads, by name
    _explainer: TreeExplainer | None = field(default=None, repr=False, compare=False)

    def raw(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        raw = self.trees.predict(matrix)
        for term in self.linear:
            raw = raw + term.term(matrix)
        return raw

    def values(self, raw: NDArray[np.float64]) -> NDArray[np.float64]:
        return output_values(raw, self.transform)

    def intervals(
        self, values: NDArray[np.float64], matrix: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], ...] | None:
        return None if self.interval is None else self.interval.around(values, matrix)

    def explain(self, matrix: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        """(baseline, contributions per feature column) in raw space: baseline + row sum = raw."""
        if self._explainer is None:
            try:
                self._explainer = self.trees.explainer()  # once per version, on the first request that asks
            except ValueError:
                raise CannotExplain("this version was published without node covers and cannot explain") from None
        contributions = self._explainer.contributions(matrix)
        baseline = self._explainer.baseline
        for term in self.linear:
            baseline += term.shapley(matrix, contributions)
        return baseline, contributions

    def value_bounds(self) -> tuple[float, float]:
        """The smallest and largest value (interval bounds included) any input can get."""
        low, high = self.trees.output_bounds()
        for term in self.linear:
            term_low, term_high = term.bounds()
            low, high = low + term_low, high + term_high
        # a hostile artifact's bounds may overflow to inf or nan: load() refuses any that are not finite
        with np.errstate(all="ignore"):
            ends = self.values(np.array([low, high]))
            if self.interval is not None:
                spread = np.sqrt(np.clip(ends, 0, None)) if self.interval.kind == "sqrt" else np.ones(2)
                ends = np.concatenate(
                    [ends, ends - self.interval.widest() * spread, ends + self.interval.widest() * spread]
                )
            if np.isnan(ends).any():
                return math.nan, math.nan
            return float(ends.min()), float(ends.max())

    @classmethod
    def load(cls, serving: Mapping[str, Any], tree_file: bytes, computable: Callable[[Sequence[str]], bool]) -> Scorer:
        """Check that the function can compute every feature the model was exported for (``computable``), then
        load and check the trees against that feature count."""
        if serving.get("format") != TREES_FORMAT:
            raise ServingInvalid(f"serving format {serving.get('format')!r} is not {TREES_FORMAT!r}")
        recorded = serving.get("features")
        if not isinstance(recorded, list) or not recorded or not computable(recorded):
            raise ServingInvalid(
                f"the model was exported for features {_short(recorded)}, which this function cannot compute"
            )
        feature_names = [str(name) for name in recorded]
        if serving.get("n_features", len(feature_names)) != len(feature_names):
            raise ServingInvalid(f"the model expects {serving.get('n_features')!r} features, not {len(feature_names)}")
        transform = serving.get("transform", "identity")
        if transform not in TRANSFORMS:
            raise ServingInvalid(f"unknown output transform {transform!r}")
        try:
            trees = TreeEnsemble.from_bytes(tree_file, len(feature_names))
            linear = tuple(_linear(term, feature_names) for term in serving.get("linear") or ())
            interval = _interval(serving.get("interval"), feature_names)
        except TreesInvalid as error:
            raise ServingInvalid(str(error)) from None
        scorer = cls(trees, linear, transform, interval, tuple(feature_names))
        low, high = scorer.value_bounds()
        if not (math.isfinite(low) and math.isfinite(high) and max(abs(low), abs(high)) <= MAX_VALUE):
            raise ServingInvalid(f"the model can output values from {low:.3g} to {high:.3g}, beyond {MAX_VALUE:.0e}")
        return scorer


def _linear(term: Any, feature_names: list[str]) -> Linear:
    try:
        name, coefficient, low, high, mean = (term[k] for k in ("feature", "coefficient", "low", "high", "mean"))
        numbers = [float(coefficient), float(low), float(high), float(mean)]
        by = term.get("by")
        table = {float(level): float(value) for level, value in term.get("table") or ()}
        mean_coefficient = float(term.get("mean_coefficient", 0.0))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise TreesInvalid(f"a linear term is not {{feature, coefficient, low, high, mean}}: {_short(term)}") from None
    finite = all(map(math.isfinite, [*numbers, mean_coefficient, *table, *table.values()]))
    if (
        name not in feature_names
        or (by is not None and by not in feature_names)
        or not finite
        or numbers[1] > numbers[2]
    ):
        raise TreesInvalid(f"a linear term on {_short(name)} is not a finite term on known features")
    by_index = None if by is None else feature_names.index(by)
    coefficient_, low_, high_, mean_ = numbers
    return Linear(feature_names.index(name), coefficient_, low_, high_, mean_, by_index, table, mean_coefficient)


@dataclass(frozen=True)
class Table:
    """Values by level, for whole columns at once: a sorted search, not a pass per level."""

    keys: NDArray[np.float64]
    values: NDArray[np.float64]
    default: float

    @classmethod
    def of(cls, table: Mapping[float, float], default: float) -> Table:
        keys = sorted(table)
        return cls(np.array([*keys, np.inf]), np.array([*(table[k] for k in keys), default]), default)

    def __call__(self, levels: NDArray[np.float64]) -> NDArray[np.float64]:
        at = self.keys.searchsorted(levels)
        at[at >= len(self.keys)] = len(self.keys) - 1
        found: NDArray[np.float64] = np.where(self.keys[at] == levels, self.values[at], self.default)
        return found


def output_values(raw: NDArray[np.float64], transform: str) -> NDArray[np.float64]:
    """A model's values from its raw output (the inverse of its target transform)."""
    if transform == "log":
        return np.exp(raw)
    if transform == "log1p":
        return np.expm1(raw)
    return raw


def _interval(spec: Any, feature_names: list[str]) -> Interval | None:
    if spec is None:
        return None
    try:
        kind, q, level = str(spec["kind"]), float(spec["q"]), float(spec["level"])
        by = spec.get("by")
        table = {float(value): float(quantile) for value, quantile in spec.get("table") or ()}
    except (KeyError, TypeError, ValueError, AttributeError):
        raise TreesInvalid("the interval is not {kind, q, level[, by, table]}") from None
    usable = kind in INTERVALS and 0 < level < 1 and all(math.isfinite(v) and v >= 0 for v in (q, *table.values()))
    if not usable or (by is not None and by not in feature_names):
        raise TreesInvalid(f"the interval {kind} q={q} at level {level} is not usable")
    return Interval(kind, q, level, None if by is None else feature_names.index(by), table)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:199] + "…"
