"""Reading training files for any spec: checksums, every row validated, line-numbered reasons, bounds, keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DAILY, HOURLY
from training import data

HEADER = (
    "instant,dteday,season,yr,mnth,holiday,weekday,workingday,weathersit,temp,atemp,hum,windspeed,casual,registered,cnt"
)
GOOD = "1,2011-01-01,1,0,1,0,6,0,2,0.344167,0.363625,0.805833,0.160446,331,654,985"


def parse(text: str, **limits: int) -> data.Labelled:
    return data.parse(DAILY, text.encode(), "upload.csv", data.Limits(**limits))


def test_bundled_data_is_verified_and_complete() -> None:
    daily = data.load(DAILY, str(data.bundled(DAILY)))
    assert len(daily) == 731
    assert daily.sha256 == data.expected_sha256(str(data.bundled(DAILY)))
    assert daily.target[:3].tolist() == [985, 801, 1349]
    hourly = data.load(HOURLY, str(data.bundled(HOURLY)))
    assert len(hourly) == 17_379
    assert hourly.sha256.startswith("e03de4ee")


def test_a_file_that_fails_its_checksum_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "day.csv"
    copy.write_bytes(data.bundled(DAILY).read_bytes().replace(b"985", b"986", 1))
    (tmp_path / "README.md").write_text((data.bundled(DAILY).parent / "README.md").read_text())
    with pytest.raises(data.DataRejected, match=r"sha256 is .* expected a6bcf826"):
        data.load(DAILY, str(copy))


def test_bad_rows_reject_the_whole_file_naming_lines_and_reasons() -> None:
    lines = [
        HEADER,
        GOOD,
        GOOD.replace("2011-01-01", "2011-02-30"),
        GOOD.replace(",985", ",-5"),
        GOOD.replace("0.344167", "abc"),
        GOOD.replace("0.344167", "1_000"),
        GOOD.replace(",331,", ",332,"),
    ]
    with pytest.raises(data.DataRejected) as caught:
        parse("\n".join(lines))
    problems = caught.value.problems
    assert any(p.startswith("line 3: dteday:") for p in problems)
    assert any(p.startswith("line 4: cnt:") for p in problems)
    assert any(p.startswith("line 5: temp:") for p in problems)
    assert any(p.startswith("line 6: temp:") for p in problems)
    assert not any(p.startswith("line 2") for p in problems)


def test_the_counts_must_add_up_and_keys_be_unique_and_dates_past() -> None:
    with pytest.raises(data.DataRejected) as caught:
        parse(
            "\n".join(
                [
                    HEADER,
                    GOOD,
                    GOOD.replace(",331,", ",332,").replace("2011-01-01", "2011-01-02"),
                    GOOD,
                    GOOD.replace("2011-01-01", "2099-01-01"),
                ]
            )
        )
    problems = " | ".join(caught.value.problems)
    assert "line 3: cnt 985 is not casual + registered (986)" in problems
    assert "line 2, line 4: the same dteday=2011-01-01" in problems
    assert "line 5: dteday 2099-01-01 is in the future" in problems


def test_wrong_header_and_empty_files_are_refused() -> None:
    for text, words in [
        ("date,count\n2011-01-01,985\n", "lacks required column"),
        ("", "empty"),
        (HEADER + "\n", "no data rows"),
        (HEADER + ",cnt\n" + GOOD + ",1\n", "more than once"),
    ]:
        with pytest.raises(data.DataRejected, match=words):
            parse(text)


def test_bounds_on_bytes_rows_and_field_length() -> None:
    text = "\n".join([HEADER, GOOD, GOOD.replace("2011-01-01", "2011-01-02")])
    with pytest.raises(data.DataRejected, match="at most 100 are read"):
        parse(text, max_bytes=100)
    with pytest.raises(data.DataRejected, match="more than 1 data rows"):
        parse(text, max_rows=1)
    with pytest.raises(data.DataRejected, match="line 2: a value of 200 characters"):
        parse("\n".join([HEADER, GOOD.replace("0.344167", "0." + "3" * 198)]))


def test_any_line_ending_and_spaces_around_cells() -> None:
    for ending in ("\r\n", "\r", "\n"):
        assert len(parse(ending.join([HEADER, GOOD, " " + GOOD.replace("2011-01-01", "2011-01-02") + " "]))) == 2


def test_hourly_files_are_keyed_by_day_and_hour() -> None:
    header = data.bundled(HOURLY).read_text().splitlines()[0]
    row = "1,2011-01-01,1,0,1,0,0,6,0,1,0.24,0.2879,0.81,0,3,13,16"
    two_hours = "\n".join([header, row, row.replace(",0,0,6,", ",1,0,6,")])
    assert len(data.parse(HOURLY, two_hours.encode(), "h.csv")) == 2
    with pytest.raises(data.DataRejected, match="the same dteday=2011-01-01, hr=0"):
        data.parse(HOURLY, "\n".join([header, row, row]).encode(), "h.csv")
