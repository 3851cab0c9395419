"""The only module that talks to S3.

A real bucket or moto_server: boto3 honours ``AWS_ENDPOINT_URL_S3``, and ``S3_ENDPOINT_URL`` (the name the SAM
template declares, so ``sam local`` can set it) does the same.

Timeouts and retries bound a slow or unreachable S3: at most 2 attempts of (1 s connect + 2 s read) plus
backoff, about 7 s, inside the predict function's 10 s budget (a cold start). A warm container's pointer check
runs inside a user's request, so it uses a ``quick`` store: one attempt of 0.5 s connect + 0.5 s read, so a
stalled S3 costs that request about a second at most. Model files are a few hundred kB, read in well under a
second from S3 in the same region.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class StoreError(Exception):
    """S3 could not be reached or refused the request."""


class ObjectMissing(StoreError):
    pass


class PreconditionFailed(StoreError):
    """A conditional write lost a race: the object changed since it was read."""


class ObjectExists(PreconditionFailed):
    """A write that must not overwrite found the key taken."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    body: bytes
    etag: str


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    etag: str
    last_modified: datetime.datetime
    size: int


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise ValueError(f"{uri!r} must name a bucket and a key: s3://bucket/key")
    return bucket, key


def make_client(quick: bool = False) -> S3Client:
    import boto3
    from botocore.config import Config

    if quick:
        config = Config(connect_timeout=0.5, read_timeout=0.5, retries={"total_max_attempts": 1, "mode": "standard"})
    else:
        config = Config(connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 2, "mode": "standard"})
    return boto3.client("s3", config=config, endpoint_url=os.environ.get("S3_ENDPOINT_URL") or None)


class S3Store:
    """Bytes in and out of one bucket. The boto3 client is made on first use, so tests can mock first."""

    def __init__(self, bucket: str, client: S3Client | None = None, *, quick: bool = False) -> None:
        self.bucket = bucket
        self.quick = quick
        self._client = client

    @property
    def client(self) -> S3Client:
        if self._client is None:
            self._client = make_client(self.quick)
        return self._client

    def reconnect(self) -> None:
        """Close the client's pooled connections; the next call opens new ones with a new client."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def get(self, key: str) -> StoredObject:
        response = self._call(self.client.get_object, Bucket=self.bucket, Key=key)
        return StoredObject(response["Body"].read(), response["ETag"])

    def get_if_changed(self, key: str, etag: str | None) -> StoredObject | None:
        """The object, or None when its ETag still equals ``etag`` (a cheap 304 from S3)."""
        if etag is None:
            return self.get(key)
        try:
            response = self._call(self.client.get_object, Bucket=self.bucket, Key=key, IfNoneMatch=etag)
        except _NotModified:
            return None
        return StoredObject(response["Body"].read(), response["ETag"])

    def put_new(self, key: str, body: bytes, content_type: str) -> None:
        """Write ``key`` only if it does not exist yet (S3 conditional write), so nothing is ever overwritten."""
        try:
            self._call(
                self.client.put_object,
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                IfNoneMatch="*",
            )
        except PreconditionFailed:
            raise ObjectExists(f"s3://{self.bucket}/{key} exists and is never overwritten") from None

    def put(self, key: str, body: bytes, content_type: str, *, if_match: str | None = None) -> None:
        """Write ``key``; with ``if_match`` only if it still has that ETag, so racing writers cannot both win."""
        extra: dict[str, Any] = {"IfMatch": if_match} if if_match else {}
        self._call(self.client.put_object, Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, **extra)

    def ensure_bucket(self) -> bool:
        """Create the bucket if it is missing (local emulation); True when it was created."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return False
        except Exception as error:
            translated = _translate(error)
            if not isinstance(translated, ObjectMissing):
                raise translated from error
        self._call(self.client.create_bucket, Bucket=self.bucket)
        return True

    def keys(self, prefix: str) -> list[str]:
        return [info.key for info in self.objects(prefix)]

    def objects(self, prefix: str) -> list[ObjectInfo]:
        found: list[ObjectInfo] = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                found.extend(
                    ObjectInfo(item["Key"], item["ETag"], item["LastModified"], item["Size"])
                    for item in page.get("Contents", [])
                )
        except Exception as error:
            raise _translate(error) from error
        return found

    def _call(self, operation: Any, **kwargs: Any) -> Any:
        try:
            return operation(**kwargs)
        except Exception as error:
            raise _translate(error) from error


class _NotModified(StoreError):
    pass


def _translate(error: Exception) -> Exception:
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("NoSuchKey", "404", "NotFound"):
            return ObjectMissing(str(error))
        if code == "304" or status == 304:
            return _NotModified(str(error))
        if code in ("PreconditionFailed", "412", "ConditionalRequestConflict") or status in (409, 412):
            return PreconditionFailed(str(error))
        return StoreError(f"S3 refused the request: {code or status}")
    if isinstance(error, BotoCoreError):
        return StoreError(f"S3 unreachable: {type(error).__name__}")
    return error
