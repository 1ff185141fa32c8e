"""Scale-out dispatch: crawl jobs travel to ``newsarchive worker`` processes through Dramatiq
on Redis (``NEWSARCHIVE_BROKER_URL``).

A message carries only a job id; the ledger stays the source of truth. The ledger is also
the outbox: :class:`BrokerRelay` (in every ``serve``) sends a message for each queued job
that has none yet (``crawl_jobs.dispatched_at``) and again for one left unclaimed for
``redispatch_seconds``. A duplicate message is harmless: the worker claims the row
atomically, so only one run happens. Dramatiq's Redis broker redelivers the unacknowledged
messages of a worker that stopped heartbeating (``worker_heartbeat_timeout``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from archive import ledger
from archive.catalog import Catalog
from scheduler.config import ServiceSettings

logger = logging.getLogger(__name__)

ACTOR = "run_crawl_job"


def _not_a_worker(job_id: int) -> None:
    raise RuntimeError(f"job {job_id} reached a process that only sends (not a worker)")


class JobQueue:
    """The Redis broker and the one actor: ``send(job_id)``; workers pass ``handler``."""

    def __init__(self, settings: ServiceSettings,
                 handler: Callable[[int], None] | None = None) -> None:
        if not settings.broker_url:
            raise ValueError("NEWSARCHIVE_BROKER_URL is not set")
        # no Dramatiq middleware: no time limit (crawls run for hours), no retries (the
        # ledger records failures; a dead worker's message is redelivered by the broker)
        self.broker = RedisBroker(
            url=settings.broker_url, namespace=settings.broker_namespace, middleware=[],
            heartbeat_timeout=int(settings.worker_heartbeat_timeout * 1000),
            maintenance_chance=settings.broker_maintenance_chance)
        self.actor = dramatiq.Actor(handler or _not_a_worker, broker=self.broker,
                                    actor_name=ACTOR, queue_name=settings.broker_queue,
                                    priority=0, options={})

    def send(self, job_id: int, delay: float | None = None) -> None:
        self.actor.send_with_options(
            args=(job_id,), delay=timedelta(seconds=delay) if delay else None)

    def close(self) -> None:
        self.broker.close()


class BrokerRelay:
    """The dispatcher of ``serve`` in scale-out mode: ledger rows → broker messages.

    Same surface as :class:`scheduler.dispatch.LocalDispatcher` (start, stop, wake,
    running); the crawls themselves run in workers.
    """

    batch = 200

    def __init__(self, catalog: Catalog, settings: ServiceSettings) -> None:
        self.catalog = catalog
        self.settings = settings
        self.queue = JobQueue(settings)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> dict[int, int]:
        return {}

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="broker-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.queue.close()

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await asyncio.to_thread(self.relay)
            except Exception:  # Redis or the catalog down: keep trying
                logger.exception("sending queued jobs to the broker failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.dispatch_interval)

    def relay(self) -> int:
        """Send the queued jobs that need a message; returns how many were sent."""
        resend_after = timedelta(seconds=self.settings.redispatch_seconds)
        with self.catalog.session() as session:
            due = ledger.due_for_dispatch(session, resend_after, self.batch)
        sent = 0
        for job_id in due:
            # mark, send, then commit: a crash in between only means a duplicate message
            with self.catalog.session() as session:
                if ledger.mark_dispatched(session, job_id, resend_after):
                    self.queue.send(job_id)
                    sent += 1
        if sent:
            logger.info("sent %d job(s) to the broker", sent)
        return sent
