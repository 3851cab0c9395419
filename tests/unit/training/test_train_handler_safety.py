"""Uploads through the real TrainFunction handler, with S3 events shaped as AWS sends them, on moto's S3.

Every upload either trains or is rejected with a report, never raises on data; bad labels cannot get a model
promoted; the real Sep–Dec 2012 upload still is."""

from __future__ import annotations

import copy
import datetime as dt
import importlib
import json
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from moto import mock_aws

from bikecast.registry import ModelRegistry
from bikecast.store import S3Store, StoreError
from tests.conftest import BUCKET, DAILY, FakeLambdaContext, load_event
from training import data

CUTOFF = dt.date(2012, 9, 1)


@pytest.fixture(scope="module")
def halves() -> tuple[str, str]:
    return data.split_by_date(data.bundled(DAILY).read_text(), CUTOFF, "dteday")


@pytest.fixture
def handler(aws_env: None, powertools_env: None) -> Iterator[ModuleType]:
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        sys.modules.pop("training.handler", None)
        yield importlib.import_module("training.handler")


def s3_event(key: str) -> dict[str, Any]:
    """The event S3 sends for ``key``: its key URL-encoded, spaces as '+' (the slash is left as is)."""
    event = copy.deepcopy(load_event("s3-put-training-data"))
    record = event["Records"][0]["s3"]
    record["bucket"].update(name=BUCKET, arn=f"arn:aws:s3:::{BUCKET}")
    record["object"]["key"] = quote_plus(key, safe="/")
    return event


def upload(handler: ModuleType, name: str, body: str | bytes) -> dict[str, Any]:
    key = f"training-data/{name}"
    raw = body.encode() if isinstance(body, str) else body
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=raw)
    result = handler.lambda_handler(s3_event(key), FakeLambdaContext())
    (outcome,) = result["outcomes"]
    return dict(outcome)


def registry() -> ModelRegistry:
    return ModelRegistry(S3Store(BUCKET))


def current() -> str | None:
    pointer = registry().current()
    return pointer.version if pointer else None


def replace_column(text: str, column: str, values: list[str]) -> str:
    header, *lines = text.splitlines()
    index = header.split(",").index(column)
    out = [header]
    for line, value in zip(lines, values, strict=True):
        cells = line.split(",")
        cells[index] = value
        out.append(",".join(cells))
    return "\r\n".join(out) + "\r\n"


def column(text: str, name: str) -> list[str]:
    header, *lines = text.splitlines()
    index = header.split(",").index(name)
    return [line.split(",")[index] for line in lines]


def test_keys_with_spaces_and_non_ascii_letters_train(handler: ModuleType, halves: tuple[str, str]) -> None:
    outcome = upload(handler, "my data été.csv", halves[0])
    assert outcome["status"] == "trained", outcome
    assert outcome["key"] == "training-data/my data été.csv"
    assert current() == outcome["version"]


def test_cr_only_line_endings_train(handler: ModuleType, halves: tuple[str, str]) -> None:
    old_mac = "\r".join(halves[0].splitlines()) + "\r"
    outcome = upload(handler, "old-mac.csv", old_mac)
    assert outcome["status"] == "trained", outcome


def hostile_counts(halves: tuple[str, str]) -> dict[str, str]:
    after = halves[1]
    counts = column(after, "cnt")
    long_field = counts.copy()
    long_field[3] = "7" * 200_000
    digits = counts.copy()
    digits[5] = "9" * 400
    huge = ["9" * 307] * len(counts)  # about 1e307 each: their sum overflows
    return {
        "field over 131,072 characters": replace_column(after, "cnt", long_field),
        "400-digit count": replace_column(after, "cnt", digits),
        "counts near 1e307": replace_column(after, "cnt", huge),
        "NUL bytes": after.replace("2012-09-05", "2012-09\x0005"),
        "UTF-16": after,  # encoded below
        "binary": "\x89PNG\r\n\x1a\n" + "\x00" * 100,
        "header only": after.splitlines()[0],
        "empty": "",
        "unbalanced quote": after.replace("2012-09-05", '"2012-09-05'),
    }


def test_hostile_csvs_are_rejected_with_a_report_and_a_later_good_upload_trains_without_them(
    handler: ModuleType, halves: tuple[str, str]
) -> None:
    for case, text in hostile_counts(halves).items():
        body = text.encode("utf-16") if case == "UTF-16" else text.encode()
        outcome = upload(handler, f"hostile-{len(case)}-{case[:8]}.csv".replace(" ", "-"), body)
        assert outcome["status"] == "rejected", (case, outcome)
        report = json.loads(S3Store(BUCKET).get(outcome["report"]).body)
        assert report["problems"], (case, report)
        assert current() is None, case
    later = upload(handler, "after.csv", halves[1])
    assert later["status"] == "trained", later
    manifest = registry().manifest(later["version"])
    assert [f["key"] for f in manifest["training_data"]["files"]] == ["training-data/after.csv"]


def test_duplicate_dates_in_one_file_are_rejected_naming_the_lines(
    handler: ModuleType, halves: tuple[str, str]
) -> None:
    header, *lines = halves[1].splitlines()
    doubled = "\r\n".join([header, *lines, lines[2]]) + "\r\n"
    outcome = upload(handler, "doubled.csv", doubled)
    assert outcome["status"] == "rejected"
    problems = " ".join(outcome["problems"])
    assert "line 4" in problems
    assert f"line {len(lines) + 2}" in problems


def test_an_upper_case_csv_suffix_is_not_training_data(handler: ModuleType, halves: tuple[str, str]) -> None:
    """The template's suffix rule is case-sensitive (.csv), so S3 never sends .CSV uploads: the code agrees."""
    ignored = upload(handler, "shouting.CSV", halves[1])
    assert ignored["status"] == "ignored"
    trained = upload(handler, "before.csv", halves[0])
    manifest = registry().manifest(trained["version"])
    assert [f["key"] for f in manifest["training_data"]["files"]] == ["training-data/before.csv"]


def test_a_row_dated_in_the_future_is_rejected_and_no_nan_is_written(
    handler: ModuleType, halves: tuple[str, str]
) -> None:
    upload(handler, "before.csv", halves[0])
    header, *lines = halves[1].splitlines()
    cells = lines[0].split(",")
    cells[1] = "2030-06-01"
    outcome = upload(handler, "future.csv", "\r\n".join([header, ",".join(cells)]) + "\r\n")
    assert outcome["status"] == "rejected", outcome
    assert "future" in " ".join(outcome["problems"])
    for key in S3Store(BUCKET).keys(""):
        if key.endswith(".json"):
            assert b"NaN" not in S3Store(BUCKET).get(key).body, key


POISONED = ["typo: cnt 99999 on 2012-09-01", "counts divided by 10", "all counts 0", "casual pasted as cnt"]
INVARIANT = "is not casual + registered"
LEVEL = "typical errors, by the median"
SPIKE = "typical errors above"
# The check that stops each poisoned upload, with its casual and registered columns and without them (then only
# the labels' plausibility against the serving model can tell).
STOPPED_BY = {
    POISONED[0]: (INVARIANT, SPIKE),
    POISONED[1]: (LEVEL, LEVEL),  # the parts were divided too, so they still add up
    POISONED[2]: ("labels that never vary", "labels that never vary"),
    POISONED[3]: (INVARIANT, LEVEL),
}


def poisoned(halves: tuple[str, str], case: str) -> str:
    after = halves[1]
    counts = column(after, "cnt")
    if case == POISONED[0]:
        return replace_column(after, "cnt", ["99999", *counts[1:]])
    if case == POISONED[1]:
        scaled = replace_column(after, "casual", [str(int(c) // 10) for c in column(after, "casual")])
        scaled = replace_column(scaled, "registered", [str(int(c) // 10) for c in column(after, "registered")])
        return replace_column(
            scaled,
            "cnt",
            [str(int(a) + int(b)) for a, b in zip(column(scaled, "casual"), column(scaled, "registered"), strict=True)],
        )
    if case == POISONED[2]:
        zeroed = replace_column(after, "casual", ["0"] * len(counts))
        zeroed = replace_column(zeroed, "registered", ["0"] * len(counts))
        return replace_column(zeroed, "cnt", ["0"] * len(counts))
    return replace_column(after, "cnt", column(after, "casual"))


def without_parts(text: str) -> str:
    """The same file with its casual and registered cells left empty, as a file without them would be read."""
    rows = len(column(text, "cnt"))
    return replace_column(replace_column(text, "casual", [""] * rows), "registered", [""] * rows)


def test_poisoned_uploads_are_never_promoted_and_the_real_one_is(handler: ModuleType, halves: tuple[str, str]) -> None:
    first = upload(handler, "day-2011-01-to-2012-08.csv", halves[0])
    assert (first["status"], first["promoted"]) == ("trained", True), first
    for number, case in enumerate(POISONED):
        texts = {"": poisoned(halves, case), "-without-parts": without_parts(poisoned(halves, case))}
        for (suffix, text), expected in zip(texts.items(), STOPPED_BY[case], strict=True):
            outcome = upload(handler, f"poisoned-{number}{suffix}.csv", text)
            assert outcome["status"] == "rejected", (case, outcome)
            assert any(expected in problem for problem in outcome["problems"]), (case, expected, outcome)
            record = registry().upload_record(outcome["key"]) or {}
            assert record.get("status") == "rejected", (case, record)
            assert current() == first["version"], case
    real = upload(handler, "day-2012-09-to-12.csv", halves[1])
    assert real["status"] == "trained", real
    assert real["promoted"] is True, real["reason"]
    assert current() == real["version"]
    files = [f["key"] for f in registry().manifest(real["version"])["training_data"]["files"]]
    assert files == ["training-data/day-2011-01-to-2012-08.csv", "training-data/day-2012-09-to-12.csv"]


def test_a_fault_that_is_not_the_datas_still_raises_so_s3_retries(handler: ModuleType) -> None:
    """A bucket S3 refuses (here: none by that name) is S3's fault, not the upload's: the function raises."""
    event = s3_event("training-data/day.csv")
    event["Records"][0]["s3"]["bucket"]["name"] = "no-such-bucket-here"
    with pytest.raises(StoreError, match="S3 refused"):
        handler.lambda_handler(event, FakeLambdaContext())
