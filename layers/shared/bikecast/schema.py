"""The request contract: one validated observation per row, and the API's request and response bodies.

The same ``Observation`` validates API rows and uploaded training CSV rows, so both reject the same things
with the same words. Missing calendar fields are derived from the date; given ones are used as given.

A batch of plain rows (JSON numbers, date strings) is validated column by column instead (``ObservationColumns``):
same bounds, same date parsing, same derived calendar, but a few numpy calls per field rather than pydantic's
work per row. Anything it is not sure of (a string number, a missing field, a value out of bounds) sends the
whole batch through ``Observation``, which accepts or names the problem exactly as for one row.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import operator
from collections.abc import Iterator, Sequence
from typing import Annotated, Any, overload

import annotated_types
import numpy as np
from numpy.typing import NDArray
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
    model_validator,
)

from bikecast.calendar import FIRST_DAY, calendar_fields
from bikecast.features import CALENDAR_FIELDS, INPUT_FIELDS, REQUIRED_FIELDS, WEATHER_FIELDS, parse_day

# The calendar of a day needs the next year's New Year's Day, so the last year Python can represent is out.
LAST_DAY = dt.date(dt.MAXYEAR - 1, 12, 31)
# The model reads its features as float32: a larger number becomes infinity there and the model refuses it.
FLOAT32_MAX = 3.4028234663852886e38


def _day(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        day = value
    elif not isinstance(value, str):
        raise ValueError("must be a date string such as 2011-01-01 or 2011-01-01T00:00:00.000Z")
    else:
        day = parse_day(value)
    if day.year > LAST_DAY.year:
        raise ValueError(f"{day.isoformat()[:10]} is after the last supported day, {LAST_DAY.isoformat()}")
    return day


Day = Annotated[
    dt.date,
    BeforeValidator(_day),
    WithJsonSchema({"type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}]}),
]
FiniteFloat = Annotated[float, Field(ge=-FLOAT32_MAX, le=FLOAT32_MAX, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, le=FLOAT32_MAX, allow_inf_nan=False)]


class Observation(BaseModel):
    """One day: the weather and, optionally, calendar fields (derived from ``dteday`` when missing)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    dteday: Day = Field(description="The day, YYYY-MM-DD or an ISO 8601 timestamp (its date part is used).")
    weathersit: int = Field(ge=1, le=4, description="1 clear, 2 mist/cloudy, 3 light rain/snow, 4 heavy rain/snow.")
    temp: FiniteFloat = Field(description="Normalised temperature, t/41 (°C).")
    atemp: FiniteFloat = Field(description="Normalised feels-like temperature, t/50 (°C).")
    hum: NonNegativeFloat = Field(description="Normalised relative humidity, h/100.")
    windspeed: NonNegativeFloat = Field(description="Normalised wind speed, w/67.")
    instant: int | None = Field(
        default=None,
        ge=(dt.date.min - FIRST_DAY).days + 1,
        le=(LAST_DAY - FIRST_DAY).days + 1,
        description="Record index; derived: days since 2010-12-31.",
    )
    season: int | None = Field(default=None, ge=1, le=4, description="1 winter .. 4 autumn; derived.")
    yr: int | None = Field(default=None, ge=0, le=100, description="Years since 2011; derived.")
    mnth: int | None = Field(default=None, ge=1, le=12, description="Month 1..12; derived.")
    holiday: int | None = Field(default=None, ge=0, le=1, description="1 on a D.C. public holiday; derived.")
    weekday: int | None = Field(default=None, ge=0, le=6, description="0 Sunday .. 6 Saturday; derived.")
    workingday: int | None = Field(default=None, ge=0, le=1, description="1 unless weekend or holiday; derived.")

    @model_validator(mode="after")
    def _fill_calendar(self) -> Observation:
        missing = [name for name in CALENDAR_FIELDS if getattr(self, name) is None]
        if missing:
            derived = calendar_fields(self.dteday)
            for name in missing:
                object.__setattr__(self, name, getattr(derived, name))
        return self

    def __repr__(self) -> str:
        # Short on purpose: Powertools formats the route's arguments into a debug message on every request, even
        # with debug logging off, and pydantic's full repr of 10,000 rows took ~70 ms.
        return f"Observation(dteday={self.dteday.isoformat()})"


@functools.cache
def _bounds(name: str) -> tuple[float, float]:
    """The ``ge``/``le`` of an ``Observation`` field, so the column checks use the very same limits."""
    low, high = -math.inf, math.inf
    for rule in Observation.model_fields[name].metadata:
        if isinstance(rule, annotated_types.Ge):
            low = float(rule.ge)  # type: ignore[arg-type]
        elif isinstance(rule, annotated_types.Le):
            high = float(rule.le)  # type: ignore[arg-type]
    return low, high


INT_FIELDS = ("weathersit", *CALENDAR_FIELDS)
FLOAT_FIELDS = tuple(name for name in WEATHER_FIELDS if name != "weathersit")
_NONE = type(None)
_get_required = operator.itemgetter(*REQUIRED_FIELDS)
_get_all = operator.itemgetter(*INPUT_FIELDS)


class ObservationColumns(Sequence[Observation]):
    """Validated rows held as the column batch that ``features`` reads (``batch``), with the JSON object keys
    of the seed's ``{"0": row, ...}`` body when it came that way (``keys``)."""

    def __init__(self, batch: dict[str, NDArray[Any]], keys: list[str] | None = None) -> None:
        self.batch = batch
        self.keys = keys

    @classmethod
    def from_json_rows(cls, rows: list[Any], keys: list[str] | None = None) -> ObservationColumns | None:
        """The rows validated column by column, or None if any value needs ``Observation`` to judge it."""
        if not rows or not all(type(row) is dict for row in rows):
            return None
        given: dict[str, Sequence[Any]]
        try:  # one C-level pass over the rows, then columns by transposing
            given = dict(zip(INPUT_FIELDS, zip(*map(_get_all, rows), strict=True), strict=True))
        except KeyError:  # some rows leave calendar fields out (they are derived), or a required one (an error)
            try:
                given = dict(zip(REQUIRED_FIELDS, zip(*map(_get_required, rows), strict=True), strict=True))
            except KeyError:
                return None  # a required field is missing: Observation names it
            given |= {name: [row.get(name) for row in rows] for name in CALENDAR_FIELDS}
        days = _days(given["dteday"])
        if days is None:
            return None
        batch: dict[str, NDArray[Any]] = {"dteday": days}
        for name in (*FLOAT_FIELDS, *INT_FIELDS):
            numeric = (int, float) if name in FLOAT_FIELDS else (int,)
            column = _column(given[name], name, numeric, optional=name in CALENDAR_FIELDS)
            if column is None:
                return None
            batch[name] = column
        if any(None in given[name] for name in CALENDAR_FIELDS):
            _derive_missing_calendar(batch)
        return cls(batch, keys)

    def __len__(self) -> int:
        return len(self.batch["dteday"])

    @overload
    def __getitem__(self, index: int) -> Observation: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Observation]: ...
    def __getitem__(self, index: int | slice) -> Observation | Sequence[Observation]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        values: dict[str, Any] = {name: int(self.batch[name][index]) for name in INT_FIELDS}
        values |= {name: float(self.batch[name][index]) for name in FLOAT_FIELDS}
        values["dteday"] = dt.date.fromordinal(int(self.batch["dteday"][index]))
        # Validated already; derived fields may lie outside the bounds a client may send (yr before 2011).
        return Observation.model_construct(**values)

    def __iter__(self) -> Iterator[Observation]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return f"ObservationColumns({len(self)} rows)"


def _days(values: Sequence[Any]) -> NDArray[np.int64] | None:
    """Day ordinals of date strings, parsed as ``Observation`` parses them (each distinct string once)."""
    parsed: dict[str, int] = {}
    try:
        for value in values:
            if value not in parsed:  # an unhashable value raises TypeError
                if type(value) is not str:
                    return None
                day = parse_day(value)
                if day > LAST_DAY:
                    return None
                parsed[value] = day.toordinal()
    except (ValueError, TypeError):
        return None
    return np.array([parsed[value] for value in values], dtype=np.int64)


def _column(values: Sequence[Any], name: str, types: tuple[type, ...], optional: bool) -> NDArray[np.float64] | None:
    """A numeric column as float64 (missing optional values as NaN), or None unless every value is of ``types``
    (exactly: no bool, no string), finite and within the field's bounds, compared as pydantic does: as floats."""
    kinds = set(map(type, values))
    missing = optional and _NONE in kinds
    if missing:
        kinds.discard(_NONE)
        values = [math.nan if value is None else value for value in values]
    if not kinds <= set(types):
        return None
    try:
        column = np.array(values, dtype=np.float64)
    except OverflowError:  # an integer beyond any float
        return None
    given = column[~np.isnan(column)] if missing else column
    low, high = _bounds(name)
    if given.size and not (np.isfinite(given).all() and low <= given.min() and given.max() <= high):
        return None
    return column


def _derive_missing_calendar(batch: dict[str, NDArray[Any]]) -> None:
    """Fill missing calendar fields from the date, as ``Observation`` does (one derivation per distinct day)."""
    missing = np.column_stack([np.isnan(batch[name]) for name in CALENDAR_FIELDS])
    rows = np.flatnonzero(missing.any(axis=1))
    if not len(rows):
        return
    derived = {}
    for ordinal in np.unique(batch["dteday"][rows]).tolist():
        fields = calendar_fields(dt.date.fromordinal(ordinal))
        derived[ordinal] = [getattr(fields, name) for name in CALENDAR_FIELDS]
    table = np.array([derived[ordinal] for ordinal in batch["dteday"][rows].tolist()], dtype=np.float64)
    for j, name in enumerate(CALENDAR_FIELDS):
        column = batch[name]
        fill = missing[rows, j]
        column[rows[fill]] = table[fill, j]


# Below this many rows pydantic's row-by-row validation is the faster one (1 row: 9 us vs 46 us; 64: 259 vs 111).
COLUMNS_FROM_ROWS = 16


def _list_as_columns(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    columns = None
    if type(value) is list and len(value) >= COLUMNS_FROM_ROWS:
        columns = ObservationColumns.from_json_rows(value)
    return columns if columns is not None else handler(value)


def _object_as_columns(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    columns = None
    if type(value) is dict and len(value) >= COLUMNS_FROM_ROWS:
        columns = ObservationColumns.from_json_rows(list(value.values()), keys=list(value))
    return columns if columns is not None else handler(value)


# Both API bodies: validated column by column when they can be, row by row (and with the same errors) otherwise.
# The wrap validators change how rows are validated, not what is accepted; the OpenAPI schema stays the same.
ObservationList = Annotated[list[Observation], WrapValidator(_list_as_columns)]
ObservationsByKey = Annotated[dict[str, Observation], WrapValidator(_object_as_columns)]


class PredictRequest(BaseModel):
    instances: ObservationList = Field(min_length=1, description="The days to forecast, one row each.")

    def __repr__(self) -> str:
        return f"PredictRequest(instances=[{len(self.instances)} rows])"


class PredictResponse(BaseModel):
    predictions: list[int] = Field(description="Forecast rentals per row, whole non-negative numbers.")
    model_version: str
    warnings: list[str] = Field(description="Values outside the range seen in training, by row and field.")


class HealthResponse(BaseModel):
    status: str
    model_version: str | None = None
    reason: str | None = None


class ErrorDetail(BaseModel):
    field: str
    problem: str


class ErrorResponse(BaseModel):
    error: str
    message: str
    details: list[ErrorDetail] = []
