"""The job ledger: every crawl is a ``crawl_jobs`` row, and this module owns its transitions.

queued → running → succeeded | failed | cancelled. The API and CLI only write requests
(enqueue, cancel); the dispatcher claims, starts and finishes. One site never has two
running jobs, and an identical request while one is queued or running returns that job.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from archive.catalog import Catalog
from archive.models import ACTIVE_STATUSES, CrawlJob, JobStatus, Site, utcnow
from archive.recovery import pid_alive

# In-process; a database lock covers several processes. Re-entrant: held by
# :func:`enqueue_session` until the commit, and by :func:`enqueue` itself.
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
        "site": site.name,
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
    with _enqueue_lock:
        if idempotency_key:
            existing = session.scalar(select(CrawlJob)
                                      .where(CrawlJob.idempotency_key == idempotency_key))
            if existing is not None:
                return existing, False
        key = dedupe_key(spec, site)
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


def recover_orphans(session: Session, *, is_alive: Callable[[int], bool] = pid_alive,
                    stale_after: timedelta = timedelta(minutes=10)) -> list[CrawlJob]:
    """Fail running jobs whose process is gone; re-queue the scheduled ones.

    A job is gone when it ran on this host and its pid is dead, or when its heartbeat is
    older than ``stale_after`` (a job from another host that stopped reporting).
    """
    recovered = []
    now = utcnow()
    for job in session.scalars(select(CrawlJob).where(CrawlJob.status == JobStatus.RUNNING)):
        local = (job.worker or "").split(":")[0] == this_host()
        beat = job.heartbeat_at
        if beat is not None and beat.tzinfo is None:
            beat = beat.replace(tzinfo=now.tzinfo)
        if local and job.pid and is_alive(job.pid):
            continue
        if not local and beat is not None and now - beat < stale_after:
            continue
        job.status = JobStatus.FAILED
        job.finished_at = now
        job.error = (f"crawl process {job.pid} on {job.worker} is gone (service or machine "
                     "stopped mid-crawl); its WARC data was recovered from the spool")
        recovered.append(job)
        _queue_retry(session, job)
    return recovered


def _queue_retry(session: Session, job: CrawlJob) -> None:
    """A scheduled crawl that was interrupted runs again (the ledger shows both)."""
    if job.trigger in ("schedule", "retry") and not job.cancel_requested:
        session.add(CrawlJob(spec=job.spec, site_id=job.site_id, trigger="retry",
                             priority=job.priority, dedupe_key=job.dedupe_key,
                             retry_of=job.id, status=JobStatus.QUEUED))


def requeue_interrupted(session: Session, job_ids: list[int]) -> list[int]:
    """Re-queue the scheduled jobs among ``job_ids`` that a service shutdown ended."""
    queued = []
    for job in session.scalars(select(CrawlJob).where(CrawlJob.id.in_(job_ids),
                                                      CrawlJob.status == JobStatus.FAILED)):
        _queue_retry(session, job)
        queued.append(job.id)
    return queued
