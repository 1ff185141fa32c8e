"""Scrapy extension that extracts articles off the crawl's critical path.

Only pages the spider classified as articles (``response.meta["page_kind"]``, see
:mod:`crawler.discovery`) are extracted; hubs and revisit records get their metadata record
(outlinks, requisites) without an article.

On ``page_parsed`` the HTML is handed to a process pool (``NEWSARCHIVE_EXTRACT_WORKERS``
processes); the reactor thread never runs the extractor. When more than
``NEWSARCHIVE_EXTRACT_BACKLOG`` pages wait, the engine pauses until half have been done, so
memory stays bounded when fetching outpaces extraction. When a result arrives it sends
``page_analyzed``; on ``spider_closed`` it waits for the extractions still running so that
every page gets its metadata record before the WARC is closed.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer

from archive.warc import WrittenRecord
from crawler import signals as na_signals
from crawler.discovery import ARTICLE
from crawler.frontier import FRAME_AGAIN_META
from crawler.pool import extraction_pool

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)


def _declared_charset(response: Response) -> str | None:
    content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"') or None
    return None


class ArticleExtractor:
    def __init__(self, crawler: Crawler, workers: int, backlog: int) -> None:
        # the extractor (trafilatura and its language data: ~0.3 s of imports) only when a
        # crawl extracts; the forkserver imports it again for the workers
        from crawler.extraction import EXTRACTOR_VERSION, extract_to_dict

        self._extract, self.extractor_version = extract_to_dict, EXTRACTOR_VERSION
        self.crawler = crawler
        self.workers = workers
        self.backlog = backlog
        self._paused = False
        self._pool: ProcessPoolExecutor | None = None
        self._pending: set[defer.Deferred[None]] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("NEWSARCHIVE_EXTRACT"):
            raise NotConfigured
        settings = crawler.settings
        ext = cls(crawler, max(1, settings.getint("NEWSARCHIVE_EXTRACT_WORKERS")),
                  max(2, settings.getint("NEWSARCHIVE_EXTRACT_BACKLOG")))
        crawler.signals.connect(ext.page_parsed, signal=na_signals.page_parsed)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    @property
    def pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = extraction_pool(self.workers)
        return self._pool

    def page_parsed(self, response: Response, metadata: dict[str, Any]) -> None:
        record = response.meta.get("warc_response")
        if record is None:
            return
        url = response.url
        if response.meta.get("page_kind", ARTICLE) != ARTICLE or (
                record.record_type == "revisit" and not response.meta.get(FRAME_AGAIN_META)):
            # Hubs get no article row; a revisit's article is its original's (unless that
            # was a frame's). The metadata record (outlinks, requisites) is still written.
            self.crawler.stats.inc_value("extraction/not_article")
            self.crawler.signals.send_catch_log(
                na_signals.page_analyzed, record=record, metadata=metadata, article=None,
                extractor_version=self.extractor_version)
            return
        # Keep only what the result needs: a Response (with its parsed tree) per pending
        # page would make memory grow with the backlog.
        future = self.pool.submit(self._extract, response.body, url, _declared_charset(response))
        done: defer.Deferred[None] = defer.Deferred()
        self._pending.add(done)
        if len(self._pending) >= self.backlog and not self._paused:
            self._paused = True
            self.crawler.engine.pause()
            self.crawler.stats.inc_value("extraction/backpressure_pauses")

        def deliver(f: Future[dict[str, Any] | None]) -> None:
            from twisted.internet import reactor  # the reactor Scrapy installed

            reactor.callFromThread(self._finished, f, record, url, metadata, done)

        future.add_done_callback(deliver)

    def _finished(self, future: Future[dict[str, Any] | None], record: WrittenRecord, url: str,
                  metadata: dict[str, Any], done: defer.Deferred[None]) -> None:
        self._pending.discard(done)
        if self._paused and len(self._pending) <= self.backlog // 2:
            self._paused = False
            self.crawler.engine.unpause()
        try:
            article = future.result()
        except Exception as exc:  # noqa: BLE001 - any worker crash: keep the page's metadata
            logger.error("extraction failed for %s: %r", url, exc)
            self.crawler.stats.inc_value("extraction/errors")
            article = None
        self.crawler.stats.inc_value("extraction/articles" if article else "extraction/empty")
        self.crawler.signals.send_catch_log(
            na_signals.page_analyzed, record=record, metadata=metadata,
            article=article, extractor_version=self.extractor_version,
        )
        done.callback(None)

    async def spider_closed(self, spider: object) -> None:
        if self._pending:
            logger.info("waiting for %d extractions to finish", len(self._pending))
            await maybe_deferred_to_future(defer.DeferredList(list(self._pending)))
        if self._pool is not None:
            self._pool.shutdown(wait=True)
