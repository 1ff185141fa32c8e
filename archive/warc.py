"""Rolling WARC/1.1 writer: one gzip member per record, spooled ``.open`` files, CDXJ per file.

Each exchange becomes a ``response`` record and a ``request`` record linked by
``WARC-Concurrent-To`` with the same ``WARC-Date``. With the exchange's wire bytes
(:class:`WireBytes`) each block is exactly what crossed the connection (a chunked body stays
chunked; the payload digest is of the de-chunked entity, WARC 1.1 6.3.2); an exchange built
without them (tests, tools) is serialised from its parsed headers, its body de-chunked and
``Transfer-Encoding`` dropped. A ``metadata`` record
(JSON) can refer to a response, and ``resource`` records (a screenshot, a rendered DOM) can
be written concurrent to one. An exchange whose payload equals an earlier capture can be
written as a ``revisit`` record instead (identical-payload-digest profile: the new HTTP
headers, no payload, ``WARC-Refers-To-Target-URI``/``-Date``/``WARC-Refers-To``); a
``304 Not Modified`` answering a conditional request is written as a ``revisit`` record too
(server-not-modified profile, :meth:`WarcWriter.write_not_modified`). Files roll
over by size and by age; a file is written as ``NAME.warc.gz.open`` and renamed only when
complete, with its sorted CDXJ beside it.

Record ids and dates come from :meth:`WarcWriter.new_record_id` and :meth:`WarcWriter.now`
so tests can override them and compare golden output.
"""

from __future__ import annotations

import hashlib
import heapq
import io
import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from time import monotonic
from urllib.parse import urlsplit

from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date, datetime_to_timestamp
from warcio.warcwriter import WARCWriter
from zlib_ng import zlib_ng

from archive.cdxj import REVISIT_MIME, CdxjEntry, mime_of, write_cdxj
from archive.layout import OPEN_SUFFIX, cdxj_path, open_path, warc_filename

WARC_VERSION = "WARC/1.1"
RESPONSE_CONTENT_TYPE = "application/http; msgtype=response"
REQUEST_CONTENT_TYPE = "application/http; msgtype=request"
# Level for records whose payload is already compressed (Content-Encoding, JPEG, ...): 0,
# stored deflate blocks. Deflate cannot shrink such bytes: on 300 real news pages served
# gzip, level 1 made records 4.7% *larger* than stored blocks and took 2.5x as long per
# exchange; level 6 saved 0.4% (the record's headers) for 4.5x the time.
STORED_GZIP_LEVEL = 0
_COMPRESSED_MIMES = frozenset({
    "image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "application/zip",
    "application/gzip", "application/pdf", "font/woff", "font/woff2"})
DROPPED_RESPONSE_HEADERS = frozenset({"transfer-encoding"})
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
NOT_MODIFIED_PROFILE = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
# Not in WARC 1.1: Browsertrix's extension field. Browsertrix writes it on every response
# ("document" for a page); this archive only on what a page fetched, so here its presence
# means "fetched for a page" (archive.recovery reads it so), its value what as.
RESOURCE_TYPE_HEADER = "WARC-Resource-Type"


def is_not_modified_profile(profile: str | None) -> bool:
    """Whether a revisit's ``WARC-Profile`` is server-not-modified (WARC 1.1, or 1.0 as its
    spec and its example record spell it)."""
    return bool(profile) and profile.rstrip("/").endswith("/server-not-modified")


def warc_date(date: datetime) -> str:
    """WARC/1.1 date with microseconds (``2026-11-03T14:00:00.123456Z``)."""
    return datetime_to_iso_date(date.astimezone(UTC).replace(tzinfo=None), use_micros=True)


_B32_PAIRS = [a + b for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
              for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"]  # every 10-bit group


def sha1_digest(*parts: bytes) -> str:
    """``sha1:`` + base32 of the SHA-1 of ``parts``, as warcio writes digests.

    A SHA-1 is 160 bits, 16 groups of 10: base32 without padding, and without the per-call
    cost of ``base64.b32encode`` (pure Python in 3.11), which hashing three records per page
    made visible in crawl profiles.
    """
    sha1 = hashlib.sha1()
    for part in parts:
        sha1.update(part)
    n = int.from_bytes(sha1.digest(), "big")
    return "sha1:" + "".join([_B32_PAIRS[(n >> shift) & 1023] for shift in range(150, -1, -10)])


def payload_digest(body: bytes) -> str:
    """``WARC-Payload-Digest`` of an HTTP body as warcio writes it (``sha1:`` + base32)."""
    return sha1_digest(body)


class _HttpHeaders(StatusAndHeaders):
    """HTTP headers serialised once, by warcio: the block digest and the record are both
    computed from that one buffer."""

    @property
    def buffer(self) -> bytes:
        if self.headers_buff is None:
            self.compute_headers_buffer()
        return self.headers_buff


@dataclass(frozen=True)
class WireBytes:
    """An exchange's bytes as they crossed the connection (after TLS, before parsing)."""

    request: bytes  # request line, header block and body, as written
    response_head: bytes  # status line and header block through the blank line, as read
    response_body: bytes  # the message body as read: still chunked if it was


@dataclass(frozen=True)
class HttpExchange:
    """One HTTP request/response (``body``: the entity body, de-chunked, still
    content-encoded). With ``wire``, the records hold those bytes as they crossed the
    connection; without, headers serialised from the parsed lists."""

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
    wire: WireBytes | None = None
    # Fetched for a page, not as one: what the page fetched it as, written as
    # WARC-Resource-Type (Browsertrix's field, which warc2zim reads; Chrome's names:
    # "stylesheet", "image", "font", "script", "media", "fetch", "document" for a frame...).
    resource_type: str | None = None

    @property
    def mime(self) -> str:
        return mime_of(next((value for name, value in self.response_headers
                             if name.lower() == "content-type"), None))


def _already_compressed(exchange: HttpExchange) -> bool:
    encoding = next((value for name, value in exchange.response_headers
                     if name.lower() == "content-encoding"), "identity").strip().lower()
    mime = exchange.mime
    return (encoding not in ("", "identity") or mime in _COMPRESSED_MIMES
            or mime.startswith(("video/", "audio/")))


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


@dataclass(frozen=True, slots=True)  # (one per URL a crawl archives, in Archiver._latest)
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
# The resource records of a page rendered in a browser, named as Browsertrix names its
# screenshots (`urn:view:`), and its rendered DOM.
SCREENSHOT_URI_PREFIX = "urn:view:"
DOM_URI_PREFIX = "urn:dom:"
SCREENSHOT_MIME = "image/png"
DOM_CONTENT_TYPE = "text/html; charset=utf-8"


def screenshot_uri(page_url: str) -> str:
    """The ``WARC-Target-URI`` (and catalog URL) of the screenshot of ``page_url``."""
    return SCREENSHOT_URI_PREFIX + page_url


def dom_uri(page_url: str) -> str:
    """The ``WARC-Target-URI`` (and catalog URL) of the rendered DOM of ``page_url``."""
    return DOM_URI_PREFIX + page_url


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


INDEX_BLOCK = 1000  # CDXJ lines of an open file deflated together


@dataclass
class _OpenWarc:
    path: Path
    out: _HashingFile
    opened_at: float
    records: int = 0
    # The CDXJ lines of its records, kept until the file is closed: for a crawl, every page
    # of its open file (100,000 and more). The latest lines as strings, older ones deflated
    # in blocks of INDEX_BLOCK lines (~300 bytes a line become ~40).
    index: list[str] = field(default_factory=list)
    index_blocks: list[bytes] = field(default_factory=list)
    filename: str = field(init=False)  # once, not one string per record

    def __post_init__(self) -> None:
        self.filename = self.path.name.removesuffix(OPEN_SUFFIX)

    def add_to_index(self, entry: CdxjEntry) -> None:
        self.index.append(entry.to_line())
        if len(self.index) >= INDEX_BLOCK:
            self.index.sort()
            self.index_blocks.append(zlib_ng.compress("".join(self.index).encode(), 1))
            self.index = []

    def sorted_index(self) -> Iterator[str]:
        """Every line added, in CDXJ order: the blocks (each sorted before it was deflated)
        merged, each inflated a piece at a time. Sorting the whole list at close held every
        line of the file at once: ~30 MB, the crawl's peak RSS at 100,000 pages."""
        return heapq.merge(*map(_inflated_lines, self.index_blocks), sorted(self.index))


def _inflated_lines(block: bytes, piece: int = 16384) -> Iterator[str]:
    """The lines of a deflated index block, inflating ``piece`` bytes at a time. (Splitting
    UTF-8 at b"\\n" is safe: no multi-byte sequence contains that byte.)"""
    inflater = zlib_ng.decompressobj()
    pending = b""
    while block:
        pending += inflater.decompress(block, piece)
        block = inflater.unconsumed_tail
        *lines, pending = pending.split(b"\n")
        yield from (line.decode() + "\n" for line in lines)
    *lines, _ = (pending + inflater.flush()).split(b"\n")  # (the last line ends in "\n")
    yield from (line.decode() + "\n" for line in lines)


class WarcWriter:
    """Writes exchanges to rolling ``.warc.gz`` files in ``spool_dir``.

    ``on_open(filename)`` and ``on_close(ClosedWarc)`` let the caller record files in a
    catalog and upload them; the writer itself knows nothing about either.

    A failure to write (a full or read-only disk) stops the writer for good: the
    :class:`OSError` is raised, kept in :attr:`failed` and raised again by every later
    write. The file being written stays ``.open`` in the spool as it is; spool recovery
    (:mod:`archive.recovery`) cuts it after its last complete record and catalogues the
    rest once its writer has exited.
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
        # warcio builds the warcinfo and revisit records (other records are framed by
        # _write_block); each record is compressed here as its own gzip member (warcio's own
        # wrapper is fixed at level 9, several times slower than 6).
        self._buffer = io.BytesIO()
        self._records = WARCWriter(self._buffer, gzip=False, warc_version=WARC_VERSION)
        self.warcinfo = warcinfo or {"software": "newsarchive"}
        self.on_open = on_open
        self.on_close = on_close
        self._serial = 0
        self._current: _OpenWarc | None = None
        self.failed: OSError | None = None

    # -- overridable for deterministic output -------------------------------------------
    def new_record_id(self) -> str:
        return f"<urn:uuid:{uuid.uuid4()}>"

    def now(self) -> datetime:
        return datetime.now(UTC)

    def new_filename(self) -> str:
        return warc_filename(self.prefix, self.now(), self._serial)

    # -- public API -----------------------------------------------------------------------
    @property
    def current_filename(self) -> str | None:
        return self._current.filename if self._current else None

    def write_exchange(self, exchange: HttpExchange, *, digest: str | None = None,
                       ) -> tuple[WrittenRecord, WrittenRecord]:
        """Write the response and its request record; returns (response, request).
        ``digest``: the body's payload digest, when the caller has computed it already."""
        warc = self._writable()
        date = self.now()
        response_id = self.new_record_id()
        head = self._response_head(exchange)
        body = exchange.wire.response_body if exchange.wire else exchange.body
        headers = self._exchange_headers(exchange, response_id, date)
        headers.update(self._digests(exchange.url, "response", head, body,
                                     digest or payload_digest(exchange.body)))
        level = STORED_GZIP_LEVEL if _already_compressed(exchange) else self.gzip_level
        written_response = self._write_block(warc, headers, RESPONSE_CONTENT_TYPE, date,
                                             head, body, level)
        warc.add_to_index(CdxjEntry.for_response(written_response, mime=exchange.mime,
                                                 status=exchange.status))
        return written_response, self._write_request(warc, exchange, response_id, date)

    def write_revisit(self, exchange: HttpExchange,
                      target: RevisitTarget) -> tuple[WrittenRecord, WrittenRecord]:
        """Write ``exchange`` as a revisit of ``target`` (same payload digest) and its request
        record; returns (revisit, request). The CDXJ line has the mime ``warc/revisit``."""
        warc = self._writable()
        date = self.now()
        revisit_id = self.new_record_id()
        head = self._response_head(exchange)
        headers = {
            **self._exchange_headers(exchange, revisit_id, date),
            **self._digests(exchange.url, "revisit", head, b"", target.payload_digest),
            "WARC-Profile": REVISIT_PROFILE,
            "WARC-Refers-To-Target-URI": target.uri,
            "WARC-Refers-To-Date": warc_date(target.date),
            "WARC-Refers-To": target.record_id,
        }
        written = self._write_block(warc, headers, RESPONSE_CONTENT_TYPE, date, head, b"")
        warc.add_to_index(CdxjEntry.for_response(written, mime=REVISIT_MIME,
                                                 status=exchange.status))
        return written, self._write_request(warc, exchange, revisit_id, date)

    def write_not_modified(self, exchange: HttpExchange, target: RevisitTarget,
                           ) -> tuple[WrittenRecord, WrittenRecord, WrittenRecord]:
        """Write ``exchange``, a ``304 Not Modified`` answering a conditional request for
        ``target``, as a revisit of it, with its request record and a record of the 304's
        head; returns (revisit, request, head).

        WARC 1.1, 6.7.3 "Profile: Server Not Modified": the profile is for "an assertion from
        the providing server that the content has not changed, such as an HTTP '304 Not
        Modified' response"; "the payload is defined as the original payload content from
        which a 'Last-Modified' and/or 'ETag' value was taken" (so ``WARC-Payload-Digest`` is
        ``target``'s); the record "may have no content body, in which case a Content-Length
        of zero shall be written"; ``WARC-Refers-To`` "is recommended". The block is left
        empty: a reader then replays the original's headers and payload (pywb uses a
        revisit's own HTTP headers whenever it has any, and would answer the 304 itself).
        The 304 as it crossed the connection (status line, headers, any bytes after them) is
        kept, byte for byte, in a ``metadata`` record concurrent to the revisit (6.6: "may be
        associated with other records derived from the same capture event using the
        WARC-Concurrent-To header"), typed ``application/http; msgtype=response``.
        """
        warc = self._writable()
        date = self.now()
        revisit_id = self.new_record_id()
        headers = {
            **self._exchange_headers(exchange, revisit_id, date),
            **self._digests(exchange.url, "revisit", b"", b"", target.payload_digest),
            "WARC-Profile": NOT_MODIFIED_PROFILE,
            "WARC-Refers-To-Target-URI": target.uri,
            "WARC-Refers-To-Date": warc_date(target.date),
            "WARC-Refers-To": target.record_id,
        }
        revisit = self._write_block(warc, headers, RESPONSE_CONTENT_TYPE, date, b"", b"")
        warc.add_to_index(CdxjEntry.for_response(revisit, mime=REVISIT_MIME,
                                                 status=exchange.status))
        request = self._write_request(warc, exchange, revisit_id, date)
        head = self._response_head(exchange)
        body = exchange.wire.response_body if exchange.wire else exchange.body
        digest = sha1_digest(head, body)
        head_headers = {"WARC-Record-ID": self.new_record_id(), "WARC-Date": warc_date(date)}
        if exchange.ip_address:
            head_headers["WARC-IP-Address"] = exchange.ip_address
        head_headers.update({
            "WARC-Concurrent-To": revisit_id, "WARC-Type": "metadata",
            "WARC-Target-URI": METADATA_URI_PREFIX + exchange.url,
            "WARC-Block-Digest": digest})
        answer = self._write_block(warc, head_headers, RESPONSE_CONTENT_TYPE, date, head, body)
        return revisit, request, answer

    def _write_request(self, warc: _OpenWarc, exchange: HttpExchange, concurrent_to: str,
                       date: datetime) -> WrittenRecord:
        if exchange.wire:  # head and body as written: the block is all of it
            head, body = b"", exchange.wire.request
        else:
            head, body = self._request_headers(exchange).buffer, exchange.request_body
        headers = {"WARC-Record-ID": self.new_record_id(), "WARC-Date": warc_date(date)}
        if exchange.ip_address:
            headers["WARC-IP-Address"] = exchange.ip_address
        headers["WARC-Concurrent-To"] = concurrent_to
        headers.update(self._digests(exchange.url, "request", head, body,
                                     payload_digest(exchange.request_body)))
        return self._write_block(warc, headers, REQUEST_CONTENT_TYPE, date, head, body)

    def write_metadata(self, refers_to: WrittenRecord, payload: dict[str, object]) -> WrittenRecord:
        """Write a JSON ``metadata`` record about the response ``refers_to``."""
        warc = self._current or self._open()
        date = self.now()
        data = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
        headers = self._payload_block_headers("metadata", METADATA_URI_PREFIX
                                              + refers_to.target_uri, date,
                                              ("WARC-Refers-To", refers_to.record_id), data)
        return self._write_block(warc, headers, "application/json", date, b"", data)

    def _payload_block_headers(self, record_type: str, uri: str, date: datetime,
                               link: tuple[str, str], block: bytes) -> dict[str, str]:
        """The headers of a record without HTTP headers (its block is its payload), linked
        to another record by ``link`` (a header name and a record id)."""
        digest = sha1_digest(block)
        return {"WARC-Record-ID": self.new_record_id(), "WARC-Date": warc_date(date),
                link[0]: link[1], "WARC-Type": record_type, "WARC-Target-URI": uri,
                "WARC-Payload-Digest": digest, "WARC-Block-Digest": digest}

    def write_resource(self, concurrent_to: WrittenRecord, uri: str, content_type: str,
                       payload: bytes) -> WrittenRecord:
        """Write a ``resource`` record (no HTTP headers: the block is ``payload``) made
        while capturing the response ``concurrent_to``, e.g. a screenshot of the page;
        indexed in the CDXJ under ``uri`` without a status, as pywb indexes resources."""
        warc = self._writable()
        date = self.now()
        headers = self._payload_block_headers(
            "resource", uri, date, ("WARC-Concurrent-To", concurrent_to.record_id), payload)
        mime = mime_of(content_type)
        level = STORED_GZIP_LEVEL if mime in _COMPRESSED_MIMES else None
        written = self._write_block(warc, headers, content_type, date, b"", payload, level)
        warc.add_to_index(CdxjEntry.for_response(written, mime=mime, status=None))
        return written

    def flush(self) -> None:
        """Push written records to the OS, so readers of the ``.open`` file see them."""
        if self._current is not None:
            with self._stop_on_error():
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
        warc = self._current
        if warc is None:
            return None
        with self._stop_on_error():
            warc.out.flush()
            os.fsync(warc.out.raw.fileno())
            warc.out.raw.close()
            self._current = None
            final = warc.path.with_name(warc.filename)
            index = cdxj_path(final)
            write_cdxj(index, warc.sorted_index(), presorted=True)
            os.replace(warc.path, final)
        closed = ClosedWarc(path=final, cdxj_path=index, size=warc.out.size,
                            sha256=warc.out.sha256.hexdigest(), records=warc.records)
        if self.on_close:
            self.on_close(closed)
        return closed

    # -- internals ------------------------------------------------------------------------
    @contextmanager
    def _stop_on_error(self) -> Iterator[None]:
        """Turn a write error into the writer's end: the current file is let go (it stays
        ``.open`` for recovery) and every later write raises the same error."""
        try:
            yield
        except OSError as exc:
            self.failed = exc
            warc, self._current = self._current, None
            if warc is not None:
                with suppress(OSError):  # the data that reached the disk stays
                    warc.out.raw.close()
            raise

    def _writable(self) -> _OpenWarc:
        self.roll_if_due()
        return self._current or self._open()

    def _open(self) -> _OpenWarc:
        if self.failed is not None:
            raise self.failed
        self._serial += 1
        filename = self.new_filename()
        path = open_path(self.spool_dir, filename)
        with self._stop_on_error():
            out = _HashingFile(path.open("xb"))
        warc = _OpenWarc(path=path, out=out, opened_at=monotonic())
        self._current = warc
        date = self.now()
        info = self._records.create_warcinfo_record(filename, self.warcinfo)
        info.rec_headers.replace_header("WARC-Record-ID", self.new_record_id())
        info.rec_headers.replace_header("WARC-Date", warc_date(date))
        self._write_record(warc, info, date)
        if self.on_open:
            self.on_open(filename)
        return warc

    def _write_block(self, warc: _OpenWarc, headers: dict[str, str], content_type: str,
                     date: datetime, http: bytes, payload: bytes,
                     level: int | None = None) -> WrittenRecord:
        """Write a record whose WARC headers (type, target, digests included) are known and
        whose block is ``http`` (an HTTP head, or empty) then ``payload``.

        The hot path: warcio's :class:`StatusAndHeaders` serialises the WARC headers, and
        the record is framed as warcio frames it (headers, block, CRLF CRLF), without its
        record builder's generic passes (digests, header scans, stream copies) per record.
        """
        warc_headers = StatusAndHeaders("", [
            *headers.items(), ("Content-Type", content_type),
            ("Content-Length", str(len(http) + len(payload)))], protocol=WARC_VERSION)
        data = b"".join((warc_headers.to_bytes(), http, payload, b"\r\n\r\n"))
        offset, length = self._append(warc, data, level)
        return WrittenRecord(
            record_id=headers["WARC-Record-ID"], record_type=headers["WARC-Type"],
            target_uri=headers["WARC-Target-URI"], date=date, filename=warc.filename,
            offset=offset, length=length, payload_digest=headers.get("WARC-Payload-Digest"))

    def _write_record(self, warc: _OpenWarc, record: ArcWarcRecord,
                      date: datetime) -> WrittenRecord:
        """Write a record built by warcio (warcinfo, revisit)."""
        self._buffer.seek(0)
        self._buffer.truncate()
        self._records.write_record(record)
        offset, length = self._append(warc, self._buffer.getbuffer(), None)
        headers = record.rec_headers
        return WrittenRecord(
            record_id=headers.get_header("WARC-Record-ID"),
            record_type=headers.get_header("WARC-Type"),
            target_uri=headers.get_header("WARC-Target-URI") or "",
            date=date, filename=warc.filename, offset=offset, length=length,
            payload_digest=headers.get_header("WARC-Payload-Digest"))

    def _append(self, warc: _OpenWarc, data: bytes | memoryview,
                level: int | None) -> tuple[int, int]:
        """Append ``data`` as one gzip member; returns its (offset, length) in the file."""
        offset = warc.out.size
        # zlib-ng writes the same gzip format as zlib, about twice as fast at the same level.
        member = zlib_ng.compress(data, self.gzip_level if level is None else level,
                                  wbits=zlib_ng.MAX_WBITS + 16)
        with self._stop_on_error():
            warc.out.write(member)
        warc.records += 1
        return offset, warc.out.size - offset

    @staticmethod
    def _exchange_headers(exchange: HttpExchange, record_id: str,
                          date: datetime) -> dict[str, str]:
        headers = {"WARC-Record-ID": record_id, "WARC-Date": warc_date(date)}
        if exchange.ip_address:
            headers["WARC-IP-Address"] = exchange.ip_address
        if exchange.truncated:
            headers["WARC-Truncated"] = exchange.truncated
        if exchange.resource_type:
            headers[RESOURCE_TYPE_HEADER] = exchange.resource_type
        return headers

    @staticmethod
    def _digests(uri: str, record_type: str, head: bytes, body: bytes,
                 payload: str) -> dict[str, str]:
        """Type, target and both digests, in the order warcio writes them: the payload
        digest is of the entity body (WARC 1.1, 6.3.2: transfer coding removed), the block
        digest of the bytes written."""
        return {"WARC-Type": record_type, "WARC-Target-URI": uri,
                "WARC-Payload-Digest": payload, "WARC-Block-Digest": sha1_digest(head, body)}

    @staticmethod
    def _response_head(exchange: HttpExchange) -> bytes:
        """The response's status line and header block: as read from the connection, or
        (an exchange built without the wire, e.g. by tests) serialised by warcio."""
        if exchange.wire:
            return exchange.wire.response_head
        return _HttpHeaders(
            f"{exchange.status} {exchange.reason}".strip(),
            [(k, v) for k, v in exchange.response_headers
             if k.lower() not in DROPPED_RESPONSE_HEADERS],
            protocol=exchange.http_version,
        ).buffer

    @staticmethod
    def _request_headers(exchange: HttpExchange) -> _HttpHeaders:
        parts = urlsplit(exchange.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = list(exchange.request_headers)
        if not any(k.lower() == "host" for k, _ in headers):
            headers.insert(0, ("Host", parts.netloc))
        return _HttpHeaders(f"{exchange.method} {target} {exchange.http_version}",
                            headers, is_http_request=True)
