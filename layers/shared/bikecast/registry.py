"""Where model versions live in the bucket, and the "current model" pointer.

    <prefix>versions/<version>/model.joblib   the fitted pipeline (feature step + model)
    <prefix>versions/<version>/manifest.json  what it is, how good it is, checksums (written after the files)
    <prefix>versions/<version>/...            model card and plot
    <prefix>current.json                      {"version": ...}, written last, so readers never see half a model
    <prefix>decisions/<time>-<version>.json   append-only log: every promotion, rejection and rollback, and why

Versions and decisions are written with conditional puts and never overwritten; the pointer is moved with a
conditional put (If-Match on the ETag it was read with), so of two racing promotions exactly one wins.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bikecast.store import ObjectMissing, S3Store, StoredObject

MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"

CONTENT_TYPES = {
    ".json": "application/json",
    ".md": "text/markdown; charset=utf-8",
    ".png": "image/png",
    ".joblib": "application/octet-stream",
    ".npz": "application/octet-stream",
}


def content_type(name: str) -> str:
    return next((kind for suffix, kind in CONTENT_TYPES.items() if name.endswith(suffix)), "application/octet-stream")


@dataclass(frozen=True, slots=True)
class Pointer:
    version: str
    etag: str | None = None


class ModelRegistry:
    def __init__(self, store: S3Store, prefix: str = "models/") -> None:
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
        self.store.put_new(self.key(version, MANIFEST_FILE), _json(manifest), content_type(MANIFEST_FILE))

    def promote(self, version: str, *, expected: Pointer | None = None, reason: str = "") -> None:
        """Point readers at ``version``. With ``expected``, only if the pointer did not move since it was read
        (``Pointer(version="", etag=None)`` expects no pointer at all)."""
        self.manifest(version)  # refuse to point at a version that is not complete
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        body = _json({"version": version, "promoted_at": now, "reason": reason})
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
        manifest: dict[str, Any] = json.loads(self.store.get(self.key(version, MANIFEST_FILE)).body)
        return manifest

    def model_file(self, version: str, name: str = MODEL_FILE) -> bytes:
        return self.store.get(self.key(version, name)).body

    def record_decision(self, decision: Mapping[str, Any]) -> None:
        now = dt.datetime.now(dt.UTC)
        key = f"{self.prefix}decisions/{now.strftime('%Y%m%dT%H%M%S%fZ')}-{decision['version']}.json"
        self.store.put_new(key, _json({"at": now.isoformat(timespec="seconds"), **decision}), content_type(".json"))

    def decisions(self) -> list[dict[str, Any]]:
        """The decision log, oldest first."""
        keys = sorted(self.store.keys(self.prefix + "decisions/"))
        return [json.loads(self.store.get(key).body) for key in keys]

    def versions(self) -> list[str]:
        """Complete versions (those with a manifest), oldest first; version ids sort by time."""
        suffix = "/" + MANIFEST_FILE
        start = len(self.prefix + "versions/")
        keys = self.store.keys(self.prefix + "versions/")
        return sorted(key[start : -len(suffix)] for key in keys if key.endswith(suffix))


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


def _json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True).encode()
