"""The one feature code shared by training and prediction, in numpy only (serving never imports scikit-learn).

Rows arrive as validated observations (see ``schema``) and are turned into a column batch; ``feature_matrix``
turns a batch into the model's feature matrix. Training wraps it as the first step of the saved pipeline
(``transformer.BikeFeatures``), which also records the input ranges seen, so prediction cannot drift from training.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

CALENDAR_FIELDS = ("instant", "season", "yr", "mnth", "holiday", "weekday", "workingday")
WEATHER_FIELDS = ("weathersit", "temp", "atemp", "hum", "windspeed")
REQUIRED_FIELDS = ("dteday", *WEATHER_FIELDS)
INPUT_FIELDS = ("dteday", *CALENDAR_FIELDS, *WEATHER_FIELDS)

# Column order of the feature matrix. Left out on purpose: ``instant``, a record index that a tree model cannot
# extrapolate to future days, and ``weekday``: ``workingday`` carries the weekly pattern, and with weekday in the
# model a client's wrong weekday (the seed article's own request sends 3 for a Sunday) moved forecasts by ~10%
# while the holdout RMSE improved by under 2%.
FEATURE_NAMES = (
    "season",
    "yr",
    "mnth",
    "holiday",
    "workingday",
    "weathersit",
    "temp",
    "atemp",
    "hum",
    "windspeed",
    "dayofyear",
)

# Fields whose training range is recorded, so a request far outside it is flagged.
RANGE_CHECKED_FIELDS = ("dteday", "yr", "weathersit", "temp", "atemp", "hum", "windspeed")

Batch = Mapping[str, NDArray[Any]]


class Observation(Protocol):
    """Anything with the input fields as attributes: ``schema.Observation``, whose validation fills in the
    calendar fields (typed optional there because requests may leave them out)."""

    @property
    def dteday(self) -> dt.date: ...
    @property
    def weathersit(self) -> int: ...
    @property
    def temp(self) -> float: ...
    @property
    def instant(self) -> int | None: ...


def parse_day(value: str) -> dt.date:
    """A calendar day from ``2011-01-01`` or an ISO timestamp such as ``2011-01-01T00:00:00.000Z``.

    The date is taken as written, without time-zone conversion: clients send the day at midnight UTC.
    """
    text = value.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        raise ValueError(f"{value!r} is not a date; use YYYY-MM-DD or an ISO 8601 timestamp") from None


def batch_from_observations(rows: Sequence[Observation]) -> dict[str, NDArray[Any]]:
    """Column arrays of validated observations: one attribute fetch per row, then columns by slicing."""
    names = (*CALENDAR_FIELDS, *WEATHER_FIELDS)
    fetch = operator.attrgetter(*names)
    values = np.array([fetch(row) for row in rows], dtype=np.float64).reshape(len(rows), len(names))
    batch: dict[str, NDArray[Any]] = {
        "dteday": np.array([row.dteday.toordinal() for row in rows], dtype=np.int64),
    }
    for column, name in enumerate(names):
        batch[name] = values[:, column]
    return batch


def day_of_year(ordinals: NDArray[np.int64]) -> NDArray[np.float64]:
    """Days since 1 January of the same year (0-based, as in the seed's ``doTheCalculation``)."""
    days = (ordinals - dt.date(1970, 1, 1).toordinal()).astype("datetime64[D]")
    offsets: NDArray[np.float64] = (days - days.astype("datetime64[Y]")).astype(np.float64)
    return offsets


@dataclass(frozen=True, slots=True)
class RangeWarning:
    row: int
    field: str
    value: float | str
    low: float | str
    high: float | str

    def message(self, row_label: str) -> str:
        return (
            f"{row_label}: {self.field}={self.value} is outside the range seen in training "
            f"[{self.low}, {self.high}]; the forecast is an extrapolation"
        )


def feature_matrix(batch: Batch) -> NDArray[np.float64]:
    """Column batch -> feature matrix, columns in ``FEATURE_NAMES`` order."""
    columns = [batch[name] for name in FEATURE_NAMES[:-1]]
    columns.append(day_of_year(batch["dteday"]))
    return side_by_side(columns)


def side_by_side(columns: Sequence[NDArray[Any]]) -> NDArray[np.float64]:
    """``np.column_stack`` as float64, without its per-call overhead (a one-row request is ~50 numpy calls)."""
    matrix = np.empty((len(columns[0]), len(columns)))
    for index, column in enumerate(columns):
        matrix[:, index] = column
    return matrix


Ranges = Mapping[str, tuple[float, float]]


def input_ranges(batch: Batch) -> dict[str, tuple[float, float]]:
    """Min and max of each range-checked field (``dteday`` as a day ordinal)."""
    return {name: (float(np.min(batch[name])), float(np.max(batch[name]))) for name in RANGE_CHECKED_FIELDS}


def out_of_range(batch: Batch, ranges: Ranges) -> list[RangeWarning]:
    if not ranges:
        return []
    names = list(ranges)
    values = side_by_side([batch[name] for name in names])
    bounds = np.array([ranges[name] for name in names])
    if not ((values < bounds[:, 0]) | (values > bounds[:, 1])).any():
        return []  # the usual case, in four numpy calls
    found: list[RangeWarning] = []
    for name, (low, high) in ranges.items():
        values = batch[name]
        for row in np.flatnonzero((values < low) | (values > high)):
            found.append(RangeWarning(int(row), name, *_shown(name, values[row], low, high)))
    found.sort(key=lambda warning: warning.row)
    return found


def _shown(name: str, value: float, low: float, high: float) -> tuple[float | str, float | str, float | str]:
    if name == "dteday":
        return tuple(dt.date.fromordinal(int(v)).isoformat() for v in (value, low, high))  # type: ignore[return-value]
    return _number(value), _number(low), _number(high)


def _number(value: float) -> float:
    return int(value) if float(value).is_integer() else round(float(value), 6)
