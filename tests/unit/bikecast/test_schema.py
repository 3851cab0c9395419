import pytest
from pydantic import ValidationError

from bikecast.schema import Observation, PredictRequest

WEATHER: dict[str, object] = {"weathersit": 1, "temp": 0.5, "atemp": 0.5, "hum": 0.5, "windspeed": 0.1}


def test_missing_calendar_fields_are_derived_and_given_ones_kept() -> None:
    derived = Observation.model_validate({"dteday": "2011-01-02T00:00:00.000Z", **WEATHER})
    assert (derived.instant, derived.season, derived.yr, derived.mnth) == (2, 1, 0, 1)
    assert (derived.weekday, derived.workingday, derived.holiday) == (0, 0, 0)
    given = Observation.model_validate(
        {"dteday": "2011-01-02", "weekday": 3, **WEATHER}
    )  # the seed article's request says 3
    assert given.weekday == 3


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"weathersit": 7}, "weathersit", "less than or equal to 4"),
        ({"temp": float("nan")}, "temp", "finite"),
        ({"hum": float("inf")}, "hum", "finite"),
        ({"windspeed": -0.1}, "windspeed", "greater than or equal to 0"),
        ({"temp": "warm"}, "temp", "valid number"),
        ({"dteday": 20110101}, "dteday", "must be a date string"),
        ({"dteday": "2011-02-30"}, "dteday", "is not a date"),
        ({"season": 5}, "season", "less than or equal to 4"),
        ({"holiday": 2}, "holiday", "less than or equal to 1"),
    ],
)
def test_bad_values_are_refused_naming_the_field(change: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Observation.model_validate({"dteday": "2012-01-01", **WEATHER, **change})
    errors = caught.value.errors()
    assert [e["loc"] for e in errors] == [(field,)]
    assert words in errors[0]["msg"]


def test_required_fields_and_empty_batches() -> None:
    with pytest.raises(ValidationError) as caught:
        Observation.model_validate({"dteday": "2012-01-01"})
    assert {e["loc"][0] for e in caught.value.errors()} == {"weathersit", "temp", "atemp", "hum", "windspeed"}
    with pytest.raises(ValidationError, match="at least 1 item"):
        PredictRequest.model_validate({"instances": []})
