"""A spec's recipe, carried out: fit the model (growth term and trees), calibrate its intervals, export it to the
serving format, fit the baseline, evaluate.

The fitted model (``Fitted``) is what ``model.joblib`` holds: the spec's feature step (by reference), the trees and
the growth term together. Its ``predict`` is the reference the serving format is checked against on every training
row before anything is published.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from sklearn.model_selection import KFold, train_test_split

from bikecast.rows import Batch
from bikecast.scoring import Interval, Linear, Scorer, output_values
from bikecast.spec import Growth, Matrix, ModelSpec, feature_matrix
from bikecast.trees import TreeEnsemble
from training.data import Labelled

RANDOM_STATE = 42
Values = NDArray[np.float64]


def to_raw(values: Values, transform: str) -> Values:
    """Values as a model's raw output sees them (the model's target transform)."""
    if transform == "log":
        return np.log(np.clip(values, 1, None))
    if transform == "log1p":
        return np.log1p(np.clip(values, 0, None))
    return values


@dataclass
class Fitted:
    """The trees (fitted on the spec's features but the trend feature) and the growth term outside them."""

    spec_name: str
    feature_names: tuple[str, ...]
    features: Callable[[Batch], Matrix]
    estimator: GradientBoostingRegressor
    tree_columns: list[int]
    transform: str
    growth: Linear | None
    interval: Interval | None = None

    def raw(self, matrix: Matrix) -> Values:
        raw: Values = self.estimator.predict(matrix[:, self.tree_columns])
        return raw if self.growth is None else raw + self.growth.term(matrix)

    def predict(self, batch: Batch) -> Values:
        return output_values(self.raw(self.features(batch)), self.transform)

    def scorer(self) -> Scorer:
        """The serving format's view of this model: the trees as arrays over the full feature matrix."""
        trees = TreeEnsemble.from_gradient_boosting(self.estimator, self.tree_columns, len(self.feature_names))
        return Scorer(trees, () if self.growth is None else (self.growth,), self.transform, self.interval)


def fit(spec: ModelSpec, data: Labelled) -> Fitted:
    recipe = spec.recipe
    matrix = spec.features(data.batch)
    raw_target = to_raw(data.target, recipe.target)
    growth = None if recipe.growth is None else fit_growth(spec, recipe.growth, data, matrix)
    if growth is not None:
        raw_target = raw_target - growth.term(matrix)
    trend = None if recipe.growth is None else spec.feature_names.index(recipe.growth.feature)
    columns = [j for j in range(len(spec.feature_names)) if j != trend]
    estimator = GradientBoostingRegressor(**recipe.params).fit(matrix[:, columns], raw_target)
    features = functools.partial(feature_matrix, names=spec.feature_names, derived=spec.derived)
    return Fitted(spec.name, spec.feature_names, features, estimator, columns, recipe.target, growth)


# -- growth --------------------------------------------------------------------------------------------------------

# The first year's helper, shared by every fit whose training rows hold all of it (most of a retrain's fits).
_HELPERS: dict[str, GradientBoostingRegressor] = {}
MAX_HELPERS = 4


def fit_growth(spec: ModelSpec, growth: Growth, data: Labelled, matrix: Matrix) -> Linear:
    """``clip(trend, first, last) x log g[by]``: see ``spec.Growth``. No growth (g = 1) where it cannot be told."""
    names = list(spec.feature_names)
    trend, by = names.index(growth.feature), names.index(growth.by)
    years, levels, target = matrix[:, trend], matrix[:, by], data.target
    first, last = float(years.min()), float(years.max())
    units = data.days if data.days is not None else np.arange(len(data))
    daily = _per_unit(units, years, levels, target)
    if growth.adjusted and last > first:
        early = years == first
        helper = _helper(spec, matrix[early], target[early])
        columns = [j for j in range(len(names)) if j != trend]
        fitted = helper.predict(matrix[:, columns])
        daily = daily._replace(total=_per_unit(units, years, levels, target - fitted).total)
    base = {lv: float(np.mean(daily.total_raw[(daily.year == first) & (daily.level == lv)]))
            for lv in np.unique(daily.level[daily.year == first]).tolist()}  # fmt: skip
    steps, weights = [], []
    for level in base:
        before, after = (daily.year == first) & (daily.level == level), (daily.year == last) & (daily.level == level)
        if last > first and before.sum() >= growth.min_units and after.sum() >= growth.min_units:
            steps.append(float(daily.total[after].mean() - daily.total[before].mean()))
            weights.append(float(after.sum()))
    delta = float(np.average(steps, weights=weights)) if steps else 0.0
    span = max(last - first, 1.0)
    table = {level: math.log(max(1 + delta / mean, 0.05)) / span for level, mean in base.items() if mean > 0}
    default = float(np.mean(list(table.values()))) if table else 0.0
    term = Linear(trend, default, first, last, 0.0, by, table, 0.0)
    coefficients = term.coefficients(matrix)
    clipped = np.clip(years, first, last)
    return Linear(trend, default, first, last, float(clipped.mean()), by, table, float(np.mean(coefficients)))


@dataclass(frozen=True)
class _Units:
    year: Values
    level: Values
    total: Values  # what growth is measured on (totals, or residual totals)
    total_raw: Values  # the plain totals (the first year's level L)

    def _replace(self, total: Values) -> _Units:
        return _Units(self.year, self.level, total, self.total_raw)


def _per_unit(units: NDArray[Any], years: Values, levels: Values, values: Values) -> _Units:
    """Per time unit (day): its year, its level of ``by``, and the sum of ``values`` over its rows."""
    keys, first_row, index = np.unique(units, return_index=True, return_inverse=True)
    totals = np.bincount(index, values, minlength=len(keys))
    return _Units(years[first_row], levels[first_row], totals, totals)


def _helper(spec: ModelSpec, matrix: Matrix, target: Values) -> GradientBoostingRegressor:
    trend = spec.feature_names.index(spec.recipe.growth.feature) if spec.recipe.growth else -1
    columns = [j for j in range(matrix.shape[1]) if j != trend]
    x = np.ascontiguousarray(matrix[:, columns])
    key = hashlib.sha256(spec.name.encode() + x.tobytes() + target.tobytes()).hexdigest()
    if key not in _HELPERS:
        while len(_HELPERS) >= MAX_HELPERS:
            _HELPERS.pop(next(iter(_HELPERS)))
        _HELPERS[key] = GradientBoostingRegressor(**spec.recipe.params).fit(x, target)
    return _HELPERS[key]


# -- intervals -----------------------------------------------------------------------------------------------------


def conformal_quantile(scores: Values, level: float) -> float:
    """Split-conformal quantile with the finite-sample correction: the ceil((n + 1) level)-th smallest score."""
    ordered = np.sort(scores)
    if not len(ordered):
        return 0.0
    rank = min(math.ceil((len(ordered) + 1) * level), len(ordered))
    return float(ordered[rank - 1])


@dataclass
class Errors:
    """Forecast errors collected for calibration: actual, forecast and the ``by`` level of each row."""

    actual: list[Values] = field(default_factory=list)
    forecast: list[Values] = field(default_factory=list)
    levels: list[Values] = field(default_factory=list)

    def add(self, actual: Values, forecast: Values, levels: Values) -> None:
        self.actual.append(actual)
        self.forecast.append(forecast)
        self.levels.append(levels)

    def __len__(self) -> int:
        return sum(map(len, self.actual))

    def interval(self, spec: ModelSpec) -> Interval:
        calibration = spec.recipe.calibration
        actual, forecast = np.concatenate(self.actual), np.concatenate(self.forecast)
        spread = np.sqrt(np.clip(forecast, 1e-9, None)) if calibration.scale == "sqrt" else np.ones(len(forecast))
        scores = np.abs(actual - forecast) / spread
        level = spec.recipe.interval_level
        q = conformal_quantile(scores, level)
        if calibration.by is None:
            return Interval(calibration.scale, q, level)
        levels = np.concatenate(self.levels)
        table = {float(v): conformal_quantile(scores[levels == v], level) for v in np.unique(levels).tolist()}
        return Interval(calibration.scale, q, level, spec.feature_names.index(calibration.by), table)


def coverage(interval: Interval, actual: Values, forecast: Values, matrix: Matrix, spec: ModelSpec) -> dict[str, Any]:
    lower, upper = spec.answer.bounds(*interval.around(forecast, matrix))
    low, high = np.array(lower, dtype=np.float64), np.array(upper, dtype=np.float64)
    inside = (actual >= low) & (actual <= high)
    return {
        "coverage": round(float(inside.mean()), 4),
        "mean_width": round(float((high - low).mean()), 2),
        "rows": len(actual),
    }


def origins(data: Labelled, spec: ModelSpec, before: int) -> list[int]:
    """Calibration origins (day ordinals): month starts every ``step_months``, in the last trend level (growth
    must be estimable) or the last year, with at least half a year of data before them, before ``before``."""
    days = data.days
    assert days is not None
    step = spec.recipe.calibration.step_months
    start = dt.date.fromordinal(int(days.min())) + dt.timedelta(days=182)
    growth = spec.recipe.growth
    if growth is not None:
        years = data.batch[growth.feature]
        latest = days[years == years[days < before].max()] if (days < before).any() else days
        start = max(start, _add_months(dt.date.fromordinal(int(latest.min())).replace(day=1), 1))
    start = max(start, dt.date.fromordinal(before) - dt.timedelta(days=365))
    found, month = [], _next_month(start - dt.timedelta(days=1))
    while month.toordinal() < before:
        found.append(month.toordinal())
        month = _add_months(month, step)
    return found


def _next_month(day: dt.date) -> dt.date:
    return day if day.day == 1 else _add_months(day.replace(day=1), 1)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.month - 1 + months
    return dt.date(day.year + index // 12, index % 12 + 1, 1)


# -- baseline, splits, metrics, evaluation ----------------------------------------------------------------------------


def fit_baseline(spec: ModelSpec, train: Labelled) -> Callable[[Labelled], Values]:
    """The reference model: a random forest on the spec's baseline features, or the training mean."""
    if spec.recipe.baseline is None:
        mean = float(np.mean(train.target))
        return lambda data: np.full(len(data), mean)
    forest = RandomForestRegressor(n_estimators=100, random_state=RANDOM_STATE, n_jobs=1)
    names = spec.recipe.baseline
    forest.fit(spec.features(train.batch, names), train.target)
    return lambda data: np.asarray(forest.predict(spec.features(data.batch, names)), dtype=np.float64)


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


def metrics(actual: Values, predicted: Values) -> dict[str, float | None]:
    """RMSE, MAE, R² (None where undefined: R² of a constant)."""
    error = predicted - actual
    spread = float(np.sum((actual - actual.mean()) ** 2)) if len(actual) else 0.0
    r2 = 1 - float(np.sum(error**2)) / spread if spread > 0 else None
    return {
        "rmse": round(float(np.sqrt(np.mean(error**2))), 2) if len(actual) else None,
        "mae": round(float(np.mean(np.abs(error))), 2) if len(actual) else None,
        "r2": None if r2 is None else round(r2, 4),
    }


@dataclass(frozen=True)
class Evaluation:
    split: Split
    model: dict[str, float | None]
    baseline: dict[str, float | None]
    predicted: Values
    actual: Values
    test: Labelled
    fitted: Fitted

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
    fitted = fit(spec, train)
    predicted = fitted.predict(test.batch)
    baseline = fit_baseline(spec, train)(test)
    return Evaluation(
        split, metrics(test.target, predicted), metrics(test.target, baseline), predicted, test.target, test, fitted
    )


def calibrate(
    spec: ModelSpec, data: Labelled, holdout: Evaluation | None, progress: Callable[[str], None]
) -> tuple[Interval, Interval, Evaluation | None]:
    """(interval for judging the holdout, interval to publish, the holdout it was judged on).

    With time: forward errors from the origins before the chronological holdout (their windows capped at it)
    give the first; the same origins' full windows plus the holdout's own forecasts give the second. Without:
    5-fold cross-validated errors within the random split's training rows, then within all rows."""
    by = spec.recipe.calibration.by
    matrix = spec.features(data.batch)
    levels = matrix[:, spec.feature_names.index(by)] if by else np.zeros(len(data))
    days = data.days
    if days is None or holdout is None or holdout.split.name != "chronological":
        judged = next_split = None
        if holdout is not None:
            judged = _cross_validated(spec, data.subset(holdout.split.train), levels[holdout.split.train])
            next_split = holdout
        return judged or _cross_validated(spec, data, levels), _cross_validated(spec, data, levels), next_split
    horizon = spec.recipe.calibration.horizon_months
    start = int(days[holdout.split.test].min())
    before, full = Errors(), Errors()
    chosen = origins(data, spec, start)
    progress(f"calibrating intervals on forward errors from {len(chosen)} origins before the holdout")
    for origin in chosen:
        end = _add_months(dt.date.fromordinal(origin), horizon).toordinal()
        window = np.flatnonzero((days >= origin) & (days < end))
        forecast = fit(spec, data.subset(np.flatnonzero(days < origin))).predict(data.subset(window).batch)
        for errors, keep in ((before, days[window] < start), (full, np.ones(len(window), dtype=bool))):
            errors.add(data.target[window][keep], forecast[keep], levels[window][keep])
    full.add(holdout.actual, holdout.predicted, levels[holdout.split.test])
    if not len(before):
        before = full
    return before.interval(spec), full.interval(spec), holdout


def _cross_validated(spec: ModelSpec, data: Labelled, levels: Values) -> Interval:
    errors = Errors()
    folds = KFold(n_splits=5, shuffle=True, random_state=RANDOM_STATE) if len(data) >= 10 else None
    for train, test in folds.split(np.arange(len(data))) if folds else ():
        forecast = fit(spec, data.subset(train)).predict(data.subset(test).batch)
        errors.add(data.target[test], forecast, levels[test])
    if not len(errors):
        errors.add(data.target, fit(spec, data).predict(data.batch), levels)
    return errors.interval(spec)


def without_days(evaluation: Evaluation, spec: ModelSpec, dates: Sequence[str]) -> NDArray[np.bool_] | None:
    """Rows of a holdout outside ``dates`` (None when none of them is in it)."""
    days = evaluation.test.days
    if days is None:
        return None
    excluded = np.isin(days, [dt.date.fromisoformat(day).toordinal() for day in dates])
    return ~excluded if excluded.any() else None
