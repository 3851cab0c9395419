"""Properties of the feature code, for any input Hypothesis can draw (derandomized: the same inputs on every run)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bikecast import features
from bikecast.calendar import FIRST_DAY, calendar_fields, holidays, season
from bikecast.schema import Observation

FLOAT32_MAX = float(np.finfo(np.float32).max)
ROW: dict[str, Any] = {
    "dteday": "2012-06-01",
    "weathersit": 1,
    "temp": 0.6,
    "atemp": 0.55,
    "hum": 0.5,
    "windspeed": 0.2,
}
FIELDS = (*features.INPUT_FIELDS, "")


def reproducible(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None)


# Every code point, lone surrogates and control characters included.
any_text = st.text(st.characters(exclude_categories=()), max_size=60)
date_like = st.from_regex(r"\A\s*[0-9٠-٩０-９]{1,5}-[0-9]{1,3}-[0-9]{1,3}([T ][0-9:.]{0,15}(Z|[+-][0-9:]{1,6})?)?\s*\Z")
days = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31))
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(10**400), 10**400),
    st.floats(),
    st.sampled_from([1e39, -1e39, 3.5e38, FLOAT32_MAX, 1e308, 2**1024 - 1, -(2**63)]),
    any_text,
    date_like,
)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3), max_leaves=6
)
valid_rows = st.fixed_dictionaries(
    {
        "dteday": days.map(dt.date.isoformat),
        "weathersit": st.integers(1, 4),
        "temp": st.floats(-2, 2),
        "atemp": st.floats(-2, 2),
        "hum": st.floats(0, 2),
        "windspeed": st.floats(0, 2),
    },
    optional={
        "season": st.integers(1, 4),
        "yr": st.integers(0, 100),
        "mnth": st.integers(1, 12),
        "holiday": st.integers(0, 1),
        "weekday": st.integers(0, 6),
        "workingday": st.integers(0, 1),
    },
)


@reproducible(1500)
@given(st.one_of(any_text, date_like))
def test_parse_day_raises_nothing_but_value_error(text: str) -> None:
    outcome: dt.date | ValueError
    try:
        outcome = features.parse_day(text)
    except ValueError as refused:
        outcome = refused
    assert isinstance(outcome, dt.date) or "is not a date" in str(outcome)


@reproducible(300)
@given(
    st.dates(),
    st.times(),
    st.sampled_from(["", "Z", "+05:00", "-11:30"]),
    st.sampled_from(["", " ", "\t", "\n "]),
)
def test_parse_day_takes_the_date_part_as_written(day: dt.date, time: dt.time, zone: str, space: str) -> None:
    assert features.parse_day(f"{space}{day.isoformat()}{space}") == day
    assert features.parse_day(f"{day.isoformat()}T{time.isoformat()}{zone}") == day


@reproducible(1500)
@given(
    st.one_of(
        st.dictionaries(st.sampled_from(FIELDS) | any_text, json_values, max_size=14),
        st.builds(lambda name, value: ROW | {name: value}, st.sampled_from(FIELDS), json_values),
    )
)
def test_observation_validation_raises_nothing_but_validation_error(row: dict[str, Any]) -> None:
    """And whatever it accepts, the model can take: finite features that fit the model's float32 input."""
    try:
        observation = Observation.model_validate(row)
    except ValidationError:
        return
    batch = features.batch_from_observations([observation])
    matrix = features.feature_matrix(batch)
    assert matrix.shape == (1, len(features.FEATURE_NAMES))
    assert np.all(np.isfinite(matrix.astype(np.float32))), (row, matrix)


@reproducible(200)
@given(st.lists(valid_rows, min_size=1, max_size=30))
def test_feature_matrix_has_one_row_per_observation_in_feature_order(rows: list[dict[str, Any]]) -> None:
    observations = [Observation.model_validate(row) for row in rows]
    matrix = features.feature_matrix(features.batch_from_observations(observations))
    assert matrix.shape == (len(rows), len(features.FEATURE_NAMES))
    assert matrix.dtype == np.float64
    for observation, values in zip(observations, matrix, strict=True):
        for name, value in zip(features.FEATURE_NAMES, values, strict=True):
            if name == "dayofyear":
                assert value == observation.dteday.timetuple().tm_yday - 1
            else:
                assert value == getattr(observation, name), name


@reproducible(500)
@given(days)
def test_calendar_fields_agree_with_datetime(day: dt.date) -> None:
    derived = calendar_fields(day)
    assert derived.instant == (day - FIRST_DAY).days + 1
    assert derived.yr == day.year - 2011
    assert derived.mnth == day.month
    assert derived.weekday == day.isoweekday() % 7  # the data set counts 0 = Sunday
    assert derived.holiday == int(day in holidays(day.year))
    assert derived.workingday == int(day.isoweekday() < 6 and not derived.holiday)
    assert not (derived.holiday and day.isoweekday() >= 6), "holidays are observed on weekdays"
    assert derived.season == season(day)
    boundaries = [(3, 21, 2), (6, 21, 3), (9, 23, 4), (12, 21, 1)]
    expected = 1
    for month, first, number in boundaries:
        if (day.month, day.day) >= (month, first):
            expected = number
    assert derived.season == expected
    assert features.day_of_year(np.array([day.toordinal()])).tolist() == [day.timetuple().tm_yday - 1]


@reproducible(300)
@given(days, st.sampled_from(features.CALENDAR_FIELDS))
def test_observation_derives_missing_calendar_fields_and_keeps_given_ones(day: dt.date, given_field: str) -> None:
    derived = calendar_fields(day)
    observation = Observation.model_validate(ROW | {"dteday": day.isoformat()})
    for name in features.CALENDAR_FIELDS:
        assert getattr(observation, name) == getattr(derived, name)
    given = {"instant": 7, "season": 4, "yr": 3, "mnth": 2, "holiday": 1, "weekday": 6, "workingday": 1}[given_field]
    kept = Observation.model_validate(ROW | {"dteday": day.isoformat(), given_field: given})
    assert getattr(kept, given_field) == given


@pytest.mark.parametrize("value", [1e39, -1e39, 3.4028236e38, 1e308])
def test_observation_refuses_floats_the_model_cannot_read(value: float) -> None:
    with pytest.raises(ValidationError) as refused:
        Observation.model_validate(ROW | {"temp": value})
    assert [error["loc"] for error in refused.value.errors()] == [("temp",)]


@pytest.mark.parametrize("value", [FLOAT32_MAX, -FLOAT32_MAX, 1e38, math.ulp(0.0)])
def test_observation_takes_floats_the_model_can_read(value: float) -> None:
    assert Observation.model_validate(ROW | {"temp": value}).temp == value
