"""What a published model computes, read from its manifest's ``serving`` section and its tree file:

    raw    = trees(features) + sum of linear terms (coefficient x feature, the feature clipped to [low, high])
    value  = raw, or exp(raw) - 1 for a model fitted on log(1 + target)     ("transform")
    interval = the same transform of raw + lower and raw + upper              ("interval", calibrated in training)

Model-agnostic: which features, what they mean, and how a value becomes an answer are the spec's business.
Everything here is checked when a version is loaded, so a model that cannot serve is refused then, not on a
request: the feature names and count must be the function's own, and no input can take an output past
``MAX_VALUE``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bikecast.trees import TREES_FORMAT, TreeEnsemble, TreesInvalid

# Larger than any forecast a model of counts or amounts makes, small enough to stay exact as an integer.
MAX_VALUE = 1e15
TRANSFORMS = ("identity", "log1p")


class ServingInvalid(ValueError):
    """The manifest's serving section does not describe a model this function can serve."""


@dataclass(frozen=True, slots=True)
class Linear:
    """``coefficient x clip(feature, low, high)``, added to the trees' output; ``mean`` is its training mean."""

    feature: int
    coefficient: float
    low: float
    high: float
    mean: float


@dataclass(frozen=True)
class Scorer:
    trees: TreeEnsemble
    linear: tuple[Linear, ...] = ()
    transform: str = "identity"
    interval: tuple[float, float] | None = None  # raw-space offsets of the calibrated interval
    interval_level: float | None = None

    def raw(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        raw = self.trees.predict(matrix)
        for term in self.linear:
            raw = raw + term.coefficient * np.clip(matrix[:, term.feature], term.low, term.high)
        return raw

    def values(self, raw: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.expm1(raw) if self.transform == "log1p" else raw

    def intervals(self, raw: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
        if self.interval is None:
            return None
        lower, upper = self.interval
        return self.values(raw + lower), self.values(raw + upper)

    def value_bounds(self) -> tuple[float, float]:
        """The smallest and largest value (interval bounds included) any input can get."""
        low, high = self.trees.output_bounds()
        for term in self.linear:
            ends = (term.coefficient * term.low, term.coefficient * term.high)
            low, high = low + min(ends), high + max(ends)
        lower, upper = self.interval or (0.0, 0.0)
        return float(self.values(np.array([low + min(lower, 0.0)]))[0]), float(
            self.values(np.array([high + max(upper, 0.0)]))[0]
        )

    @classmethod
    def load(cls, serving: Mapping[str, Any], tree_file: bytes, feature_names: Sequence[str]) -> Scorer:
        """Check the serving section against the function's own feature names, then load and check the trees."""
        if serving.get("format") != TREES_FORMAT:
            raise ServingInvalid(f"serving format {serving.get('format')!r} is not {TREES_FORMAT!r}")
        recorded = serving.get("features")
        if list(recorded or []) != list(feature_names):
            ours = _short(feature_names)
            raise ServingInvalid(
                f"the model was exported for features {_short(recorded)}; this function computes {ours}"
            )
        if serving.get("n_features", len(feature_names)) != len(feature_names):
            raise ServingInvalid(f"the model expects {serving.get('n_features')!r} features, not {len(feature_names)}")
        transform = serving.get("transform", "identity")
        if transform not in TRANSFORMS:
            raise ServingInvalid(f"unknown output transform {transform!r}")
        try:
            trees = TreeEnsemble.from_bytes(tree_file, len(feature_names))
            linear = tuple(_linear(term, list(feature_names)) for term in serving.get("linear") or ())
            interval, level = _interval(serving.get("interval"))
        except TreesInvalid as error:
            raise ServingInvalid(str(error)) from None
        scorer = cls(trees, linear, transform, interval, level)
        low, high = scorer.value_bounds()
        if not (math.isfinite(low) and math.isfinite(high) and max(abs(low), abs(high)) <= MAX_VALUE):
            raise ServingInvalid(f"the model can output values from {low:.3g} to {high:.3g}, beyond {MAX_VALUE:.0e}")
        return scorer


def _linear(term: Any, feature_names: list[str]) -> Linear:
    try:
        name, coefficient, low, high, mean = (term[k] for k in ("feature", "coefficient", "low", "high", "mean"))
        numbers = [float(coefficient), float(low), float(high), float(mean)]
    except (KeyError, TypeError, ValueError):
        raise TreesInvalid(f"a linear term is not {{feature, coefficient, low, high, mean}}: {_short(term)}") from None
    if name not in feature_names or not all(map(math.isfinite, numbers)) or numbers[1] > numbers[2]:
        raise TreesInvalid(f"a linear term on {_short(name)} is not a finite term on a known feature")
    return Linear(feature_names.index(name), *numbers)


def _interval(spec: Any) -> tuple[tuple[float, float] | None, float | None]:
    if spec is None:
        return None, None
    try:
        lower, upper, level = float(spec["lower"]), float(spec["upper"]), float(spec["level"])
    except (KeyError, TypeError, ValueError):
        raise TreesInvalid("the interval is not {lower, upper, level}") from None
    if not (math.isfinite(lower) and math.isfinite(upper) and lower <= upper and 0 < level < 1):
        raise TreesInvalid(f"the interval [{lower}, {upper}] at level {level} is not usable")
    return (lower, upper), level


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:199] + "…"
