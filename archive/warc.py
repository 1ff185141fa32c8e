"""Rolling WARC/1.1 writer: one gzip member per record, spooled ``.open`` files, CDXJ per file.

Each exchange becomes a ``response`` record (body bytes as received, still content-encoded,
``Transfer-Encoding`` dropped because the body is already de-chunked) and a ``request``
record linked by ``WARC-Concurrent-To`` with the same ``WARC-Date``. A ``metadata`` record
(JSON) can refer to a response. An exchange whose payload equals an earlier capture can be
written as a ``revisit`` record instead (identical-payload-digest profile: the new HTTP
headers, no payload, ``WARC-Refers-To-Target-URI``/``-Date``/``WARC-Refers-To``). Files roll
over by size and by age; a file is written as ``NAME.warc.gz.open`` and renamed only when
complete, with its sorted CDXJ beside it.

Record ids and dates come from :meth:`WarcWriter.new_record_id` and :meth:`WarcWriter.now`
so tests can override them and compare golden output.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from time import monotonic
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date, datetime_to_timestamp
from warcio.warcwriter import WARCWriter
from zlib_ng import zlib_ng

from archive.cdxj import REVISIT_MIME, CdxjEntry, mime_of, write_cdxj

OPEN_SUFFIX = ".open"
DROPPED_RESPONSE_HEADERS = frozenset({"transfer-encoding"})


def warc_date(date: datetime) -> str:
    """WARC/1.1 date with microseconds (``2026-11-03T14:00:00.123456Z``)."""
    return datetime_to_iso_date(date.astimezone(UTC).replace(tzinfo=None), use_micros=True)


def payload_digest(body: bytes) -> str:
    """``WARC-Payload-Digest`` of an HTTP body as warcio writes it (``sha1:`` + base32)."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


@dataclass(frozen=True)
class HttpExchange:
    """One HTTP request/response as it went over the wire (body still content-encoded)."""

    url: str
    method: str
    request_headers: list[tuple[str, str]]
    status: int
    reason: str
    response_headers: list[tuple[str, str]]
    body: bytes
    request_body: bytes = b""
    http_version: str = "HTTP/1.1"
    ip_address: str | None = None
    truncated: str | None = None  # WARC-Truncated reason, e.g. "length"

    @property
    def mime(self) -> str:
        return mime_of(next((value for name, value in self.response_headers
                             if name.lower() == "content-type"), None))


@dataclass(frozen=True)
class WrittenRecord:
    """Where a record landed: enough to read it back with one ranged read."""

    record_id: str
    record_type: str
    target_uri: str
    date: datetime
    filename: str
    offset: int
    length: int
    payload_digest: str | None = None

    @property
    def timestamp(self) -> str:
        return datetime_to_timestamp(self.date.astimezone(UTC))


@dataclass(frozen=True)
class RevisitTarget:
    """The earlier ``response`` record whose payload a revisit record stands for."""

    uri: str
    date: datetime
    record_id: str
    payload_digest: str


@dataclass(frozen=True)
class ClosedWarc:
    """A complete WARC in the spool, ready to upload."""

    path: Path
    cdxj_path: Path
    size: int
    sha256: str
    records: int

    @property
    def filename(self) -> str:
        return self.path.name


# Metadata records are about a page but are not the page: pywb and warcio's indexers index
# every record by its WARC-Target-URI, so a page URL there would make `id_` replay of that
# second serve the JSON. A `urn:` target (as Browsertrix's `urn:pageinfo:`) keeps them apart.
METADATA_URI_PREFIX = "urn:metadata:"


class _HashingFile:
    """File wrapper that counts and hashes every byte written (SHA-256 while writing)."""

    def __init__(self, raw: io.BufferedWriter) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.raw.write(data)
        self.sha256.update(data)
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.raw.flush()


@dataclass
class _OpenWarc:
    path: Path
    out: _HashingFile
    opened_at: float
    records: int = 0
    index: list[CdxjEntry] = field(default_factory=list)

    @property
    def filename(self) -> str:
        return self.path.name.removesuffix(OPEN_SUFFIX)


class WarcWriter:
    """Writes exchanges to rolling ``.warc.gz`` files in ``spool_dir``.

    ``on_open(filename)`` and ``on_close(ClosedWarc)`` let the caller record files in a
    catalog and upload them; the writer itself knows nothing about either.
    """

    def __init__(
        self,
        spool_dir: Path,
        *,
        prefix: str = "newsarchive",
        max_size: int = 1024**3,
        max_age: float = 900.0,
        gzip_level: int = 6,
        warcinfo: dict[str, str] | None = None,
        on_open: Callable[[str], None] | None = None,
        on_close: Callable[[ClosedWarc], None] | None = None,
    ) -> None:
        self.spool_dir = Path(spool_dir)
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.max_size = max_size
        self.max_age = max_age
        self.gzip_level = gzip_level
        # warcio builds records and digests; we compress each one as its own gzip member
        # (warcio's own wrapper is fixed at level 9, several times slower than 6).
        self._buffer = io.BytesIO()
        self._records = WARCWriter(self._buffer, gzip=False, warc_version="WARC/1.1")
        self.warcinfo = warcinfo or {"software": "newsarchive"}
        self.on_open = on_open
        self.on_close = on_close
        self._serial = 0
        self._current: _OpenWarc | None = None

    # -- overridable for deterministic output -------------------------------------------
    def new_record_id(self) -> str:
        return f"<urn:uuid:{uuid.uuid4()}>"

    def now(self) -> datetime:
        return datetime.now(UTC)

    def new_filename(self) -> str:
        stamp = self.now().strftime("%Y%m%d%H%M%S%f")[:17]
        host = socket.gethostname().replace("~", "-")
        return f"{self.prefix}-{stamp}-{self._serial:05d}-{os.getpid()}~{host}.warc.gz"

    # -- public API -----------------------------------------------------------------------
    @property
    def current_filename(self) -> str | None:
        return self._current.filename if self._current else None

    def write_exchange(self, exchange: HttpExchange) -> tuple[WrittenRecord, WrittenRecord]:
        """Write the response and its request record; returns (response, request)."""
        warc = self._writable()
        date = self.now()
        response_id = self.new_record_id()
        response = self._records.create_warc_record(
            exchange.url, "response", payload=io.BytesIO(exchange.body),
            length=len(exchange.body), http_headers=self._response_headers(exchange),
            warc_headers_dict=self._exchange_headers(exchange, response_id, date),
        )
        written_response = self._write(warc, response, date)
        warc.index.append(CdxjEntry.for_response(written_response, mime=exchange.mime,
                                                 status=exchange.status))
        return written_response, self._write_request(warc, exchange, response_id, date)

    def write_revisit(self, exchange: HttpExchange,
                      target: RevisitTarget) -> tuple[WrittenRecord, WrittenRecord]:
        """Write ``exchange`` as a revisit of ``target`` (same payload digest) and its request
        record; returns (revisit, request). The CDXJ line has the mime ``warc/revisit``."""
        warc = self._writable()
        date = self.now()
        revisit_id = self.new_record_id()
        headers = self._exchange_headers(exchange, revisit_id, date)
        headers["WARC-Refers-To"] = target.record_id
        revisit = self._records.create_revisit_record(
            exchange.url, target.payload_digest, target.uri, warc_date(target.date),
            http_headers=self._response_headers(exchange), warc_headers_dict=headers,
        )
        written = self._write(warc, revisit, date)
        warc.index.append(CdxjEntry.for_response(written, mime=REVISIT_MIME,
                                                 status=exchange.status))
        return written, self._write_request(warc, exchange, revisit_id, date)

    def _write_request(self, warc: _OpenWarc, exchange: HttpExchange, concurrent_to: str,
                       date: datetime) -> WrittenRecord:
        request = self._records.create_warc_record(
            exchange.url, "request", payload=io.BytesIO(exchange.request_body),
            length=len(exchange.request_body),
            http_headers=self._request_headers(exchange),
            warc_headers_dict={
                "WARC-Record-ID": self.new_record_id(), "WARC-Date": warc_date(date),
                "WARC-Concurrent-To": concurrent_to,
            },
        )
        return self._write(warc, request, date)

    def write_metadata(self, refers_to: WrittenRecord, payload: dict[str, object]) -> WrittenRecord:
        """Write a JSON ``metadata`` record about the response ``refers_to``."""
        warc = self._current or self._open()
        date = self.now()
        data = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
        record = self._records.create_warc_record(
            METADATA_URI_PREFIX + refers_to.target_uri, "metadata", payload=io.BytesIO(data),
            length=len(data),
            warc_content_type="application/json",
            warc_headers_dict={
                "WARC-Record-ID": self.new_record_id(),
                "WARC-Date": warc_date(date),
                "WARC-Refers-To": refers_to.record_id,
            },
        )
        return self._write(warc, record, date)

    def flush(self) -> None:
        """Push written records to the OS, so readers of the ``.open`` file see them."""
        if self._current is not None:
            self._current.out.flush()

    def roll_if_due(self) -> ClosedWarc | None:
        """Close the current file if it is over the size or age limit."""
        warc = self._current
        if warc and (warc.out.size >= self.max_size
                     or monotonic() - warc.opened_at >= self.max_age):
            return self.close()
        return None

    def close(self) -> ClosedWarc | None:
        """Finish the current file: fsync, write its CDXJ, rename it into place."""
        warc, self._current = self._current, None
        if warc is None:
            return None
        warc.out.flush()
        os.fsync(warc.out.raw.fileno())
        warc.out.raw.close()
        final = warc.path.with_name(warc.filename)
        cdxj_path = final.with_name(final.name + ".cdxj")
        write_cdxj(cdxj_path, warc.index)
        os.replace(warc.path, final)
        closed = ClosedWarc(path=final, cdxj_path=cdxj_path, size=warc.out.size,
                            sha256=warc.out.sha256.hexdigest(), records=warc.records)
        if self.on_close:
            self.on_close(closed)
        return closed

    # -- internals ------------------------------------------------------------------------
    def _writable(self) -> _OpenWarc:
        self.roll_if_due()
        return self._current or self._open()

    def _open(self) -> _OpenWarc:
        self._serial += 1
        filename = self.new_filename()
        path = self.spool_dir / (filename + OPEN_SUFFIX)
        out = _HashingFile(path.open("xb"))
        warc = _OpenWarc(path=path, out=out, opened_at=monotonic())
        self._current = warc
        date = self.now()
        info = self._records.create_warcinfo_record(filename, self.warcinfo)
        info.rec_headers.replace_header("WARC-Record-ID", self.new_record_id())
        info.rec_headers.replace_header("WARC-Date", warc_date(date))
        self._write(warc, info, date)
        if self.on_open:
            self.on_open(filename)
        return warc

    def _write(self, warc: _OpenWarc, record: object, date: datetime) -> WrittenRecord:
        offset = warc.out.size
        self._buffer.seek(0)
        self._buffer.truncate()
        self._records.write_record(record)
        # zlib-ng writes the same gzip format as zlib, about twice as fast at the same level.
        compressor = zlib_ng.compressobj(self.gzip_level, zlib_ng.DEFLATED,
                                         zlib_ng.MAX_WBITS + 16)
        warc.out.write(compressor.compress(self._buffer.getbuffer()) + compressor.flush())
        warc.records += 1
        headers = record.rec_headers  # type: ignore[attr-defined]
        return WrittenRecord(
            record_id=headers.get_header("WARC-Record-ID"),
            record_type=headers.get_header("WARC-Type"),
            target_uri=headers.get_header("WARC-Target-URI") or "",
            date=date,
            filename=warc.filename,
            offset=offset,
            length=warc.out.size - offset,
            payload_digest=headers.get_header("WARC-Payload-Digest"),
        )

    @staticmethod
    def _exchange_headers(exchange: HttpExchange, record_id: str,
                          date: datetime) -> dict[str, str]:
        headers = {"WARC-Record-ID": record_id, "WARC-Date": warc_date(date)}
        if exchange.ip_address:
            headers["WARC-IP-Address"] = exchange.ip_address
        if exchange.truncated:
            headers["WARC-Truncated"] = exchange.truncated
        return headers

    @staticmethod
    def _response_headers(exchange: HttpExchange) -> StatusAndHeaders:
        return StatusAndHeaders(
            f"{exchange.status} {exchange.reason}".strip(),
            [(k, v) for k, v in exchange.response_headers
             if k.lower() not in DROPPED_RESPONSE_HEADERS],
            protocol=exchange.http_version,
        )

    @staticmethod
    def _request_headers(exchange: HttpExchange) -> StatusAndHeaders:
        parts = urlsplit(exchange.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = list(exchange.request_headers)
        if not any(k.lower() == "host" for k, _ in headers):
            headers.insert(0, ("Host", parts.netloc))
        return StatusAndHeaders(f"{exchange.method} {target} {exchange.http_version}",
                                headers, is_http_request=True)
