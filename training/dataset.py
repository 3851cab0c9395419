"""A model's training set: the uploads accepted so far, one row per key, the newest upload winning.

Which uploads are accepted is recorded per upload (``ModelRegistry.record_upload``): an upload that was
rejected, or whose candidate the gate refused ("held"), is left out of later trainings without being read again;
an operator's promotion of a held candidate accepts its upload. A bucket written before uploads were recorded
has none: its files are then read once and adopted (recorded as accepted, or rejected with a report).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bikecast.artifact import sha256_hex
from bikecast.registry import to_json
from bikecast.store import ObjectInfo
from training.data import DataRejected, Labelled, parse
from training.deployment import Deployment

Progress = Callable[[str], None]
ACCEPTED, REJECTED, HELD = "accepted", "rejected", "held"


@dataclass(frozen=True)
class Upload:
    info: ObjectInfo
    data: Labelled

    @property
    def key(self) -> str:
        return self.info.key

    def summary(self) -> dict[str, object]:
        return {
            "key": self.info.key,
            "etag": self.info.etag,
            "sha256": self.data.sha256,
            "rows": len(self.data),
            "uploaded_at": self.info.last_modified.isoformat(timespec="seconds"),
        }


def training_files(deployment: Deployment, name: str) -> list[ObjectInfo]:
    """The model's training uploads in the bucket (what its S3 notification would start a retrain for)."""
    prefix = deployment.layout(name).training
    return [info for info in deployment.store.objects(prefix) if deployment.model_for_upload(info.key) == name]


def read_upload(deployment: Deployment, name: str, info: ObjectInfo) -> Upload:
    """One upload read and validated, or ``DataRejected`` naming why (too large ones are refused unread)."""
    source = f"s3://{deployment.store.bucket}/{info.key}"
    limit = deployment.limits.max_bytes
    if info.size > limit:
        raise DataRejected(source, [f"the file has {info.size:,} bytes; at most {limit:,} are read"])
    body = deployment.store.get(info.key).body
    return Upload(info, parse(deployment.spec(name), body, source, deployment.limits))


def record_rejection(deployment: Deployment, name: str, info: ObjectInfo, rejection: DataRejected) -> str:
    """A rejection report under the model's reports prefix, and the upload recorded as rejected."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    file_name = info.key.rsplit("/", 1)[-1][:100]
    report_key = f"{deployment.layout(name).reports}rejected/{stamp}-{file_name}.json"
    body = {
        "model": name,
        "file": rejection.source,
        "etag": info.etag,
        "rejected_at": stamp,
        "problems": rejection.problems,
        "more_problems": rejection.more,
    }
    deployment.store.put_new(report_key, to_json(body), "application/json")
    deployment.registry(name).record_upload(
        {"key": info.key, "etag": info.etag, "status": REJECTED, "reason": rejection.problems[0], "report": report_key}
    )
    return report_key


def accepted_uploads(deployment: Deployment, name: str, besides: str, progress: Progress) -> list[Upload]:
    """The uploads whose data is accepted for training (other than ``besides``, the one being judged)."""
    registry = deployment.registry(name)
    files = [info for info in training_files(deployment, name) if info.key != besides]
    if not registry.adopted():
        adopt(deployment, name, files, progress)
    records = {str(r.get("key")): r for r in registry.upload_records()}
    found: list[Upload] = []
    for info in files:
        record = records.get(info.key)
        if not (record and record.get("status") == ACCEPTED and record.get("etag") == info.etag):
            continue
        try:
            found.append(read_upload(deployment, name, info))
        except DataRejected as rejection:
            progress(f"left out of training: {info.key} no longer reads as it did: {rejection.problems[0]}")
    return found


def adopt(deployment: Deployment, name: str, files: list[ObjectInfo], progress: Progress) -> None:
    """Once per model: record the uploads that were there before uploads were recorded (a bucket written by an
    earlier bikecast), each accepted if it reads as valid, else rejected with a report."""
    registry = deployment.registry(name)
    recorded = {str(r.get("key")) for r in registry.upload_records()}
    for info in files:
        if info.key in recorded:
            continue
        try:
            read_upload(deployment, name, info)
        except DataRejected as rejection:
            report = record_rejection(deployment, name, info, rejection)
            progress(f"left out of training: {info.key} (uploaded before uploads were recorded); report {report}")
            continue
        registry.record_upload({"key": info.key, "etag": info.etag, "status": ACCEPTED,
                                "reason": "adopted: uploaded before uploads were recorded"})  # fmt: skip
    registry.mark_adopted()


def merge(deployment: Deployment, name: str, uploads: list[Upload]) -> Labelled | None:
    """One row per key; where uploads overlap, the most recently uploaded file wins. None without uploads."""
    if not uploads:
        return None
    spec = deployment.spec(name)
    ordered = sorted(uploads, key=lambda u: (u.info.last_modified, u.key))
    winner: dict[tuple[float, ...], tuple[int, int]] = {}
    for which, upload in enumerate(ordered):
        for row, key in enumerate(upload.data.rows_keys()):
            winner[key] = (which, row)
    chosen = sorted(winner.items())  # by key: time first for specs keyed by time
    columns: dict[str, Any] = {}
    for column in ordered[0].data.batch:
        columns[column] = np.array([ordered[w].data.batch[column][r] for _, (w, r) in chosen])
    lines = np.array([ordered[w].data.lines[r] for _, (w, r) in chosen], dtype=np.int64)
    fingerprint = sha256_hex(b"".join(np.ascontiguousarray(columns[c]).tobytes() for c in sorted(columns)))
    source = f"s3://{deployment.store.bucket}/{deployment.layout(name).training}"
    return Labelled(spec, source, fingerprint, columns, lines, [u.summary() for u in ordered])
