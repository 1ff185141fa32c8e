"""The job ledger: every crawl is a ``crawl_jobs`` row, and this module owns its transitions.

queued → running → succeeded | failed | cancelled. The API and CLI only write requests
(enqueue, cancel); the dispatcher (or a worker) claims and records the pid; the crawl
process reports its heartbeat and its outcome; whoever sees a crawl process end without an
outcome records that. Every write of a job's status, attempts, worker id, pid or heartbeat
is a function here. One site never has two running jobs, and an identical request while one
is queued or running returns that job; on PostgreSQL both hold across processes and
machines (advisory locks, see :mod:`archive.locks`).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from archive import locks
from archive.catalog import Catalog
from archive.models import ACTIVE_STATUSES, CrawlJob, JobStatus, Site, utcnow
from archive.processes import pid_alive

# In-process (SQLite); on PostgreSQL a transaction advisory lock per key covers several
# processes. Re-entrant: held by :func:`enqueue_session` until the commit, and by
# :func:`enqueue` itself.
_enqueue_lock = threading.RLock()


class JobNotFound(LookupError):
    pass


class JobStateError(ValueError):
    pass


def site_spec(site: Site) -> dict[str, Any]:
    return {
        "urls": list(site.start_urls), "feeds": list(site.feeds),
        "sitemaps": list(site.sitemaps), "allow": list(site.allow), "deny": list(site.deny),
        "depth": site.max_depth, "max_pages": site.max_pages, "extract": True,
        "site": site.name, "render": site.render,
    }


def dedupe_key(spec: dict[str, Any], site: Site | None) -> str:
    if site is not None:
        return f"site:{site.name}"[:80]
    canonical = json.dumps({k: sorted(v) if isinstance(v, list) else v
                            for k, v in sorted(spec.items())}, sort_keys=True)
    return "urls:" + hashlib.sha256(canonical.encode()).hexdigest()


@contextmanager
def enqueue_session(catalog: Catalog) -> Iterator[Session]:
    """A session for :func:`enqueue` that commits before the next enqueue may look.

    Without it two identical requests racing each other could both miss the other's
    uncommitted job and queue two.
    """
    with _enqueue_lock, catalog.session() as session:
        yield session


def enqueue(session: Session, spec: dict[str, Any], *, site: Site | None = None,
            trigger: str = "api", priority: int = 0,
            idempotency_key: str | None = None) -> tuple[CrawlJob, bool]:
    """Queue a job, or return the active one for the same site/request: ``(job, created)``."""
    key = dedupe_key(spec, site)
    with _enqueue_lock:
        if locks.supported(session.get_bind().engine):
            # held until the commit: a racing enqueue then sees this one's job
            for value in filter(None, (idempotency_key, key)):
                locks.transaction_lock(session, locks.ENQUEUE, value)
        if idempotency_key:
            existing = session.scalar(select(CrawlJob)
                                      .where(CrawlJob.idempotency_key == idempotency_key))
            if existing is not None:
                return existing, False
        existing = session.scalar(select(CrawlJob).where(
            CrawlJob.dedupe_key == key, CrawlJob.status.in_(ACTIVE_STATUSES)))
        if existing is not None:
            return existing, False
        job = CrawlJob(spec=spec, site_id=site.id if site else None, trigger=trigger,
                       priority=priority, dedupe_key=key, idempotency_key=idempotency_key,
                       status=JobStatus.QUEUED)
        session.add(job)
        session.flush()
        return job, True


def claim_next(session: Session, worker: str) -> CrawlJob | None:
    """Mark the next runnable queued job running (highest priority, oldest first)."""
    busy_sites = select(CrawlJob.site_id).where(CrawlJob.status == JobStatus.RUNNING,
                                                CrawlJob.site_id.is_not(None))
    job = session.scalar(
        select(CrawlJob)
        .where(CrawlJob.status == JobStatus.QUEUED, CrawlJob.cancel_requested.is_(False),
               or_(CrawlJob.site_id.is_(None), CrawlJob.site_id.not_in(busy_sites)))
        .order_by(CrawlJob.priority.desc(), CrawlJob.id)
        .limit(1))
    if job is None:
        return None
    job.status = JobStatus.RUNNING
    job.attempts += 1
    job.started_at = utcnow()
    job.worker = worker
    job.heartbeat_at = utcnow()
    return job


def claim(session: Session, job_id: int, worker: str) -> CrawlJob | None:
    """Mark queued job ``job_id`` running for ``worker``, atomically; None if it is not
    queued any more (claimed elsewhere, cancelled, finished) or its site is crawling."""
    busy_sites = select(CrawlJob.site_id).where(CrawlJob.status == JobStatus.RUNNING,
                                                CrawlJob.site_id.is_not(None))
    now = utcnow()
    claimed = session.execute(
        update(CrawlJob)
        .where(CrawlJob.id == job_id, CrawlJob.status == JobStatus.QUEUED,
               CrawlJob.cancel_requested.is_(False),
               or_(CrawlJob.site_id.is_(None), CrawlJob.site_id.not_in(busy_sites)))
        .values(status=JobStatus.RUNNING, attempts=CrawlJob.attempts + 1, started_at=now,
                worker=worker, heartbeat_at=now)
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        return None
    job = session.get(CrawlJob, job_id)
    assert job is not None  # just updated in this transaction
    session.refresh(job)
    return job


def get_job(session: Session, job_id: int) -> CrawlJob:
    job = session.get(CrawlJob, job_id)
    if job is None:
        raise JobNotFound(f"no crawl job {job_id}")
    return job


def request_cancel(session: Session, job_id: int) -> CrawlJob:
    """Cancel a queued job now; ask the dispatcher to stop a running one."""
    job = get_job(session, job_id)
    if job.status == JobStatus.QUEUED:
        job.status = JobStatus.CANCELLED
        job.cancel_requested = True
        job.finished_at = utcnow()
        job.error = "cancelled before it started"
    elif job.status == JobStatus.RUNNING:
        job.cancel_requested = True
    else:
        raise JobStateError(f"crawl job {job_id} is already {job.status}; only queued or "
                            "running jobs can be cancelled")
    return job


def finish_abandoned(session: Session, job_id: int, reason: str) -> None:
    """Record the end of a job whose process exited without recording it itself."""
    job = session.get(CrawlJob, job_id)
    if job is None or job.status != JobStatus.RUNNING:
        return
    job.status = JobStatus.CANCELLED if job.cancel_requested else JobStatus.FAILED
    job.finished_at = utcnow()
    job.error = reason


def this_host() -> str:
    return socket.gethostname()


def worker_id() -> str:
    """``host:pid`` of this process, as the ledger names the process running a job."""
    return f"{this_host()}:{os.getpid()}"


def start_foreground(session: Session, spec: dict[str, Any], site_id: int | None) -> CrawlJob:
    """A crawl this process runs now (``newsarchive crawl``): a row that starts running."""
    job = CrawlJob(spec=spec, status=JobStatus.RUNNING, attempts=1, site_id=site_id,
                   dedupe_key=f"site:{spec['site']}" if spec.get("site") else None,
                   started_at=utcnow(), worker=worker_id(), pid=os.getpid())
    session.add(job)
    session.flush()
    return job


def record_pid(session: Session, job_id: int, pid: int) -> None:
    """The crawl child process that runs a claimed job."""
    session.execute(update(CrawlJob).where(CrawlJob.id == job_id).values(pid=pid))


def heartbeat(session: Session, job_id: int, stats: dict[str, Any]) -> None:
    """A running crawl's live stats; the heartbeat tells a live crawl from a dead one."""
    session.execute(update(CrawlJob).where(CrawlJob.id == job_id)
                    .values(stats=stats, heartbeat_at=utcnow()))


def record_outcome(session: Session, job_id: int, *, error: str | None, finish_reason: str,
                   stats: dict[str, Any]) -> str:
    """The crawl process's own report of how its job ended; returns the final status:
    cancelled when a cancel was requested, failed on ``error`` or a finish reason other
    than ``finished``, else succeeded."""
    job = get_job(session, job_id)
    if job.cancel_requested:
        job.status = JobStatus.CANCELLED
    elif error or finish_reason != "finished":
        job.status = JobStatus.FAILED
    else:
        job.status = JobStatus.SUCCEEDED
    job.finished_at = utcnow()
    job.error = error or (None if job.status == JobStatus.SUCCEEDED
                          else f"crawl ended: {finish_reason}")
    job.stats = stats
    return job.status


def cancel_requested(session: Session, job_ids: Iterable[int]) -> set[int]:
    """Those of ``job_ids`` still running whose cancellation was requested."""
    return set(session.scalars(select(CrawlJob.id).where(
        CrawlJob.id.in_(list(job_ids)), CrawlJob.cancel_requested.is_(True),
        CrawlJob.status == JobStatus.RUNNING)))


def recover_orphans(session: Session, *, is_alive: Callable[[int], bool] = pid_alive,
                    stale_after: timedelta = timedelta(minutes=10)) -> list[CrawlJob]:
    """Fail running jobs whose process is gone; re-queue the scheduled ones.

    A job is gone when it ran on this host and its pid is dead, or when its heartbeat is
    older than ``stale_after`` (a job from another host that stopped reporting).
    """
    recovered = []
    for job in session.scalars(select(CrawlJob).where(CrawlJob.status == JobStatus.RUNNING)):
        if is_gone(job, is_alive=is_alive, stale_after=stale_after):
            _fail_gone(session, job, "its WARC data was recovered from the spool")
            recovered.append(job)
    return recovered


def fail_if_gone(session: Session, job_id: int, found: str) -> bool:
    """Spool recovery finished a WARC of job ``job_id``: if the job is still marked running
    and its process is gone, record it failed (``found``: what recovery found) and re-queue
    it if it was scheduled."""
    job = session.get(CrawlJob, job_id)
    if job is None or job.status != JobStatus.RUNNING or not is_gone(job):
        return False
    _fail_gone(session, job, found)
    return True


def fail_dead_foreground(session: Session) -> int:
    """Record failed the foreground crawls (``newsarchive crawl``) of this host whose process
    is gone; returns how many. No service or worker owns them, and one killed before its
    first record left no WARC for spool recovery to find."""
    failed = 0
    for job in session.scalars(select(CrawlJob).where(
            CrawlJob.status == JobStatus.RUNNING, CrawlJob.trigger == "cli",
            CrawlJob.worker.startswith(f"{this_host()}:", autoescape=True))):
        if is_gone(job):
            _fail_gone(session, job, "it left no complete WARC record")
            failed += 1
    return failed


def running_job_of(session: Session, pid: int) -> int | None:
    """The running job whose crawl process is ``pid`` on this host, if any."""
    return session.scalar(select(CrawlJob.id).where(
        CrawlJob.status == JobStatus.RUNNING, CrawlJob.pid == pid,
        CrawlJob.worker.startswith(f"{this_host()}:", autoescape=True)))


def _fail_gone(session: Session, job: CrawlJob, found: str) -> None:
    job.status = JobStatus.FAILED
    job.finished_at = utcnow()
    job.error = (f"crawl process {job.pid} on {job.worker} is gone (service or machine "
                 f"stopped mid-crawl); {found}")
    _queue_retry(session, job)


def is_gone(job: CrawlJob, *, is_alive: Callable[[int], bool] = pid_alive,
            stale_after: timedelta = timedelta(minutes=10)) -> bool:
    """Whether a running job's process is gone: on this host its pid is dead; on another
    host its heartbeat is older than ``stale_after``."""
    if (job.worker or "").split(":")[0] == this_host():
        return not (job.pid and is_alive(job.pid))
    now = utcnow()
    beat = job.heartbeat_at
    if beat is not None and beat.tzinfo is None:
        beat = beat.replace(tzinfo=now.tzinfo)
    return beat is None or now - beat >= stale_after


def rerun_dead_attempt(session: Session, job_id: int) -> CrawlJob | None:
    """A worker died while running ``job_id`` (its message came back): record that attempt
    as failed and queue a new job ``retry_of`` it, whatever its trigger, marked dispatched
    (the caller sends its message). None if the job is not running any more or its
    cancellation was requested (then it ends cancelled)."""
    job = session.get(CrawlJob, job_id, with_for_update=True)
    if job is None or job.status != JobStatus.RUNNING:
        return None
    job.finished_at = utcnow()
    if job.cancel_requested:
        job.status = JobStatus.CANCELLED
        job.error = f"worker {job.worker} died while the crawl was being cancelled"
        return None
    retry = _retry_of(job)
    retry.dispatched_at = utcnow()  # the caller sends its message now
    session.add(retry)
    session.flush()
    job.status = JobStatus.FAILED
    job.error = (f"worker {job.worker} died mid-crawl (crawl process {job.pid}); re-run as "
                 f"job {retry.id}. WARCs it had stored stay catalogued; its open WARC is "
                 "finished when that worker's spool is recovered")
    return retry


def _queue_retry(session: Session, job: CrawlJob, *, any_trigger: bool = False) -> None:
    """A scheduled crawl that was interrupted runs again (the ledger shows both)."""
    if (any_trigger or job.trigger in ("schedule", "retry")) and not job.cancel_requested:
        session.add(_retry_of(job))


def _retry_of(job: CrawlJob) -> CrawlJob:
    return CrawlJob(spec=job.spec, site_id=job.site_id, trigger="retry", priority=job.priority,
                    dedupe_key=job.dedupe_key, retry_of=job.id, status=JobStatus.QUEUED)


def requeue_interrupted(session: Session, job_ids: list[int], *,
                        any_trigger: bool = False) -> list[int]:
    """Re-queue the scheduled jobs (all with ``any_trigger``: a worker's) among ``job_ids``
    that a shutdown ended."""
    queued = []
    for job in session.scalars(select(CrawlJob).where(CrawlJob.id.in_(job_ids),
                                                      CrawlJob.status == JobStatus.FAILED)):
        _queue_retry(session, job, any_trigger=any_trigger)
        queued.append(job.id)
    return queued


def due_for_dispatch(session: Session, resend_after: timedelta, limit: int) -> list[int]:
    """Queued jobs without a broker message, or whose message went unclaimed too long."""
    cutoff = utcnow() - resend_after
    return list(session.scalars(
        select(CrawlJob.id)
        .where(CrawlJob.status == JobStatus.QUEUED, CrawlJob.cancel_requested.is_(False),
               or_(CrawlJob.dispatched_at.is_(None), CrawlJob.dispatched_at < cutoff))
        .order_by(CrawlJob.priority.desc(), CrawlJob.id)
        .limit(limit)))


def mark_dispatched(session: Session, job_id: int, resend_after: timedelta) -> bool:
    """Record that a message for ``job_id`` is being sent; False if another process just
    did (or the job left the queue), so that each due job gets one message."""
    now = utcnow()
    marked = session.execute(
        update(CrawlJob)
        .where(CrawlJob.id == job_id, CrawlJob.status == JobStatus.QUEUED,
               or_(CrawlJob.dispatched_at.is_(None),
                   CrawlJob.dispatched_at < now - resend_after))
        .values(dispatched_at=now)
        .execution_options(synchronize_session=False))
    return marked.rowcount == 1
