"""Embedded dispatcher: runs queued ledger jobs in child processes, N at a time.

Every tick (``dispatch_interval``, or at once when woken) it starts queued jobs while slots
are free, and stops running jobs whose cancellation was requested in the ledger (SIGTERM,
then SIGKILL after ``cancel_grace_seconds``). The ledger is the only channel: the API, the
CLI and the scheduler just write rows, so they need no handle on this object.

After a job that succeeded, with ``NEWSARCHIVE_CAPTURE_CHECK`` on, its pages get the
capture check in a child process of their own (``newsarchive check --job``, Chromium
included), logged to the job's log; the job's slot is free meanwhile.

The module-level helpers (command line, log, pid, outcome, cancel requests) are the one
definition of how a crawl child process (and its check) runs; ``scheduler.worker`` uses
them too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable
from typing import BinaryIO

from archive import ledger
from archive.catalog import Catalog
from archive.config import env_name
from scheduler.config import ServiceSettings

logger = logging.getLogger(__name__)


def crawl_command(job_id: int) -> list[str]:
    """The crawl child process of a ledger job (``crawler.job`` records its outcome)."""
    return [sys.executable, "-m", "crawler.job", str(job_id), "-s", "LOG_LEVEL=INFO"]


def crawl_env(settings: ServiceSettings) -> dict[str, str]:
    return {**os.environ, **settings.crawl_environment()}


def check_command(job_id: int) -> list[str]:
    """The capture check of a finished job's pages (``newsarchive check --job``)."""
    return [sys.executable, "-m", "scheduler.cli", "check", "--job", str(job_id)]


def check_env(settings: ServiceSettings) -> dict[str, str]:
    """A crawl's environment plus the check's own settings."""
    names = ("capture_check_max_pages", "capture_check_timeout")
    return {**crawl_env(settings), **{env_name(name): str(getattr(settings, name))
                                      for name in names}}


def kill_group(pid: int) -> None:
    """SIGKILL a check child's process group (Playwright's driver and Chromium with it)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def check_deadline(settings: ServiceSettings) -> float:
    """Seconds a job's check may take: two page loads per page, a minute to start."""
    return 60 + 2 * settings.capture_check_timeout * settings.capture_check_max_pages


def open_job_log(settings: ServiceSettings, job_id: int) -> BinaryIO:
    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    return (log_dir / f"job-{job_id}.log").open("ab")


def exit_reason(code: int) -> str:
    if code < 0:
        return f"crawl process was killed by signal {-code}"
    return f"crawl process exited with code {code} before recording its result"


def record_pid(catalog: Catalog, job_id: int, pid: int) -> None:
    with catalog.session() as session:
        ledger.record_pid(session, job_id, pid)


def abandon(catalog: Catalog, job_id: int, reason: str) -> None:
    """End a job whose process exited without recording it (no-op if it did)."""
    with catalog.session() as session:
        ledger.finish_abandoned(session, job_id, reason)


def cancel_requested(catalog: Catalog, job_ids: Iterable[int]) -> set[int]:
    """Those of ``job_ids`` still running whose cancellation was requested."""
    with catalog.session() as session:
        return ledger.cancel_requested(session, job_ids)


class LocalDispatcher:
    def __init__(self, catalog: Catalog, settings: ServiceSettings,
                 after_crash: Callable[[], None] | None = None) -> None:
        self.catalog = catalog
        self.after_crash = after_crash  # finishes the WARC a dead crawl left in the spool
        self.settings = settings
        self.slots = settings.max_crawls
        self.worker = ledger.worker_id()
        self._procs: dict[int, asyncio.subprocess.Process] = {}
        self._checks: dict[int, asyncio.subprocess.Process] = {}  # job id → its check
        self._signalled: set[int] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._watchers: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> dict[int, int]:
        """job id → child pid of the crawls this dispatcher runs."""
        return {job_id: proc.pid for job_id, proc in self._procs.items()}

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="dispatcher")

    async def stop(self) -> None:
        """Stop dispatching; ask running crawls to finish (their WARCs are closed)."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        stopped = list(self._procs)
        for proc in self._procs.values():
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        for proc in self._checks.values():  # a check is redone by `newsarchive check`
            kill_group(proc.pid)
        if self._watchers:
            await asyncio.wait(self._watchers, timeout=self.settings.cancel_grace_seconds)
        for proc in self._procs.values():
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        if stopped:
            with self.catalog.session() as session:
                requeued = ledger.requeue_interrupted(session, stopped)
            if requeued:
                logger.info("scheduled job(s) %s stopped by the shutdown will run again",
                            requeued)

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # keep dispatching whatever one tick hit
                logger.exception("dispatcher tick failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.dispatch_interval)

    async def tick(self) -> None:
        await self._stop_cancelled()
        while len(self._procs) < self.slots:
            job_id = await asyncio.to_thread(self._claim)
            if job_id is None:
                break
            await self._spawn(job_id)

    def _claim(self) -> int | None:
        with self.catalog.session() as session:
            job = ledger.claim_next(session, self.worker)
            return job.id if job else None

    async def _spawn(self, job_id: int) -> None:
        log = open_job_log(self.settings, job_id)
        try:
            proc = await asyncio.create_subprocess_exec(
                *crawl_command(job_id), env=crawl_env(self.settings),
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)
        except OSError as exc:
            await asyncio.to_thread(abandon, self.catalog, job_id,
                                    f"could not start crawl: {exc}")
            return
        finally:
            log.close()
        self._procs[job_id] = proc
        await asyncio.to_thread(record_pid, self.catalog, job_id, proc.pid)
        task = asyncio.create_task(self._watch(job_id, proc), name=f"job-{job_id}")
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)
        logger.info("job %d started (pid %d)", job_id, proc.pid)

    async def _watch(self, job_id: int, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        self._procs.pop(job_id, None)
        self._signalled.discard(job_id)
        await asyncio.to_thread(abandon, self.catalog, job_id, exit_reason(code))
        if code != 0 and self.after_crash is not None:
            await asyncio.to_thread(self.after_crash)
        logger.info("job %d finished (exit code %d)", job_id, code)
        self.wake()
        if code == 0 and self.settings.capture_check:
            await self._check(job_id)

    async def _check(self, job_id: int) -> None:
        """The capture check of a job that succeeded, in a child process, to its log."""
        log = open_job_log(self.settings, job_id)
        try:
            proc = await asyncio.create_subprocess_exec(
                *check_command(job_id), env=check_env(self.settings),
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)
        except OSError as exc:
            logger.error("job %d: could not start its capture check: %s", job_id, exc)
            return
        finally:
            log.close()
        self._checks[job_id] = proc
        try:
            code = await asyncio.wait_for(proc.wait(), check_deadline(self.settings))
        except TimeoutError:
            logger.warning("job %d: capture check overran %g s; killed", job_id,
                           check_deadline(self.settings))
            kill_group(proc.pid)
            code = await proc.wait()
        finally:
            self._checks.pop(job_id, None)
        logger.info("job %d: capture check exited with code %d", job_id, code)

    async def _stop_cancelled(self) -> None:
        if not self._procs:
            return
        wanted = cancel_requested(self.catalog, self._procs)
        loop = asyncio.get_running_loop()
        for job_id in wanted - self._signalled:
            proc = self._procs[job_id]
            self._signalled.add(job_id)
            logger.info("cancelling job %d: SIGTERM to pid %d", job_id, proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            loop.call_later(self.settings.cancel_grace_seconds, self._kill, proc)

    @staticmethod
    def _kill(proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            logger.warning("pid %d ignored SIGTERM for the grace period; SIGKILL", proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()

