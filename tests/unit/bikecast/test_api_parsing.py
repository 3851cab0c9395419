"""Reading request bodies: the fast parser is used only when it provably reads what ``json.loads`` reads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from hypothesis import given
from hypothesis import strategies as st

from bikecast import api
from tests.conftest import DAILY
from tests.strategies import json_values, reproducible, valid_rows

keys = st.sampled_from(["temp", "a", '":', "{", "instances", ""])
objects = st.lists(st.tuples(keys, json_values), max_size=4)


def render(pairs: list[tuple[str, Any]], space: str) -> str:
    """A JSON object written pair by pair, so a key may repeat."""
    return "{" + ",".join(f"{json.dumps(k)}{space}:{json.dumps(v)}" for k, v in pairs) + "}"


def strict(text: str) -> Any:
    try:
        return api._parse_strictly(text)
    except RequestValidationError:  # what it raises for any body it refuses
        return "refused"


@reproducible(1500)
@given(objects, st.lists(objects, max_size=3), st.sampled_from(["", " ", "\n"]), st.booleans())
def test_fast_parse_reads_what_the_strict_parse_reads(
    top: list[tuple[str, Any]], rows: list[list[tuple[str, Any]]], space: str, nest: bool
) -> None:
    inner = "[" + ",".join(render(pairs, space) for pairs in rows) + "]"
    text = render(top, space)
    if nest:
        text = text[:-1] + ("," if top else "") + f'"instances"{space}:{inner}' + "}"
    fast = api._parse_known_shape(text)
    if fast is not None:
        # Same value (compared as text: NaN is not equal to itself), and the strict parse found no repeated key.
        assert json.dumps(strict(text)) == json.dumps(fast)


@reproducible(200)
@given(st.lists(valid_rows(DAILY.row), min_size=1, max_size=30))
def test_plain_request_bodies_take_the_fast_parse(rows: list[dict[str, Any]]) -> None:
    for text in (json.dumps({"instances": rows}), json.dumps({str(i): row for i, row in enumerate(rows)})):
        assert api._parse_known_shape(text) == json.loads(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"instances": [{"temp": 1, "temp": 2}]}',
        '{"instances": [{"temp": 1, "temp" :2}]}',
        '{"0": {"temp": 1, "temp"\n:2}, "1": {}}',
        '{"instances": [{"temp": {"a": 1, "a": 2}}]}',
    ],
)
def test_a_repeated_key_is_always_found(text: str) -> None:
    assert api._parse_known_shape(text) is None
    with pytest.raises(Exception, match="duplicate key"):
        api.parse_json(text)


def test_a_raw_lone_surrogate_is_read_by_the_strict_parser() -> None:
    text = '{"instances": [{"dteday": "\ud800"}]}'
    assert api._parse_known_shape(text) is None  # jiter cannot encode it
    assert api.parse_json(text) == {"instances": [{"dteday": "\ud800"}]}
