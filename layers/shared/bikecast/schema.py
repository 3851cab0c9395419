"""The request contract: one validated observation per row, and the API's request and response bodies.

The same ``Observation`` validates API rows and uploaded training CSV rows, so both reject the same things
with the same words. Missing calendar fields are derived from the date; given ones are used as given.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from bikecast.calendar import FIRST_DAY, calendar_fields
from bikecast.features import CALENDAR_FIELDS, parse_day

# The calendar of a day needs the next year's New Year's Day, so the last year Python can represent is out.
LAST_DAY = dt.date(dt.MAXYEAR - 1, 12, 31)
# The model reads its features as float32: a larger number becomes infinity there and the model refuses it.
FLOAT32_MAX = 3.4028234663852886e38


def _day(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        day = value
    elif not isinstance(value, str):
        raise ValueError("must be a date string such as 2011-01-01 or 2011-01-01T00:00:00.000Z")
    else:
        day = parse_day(value)
    if day.year > LAST_DAY.year:
        raise ValueError(f"{day.isoformat()[:10]} is after the last supported day, {LAST_DAY.isoformat()}")
    return day


Day = Annotated[
    dt.date,
    BeforeValidator(_day),
    WithJsonSchema({"type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}]}),
]
Flag = Annotated[int, Field(ge=0, le=1)]
FiniteFloat = Annotated[float, Field(ge=-FLOAT32_MAX, le=FLOAT32_MAX, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, le=FLOAT32_MAX, allow_inf_nan=False)]


class Observation(BaseModel):
    """One day: the weather and, optionally, calendar fields (derived from ``dteday`` when missing)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    dteday: Day = Field(description="The day, YYYY-MM-DD or an ISO 8601 timestamp (its date part is used).")
    weathersit: int = Field(ge=1, le=4, description="1 clear, 2 mist/cloudy, 3 light rain/snow, 4 heavy rain/snow.")
    temp: FiniteFloat = Field(description="Normalised temperature, t/41 (°C).")
    atemp: FiniteFloat = Field(description="Normalised feels-like temperature, t/50 (°C).")
    hum: NonNegativeFloat = Field(description="Normalised relative humidity, h/100.")
    windspeed: NonNegativeFloat = Field(description="Normalised wind speed, w/67.")
    instant: int | None = Field(
        default=None,
        ge=(dt.date.min - FIRST_DAY).days + 1,
        le=(LAST_DAY - FIRST_DAY).days + 1,
        description="Record index; derived: days since 2010-12-31.",
    )
    season: int | None = Field(default=None, ge=1, le=4, description="1 winter .. 4 autumn; derived.")
    yr: int | None = Field(default=None, ge=0, le=100, description="Years since 2011; derived.")
    mnth: int | None = Field(default=None, ge=1, le=12, description="Month 1..12; derived.")
    holiday: Flag | None = Field(default=None, description="1 on a D.C. public holiday; derived.")
    weekday: int | None = Field(default=None, ge=0, le=6, description="0 Sunday .. 6 Saturday; derived.")
    workingday: Flag | None = Field(default=None, description="1 unless weekend or holiday; derived.")

    @model_validator(mode="after")
    def _fill_calendar(self) -> Observation:
        missing = [name for name in CALENDAR_FIELDS if getattr(self, name) is None]
        if missing:
            derived = calendar_fields(self.dteday)
            for name in missing:
                object.__setattr__(self, name, getattr(derived, name))
        return self

    def __repr__(self) -> str:
        # Short on purpose: Powertools formats the route's arguments into a debug message on every request, even
        # with debug logging off, and pydantic's full repr of 10,000 rows took ~70 ms.
        return f"Observation(dteday={self.dteday.isoformat()})"


class PredictRequest(BaseModel):
    instances: list[Observation] = Field(min_length=1, description="The days to forecast, one row each.")

    def __repr__(self) -> str:
        return f"PredictRequest(instances=[{len(self.instances)} rows])"


class PredictResponse(BaseModel):
    predictions: list[int] = Field(description="Forecast rentals per row, whole non-negative numbers.")
    model_version: str
    warnings: list[str] = Field(description="Values outside the range seen in training, by row and field.")


class HealthResponse(BaseModel):
    status: str
    model_version: str | None = None
    reason: str | None = None


class ErrorDetail(BaseModel):
    field: str
    problem: str


class ErrorResponse(BaseModel):
    error: str
    message: str
    details: list[ErrorDetail] = []
