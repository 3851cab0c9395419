"""A spec's recipe, carried out: fit the model, export it to the serving format, fit the baseline, evaluate.

The fitted model (``Fitted``) is what ``model.joblib`` holds: the spec's feature step (by reference) and the
trees together, with the target transform and the trend term. Its ``predict`` is the reference the serving
format is checked against on every training row before anything is published.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from sklearn.model_selection import train_test_split

from bikecast.rows import Batch
from bikecast.scoring import Linear, Scorer
from bikecast.spec import Matrix, ModelSpec
from bikecast.trees import TreeEnsemble
from training.data import Labelled

RANDOM_STATE = 42


@dataclass
class Fitted:
    """The trees, fitted on the spec's features, and what turns their output into the model's values."""

    spec_name: str
    feature_names: tuple[str, ...]
    features: Callable[[Batch], Matrix]
    estimator: GradientBoostingRegressor
    transform: str
    trend: Linear | None

    def raw(self, matrix: Matrix) -> NDArray[np.float64]:
        raw: NDArray[np.float64] = self.estimator.predict(matrix)
        if self.trend is not None:
            raw = raw + self.trend.coefficient * np.clip(matrix[:, self.trend.feature], self.trend.low, self.trend.high)
        return raw

    def predict(self, batch: Batch) -> NDArray[np.float64]:
        raw = self.raw(self.features(batch))
        return np.expm1(raw) if self.transform == "log1p" else raw

    def scorer(self) -> Scorer:
        """The serving format's view of this model (trees as arrays), without the interval."""
        linear = () if self.trend is None else (self.trend,)
        return Scorer(TreeEnsemble.from_gradient_boosting(self.estimator), linear, self.transform)


def to_raw(values: NDArray[np.float64], transform: str) -> NDArray[np.float64]:
    """Values as a model's raw output sees them (a log1p model's value is ``exp(raw) - 1``)."""
    return np.log1p(np.clip(values, 0, None)) if transform == "log1p" else values


def fit(spec: ModelSpec, data: Labelled) -> Fitted:
    recipe = spec.recipe
    matrix = spec.features(data.batch)
    raw_target = to_raw(data.target, recipe.target)
    trend = None
    if recipe.trend is not None:
        trend = fit_trend(spec, matrix, raw_target)
        raw_target = raw_target - trend.coefficient * np.clip(matrix[:, trend.feature], trend.low, trend.high)
    estimator = GradientBoostingRegressor(**recipe.params).fit(matrix, raw_target)
    return Fitted(spec.name, spec.feature_names, spec.features, estimator, recipe.target, trend)


def fit_trend(spec: ModelSpec, matrix: Matrix, raw_target: NDArray[np.float64]) -> Linear:
    """The steady growth along the trend feature: the mean step of the (transformed) target from one value of
    the feature to the next, so a tree model that cannot carry growth forward does not have to."""
    assert spec.recipe.trend is not None
    column = spec.feature_names.index(spec.recipe.trend)
    values = matrix[:, column]
    levels = np.unique(values)
    steps = [
        float(np.mean(raw_target[values == b]) - np.mean(raw_target[values == a]))
        for a, b in itertools.pairwise(levels)
        if b - a == 1
    ]
    coefficient = float(np.mean(steps)) if steps else 0.0
    high = float(values.max()) if not spec.recipe.trend_beyond_training else float(np.finfo(np.float32).max)
    return Linear(column, coefficient, float(values.min()), high, float(values.mean()))


def fit_baseline(spec: ModelSpec, train: Labelled) -> Callable[[Labelled], NDArray[np.float64]]:
    """The reference model: a random forest on the spec's baseline features, or the training mean."""
    if spec.recipe.baseline is None:
        mean = float(np.mean(train.target))
        return lambda data: np.full(len(data), mean)
    forest = RandomForestRegressor(n_estimators=100, random_state=RANDOM_STATE, n_jobs=1)
    forest.fit(spec.recipe.baseline(train.batch), train.target)
    baseline = spec.recipe.baseline
    return lambda data: np.asarray(forest.predict(baseline(data.batch)), dtype=np.float64)


@dataclass(frozen=True)
class Split:
    name: str
    description: str
    train: NDArray[np.intp]
    test: NDArray[np.intp]


def recent(days: NDArray[np.int64], count: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Rows before the most recent ``count`` distinct days present, and rows on those days. (Distinct days,
    not calendar days: one stray row far in the future cannot make a holdout of one row.)"""
    distinct = np.unique(days)
    start = distinct[-count] if len(distinct) >= count else distinct[0]
    return np.flatnonzero(days < start), np.flatnonzero(days >= start)


def day_text(ordinal: int) -> str:
    return dt.date.fromordinal(ordinal).isoformat()


def splits(spec: ModelSpec, data: Labelled) -> list[Split]:
    found = []
    days = data.days
    if days is not None:
        train, test = recent(days, spec.recipe.holdout_days)
        if len(train) and len(test):
            first, last = int(days[test].min()), int(days[test].max())
            description = f"train before {day_text(first)}, test {day_text(first)}..{day_text(last)}"
            found.append(Split("chronological", description, train, test))
    if len(data) >= 10:
        train, test = train_test_split(np.arange(len(data)), test_size=0.2, random_state=RANDOM_STATE)
        found.append(Split("random_80_20", f"random 80/20, random_state={RANDOM_STATE}", train, test))
    return found


def metrics(actual: NDArray[np.float64], predicted: NDArray[np.float64]) -> dict[str, float | None]:
    """RMSE, MAE, R² (None where undefined: R² of a constant)."""
    error = predicted - actual
    spread = float(np.sum((actual - actual.mean()) ** 2))
    r2 = 1 - float(np.sum(error**2)) / spread if spread > 0 else None
    return {
        "rmse": round(float(np.sqrt(np.mean(error**2))), 2),
        "mae": round(float(np.mean(np.abs(error))), 2),
        "r2": None if r2 is None else round(r2, 4),
    }


@dataclass(frozen=True)
class Evaluation:
    split: Split
    model: dict[str, float | None]
    baseline: dict[str, float | None]
    predicted: NDArray[np.float64]
    actual: NDArray[np.float64]
    test: Labelled

    def summary(self) -> dict[str, Any]:
        return {
            "description": self.split.description,
            "train_rows": len(self.split.train),
            "test_rows": len(self.split.test),
            "model": self.model,
            "baseline": self.baseline,
        }


def evaluate(spec: ModelSpec, data: Labelled, split: Split) -> Evaluation:
    train, test = data.subset(split.train), data.subset(split.test)
    predicted = fit(spec, train).predict(test.batch)
    baseline = fit_baseline(spec, train)(test)
    return Evaluation(
        split, metrics(test.target, predicted), metrics(test.target, baseline), predicted, test.target, test
    )
