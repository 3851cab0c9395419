"""Hypothesis strategies derived from a spec's row model (its fields' kinds, bounds, required or optional), so the
tests' idea of a valid row is the spec's, stated once. Also hostile JSON values and texts."""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from pydantic import BaseModel

from bikecast.fields import FLOAT32_MAX
from bikecast.rows import FieldRule, rules

Strategy = st.SearchStrategy
DAYS = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31))


# ISO 8601 forms of 2012-06-01 that Python's datetime reads (times of 24:00 and leap seconds included): each is
# that date, at the field and through the API.
ISO_FORMS_OF_2012_06_01 = (
    "2012-06-01T24:00:00",
    "2012-06-01T24:00",
    "2012-06-01T23:59:60",
    "2012-06-01T23:59:60.5Z",
    "2012-06-01t10:00:00z",
    "2012-06-01t10:00z",
    "2012-06-01T10:00:00z",
    "2012-06-01T10:00:00.000+02:00",
    "2012-06-01 10:00",
    "20120601",
    "20120601T100000Z",
    "2012-W22-5",
)


def reproducible(examples: int) -> settings:
    """The same inputs on every run (derandomized), no per-example deadline."""
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None)


def _value(rule: FieldRule) -> Strategy[Any]:
    if rule.kind == "date":
        return st.one_of(DAYS.map(dt.date.isoformat), DAYS.map(lambda day: f"{day.isoformat()}T00:00:00.000Z"))
    low = -2.0 if math.isinf(rule.low) or rule.low < -FLOAT32_MAX / 2 else rule.low
    high = low + 4.0 if math.isinf(rule.high) or rule.high > FLOAT32_MAX / 2 else rule.high
    if rule.kind == "integer":
        return st.integers(math.ceil(low), math.floor(min(high, low + 100_000)))
    return st.floats(low, min(high, low + 4.0), allow_nan=False)


@functools.cache
def valid_rows(row: type[BaseModel]) -> Strategy[dict[str, Any]]:
    """JSON rows the row model accepts: every required field, any subset of the optional ones."""
    fields = rules(row)
    return st.fixed_dictionaries(
        {rule.name: _value(rule) for rule in fields if rule.required},
        optional={rule.name: _value(rule) for rule in fields if not rule.required},
    )


# Every code point, lone surrogates and control characters included.
any_text = st.text(st.characters(exclude_categories=()), max_size=60)
date_like = st.from_regex(
    r"\A\s*[0-9٠-٩０-９]{1,5}-[0-9]{1,3}-[0-9]{1,3}([Tt ][0-9:.]{0,15}([Zz]|[+-][0-9:]{1,6})?)?\s*\Z"
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(10**400), 10**400),
    st.floats(),
    st.sampled_from([1e39, -1e39, 3.5e38, FLOAT32_MAX, 1e308, 2**1024 - 1, -(2**63), "0.5", " 1 ", "1_000", "1e3"]),
    any_text,
    date_like,
)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3), max_leaves=6
)
