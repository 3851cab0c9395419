"""The column-by-column validation of a batch decides exactly as ``Observation`` does, row by row, or defers to it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from bikecast import features
from bikecast.schema import COLUMNS_FROM_ROWS, Observation, ObservationColumns, ObservationsByKey, PredictRequest
from tests.unit.bikecast.test_features_properties import ROW, json_values, reproducible, valid_rows

# Rows that are mostly valid, with any field replaced by any JSON value or left out: the columns must defer
# (return None) whenever Observation would refuse a row, and agree with it whenever they accept.
odd_rows = st.builds(
    lambda row, field, value, drop: {k: v for k, v in row.items() if k != drop} | ({field: value} if field else {}),
    valid_rows,
    st.sampled_from([*features.INPUT_FIELDS, ""]),
    json_values,
    st.sampled_from([*features.INPUT_FIELDS, ""]),
)


def by_rows(rows: list[dict[str, Any]]) -> list[Observation] | None:
    try:
        return [Observation.model_validate(row) for row in rows]
    except ValidationError:
        return None


@reproducible(1500)
@given(st.lists(st.one_of(valid_rows, odd_rows), min_size=1, max_size=6))
def test_columns_accept_only_what_observation_accepts_and_agree_with_it(rows: list[dict[str, Any]]) -> None:
    columns = ObservationColumns.from_json_rows(rows)
    expected = by_rows(rows)
    if columns is None:
        return  # deferred to Observation, which accepts or names the problem
    assert expected is not None, "the columns accepted rows that Observation refuses"
    assert list(columns) == expected
    reference = features.batch_from_observations(expected)
    assert set(columns.batch) == set(reference)
    for name, column in reference.items():
        np.testing.assert_array_equal(columns.batch[name], column, err_msg=name)


@reproducible(300)
@given(st.lists(valid_rows, min_size=1, max_size=40))
def test_plain_valid_batches_take_the_column_path_small_ones_the_row_path(rows: list[dict[str, Any]]) -> None:
    instances = PredictRequest.model_validate({"instances": rows}).instances
    assert isinstance(instances, ObservationColumns) == (len(rows) >= COLUMNS_FROM_ROWS)
    by_key = TypeAdapter(ObservationsByKey).validate_python({str(i): row for i, row in enumerate(rows)})
    assert isinstance(by_key, ObservationColumns) == (len(rows) >= COLUMNS_FROM_ROWS)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"temp": "0.5"}, None),  # a numeric string: valid, judged by Observation
        ({"weathersit": 5}, "weathersit"),
        ({"hum": -0.1}, "hum"),
        ({"weathersit": True}, None),
        ({"dteday": "2012-13-01"}, "dteday"),
        ({"season": 1.5}, "season"),
    ],
)
def test_anything_unusual_gets_observations_answer(change: dict[str, Any], field: str | None) -> None:
    rows = [ROW] * (COLUMNS_FROM_ROWS - 1) + [ROW | change]
    assert ObservationColumns.from_json_rows(rows) is None
    if field is None:
        assert len(PredictRequest.model_validate({"instances": rows}).instances) == COLUMNS_FROM_ROWS
        return
    with pytest.raises(ValidationError) as refused:
        PredictRequest.model_validate({"instances": rows})
    assert [e["loc"] for e in refused.value.errors()] == [("instances", COLUMNS_FROM_ROWS - 1, field)]


def test_empty_batches_are_still_refused() -> None:
    with pytest.raises(ValidationError, match="at least 1 item"):
        PredictRequest.model_validate({"instances": []})
