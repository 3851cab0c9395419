import datetime as dt

import numpy as np
import pytest

from bikecast.features import FEATURE_NAMES, batch_from_observations, day_of_year, parse_day
from bikecast.schema import Observation
from bikecast.transformer import BikeFeatures


@pytest.mark.parametrize(
    "text",
    ["2011-01-01", "2011-01-01T00:00:00.000Z", "2011-01-01T00:00:00", "2011-01-01T23:30:00+05:00", " 2011-01-01 "],
)
def test_parse_day_takes_the_date_as_written(text: str) -> None:
    assert parse_day(text) == dt.date(2011, 1, 1)


@pytest.mark.parametrize("text", ["", "yesterday", "2011-13-01", "2011-02-30", "01/02/2011"])
def test_parse_day_refuses_what_is_not_a_date(text: str) -> None:
    with pytest.raises(ValueError, match="is not a date"):
        parse_day(text)


def test_day_of_year_is_zero_based_like_the_seed() -> None:
    days = np.array([dt.date(2011, 1, 1).toordinal(), dt.date(2012, 12, 31).toordinal()])
    assert day_of_year(days).tolist() == [0.0, 365.0]


def rows() -> list[Observation]:
    return [
        Observation.model_validate(
            {"dteday": "2011-01-01", "weathersit": 2, "temp": 0.34, "atemp": 0.36, "hum": 0.8, "windspeed": 0.16}
        ),
        Observation.model_validate(
            {"dteday": "2012-07-04", "weathersit": 1, "temp": 0.8, "atemp": 0.75, "hum": 0.6, "windspeed": 0.1}
        ),
    ]


def test_transform_keeps_the_fixed_column_order() -> None:
    step = BikeFeatures().fit(batch_from_observations(rows()))
    matrix = step.transform(batch_from_observations(rows()))
    assert matrix.shape == (2, len(FEATURE_NAMES))
    second = dict(zip(FEATURE_NAMES, matrix[1], strict=True))
    assert second == {
        "season": 3, "yr": 1, "mnth": 7, "holiday": 1, "workingday": 0, "weathersit": 1,
        "temp": 0.8, "atemp": 0.75, "hum": 0.6, "windspeed": 0.1, "dayofyear": 185,
    }  # fmt: skip
    assert list(step.get_feature_names_out()) == list(FEATURE_NAMES)


def test_out_of_range_names_row_field_value_and_range() -> None:
    step = BikeFeatures().fit(batch_from_observations(rows()))
    odd = [
        rows()[0],
        Observation.model_validate(
            {"dteday": "2013-03-01", "weathersit": 1, "temp": 2000, "atemp": 0.5, "hum": 0.7, "windspeed": 0.1}
        ),
    ]
    found = {(w.row, w.field, w.value) for w in step.out_of_range(batch_from_observations(odd))}
    assert found == {(1, "temp", 2000), (1, "yr", 2), (1, "dteday", "2013-03-01")}
    message = next(w for w in step.out_of_range(batch_from_observations(odd)) if w.field == "temp").message("row 1")
    assert (
        message
        == "row 1: temp=2000 is outside the range seen in training [0.34, 0.8]; the forecast is an extrapolation"
    )
