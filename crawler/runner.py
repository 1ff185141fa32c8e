"""Run one crawl job in this process: job row in the ledger, Scrapy crawl, summary.

Scrapy's reactor cannot be restarted, so call :func:`run_crawl` once per process (the CLI
does; the service runs each job in a child process).

A crawl of a configured site (``site_id``, the job's site, or ``spec.site``) is incremental:
the site's seen URLs are loaded from the catalog and handed to the spider with the site's
refresh ages, sitemap horizon and article/hub patterns; seeds the site announces (robots.txt
sitemaps, ``<link rel="alternate">`` feeds) are fetched too; a site with ``"auto"`` among
its refresh ages gets ages learned from its edits (:mod:`crawler.refresh_learning`). The
site's politeness (:data:`SITE_POLITENESS`) sets the crawl's Scrapy settings above the
project's and the environment's and below ``overrides`` (``-s``), and its hub refresh bounds
go to the spider.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings
from scrapy.utils.log import failure_to_exc_info
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from twisted.python.failure import Failure

from archive import ledger
from archive.catalog import Catalog
from archive.models import Article, Capture, CrawlJob, JobStatus, Site, WarcFile
from archive.recovery import recover_spool
from archive.storage import Storage
from crawler.config import archive_settings
from crawler.discovery import format_duration, parse_duration
from crawler.failures import archive_failure as classify_archive_failure
from crawler.frontier import ROLE_PAGE
from crawler.refresh_learning import site_refresh
from crawler.seen import SeenUrls
from crawler.spiders.news import NewsSpider

logger = logging.getLogger(__name__)

# on_progress(pages fetched, the crawl's stats), called at each response
ProgressCallback = Callable[[int, dict[str, Any]], None]
# A site's politeness fields and the Scrapy settings they set for its crawls (None: the
# crawl-wide value). The priority sits between the project's and the command line's.
SITE_POLITENESS = {"concurrency_per_domain": "CONCURRENT_REQUESTS_PER_DOMAIN",
                   "download_delay": "DOWNLOAD_DELAY", "autothrottle": "AUTOTHROTTLE_ENABLED"}
SITE_PRIORITY = "spider"


@dataclass
class CrawlSpec:
    urls: list[str] = field(default_factory=list)
    feeds: list[str] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    depth: int | None = None
    max_pages: int | None = None
    allow: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)
    extract: bool = True
    site: str | None = None
    render: str | None = None  # static|browser|auto; None: NEWSARCHIVE_RENDER

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CrawlSpec:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class CrawlSummary:
    job_id: int
    status: str
    pages: int
    bytes: int
    warc_files: list[str]
    articles: int
    errors: int
    failures: list[dict[str, Any]]
    skipped: dict[str, int]
    stats: dict[str, Any]
    revisits: int = 0  # responses written as revisit records (payload unchanged)
    # page requisites: archived, failed, left out by the per-page or per-crawl limit
    requisites: dict[str, int] = field(default_factory=dict)
    not_modified: int = 0  # of those, 304s answering conditional requests (no body fetched)
    browser: dict[str, Any] = field(default_factory=dict)  # browser capture (browser_summary)
    error: str | None = None  # why the job did not succeed
    archive_failure: str | None = None  # crawler.failures.ARCHIVE_KINDS, when archiving failed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def crawl_settings(overrides: dict[str, Any] | None = None) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    if overrides:
        settings.update(overrides, priority="cmdline")
    return settings


def run_crawl(spec: CrawlSpec, overrides: dict[str, Any] | None = None,
              on_progress: ProgressCallback | None = None,
              job_id: int | None = None, site_id: int | None = None) -> CrawlSummary:
    """Run ``spec``; record it as a new ledger row, or as ``job_id`` (already running)."""
    settings = crawl_settings(overrides)
    config = archive_settings(settings)
    catalog = Catalog(config.database_url)
    storage = config.open_storage(catalog)
    # Files an earlier crawl could not store (storage down, crash) go up first.
    recover_spool(catalog, storage, config.spool_dir)
    if job_id is None:
        with catalog.session() as session:
            job_id = ledger.start_foreground(session, asdict(spec), site_id).id
    settings.set("NEWSARCHIVE_JOB_ID", job_id, priority="cmdline")
    settings.set("NEWSARCHIVE_EXTRACT", spec.extract, priority="cmdline")
    if spec.render:
        settings.set("NEWSARCHIVE_RENDER", spec.render, priority="cmdline")
    site = job_site(catalog, spec, job_id, site_id)
    discovery: dict[str, Any] = {}
    if site is not None:
        settings.setdict(site_politeness(site), priority=SITE_PRIORITY)
        discovery = site_discovery(catalog, settings, site)

    process = CrawlerProcess(settings)
    crawler = process.create_crawler(NewsSpider)
    if on_progress is not None:
        pages = 0

        def report(request: Any, **_: Any) -> None:
            nonlocal pages
            if request.meta.get("role") == ROLE_PAGE:
                pages += 1
            on_progress(pages, crawler.stats.get_stats())
        crawler.signals.connect(report, signal=signals.response_received)
    error: str | None = None

    def crawl_failed(failure: Failure) -> None:
        # Scrapy only logs an exception of the crawl itself (e.g. the spider refusing its
        # arguments); the job must record it, not stay running
        nonlocal error
        error = f"the crawl could not run: {failure.value!r}"
        logger.error("%s", error, exc_info=failure_to_exc_info(failure))

    process.crawl(crawler, urls=spec.urls, feeds=spec.feeds, sitemaps=spec.sitemaps,
                  depth=spec.depth, max_pages=spec.max_pages, allow=spec.allow,
                  deny=spec.deny, **discovery).addErrback(crawl_failed)
    try:
        process.start()
    except Exception as exc:  # recorded in the ledger, then re-raised
        error = repr(exc)
        raise
    finally:
        summary = _finish_job(catalog, job_id, crawler, error)
        if summary.archive_failure and _recover_own_files(catalog, storage, config.spool_dir):
            summary = _finish_job(catalog, job_id, crawler, error)  # with what it catalogued
        catalog.dispose()
    return summary


def _recover_own_files(catalog: Catalog, storage: Storage, spool_dir: Path) -> bool:
    """After a write error: finish the file this crawl's writer had to leave, if the disk
    lets it now (else the next recovery does: the next crawl, `storage upload`, `serve`).
    Whether anything was recovered."""
    try:
        report = recover_spool(catalog, storage, spool_dir, this_process_done=True)
    except (OSError, SQLAlchemyError) as exc:
        logger.error("could not recover the spool after the failure: %s", exc)
        return False
    return report.recovered_files > 0 or report.removed_empty > 0


def job_site(catalog: Catalog, spec: CrawlSpec, job_id: int,
             site_id: int | None) -> Site | None:
    """The site a job crawls (``site_id``, the job's site, or ``spec.site``); None for a
    crawl of URLs."""
    with catalog.session() as session:
        if site_id is None:
            site_id = session.scalar(select(CrawlJob.site_id).where(CrawlJob.id == job_id))
        if site_id is None and spec.site:
            site_id = session.scalar(select(Site.id).where(Site.name == spec.site))
        return session.get(Site, site_id) if site_id is not None else None


def site_politeness(site: Site) -> dict[str, Any]:
    """The Scrapy settings the site's politeness sets (those it leaves unset: none)."""
    return {setting: getattr(site, field) for field, setting in SITE_POLITENESS.items()
            if getattr(site, field) is not None}


def hub_refresh_bounds(site: Site, settings: Settings) -> tuple[timedelta, timedelta]:
    """(shortest, longest) interval at which the site's hubs are refetched: the site's own
    bounds, else ``NEWSARCHIVE_HUB_REFRESH_MIN`` / ``_MAX``. A bound the site sets alone
    moves the other default to meet it (a site's ``hub_refresh_min = "2d"`` against the
    default longest ``1d`` gives (2d, 2d))."""
    shortest = parse_duration(site.hub_refresh_min) if site.hub_refresh_min else None
    longest = parse_duration(site.hub_refresh_max) if site.hub_refresh_max else None
    default_shortest = parse_duration(settings.get("NEWSARCHIVE_HUB_REFRESH_MIN"))
    default_longest = parse_duration(settings.get("NEWSARCHIVE_HUB_REFRESH_MAX"))
    if shortest is None:
        shortest = min(default_shortest, longest) if longest else default_shortest
    if longest is None:
        longest = max(default_longest, shortest)
    return shortest, longest


def site_discovery(catalog: Catalog, settings: Settings, site: Site) -> dict[str, Any]:
    """Spider arguments for an incremental crawl of ``site``; learned refresh ages when the
    site learns them (:mod:`crawler.refresh_learning`)."""
    arguments: dict[str, Any] = {
        "horizon": site.horizon or settings.get("NEWSARCHIVE_SITEMAP_HORIZON") or None,
        "article_patterns": list(site.article_patterns or []),
        "hub_patterns": list(site.hub_patterns or []), "announced_seeds": True,
    }
    if settings.getbool("NEWSARCHIVE_INCREMENTAL"):
        with catalog.session() as session:
            refresh = site_refresh(session, site,
                                   settings.getint("NEWSARCHIVE_REFRESH_LEARN_MIN_EDITS"))
        if refresh.shape is not None:
            logger.info("site %s refreshes articles at %s (%s)", site.name,
                        ", ".join(map(format_duration, refresh.ages)), refresh.shape.reason)
        explore = refresh.configured if refresh.learned else []
        arguments["seen"] = SeenUrls(catalog, site.id, refresh.ages,
                                     hub_refresh=hub_refresh_bounds(site, settings),
                                     explore=explore,
                                     explore_share=settings.getfloat(
                                         "NEWSARCHIVE_REFRESH_EXPLORE_SHARE")).load()
    return arguments


def _finish_job(catalog: Catalog, job_id: int, crawler: Crawler,
                error: str | None) -> CrawlSummary:
    """Record how the job ended (counted from the catalog) and summarise it."""
    try:
        collected = crawler.stats.get_stats()
    except RuntimeError:  # Scrapy sets the stats when the crawl starts; it never did
        collected = {}
    stats = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in collected.items()}
    spider = crawler.spider
    failures = list(getattr(spider, "failures", []))
    errors = sum(v for k, v in stats.items() if k.startswith("newsarchive/errors/"))
    browser = browser_summary(crawler.settings.get("NEWSARCHIVE_RENDER"), stats)
    archive_failure = stats.get("archive/failure")
    if archive_failure and not error:
        error = (f"archiving failed ({archive_failure}): {stats.get('archive/failure_message')}"
                 "; the crawl stopped there, and what was written before stays")
    pages, articles = stats.get("warc/responses", 0), stats.get("warc/articles", 0)
    warc_files: list[str] = []
    status = JobStatus.FAILED
    try:
        with catalog.session() as session:
            warc_files = list(session.scalars(select(WarcFile.filename)
                                              .where(WarcFile.job_id == job_id)
                                              .order_by(WarcFile.id)))
            articles = session.scalar(select(func.count(Article.id)).join(Capture)
                                      .where(Capture.job_id == job_id)) or 0
            pages = session.scalar(select(func.count(Capture.id)).where(
                Capture.job_id == job_id, Capture.record_type != "resource")) or 0
            status = ledger.record_outcome(
                session, job_id, error=error, finish_reason=str(stats.get("finish_reason")),
                stats={"pages": pages, "bytes": stats.get("warc/bytes_written", 0),
                       "articles": articles, "errors": errors, "warc_files": len(warc_files),
                       "revisits": stats.get("warc/revisits", 0),
                       "requisites": stats.get("newsarchive/requisites/archived", 0),
                       "requisites_failed": stats.get("newsarchive/requisites/failed", 0),
                       "not_modified": stats.get("newsarchive/not_modified", 0),
                       "browser_pages": browser["pages"],
                       "browser_escalated": browser["escalated"],
                       "browser_blocked": browser["blocked"],
                       "skipped_already_archived": stats.get("newsarchive/seen_skipped", 0),
                       "skipped_over_max_pages": stats.get("newsarchive/max_pages_reached",
                                                           0),
                       "archive_failure": archive_failure, "failures": failures[:100]})
    except SQLAlchemyError as exc:
        # the catalog cannot even take the outcome: the row stays running until whoever
        # recovers the spool or restarts the service finds this process gone
        kind, message = classify_archive_failure(exc)
        archive_failure = archive_failure or kind
        error = error or f"archiving failed ({kind}): {message}"
    skipped = {"over_max_pages": stats.get("newsarchive/max_pages_reached", 0),
               "robots_txt": stats.get("newsarchive/skipped", 0),
               "already_archived": stats.get("newsarchive/seen_skipped", 0),
               "trap_cap": stats.get("newsarchive/trap_capped", 0),
               "over_hub_share": stats.get("newsarchive/hub_share_reached", 0),
               "hub_not_due": stats.get("newsarchive/hub_not_due", 0),
               "sitemap_horizon": stats.get("newsarchive/sitemap_too_old", 0),
               "feed_horizon": stats.get("newsarchive/feed_too_old", 0)}
    requisites = {name: stats.get(f"newsarchive/requisites/{name}", 0) for name in
                  ("archived", "failed", "over_page_limit", "over_crawl_limit")}
    return CrawlSummary(job_id=job_id, status=status, pages=pages, requisites=requisites,
                        bytes=stats.get("warc/bytes_written", 0), warc_files=warc_files,
                        articles=articles, errors=errors, failures=failures,
                        skipped=skipped, stats=stats, revisits=stats.get("warc/revisits", 0),
                        not_modified=stats.get("newsarchive/not_modified", 0),
                        browser=browser,
                        error=error if status != JobStatus.SUCCEEDED else None,
                        archive_failure=archive_failure)


def browser_summary(mode: str, stats: dict[str, Any]) -> dict[str, Any]:
    """What browser capture did in a crawl (``crawler.render``, ``crawler.browser``): its
    mode, pages rendered, pages escalated by ``auto``, pages sent to the browser but
    captured statically, requests pages made and those the SSRF guard blocked, and why
    the browser was unavailable (None when it was not)."""
    return {"mode": mode, "pages": stats.get("newsarchive/browser/pages", 0),
            "escalated": stats.get("newsarchive/browser/escalated", 0),
            "static": stats.get("newsarchive/browser/static", 0),
            "requests": stats.get("newsarchive/browser/requests", 0),
            "blocked": stats.get("newsarchive/browser/blocked", 0),
            "unavailable": stats.get("newsarchive/browser/unavailable")}
