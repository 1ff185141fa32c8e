"""Site schedules on APScheduler 3.x: ``AsyncIOScheduler`` with its job store in the catalog.

Each enabled site with a schedule is one APScheduler job ``site:NAME`` that, when it fires,
queues a crawl in the ledger (coalesced, one instance at a time, with a misfire grace).
:func:`sync_schedules` reconciles the jobs with the ``sites`` table; the service calls it
at start and whenever a site changes, so a new schedule takes effect without a restart.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from archive import ledger
from archive.catalog import Catalog
from archive.models import Site

logger = logging.getLogger(__name__)

JOB_PREFIX = "site:"

# APScheduler stores a reference to the callable, not the catalog: the running service
# registers itself here so that fired jobs reach its catalog and dispatcher.
_service: dict[str, Any] = {}


def next_run(scheduler: AsyncIOScheduler, site_name: str) -> datetime | None:
    """When ``scheduler`` will next crawl the site (None: unscheduled, or not the leader)."""
    if not scheduler.running:
        return None
    job = scheduler.get_job(JOB_PREFIX + site_name)
    return job.next_run_time if job else None


def trigger_for(schedule: dict[str, Any]) -> BaseTrigger:
    """``{"cron": "*/30 * * * *"}`` or ``{"interval_seconds": 1800}`` → a trigger."""
    if "cron" in schedule:
        return CronTrigger.from_crontab(schedule["cron"], timezone=UTC)
    return IntervalTrigger(seconds=int(schedule["interval_seconds"]), timezone=UTC)


def make_scheduler(catalog: Catalog, misfire_grace_seconds: int) -> AsyncIOScheduler:
    return AsyncIOScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=catalog.engine,
                                                 tablename="apscheduler_jobs")},
        job_defaults={"coalesce": True, "max_instances": 1,
                      "misfire_grace_time": misfire_grace_seconds},
        timezone=UTC,
    )


def register_service(catalog: Catalog, on_queued: Any) -> None:
    _service.update(catalog=catalog, on_queued=on_queued)


def fire_site(name: str) -> None:
    """APScheduler job: queue a crawl of site ``name`` (no-op if one is active)."""
    catalog: Catalog | None = _service.get("catalog")
    if catalog is None:
        logger.error("schedule for %s fired but no service is registered", name)
        return
    with ledger.enqueue_session(catalog) as session:
        site = session.scalar(select(Site).where(Site.name == name))
        if site is None or not site.enabled or not site.schedule:
            return  # removed, disabled or unscheduled while this run was due
        job, created = ledger.enqueue(session, ledger.site_spec(site), site=site,
                                      trigger="schedule")
        logger.info("schedule of %s: %s job %d", name, "queued" if created else "kept",
                    job.id)
    _service["on_queued"]()


def sync_schedules(catalog: Catalog, scheduler: AsyncIOScheduler) -> dict[str, datetime | None]:
    """Make the APScheduler jobs match the sites table; returns next run times by site."""
    with catalog.session() as session:
        # a JSON column stores None as JSON null, which ``IS NOT NULL`` does not exclude
        sites = {s.name: s.schedule for s in session.scalars(
            select(Site).where(Site.enabled.is_(True))) if s.schedule}
    existing = {job.id: job for job in scheduler.get_jobs()
                if job.id.startswith(JOB_PREFIX)}
    for job_id, job in existing.items():
        if job_id.removeprefix(JOB_PREFIX) not in sites:
            job.remove()
    next_runs = {}
    for name, schedule in sites.items():
        job_id = JOB_PREFIX + name
        trigger = trigger_for(schedule)
        current = existing.get(job_id)
        if current is None or str(current.trigger) != str(trigger):
            current = scheduler.add_job(fire_site, trigger, args=[name], id=job_id,
                                        name=f"crawl {name}", replace_existing=True)
        next_runs[name] = current.next_run_time
    return next_runs
