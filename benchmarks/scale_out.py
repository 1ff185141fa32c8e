#!/usr/bin/env python3
"""Scale-out: many small sites crawled by 1 worker vs 2 workers, and dispatch latency.

Needs PostgreSQL and Redis (defaults: 127.0.0.1, as in the tests; override with
NEWSARCHIVE_TEST_POSTGRES_URL / NEWSARCHIVE_TEST_REDIS_URL). Serves the bundled demo news
site on 127.0.0.1; every "site" is its home page with a distinct query string, crawled to
depth 1 with ``--max-pages`` pages. For each configuration, in one run and on one fresh
PostgreSQL database per configuration:

  1 worker   ``newsarchive worker --slots 1`` (the baseline)
  2 workers  two such processes (on this one machine: they share its cores)

it queues ``--sites`` jobs at once through the ledger and the broker (what ``serve`` does),
and reports pages/s = captured pages (``stats.pages``: every archived response,
robots.txt included) / (first enqueue → last crawl process exited). Then, with the
workers idle, it queues ``--probes`` single jobs one after another and reports the dispatch
latency: enqueue → the worker's claim (the crawl process is started right after it), which
is dominated by the broker's idle poll interval (Dramatiq backs off up to
NEWSARCHIVE_DISPATCH_INTERVAL, 0.2 s here, 1 s by default).

Run from the repo root:  .venv/bin/python benchmarks/scale_out.py [--sites 12]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import redis  # noqa: E402
from sqlalchemy import create_engine, select, text  # noqa: E402
from support.servers import environ_without_settings  # noqa: E402

from archive import ledger  # noqa: E402
from archive.catalog import Catalog  # noqa: E402
from archive.models import FINISHED_STATUSES, CrawlJob, JobStatus, Site  # noqa: E402
from archive.processes import pid_alive  # noqa: E402
from scheduler.broker import JobQueue  # noqa: E402
from scheduler.config import ServiceSettings  # noqa: E402
from scheduler.demo.server import DemoSite  # noqa: E402

POSTGRES_URL = os.environ.get("NEWSARCHIVE_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("NEWSARCHIVE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class Setup:
    """A fresh database, a Redis namespace and N worker processes sharing file storage."""

    def __init__(self, root: Path, workers: int) -> None:
        self.root = root
        self.admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        self.database = f"newsarchive_bench_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.database}"'))
        url = self.admin.url.set(database=self.database).render_as_string(hide_password=False)
        self.namespace = f"newsarchive-bench-{uuid.uuid4().hex[:10]}"
        self.env = {
            "NEWSARCHIVE_DATABASE_URL": url,
            "NEWSARCHIVE_STORAGE_URL": f"file://{root / 'storage'}",
            "NEWSARCHIVE_BROKER_URL": REDIS_URL, "NEWSARCHIVE_BROKER_NAMESPACE": self.namespace,
            "NEWSARCHIVE_ALLOWED_NETWORKS": "127.0.0.0/8",
            "NEWSARCHIVE_DISPATCH_INTERVAL": "0.2",
            "NEWSARCHIVE_CONFIG": str(root / "absent.toml"),
        }
        self.catalog = Catalog(url)
        self.settings = ServiceSettings(database_url=url, broker_url=REDIS_URL,
                                        broker_namespace=self.namespace, data_dir=root)
        self.queue = JobQueue(self.settings)
        base = environ_without_settings()
        self.procs = []
        for n in range(workers):
            data = root / f"worker{n}"
            data.mkdir(parents=True)
            log = (data / "worker.log").open("ab")
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "scheduler.cli", "worker", "--slots", "1"],
                env={**base, **self.env, "NEWSARCHIVE_DATA_DIR": str(data)}, cwd=REPO,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT))
            log.close()
        deadline = time.monotonic() + 60
        while not all("slot(s)" in (root / f"worker{n}" / "worker.log").read_text()
                      for n in range(workers)):
            if time.monotonic() > deadline:
                raise SystemExit("workers did not start; see " + str(root))
            time.sleep(0.2)

    def enqueue(self, sites: list[str]) -> list[int]:
        ids = []
        with self.catalog.session() as session:
            for name in sites:
                site = session.scalar(select(Site).where(Site.name == name))
                job, _ = ledger.enqueue(session, ledger.site_spec(site), site=site)
                job.dispatched_at = job.created_at
                ids.append(job.id)
        for job_id in ids:
            self.queue.send(job_id)
        return ids

    def wait(self, ids: list[int], timeout: float = 900) -> list[CrawlJob]:
        deadline = time.monotonic() + timeout
        while True:
            with self.catalog.session() as session:
                jobs = list(session.scalars(select(CrawlJob).where(CrawlJob.id.in_(ids))))
            # finished, and the crawl processes gone (their slots free again)
            if all(j.status in FINISHED_STATUSES and not (j.pid and pid_alive(j.pid))
                   for j in jobs):
                return jobs
            if time.monotonic() > deadline:
                raise SystemExit(f"jobs did not finish in {timeout:g} s")
            time.sleep(0.2)

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(60)
        self.queue.close()
        self.catalog.dispose()
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{self.namespace}*"))
        if keys:
            client.delete(*keys)
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
        self.admin.dispose()


def measure(workers: int, site_url: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="newsarchive-scale-") as tmp:
        setup = Setup(Path(tmp), workers)
        try:
            names = [f"s{n}" for n in range(args.sites + args.probes)]
            with setup.catalog.session() as session:
                for n, name in enumerate(names):
                    session.add(Site(name=name, start_urls=[f"{site_url}/?site={n}"],
                                     max_depth=1, max_pages=args.max_pages))
            start = time.monotonic()
            jobs = setup.wait(setup.enqueue(names[:args.sites]))
            wall = time.monotonic() - start
            pages = sum(j.stats.get("pages", 0) for j in jobs)
            failed = [j.id for j in jobs if j.status != JobStatus.SUCCEEDED]
            latencies = []
            for name in names[args.sites:]:
                (job,) = setup.wait(setup.enqueue([name]))
                latencies.append((job.started_at - job.created_at).total_seconds())
            return {"workers": workers, "jobs": len(jobs), "failed": failed, "pages": pages,
                    "wall": wall, "pages_s": pages / wall,
                    "latency_median": statistics.median(latencies),
                    "latency_max": max(latencies)}
        finally:
            setup.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=12, help="jobs queued at once")
    parser.add_argument("--max-pages", type=int, default=6, help="pages per site")
    parser.add_argument("--probes", type=int, default=5, help="single jobs for latency")
    args = parser.parse_args()
    with DemoSite() as site:
        results = [measure(n, site.url, args) for n in (1, 2)]
    print(f"\n{args.sites} sites x <= {args.max_pages} pages, workers with --slots 1, "
          f"{os.cpu_count()} CPU(s)\n")
    print(f"{'workers':>8} {'jobs':>5} {'pages':>6} {'wall s':>8} {'pages/s':>8} "
          f"{'dispatch median ms':>19} {'max ms':>8}")
    for r in results:
        print(f"{r['workers']:>8} {r['jobs']:>5} {r['pages']:>6} {r['wall']:>8.1f} "
              f"{r['pages_s']:>8.2f} {r['latency_median'] * 1000:>19.0f} "
              f"{r['latency_max'] * 1000:>8.0f}")
        if r["failed"]:
            print(f"         failed jobs: {r['failed']}")
    one, two = results
    print(f"\n2 workers / 1 worker: {two['pages_s'] / one['pages_s']:.2f}x pages/s")


if __name__ == "__main__":
    main()
