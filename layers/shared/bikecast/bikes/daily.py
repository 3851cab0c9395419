"""The daily model: rentals in Washington D.C. on one day, from that day's weather and calendar (day.csv)."""

from __future__ import annotations

from pydantic import Field

from bikecast.bikes.common import (
    DERIVED,
    FIRST_INSTANT,
    GROWTH,
    LAST_INSTANT,
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


class DailyRow(Weather):
    """One day: the weather and, optionally, calendar fields (derived from ``dteday`` when missing)."""

    instant: Integer | None = Field(
        default=None, ge=FIRST_INSTANT, le=LAST_INSTANT, description="Record index; derived: days since 2010-12-31."
    )


class DailyLabels(DailyRow, Counts):
    """A row of day.csv: the day and its rentals."""


# Chosen on inner validation (data before 2012-09-01 only: rolling origins 2012-03..07, forecasting 4 months):
# - ``yr`` is not split on by the trees but carries the growth term (see ``Growth`` below): in the trees it cannot
#   carry growth forward (inner RMSE 927 with it, 810 without);
# - ``atemp`` left out (782 without it, better at every origin; it duplicates ``temp``);
# - ``weekday`` left out: ``workingday`` carries the weekly pattern, and a client's wrong weekday (the seed
#   article's own request sends 3 for a Sunday) would move forecasts; ``instant``, a record index, cannot be
#   extrapolated by trees.
FEATURES = ("season", "mnth", "holiday", "workingday", "weathersit", "temp", "hum", "windspeed", "dayofyear", "yr")
# The seed article's random forest read these 12 columns.
SEED_FEATURES = (
    "instant", "season", "yr", "holiday", "weekday", "workingday", "weathersit", "temp", "atemp", "hum", "windspeed",
    "dayofyear",
)  # fmt: skip


SPEC = ModelSpec(
    name="daily",
    summary="Rentals per day from the day's weather and calendar.",
    row=DailyRow,
    derive=derive_calendar,
    feature_names=FEATURES,
    derived=DERIVED,
    range_checked=RANGE_CHECKED,
    answer=RENTALS,
    data=rentals_data(DailyLabels, key=("dteday",), bundled="bike-sharing/day.csv"),
    recipe=Recipe(
        # Log counts (effects multiply: rain takes a share of the riders, not a number), shallow trees, shrinkage and
        # row subsampling; the cheapest point of the plateau n_estimators x learning_rate ~ 15 found by inner
        # validation (depth 2/3, 300x0.05 .. 1000x0.015, subsample 0.8/1.0, min_samples_leaf 5/10/20).
        params={"n_estimators": 300, "max_depth": 3, "learning_rate": 0.05, "subsample": 0.8, "random_state": 42},
        target="log",
        # Year-on-year ratios fell from ~2.5 (Jan-Mar 2012) to ~1.45 (May-Aug) while the difference in rentals per
        # day stayed near +2,000: constant growth in riders, weather-adjusted (the winter of early 2012 was mild).
        growth=Growth(*GROWTH, adjusted=True),
        # Forward errors (a forecast made today, judged 1-4 months on), scaled by sqrt(forecast) like count noise.
        calibration=Calibration(step_months=1, horizon_months=4, scale="sqrt"),
        holdout_days=122,
        baseline=SEED_FEATURES,
        baseline_name="the seed article's random forest (100 trees) on its 12 features",
    ),
    card=Card(
        title="Daily bike rentals",
        unit="rentals per day",
        about="Rentals of Capital Bikeshare (Washington D.C.) on one day, forecast from that day's weather and "
        "calendar. Trained on the UCI Bike Sharing data (day.csv; Fanaee-T and Gama, 2013, CC BY 4.0).",
        limits=(
            "Trained on two years of one city (Washington D.C., 2011–2012): growth is estimated from one pair of "
            "years.",
            "Forecasts for years after the last one seen hold that year's level (no further growth is assumed).",
        ),
        notable_days={"Hurricane Sandy": SANDY},
    ),
)
