"""``newsarchive worker``: runs crawl jobs sent through Dramatiq on Redis, N at a time.

Each message names a ledger job. The worker takes the site's advisory lock (one crawl per
site across machines) and the job's (held for the attempt: a running job whose lock is free
has lost its worker), claims the row atomically, and runs the crawl in a child process with
the same command, environment and cancel handling as the embedded dispatcher. The child
dies with its worker (``PR_SET_PDEATHSIG``), as it would with the machine, so a redelivered
message never races a crawl still running: the dead attempt is marked failed and a new job
``retry_of`` it is queued.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import threading
import time
from datetime import timedelta
from typing import Any

import dramatiq
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from archive import ledger, locks
from archive.catalog import Catalog
from archive.models import CrawlJob, JobStatus
from archive.recovery import recover_spool
from archive.storage import Storage, StorageError
from scheduler.broker import JobQueue
from scheduler.config import ServiceSettings
from scheduler.dispatch import (
    abandon,
    cancel_requested,
    check_command,
    check_deadline,
    check_env,
    crawl_command,
    crawl_env,
    exit_reason,
    kill_group,
    open_job_log,
    record_pid,
)

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
try:
    _prctl: Any = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: children outlive a killed worker
    _prctl = None


def _die_with_worker() -> None:
    """preexec_fn: SIGKILL the crawl when the worker thread that started it dies."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class CrawlWorker:
    def __init__(self, settings: ServiceSettings, slots: int) -> None:
        self.settings = settings
        self.slots = slots
        self.name = ledger.worker_id()
        self.catalog = Catalog(settings.database_url)
        self.shared_locks = locks.supported(self.catalog.engine)
        self.queue = JobQueue(settings, handler=self.handle)
        self.stopping = threading.Event()
        self._storage: Storage | None = None

    # -- process lifecycle ------------------------------------------------------------------
    def run(self) -> None:
        """Consume until SIGTERM/SIGINT, then stop the crawls gracefully and re-queue them."""
        self.retry_uploads()  # WARCs a crawl of this machine left when it died
        # idle, Dramatiq polls Redis with a backoff capped at worker_timeout
        worker = dramatiq.Worker(self.queue.broker, worker_threads=self.slots,
                                 worker_timeout=int(self.settings.dispatch_interval * 1000))
        worker.queue_prefetch = self.slots  # hold no message another worker could run
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        worker.start()
        logger.info("worker %s: %d slot(s) on queue %r", self.name, self.slots,
                    self.settings.broker_queue)
        while not self.stopping.wait(self.settings.upload_retry_seconds):
            self.retry_uploads()
        logger.info("worker %s stopping", self.name)
        worker.stop(timeout=int((self.settings.cancel_grace_seconds + 30) * 1000))
        self.queue.close()
        self.catalog.dispose()

    def retry_uploads(self) -> None:
        if self._storage is None:
            self._storage = self.settings.open_storage(self.catalog)
        try:
            report = recover_spool(self.catalog, self._storage, self.settings.spool_dir)
        except (StorageError, OSError) as exc:
            logger.error("spool recovery failed, trying again later: %s", exc)
            return
        if report.eventful:
            logger.warning("spool recovery: %s", report)

    # -- one message ------------------------------------------------------------------------
    def handle(self, job_id: int) -> None:
        """The actor: run job ``job_id`` if it is still queued (else see why not)."""
        with self.catalog.session() as session:
            row = session.execute(select(CrawlJob.status, CrawlJob.site_id)
                                  .where(CrawlJob.id == job_id)).one_or_none()
        if row is None:
            logger.warning("job %d is not in the catalog; message dropped", job_id)
        elif row.status == JobStatus.RUNNING:
            self._redelivered(job_id)
        elif row.status == JobStatus.QUEUED:
            self._run_queued(job_id, row.site_id)
        # finished or cancelled: a duplicate message, nothing to do

    def _run_queued(self, job_id: int, site_id: int | None) -> None:
        if self.stopping.is_set():
            self.queue.send(job_id)  # for another worker; this one is shutting down
            return
        engine = self.catalog.engine
        held: list[locks.SessionLock] = []
        try:
            if self.shared_locks:
                for namespace, value in ((locks.SITE, site_id), (locks.JOB, job_id)):
                    if value is None:
                        continue
                    lock = locks.SessionLock(engine, namespace, value)
                    held.append(lock)
                    if not lock.acquire():
                        self._retry_later(job_id, f"lock {namespace}/{value} is held")
                        return
            with self.catalog.session() as session:
                job = ledger.claim(session, job_id, self.name)
                still_queued = job is None and session.scalar(
                    select(CrawlJob.status).where(CrawlJob.id == job_id)) == JobStatus.QUEUED
            if job is not None:
                self._crawl(job_id)
            elif still_queued:  # SQLite: the site is crawling
                self._retry_later(job_id, "its site is being crawled")
        finally:
            for lock in held:
                lock.dispose()

    def _retry_later(self, job_id: int, why: str) -> None:
        logger.info("job %d waits (%s); retry in %g s", job_id, why,
                    self.settings.site_busy_delay)
        self.queue.send(job_id, delay=self.settings.site_busy_delay)

    def _redelivered(self, job_id: int) -> None:
        """A message for a running job: its worker died (re-run it) or this is a duplicate."""
        lock = locks.SessionLock(self.catalog.engine, locks.JOB, job_id) \
            if self.shared_locks else None
        try:
            if lock is not None and not lock.acquire():
                return  # the attempt's worker is alive and holds it
            with self.catalog.session() as session:
                if lock is None and not ledger.is_gone(
                        ledger.get_job(session, job_id),
                        stale_after=timedelta(seconds=self.settings.worker_heartbeat_timeout)):
                    return
                retry = ledger.rerun_dead_attempt(session, job_id)
                if retry is not None:
                    retry_id = retry.id
            if retry is not None:
                logger.warning("job %d lost its worker mid-crawl; re-running as job %d",
                               job_id, retry_id)
                self.queue.send(retry_id)
        finally:
            if lock is not None:
                lock.dispose()

    def _crawl(self, job_id: int) -> None:
        """Run the claimed job's crawl child; stop it on cancel or shutdown."""
        log = open_job_log(self.settings, job_id)
        try:
            proc = subprocess.Popen(
                crawl_command(job_id), env=crawl_env(self.settings), stdin=subprocess.DEVNULL,
                stdout=log, stderr=log, start_new_session=True,
                preexec_fn=_die_with_worker if _prctl else None)
        except OSError as exc:
            abandon(self.catalog, job_id, f"could not start crawl: {exc}")
            return
        finally:
            log.close()
        record_pid(self.catalog, job_id, proc.pid)
        logger.info("job %d started (pid %d)", job_id, proc.pid)
        signalled_at: float | None = None
        while True:
            try:
                code = proc.wait(timeout=self.settings.dispatch_interval)
                break
            except subprocess.TimeoutExpired:
                pass
            if signalled_at is None:
                if self.stopping.is_set() or self._cancelled(job_id):
                    logger.info("stopping job %d: SIGTERM to pid %d", job_id, proc.pid)
                    proc.terminate()
                    signalled_at = time.monotonic()
            elif time.monotonic() - signalled_at > self.settings.cancel_grace_seconds:
                logger.warning("pid %d ignored SIGTERM for the grace period; SIGKILL", proc.pid)
                proc.kill()
        logger.info("job %d finished (exit code %d)", job_id, code)
        if code != 0:
            self.retry_uploads()
        # the locks are held until this returns: record the end first
        abandon(self.catalog, job_id, exit_reason(code))
        if self.stopping.is_set():
            with self.catalog.session() as session:
                ledger.requeue_interrupted(session, [job_id], any_trigger=True)
        elif code == 0 and self.settings.capture_check:
            self._check(job_id)

    def _check(self, job_id: int) -> None:
        """The capture check of a job that succeeded, in a child process, to its log."""
        log = open_job_log(self.settings, job_id)
        try:
            proc = subprocess.Popen(
                check_command(job_id), env=check_env(self.settings), stdin=subprocess.DEVNULL,
                stdout=log, stderr=log, start_new_session=True,
                preexec_fn=_die_with_worker if _prctl else None)
        except OSError as exc:
            logger.error("job %d: could not start its capture check: %s", job_id, exc)
            return
        finally:
            log.close()
        try:
            code = proc.wait(timeout=check_deadline(self.settings))
        except subprocess.TimeoutExpired:
            logger.warning("job %d: capture check overran; killed", job_id)
            kill_group(proc.pid)
            code = proc.wait()
        logger.info("job %d: capture check exited with code %d", job_id, code)

    def _cancelled(self, job_id: int) -> bool:
        """Whether a cancel was requested; a catalog hiccup must not abandon the crawl."""
        try:
            return bool(cancel_requested(self.catalog, [job_id]))
        except SQLAlchemyError as exc:
            logger.warning("could not check job %d for a cancel request: %s", job_id, exc)
            return False
