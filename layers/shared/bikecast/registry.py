"""Where each model's versions, pointer, decision log, uploads and reports live in the bucket.

    <models>versions/<version>/model.joblib   the fitted model (feature step and trees), for the record
    <models>versions/<version>/model.trees.npz  the serving format, plain arrays
    <models>versions/<version>/manifest.json  what it is, how good it is, checksums (written after the files)
    <models>versions/<version>/...            model card and plots
    <models>current.json                      {"version": ...}, written last, so readers never see half a model
    <models>decisions/<time>-<version>.json   append-only log: every promotion, refusal and rollback, and why
    <models>uploads/<key hash>.json           what became of each training upload (accepted, rejected, held)
    <models>uploads-adopted.json              set once the uploads of an older bucket have been recorded
    <training>*.csv                           training uploads (S3 notifications start a retrain)
    <reports>drift/, <reports>rejected/       drift reports and rejection reports

The default model (the first spec) owns the root of each prefix (``models/``, ``training-data/``, ``reports/``:
the layout of a bucket written before there was more than one model); any other model lives in a folder named
after it under each (``models/hourly/``, ``training-data/hourly/``, ``reports/hourly/``).

Versions and decisions are written with conditional puts and never overwritten; the pointer is moved with a
conditional put (If-Match on the ETag it was read with), so of two racing promotions exactly one wins.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bikecast.store import ObjectMissing, S3Store, StoredObject

MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
MODELS_PREFIX = "models/"
TRAINING_PREFIX = "training-data/"
REPORTS_PREFIX = "reports/"
TRAINING_SUFFIX = ".csv"  # exactly as the template's S3 notification filter (case-sensitive, as S3 matches)

CONTENT_TYPES = {
    ".json": "application/json",
    ".md": "text/markdown; charset=utf-8",
    ".png": "image/png",
    ".joblib": "application/octet-stream",
    ".npz": "application/octet-stream",
    ".csv": "text/csv",
}


def content_type(name: str) -> str:
    return next((kind for suffix, kind in CONTENT_TYPES.items() if name.endswith(suffix)), "application/octet-stream")


@dataclass(frozen=True, slots=True)
class Layout:
    """The prefixes of one model: its versions and pointer, its training uploads, its reports."""

    models: str
    training: str
    reports: str

    @classmethod
    def of(cls, name: str, default: bool, models_prefix: str = MODELS_PREFIX) -> Layout:
        root = models_prefix if models_prefix.endswith("/") else models_prefix + "/"
        folder = "" if default else f"{name}/"
        return cls(root + folder, TRAINING_PREFIX + folder, REPORTS_PREFIX + folder)

    def owns_upload(self, key: str, other_models: Mapping[str, Layout]) -> bool:
        """Whether ``key`` is a training upload of this model: a .csv right under its training prefix, or, for
        the default model, anywhere under it but inside another model's folder."""
        if not key.startswith(self.training) or not key.endswith(TRAINING_SUFFIX):
            return False
        deeper = (other.training for other in other_models.values() if len(other.training) > len(self.training))
        return not any(key.startswith(prefix) for prefix in deeper)


@dataclass(frozen=True, slots=True)
class Pointer:
    version: str
    etag: str | None = None


class ModelRegistry:
    def __init__(self, store: S3Store, prefix: str = MODELS_PREFIX) -> None:
        self.store = store
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"

    @property
    def pointer_key(self) -> str:
        return f"{self.prefix}current.json"

    def key(self, version: str, name: str) -> str:
        return f"{self.prefix}versions/{version}/{name}"

    def publish(self, version: str, files: Mapping[str, bytes], manifest: Mapping[str, Any]) -> None:
        """Write a new version: its files, then its manifest. Nothing existing is overwritten."""
        for name, body in files.items():
            self.store.put_new(self.key(version, name), body, content_type(name))
        self.store.put_new(self.key(version, MANIFEST_FILE), to_json(manifest), content_type(MANIFEST_FILE))

    def move_pointer(self, version: str, *, expected: Pointer | None = None, reason: str = "") -> None:
        """Point readers at ``version``. With ``expected``, only if the pointer did not move since it was read
        (``Pointer(version="", etag=None)`` expects no pointer at all). Whether the version can serve is the
        caller's to check (``serving.load_version``): this only refuses a version that is not complete."""
        self.manifest(version)
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        body = to_json({"version": version, "promoted_at": now, "reason": reason})
        if expected is None:
            self.store.put(self.pointer_key, body, content_type(".json"))
        elif expected.etag is None:
            self.store.put_new(self.pointer_key, body, content_type(".json"))
        else:
            self.store.put(self.pointer_key, body, content_type(".json"), if_match=expected.etag)

    def current(self) -> Pointer | None:
        try:
            stored = self.store.get(self.pointer_key)
        except ObjectMissing:
            return None
        return pointer_from(stored)

    def raw_pointer(self) -> Pointer:
        """The pointer's ETag even when its content is garbage, so it can be replaced with a conditional write."""
        try:
            return Pointer("", self.store.get(self.pointer_key).etag)
        except ObjectMissing:
            return Pointer("", None)

    def current_if_changed(self, etag: str | None) -> Pointer | None:
        stored = self.store.get_if_changed(self.pointer_key, etag)
        return None if stored is None else pointer_from(stored)

    def manifest(self, version: str) -> dict[str, Any]:
        manifest = json.loads(self.store.get(self.key(version, MANIFEST_FILE)).body)
        if not isinstance(manifest, dict):
            raise ValueError(f"the manifest of {version} is not a JSON object")
        return manifest

    def model_file(self, version: str, name: str = MODEL_FILE) -> bytes:
        return self.store.get(self.key(version, name)).body

    def record_decision(self, decision: Mapping[str, Any]) -> str:
        now = dt.datetime.now(dt.UTC)
        key = f"{self.prefix}decisions/{now.strftime('%Y%m%dT%H%M%S%fZ')}-{decision['version']}.json"
        self.store.put_new(key, to_json({"at": now.isoformat(timespec="seconds"), **decision}), content_type(".json"))
        return key

    def decisions(self) -> list[dict[str, Any]]:
        """The decision log, oldest first."""
        keys = sorted(self.store.keys(self.prefix + "decisions/"))
        return [json.loads(self.store.get(key).body) for key in keys]

    def versions(self) -> list[str]:
        """Complete versions (those with a manifest), oldest first; version ids sort by time."""
        suffix = "/" + MANIFEST_FILE
        start = len(self.prefix + "versions/")
        keys = self.store.keys(self.prefix + "versions/")
        return sorted(
            key[start : -len(suffix)] for key in keys if key.endswith(suffix) and "/" not in key[start : -len(suffix)]
        )

    # -- what became of each training upload -------------------------------------------------------------------

    def upload_record_key(self, upload_key: str) -> str:
        return f"{self.prefix}uploads/{hashlib.sha256(upload_key.encode()).hexdigest()[:32]}.json"

    def upload_record(self, upload_key: str) -> dict[str, Any] | None:
        try:
            record = json.loads(self.store.get(self.upload_record_key(upload_key)).body)
        except ObjectMissing:
            return None
        return record if isinstance(record, dict) else None

    def record_upload(self, record: Mapping[str, Any]) -> None:
        """The fate of one upload (its key and ETag, accepted / rejected / held, why): replaced when the same key
        is uploaded again with other content."""
        body = to_json({"at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **record})
        self.store.put(self.upload_record_key(str(record["key"])), body, content_type(".json"))

    def adopted(self) -> bool:
        """Whether the uploads found before uploads were recorded have been adopted (see ``training.dataset``)."""
        try:
            self.store.get(f"{self.prefix}uploads-adopted.json")
        except ObjectMissing:
            return False
        return True

    def mark_adopted(self) -> None:
        body = to_json({"at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})
        self.store.put(f"{self.prefix}uploads-adopted.json", body, content_type(".json"))

    def upload_records(self) -> list[dict[str, Any]]:
        records = []
        for key in self.store.keys(self.prefix + "uploads/"):
            record = json.loads(self.store.get(key).body)
            if isinstance(record, dict):
                records.append(record)
        return records


class PointerInvalid(ValueError):
    pass


def pointer_from(stored: StoredObject) -> Pointer:
    try:
        version = json.loads(stored.body)["version"]
    except (ValueError, KeyError, TypeError):
        raise PointerInvalid("the current-model pointer is not valid JSON with a version") from None
    if not isinstance(version, str) or not version or "/" in version:
        raise PointerInvalid(f"the current-model pointer names an invalid version: {version!r}")
    return Pointer(version, stored.etag)


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None: JSON has no NaN, and a reader must not meet one."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def to_json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(finite(value), indent=2, sort_keys=True, allow_nan=False).encode()
