"""The hourly model: rentals in one hour of one day, from that hour's weather and the calendar (hour.csv).
Knowing the hours of a day answers the seed article's question: when will rentals peak."""

from __future__ import annotations

from pydantic import Field

from bikecast.bikes.common import (
    DERIVED,
    GROWTH,
    RANGE_CHECKED,
    RENTALS,
    SANDY,
    Counts,
    Weather,
    derive_calendar,
    rentals_data,
)
from bikecast.fields import Integer
from bikecast.spec import Calibration, Card, Growth, ModelSpec, Recipe


class HourlyRow(Weather):
    """One hour of one day: its weather and, optionally, calendar fields (derived from ``dteday``)."""

    hr: Integer = Field(ge=0, le=23, description="Hour of the day, 0..23 (local time).")


class HourlyLabels(HourlyRow, Counts):
    """A row of hour.csv: the hour and its rentals. (hour.csv's ``instant`` is a record number: not read.)"""


# Inner validation (before 2012-09-01): as the daily model, without atemp and weekday; yr carries the growth term.
FEATURES = (
    "hr", "workingday", "holiday", "weathersit", "temp", "hum", "windspeed", "season", "mnth", "dayofyear", "yr",
)  # fmt: skip
BASELINE_FEATURES = (
    "hr", "season", "yr", "holiday", "weekday", "workingday", "weathersit", "temp", "atemp", "hum", "windspeed",
    "dayofyear",
)  # fmt: skip


SPEC = ModelSpec(
    name="hourly",
    summary="Rentals per hour from the hour's weather and the calendar: when rentals peak.",
    row=HourlyRow,
    derive=derive_calendar,
    feature_names=FEATURES,
    derived=DERIVED,
    range_checked=RANGE_CHECKED,
    answer=RENTALS,
    data=rentals_data(HourlyLabels, key=("dteday", "hr"), bundled="bike-sharing/hour.csv"),
    recipe=Recipe(
        # Best-first trees of at most 8 leaves (what the serving format holds); deeper trees did worse on inner
        # validation (16/32 leaves, depth 6), so the limit costs nothing here.
        params={
            "n_estimators": 500,
            "max_leaf_nodes": 8,
            "max_depth": None,
            "learning_rate": 0.1,
            "subsample": 0.8,
            "random_state": 42,
        },
        target="log",
        growth=Growth(*GROWTH, adjusted=False),  # from daily totals; a helper would cost a fit
        # One quantile per hour of day: a single one left some hours at 44-72% coverage on inner validation.
        calibration=Calibration(step_months=2, horizon_months=4, scale="sqrt", by="hr"),
        holdout_days=122,
        baseline=BASELINE_FEATURES,
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
            "Forecasts for years after the last one seen hold that year's level (no further growth is assumed).",
        ),
        notable_days={"Hurricane Sandy": SANDY},
    ),
)
