"""Conditional re-fetches: a capture's validators, and what a 304 answer stands for.

Each capture row keeps the ``ETag`` and ``Last-Modified`` its response carried
(:meth:`Validators.of`). :func:`latest_revalidation` finds the URL's latest usable capture
(status 200, not truncated: a ``response``, or a ``revisit`` resolving to one) and returns
what a conditional request needs (``If-None-Match`` / ``If-Modified-Since``, RFC 9110
13.1.2 and 13.1.3) and what a ``304 Not Modified`` answer refers to: the ``response``
record holding the payload (:class:`~archive.warc.RevisitTarget`). A 304 is archived as a
``revisit`` record with the server-not-modified profile (:mod:`archive.warc`,
``docs/archive-format.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sqlalchemy import Connection, bindparam, select
from warcio.timeutils import timestamp_to_datetime

from archive.cdxj import surt_key
from archive.models import Capture
from archive.warc import RevisitTarget

NOT_MODIFIED = 304
# The status of the captures that are revalidated, and so of what a 304 stands for.
REVALIDATED_STATUS = 200
# A longer value is not kept: no server needs it, and it would only bloat every row.
MAX_VALIDATOR_LENGTH = 1024


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    value = next((v for k, v in headers if k.lower() == name), None)
    if value is None:
        return None
    value = value.strip()
    return value if value and len(value) <= MAX_VALIDATOR_LENGTH else None


@dataclass(frozen=True)
class Validators:
    """A response's ``ETag`` and ``Last-Modified``, as sent (None: absent)."""

    etag: str | None = None
    last_modified: str | None = None

    @classmethod
    def of(cls, headers: list[tuple[str, str]]) -> Validators:
        return cls(_header(headers, "etag"), _header(headers, "last-modified"))

    def __bool__(self) -> bool:
        return bool(self.etag or self.last_modified)

    def or_(self, earlier: Validators) -> Validators:
        """These, each missing one taken from ``earlier`` (a 304 need not repeat them)."""
        return Validators(self.etag or earlier.etag,
                          self.last_modified or earlier.last_modified)

    def columns(self) -> dict[str, str | None]:
        """The ``captures`` columns that hold them."""
        return {"etag": self.etag, "last_modified": self.last_modified}


@dataclass(frozen=True)
class Revalidation:
    """The latest usable capture of a URL: its validators and the ``response`` record a
    304 answer refers to (its payload digest is the one the 304's capture row carries)."""

    validators: Validators
    original: RevisitTarget  # a capture of status REVALIDATED_STATUS

    def request_headers(self) -> dict[str, str]:
        """``If-None-Match`` and ``If-Modified-Since`` with the validators as received (RFC
        9110 13.1.3: the ``Last-Modified`` value, unchanged)."""
        headers = {}
        if self.validators.etag:
            headers["If-None-Match"] = self.validators.etag
        if self.validators.last_modified:
            headers["If-Modified-Since"] = self.validators.last_modified
        return headers


_C = Capture.__table__.c
_LATEST_USABLE = (
    select(_C.url, _C.timestamp, _C.record_id, _C.record_type, _C.payload_digest, _C.etag,
           _C.last_modified)
    .where(_C.surt == bindparam("surt"), _C.status == REVALIDATED_STATUS,
           _C.record_type.in_(("response", "revisit")), _C.truncated.is_(None))
    .order_by(_C.timestamp.desc(), _C.id.desc()).limit(1))
_ORIGINAL = Capture.revisit_original(bindparam("surt"), bindparam("digest"), bindparam("at")
                                     ).with_only_columns(_C.url, _C.timestamp, _C.record_id,
                                                         _C.payload_digest)
_HOST_ARCHIVED = select(_C.id).where(_C.surt >= bindparam("start"),
                                     _C.surt < bindparam("end")).limit(1)


def latest_revalidation(connection: Connection, url: str) -> Revalidation | None:
    """What a conditional request for ``url`` needs, from its latest usable capture (one
    probe of ``ix_captures_surt_timestamp``, a second for a revisit's original); None when
    that capture has no validators or its payload cannot be found."""
    key = surt_key(url)
    row: Any = connection.execute(_LATEST_USABLE, {"surt": key}).first()
    if row is None or not row.payload_digest:
        return None
    validators = Validators(row.etag, row.last_modified)
    if not validators:
        return None
    original: Any = row
    if row.record_type == "revisit":
        original = connection.execute(_ORIGINAL, {
            "surt": key, "digest": row.payload_digest, "at": row.timestamp}).first()
        if original is None:
            return None
    return Revalidation(validators, RevisitTarget(
        original.url, timestamp_to_datetime(original.timestamp).replace(tzinfo=UTC),
        original.record_id, original.payload_digest))


def host_archived(connection: Connection, key: str) -> bool:
    """Whether any capture of the host of the SURT key ``key`` exists (one index probe): a
    host never archived before has nothing to revisit or revalidate."""
    host = key.split(")/", 1)[0]
    return connection.execute(_HOST_ARCHIVED, {"start": host + ")/", "end": host + "*"}
                              ).first() is not None
