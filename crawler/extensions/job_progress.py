"""Scrapy extension that keeps the job's ledger row live while the crawl runs.

Every ``NEWSARCHIVE_PROGRESS_INTERVAL`` seconds it writes pages, bytes, errors and articles
to ``crawl_jobs.stats`` and touches ``heartbeat_at``, so the API shows progress and the
service can tell a live crawl from a dead one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from sqlalchemy.exc import SQLAlchemyError
from twisted.internet import task

from archive import ledger
from archive.catalog import Catalog
from crawler.config import archive_settings

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler


def live_stats(stats: dict[str, Any]) -> dict[str, Any]:
    return {
        "pages": stats.get("warc/responses", 0),
        "bytes": stats.get("warc/bytes_written", 0),
        "articles": stats.get("warc/articles", 0),
        "errors": sum(v for k, v in stats.items() if k.startswith("newsarchive/errors/")),
        "warc_files": stats.get("warc/files_written", 0),
    }


class JobProgress:
    def __init__(self, crawler: Crawler, catalog: Catalog, job_id: int, interval: float) -> None:
        self.crawler = crawler
        self.catalog = catalog
        self.job_id = job_id
        self._loop = task.LoopingCall(self.report)
        self._interval = interval

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        job_id = crawler.settings.get("NEWSARCHIVE_JOB_ID")
        if not job_id:
            raise NotConfigured
        catalog = Catalog(archive_settings(crawler.settings).database_url, upgrade=False)
        ext = cls(crawler, catalog, int(job_id),
                  crawler.settings.getfloat("NEWSARCHIVE_PROGRESS_INTERVAL"))
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: object) -> None:
        self._loop.start(self._interval, now=True)

    def report(self) -> None:
        """Never raises (a LoopingCall that raises stops for good): a catalog that cannot
        take a heartbeat now may take the next one; archiving decides whether it matters."""
        stats = live_stats(self.crawler.stats.get_stats())
        try:
            with self.catalog.session() as session:
                ledger.heartbeat(session, self.job_id, stats)
        except SQLAlchemyError as exc:
            self.crawler.stats.inc_value("newsarchive/heartbeat_failures")
            logger.warning("could not record the job's progress: %s",
                           str(getattr(exc, "orig", None) or exc).splitlines()[0])

    def spider_closed(self, spider: object) -> None:
        if self._loop.running:
            self._loop.stop()
        self.catalog.dispose()
