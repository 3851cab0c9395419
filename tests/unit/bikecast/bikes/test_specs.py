"""The daily and hourly specs: their features, the calendar they derive, the contradictions they name, the
invariant of their labels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bikecast import rows
from bikecast.bikes.common import check_counts
from bikecast.spec import load_specs
from tests.conftest import DAILY, HOURLY

ROW: dict[str, Any] = {
    "dteday": "2012-07-04",
    "weathersit": 1,
    "temp": 0.8,
    "atemp": 0.75,
    "hum": 0.6,
    "windspeed": 0.1,
}


def batch(spec: Any, *items: dict[str, Any]) -> rows.Batch:
    return rows.batch_of(spec.row, [spec.row.model_validate(item) for item in items])


def test_daily_features_keep_their_order_and_derive_the_calendar() -> None:
    completed = batch(DAILY, ROW)
    assert DAILY.derive(completed) == []
    matrix = DAILY.features(completed)
    assert dict(zip(DAILY.feature_names, matrix[0], strict=True)) == {
        "season": 3, "mnth": 7, "holiday": 1, "workingday": 0, "weathersit": 1, "temp": 0.8, "hum": 0.6,
        "windspeed": 0.1, "dayofyear": 185, "yr": 1,
    }  # fmt: skip


def test_hourly_rows_need_the_hour() -> None:
    assert "hr" in HOURLY.required_fields
    completed = batch(HOURLY, ROW | {"hr": 17})
    HOURLY.derive(completed)
    assert HOURLY.features(completed)[0, HOURLY.feature_names.index("hr")] == 17


def test_given_calendar_values_are_used_and_contradictions_named() -> None:
    completed = batch(DAILY, ROW | {"yr": 0, "weekday": 3}, ROW | {"weekday": 4})  # 4 July 2012 was a Wednesday
    found = DAILY.derive(completed)
    assert [(c.row, c.field, c.given, c.derived) for c in found] == [(0, "yr", 0.0, 1.0), (1, "weekday", 4.0, 3.0)]
    assert completed["yr"].tolist() == [0.0, 1.0]
    assert found[0].message("instances[0]") == (
        "instances[0]: yr=0 contradicts dteday=2012-07-04 (which gives yr=1); the given value is used"
    )


def test_the_counts_must_add_up() -> None:
    labels = {"cnt": np.array([10.0, 10.0, 10.0]), "casual": np.array([3.0, 4.0, np.nan]),
              "registered": np.array([7.0, 7.0, 1.0])}  # fmt: skip
    assert [row for row, _ in check_counts(labels)] == [1]


@pytest.mark.parametrize("name", list(load_specs()))
def test_every_feature_comes_from_one_input_field(name: str) -> None:
    spec = load_specs()[name]
    groups = spec.explanation_groups()
    assert sorted(j for _, group in groups for j in group) == list(range(len(spec.feature_names)))
