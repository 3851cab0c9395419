"""Training data for any model spec: a CSV read into a column batch, every row validated by the spec's label
model (its request row plus the label columns), or the file refused whole with every problem named by line.

Reading never raises on data: whatever a file holds (any encoding, line endings, field sizes, numbers of any
length, quotes, NUL bytes), it is read or refused with a reason (``DataRejected``). Bounds on size, rows and field
length keep a file from costing more than it could be worth.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import ValidationError

from bikecast import rows
from bikecast.artifact import sha256_hex
from bikecast.rows import Batch
from bikecast.spec import ModelSpec
from bikecast.store import S3Store, parse_s3_uri

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
MAX_REPORTED = 1000  # problems kept in one rejection report; the count says how many more there were


class DataRejected(Exception):
    """The file as a whole is refused; ``problems`` names lines and reasons."""

    def __init__(self, source: str, problems: list[str], more: int = 0) -> None:
        self.source = source
        self.problems = problems[:MAX_REPORTED]
        self.more = more + max(0, len(problems) - MAX_REPORTED)
        shown = "\n".join(f"  - {p}" for p in self.problems[:50])
        hidden = len(self.problems) - 50 + self.more
        super().__init__(f"{source} rejected:\n{shown}" + (f"\n  … and {hidden} more" if hidden > 0 else ""))


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 50_000_000
    max_rows: int = 500_000
    max_field_chars: int = 100


@dataclass(frozen=True)
class Labelled:
    """Validated rows of one model's training data: input fields and label columns as a column batch (optional
    fields filled in by the spec), with the line of the file each row came from."""

    spec: ModelSpec
    source: str
    sha256: str
    batch: Batch
    lines: NDArray[np.int64]
    sources: list[dict[str, object]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def target(self) -> NDArray[np.float64]:
        return self.batch[self.spec.data.target]

    @property
    def days(self) -> NDArray[np.int64] | None:
        """Each row's day ordinal, for a spec whose rows are ordered in time."""
        time = self.spec.data.time
        return None if time is None else self.batch[time].astype(np.int64)

    def subset(self, index: NDArray[Any]) -> Labelled:
        return Labelled(
            self.spec, self.source, self.sha256, {k: v[index] for k, v in self.batch.items()}, self.lines[index],
            self.sources,
        )  # fmt: skip

    def rows_keys(self) -> list[tuple[float, ...]]:
        return list(zip(*(self.batch[name].tolist() for name in self.spec.data.key), strict=True))


def bundled(spec: ModelSpec) -> Path:
    """The data set a spec ships with (under the repository's data/ folder)."""
    if spec.data.bundled is None:
        raise LookupError(f"the {spec.name} model ships with no data set; give --data")
    return DATA_DIR / spec.data.bundled


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


def load(spec: ModelSpec, source: str, sha256: str | None = None, limits: Limits = Limits()) -> Labelled:
    """A training file from a path or s3:// URI, its checksum verified when one is known (``sha256`` or a
    README.md beside the file)."""
    data = read_source(source)
    actual = sha256_hex(data)
    expected = sha256 or expected_sha256(source)
    if expected and actual != expected.lower():
        raise DataRejected(source, [f"sha256 is {actual}, expected {expected}: the file is not the one documented"])
    return parse(spec, data, source, limits)


def parse(spec: ModelSpec, data: bytes, source: str, limits: Limits = Limits()) -> Labelled:
    """Bytes of a CSV file -> validated rows, or ``DataRejected`` naming every problem."""
    if len(data) > limits.max_bytes:
        raise DataRejected(source, [f"the file has {len(data):,} bytes; at most {limits.max_bytes:,} are read"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataRejected(source, [f"not UTF-8 text (byte {error.start})"]) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise DataRejected(source, [f"line {line}: a NUL character; this is not a text file"])
    records = _records(text, source, limits)
    header, body = records[0][1], records[1:]
    label_model = spec.data.labels
    known = set(label_model.model_fields)
    required = [rule.name for rule in rows.rules(label_model) if rule.required]
    missing = [name for name in required if name not in header]
    if missing:
        raise DataRejected(source, [f"header lacks required column(s) {', '.join(missing)}; found {_cut(header)}"])
    repeated = sorted({name for name in header if header.count(name) > 1 and name in known})
    if repeated:
        raise DataRejected(source, [f"header names {', '.join(repeated)} more than once"])
    if not body:
        raise DataRejected(source, ["no data rows"])
    if len(body) > limits.max_rows:
        raise DataRejected(source, [f"more than {limits.max_rows:,} data rows; at most {limits.max_rows:,} are read"])
    columns = [(index, name) for index, name in enumerate(header) if name in known]
    instances, lines, problems = [], [], []
    for line, record in body:
        if len(record) != len(header):
            problems.append(f"line {line}: {len(record)} values for {len(header)} header columns")
            continue
        values = {name: record[index] for index, name in columns if record[index] != ""}
        try:
            instances.append(label_model.model_validate_strings(values))
            lines.append(line)
        except ValidationError as error:
            problems.extend(f"line {line}: {_describe(e)}" for e in error.errors())
    if problems:
        raise DataRejected(source, problems)
    batch = rows.batch_of(label_model, instances)
    spec.derive(batch)
    labelled = Labelled(spec, source, sha256_hex(data), batch, np.array(lines, dtype=np.int64))
    problems = duplicate_keys(labelled) + [f"line {lines[i]}: {p}" for i, p in spec.data.check(batch)]
    problems += future_rows(labelled)
    if problems:
        raise DataRejected(source, problems)
    return labelled


def _records(text: str, source: str, limits: Limits) -> list[tuple[int, list[str]]]:
    """(line, cells) of every non-blank record, the header first. Any line ending (CR-only old Mac/Excel files
    too); cells stripped of surrounding spaces; a cell longer than the limit refuses the file."""
    reader = csv.reader(io.StringIO(text, newline=""))
    found: list[tuple[int, list[str]]] = []
    problems: list[str] = []
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            cells = [cell.strip() for cell in record]
            longest = max(map(len, cells))
            if longest > limits.max_field_chars:
                allowed = limits.max_field_chars
                problems.append(
                    f"line {reader.line_num}: a value of {longest:,} characters; at most {allowed} are read"
                )
                continue
            found.append((reader.line_num, cells))
            if len(found) > limits.max_rows + 1:
                break
    except csv.Error as error:
        problems.append(f"line {reader.line_num}: not readable as CSV ({error})")
    if problems:
        raise DataRejected(source, problems)
    if not found:
        raise DataRejected(source, ["the file is empty"])
    return found


def duplicate_keys(data: Labelled) -> list[str]:
    """Rows that share a key (one row per key in a file): named with all their lines."""
    seen: defaultdict[tuple[float, ...], list[int]] = defaultdict(list)
    for key, line in zip(data.rows_keys(), data.lines.tolist(), strict=True):
        seen[key].append(line)
    problems = []
    for key, lines in seen.items():
        if len(lines) > 1:
            shown = ", ".join(
                f"{name}={_value(data, name, value)}" for name, value in zip(data.spec.data.key, key, strict=True)
            )
            problems.append(f"{', '.join(f'line {n}' for n in lines)}: the same {shown} (one row per key in a file)")
    return problems


def future_rows(data: Labelled) -> list[str]:
    """Rows dated after today (UTC, a day of grace for time zones): their labels cannot have been observed."""
    days = data.days
    if days is None:
        return []
    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).toordinal()
    later = np.flatnonzero(days > tomorrow)
    time = data.spec.data.time
    return [
        f"line {data.lines[i]}: {time} {dt.date.fromordinal(int(days[i])).isoformat()} is in the future: "
        "its labels cannot have been observed yet"
        for i in later[:MAX_REPORTED]
    ]


def _value(data: Labelled, name: str, value: float) -> str:
    kinds = {rule.name: rule.kind for rule in rows.rules(data.spec.data.labels)}
    if kinds.get(name) == "date":
        return dt.date.fromordinal(int(value)).isoformat()
    return str(int(value)) if float(value).is_integer() else str(value)


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "row"
    return f"{where}: {str(error['msg']).removeprefix('Value error, ')}"


def _cut(header: list[str]) -> str:
    shown = ", ".join(header[:30])
    return shown if len(shown) <= 300 else shown[:299] + "…"


def split_by_date(text: str, cutoff: dt.date, column: str) -> tuple[str, str]:
    """A CSV text with a date column cut in two: rows before ``cutoff``, and from it on (header kept in both)."""
    header, *lines = text.splitlines(keepends=True)
    index = next(csv.reader([header])).index(column)
    before = [line for line in lines if dt.date.fromisoformat(line.split(",")[index][:10]) < cutoff]
    after = [line for line in lines if dt.date.fromisoformat(line.split(",")[index][:10]) >= cutoff]
    return header + "".join(before), header + "".join(after)
