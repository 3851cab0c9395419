"""The kinds of value a request row may hold, as pydantic types: a date, a number, an integer.

A model spec declares its request row with these (``spec.ModelSpec.row``); everything that reads rows, row by row
or column by column, from JSON or from a CSV file, derives from that one declaration.

Strict on purpose: a JSON string is not a number (``"0.5"``, ``"1_000"``, ``true`` are refused), and a date is an
ISO 8601 text with nothing around it. CSV cells are text by nature, so there (pydantic's "strings" mode) a cell is
read as a plain decimal number, and nothing looser.
"""

from __future__ import annotations

import datetime as dt
import re
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BeforeValidator, Field, ValidationInfo, WithJsonSchema

# The model reads its features as float32: a larger number becomes infinity there.
FLOAT32_MAX = 3.4028234663852886e38
# Calendar arithmetic on a day may need the next year's first day, so the last year Python represents is out.
LAST_DAY = dt.date(dt.MAXYEAR - 1, 12, 31)

Kind = Literal["date", "number", "integer"]

_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_WHOLE = re.compile(r"[+-]?\d+")
_PLAIN_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# An ISO 8601 time of 24:00[:00[.000]] (the end of the day) or a leap second (:60): valid, but not read by datetime.
_END_OF_DAY = re.compile(r"T24:00(:00(\.0+)?)?(?=$|[Z+-])")
_LEAP_SECOND = re.compile(r"(T\d\d:?\d\d:?)60(?=$|[.,Z+-])")
DATE_HINT = "use YYYY-MM-DD or an ISO 8601 date-time such as 2011-01-01T00:00:00Z"


def parse_date(text: str) -> dt.date:
    """The calendar day of an ISO 8601 date or date-time, taken as written (no time-zone conversion: clients send
    the day at midnight UTC). Every form ``datetime.fromisoformat`` reads, and also lower-case ``t``/``z``, the
    end-of-day time ``T24:00:00`` (read as the written day) and a leap second ``:60``."""
    if _PLAIN_DATE.fullmatch(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a date; {DATE_HINT}") from None
    if not text.isascii() or text != text.strip():
        raise ValueError(f"{text!r} is not a date; {DATE_HINT}")
    normal = _LEAP_SECOND.sub(r"\g<1>59", _END_OF_DAY.sub("T00:00", text.upper()))
    try:
        return dt.datetime.fromisoformat(normal).date()
    except ValueError:
        raise ValueError(f"{text!r} is not a date; {DATE_HINT}") from None


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, str):
        day = parse_date(value)
    else:
        raise ValueError(f"must be a date string; {DATE_HINT}")
    if day > LAST_DAY:
        raise ValueError(f"{day.isoformat()} is after the last supported day, {LAST_DAY.isoformat()}")
    return day


def _from_text(info: ValidationInfo) -> bool:
    """Whether pydantic is reading text cells (``model_validate_strings``: mode "string", though typed otherwise)."""
    return str(info.mode) == "string"


def _number(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, str):
        if _from_text(info) and _DECIMAL.fullmatch(value):
            return float(value)
        raise ValueError("must be a number, not a string")
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


def _integer(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, str):
        if _from_text(info) and _WHOLE.fullmatch(value):
            return int(value)
        raise ValueError("must be an integer, not a string")
    if isinstance(value, bool):
        raise ValueError("must be an integer, not a boolean")
    return value


Date = Annotated[
    dt.date,
    BeforeValidator(_date),
    WithJsonSchema({"type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}]}),
]
Number = Annotated[float, BeforeValidator(_number), Field(ge=-FLOAT32_MAX, le=FLOAT32_MAX, allow_inf_nan=False)]
Integer = Annotated[int, BeforeValidator(_integer)]


def kind_of(annotation: Any) -> Kind:
    """The kind of a row field from its annotation (``Date``, ``Number``, ``Integer``, optional or not)."""
    options = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    names = {getattr((get_origin(arg) and get_args(arg)[0]) or arg, "__name__", "") for arg in options}
    if "date" in names:
        return "date"
    if "float" in names:
        return "number"
    if "int" in names:
        return "integer"
    raise TypeError(f"a row field must be a Date, Number or Integer, not {annotation!r}")
