"""Object storage for WARC files: a Protocol plus a registry of backends by URI scheme.

``open_storage("file:///var/lib/newsarchive/warcs")`` returns a :class:`LocalStorage`.
Other backends (``s3://``) register themselves with :func:`register_backend`; credentials
and endpoints are passed to their constructor as keyword arguments, never held globally.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import unquote, urlparse

CHUNK_SIZE = 1024 * 1024


class StorageError(Exception):
    """A storage operation failed; the message names the key and the cause."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str | None = None


class Storage(Protocol):
    """What the archive needs from an object store. Keys are ``/``-separated relative paths."""

    url: str

    def put_file(self, key: str, path: Path, *, sha256: str) -> StoredObject:
        """Store the file at ``path`` under ``key``, verify size and SHA-256, return it."""

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        """Return ``length`` bytes of ``key`` starting at ``offset`` (one ranged read)."""

    def open(self, key: str) -> BinaryIO:
        """Open ``key`` for streaming reads."""

    def stat(self, key: str) -> StoredObject | None:
        """Size (and SHA-256 when known) of ``key``, or None when it does not exist."""

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str = "") -> Iterator[StoredObject]: ...


BackendFactory = Callable[..., Storage]
_BACKENDS: dict[str, BackendFactory] = {}


def register_backend(scheme: str, factory: BackendFactory) -> None:
    _BACKENDS[scheme] = factory


def open_storage(url: str, **options: object) -> Storage:
    """Return the backend for ``url``; ``options`` go to its constructor (credentials etc.)."""
    scheme = urlparse(url).scheme
    try:
        factory = _BACKENDS[scheme]
    except KeyError:
        known = ", ".join(f"{s}://" for s in sorted(_BACKENDS))
        raise StorageError(
            f"unsupported storage URL {url!r}: scheme {scheme!r} is not one of {known}"
        ) from None
    return factory(url, **options)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


class LocalStorage:
    """``file:///abs/path``: objects are files below a root directory, written atomically."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        if parsed.netloc not in ("", "localhost"):
            raise StorageError(f"file storage URL {url!r} must be file:///absolute/path")
        self.url = url
        self.root = Path(unquote(parsed.path))
        # with a trailing separator ("/" for the filesystem root): keys must land below it
        self._root = os.path.join(os.path.normpath(self.root.resolve()), "")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a file in the way, no permission, read-only disk, ...
            raise StorageError(f"file storage URL {url!r}: cannot use {self.root} as the "
                               f"storage directory ({exc.strerror or exc}); point it at a "
                               "directory that can be created and written") from None

    def _path(self, key: str) -> Path:
        # normpath, not resolve(): no filesystem calls per read, and ".." cannot climb out;
        # a symlink the operator put inside the root (warcs/ -> another disk) is followed
        path = os.path.normpath(os.path.join(self._root, key))
        if not path.startswith(self._root):
            raise StorageError(f"storage key {key!r} escapes the storage root {self.root}")
        return Path(path)

    def put_file(self, key: str, path: Path, *, sha256: str) -> StoredObject:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            with path.open("rb") as src, tmp.open("wb") as dst:
                shutil.copyfileobj(src, dst, CHUNK_SIZE)
                dst.flush()
                os.fsync(dst.fileno())
            stored_sha = file_sha256(tmp)
            if stored_sha != sha256:
                raise StorageError(
                    f"checksum mismatch storing {key!r}: expected sha256 {sha256}, "
                    f"stored copy has {stored_sha}"
                )
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return StoredObject(key=key, size=target.stat().st_size, sha256=sha256)

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        try:
            with self._path(key).open("rb") as f:
                f.seek(offset)
                data = f.read(length)
        except FileNotFoundError:
            raise StorageError(f"{key!r} not found in {self.url}") from None
        if len(data) != length:
            raise StorageError(
                f"short read of {key!r}: wanted {length} bytes at offset {offset}, "
                f"got {len(data)}"
            )
        return data

    def open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError:
            raise StorageError(f"{key!r} not found in {self.url}") from None

    def stat(self, key: str) -> StoredObject | None:
        path = self._path(key)
        if not path.is_file():
            return None
        return StoredObject(key=key, size=path.stat().st_size)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        for path in sorted(self.root.rglob("*")):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and not path.name.startswith(".") and key.startswith(prefix):
                yield StoredObject(key=key, size=path.stat().st_size)


def _s3_backend(url: str, **options: object) -> Storage:
    from archive.s3 import S3Storage  # boto3 is imported only when S3 is used

    return S3Storage(url, **options)  # type: ignore[arg-type]


register_backend("file", LocalStorage)
register_backend("s3", _s3_backend)
