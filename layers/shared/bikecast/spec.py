"""The model spec: everything that is particular to one model, in one object. The rest of bikecast (store,
registry, serving, the HTTP layer, training, the gate, drift, the CLI and both handlers) reads a spec and names
no model's fields.

A spec holds:
- ``row``: the request row, one pydantic model built from ``fields.Date``/``Number``/``Integer``. Row-wise and
  column-wise validation, validation of uploaded CSV rows, the manifest's input schema, the OpenAPI document and
  the tests' strategies all derive from it;
- ``derive``: fills the optional fields a request left out from the others (in place, on the column batch), and
  names given values that contradict what it would derive (they are used as given, with a warning);
- ``feature_names`` and ``derived``: the features, by name: numeric input fields, and features derived from one
  field each by numpy functions (shared by training and serving; explanations are folded back onto the fields);
  a published version records its names, and is served with them;
- ``answer``: how model outputs become answers (e.g. whole, non-negative counts);
- ``data``: how training CSVs are read and keyed (one row per key; the newest upload wins), the target, the label
  columns and their invariants;
- ``recipe`` and ``card``: how it is trained and evaluated, and the words of its model card.

Which specs a deployment serves is a setting (``MODEL_SPECS``: ``module:attribute`` entries, the first is the
default model, which answers ``/predict``, ``/api/makecalc/`` and ``/model``).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from bikecast.rows import Batch, rules

Matrix = NDArray[np.float64]
# Names a model may not take: the default model's own folders live beside the other models' folders.
RESERVED_NAMES = frozenset({"versions", "decisions", "uploads", "drift", "rejected", "current.json"})
NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")


@dataclass(frozen=True, slots=True)
class Contradiction:
    """A given optional value that differs from what ``derive`` would have filled in."""

    row: int
    field: str
    given: float
    derived: float
    source: str  # the field it is derived from
    source_value: str

    def message(self, row_label: str) -> str:
        return (
            f"{row_label}: {self.field}={_shown(self.given)} contradicts {self.source}={self.source_value} "
            f"(which gives {self.field}={_shown(self.derived)}); the given value is used"
        )


def _shown(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(float(value), 6)


@dataclass(frozen=True)
class Answer:
    """How model outputs become answers: whole numbers or not, and the smallest possible value."""

    integer: bool = True
    minimum: float | None = 0.0
    unit: str = ""

    def __call__(self, values: NDArray[np.float64]) -> list[int] | list[float]:
        if self.minimum is not None:
            values = np.clip(values, self.minimum, None)
        if self.integer:
            return np.rint(values).astype(np.int64).tolist()  # type: ignore[no-any-return]
        return values.tolist()  # type: ignore[no-any-return]

    def bounds(self, lower: NDArray[np.float64], upper: NDArray[np.float64]) -> tuple[list[Any], list[Any]]:
        """An interval's bounds as answers: whole numbers round outwards (floor, ceil), so it never narrows."""
        if self.minimum is not None:
            lower, upper = np.clip(lower, self.minimum, None), np.clip(upper, self.minimum, None)
        if self.integer:
            return np.floor(lower).astype(np.int64).tolist(), np.ceil(upper).astype(np.int64).tolist()
        return lower.tolist(), upper.tolist()


def no_problems(batch: Batch) -> Sequence[tuple[int, str]]:
    return ()


@dataclass(frozen=True)
class TrainingData:
    """How training CSVs are read: ``labels`` is the row model plus the label columns (the target, and any others
    the file carries); one row per ``key``; ``time`` is the date field that orders rows in time (None: rows have
    no time, holdouts are random). ``check`` names rows whose labels break the data set's own invariants."""

    labels: type[BaseModel]
    target: str
    key: tuple[str, ...]
    time: str | None = None
    check: Callable[[Batch], Sequence[tuple[int, str]]] = no_problems
    bundled: str | None = None  # the data set shipped with the project (a file name under data/)


@dataclass(frozen=True)
class Growth:
    """Steady growth along a trend feature (years: 0, 1, ...), which a tree cannot carry forward, fitted outside
    the trees as ``clip(trend) x log g[by]`` in the log output space.

    Growth is taken to be constant in the target's units per time unit (rentals per day, say) between the first
    and the last trend level in the training data: ``delta``, the mean difference of the daily totals over the
    levels of ``by`` that both years cover for at least ``min_units`` time units; expressed per level of ``by`` as
    the factor ``g = 1 + delta / L`` (``L``: that level's mean daily total in the first year). With ``adjusted``,
    the difference is of residuals from a helper model fitted on the first year (weather does not count as growth).
    Beyond the trend levels seen in training the last level's growth is held (the range check warns)."""

    feature: str
    by: str
    adjusted: bool = False
    min_units: int = 20


@dataclass(frozen=True)
class Calibration:
    """How the intervals are calibrated: split-conformal quantiles of forward errors. The recipe is refitted at
    origins every ``step_months`` months in the year before the chronological holdout and forecasts the next
    ``horizon_months``; the score of a forecast is ``|y - value| / sqrt(value)`` (``scale`` "sqrt": counts) or
    ``|y - value|`` ("constant"), with one quantile per level of ``by`` if given. A spec without time is calibrated
    on 5-fold cross-validated errors instead."""

    step_months: int = 1
    horizon_months: int = 4
    scale: str = "sqrt"
    by: str | None = None


@dataclass(frozen=True)
class Recipe:
    """How the model is trained: gradient-boosted trees (scikit-learn's ``GradientBoostingRegressor`` with these
    parameters, squared error), which the serving format holds as plain arrays.

    ``target`` "log" fits log(max(y, 1)) and serves exp(raw) (multiplicative effects, explanations that
    multiply), "log1p" fits log(1 + y); ``growth`` (a trend) is fitted outside the trees; ``baseline`` names the
    features of a reference model (a random forest on them), or None for the training mean."""

    params: Mapping[str, Any]
    target: str = "identity"
    growth: Growth | None = None
    calibration: Calibration = Calibration()
    holdout_days: int = 122
    interval_level: float = 0.8
    baseline: tuple[str, ...] | None = None  # a random forest's features; None: the training mean
    baseline_name: str = "the training mean"


@dataclass(frozen=True)
class Card:
    """The words of the model card."""

    title: str
    unit: str  # what one forecast counts, e.g. "rentals per day"
    about: str
    limits: Sequence[str] = ()
    # Days also reported apart in every holdout (name -> ISO dates), e.g. a storm that closed the city.
    notable_days: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Derived:
    """A feature computed from one input field (e.g. the day of the year from a date); ``compute`` must be a
    module-level function (fitted models pickle a reference to it)."""

    source: str
    compute: Callable[[Batch], NDArray[np.float64]]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    summary: str
    row: type[BaseModel]
    derive: Callable[[Batch], list[Contradiction]]
    feature_names: tuple[str, ...]  # what the recipe trains on; a published version keeps its own list
    answer: Answer
    data: TrainingData
    recipe: Recipe
    card: Card
    derived: Mapping[str, Derived] = field(default_factory=dict)  # features beyond the numeric input fields
    range_checked: tuple[str, ...] = ()  # fields whose training range is recorded; outside it, a warning

    def __post_init__(self) -> None:
        if not NAME.fullmatch(self.name) or self.name in RESERVED_NAMES:
            raise ValueError(f"model name {self.name!r}: lower-case letters, digits and '-', not a reserved name")
        unknown = [name for name in self.feature_names if not self.computable([name])]
        if unknown:
            raise ValueError(f"spec {self.name}: features it cannot compute from its row: {unknown}")

    @property
    def input_fields(self) -> tuple[str, ...]:
        return tuple(self.row.model_fields)

    @property
    def required_fields(self) -> tuple[str, ...]:
        return tuple(rule.name for rule in rules(self.row) if rule.required)

    def computable(self, names: Sequence[str]) -> bool:
        """Whether every named feature is a numeric input field or a derived feature of this spec."""
        numeric = {rule.name for rule in rules(self.row) if rule.kind != "date"}
        return all(isinstance(name, str) and (name in numeric or name in self.derived) for name in names)

    def features(self, batch: Batch, names: Sequence[str] | None = None) -> Matrix:
        """The feature matrix of a completed batch, columns in ``names`` order (default: ``feature_names``)."""
        return feature_matrix(batch, names or self.feature_names, self.derived)

    def source_of(self, feature: str) -> str:
        return self.derived[feature].source if feature in self.derived else feature

    def explanation_groups(self, names: Sequence[str] | None = None) -> list[tuple[str, list[int]]]:
        """Each input field that feeds the model, with the feature columns that come from it."""
        columns = list(names or self.feature_names)
        groups = [
            (field, [j for j, f in enumerate(columns) if self.source_of(f) == field]) for field in self.input_fields
        ]
        return [(field, group) for field, group in groups if group]


def feature_matrix(batch: Batch, names: Sequence[str], derived: Mapping[str, Derived]) -> Matrix:
    """Named columns side by side as float64 (a one-row request is ~50 numpy calls: no ``np.column_stack``)."""
    first = next(iter(batch.values()))
    matrix = np.empty((len(first), len(names)))
    for index, name in enumerate(names):
        matrix[:, index] = derived[name].compute(batch) if name in derived else batch[name]
    return matrix


DEFAULT_SPECS = "bikecast.bikes.daily:SPEC,bikecast.bikes.hourly:SPEC"


def load_specs(setting: str = DEFAULT_SPECS) -> dict[str, ModelSpec]:
    """The specs a deployment serves, by name, the default model first, from ``module:attribute`` entries."""
    specs: dict[str, ModelSpec] = {}
    for entry in (part.strip() for part in setting.split(",")):
        if not entry:
            continue
        module, _, attribute = entry.partition(":")
        spec = getattr(importlib.import_module(module), attribute or "SPEC")
        if not isinstance(spec, ModelSpec):
            raise TypeError(f"{entry} is not a ModelSpec")
        if spec.name in specs:
            raise ValueError(f"two specs are named {spec.name!r}")
        specs[spec.name] = spec
    if not specs:
        raise ValueError("MODEL_SPECS names no model")
    return specs
