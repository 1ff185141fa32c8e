"""Snapshot lookup: find the capture of a URL closest to a time and read its record back.

The closest capture is one indexed catalog query (``ix_captures_surt_timestamp``), a Core
statement built once and returning a light :class:`CaptureRef` (no ORM object); a record
is read with one ranged read (offset and length from the catalog), from storage once the
file is uploaded and from the local spool before that, and decompressed in one call.

Partial timestamps mean the end of the period (``2026`` is 2026-12-31 23:59:59), which is
what pywb does: its ``closest`` sort pads with warcio's ``timestamp_to_sec``.
"""

from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    bindparam,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session, joinedload
from warcio.recordloader import ArchiveLoadFailed, ArcWarcRecord, ArcWarcRecordLoader
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParserException
from warcio.timeutils import timestamp_to_datetime

from archive.cdxj import surt_key
from archive.encoding import decode_body, remove_transfer_coding
from archive.layout import spool_path
from archive.models import Article, Capture, WarcFile, WarcState
from archive.storage import Storage, StorageError

GZIP_MAGIC = b"\x1f\x8b"
_HEADERS_END = re.compile(rb"\r?\n\r?\n")  # the blank line after an HTTP header block
# As ArchiveIterator configures it (any HTTP status line, e.g. "HTTP/2 200", and no ARC
# conversion); stateless between records: shared by every thread.
_LOADER = ArcWarcRecordLoader(verify_http=False, arc2warc=False)


class SnapshotNotFound(LookupError):
    """No capture matches; the message says what was looked for, ``url`` the URL."""

    def __init__(self, message: str, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


@dataclass(frozen=True, slots=True)
class WarcLocation:
    """Where a capture's WARC file is: in storage (``storage_key``) once uploaded."""

    filename: str
    storage_key: str | None
    state: str


@dataclass(frozen=True, slots=True)
class CaptureRef:
    """A capture's catalog row and its WARC file, as lookups return it: the attributes of
    :class:`~archive.models.Capture` that replay needs, without an ORM object."""

    id: int
    job_id: int | None
    url: str
    surt: str
    timestamp: str
    status: int
    mime: str
    payload_digest: str | None
    record_type: str
    record_id: str
    offset: int
    length: int
    truncated: str | None
    warc_file: WarcLocation


AnyCapture = Capture | CaptureRef


@dataclass(frozen=True)
class Snapshot:
    capture: AnyCapture
    warc_headers: StatusAndHeaders
    http_headers: StatusAndHeaders
    raw_body: bytes  # as archived (content-encoded)
    content_encoding: str | None

    @cached_property
    def body(self) -> bytes:
        """``raw_body`` with its Content-Encoding removed; :class:`UndecodableBody` if its
        bytes are not in that coding."""
        return decode_body(self.raw_body, self.content_encoding)

    @property
    def status_line(self) -> str:
        return f"{self.http_headers.protocol} {self.http_headers.statusline}"


_FIELDS = ((4, "%Y"), (6, "%Y%m"), (8, "%Y%m%d"), (10, "%Y%m%d%H"), (12, "%Y%m%d%H%M"),
           (14, "%Y%m%d%H%M%S"))


def normalize_timestamp(value: str) -> str:
    """Accept 1-14 digits (``2026``, ``20261103``) or ISO 8601; return 14 digits.

    Missing digits pad to the end of the period, as pywb and warcio do."""
    text = value.strip()
    if text.isdigit():
        if len(text) > 14:
            raise ValueError(f"timestamp {value!r} has {len(text)} digits; use at most 14")
        complete = max((n, fmt) for n, fmt in _FIELDS if n <= max(len(text), 4))
        try:
            datetime.strptime(text[:complete[0]].ljust(4, "0"), complete[1])
        except ValueError:
            raise ValueError(f"timestamp {value!r} is not a date: month 01-12, day of the "
                             "month, hour 00-23, minute and second 00-59 (YYYYMMDDhhmmss)"
                             ) from None
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


_CAPTURES = Capture.__table__
_WARCS = WarcFile.__table__
_REF_COLUMNS = ([_CAPTURES.c[f.name] for f in fields(CaptureRef) if f.name != "warc_file"]
                + [_WARCS.c[f.name] for f in fields(WarcLocation)])
_WARC_AT = len(_REF_COLUMNS) - len(fields(WarcLocation))  # where the WARC columns start


def _nearest(condition: ColumnElement[bool], *order: ColumnElement[Any]) -> Select[Any]:
    """The first capture of the SURT key ``:surt`` meeting ``condition`` in ``order``, with
    its WARC file: one probe of ``ix_captures_surt_timestamp``."""
    return (select(*_REF_COLUMNS)
            .join_from(_CAPTURES, _WARCS, _CAPTURES.c.warc_file_id == _WARCS.c.id)
            .where(_CAPTURES.c.surt == bindparam("surt"), condition)
            .order_by(*order).limit(1))


_NEWEST_FIRST = (_CAPTURES.c.timestamp.desc(), _CAPTURES.c.id.desc())
_LATEST = _nearest(true(), *_NEWEST_FIRST)
_AROUND = union_all(  # the last capture at or before :at and the first one after it
    select(_nearest(_CAPTURES.c.timestamp <= bindparam("at"), *_NEWEST_FIRST).subquery()),
    select(_nearest(_CAPTURES.c.timestamp > bindparam("at"),
                    _CAPTURES.c.timestamp, _CAPTURES.c.id).subquery()))


def _capture_ref(row: Row[Any]) -> CaptureRef:
    return CaptureRef(*row[:_WARC_AT], warc_file=WarcLocation(*row[_WARC_AT:]))


def closest_capture(session: Session, url: str, at: str | None = None) -> CaptureRef:
    """The capture of ``url`` nearest to ``at`` (14-digit timestamp); latest when None.

    One query on the session's connection: the last capture at or before ``at`` and the
    first after it (UNION ALL of two index probes); a tie goes to the earlier one."""
    key = surt_key(url)
    conn = session.connection()
    if at is None:
        row = conn.execute(_LATEST, {"surt": key}).first()
        found = _capture_ref(row) if row is not None else None
    else:
        rows = [_capture_ref(r) for r in conn.execute(_AROUND, {"surt": key, "at": at})]
        found = _nearer(next((c for c in rows if c.timestamp <= at), None),
                        next((c for c in rows if c.timestamp > at), None), at)
    if found is None:
        raise SnapshotNotFound(f"no capture of {url} in the archive (SURT key {key})", url)
    return found


def article_of(session: Session, capture: AnyCapture) -> Article | None:
    """The article extracted from ``capture`` itself, if any."""
    return session.scalar(select(Article).where(Article.capture_id == capture.id))


def neighbours(session: Session,
               capture: AnyCapture) -> tuple[Capture | None, Capture | None]:
    """The captures of the same URL just before and just after ``capture``."""
    here = tuple_(Capture.timestamp, Capture.id)
    mark = tuple_(capture.timestamp, capture.id)
    same = select(Capture).where(Capture.surt == capture.surt)
    previous = session.scalars(same.where(here < mark).limit(1)
                               .order_by(Capture.timestamp.desc(), Capture.id.desc())).first()
    following = session.scalars(same.where(here > mark).limit(1)
                                .order_by(Capture.timestamp, Capture.id)).first()
    return previous, following


def first_and_last(session: Session, capture: AnyCapture) -> tuple[Capture, Capture]:
    """The first and the last capture of ``capture``'s URL (two index probes)."""
    same = select(Capture).where(Capture.surt == capture.surt).limit(1)
    first = session.scalars(same.order_by(Capture.timestamp, Capture.id)).one()
    last = session.scalars(same.order_by(Capture.timestamp.desc(), Capture.id.desc())).one()
    return first, last


def revisit_original(session: Session, revisit: AnyCapture) -> Capture:
    """The ``response`` capture holding a revisit's payload: the latest one with the same
    SURT key and payload digest at or before the revisit."""
    found = session.scalars(
        Capture.revisit_original(revisit.surt, revisit.payload_digest, revisit.timestamp)
        .options(joinedload(Capture.warc_file))).first()
    if found is None:
        raise SnapshotNotFound(
            f"the revisit of {revisit.url} at {revisit.timestamp} refers to a payload "
            f"({revisit.payload_digest}) that no earlier response capture holds", revisit.url)
    return found


def _nearer(before: CaptureRef | None, after: CaptureRef | None,
            at: str) -> CaptureRef | None:
    if before is None or after is None:
        return before or after
    target = timestamp_to_datetime(at)
    gap_before = target - timestamp_to_datetime(before.timestamp)
    gap_after = timestamp_to_datetime(after.timestamp) - target
    return before if gap_before <= gap_after else after


def read_record_bytes(capture: AnyCapture, storage: Storage, spool_dir: Path,
                      limit: int | None = None) -> bytes:
    """``capture``'s record as catalogued (one gzip member, or uncompressed), or only its
    first ``limit`` bytes (for :func:`parse_record_start`)."""
    warc = capture.warc_file
    length = capture.length if limit is None else min(limit, capture.length)
    if warc.state == WarcState.UPLOADED and warc.storage_key:
        return storage.read_range(warc.storage_key, capture.offset, length)
    if warc.state == WarcState.DAMAGED and warc.storage_key:
        try:  # the intact records of a damaged object still read
            data = storage.read_range(warc.storage_key, capture.offset, length)
            if limit is None:
                parse_record(data)
            else:
                parse_record_start(data, limit)
        except StorageError as exc:
            raise StorageError(f"{warc.filename} is damaged in storage and this record is "
                               f"not intact ({exc}); `newsarchive storage verify` reports "
                               "it") from None
        return data
    local = spool_path(spool_dir, warc.filename)
    if local is None:
        raise StorageError(
            f"{warc.filename} is not uploaded and not in the spool {spool_dir}; "
            "run `newsarchive storage status` to find it"
        )
    with local.open("rb") as f:
        f.seek(capture.offset)
        return f.read(length)


def parse_record(data: bytes) -> ArcWarcRecord:
    """The WARC record in ``data`` (as catalogued: one gzip member, or uncompressed),
    decompressed in one call and parsed by warcio's record loader, as its
    ``ArchiveIterator`` would."""
    if not data:
        raise StorageError("no WARC record at the catalogued offset")
    if data.startswith(GZIP_MAGIC):
        try:
            data = zlib.decompress(data, wbits=31)  # a gzip member (trailing bytes ignored)
        except zlib.error as exc:
            raise StorageError(f"the record at the catalogued offset is not valid gzip: "
                               f"{exc}") from None
    return _load(data)


def parse_record_start(data: bytes, limit: int) -> ArcWarcRecord:
    """The WARC record that ``data`` begins (the first bytes of a record as catalogued), with
    at most ``limit`` bytes decompressed: its WARC and HTTP headers whole, and as much of its
    payload as those bytes hold (``raw_stream``). A StorageError when the headers do not
    end within them."""
    if data.startswith(GZIP_MAGIC):
        try:  # a prefix of a gzip member decompresses as far as it goes
            data = zlib.decompressobj(wbits=31).decompress(data, limit)
        except zlib.error as exc:
            raise StorageError(f"the record at the catalogued offset is not valid gzip: "
                               f"{exc}") from None
    data = data[:limit]
    warc_headers_end = data.find(b"\r\n\r\n")
    record = _load(data)
    if warc_headers_end < 0 or (record.http_headers is not None and _HEADERS_END.search(
            data, warc_headers_end + 4) is None):
        raise StorageError(f"the headers of the record at the catalogued offset are longer "
                           f"than the {len(data)} bytes read")
    return record


def _load(data: bytes) -> ArcWarcRecord:
    if not data.startswith(b"WARC/"):
        raise StorageError("no WARC record at the catalogued offset")
    try:
        return _LOADER.parse_record_stream(io.BytesIO(data))
    # AttributeError: warcio's loader on a response record without WARC-Target-URI
    except (EOFError, ValueError, AttributeError, ArchiveLoadFailed,
            StatusAndHeadersParserException) as exc:
        raise StorageError(f"the WARC record at the catalogued offset cannot be read: "
                           f"{exc!r}") from None


@dataclass(frozen=True)
class CaptureRecords:
    """What replaying a capture needs: its own record (WARC headers), the HTTP response
    headers, the record holding the payload (the capture's, or a revisit's original) and
    that payload as archived (de-chunked, still content-encoded)."""

    record: ArcWarcRecord  # its payload stream has been read: use raw_payload
    http_headers: StatusAndHeaders
    source: AnyCapture
    payload_source: ArcWarcRecord  # the record holding the payload (stream read too)
    raw_payload: bytes

    @property
    def content_encoding(self) -> str | None:
        """The Content-Encoding of the payload, as its own record's headers name it."""
        headers = self.payload_source.http_headers
        return headers.get_header("Content-Encoding") if headers else None

    def decoded_payload(self) -> bytes:
        """``raw_payload`` with its Content-Encoding removed (:mod:`archive.encoding`);
        :class:`~archive.encoding.UndecodableBody` if its bytes are not in that coding."""
        return decode_body(self.raw_payload, self.content_encoding)


def read_capture_records(capture: AnyCapture, storage: Storage, spool_dir: Path,
                         session: Session | None = None) -> CaptureRecords:
    """One ranged read of ``capture``'s record; for a revisit, a second of its original's
    (found with ``session``, by default an ORM capture's own). A revisit's HTTP headers are
    its own when it has a header block, else the original's; a server-not-modified
    revisit's are always the original's (ours have no block; one that holds the 304 said
    "what you have is current": replay answers with what the reader had). Each record is
    parsed once."""
    data = read_record_bytes(capture, storage, spool_dir)
    record = parse_record(data)
    headers = record.http_headers
    source, payload_record = capture, record
    if capture.record_type == "revisit":
        if session is None and isinstance(capture, Capture):
            session = Session.object_session(capture)
        if session is None:
            raise SnapshotNotFound(f"the revisit of {capture.url} at {capture.timestamp} "
                                   "needs a catalog session to find its original")
        # Also for a revisit of a 3xx (written by other tools; ours are whole): pywb replays
        # an empty body there, we the original's payload, which the digest says is the same.
        source = revisit_original(session, capture)
        payload_record = parse_record(read_record_bytes(source, storage, spool_dir))
        if headers is None or not headers.statusline or headers.get_statuscode() == "304":
            headers = payload_record.http_headers
    if headers is None:
        raise StorageError(f"the {capture.record_type} record {capture.record_id} has no "
                           "HTTP response headers")
    payload_headers = payload_record.http_headers
    return CaptureRecords(record=record, http_headers=headers, source=source,
                          payload_source=payload_record,
                          raw_payload=remove_transfer_coding(
                              payload_record.raw_stream.read(),
                              payload_headers.get_header("Transfer-Encoding")
                              if payload_headers else None))


def load_snapshot(capture: AnyCapture, storage: Storage, spool_dir: Path,
                  session: Session | None = None) -> Snapshot:
    """The capture's headers and body (a revisit's from its original, found with
    ``session``), read whole."""
    records = read_capture_records(capture, storage, spool_dir, session)
    return Snapshot(capture=capture, warc_headers=records.record.rec_headers,
                    http_headers=records.http_headers, raw_body=records.raw_payload,
                    content_encoding=records.content_encoding)
