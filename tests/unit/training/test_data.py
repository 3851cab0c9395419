from pathlib import Path

import pytest

from training import data

HEADER = (
    "instant,dteday,season,yr,mnth,holiday,weekday,workingday,weathersit,temp,atemp,hum,windspeed,casual,registered,cnt"
)
GOOD = "1,2011-01-01,1,0,1,0,6,0,2,0.344167,0.363625,0.805833,0.160446,331,654,985"


def test_default_data_is_verified_and_complete() -> None:
    loaded = data.load(str(data.DEFAULT_DATA))
    assert len(loaded.rows) == 731
    assert loaded.sha256 == data.expected_sha256(str(data.DEFAULT_DATA))
    assert loaded.target[:3].tolist() == [985, 801, 1349]


def test_a_file_that_fails_its_checksum_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "day.csv"
    copy.write_text(data.DEFAULT_DATA.read_text().replace("985", "986", 1))
    (tmp_path / "README.md").write_text((data.DEFAULT_DATA.parent / "README.md").read_text())
    with pytest.raises(data.DataRejected, match=r"sha256 is .* expected a6bcf826"):
        data.load(str(copy))


def test_bad_rows_reject_the_whole_file_naming_lines_and_reasons(tmp_path: Path) -> None:
    bad = tmp_path / "upload.csv"
    bad.write_text(
        "\n".join(
            [
                HEADER,
                GOOD,
                GOOD.replace("2011-01-01", "2011-02-30"),
                GOOD.replace(",985", ",-5"),
                GOOD.replace("0.344167", "abc"),
            ]
        )
    )
    with pytest.raises(data.DataRejected) as caught:
        data.load(str(bad))
    problems = caught.value.problems
    assert any(p.startswith("line 3: dteday:") for p in problems)
    assert any(p.startswith("line 4: cnt:") for p in problems)
    assert any(p.startswith("line 5: temp:") for p in problems)
    assert not any(p.startswith("line 2") for p in problems)


def test_wrong_header_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "upload.csv"
    bad.write_text("date,count\n2011-01-01,985\n")
    with pytest.raises(data.DataRejected, match="lacks required column"):
        data.load(str(bad))
