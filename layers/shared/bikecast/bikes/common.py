"""What the daily and hourly bike models share: weather and calendar fields, deriving the calendar from the
date, the day-of-year feature, and the label columns of the UCI Bike Sharing files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from bikecast.bikes.calendar import FIRST_DAY, calendar_columns
from bikecast.fields import LAST_DAY, Date, Integer, Number
from bikecast.rows import Batch
from bikecast.spec import Answer, Contradiction, Derived, TrainingData

# Hurricane Sandy closed Washington D.C. on these days (22 rentals on the first): reported apart in holdouts.
SANDY = ("2012-10-29", "2012-10-30")

# Daily rentals far beyond anything a city's fleet can do: a sanity bound on labels, not a plausibility check
# (that one compares uploads with what the serving model expects).
MAX_COUNT = 10_000_000


class Weather(BaseModel):
    """The day, its weather, and calendar fields that are derived from the day when left out."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    dteday: Date = Field(description="The day, YYYY-MM-DD or an ISO 8601 date-time (its date part is used).")
    weathersit: Integer = Field(ge=1, le=4, description="1 clear, 2 mist/cloudy, 3 light rain/snow, 4 heavy rain/snow.")
    temp: Number = Field(description="Normalised temperature, t/41 (°C).")
    atemp: Number | None = Field(
        default=None, description="Normalised feels-like temperature, t/50 (°C); accepted, not used by the models."
    )
    hum: Number = Field(ge=0, description="Normalised relative humidity, h/100.")
    windspeed: Number = Field(ge=0, description="Normalised wind speed, w/67.")
    season: Integer | None = Field(default=None, ge=1, le=4, description="1 winter .. 4 autumn; derived.")
    yr: Integer | None = Field(default=None, ge=0, le=100, description="Years since 2011; derived.")
    mnth: Integer | None = Field(default=None, ge=1, le=12, description="Month 1..12; derived.")
    holiday: Integer | None = Field(default=None, ge=0, le=1, description="1 on a D.C. public holiday; derived.")
    weekday: Integer | None = Field(default=None, ge=0, le=6, description="0 Sunday .. 6 Saturday; derived.")
    workingday: Integer | None = Field(default=None, ge=0, le=1, description="1 unless weekend or holiday; derived.")

    def __repr__(self) -> str:
        # Short on purpose: Powertools formats route arguments into a debug message on every request.
        return f"{type(self).__name__}(dteday={self.dteday.isoformat()})"


class Counts(BaseModel):
    """The label columns of the UCI files: total rentals and, when present, its two parts."""

    cnt: Integer = Field(ge=0, le=MAX_COUNT, description="Total rentals.")
    casual: Integer | None = Field(default=None, ge=0, le=MAX_COUNT, description="Rentals by casual users.")
    registered: Integer | None = Field(default=None, ge=0, le=MAX_COUNT, description="Rentals by registered users.")


# What both bike models share in their specs.
RANGE_CHECKED = ("dteday", "yr", "weathersit", "temp", "atemp", "hum", "windspeed")
RENTALS = Answer(integer=True, minimum=0.0, unit="rentals")
GROWTH = "yr", "mnth"  # growth along the years, a factor per month


def rentals_data(labels: type[BaseModel], key: tuple[str, ...], bundled: str) -> TrainingData:
    """Rows of the UCI files: keyed by ``key``, in time by day, counts that must add up, the bundled file."""
    return TrainingData(labels=labels, target="cnt", key=key, time="dteday", check=check_counts, bundled=bundled)


def check_counts(batch: Batch) -> Sequence[tuple[int, str]]:
    """The data set's own invariant: cnt = casual + registered, wherever both parts are given."""
    parts = batch["casual"] + batch["registered"]
    broken = np.flatnonzero(~np.isnan(parts) & (parts != batch["cnt"]))
    return [(int(i), f"cnt {int(batch['cnt'][i])} is not casual + registered ({int(parts[i])})") for i in broken[:1000]]


def derive_calendar(batch: Batch) -> list[Contradiction]:
    """Fill the calendar fields a row left out from its date; name given ones that contradict it. (All fields at
    once: a one-row request should cost a few numpy calls, not a few per field.)"""
    days = batch["dteday"]
    derived = calendar_columns(days)
    names = [name for name in derived if name in batch]
    given = np.vstack([batch[name] for name in names])
    expected = np.vstack([derived[name] for name in names])
    missing = np.isnan(given)
    filled = np.where(missing, expected, given)
    for index, name in enumerate(names):
        batch[name] = filled[index]
    differ = ~missing & (given != expected)
    if not differ.any():
        return []
    contradictions = []
    for index, row in zip(*np.nonzero(differ), strict=True):
        day = dt.date.fromordinal(int(days[row])).isoformat()
        name = names[index]
        contradictions.append(
            Contradiction(int(row), name, float(given[index, row]), float(expected[index, row]), "dteday", day)
        )
    contradictions.sort(key=lambda found: found.row)
    return contradictions


def day_of_year(ordinals: NDArray[Any]) -> NDArray[np.float64]:
    """Days since 1 January of the same year (0-based, as in the seed's ``doTheCalculation``)."""
    days = (np.asarray(ordinals, dtype=np.int64) - dt.date(1970, 1, 1).toordinal()).astype("datetime64[D]")
    offsets: NDArray[np.float64] = (days - days.astype("datetime64[Y]")).astype(np.float64)
    return offsets


def dayofyear(batch: Batch) -> NDArray[np.float64]:
    return day_of_year(batch["dteday"])


DERIVED = {"dayofyear": Derived("dteday", dayofyear)}


# The instants (days since 2010-12-31, as in day.csv) of the first and last day a row may have.
FIRST_INSTANT = (dt.date.min - FIRST_DAY).days + 1
LAST_INSTANT = (LAST_DAY - FIRST_DAY).days + 1
