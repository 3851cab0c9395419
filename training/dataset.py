"""The training set made of every upload under the training-data prefix: one row per day, the newest upload wins."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from bikecast.artifact import sha256_hex
from bikecast.store import ObjectInfo, S3Store
from training.data import DataRejected, LabelledObservation, TrainingData, parse_rows

TRAINING_PREFIX = "training-data/"


@dataclass(frozen=True)
class Upload:
    key: str
    last_modified: dt.datetime
    sha256: str
    rows: list[LabelledObservation]

    def summary(self) -> dict[str, object]:
        return {
            "key": self.key,
            "sha256": self.sha256,
            "rows": len(self.rows),
            "uploaded_at": self.last_modified.isoformat(timespec="seconds"),
        }


def is_training_upload(key: str, prefix: str = TRAINING_PREFIX) -> bool:
    return key.startswith(prefix) and key.lower().endswith(".csv")


def read_upload(store: S3Store, info: ObjectInfo) -> Upload:
    """One uploaded CSV, every row valid, or ``DataRejected`` naming the file, its lines and reasons."""
    source = f"s3://{store.bucket}/{info.key}"
    body = store.get(info.key).body
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataRejected(source, [f"not UTF-8 text (byte {error.start})"]) from None
    return Upload(info.key, info.last_modified, sha256_hex(body), parse_rows(text, source))


def uploads(store: S3Store, prefix: str = TRAINING_PREFIX) -> tuple[list[Upload], list[DataRejected]]:
    """Every valid upload, and the rejections of the others (they are left out of training, not deleted)."""
    good: list[Upload] = []
    rejected: list[DataRejected] = []
    for info in store.objects(prefix):
        if not is_training_upload(info.key, prefix):
            continue
        try:
            good.append(read_upload(store, info))
        except DataRejected as rejection:
            rejected.append(rejection)
    return good, rejected


def merge(found: list[Upload]) -> list[LabelledObservation]:
    """One row per ``dteday``; where uploads overlap, the most recently uploaded file wins."""
    by_day: dict[dt.date, LabelledObservation] = {}
    for upload in sorted(found, key=lambda u: (u.last_modified, u.key)):
        for row in upload.rows:
            by_day[row.dteday] = row
    return [by_day[day] for day in sorted(by_day)]


def fingerprint(rows: list[LabelledObservation]) -> str:
    """sha256 of the merged rows in a canonical form, so the same training set has the same fingerprint."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(row.model_dump_json().encode() + b"\n")
    return digest.hexdigest()


def training_set(store: S3Store, found: list[Upload], prefix: str = TRAINING_PREFIX) -> TrainingData:
    rows = merge(found)
    sources = [upload.summary() for upload in sorted(found, key=lambda u: (u.last_modified, u.key))]
    return TrainingData(f"s3://{store.bucket}/{prefix}", fingerprint(rows), rows, sources)
