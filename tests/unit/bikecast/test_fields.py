"""The field kinds of request rows: ISO 8601 dates taken as written, numbers that are JSON numbers."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from bikecast.fields import FLOAT32_MAX, Date, Integer, Number, parse_date
from tests.strategies import ISO_FORMS_OF_2012_06_01, any_text, date_like, reproducible


class Row(BaseModel):
    day: Date
    amount: Number
    count: Integer | None = None


@reproducible(1500)
@given(st.one_of(any_text, date_like))
def test_parse_date_raises_nothing_but_value_error(text: str) -> None:
    outcome: dt.date | str
    try:
        outcome = parse_date(text)
    except ValueError as refused:
        outcome = str(refused)
    assert isinstance(outcome, dt.date) or "is not a date" in outcome


@reproducible(300)
@given(st.dates(), st.times(), st.sampled_from(["", "Z", "z", "+05:00", "-11:30"]), st.sampled_from(["T", "t", " "]))
def test_the_date_part_is_taken_as_written(day: dt.date, time: dt.time, zone: str, separator: str) -> None:
    assert parse_date(day.isoformat()) == day
    assert parse_date(f"{day.isoformat()}{separator}{time.isoformat()}{zone}") == day


@pytest.mark.parametrize("text", ISO_FORMS_OF_2012_06_01)
def test_iso_8601_forms_python_reads_and_the_ones_it_does_not(text: str) -> None:
    assert parse_date(text) == dt.date(2012, 6, 1)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " 2012-06-01",
        "2012-06-01 ",
        "20120601ab",
        "2012-13-01",
        "2012-02-30",
        "01/02/2011",
        "２０１２-０６-０１",
        "2012-06-01T25:00",
        "2012-06-01T24:30",
        "2012-06-01\x00",
    ],
)
def test_trailing_garbage_and_non_dates_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a date"):
        parse_date(text)


@pytest.mark.parametrize("value", ["0.5", " 0.5 ", "1_000", True, False, "nan", [1], {"a": 1}])
def test_a_json_number_field_takes_only_numbers(value: object) -> None:
    with pytest.raises(ValidationError) as refused:
        Row.model_validate({"day": "2012-06-01", "amount": value})
    assert [e["loc"] for e in refused.value.errors()] == [("amount",)]


@pytest.mark.parametrize("value", ["1", True, 1.5, "1.0"])
def test_an_integer_field_takes_only_integers(value: object) -> None:
    with pytest.raises(ValidationError):
        Row.model_validate({"day": "2012-06-01", "amount": 1, "count": value})


def test_an_integral_float_is_an_integer() -> None:
    assert Row.model_validate({"day": "2012-06-01", "amount": 1, "count": 2.0}).count == 2


@pytest.mark.parametrize("value", [1e39, -1e39, 3.4028236e38, 1e308, float("nan"), float("inf")])
def test_numbers_beyond_float32_or_not_finite_are_refused(value: float) -> None:
    with pytest.raises(ValidationError):
        Row.model_validate({"day": "2012-06-01", "amount": value})


def test_numbers_float32_can_hold_are_taken() -> None:
    for value in (FLOAT32_MAX, -FLOAT32_MAX, 5e-324):
        assert Row.model_validate({"day": "2012-06-01", "amount": value}).amount == value


def test_csv_cells_are_read_as_plain_decimals_only() -> None:
    row = Row.model_validate_strings({"day": "2012-06-01", "amount": "-1.5e3", "count": "+7"})
    assert (row.amount, row.count) == (-1500.0, 7)
    for amount in ("1_000", " 1", "nan", "inf", "0x10", "1e", "."):
        with pytest.raises(ValidationError):
            Row.model_validate_strings({"day": "2012-06-01", "amount": amount})
    with pytest.raises(ValidationError):
        Row.model_validate_strings({"day": "2012-06-01", "amount": "1", "count": "1.0"})
