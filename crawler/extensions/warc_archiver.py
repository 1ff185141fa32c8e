"""Scrapy extension that hands every downloaded exchange to :class:`archive.Archiver`.

It listens to ``response_downloaded``, which fires before any downloader middleware has
touched the response: the body is still content-encoded, redirects and error statuses are
all seen. The response record id is put in ``request.meta["warc_response"]`` so that the
metadata record written later (after parsing and extraction) can refer to it. A response
whose payload repeats the URL's latest capture is written as a revisit record
(``NEWSARCHIVE_REVISITS``; counted in ``warc/revisits``), and so is a ``304 Not Modified``
answering a conditional request (:mod:`crawler.conditional`), with the server-not-modified
profile, referring to the capture named in ``request.meta[REVALIDATION_META]``. A page
rendered in the browser (``page_rendered``) adds its screenshot and rendered DOM as resource
records, and its metadata record says how it was rendered (``render``).

A failure to archive stops the crawl, at once: free space on the spool's disk (or an
SQLite catalog's) below ``NEWSARCHIVE_MIN_FREE_SPACE`` (checked at every flush and after
every quarter of it written, so that the WARC can still be closed and the outcome
recorded), a write error of
the spool (a full or read-only disk), a catalog whose disk is full or read-only; a catalog
that fails otherwise (a lock, a restarting server) once it has kept failing for
``NEWSARCHIVE_CATALOG_RETRY_SECONDS``. The kind and message (:mod:`crawler.failures`) go to
the stats (``archive/failure``, ``archive/failure_message``) for the runner, which fails the
job with them; responses that still arrive are counted (``warc/not_archived``), not
written.
"""

from __future__ import annotations

import errno
import http
import io
import logging
import re
import shutil
from time import monotonic
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro
from sqlalchemy.exc import SQLAlchemyError
from twisted.internet import task
from warcio.statusandheaders import StatusAndHeadersParser, StatusAndHeadersParserException

from archive.archiver import Archiver
from archive.catalog import Catalog
from archive.encoding import remove_transfer_coding
from archive.revalidation import Revalidation
from archive.warc import HttpExchange, WarcWriter, WireBytes, WrittenRecord
from crawler import signals as na_signals
from crawler.conditional import REVALIDATION_META
from crawler.config import archive_settings
from crawler.download_handler import TRUNCATED_FLAG, WIRE_META
from crawler.failures import archive_failure
from crawler.links import RESOURCE_TYPE_META
from crawler.wire import WireRecord

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Headers, Response


logger = logging.getLogger(__name__)


def _header_pairs(headers: Headers) -> list[tuple[str, str]]:
    return [(name.decode("latin-1"), value.decode("latin-1"))
            for name, values in headers.items() for value in values]


_CHUNKED = re.compile(rb"^transfer-encoding:[^\n]*chunked", re.IGNORECASE | re.MULTILINE)


def wire_bytes(request: Request, response: Response) -> WireBytes | None:
    """The exchange's bytes as they crossed the connection, the response's body cut where
    Scrapy cut it (``DOWNLOAD_MAXSIZE``) unless it was chunked."""
    wire: WireRecord | None = request.meta.pop(WIRE_META, None)
    if wire is None:
        return None
    head, body = wire.split_response()
    if not _CHUNKED.search(head):  # (Twisted keeps Transfer-Encoding from Scrapy's headers)
        body = body[:len(response.body)]
    return WireBytes(request=wire.request, response_head=head, response_body=body)


def exchange_from_scrapy(request: Request, response: Response) -> HttpExchange:
    status = response.status
    reason = request.meta.get("http_reason")
    if reason is None:
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = ""
    return HttpExchange(
        url=response.url,
        method=request.method,
        request_headers=_header_pairs(request.headers),
        request_body=request.body,
        http_version=response.protocol or "HTTP/1.1",
        status=status,
        reason=reason,
        response_headers=_header_pairs(response.headers),
        body=response.body,
        ip_address=str(response.ip_address) if response.ip_address else None,
        truncated="length" if TRUNCATED_FLAG in response.flags else None,
        wire=wire_bytes(request, response),
        resource_type=request.meta.get(RESOURCE_TYPE_META),
    )


def exchange_from_wire(request: Request, wire: WireRecord,
                       truncated: str) -> HttpExchange | None:
    """A failed exchange as far as it came (None if not even a status line arrived): the
    head parsed by warcio, as any reader of the record will parse it."""
    head, body = wire.split_response()
    try:
        parsed = StatusAndHeadersParser(["HTTP/1.0", "HTTP/1.1"]).parse(io.BytesIO(head))
    except (StatusAndHeadersParserException, EOFError, ValueError):
        return None
    status, _, reason = parsed.statusline.partition(" ")
    if not status.isdigit():
        return None
    return HttpExchange(
        url=request.url, method=request.method, request_headers=_header_pairs(request.headers),
        request_body=request.body, http_version=parsed.protocol or "HTTP/1.1",
        status=int(status), reason=reason, response_headers=list(parsed.headers),
        body=remove_transfer_coding(body, parsed.get_header("Transfer-Encoding")),
        ip_address=wire.peer, truncated=truncated,
        wire=WireBytes(request=wire.request, response_head=head, response_body=body),
        resource_type=request.meta.get(RESOURCE_TYPE_META))


# What archiving raises when the disk, the spool or the catalog fails it.
ARCHIVE_ERRORS = (OSError, SQLAlchemyError)


class WarcArchiver:
    def __init__(self, crawler: Crawler, archiver: Archiver, flush_interval: float,
                 catalog_retry: float, min_free_space: int) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.archiver = archiver
        self.failure: tuple[str, str] | None = None  # (kind, message) once archiving failed
        self._flusher = task.LoopingCall(self._periodic)
        self._flush_interval = flush_interval
        self._catalog_retry = catalog_retry
        self._min_free_space = min_free_space
        self._checked_at_bytes = 0  # archiver.stats.bytes at the last free-space check
        self._catalog_failing_since: float | None = None
        self._renders: dict[str, dict[str, Any]] = {}  # record id → its page's "render"

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        if not settings.getbool("NEWSARCHIVE_ARCHIVE"):
            raise NotConfigured
        config = archive_settings(settings)
        writer = WarcWriter(
            config.spool_dir,
            prefix=settings.get("NEWSARCHIVE_WARC_PREFIX"),
            max_size=settings.getint("NEWSARCHIVE_WARC_MAX_SIZE"),
            max_age=settings.getfloat("NEWSARCHIVE_WARC_MAX_AGE"),
            gzip_level=settings.getint("NEWSARCHIVE_WARC_GZIP_LEVEL"),
            warcinfo={
                "software": "newsarchive (Scrapy, warcio)",
                "format": "WARC File Format 1.1",
                "http-header-user-agent": settings.get("USER_AGENT"),
                "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
            },
        )
        job_id = settings.get("NEWSARCHIVE_JOB_ID")
        catalog = Catalog(config.database_url)
        archiver = Archiver(catalog, config.open_storage(catalog), writer,
                            job_id=int(job_id) if job_id else None,
                            revisits=settings.getbool("NEWSARCHIVE_REVISITS"))
        ext = cls(crawler, archiver, settings.getfloat("NEWSARCHIVE_CATALOG_FLUSH_INTERVAL"),
                  settings.getfloat("NEWSARCHIVE_CATALOG_RETRY_SECONDS"),
                  settings.getint("NEWSARCHIVE_MIN_FREE_SPACE"))
        crawler.signals.connect(ext.response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(ext.exchange_failed, signal=na_signals.exchange_failed)
        if settings.getbool("NEWSARCHIVE_EXTRACT"):
            crawler.signals.connect(ext.page_analyzed, signal=na_signals.page_analyzed)
        else:
            crawler.signals.connect(ext.page_parsed, signal=na_signals.page_parsed)
        crawler.signals.connect(ext.page_rendered, signal=na_signals.page_rendered)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    def spider_opened(self, spider: object) -> None:
        self._flusher.start(self._flush_interval, now=True)

    def _check_free_space(self) -> None:
        """Raise ENOSPC before the spool's disk, or an SQLite catalog's, is full (room
        stays to close the file and record the outcome)."""
        if not self._min_free_space:
            return
        self._checked_at_bytes = self.archiver.stats.bytes
        catalog_file = self.archiver.catalog.local_file
        for place in (self.archiver.writer.spool_dir,
                      *([catalog_file.parent] if catalog_file else [])):
            free = shutil.disk_usage(place).free
            if free < self._min_free_space:
                raise OSError(errno.ENOSPC, f"only {free:,} bytes free on the disk of "
                              f"{place}, below NEWSARCHIVE_MIN_FREE_SPACE "
                              f"({self._min_free_space:,})")

    def response_downloaded(self, response: Response, request: Request, spider: object) -> None:
        record = self._archive(exchange_from_scrapy(request, response),
                               request.meta.get(REVALIDATION_META))
        if record is not None:
            request.meta["warc_response"] = record

    def exchange_failed(self, request: Request, wire: WireRecord, truncated: str) -> None:
        """A download that failed after bytes arrived: archived as far as it came."""
        exchange = exchange_from_wire(request, wire, truncated)
        if exchange is None:
            self.stats.inc_value("warc/not_archived")  # not even a status line arrived
            return
        self._archive(exchange)

    def _archive(self, exchange: HttpExchange,
                 revalidated: Revalidation | None = None) -> WrittenRecord | None:
        if self.failure is not None:
            self.stats.inc_value("warc/not_archived")
            return None
        try:
            if self.archiver.stats.bytes - self._checked_at_bytes > self._min_free_space / 4:
                self._check_free_space()
            record = self.archiver.archive(exchange, revalidated)
        except ARCHIVE_ERRORS as exc:
            self.stats.inc_value("warc/not_archived")
            self._stop(exc)
            return None
        self.stats.inc_value("warc/responses")
        self.stats.inc_value(f"warc/status/{exchange.status}")
        if exchange.truncated:
            self.stats.inc_value("warc/truncated")
        return record

    def page_parsed(self, response: Response, metadata: dict[str, Any]) -> None:
        """Extraction off: the metadata record carries the spider's findings only."""
        self.page_analyzed(response.meta.get("warc_response"), metadata)

    def page_rendered(self, record: WrittenRecord | None, render: dict[str, Any],
                      screenshot: bytes | None = None, dom: str | None = None) -> None:
        """A page went to the browser: its screenshot and rendered DOM become resource
        records concurrent to its response, and ``render`` goes into its metadata record."""
        if record is None or self.failure is not None:
            return
        self._renders[record.record_id] = render
        if screenshot is None or dom is None:
            return
        try:
            self.archiver.archive_rendering(record, screenshot, dom)
        except ARCHIVE_ERRORS as exc:
            self.stats.inc_value("warc/not_archived")
            self._stop(exc)

    def page_analyzed(self, record: WrittenRecord | None, metadata: dict[str, Any],
                      article: dict[str, Any] | None = None,
                      extractor_version: str | None = None) -> None:
        if record is None or self.failure is not None:
            return
        if (render := self._renders.pop(record.record_id, None)) is not None:
            metadata = {**metadata, "render": render}
        if article is not None:
            metadata = {**metadata,
                        "extraction": {**article, "extractor_version": extractor_version}}
        try:
            self.archiver.annotate(record, metadata, article, extractor_version)
        except ARCHIVE_ERRORS as exc:
            self._stop(exc)

    def _periodic(self) -> None:
        """Flush and roll; never raises (a LoopingCall that raises stops for good)."""
        if self.failure is not None:
            return
        try:
            self._check_free_space()
            self.archiver.flush()
            self._catalog_failing_since = None
        except SQLAlchemyError as exc:
            if self._catalog_gives_up(exc):
                self._stop(exc)
                return
        except OSError as exc:
            self._stop(exc)
            return
        try:
            self.archiver.roll_if_due()
        except ARCHIVE_ERRORS as exc:
            self._stop(exc)
            return
        self._sync_stats()  # per flush, not per page: progress readers poll about as often

    def _catalog_gives_up(self, exc: SQLAlchemyError) -> bool:
        """Whether a failed catalog flush ends the crawl: a full or read-only disk at once;
        anything else (a lock, a restarting server) once it has failed for the retry
        period. The rows stay buffered in between."""
        kind, message = archive_failure(exc)
        self.stats.inc_value("warc/catalog_flush_failures")
        now = monotonic()
        if self._catalog_failing_since is None:
            self._catalog_failing_since = now
            logger.warning("catalog flush failed (%s), retrying for up to %g s: %s", kind,
                           self._catalog_retry, message)
        return kind != "catalog_unavailable" or \
            now - self._catalog_failing_since >= self._catalog_retry

    def _stop(self, exc: BaseException, *, close_spider: bool = True) -> None:
        """Archiving failed: record why, once, and close the spider with that reason."""
        if self.failure is not None:
            return
        kind, message = archive_failure(exc)
        self.failure = (kind, message)
        self.stats.set_value("archive/failure", kind)
        self.stats.set_value("archive/failure_message", message)
        logger.error("archiving failed (%s): %s; the crawl stops, and what was written "
                     "before stays", kind, message)
        if close_spider and self.crawler.engine is not None:
            deferred_from_coro(self.crawler.engine.close_spider_async(reason=kind))

    def _sync_stats(self) -> None:
        s = self.archiver.stats
        for key, value in (("warc/records_written", s.records), ("warc/bytes_written", s.bytes),
                           ("warc/files_written", s.warc_files),
                           ("warc/articles", s.articles), ("warc/revisits", s.revisits),
                           ("warc/upload_failures", s.upload_failures)):
            self.stats.set_value(key, value)

    def engine_stopped(self) -> None:
        if self._flusher.running:
            self._flusher.stop()
        try:
            self.archiver.close()
        except ARCHIVE_ERRORS as exc:
            self._stop(exc, close_spider=False)  # the engine has stopped already
        self._sync_stats()
        self.archiver.catalog.dispose()
