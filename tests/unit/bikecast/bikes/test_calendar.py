"""The calendar of the UCI data set, derived from a date: for every day of the data, and any day at all."""

from __future__ import annotations

import csv
import datetime as dt

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from bikecast.bikes.calendar import CALENDAR_FIELDS, FIRST_DAY, calendar_columns, calendar_fields, holidays, season
from bikecast.bikes.common import day_of_year
from tests.conftest import DAILY
from tests.strategies import reproducible
from training.data import bundled


def test_derived_calendar_matches_every_day_of_the_data_set() -> None:
    mismatches = []
    with bundled(DAILY).open() as handle:
        days = list(csv.DictReader(handle))
    columns = calendar_columns(np.array([dt.date.fromisoformat(row["dteday"]).toordinal() for row in days]))
    for index, row in enumerate(days):
        derived = calendar_fields(dt.date.fromisoformat(row["dteday"]))
        for name in CALENDAR_FIELDS:
            if getattr(derived, name) != int(row[name]) or columns[name][index] != int(row[name]):
                mismatches.append((row["dteday"], name, getattr(derived, name), row[name]))
    assert mismatches == []


def test_holidays_move_to_the_observed_weekday() -> None:
    assert dt.date(2011, 12, 26) in holidays(2011)  # Christmas on a Sunday
    assert dt.date(2011, 4, 15) in holidays(2011)  # Emancipation Day on a Saturday
    assert dt.date(2010, 12, 31) in holidays(2010)  # New Year 2011 fell on a Saturday
    assert dt.date(2011, 1, 1) not in holidays(2011)


@reproducible(500)
@given(st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9998, 12, 31)))
def test_calendar_fields_agree_with_datetime_and_the_vectorised_form(day: dt.date) -> None:
    derived = calendar_fields(day)
    assert derived.instant == (day - FIRST_DAY).days + 1
    assert derived.yr == day.year - 2011
    assert derived.mnth == day.month
    assert derived.weekday == day.isoweekday() % 7  # the data set counts 0 = Sunday
    assert derived.holiday == int(day in holidays(day.year))
    assert derived.workingday == int(day.isoweekday() < 6 and not derived.holiday)
    assert not (derived.holiday and day.isoweekday() >= 6), "holidays are observed on weekdays"
    assert derived.season == season(day)
    expected = 1
    for month, first, number in [(3, 21, 2), (6, 21, 3), (9, 23, 4), (12, 21, 1)]:
        if (day.month, day.day) >= (month, first):
            expected = number
    assert derived.season == expected
    columns = calendar_columns(np.array([day.toordinal()]))
    assert {name: int(columns[name][0]) for name in CALENDAR_FIELDS} == {
        n: getattr(derived, n) for n in CALENDAR_FIELDS
    }
    assert day_of_year(np.array([day.toordinal()])).tolist() == [day.timetuple().tm_yday - 1]
