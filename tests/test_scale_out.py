"""Scale-out as separate OS processes: two ``newsarchive serve`` and two ``newsarchive
worker`` on one PostgreSQL catalog, Dramatiq on Redis and S3 (moto server).

Every worker and service has its own data directory (spool): nothing but PostgreSQL,
Redis and S3 is shared.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from archive.catalog import Catalog
from archive.models import (
    FINISHED_STATUSES,
    Capture,
    CrawlJob,
    JobStatus,
    Site,
    WarcFile,
    WarcState,
)
from archive.snapshot import parse_record, read_record_bytes
from tests.support.databases import RedisTarget
from tests.support.harness import environ_without_settings, kill_group, pid_running, wait_until
from tests.support.s3 import S3_TEST_BUCKET, MotoServer
from tests.support.service import RunningService

pytestmark = pytest.mark.slow

STORAGE_URL = f"s3://{S3_TEST_BUCKET}/scale-out"


class WorkerProcess:
    """``newsarchive worker --slots N`` with its own data directory (its machine's spool)."""

    def __init__(self, root: Path, env: dict[str, str], slots: int = 1) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.env = {**environ_without_settings(),
                    **env, "NEWSARCHIVE_DATA_DIR": str(root / "data")}
        self.slots = slots
        self.log_path = root / "worker.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> WorkerProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scheduler.cli", "worker", "--slots", str(self.slots)],
            env=self.env, cwd=self.root, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        wait_until(lambda: "worker " in self.log() and "slot(s)" in self.log(), 20,
                   message=lambda: f"the worker to start:\n{self.log()[-3000:]}")
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(5)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                kill_group(self.proc.pid)
                self.proc.wait(5)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class Cluster:
    def __init__(self, root: Path, env: dict[str, str], service_factory: Any) -> None:
        self.root = root
        self.env = env
        self.service_factory = service_factory
        self.workers: list[WorkerProcess] = []
        self.services: list[RunningService] = []
        self.catalog = Catalog(env["NEWSARCHIVE_DATABASE_URL"])

    def worker(self, slots: int = 1) -> WorkerProcess:
        worker = WorkerProcess(self.root / f"worker{len(self.workers)}", self.env, slots)
        self.workers.append(worker.start())
        return worker

    def serve(self) -> RunningService:
        service = self.service_factory(env=self.env)
        self.services.append(service)
        return service

    def leaders(self) -> list[RunningService]:
        return [s for s in self.services if s.proc and s.proc.poll() is None
                and s.client.get("/healthz").json()["leader"]]

    def jobs(self) -> list[CrawlJob]:
        with self.catalog.session() as session:
            return list(session.scalars(select(CrawlJob).options(selectinload(CrawlJob.site))
                                        .order_by(CrawlJob.id)))

    def job(self, job_id: int) -> CrawlJob:
        with self.catalog.session() as session:
            job = session.get(CrawlJob, job_id)
            assert job is not None
            return job

    def worker_of(self, job: CrawlJob) -> WorkerProcess:
        pid = int((job.worker or ":0").rsplit(":", 1)[1])
        return next(w for w in self.workers if w.proc and w.pid == pid)

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        for job in self.jobs():  # a crawl child left behind by a failed assertion
            if job.pid and pid_running(job.pid):
                kill_group(job.pid)
        self.catalog.dispose()

    def logs(self) -> str:
        return "\n".join(f"--- {w.root.name}\n{w.log()[-2500:]}" for w in self.workers)


@pytest.fixture
def cluster(tmp_path: Path, postgres_databases: Any, redis_target: RedisTarget,
            s3_server: MotoServer, service_factory: Any) -> Iterator[Cluster]:
    env = {
        "NEWSARCHIVE_DATABASE_URL": postgres_databases(),
        "NEWSARCHIVE_STORAGE_URL": STORAGE_URL,
        **s3_server.env, **redis_target.env,
        "NEWSARCHIVE_ALLOWED_NETWORKS": "127.0.0.0/8",
        "NEWSARCHIVE_DISPATCH_INTERVAL": "0.2",
        "NEWSARCHIVE_DOWNLOAD_TIMEOUT": "10",
        "NEWSARCHIVE_CANCEL_GRACE_SECONDS": "5",
        "NEWSARCHIVE_WORKER_HEARTBEAT_TIMEOUT": "3",
        "NEWSARCHIVE_BROKER_MAINTENANCE_CHANCE": "1000000",  # check for dead workers always
        "NEWSARCHIVE_LEADER_RETRY_SECONDS": "0.5",
        "NEWSARCHIVE_SITE_BUSY_DELAY": "0.5",
        "NEWSARCHIVE_CONFIG": str(tmp_path / "absent.toml"),
    }
    Catalog(env["NEWSARCHIVE_DATABASE_URL"]).dispose()  # migrated once, before the racers
    cluster = Cluster(tmp_path, env, service_factory)
    yield cluster
    cluster.close()


def assert_captures_readable(cluster: Cluster, s3: MotoServer, job_ids: list[int], *,
                             uploaded_only: bool = False) -> int:
    """Every capture of the jobs (``uploaded_only``: in uploaded WARCs) is in an uploaded
    WARC in S3, framed at its offset; returns how many."""
    storage = s3.storage(STORAGE_URL)
    query = select(Capture).where(Capture.job_id.in_(job_ids))
    if uploaded_only:
        query = query.join(WarcFile).where(WarcFile.state == WarcState.UPLOADED)
    with cluster.catalog.session() as session:
        captures = list(session.scalars(query.options(selectinload(Capture.warc_file))))
        for capture in captures:
            assert capture.warc_file.state == WarcState.UPLOADED, capture.warc_file.filename
            record = parse_record(read_record_bytes(capture, storage, Path("/nonexistent")))
            assert record.rec_headers.get_header("WARC-Record-ID") == capture.record_id
            assert record.rec_headers.get_header("WARC-Target-URI") == capture.url
    return len(captures)


def fire_times(jobs: list[CrawlJob], site: str) -> list[datetime]:
    return sorted(j.created_at for j in jobs
                  if j.site is not None and j.site.name == site and j.trigger == "schedule")


def test_scheduled_crawls_fire_once_per_interval_and_the_standby_takes_over(
        cluster: Cluster, demo_site: Any) -> None:
    interval = 20  # a one-page crawl takes ~10 s here (a Scrapy process start) under load
    first, second = cluster.serve(), cluster.serve()
    assert cluster.leaders() == [first]  # started first, took the lock; the other waits
    cluster.worker(slots=2)
    cluster.worker(slots=2)
    names = [f"site{n}" for n in range(3)]
    for n, name in enumerate(names):
        response = second.client.post("/api/v1/sites", json={  # via the standby: same ledger
            "name": name, "start_urls": [f"{demo_site.url}/?site={n}"],
            "max_depth": 0, "schedule": {"interval_seconds": interval}})
        assert response.status_code == 201, response.text

    def fired(times: int) -> bool:
        jobs = cluster.jobs()
        return all(len(fire_times(jobs, n)) >= times for n in names) and all(
            j.status in FINISHED_STATUSES for j in jobs)

    wait_until(lambda: fired(2), interval * 4,
               message=lambda: f"two fires of each site\n{cluster.logs()}")
    before = cluster.jobs()
    assert all(j.status == JobStatus.SUCCEEDED for j in before), [
        (j.id, j.status, j.error) for j in before]
    assert len({j.worker.rsplit(":", 1)[1] for j in before}) == 2  # spread over both workers

    first.kill9()  # the leader dies
    killed_at = datetime.now(before[0].created_at.tzinfo)
    wait_until(lambda: cluster.leaders() == [second], 10,
               message="the standby to become the leader")
    fires = {n: len(fire_times(before, n)) for n in names}
    wait_until(lambda: all(len(fire_times(cluster.jobs(), n)) > fires[n] for n in names),
               interval * 4, message=lambda: f"the standby to fire\n{second.log()[-2000:]}")
    wait_until(lambda: all(j.status in FINISHED_STATUSES for j in cluster.jobs()), 30,
               message="the last crawls to finish")
    jobs = cluster.jobs()
    for name in names:
        times = fire_times(jobs, name)
        gaps = [(b - a).total_seconds() for a, b in pairwise(times)]
        # no duplicate fire (not even at the takeover) and none missed
        assert all(interval * 0.5 < gap < interval * 2 for gap in gaps), (name, gaps)
        assert any(t > killed_at for t in times)
    assert all(j.status == JobStatus.SUCCEEDED for j in jobs), [
        (j.id, j.status, j.error) for j in jobs if j.status != JobStatus.SUCCEEDED]
    assert len(jobs) == sum(len(fire_times(jobs, n)) for n in names)


def test_a_killed_worker_loses_nothing(cluster: Cluster, demo_site: Any,
                                       s3_server: MotoServer) -> None:
    cluster.env["NEWSARCHIVE_WARC_MAX_SIZE"] = "20000"  # several WARCs stored mid-crawl
    service = cluster.serve()
    cluster.worker()
    cluster.worker()
    urls = [f"{demo_site.url}/", *(f"{demo_site.url}/slow?delay=8&kill={n}" for n in range(3))]
    job_id = service.crawl(urls, depth=1, max_pages=40)["id"]

    def stored_mid_crawl() -> bool:
        with cluster.catalog.session() as session:
            uploaded = session.scalars(select(WarcFile.id).where(
                WarcFile.job_id == job_id, WarcFile.state == WarcState.UPLOADED)).all()
        return bool(uploaded) and cluster.job(job_id).status == JobStatus.RUNNING

    wait_until(stored_mid_crawl, 60, message=lambda: f"a stored WARC\n{cluster.logs()}")
    first = cluster.job(job_id)
    victim = cluster.worker_of(first)
    victim.kill9()
    assert first.pid is not None
    wait_until(lambda: not pid_running(first.pid), 10,
               message="the crawl to die with its worker")

    def rerun() -> CrawlJob | None:
        with cluster.catalog.session() as session:
            return session.scalar(select(CrawlJob).where(CrawlJob.retry_of == job_id))

    retry = wait_until(rerun, 30, message=lambda: f"a re-run\n{cluster.logs()}")
    done = service.wait_job(retry.id, timeout=90)
    assert done["status"] == JobStatus.SUCCEEDED, done
    dead = cluster.job(job_id)
    assert dead.status == JobStatus.FAILED and "died mid-crawl" in dead.error
    assert cluster.job(retry.id).worker != dead.worker  # the other worker ran it
    assert_captures_readable(cluster, s3_server, [retry.id])
    # what the dead attempt had stored stays valid and catalogued
    assert assert_captures_readable(cluster, s3_server, [job_id], uploaded_only=True) > 0
    # the dead worker's machine comes back: its spool recovery finishes the open WARC
    victim.start()
    wait_until(lambda: all(w.state == WarcState.UPLOADED for w in _warcs(cluster, job_id)),
               30, message=lambda: f"the open WARC to be stored\n{victim.log()[-2000:]}")
    assert assert_captures_readable(cluster, s3_server, [job_id, retry.id]) > 5


def _warcs(cluster: Cluster, job_id: int) -> list[WarcFile]:
    with cluster.catalog.session() as session:
        return list(session.scalars(select(WarcFile).where(WarcFile.job_id == job_id)))


def test_one_site_one_crawl_across_services_and_workers(cluster: Cluster,
                                                       demo_site: Any) -> None:
    services = [cluster.serve(), cluster.serve()]
    cluster.worker()
    cluster.worker()
    response = services[0].client.post("/api/v1/sites", json={
        "name": "gazette", "start_urls": [f"{demo_site.url}/slow?delay=3&one=site"],
        "max_depth": 0})
    assert response.status_code == 201, response.text
    with ThreadPoolExecutor(8) as pool:  # simultaneous requests to both services
        answers = list(pool.map(
            lambda n: services[n % 2].client.post("/api/v1/sites/gazette/crawl", json={}),
            range(8)))
    assert {a.status_code for a in answers} <= {200, 202}, [a.text for a in answers]
    ids = {a.json()["id"] for a in answers}
    assert len(ids) == 1, ids
    (job_id,) = ids
    # a second job of the site that bypasses the request dedupe (as a retry does) waits
    with cluster.catalog.session() as session:
        site = session.scalar(select(Site).where(Site.name == "gazette"))
        extra = CrawlJob(spec=cluster.job(job_id).spec, site_id=site.id, trigger="retry",
                         status=JobStatus.QUEUED, dedupe_key="retry-bypass")
        session.add(extra)
    services[0].wait_job(job_id, timeout=60)
    services[0].wait_job(extra.id, timeout=60)
    one, two = cluster.job(job_id), cluster.job(extra.id)
    assert one.status == two.status == JobStatus.SUCCEEDED, (one.error, two.error)
    assert two.started_at >= one.finished_at - timedelta(milliseconds=50), (
        one.started_at, one.finished_at, two.started_at)


def test_cancel_and_a_stopped_worker_on_the_broker(cluster: Cluster, demo_site: Any) -> None:
    service = cluster.serve()
    cluster.worker()
    cluster.worker()
    cancelled = service.crawl([f"{demo_site.url}/slow?delay=30&c=1"])["id"]
    service.wait_job(cancelled, ("running",))
    wait_until(lambda: cluster.job(cancelled).pid, 10, message="the crawl process")
    cancel = service.client.post(f"/api/v1/crawls/{cancelled}/cancel", json={})
    assert cancel.status_code in (200, 202)
    assert service.wait_job(cancelled, timeout=30)["status"] == JobStatus.CANCELLED

    stopped = service.crawl([f"{demo_site.url}/slow?delay=30&s=1"])["id"]
    service.wait_job(stopped, ("running",))
    job = wait_until(lambda: (j := cluster.job(stopped)).pid and j, 10, message="its process")
    worker = cluster.worker_of(job)
    worker.stop()  # SIGTERM: the crawl is stopped gracefully and the job re-queued
    assert worker.proc is not None and worker.proc.returncode == 0, worker.log()[-2000:]
    assert cluster.job(stopped).status == JobStatus.FAILED

    def rerun() -> CrawlJob | None:
        with cluster.catalog.session() as session:
            return session.scalar(select(CrawlJob).where(CrawlJob.retry_of == stopped))

    retry = wait_until(rerun, 20, message=lambda: f"a re-run\n{cluster.logs()}")
    assert service.wait_job(retry.id, ("running",), timeout=30)
    assert cluster.job(retry.id).worker != job.worker
    cancel = service.client.post(f"/api/v1/crawls/{retry.id}/cancel", json={})
    assert cancel.status_code in (200, 202)
    assert service.wait_job(retry.id, timeout=30)["status"] == JobStatus.CANCELLED


def test_worker_refuses_to_start_without_a_redis_broker(archive: Any) -> None:
    missing = archive.cli("worker", env={"NEWSARCHIVE_BROKER_URL": ""}, expect=2)
    assert "needs NEWSARCHIVE_BROKER_URL" in missing.stderr
    wrong = archive.cli("worker", env={"NEWSARCHIVE_BROKER_URL": "amqp://rabbit:5672/"},
                        expect=2)
    assert ("NEWSARCHIVE_BROKER_URL='amqp://rabbit:5672/': give a redis:// URL"
            in wrong.stderr)
