"""Archiver: writes exchanges to WARC, records them in the catalog, ships closed files.

Lifecycle of a file: ``warc_files`` row in state ``open`` as soon as it is created; captures
are recorded (in batches) as records are written; on close the row gets size, SHA-256 and
record count (``closed``); the WARC and its CDXJ are stored with a verified checksum
(``uploaded``); only then are the spool copies removed. A failed upload leaves the file in the
spool and the row ``closed``, so nothing is dropped.

Failures: a write error of the WARC writer (:attr:`WarcWriter.failed`) is raised to the
caller, which stops the crawl; the rows of records not yet flushed are then left to spool
recovery, which catalogues what reached the disk. A catalog error leaves the buffered rows
in place for the next :meth:`Archiver.flush`.

Articles: each article row gets its history key, and the versions it makes are recorded in
the same transaction; a 404/410 or a redirect to the home page or a section, or an error page
served with 200 (a soft 404), where an article with versions was records its ``unpublished``
version. Both in capture order (:func:`archive.history.record_captures`).

Revisits: a response (non-empty, not truncated, not a redirect) whose payload digest and
status equal the latest capture of the same URL (SURT key) is written as a ``revisit`` record
referring to the original ``response`` record. A redirect (3xx) is always written whole:
pywb replays a revisit of a redirect with an empty body without reading its original
(pywb/warcserver/resource/resolvingloader.py, pywb PR #753), so a revisit would lose its
bytes there, and a redirect's body is small. The latest capture comes from this archiver's
own memory, else from one indexed catalog query (``ix_captures_surt_timestamp``); a
revisit's original is the latest ``response`` capture with that SURT and digest at or before
it (replay's contract).

Conditional re-fetches (:mod:`archive.revalidation`): each capture row keeps its response's
``ETag`` and ``Last-Modified``. A ``304 Not Modified`` answering a conditional request
(``revalidated``: the capture the request named) is written as a ``revisit`` record with the
server-not-modified profile (:meth:`WarcWriter.write_not_modified`), catalogued with that
capture's status (200) and payload digest, so that every revisit resolution finds it as the
original; its validators are the 304's, each one it did not repeat taken from the original.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError
from warcio.timeutils import timestamp_to_datetime

from archive.catalog import Catalog
from archive.cdxj import REVISIT_MIME, mime_of, surt_key
from archive.history import article_key, record_captures
from archive.layout import index_key, warc_key
from archive.models import Article, Capture, WarcFile, WarcState, utcnow
from archive.revalidation import (
    NOT_MODIFIED,
    REVALIDATED_STATUS,
    Revalidation,
    Validators,
    host_archived,
)
from archive.storage import Storage, StorageError, file_sha256
from archive.warc import (
    DOM_CONTENT_TYPE,
    SCREENSHOT_MIME,
    ClosedWarc,
    HttpExchange,
    RevisitTarget,
    WarcWriter,
    WrittenRecord,
    dom_uri,
    payload_digest,
    screenshot_uri,
)

logger = logging.getLogger(__name__)


@dataclass
class ArchiveStats:
    records: int = 0
    responses: int = 0
    bytes: int = 0
    warc_files: int = 0
    articles: int = 0
    upload_failures: int = 0
    revisits: int = 0


# Core statements built once: the lookup runs for every archived response.
_CAPTURES = Capture.__table__.c
_COLUMNS = (_CAPTURES.status, _CAPTURES.payload_digest, _CAPTURES.record_type, _CAPTURES.url,
            _CAPTURES.timestamp, _CAPTURES.record_id)
_NEWEST = (_CAPTURES.timestamp.desc(), _CAPTURES.id.desc())
_LATEST = select(*_COLUMNS).where(_CAPTURES.surt == bindparam("surt")).order_by(*_NEWEST).limit(1)
_ORIGINAL = Capture.revisit_original(bindparam("surt"), bindparam("digest"), bindparam("at")
                                     ).with_only_columns(*_COLUMNS)


@dataclass(frozen=True, slots=True)
class _Latest:
    """The latest capture of a URL: its status and the response record holding its payload."""

    status: int
    original: RevisitTarget

    def packed(self) -> bytes | _Latest:
        """As one bytes object (~200 bytes instead of ~450 for the objects and their
        strings): the archiver keeps one per URL the crawl archived, 100,000 and more."""
        target = self.original
        fields = (str(self.status), target.uri, target.date.isoformat(), target.record_id,
                  target.payload_digest)
        if any("\0" in field for field in fields):
            return self  # (not from a URL Scrapy fetched, nor an id or digest of ours)
        return "\0".join(fields).encode()

    @staticmethod
    def unpacked(value: bytes | _Latest) -> _Latest:
        if isinstance(value, _Latest):
            return value
        status, uri, date, record_id, digest = value.decode().split("\0")
        return _Latest(int(status), RevisitTarget(uri, datetime.fromisoformat(date), record_id,
                                                  digest))


class Archiver:
    """Scrapy-free archiving core used by the crawler extension and the tests."""

    def __init__(
        self,
        catalog: Catalog,
        storage: Storage,
        writer: WarcWriter,
        *,
        job_id: int | None = None,
        batch_size: int = 200,
        revisits: bool = True,
    ) -> None:
        self.catalog = catalog
        self.storage = storage
        self.writer = writer
        self.job_id = job_id
        self.batch_size = batch_size
        self.revisits = revisits
        self.stats = ArchiveStats()
        # hash of a SURT → latest capture written here (_Latest.packed). Keyed by the hash
        # (32 bytes, not the ~140 of the string: one per URL, 100,000 and more); a hit is
        # checked against the original's URL, so two SURTs sharing a hash cost a lookup.
        self._latest: dict[int, bytes | _Latest] = {}
        self._hosts_archived: dict[str, bool] = {}  # SURT host → captured before this crawl
        self._lookups: Connection | None = None
        self._file_ids: dict[str, int] = {}
        self._pending_captures: list[dict[str, Any]] = []
        self._pending_articles: list[dict[str, Any]] = []
        # captures that may unpublish an article: (record id, URL, timestamp, status)
        self._pending_gone: list[tuple[str, str, str, int]] = []
        # the last flush failed: only the caller's periodic flush retries (not every record)
        self._flush_failing = False
        # Closed files are stored off the caller's thread: a 1 GB copy must not stall a crawl.
        self._shipper = ThreadPoolExecutor(1, thread_name_prefix="warc-ship")
        writer.on_open = self._file_opened
        writer.on_close = self._file_closed

    def archive(self, exchange: HttpExchange,
                revalidated: Revalidation | None = None) -> WrittenRecord:
        """Write one exchange; returns the response record, or the revisit record when the
        payload is the same as the latest capture of the URL, or when ``exchange`` is a 304
        answering the conditional request for ``revalidated``."""
        key = surt_key(exchange.url)
        status = exchange.status
        validators = Validators.of(exchange.response_headers)
        if (revalidated is not None and status == NOT_MODIFIED
                and surt_key(revalidated.original.uri) == key):
            target = revalidated.original
            response, request, head = self.writer.write_not_modified(exchange, target)
            self.stats.records += 1
            self.stats.bytes += head.length
            mime, status = REVISIT_MIME, REVALIDATED_STATUS
            validators = validators.or_(revalidated.validators)
            self.stats.revisits += 1
            self._latest[hash(key)] = _Latest(status, target).packed()
            return self._record(exchange, key, response, request, status, mime, validators)
        digest = payload_digest(exchange.body)  # once: for the revisit check and the record
        target = self._revisit_target(key, exchange, digest) if self.revisits else None
        if target is None:
            response, request = self.writer.write_exchange(exchange, digest=digest)
            mime = exchange.mime
            if response.payload_digest:
                self._latest[hash(key)] = _Latest(status, RevisitTarget(
                    exchange.url, response.date, response.record_id, response.payload_digest)
                ).packed()
        else:
            response, request = self.writer.write_revisit(exchange, target)
            mime = REVISIT_MIME
            self.stats.revisits += 1
            self._latest[hash(key)] = _Latest(status, target).packed()
        return self._record(exchange, key, response, request, status, mime, validators)

    def _record(self, exchange: HttpExchange, key: str, response: WrittenRecord,
                request: WrittenRecord, status: int, mime: str,
                validators: Validators) -> WrittenRecord:
        """Count the written records and buffer their capture row (flushed in batches)."""
        self.stats.records += 2
        self.stats.responses += 1
        self.stats.bytes += response.length + request.length
        self._pending_captures.append({
            "job_id": self.job_id,
            "warc_file_id": self._file_ids[response.filename],
            "url": exchange.url,
            "surt": key,
            "timestamp": response.timestamp,
            "status": status,
            "mime": mime,
            "payload_digest": response.payload_digest,
            "record_type": response.record_type,
            "record_id": response.record_id,
            "offset": response.offset,
            "length": response.length,
            "truncated": exchange.truncated,
            "subresource": bool(exchange.resource_type),  # as the record says it
            **validators.columns(),
        })
        if status in GONE_STATUSES or (is_redirect(status) and redirects_to_hub(
                exchange.url, header_value(exchange.response_headers, "Location"))):
            self._pending_gone.append((response.record_id, exchange.url, response.timestamp,
                                       status))
        if len(self._pending_captures) >= self.batch_size and not self._flush_failing:
            try:
                self.flush()
            except SQLAlchemyError as exc:
                # the rows stay buffered; the caller's periodic flush retries and decides
                # when a catalog that keeps failing stops the crawl
                logger.warning("catalog flush failed, retried later: %s", exc)
        return response


    def _revisit_target(self, key: str, exchange: HttpExchange,
                        digest: str) -> RevisitTarget | None:
        """The original to refer to when this payload (``digest``) repeats the URL's latest
        capture."""
        if exchange.truncated or not exchange.body or is_redirect(exchange.status):
            return None
        packed = self._latest.get(hash(key))
        latest = _Latest.unpacked(packed) if packed is not None else None
        if latest is not None and surt_key(latest.original.uri) != key:
            latest = None  # another SURT with the same hash
        if latest is None:
            try:
                latest = self._latest_in_catalog(key)
            except SQLAlchemyError as exc:
                # a full record instead of a revisit loses nothing; the catalog's failure
                # is for the flush to judge (it retries, then stops the crawl)
                logger.warning("revisit lookup failed, writing the full response: %s", exc)
                self._close_lookups()
        if latest is None or latest.status != exchange.status:
            return None
        return latest.original if latest.original.payload_digest == digest else None

    def _latest_in_catalog(self, key: str) -> _Latest | None:
        if self._lookups is None:  # one connection for the crawl's lookups; autocommit:
            self._lookups = self.catalog.engine.connect().execution_options(  # no snapshot
                isolation_level="AUTOCOMMIT")  # is held between them
        # A host with no capture before this crawl has nothing to revisit: one query per
        # host instead of one per URL (this crawl's own captures are in self._latest).
        host = key.split(")/", 1)[0]
        if host not in self._hosts_archived:
            self._hosts_archived[host] = host_archived(self._lookups, key)
        if not self._hosts_archived[host]:
            return None
        row = self._lookups.execute(_LATEST, {"surt": key}).first()
        status = row.status if row is not None else None
        if row is not None and row.record_type != "response" and row.payload_digest:
            row = self._lookups.execute(_ORIGINAL, {
                "surt": key, "digest": row.payload_digest, "at": row.timestamp}).first()
        if row is None or status is None or not row.payload_digest:
            return None
        date = timestamp_to_datetime(row.timestamp).replace(tzinfo=UTC)
        return _Latest(status, RevisitTarget(row.url, date, row.record_id, row.payload_digest))

    def archive_rendering(self, page: WrittenRecord, screenshot: bytes,
                          dom: str) -> tuple[WrittenRecord, WrittenRecord]:
        """Write what a browser made of the page whose response (or revisit) is ``page``: a
        PNG ``screenshot`` and the rendered ``dom``, as ``resource`` records concurrent to
        it (:func:`archive.warc.screenshot_uri`, :func:`archive.warc.dom_uri`), catalogued
        as captures of those URIs (``record_type`` ``resource``, status 200: not pages).
        Returns (screenshot, DOM)."""
        written = []
        for uri, content_type, payload in (
                (screenshot_uri(page.target_uri), SCREENSHOT_MIME, screenshot),
                (dom_uri(page.target_uri), DOM_CONTENT_TYPE, dom.encode("utf-8"))):
            record = self.writer.write_resource(page, uri, content_type, payload)
            self.stats.records += 1
            self.stats.bytes += record.length
            self._pending_captures.append({
                "job_id": self.job_id, "warc_file_id": self._file_ids[record.filename],
                "url": uri, "surt": surt_key(uri), "timestamp": record.timestamp,
                "status": 200, "mime": mime_of(content_type),
                "payload_digest": record.payload_digest, "record_type": "resource",
                "record_id": record.record_id, "offset": record.offset,
                "length": record.length, "truncated": None, "etag": None,
                "last_modified": None, "subresource": True})
            written.append(record)
        return written[0], written[1]

    def annotate(
        self, response: WrittenRecord, metadata: dict[str, Any],
        article: dict[str, Any] | None = None, extractor_version: str | None = None,
    ) -> WrittenRecord:
        """Write a metadata record for ``response``; record ``article`` in the catalog. A
        page the crawler found to be an error page served with 200 (``"soft_404"`` in
        ``metadata``) is no article: it may unpublish the one that was at its URL."""
        record = self.writer.write_metadata(response, metadata)
        self.stats.records += 1
        self.stats.bytes += record.length
        if metadata.get("soft_404"):
            self._pending_gone.append((response.record_id, response.target_uri,
                                       response.timestamp, 200))
        elif article is not None:
            self.stats.articles += 1
            self._pending_articles.append({
                **article, "capture_record_id": response.record_id,
                "extractor_version": extractor_version or "unknown",
                "metadata_record_id": record.record_id,
            })
        return record

    def roll_if_due(self) -> None:
        self.writer.roll_if_due()

    def flush(self) -> None:
        """Commit buffered capture and article rows. They are dropped from the buffer only
        once committed; after a write error of the writer they are never committed (their
        bytes may not have reached the disk: recovery catalogues those that did)."""
        if (not (self._pending_captures or self._pending_articles or self._pending_gone)
                or self.writer.failed):
            return
        self.writer.flush()  # rows are committed only once their bytes are readable
        captures, articles = self._pending_captures, self._pending_articles
        gone = self._pending_gone
        self._flush_failing = True
        with self.catalog.session() as session:
            if captures:
                session.execute(Capture.__table__.insert(), captures)
            ids = dict(session.execute(
                select(Capture.record_id, Capture.id).where(Capture.record_id.in_(
                    [record_id for record_id, *_ in gone]
                    + [a["capture_record_id"] for a in articles]))).all())
            if articles:
                session.execute(Article.__table__.insert(), [
                    {k: v for k, v in a.items() if k != "capture_record_id"}
                    | {"capture_id": ids[a["capture_record_id"]],
                       "url_key": article_key(a["url"], a.get("canonical_url"))}
                    for a in articles])
            record_captures(session, [ids[a["capture_record_id"]] for a in articles],
                            [(ids[record_id], url, timestamp, status)
                             for record_id, url, timestamp, status in gone])
        self._flush_failing = False
        self._pending_captures, self._pending_articles, self._pending_gone = [], [], []

    def close(self) -> None:
        """Close the current file and wait until every closed file has been shipped; a
        write or catalog error is raised after the shipping has finished."""
        try:
            if self.writer.failed is None:
                self.writer.close()
            self.flush()
        finally:
            self._shipper.shutdown(wait=True)
            self._close_lookups()

    def _close_lookups(self) -> None:
        if self._lookups is not None:
            self._lookups.close()
            self._lookups = None

    # -- file lifecycle ---------------------------------------------------------------------
    def _file_opened(self, filename: str) -> None:
        with self.catalog.session() as session:
            row = WarcFile(job_id=self.job_id, filename=filename, state=WarcState.OPEN)
            session.add(row)
            session.flush()
            self._file_ids[filename] = row.id
        self.stats.warc_files += 1

    def _file_closed(self, closed: ClosedWarc) -> None:
        self.flush()
        with self.catalog.session() as session:
            session.execute(update(WarcFile).where(WarcFile.filename == closed.filename).values(
                state=WarcState.CLOSED, size=closed.size, sha256=closed.sha256,
                records=closed.records, closed_at=utcnow(),
            ))
        self._shipper.submit(self._ship, closed)

    def _ship(self, closed: ClosedWarc) -> None:
        try:
            ship_closed_warc(self.catalog, self.storage, closed)
        except (StorageError, OSError, SQLAlchemyError) as exc:
            self.stats.upload_failures += 1
            logger.error("upload of %s failed, kept in the spool: %s", closed.filename, exc)


def is_redirect(status: int) -> bool:
    """A 3xx status: never written as a revisit (see the module docstring)."""
    return 300 <= status < 400


GONE_STATUSES = (404, 410)


def redirects_to_hub(url: str, location: str | None) -> bool:
    """A redirect from ``url`` to the home page or a one-segment section of the same host
    (``/``, ``/world/``): what an outlet does with an article it takes down."""
    if not location:
        return False
    source, target = urlsplit(url), urlsplit(urljoin(url, location))
    segments = [part for part in target.path.split("/") if part]
    return (target.hostname == source.hostname and len(segments) <= 1
            and source.path.rstrip("/") != target.path.rstrip("/"))


def header_value(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name.lower()), None)


def ship_closed_warc(catalog: Catalog, storage: Storage, closed: ClosedWarc) -> None:
    """Store a closed WARC and its CDXJ (when there is one), mark it uploaded, then drop
    the spool copies."""
    key = warc_key(closed.filename)
    storage.put_file(key, closed.path, sha256=closed.sha256)
    if closed.cdxj_path.exists():
        storage.put_file(index_key(closed.filename), closed.cdxj_path,
                         sha256=file_sha256(closed.cdxj_path))
    with catalog.session() as session:
        session.execute(update(WarcFile).where(WarcFile.filename == closed.filename).values(
            state=WarcState.UPLOADED, storage_key=key, uploaded_at=utcnow(),
        ))
    closed.path.unlink(missing_ok=True)
    closed.cdxj_path.unlink(missing_ok=True)

