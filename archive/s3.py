"""``s3://bucket/prefix`` storage (boto3), for AWS and S3-compatible stores.

Path-style addressing and ``when_required`` checksums so MinIO, Ceph, R2 and Garage work;
botocore's standard retry mode (exponential backoff). Large files go up as a multipart upload
whose UploadId and completed parts are kept in a :class:`MultipartState` (the catalog), so
after a crash the upload resumes: ListParts says which parts arrived, and only parts whose
ETag does not match the local bytes are sent again. Every object carries its SHA-256 in its
metadata; an upload counts as done when size and SHA-256 match.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from archive.storage import StorageError, StoredObject

logger = logging.getLogger(__name__)

MIN_PART_SIZE = 5 * 1024 * 1024


@dataclass
class UploadProgress:
    upload_id: str
    sha256: str
    parts: dict[int, str] = field(default_factory=dict)  # part number → ETag


class MultipartState(Protocol):
    """Where multipart progress survives a crash (the catalog's ``multipart_uploads``)."""

    def load(self, key: str) -> UploadProgress | None: ...

    def save(self, key: str, progress: UploadProgress) -> None: ...

    def clear(self, key: str) -> None: ...

    def active_upload_ids(self) -> set[str]: ...


class MemoryState:
    """Progress kept in memory only: resumes within one process."""

    def __init__(self) -> None:
        self._uploads: dict[str, UploadProgress] = {}

    def load(self, key: str) -> UploadProgress | None:
        return self._uploads.get(key)

    def save(self, key: str, progress: UploadProgress) -> None:
        self._uploads[key] = progress

    def clear(self, key: str) -> None:
        self._uploads.pop(key, None)

    def active_upload_ids(self) -> set[str]:
        return {p.upload_id for p in self._uploads.values()}


def _md5(data: bytes) -> tuple[str, str]:
    digest = hashlib.md5(data, usedforsecurity=False).digest()
    return base64.b64encode(digest).decode(), f'"{digest.hex()}"'


class S3Storage:
    def __init__(
        self,
        url: str,
        *,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        part_size: int = 64 * 1024 * 1024,
        concurrency: int = 4,
        max_attempts: int = 8,
        state: MultipartState | None = None,
        client: Any = None,
    ) -> None:
        parsed = urlparse(url)
        if not parsed.netloc:
            raise StorageError(f"S3 storage URL {url!r} has no bucket: use s3://bucket/prefix")
        self.url = url
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.part_size = max(part_size, MIN_PART_SIZE)
        self.concurrency = max(1, concurrency)  # parts in flight (memory: this x part_size)
        self.state: MultipartState = state or MemoryState()
        self.client = client or boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region_name or "us-east-1",
            aws_access_key_id=aws_access_key_id, aws_secret_access_key=aws_secret_access_key,
            config=Config(s3={"addressing_style": "path"},
                          retries={"max_attempts": max_attempts, "mode": "standard"},
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required",
                          max_pool_connections=max(10, concurrency * 2),
                          connect_timeout=10, read_timeout=60))

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, action: str, key: str, exc: Exception) -> StorageError:
        return StorageError(f"S3 {action} of {key!r} in s3://{self.bucket}/{self.prefix} "
                            f"failed: {exc}")

    # -- writing -------------------------------------------------------------------------------
    def put_file(self, key: str, path: Path, *, sha256: str) -> StoredObject:
        size = path.stat().st_size
        try:
            if size <= self.part_size:
                body = path.read_bytes()
                md5_b64, _ = _md5(body)
                self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=body,
                                       ContentMD5=md5_b64, Metadata={"sha256": sha256})
            else:
                self._multipart(key, path, size, sha256)
            stored = self.stat(key)
        except (BotoCoreError, ClientError, OSError) as exc:
            raise self._fail("upload", key, exc) from exc
        if stored is None or stored.size != size or stored.sha256 != sha256:
            raise StorageError(
                f"upload of {key!r} did not verify: local {size} bytes sha256 {sha256}, "
                f"stored {stored.size if stored else 'nothing'} bytes sha256 "
                f"{stored.sha256 if stored else '-'}")
        return stored

    def _multipart(self, key: str, path: Path, size: int, sha256: str) -> None:
        full_key = self._key(key)
        progress = self._resume(key, full_key, sha256)
        if progress is None:
            created = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=full_key, Metadata={"sha256": sha256})
            progress = UploadProgress(upload_id=created["UploadId"], sha256=sha256)
            self.state.save(key, progress)
        count = (size + self.part_size - 1) // self.part_size
        missing = list(range(1, count + 1))
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="s3-part") as pool:
            futures = {pool.submit(self._upload_part, path, full_key, progress, n): n
                       for n in missing}
            failures: list[BaseException] = []
            for future in as_completed(futures):
                if (error := future.exception()) is not None:
                    failures.append(error)  # record the parts that did arrive first
                elif (etag := future.result()) is not None:
                    progress.parts[futures[future]] = etag
                    self.state.save(key, progress)
        if failures:
            raise failures[0]  # the saved progress makes the next attempt resume
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=full_key, UploadId=progress.upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": progress.parts[n]}
                                       for n in range(1, count + 1)]})
        self.state.clear(key)

    def _upload_part(self, path: Path, full_key: str, progress: UploadProgress,
                     number: int) -> str | None:
        """Send one part unless S3 already has these exact bytes; returns the new ETag."""
        with path.open("rb") as f:
            f.seek((number - 1) * self.part_size)
            data = f.read(self.part_size)
        md5_b64, etag = _md5(data)
        if progress.parts.get(number) == etag:
            return None
        response = self.client.upload_part(
            Bucket=self.bucket, Key=full_key, UploadId=progress.upload_id,
            PartNumber=number, Body=data, ContentMD5=md5_b64)
        return response["ETag"]

    def _resume(self, key: str, full_key: str, sha256: str) -> UploadProgress | None:
        progress = self.state.load(key)
        if progress is None:
            return None
        if progress.sha256 != sha256:
            self._abort(full_key, progress.upload_id)
            self.state.clear(key)
            return None
        try:
            parts: dict[int, str] = {}
            pages = self.client.get_paginator("list_parts").paginate(
                Bucket=self.bucket, Key=full_key, UploadId=progress.upload_id)
            for page in pages:
                parts.update({p["PartNumber"]: p["ETag"] for p in page.get("Parts", [])})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchUpload", "404"):
                self.state.clear(key)
                return None
            raise
        logger.info("resuming upload of %s: %d part(s) already stored", key, len(parts))
        progress.parts = parts
        return progress

    def _abort(self, full_key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=full_key,
                                               UploadId=upload_id)
        except ClientError as exc:
            logger.warning("could not abort upload %s of %s: %s", upload_id, full_key, exc)

    def abort_abandoned(self) -> int:
        """Abort multipart uploads under the prefix that no saved progress refers to."""
        keep = self.state.active_upload_ids()
        aborted = 0
        # "prefix/", not "prefix": another archive under "prefix-2/" is not ours to abort.
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else "")
        for page in pages:
            for upload in page.get("Uploads", []):
                if upload["UploadId"] not in keep:
                    self._abort(upload["Key"], upload["UploadId"])
                    aborted += 1
        return aborted

    # -- reading -------------------------------------------------------------------------------
    def read_range(self, key: str, offset: int, length: int) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key),
                                              Range=f"bytes={offset}-{offset + length - 1}")
            data = response["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("ranged read", key, exc) from exc
        if len(data) != length:
            raise StorageError(f"short read of {key!r}: wanted {length} bytes at offset "
                               f"{offset}, got {len(data)}")
        return data

    def open(self, key: str) -> BinaryIO:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("read", key, exc) from exc

    def stat(self, key: str) -> StoredObject | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._fail("stat", key, exc) from exc
        return StoredObject(key=key, size=head["ContentLength"],
                            sha256=head.get("Metadata", {}).get("sha256"))

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("delete", key, exc) from exc

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        base = f"{self.prefix}/" if self.prefix else ""
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base + prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    yield StoredObject(key=item["Key"][len(base):], size=item["Size"])
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("listing", prefix or "/", exc) from exc
