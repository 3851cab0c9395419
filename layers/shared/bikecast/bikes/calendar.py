"""Calendar fields of the UCI Bike Sharing data, derived from a date exactly as the data set defines them:
for one day (``calendar_fields``) and, vectorised, for a column of day ordinals (``calendar_columns``)."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

FIRST_DAY = dt.date(2011, 1, 1)  # instant 1, yr 0 in the data set


@dataclass(frozen=True, slots=True)
class CalendarFields:
    instant: int
    season: int
    yr: int
    mnth: int
    holiday: int
    weekday: int
    workingday: int


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th given weekday (Mon=0) of a month; n=-1 is the last one."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    next_month = dt.date(year + month // 12, month % 12 + 1, 1)
    last = next_month - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: dt.date) -> dt.date:
    # A holiday on Saturday is observed on Friday, on Sunday on Monday.
    if day.weekday() == 5:
        return day - dt.timedelta(days=1)
    if day.weekday() == 6:
        return day + dt.timedelta(days=1)
    return day


@functools.cache
def holidays(year: int) -> frozenset[dt.date]:
    """Washington D.C. public holidays as the data set marks them: US federal holidays plus D.C.
    Emancipation Day (16 April), fixed-date ones moved to the observed weekday."""
    fixed = [
        dt.date(year, 1, 1),
        dt.date(year, 4, 16),
        dt.date(year, 7, 4),
        dt.date(year, 11, 11),
        dt.date(year, 12, 25),
    ]
    floating = [
        _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        _nth_weekday(year, 5, 0, -1),  # Memorial Day
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 10, 0, 2),  # Columbus Day
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving
    ]
    days = {_observed(d) for d in fixed} | set(floating)
    # New Year's Day of the next year can be observed on 31 December of this one.
    next_new_year = _observed(dt.date(year + 1, 1, 1))
    if next_new_year.year == year:
        days.add(next_new_year)
    return frozenset(d for d in days if d.year == year)


def season(day: dt.date) -> int:
    """1 from 21 Dec, 2 from 21 Mar, 3 from 21 Jun, 4 from 23 Sep (1 is winter, as in the data)."""
    month_day = (day.month, day.day)
    if month_day >= (12, 21):
        return 1
    if month_day >= (9, 23):
        return 4
    if month_day >= (6, 21):
        return 3
    if month_day >= (3, 21):
        return 2
    return 1


def calendar_fields(day: dt.date) -> CalendarFields:
    weekday = (day.weekday() + 1) % 7  # the data set counts 0 = Sunday
    holiday = int(day in holidays(day.year))
    return CalendarFields(
        instant=(day - FIRST_DAY).days + 1,
        season=season(day),
        yr=day.year - FIRST_DAY.year,
        mnth=day.month,
        holiday=holiday,
        weekday=weekday,
        workingday=int(weekday not in (0, 6) and not holiday),
    )


CALENDAR_FIELDS = ("instant", "season", "yr", "mnth", "holiday", "weekday", "workingday")
_EPOCH = dt.date(1970, 1, 1).toordinal()


@functools.cache
def _holiday_ordinals(year: int) -> NDArray[np.int64]:
    return np.array(sorted(day.toordinal() for day in holidays(year)), dtype=np.int64)


# Below this many rows, one cached lookup per row beats the ~40 numpy calls of the vectorised form.
VECTORISED_FROM = 64


@functools.lru_cache(maxsize=8192)
def _fields_of(ordinal: int) -> tuple[float, ...]:
    fields = calendar_fields(dt.date.fromordinal(ordinal))
    return tuple(float(getattr(fields, name)) for name in CALENDAR_FIELDS)


def calendar_columns(ordinals: NDArray[Any]) -> dict[str, NDArray[np.float64]]:
    """``calendar_fields`` for a column of day ordinals: cached per day for small batches, else in a few numpy
    operations whatever the batch size."""
    if len(ordinals) < VECTORISED_FROM:
        table = np.array([_fields_of(int(o)) for o in ordinals.tolist()], dtype=np.float64).reshape(-1, 7)
        return {name: table[:, j] for j, name in enumerate(CALENDAR_FIELDS)}
    days = (np.asarray(ordinals, dtype=np.int64) - _EPOCH).astype("datetime64[D]")
    years = days.astype("datetime64[Y]")
    year = years.astype(np.int64) + 1970
    month = (days.astype("datetime64[M]") - years.astype("datetime64[M]")).astype(np.int64) + 1
    day_of_month = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    month_day = month * 100 + day_of_month
    season = np.select([month_day >= 1221, month_day >= 923, month_day >= 621, month_day >= 321], [1, 4, 3, 2], 1)
    weekday = (
        np.asarray(ordinals, dtype=np.int64) % 7
    )  # ordinal 1 (0001-01-01) was a Monday; the data set counts 0 = Sunday
    unique_years = np.unique(year).tolist()
    special = (
        np.concatenate([_holiday_ordinals(int(y)) for y in unique_years]) if unique_years else np.array([], np.int64)
    )
    holiday = np.isin(ordinals, special)
    working = (weekday != 0) & (weekday != 6) & ~holiday
    float64 = np.float64
    return {
        "instant": (np.asarray(ordinals, dtype=np.int64) - FIRST_DAY.toordinal() + 1).astype(float64),
        "season": season.astype(float64),
        "yr": (year - FIRST_DAY.year).astype(float64),
        "mnth": month.astype(float64),
        "holiday": holiday.astype(float64),
        "weekday": weekday.astype(float64),
        "workingday": working.astype(float64),
    }
