"""The catalog on PostgreSQL: migrations both ways, a crawl end to end, and the advisory
locks that make enqueue, site crawls and the scheduler safe across processes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import create_engine, func, inspect, select, text

from archive import ledger, locks
from archive.catalog import Catalog, alembic_config
from archive.models import Capture, CrawlJob, JobStatus, Site
from scheduler.leader import LeaderElection
from tests.support.cli import Archive
from tests.support.harness import wait_until


@pytest.fixture
def pg_url(postgres_databases: Any) -> str:
    return postgres_databases()


@pytest.fixture
def pg_catalog(pg_url: str) -> Iterator[Catalog]:
    catalog = Catalog(pg_url)
    yield catalog
    catalog.dispose()


def test_migrations_upgrade_downgrade_and_upgrade_again(pg_url: str) -> None:
    engine = create_engine(pg_url)
    config = alembic_config(engine)
    command.upgrade(config, "head")
    columns = {c["name"] for c in inspect(engine).get_columns("crawl_jobs")}
    assert {"dispatched_at", "retry_of", "heartbeat_at"} <= columns
    command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    command.upgrade(config, "head")
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == "0008"
    engine.dispose()


def test_a_crawl_catalogued_in_postgresql_is_found_and_read_back(
        tmp_path: Any, pg_url: str, demo_site: Any) -> None:
    archive = Archive(tmp_path / "data", env={"NEWSARCHIVE_DATABASE_URL": pg_url})
    summary = archive.crawl(f"{demo_site.url}/", "--depth", "1", "--max-pages", "6")
    assert summary["status"] == "succeeded" and summary["pages"] >= 2
    catalog = Catalog(pg_url)
    with catalog.session() as session:
        assert session.scalar(select(func.count(Capture.id))) == summary["pages"]
        assert session.get(CrawlJob, summary["job_id"]).status == JobStatus.SUCCEEDED
    catalog.dispose()
    assert not (archive.data_dir / "catalog.sqlite").exists()
    archived = archive.cli("snapshot", f"{demo_site.url}/", "--raw").stdout
    assert archived == httpx.get(f"{demo_site.url}/").content


def test_identical_enqueues_in_two_transactions_make_one_job(pg_catalog: Catalog) -> None:
    """The second enqueue waits for the first transaction's commit (advisory transaction
    lock), then returns its job: nothing in-process is shared between the two sessions."""
    with pg_catalog.session() as session:
        site = Site(name="gazette", start_urls=["https://example.com/"])
        session.add(site)
    second: dict[str, Any] = {}
    first_session = pg_catalog._sessions()
    first_session.begin()
    first, created = ledger.enqueue(first_session, ledger.site_spec(site), site=site)
    assert created

    def enqueue_elsewhere() -> None:
        other = Catalog(pg_catalog.url, upgrade=False)
        with other.session() as session:
            job, made = ledger.enqueue(session, ledger.site_spec(site), site=site)
            second.update(id=job.id, created=made)
        other.dispose()

    # enqueue() has released the in-process lock: only the database lock is in the way
    thread = threading.Thread(target=enqueue_elsewhere)
    thread.start()
    thread.join(1.0)  # must NOT finish while the first transaction is open
    assert thread.is_alive() and not second
    first_session.commit()
    first_session.close()
    thread.join(10)
    assert second == {"id": first.id, "created": False}
    with pg_catalog.session() as session:
        assert session.scalar(select(func.count(CrawlJob.id))) == 1


def test_session_lock_is_exclusive_and_dies_with_its_connection(pg_catalog: Catalog) -> None:
    engine = pg_catalog.engine
    with locks.SessionLock(engine, locks.SITE, 42) as mine, \
            locks.SessionLock(engine, locks.SITE, 42) as theirs, \
            locks.SessionLock(engine, locks.SITE, 43) as other_site:
        assert mine.acquire() and mine.check()
        assert not theirs.acquire()
        assert other_site.acquire()
        with engine.begin() as conn:  # the holder's machine vanishes
            killed = conn.scalar(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks "
                "WHERE locktype = 'advisory' AND classid = :ns AND objid = 42"),
                {"ns": locks.SITE})
        assert killed == 1
        assert not mine.check() and not mine.held
        assert wait_until(theirs.acquire, 10, message="the lock to be free")


def test_one_leader_and_a_standby_that_takes_over(pg_catalog: Catalog) -> None:
    events: list[str] = []

    async def scenario() -> None:
        def election(name: str) -> LeaderElection:
            return LeaderElection(pg_catalog.engine, 0.1,
                                  on_elected=lambda: events.append(f"{name} elected"),
                                  on_deposed=lambda: events.append(f"{name} deposed"))

        a, b = election("a"), election("b")
        a.start()
        await _until(lambda: a.is_leader)
        b.start()
        await asyncio.sleep(0.5)  # b keeps trying and must not win while a holds the lock
        assert not b.is_leader
        with pg_catalog.engine.begin() as conn:  # a's connection dies (machine gone)
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE "
                              "locktype = 'advisory' AND classid = :ns"), {"ns": locks.LEADER})
        await _until(lambda: b.is_leader and not a.is_leader)
        await a.stop()
        await b.stop()

    asyncio.run(scenario())
    assert events[:1] == ["a elected"]
    assert set(events[1:3]) == {"a deposed", "b elected"}
    assert events[3:] == ["b deposed"]


async def _until(predicate: Any, timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def _open_catalog(url: str) -> str:
    Catalog(url).dispose()
    return "ok"


def test_processes_starting_together_migrate_one_at_a_time(pg_url: str) -> None:
    """Several serve/worker processes on a fresh database: one migrates, the others wait
    for it (advisory lock) instead of racing to create the same tables."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert list(pool.map(_open_catalog, [pg_url] * 4)) == ["ok"] * 4
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == "0008"
    engine.dispose()
