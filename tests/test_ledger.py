"""Job ledger transitions on real catalogs: SQLite and PostgreSQL (``catalog_url``)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from archive import ledger
from archive.catalog import Catalog
from archive.models import CrawlJob, JobStatus, Site, utcnow


def make_site(session, name: str = "gazette") -> Site:
    site = Site(name=name, start_urls=["https://example.com/"])
    session.add(site)
    session.flush()
    return site


def test_identical_requests_share_one_active_job(catalog: Catalog) -> None:
    spec = {"urls": ["https://example.com/a"], "depth": 0}
    with catalog.session() as session:
        first, created = ledger.enqueue(session, spec)
        again, created_again = ledger.enqueue(session, dict(reversed(spec.items())))
        assert created and not created_again and again.id == first.id
        first.status = JobStatus.SUCCEEDED
        later, created_later = ledger.enqueue(session, spec)
        assert created_later and later.id != first.id


def test_idempotency_key_returns_the_same_job_even_when_finished(catalog: Catalog) -> None:
    with catalog.session() as session:
        job, _ = ledger.enqueue(session, {"urls": ["https://a.example/"]}, idempotency_key="k1")
        job.status = JobStatus.SUCCEEDED
        same, created = ledger.enqueue(session, {"urls": ["https://b.example/"]},
                                       idempotency_key="k1")
        assert same.id == job.id and not created


def test_one_site_never_runs_twice(catalog: Catalog) -> None:
    with catalog.session() as session:
        site = make_site(session)
        running, _ = ledger.enqueue(session, ledger.site_spec(site), site=site)
        assert ledger.claim_next(session, "w:1").id == running.id
        # a second job for the site (e.g. a retry) waits while the first runs
        session.add(CrawlJob(spec={}, site_id=site.id, status=JobStatus.QUEUED,
                             dedupe_key="other"))
        other, _ = ledger.enqueue(session, {"urls": ["https://x.example/"]})
        assert ledger.claim_next(session, "w:1").id == other.id
        assert ledger.claim_next(session, "w:1") is None
        running.status = JobStatus.SUCCEEDED
        assert ledger.claim_next(session, "w:1").site_id == site.id


def test_cancel_queued_running_and_finished(catalog: Catalog) -> None:
    with catalog.session() as session:
        queued, _ = ledger.enqueue(session, {"urls": ["https://q.example/"]})
        assert ledger.request_cancel(session, queued.id).status == JobStatus.CANCELLED
        running, _ = ledger.enqueue(session, {"urls": ["https://r.example/"]})
        ledger.claim_next(session, "w:1")
        job = ledger.request_cancel(session, running.id)
        assert job.status == JobStatus.RUNNING and job.cancel_requested
        with pytest.raises(ledger.JobStateError, match="already cancelled"):
            ledger.request_cancel(session, queued.id)
        with pytest.raises(ledger.JobNotFound, match="no crawl job 999"):
            ledger.request_cancel(session, 999)


def test_orphans_fail_and_scheduled_ones_are_requeued(catalog: Catalog) -> None:
    with catalog.session() as session:
        site = make_site(session)
        scheduled, _ = ledger.enqueue(session, ledger.site_spec(site), site=site,
                                      trigger="schedule")
        manual, _ = ledger.enqueue(session, {"urls": ["https://m.example/"]})
        for job in (ledger.claim_next(session, f"{ledger.this_host()}:1"),
                    ledger.claim_next(session, f"{ledger.this_host()}:1")):
            job.pid = 4242
        gone = ledger.recover_orphans(session, is_alive=lambda pid: False)
        assert {j.id for j in gone} == {scheduled.id, manual.id}
        assert all(j.status == JobStatus.FAILED and "is gone" in j.error for j in gone)
        retries = session.query(CrawlJob).filter(CrawlJob.retry_of.is_not(None)).all()
        assert [(r.retry_of, r.trigger, r.status) for r in retries] == [
            (scheduled.id, "retry", JobStatus.QUEUED)]


def test_live_orphans_are_left_alone(catalog: Catalog) -> None:
    with catalog.session() as session:
        ledger.enqueue(session, {"urls": ["https://m.example/"]})
        job = ledger.claim_next(session, f"{ledger.this_host()}:1")
        job.pid = 4242
        assert ledger.recover_orphans(session, is_alive=lambda pid: True) == []
        assert job.status == JobStatus.RUNNING


def test_jobs_stopped_by_a_shutdown_run_again_if_scheduled(catalog: Catalog) -> None:
    with catalog.session() as session:
        site = make_site(session)
        job, _ = ledger.enqueue(session, ledger.site_spec(site), site=site, trigger="schedule")
        ledger.claim_next(session, "w:1")
        job.status = JobStatus.FAILED
        assert ledger.requeue_interrupted(session, [job.id]) == [job.id]
        session.flush()
        retry = session.query(CrawlJob).filter(CrawlJob.retry_of == job.id).one()
        assert retry.status == JobStatus.QUEUED and retry.site_id == site.id


def test_claim_takes_one_queued_job_once(catalog: Catalog) -> None:
    with catalog.session() as session:
        site = make_site(session)
        job, _ = ledger.enqueue(session, ledger.site_spec(site), site=site)
        retry = CrawlJob(spec={}, site_id=site.id, status=JobStatus.QUEUED, dedupe_key="x")
        session.add(retry)
    with catalog.session() as session:
        claimed = ledger.claim(session, job.id, "host-a:1")
        assert (claimed.status, claimed.attempts, claimed.worker) == (
            JobStatus.RUNNING, 1, "host-a:1")
    with catalog.session() as session:
        assert ledger.claim(session, job.id, "host-b:2") is None  # already running
        assert ledger.claim(session, retry.id, "host-b:2") is None  # its site is crawling
        assert ledger.get_job(session, job.id).worker == "host-a:1"


def test_a_dead_attempt_is_failed_and_rerun_as_a_new_job(catalog: Catalog) -> None:
    with catalog.session() as session:
        job, _ = ledger.enqueue(session, {"urls": ["https://d.example/"]}, trigger="api")
    with catalog.session() as session:
        ledger.claim(session, job.id, "host-a:1")
    with catalog.session() as session:
        retry = ledger.rerun_dead_attempt(session, job.id)
    with catalog.session() as session:
        dead = ledger.get_job(session, job.id)
        assert dead.status == JobStatus.FAILED
        assert "worker host-a:1 died mid-crawl" in dead.error and f"job {retry.id}" in dead.error
        again = ledger.get_job(session, retry.id)
        assert (again.status, again.retry_of, again.trigger, again.spec) == (
            JobStatus.QUEUED, job.id, "retry", dead.spec)
        # a second redelivery of the same message changes nothing
        assert ledger.rerun_dead_attempt(session, job.id) is None


def test_a_dead_attempt_being_cancelled_ends_cancelled(catalog: Catalog) -> None:
    with catalog.session() as session:
        job, _ = ledger.enqueue(session, {"urls": ["https://c.example/"]})
        ledger.claim(session, job.id, "host-a:1")
        ledger.request_cancel(session, job.id)
        assert ledger.rerun_dead_attempt(session, job.id) is None
        assert job.status == JobStatus.CANCELLED and "being cancelled" in job.error


def test_is_gone_by_pid_here_and_by_heartbeat_elsewhere(catalog: Catalog) -> None:
    with catalog.session() as session:
        job, _ = ledger.enqueue(session, {"urls": ["https://g.example/"]})
        ledger.claim_next(session, f"{ledger.this_host()}:1")
        job.pid = 4242
        assert ledger.is_gone(job, is_alive=lambda pid: False)
        assert not ledger.is_gone(job, is_alive=lambda pid: True)
        job.worker = "elsewhere:1"
        assert not ledger.is_gone(job, stale_after=timedelta(minutes=1))
        job.heartbeat_at = utcnow() - timedelta(minutes=2)
        assert ledger.is_gone(job, stale_after=timedelta(minutes=1))


def test_each_queued_job_is_dispatched_once_until_it_is_overdue(catalog: Catalog) -> None:
    later = timedelta(minutes=10)
    with catalog.session() as session:
        first, _ = ledger.enqueue(session, {"urls": ["https://1.example/"]})
        second, _ = ledger.enqueue(session, {"urls": ["https://2.example/"]}, priority=5)
        cancelled, _ = ledger.enqueue(session, {"urls": ["https://3.example/"]})
        ledger.request_cancel(session, cancelled.id)
    with catalog.session() as session:
        assert ledger.due_for_dispatch(session, later, 10) == [second.id, first.id]
        assert ledger.mark_dispatched(session, first.id, later)
        assert not ledger.mark_dispatched(session, first.id, later)  # another sender lost
        assert ledger.due_for_dispatch(session, later, 10) == [second.id]
        # a message unclaimed for longer than ``resend_after`` is sent again
        assert ledger.due_for_dispatch(session, timedelta(0), 10) == [second.id, first.id]
