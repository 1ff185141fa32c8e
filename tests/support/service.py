"""Drive the real ``newsarchive serve`` in a subprocess over HTTP (see the ``service`` fixtures
in conftest.py).

Everything waits with :func:`wait_until` (a predicate polled until a deadline), never with a
fixed sleep, except where a test must show that something does *not* happen for a while.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from archive.models import FINISHED_STATUSES, CrawlJob
from tests.support.cli import Archive
from tests.support.harness import (
    cmdline,
    environ_without_settings,
    free_port,
    kill_group,
    pid_running,
    wait_until,
)


class RunningService:
    """One ``newsarchive serve`` process on a free port, with its data directory.

    ``start``/``stop`` (SIGTERM, then SIGKILL), ``restart`` and ``kill9`` (SIGKILL, no
    cleanup). ``archive`` runs CLI commands against the same data directory.
    """

    def __init__(self, root: Path, env: dict[str, str] | None = None,
                 host: str = "127.0.0.1", *, replay_origin: bool = True) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.data_dir = root / "data"
        base = {
            "NEWSARCHIVE_DATA_DIR": str(self.data_dir),
            "NEWSARCHIVE_ALLOWED_NETWORKS": "127.0.0.0/8",
            "NEWSARCHIVE_DISPATCH_INTERVAL": "0.2",
            "NEWSARCHIVE_CANCEL_GRACE_SECONDS": "3",
            "NEWSARCHIVE_DOWNLOAD_TIMEOUT": "5",
            "NEWSARCHIVE_CONFIG": str(root / "absent-newsarchive.toml"),
        }
        self.env = {k: v for k, v in {**base, **(env or {})}.items() if v is not None}
        self.archive = Archive(self.data_dir, env=self.env)
        for key in [k for k, v in (env or {}).items() if v is None]:
            self.archive.env.pop(key, None)
        self.host = host
        self.port = free_port()
        self.replay_port = free_port() if replay_origin else 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = root / "serve.log"
        self.client = httpx.Client(base_url=self.url, timeout=10)
        self.child_pids: set[int] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def replay_url(self) -> str:
        """The replay origin (``/web/`` is answered there): its own, or the API's."""
        return f"http://127.0.0.1:{self.replay_port}" if self.replay_port else self.url

    def process_env(self) -> dict[str, str]:
        return {**environ_without_settings(), **self.archive.env}

    def start(self, timeout: float = 20) -> RunningService:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scheduler.cli", "serve", "--host", self.host,
             "--port", str(self.port), "--replay-port", str(self.replay_port)],
            env=self.process_env(), cwd=self.root, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

        def healthy() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited with {self.proc.returncode}:\n"
                                     f"{self.log()[-3000:]}")
            try:
                return self.client.get("/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, timeout, message=lambda: f"/healthz\n{self.log()[-3000:]}")
        return self

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM, wait, then SIGKILL; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(5)

    def restart(self, env: dict[str, str] | None = None) -> RunningService:
        self.stop()
        if env:
            self.archive.env.update(env)
        return self.start()

    def close(self) -> None:
        """Teardown: stop the service and any crawl child it left behind."""
        self.stop()
        self.client.close()
        if (self.data_dir / "catalog.sqlite").exists():
            with self.archive.catalog().session() as session:
                self.child_pids.update(p for p in session.scalars(select(CrawlJob.pid)) if p)
        for pid in self.child_pids:
            if pid_running(pid) and "crawler.job" in cmdline(pid):
                kill_group(pid)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # -- API helpers -----------------------------------------------------------------

    def job(self, job_id: int) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/crawls/{job_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def jobs(self, **params: Any) -> list[dict[str, Any]]:
        response = self.client.get("/api/v1/crawls", params={"limit": 500, **params})
        assert response.status_code == 200, response.text
        return response.json()["items"]

    def wait_job(self, job_id: int, statuses: tuple[str, ...] = FINISHED_STATUSES,
                 timeout: float = 30) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            job = self.job(job_id)
            if job.get("pid"):
                self.child_pids.add(job["pid"])
            return job if job["status"] in statuses else None

        return wait_until(reached, timeout, interval=0.15,
                          message=lambda: f"job {job_id} to be {'/'.join(statuses)}: "
                          f"{self.job(job_id)}\n{self.log()[-2000:]}")

    def crawl(self, urls: list[str], **limits: Any) -> dict[str, Any]:
        response = self.client.post("/api/v1/crawls",
                                    json={"urls": urls, "limits": limits or {"depth": 0}})
        assert response.status_code == 202, response.text
        return response.json()



def metric(text: str, name: str, labels: str = "") -> float:
    """The value of ``name{labels}`` in a /metrics exposition."""
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.M)
    assert match, f"{name}{labels} not in /metrics:\n{text}"
    return float(match[1])
