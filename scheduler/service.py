"""The running service: catalog, settings, dispatcher, scheduler; one per ``serve`` process.

Embedded (default): a :class:`LocalDispatcher` runs crawls here. With
``NEWSARCHIVE_BROKER_URL`` a :class:`BrokerRelay` sends queued jobs to workers instead. The
schedules run only while this process is the leader (always on SQLite; on PostgreSQL the
holder of an advisory lock, see :mod:`scheduler.leader`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from dataclasses import dataclass, field

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from archive import ledger
from archive.catalog import Catalog
from archive.models import Site
from archive.recovery import RecoveryReport, recover_spool
from archive.storage import Storage, StorageError
from crawler.network_policy import NetworkPolicy
from scheduler import schedules
from scheduler.broker import BrokerRelay
from scheduler.config import ServiceSettings
from scheduler.dispatch import LocalDispatcher
from scheduler.leader import LeaderElection
from scheduler.sites import load_sites_file, replace_site
from scheduler.webhooks import WebhookSender

logger = logging.getLogger(__name__)


@dataclass
class Service:
    settings: ServiceSettings
    catalog: Catalog
    dispatcher: LocalDispatcher | BrokerRelay
    scheduler: AsyncIOScheduler
    policy: NetworkPolicy
    recovered_jobs: list[int] = field(default_factory=list)
    recovery: RecoveryReport = field(default_factory=RecoveryReport)  # totals since start
    _sites_seen: tuple[object, ...] = ()
    _watch_task: asyncio.Task[None] | None = None
    _upload_task: asyncio.Task[None] | None = None
    _webhook_task: asyncio.Task[None] | None = None
    _webhook_pass: asyncio.Future[object] | None = None  # the sender's pass in its thread
    leader: LeaderElection | None = None

    @classmethod
    def create(cls, settings: ServiceSettings) -> Service:
        catalog = Catalog(settings.database_url)
        dispatcher = (BrokerRelay(catalog, settings) if settings.broker_url
                      else LocalDispatcher(catalog, settings))
        return cls(
            settings=settings, catalog=catalog, dispatcher=dispatcher,
            scheduler=schedules.make_scheduler(catalog, settings.misfire_grace_seconds),
            policy=settings.network_policy(),
        )

    def __post_init__(self) -> None:
        # a crawl that died leaves its WARC ``.open``: recovered (and counted) like any other
        if isinstance(self.dispatcher, LocalDispatcher):
            self.dispatcher.after_crash = self.retry_uploads

    async def start(self) -> None:
        self.recover()
        if self.settings.sites_file:
            self.load_sites_file()
        schedules.register_service(self.catalog, self.dispatcher.wake)
        self.leader = LeaderElection(self.catalog.engine, self.settings.leader_retry_seconds,
                                     on_elected=self._start_schedules,
                                     on_deposed=self._stop_schedules)
        self.leader.start()
        self.dispatcher.start()
        self._watch_task = asyncio.create_task(self._watch_sites(), name="site-watch")
        self._upload_task = asyncio.create_task(self._retry_uploads_forever(),
                                                name="upload-retry")
        self._webhook_task = asyncio.create_task(self._deliver_webhooks_forever(),
                                                 name="webhook-delivery")

    async def stop(self) -> None:
        if "webhooks" in self.__dict__:
            self.webhooks.stop()
        for task in (self._watch_task, self._upload_task, self._webhook_task):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._webhook_pass is not None:  # its POST ends within the timeout: record it
            with contextlib.suppress(SQLAlchemyError):
                await self._webhook_pass
        if self.leader is not None:
            await self.leader.stop()
        await self.dispatcher.stop()
        if "webhooks" in self.__dict__:
            self.webhooks.close()
        self.catalog.dispose()

    @property
    def is_leader(self) -> bool:
        """Whether this process fires the schedules."""
        return self.leader is not None and self.leader.is_leader

    def _start_schedules(self) -> None:
        self.scheduler.start()
        self.sync_schedules()

    def _stop_schedules(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def recover(self) -> None:
        """Fail jobs whose process died with a previous service; finish their WARCs.

        With a broker, running jobs belong to workers: a dead worker's job comes back
        through its redelivered message, not here."""
        if not self.settings.broker_url:
            with self.catalog.session() as session:
                jobs = ledger.recover_orphans(session)
                self.recovered_jobs = [job.id for job in jobs]
        for job_id in self.recovered_jobs:
            logger.warning("job %d was running in a process that is gone: marked failed",
                           job_id)
        abort = getattr(self.storage, "abort_abandoned", None)
        if abort is not None:
            try:
                aborted = abort()
            except StorageError as exc:
                logger.error("could not list multipart uploads: %s", exc)
            else:
                if aborted:
                    logger.warning("aborted %d abandoned multipart upload(s)", aborted)
        self.retry_uploads()

    @functools.cached_property
    def storage(self) -> Storage:
        """One storage handle per service (an S3 client is costly to build)."""
        return self.settings.open_storage(self.catalog)

    def retry_uploads(self) -> None:
        """Store what waits in the spool (failed uploads, files of dead crawls)."""
        report = recover_spool(self.catalog, self.storage, self.settings.spool_dir)
        self.recovery.add(report)
        if report.eventful:
            logger.warning("spool recovery: %s", report)

    async def _retry_uploads_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.upload_retry_seconds)
            try:
                await asyncio.to_thread(self.retry_uploads)
            except (StorageError, OSError, SQLAlchemyError):
                logger.exception("upload retry failed; trying again later")

    @functools.cached_property
    def webhooks(self) -> WebhookSender:
        return WebhookSender.from_settings(self.catalog, self.settings)

    async def _deliver_webhooks_forever(self) -> None:
        """POST the change webhooks that are due (every process may: each delivery is held
        by the one that claims it)."""
        while True:
            await asyncio.sleep(self.settings.webhook_interval)
            self._webhook_pass = asyncio.ensure_future(
                asyncio.to_thread(self.webhooks.deliver_due))
            try:  # stop() cancels this loop, not the pass: it waits for the pass instead
                await asyncio.shield(self._webhook_pass)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug or a catalog failure must not end the loop for good:
                # no webhook would be sent again until a restart
                logger.exception("webhook delivery failed; trying again later")

    def load_sites_file(self) -> None:
        path = self.settings.sites_file
        assert path is not None
        sites = load_sites_file(path)
        with self.catalog.session() as session:
            for site in sites:
                replace_site(session, site)
        logger.info("synced %d site(s) from %s", len(sites), path)

    def sync_schedules(self) -> None:
        self._sites_seen = self._sites_fingerprint()
        if self.scheduler.running:  # a standby leaves the job store to the leader
            schedules.sync_schedules(self.catalog, self.scheduler)

    def _sites_fingerprint(self) -> tuple[object, ...]:
        with self.catalog.session() as session:
            return tuple(session.execute(
                select(func.count(Site.id), func.max(Site.updated_at))).one())

    async def _watch_sites(self) -> None:
        """Re-sync schedules when sites change outside the API (CLI, another process)."""
        while True:
            await asyncio.sleep(self.settings.dispatch_interval * 2)
            try:
                if await asyncio.to_thread(self._sites_fingerprint) != self._sites_seen:
                    self.sync_schedules()
            except SQLAlchemyError:
                logger.exception("could not check sites for changes")

    def job_queued(self) -> None:
        self.dispatcher.wake()
