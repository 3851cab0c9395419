"""Request rows of any model spec: validated row by row (pydantic, the spec's row model) or, for large plain
batches, column by column, and turned into the column batch that the spec's features read.

Everything here is derived from the row model's fields (``fields.Date``, ``Number``, ``Integer``, required or
optional, with ``ge``/``le`` bounds). The column path decides exactly as the row model would or defers to it: any
value it is not sure of (a string, a missing required field, a value out of bounds) sends the whole batch through
the row model, which accepts or names the problem, so both paths give the same answers and the same errors.

A batch maps each field to a numpy column: dates as day ordinals (int64), numbers and integers as float64, an
optional field left out as NaN (the spec's ``derive`` fills it in).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, overload

import annotated_types
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field, ValidatorFunctionWrapHandler, WrapValidator, create_model

from bikecast.fields import LAST_DAY, Kind, kind_of, parse_date

Batch = dict[str, NDArray[Any]]

# Below this many rows pydantic's row-by-row validation is the faster one (measured: benchmarks/RESULTS.md).
COLUMNS_FROM_ROWS = 16


@dataclass(frozen=True, slots=True)
class FieldRule:
    name: str
    kind: Kind
    required: bool
    low: float
    high: float


@functools.cache
def rules(row: type[BaseModel]) -> tuple[FieldRule, ...]:
    """Each field of a row model: its kind, whether it is required, and its bounds (the tightest ``ge``/``le``)."""
    found = []
    for name, info in row.model_fields.items():
        low, high = -math.inf, math.inf
        kind = kind_of(info.annotation)
        for rule in info.metadata if kind != "date" else ():
            if isinstance(rule, annotated_types.Ge):
                low = max(low, float(rule.ge))  # type: ignore[arg-type]
            elif isinstance(rule, annotated_types.Le):
                high = min(high, float(rule.le))  # type: ignore[arg-type]
        found.append(FieldRule(name, kind, info.is_required(), low, high))
    return tuple(found)


def batch_of(row: type[BaseModel], instances: Sequence[BaseModel]) -> Batch:
    """The column batch of validated rows: one attribute fetch per row, then columns by slicing."""
    if isinstance(instances, Columns):
        return instances.batch
    fields = rules(row)
    fetch = operator.attrgetter(*(f.name for f in fields))
    values = [fetch(instance) for instance in instances]
    if len(fields) == 1:
        values = [(value,) for value in values]
    batch: Batch = {}
    for index, rule in enumerate(fields):
        column = [value[index] for value in values]
        if rule.kind == "date":
            batch[rule.name] = np.array([day.toordinal() for day in column], dtype=np.int64)
        else:
            batch[rule.name] = np.array([math.nan if v is None else v for v in column], dtype=np.float64)
    return batch


class Columns(Sequence[Any]):
    """Rows validated column by column, held as their batch; ``keys`` are the JSON object keys of the seed
    article's ``{"0": row, ...}`` body when the rows came that way."""

    def __init__(self, row: type[BaseModel], batch: Batch, keys: list[str] | None = None) -> None:
        self.row = row
        self.batch = batch
        self.keys = keys

    def __len__(self) -> int:
        return len(next(iter(self.batch.values())))

    @overload
    def __getitem__(self, index: int) -> BaseModel: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[BaseModel]: ...
    def __getitem__(self, index: int | slice) -> BaseModel | Sequence[BaseModel]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        values: dict[str, Any] = {}
        for rule in rules(self.row):
            value = self.batch[rule.name][index]
            if rule.kind == "date":
                values[rule.name] = dt.date.fromordinal(int(value))
            elif not math.isnan(value):
                values[rule.name] = int(value) if rule.kind == "integer" else float(value)
        return self.row.model_construct(**values)

    def __iter__(self) -> Iterator[BaseModel]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        # Short on purpose: Powertools formats route arguments into a debug message on every request.
        return f"Columns({len(self)} rows)"


_NONE = type(None)


def columns_from_json(row: type[BaseModel], items: list[Any], keys: list[str] | None = None) -> Columns | None:
    """The rows validated column by column, or None if any value needs the row model to judge it."""
    if not items or not all(type(item) is dict for item in items):
        return None
    batch: Batch = {}
    for rule in rules(row):
        try:  # one C-level pass over the rows per field
            given = list(map(operator.itemgetter(rule.name), items))
        except KeyError:
            if rule.required:
                return None  # the row model names the row that lacks it
            given = list(map(dict.get, items, itertools.repeat(rule.name)))
        column = _days(given, rule) if rule.kind == "date" else _numbers(given, rule)
        if column is None:
            return None
        batch[rule.name] = column
    return Columns(row, batch, keys)


def _days(values: Sequence[Any], rule: FieldRule) -> NDArray[np.int64] | None:
    """Day ordinals of date strings, parsed as the row model parses them (each distinct string once)."""
    if not rule.required and None in values:
        return None  # an optional date left out: rare enough to leave to the row model
    parsed: dict[str, int] = {}
    try:
        for value in values:
            if value not in parsed:  # an unhashable value raises TypeError
                if type(value) is not str:
                    return None
                day = parse_date(value)
                if day > LAST_DAY:
                    return None
                parsed[value] = day.toordinal()
    except (ValueError, TypeError):
        return None
    return np.array([parsed[value] for value in values], dtype=np.int64)


def _numbers(values: Sequence[Any], rule: FieldRule) -> NDArray[np.float64] | None:
    """A numeric column as float64 (missing optional values as NaN), or None unless every value is of the exact
    type (no bool, no string; an integer field takes only ints), finite and within bounds, compared as pydantic
    compares them: as floats."""
    kinds = set(map(type, values))
    missing = not rule.required and _NONE in kinds
    if missing and kinds == {_NONE}:  # an optional field no row gives
        return np.full(len(values), math.nan)
    if missing:
        kinds.discard(_NONE)
        values = [math.nan if value is None else value for value in values]
    if not kinds <= ({int} if rule.kind == "integer" else {int, float}):
        return None
    try:
        column = np.array(values, dtype=np.float64)
    except OverflowError:  # an integer beyond any float
        return None
    given = column[~np.isnan(column)] if missing else column
    if given.size and not (np.isfinite(given).all() and rule.low <= given.min() and given.max() <= rule.high):
        return None
    return column


def _list_as_columns(row: type[BaseModel]) -> Callable[[Any, ValidatorFunctionWrapHandler], Any]:
    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        columns = None
        if type(value) is list and len(value) >= COLUMNS_FROM_ROWS:
            columns = columns_from_json(row, value)
        return columns if columns is not None else handler(value)

    return validate


def _object_as_columns(row: type[BaseModel]) -> Callable[[Any, ValidatorFunctionWrapHandler], Any]:
    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        columns = None
        if type(value) is dict and len(value) >= COLUMNS_FROM_ROWS:
            columns = columns_from_json(row, list(value.values()), keys=list(value))
        return columns if columns is not None else handler(value)

    return validate


def rows_type(row: type[BaseModel]) -> Any:
    """``list[row]``, validated column by column when it can be (the OpenAPI schema stays ``list[row]``)."""
    return Annotated[list[row], WrapValidator(_list_as_columns(row))]  # type: ignore[valid-type]


def rows_by_key_type(row: type[BaseModel]) -> Any:
    """``dict[str, row]``, the seed article's body, validated column by column when it can be."""
    return Annotated[dict[str, row], WrapValidator(_object_as_columns(row))]  # type: ignore[valid-type]


def request_model(row: type[BaseModel], name: str) -> type[BaseModel]:
    """The body of ``POST /predict`` for this row model: ``{"instances": [row, ...], "explain": false}``."""
    model: type[BaseModel] = create_model(
        name,
        instances=(rows_type(row), Field(min_length=1, description="The rows to forecast, one each.")),
        explain=(
            bool,
            Field(default=False, strict=True, description="Also explain each forecast (`explanations` in the answer)."),
        ),
        __base__=_ShortRepr,
    )
    return model


class _ShortRepr(BaseModel):
    def __repr__(self) -> str:
        return f"{type(self).__name__}(instances=[{len(getattr(self, 'instances', ()))} rows])"


def json_schema_fields(row: type[BaseModel]) -> Mapping[str, Mapping[str, Any]]:
    """Each field's JSON schema, for the manifest's input schema."""
    properties: Mapping[str, Mapping[str, Any]] = row.model_json_schema()["properties"]
    return properties
