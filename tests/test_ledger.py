"""Job ledger transitions on a real SQLite catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.catalog import Catalog
from archive.models import CrawlJob, JobStatus, Site
from scheduler import ledger


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")


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
