"""Prometheus metrics, read from the catalog at scrape time (true across processes)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from archive.catalog import Catalog
from archive.models import ALL_STATUSES, Capture, CrawlJob, JobStatus, WarcFile, WarcState
from archive.recovery import RecoveryReport
from archive.webhook_outbox import delivery_totals
from crawler.failures import ARCHIVE_KINDS


class CatalogCollector(Collector):
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def collect(self) -> Iterator[Metric]:
        with self.catalog.session() as session:
            by_status = dict(session.execute(
                select(CrawlJob.status, func.count()).group_by(CrawlJob.status)).all())
            pages = session.scalar(select(func.count(Capture.id))
                                   .where(Capture.record_type != "resource")) or 0
            stored = session.scalar(select(func.coalesce(func.sum(WarcFile.size), 0))) or 0
            pending = session.scalar(select(func.count(WarcFile.id))
                                     .where(WarcFile.state == WarcState.CLOSED)) or 0
            job_stats = [stats or {} for stats in session.scalars(
                select(CrawlJob.stats).where(CrawlJob.status.in_(ALL_STATUSES[1:])))]
            webhooks = delivery_totals(session)
        errors = sum(int(stats.get("errors", 0)) for stats in job_stats)
        requisites = sum(int(stats.get("requisites", 0)) for stats in job_stats)
        requisites_failed = sum(int(stats.get("requisites_failed", 0)) for stats in job_stats)
        not_modified = sum(int(stats.get("not_modified", 0)) for stats in job_stats)
        browser = {name: sum(int(stats.get(f"browser_{name}", 0)) for stats in job_stats)
                   for name in ("pages", "escalated", "blocked")}
        failures = Counter(stats["archive_failure"] for stats in job_stats
                           if stats.get("archive_failure"))
        jobs = GaugeMetricFamily("newsarchive_jobs", "Crawl jobs by status", labels=["status"])
        for status in ALL_STATUSES:
            jobs.add_metric([status], by_status.get(status, 0))
        yield jobs
        yield GaugeMetricFamily("newsarchive_queue_length", "Jobs waiting for a crawl slot",
                                value=by_status.get(JobStatus.QUEUED, 0))
        yield CounterMetricFamily("newsarchive_pages_archived",
                                  "Responses archived (captures)", value=pages)
        yield CounterMetricFamily("newsarchive_warc_bytes", "Bytes of closed WARC files",
                                  value=stored)
        yield CounterMetricFamily("newsarchive_crawl_errors",
                                  "Failed downloads counted by crawl jobs", value=errors)
        yield CounterMetricFamily("newsarchive_requisites_archived", "Page requisites "
                                  "(stylesheets, fonts, images, scripts, ...) archived by "
                                  "crawl jobs", value=requisites)
        yield CounterMetricFamily("newsarchive_requisites_failed", "Page requisites that "
                                  "could not be archived (an error status, a refused "
                                  "address, a failed download)", value=requisites_failed)
        yield CounterMetricFamily("newsarchive_not_modified",
                                  "Conditional requests answered 304 Not Modified (archived "
                                  "as revisits, no body fetched)", value=not_modified)
        yield CounterMetricFamily("newsarchive_browser_pages",
                                  "Pages rendered in Chromium by finished crawl jobs",
                                  value=browser["pages"])
        yield CounterMetricFamily("newsarchive_browser_escalations",
                                  "Pages an auto crawl found incomplete and sent to the "
                                  "browser", value=browser["escalated"])
        yield CounterMetricFamily("newsarchive_browser_blocked_requests",
                                  "Requests of rendered pages the SSRF guard refused",
                                  value=browser["blocked"])
        archive_failures = CounterMetricFamily(
            "newsarchive_archive_failures", "Crawls stopped because archiving failed, by "
            "reason (crawler.failures.ARCHIVE_KINDS)", labels=["reason"])
        for reason in ARCHIVE_KINDS:
            archive_failures.add_metric([reason], failures.get(reason, 0))
        yield archive_failures
        yield GaugeMetricFamily("newsarchive_uploads_pending",
                                "Closed WARCs not yet stored (failed or pending uploads)",
                                value=pending)
        deliveries = CounterMetricFamily(
            "newsarchive_webhook_deliveries", "Change webhook deliveries that ended, by "
            "outcome: delivered (a 2xx answered) or gave_up (every attempt failed)",
            labels=["outcome"])
        deliveries.add_metric(["delivered"], webhooks.delivered)
        deliveries.add_metric(["gave_up"], webhooks.gave_up)
        yield deliveries
        yield CounterMetricFamily("newsarchive_webhook_failed_attempts",
                                  "Change webhook POSTs that failed (an error status, no "
                                  "answer, a refused address), retried or not",
                                  value=webhooks.failed_attempts)
        yield GaugeMetricFamily("newsarchive_webhook_deliveries_pending",
                                "Change webhook deliveries waiting for an attempt",
                                value=webhooks.pending)


class RecoveryCollector(Collector):
    """Spool recovery and upload retries done by this service process."""

    def __init__(self, report: RecoveryReport) -> None:
        self.report = report

    def collect(self) -> Iterator[Metric]:
        r = self.report
        yield CounterMetricFamily("newsarchive_recovered_warcs",
                                  "Abandoned .open WARCs cut, closed and stored",
                                  value=r.recovered_files)
        yield CounterMetricFamily("newsarchive_recovery_dropped_captures",
                                  "Catalog captures removed because they pointed past a cut",
                                  value=r.dropped_captures)
        yield CounterMetricFamily("newsarchive_recovery_added_captures",
                                  "Complete records recovery found uncatalogued and catalogued",
                                  value=r.added_captures)
        yield CounterMetricFamily("newsarchive_recovery_removed_empty",
                                  "Abandoned WARCs without one complete record, deleted",
                                  value=r.removed_empty)
        yield CounterMetricFamily("newsarchive_upload_retries_stored",
                                  "Spooled WARCs stored by a retry", value=r.shipped_files)
        yield CounterMetricFamily("newsarchive_upload_failures",
                                  "Upload attempts that failed (the file stays in the spool)",
                                  value=r.failed_files)


class ServiceMetrics:
    """One registry per app: catalog-derived metrics plus in-process schedule lag."""

    def __init__(self, catalog: Catalog, recovery: RecoveryReport) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(CatalogCollector(catalog))
        self.registry.register(RecoveryCollector(recovery))
        self.schedule_lag = Histogram(
            "newsarchive_schedule_lag_seconds", "Delay between a schedule's due time and "
            "the crawl being queued", registry=self.registry,
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900))

    def observe_lag(self, due: datetime) -> None:
        self.schedule_lag.observe(max(0.0, (datetime.now(UTC) - due).total_seconds()))
