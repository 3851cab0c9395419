"""The hourly model: rentals in one hour of one day, from that hour's weather and the calendar (hour.csv).
Knowing the hours of a day answers the seed article's question: when will rentals peak."""

from __future__ import annotations

from pydantic import Field

from bikecast.bikes.common import Counts, Weather, check_counts, derive_calendar, matrix_of
from bikecast.fields import Integer
from bikecast.rows import Batch
from bikecast.spec import Answer, Card, Matrix, ModelSpec, Recipe, TrainingData


class HourlyRow(Weather):
    """One hour of one day: its weather and, optionally, calendar fields (derived from ``dteday``)."""

    hr: Integer = Field(ge=0, le=23, description="Hour of the day, 0..23 (local time).")


class HourlyLabels(HourlyRow, Counts):
    """A row of hour.csv: the hour and its rentals. (hour.csv's ``instant`` is a record number: not read.)"""


FEATURES = (
    "hr",
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
BASELINE_FEATURES = (
    "hr",
    "season",
    "yr",
    "holiday",
    "weekday",
    "workingday",
    "weathersit",
    "temp",
    "atemp",
    "hum",
    "windspeed",
    "dayofyear",
)


def features(batch: Batch) -> Matrix:
    return matrix_of(batch, FEATURES)


def baseline_features(batch: Batch) -> Matrix:
    return matrix_of(batch, BASELINE_FEATURES)


SPEC = ModelSpec(
    name="hourly",
    summary="Rentals per hour from the hour's weather and the calendar: when rentals peak.",
    row=HourlyRow,
    derive=derive_calendar,
    feature_names=FEATURES,
    features=features,
    feature_sources={"dayofyear": "dteday"},
    range_checked=("dteday", "yr", "weathersit", "temp", "atemp", "hum", "windspeed"),
    answer=Answer(integer=True, minimum=0.0, unit="rentals"),
    data=TrainingData(
        labels=HourlyLabels,
        target="cnt",
        key=("dteday", "hr"),
        time="dteday",
        check=check_counts,
        bundled="bike-sharing/hour.csv",
    ),
    recipe=Recipe(
        params={"n_estimators": 800, "max_depth": 3, "learning_rate": 0.1, "subsample": 0.8, "random_state": 42},
        target="log1p",
        holdout_days=122,
        baseline=baseline_features,
        baseline_name="a random forest (100 trees) on the raw fields",
    ),
    card=Card(
        title="Hourly bike rentals",
        unit="rentals per hour",
        about="Rentals of Capital Bikeshare (Washington D.C.) in one hour, forecast from that hour's weather and "
        "the calendar; summed over a day's hours, a daily forecast. Trained on the UCI Bike Sharing data "
        "(hour.csv; Fanaee-T and Gama, 2013, CC BY 4.0).",
        limits=(
            "Trained on two years of one city (Washington D.C., 2011–2012); 165 hours are absent from the data.",
            "Hours are local time; the weather of an hour is as observed in it.",
        ),
    ),
)
