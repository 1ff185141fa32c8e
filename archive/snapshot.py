"""Snapshot lookup: find the capture of a URL closest to a time and read its record back.

A record is read with one ranged read (offset and length from the catalog), from storage
once the file is uploaded and from the local spool before that.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload
from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import timestamp_to_datetime

from archive.archiver import spool_path
from archive.cdxj import surt_key
from archive.models import Capture, WarcState
from archive.storage import Storage, StorageError


class SnapshotNotFound(LookupError):
    """No capture matches; the message says what was looked for."""


@dataclass(frozen=True)
class Snapshot:
    capture: Capture
    warc_headers: StatusAndHeaders
    http_headers: StatusAndHeaders
    raw_body: bytes  # as archived (content-encoded)
    body: bytes  # Content-Encoding decoded

    @property
    def status_line(self) -> str:
        return f"{self.http_headers.protocol} {self.http_headers.statusline}"


def normalize_timestamp(value: str) -> str:
    """Accept 1-14 digits (``2026``, ``20261103``) or ISO 8601; return 14 digits."""
    text = value.strip()
    if text.isdigit():
        if len(text) > 14:
            raise ValueError(f"timestamp {value!r} has {len(text)} digits; use at most 14")
        return timestamp_to_datetime(text).strftime("%Y%m%d%H%M%S")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"timestamp {value!r} is neither 1-14 digits (YYYYMMDDhhmmss) nor ISO 8601"
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed.strftime("%Y%m%d%H%M%S")


def list_captures(session: Session, url: str, limit: int | None = None) -> list[Capture]:
    query = (select(Capture).where(Capture.surt == surt_key(url))
             .order_by(Capture.timestamp, Capture.id).options(joinedload(Capture.warc_file)))
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query))


def closest_capture(session: Session, url: str, at: str | None = None) -> Capture:
    """The capture of ``url`` nearest to ``at`` (14-digit timestamp); latest when None."""
    key = surt_key(url)
    base = select(Capture).where(Capture.surt == key).options(joinedload(Capture.warc_file))
    if at is None:
        found = session.scalars(base.order_by(Capture.timestamp.desc(), Capture.id.desc())).first()
    else:
        before = session.scalars(base.where(Capture.timestamp <= at)
                                 .order_by(Capture.timestamp.desc(), Capture.id.desc())).first()
        after = session.scalars(base.where(Capture.timestamp > at)
                                .order_by(Capture.timestamp, Capture.id)).first()
        found = _nearer(before, after, at)
    if found is None:
        raise SnapshotNotFound(f"no capture of {url} in the archive (SURT key {key})")
    return found


def _nearer(before: Capture | None, after: Capture | None, at: str) -> Capture | None:
    if before is None or after is None:
        return before or after
    target = timestamp_to_datetime(at)
    gap_before = target - timestamp_to_datetime(before.timestamp)
    gap_after = timestamp_to_datetime(after.timestamp) - target
    return before if gap_before <= gap_after else after


def read_record_bytes(capture: Capture, storage: Storage, spool_dir: Path) -> bytes:
    warc = capture.warc_file
    if warc.state == WarcState.UPLOADED and warc.storage_key:
        return storage.read_range(warc.storage_key, capture.offset, capture.length)
    local = spool_path(spool_dir, warc.filename)
    if local is None:
        raise StorageError(
            f"{warc.filename} is not uploaded and not in the spool {spool_dir}; "
            "run `newsarchive storage status` to find it"
        )
    with local.open("rb") as f:
        f.seek(capture.offset)
        return f.read(capture.length)


def parse_record(data: bytes) -> ArcWarcRecord:
    for record in ArchiveIterator(io.BytesIO(data)):
        return record
    raise StorageError("no WARC record at the catalogued offset")


def load_snapshot(capture: Capture, storage: Storage, spool_dir: Path) -> Snapshot:
    data = read_record_bytes(capture, storage, spool_dir)
    raw_record = parse_record(data)
    raw_body = raw_record.raw_stream.read()
    record = parse_record(data)  # second pass: warcio decodes Content-Encoding for us
    body = record.content_stream().read()
    return Snapshot(capture=capture, warc_headers=record.rec_headers,
                    http_headers=record.http_headers, raw_body=raw_body, body=body)
