"""Scrapy extension that hands every downloaded exchange to :class:`archive.Archiver`.

It listens to ``response_downloaded``, which fires before any downloader middleware has
touched the response: the body is still content-encoded, redirects and error statuses are
all seen. The response record id is put in ``request.meta["warc_response"]`` so that the
metadata record written later (after parsing and extraction) can refer to it. A response
whose payload repeats the URL's latest capture is written as a revisit record
(``NEWSARCHIVE_REVISITS``; counted in ``warc/revisits``).
"""

from __future__ import annotations

import http
import logging
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from archive.archiver import Archiver
from archive.catalog import Catalog
from archive.warc import HttpExchange, WarcWriter, WrittenRecord
from crawler import signals as na_signals
from crawler.config import archive_settings
from crawler.download_handler import TRUNCATED_FLAG

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Headers, Response

logger = logging.getLogger(__name__)


def _header_pairs(headers: Headers) -> list[tuple[str, str]]:
    return [(name.decode("latin-1"), value.decode("latin-1"))
            for name, values in headers.items() for value in values]


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
    )


class WarcArchiver:
    def __init__(self, crawler: Crawler, archiver: Archiver, flush_interval: float) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.archiver = archiver
        self._flusher = task.LoopingCall(self._periodic)
        self._flush_interval = flush_interval

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
        ext = cls(crawler, archiver, settings.getfloat("NEWSARCHIVE_CATALOG_FLUSH_INTERVAL"))
        crawler.signals.connect(ext.response_downloaded, signal=signals.response_downloaded)
        if settings.getbool("NEWSARCHIVE_EXTRACT"):
            crawler.signals.connect(ext.page_analyzed, signal=na_signals.page_analyzed)
        else:
            crawler.signals.connect(ext.page_parsed, signal=na_signals.page_parsed)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    def spider_opened(self, spider: object) -> None:
        self._flusher.start(self._flush_interval, now=False)

    def response_downloaded(self, response: Response, request: Request, spider: object) -> None:
        exchange = exchange_from_scrapy(request, response)
        record = self.archiver.archive(exchange)
        request.meta["warc_response"] = record
        self.stats.inc_value("warc/responses")
        self.stats.inc_value(f"warc/status/{exchange.status}")
        if exchange.truncated:
            self.stats.inc_value("warc/truncated")

    def page_parsed(self, response: Response, outlinks: list[str]) -> None:
        """Extraction off: the metadata record carries the outlinks only."""
        self.page_analyzed(response.meta.get("warc_response"), outlinks)

    def page_analyzed(self, record: WrittenRecord | None, outlinks: list[str],
                      article: dict[str, Any] | None = None,
                      extractor_version: str | None = None) -> None:
        if record is None:
            return
        metadata: dict[str, Any] = {"outlinks": outlinks}
        if article is not None:
            metadata["extraction"] = {**article, "extractor_version": extractor_version}
        self.archiver.annotate(record, metadata, article, extractor_version)

    def _periodic(self) -> None:
        self.archiver.flush()
        self.archiver.roll_if_due()
        self._sync_stats()  # per flush, not per page: progress readers poll about as often

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
        self.archiver.close()
        self._sync_stats()
        self.archiver.catalog.dispose()
