"""Training data: read a day.csv-shaped file from a path or s3:// URI, verify it, validate every row."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, ValidationError

from bikecast import features
from bikecast.artifact import sha256_hex
from bikecast.features import parse_day
from bikecast.schema import Observation
from bikecast.store import S3Store, parse_s3_uri

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "bike-sharing" / "day.csv"
REQUIRED_COLUMNS = (*features.REQUIRED_FIELDS, "cnt")
MAX_REPORTED_ROWS = 50


class DataRejected(Exception):
    """The file as a whole is refused; ``problems`` names rows and reasons."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        shown = "\n".join(f"  - {p}" for p in problems[:MAX_REPORTED_ROWS])
        more = len(problems) - MAX_REPORTED_ROWS
        super().__init__(f"{source} rejected:\n{shown}" + (f"\n  … and {more} more" if more > 0 else ""))


class LabelledObservation(Observation):
    cnt: int = Field(ge=0, description="Total rentals that day.")


@dataclass(frozen=True)
class TrainingData:
    source: str
    sha256: str
    rows: list[LabelledObservation]
    sources: list[dict[str, object]] = field(default_factory=list)

    @property
    def batch(self) -> dict[str, NDArray[Any]]:
        return features.batch_from_observations(self.rows)

    @property
    def target(self) -> NDArray[np.float64]:
        return np.array([row.cnt for row in self.rows], dtype=np.float64)

    @property
    def days(self) -> NDArray[np.int64]:
        return np.array([row.dteday.toordinal() for row in self.rows], dtype=np.int64)


def read_source(source: str) -> bytes:
    if source.startswith("s3://"):
        bucket, key = parse_s3_uri(source)
        return S3Store(bucket).get(key).body
    return Path(source).read_bytes()


def expected_sha256(source: str) -> str | None:
    """The checksum a README.md beside the file lists for it, if there is one."""
    if source.startswith("s3://"):
        return None
    path = Path(source)
    readme = path.parent / "README.md"
    if not readme.is_file():
        return None
    for line in readme.read_text(encoding="utf-8").splitlines():
        if f"`{path.name}`" in line:
            match = re.search(r"\b[0-9a-f]{64}\b", line)
            if match:
                return match.group(0)
    return None


def parse_rows(text: str, source: str) -> list[LabelledObservation]:
    """Every row valid, or ``DataRejected`` naming each bad row (line number as in the file) and why."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise DataRejected(source, [f"header lacks required column(s) {', '.join(missing)}; found {header}"])
    rows: list[LabelledObservation] = []
    problems: list[str] = []
    for line, record in enumerate(reader, start=2):
        values = {name: value for name, value in record.items() if name is not None and value not in ("", None)}
        if None in record:
            problems.append(f"line {line}: more values than header columns")
            continue
        try:
            rows.append(LabelledObservation.model_validate(values))
        except ValidationError as error:
            problems.extend(f"line {line}: {describe(e)}" for e in error.errors())
    if not rows and not problems:
        problems.append("no data rows")
    if problems:
        raise DataRejected(source, problems)
    return rows


def describe(error: Any) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "row"
    return f"{field}: {error['msg']}"


def load(source: str, sha256: str | None = None) -> TrainingData:
    data = read_source(source)
    actual = sha256_hex(data)
    expected = sha256 or expected_sha256(source)
    if expected and actual != expected.lower():
        raise DataRejected(source, [f"sha256 is {actual}, expected {expected}: the file is not the one documented"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataRejected(source, [f"not UTF-8 text (byte {error.start})"]) from None
    return TrainingData(source, actual, parse_rows(text, source))


def split_by_date(text: str, cutoff: dt.date) -> tuple[str, str]:
    """A day.csv-shaped text cut in two: days before ``cutoff``, and from it on (header kept in both)."""
    header, *lines = text.splitlines(keepends=True)
    column = next(csv.reader([header])).index("dteday")
    before = [line for line in lines if parse_day(line.split(",")[column]) < cutoff]
    after = [line for line in lines if parse_day(line.split(",")[column]) >= cutoff]
    return header + "".join(before), header + "".join(after)
