"""Rows of any spec: the column-by-column path decides exactly as the row model does, or defers to it; both
give the same batch. Checked for every spec this deployment serves, with strategies derived from its row."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from bikecast import rows
from bikecast.spec import load_specs
from tests.strategies import json_values, reproducible, valid_rows

SPECS = load_specs()


def odd_rows(row: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """Mostly valid rows, with any field replaced by any JSON value or left out."""
    names = [*row.model_fields, ""]
    return st.builds(
        lambda base, field, value, drop: (
            {k: v for k, v in base.items() if k != drop} | ({field: value} if field else {})
        ),
        valid_rows(row),
        st.sampled_from(names),
        json_values,
        st.sampled_from(names),
    )


def by_rows(row: type[BaseModel], items: list[dict[str, Any]]) -> list[BaseModel] | None:
    try:
        return [row.model_validate(item) for item in items]
    except ValidationError:
        return None


@pytest.mark.parametrize("name", list(SPECS))
def test_columns_accept_only_what_the_row_model_accepts_and_agree_with_it(name: str) -> None:
    row = SPECS[name].row

    @reproducible(700)
    @given(st.lists(st.one_of(valid_rows(row), odd_rows(row)), min_size=1, max_size=6))
    def check(items: list[dict[str, Any]]) -> None:
        columns = rows.columns_from_json(row, items)
        expected = by_rows(row, items)
        if columns is None:
            return  # deferred to the row model, which accepts or names the problem
        assert expected is not None, "the columns accepted rows that the row model refuses"
        reference = rows.batch_of(row, expected)
        assert set(columns.batch) == set(reference)
        for field, column in reference.items():
            np.testing.assert_array_equal(columns.batch[field], column, err_msg=field)

    check()


@pytest.mark.parametrize("name", list(SPECS))
def test_plain_valid_batches_take_the_column_path_small_ones_the_row_path(name: str) -> None:
    spec = SPECS[name]
    request = rows.request_model(spec.row, f"Test{name}Request")

    @reproducible(150)
    @given(st.lists(valid_rows(spec.row), min_size=1, max_size=40))
    def check(items: list[dict[str, Any]]) -> None:
        instances = request.model_validate({"instances": items}).instances  # type: ignore[attr-defined]
        assert isinstance(instances, rows.Columns) == (len(items) >= rows.COLUMNS_FROM_ROWS)
        by_key = TypeAdapter(rows.rows_by_key_type(spec.row)).validate_python({str(i): r for i, r in enumerate(items)})
        assert isinstance(by_key, rows.Columns) == (len(items) >= rows.COLUMNS_FROM_ROWS)

    check()


ROW = {"dteday": "2012-06-01", "weathersit": 1, "temp": 0.6, "atemp": 0.55, "hum": 0.5, "windspeed": 0.2}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"temp": "0.5"}, "temp"),
        ({"weathersit": 5}, "weathersit"),
        ({"hum": -0.1}, "hum"),
        ({"weathersit": True}, "weathersit"),
        ({"dteday": "2012-13-01"}, "dteday"),
        ({"season": 1.5}, "season"),
        ({"yr": "1"}, "yr"),
    ],
)
def test_anything_unusual_gets_the_row_models_answer(change: dict[str, Any], field: str) -> None:
    row = SPECS["daily"].row
    items = [ROW] * (rows.COLUMNS_FROM_ROWS - 1) + [ROW | change]
    assert rows.columns_from_json(row, items) is None
    request = rows.request_model(row, "UnusualRequest")
    with pytest.raises(ValidationError) as refused:
        request.model_validate({"instances": items})
    assert [e["loc"] for e in refused.value.errors()] == [("instances", rows.COLUMNS_FROM_ROWS - 1, field)]


def test_empty_batches_are_refused() -> None:
    with pytest.raises(ValidationError, match="at least 1 item"):
        rows.request_model(SPECS["daily"].row, "EmptyRequest").model_validate({"instances": []})


def test_a_batch_leaves_optional_fields_out_as_nan_for_the_spec_to_fill() -> None:
    spec = SPECS["daily"]
    batch = rows.batch_of(spec.row, [spec.row.model_validate(ROW)])
    assert np.isnan(batch["season"]).all()
    assert spec.derive(batch) == []
    assert batch["season"].tolist() == [2.0]  # 1 June: spring in the data set's numbering
