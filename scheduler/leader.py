"""One scheduler among several ``serve`` processes: the one holding an advisory lock.

On PostgreSQL, :class:`LeaderElection` tries ``pg_try_advisory_lock`` on a dedicated
connection every ``leader_retry_seconds``; the holder runs the schedules (``on_elected``),
checks its connection at the same pace and stops them (``on_deposed``) when it is lost.
When the leader dies, PostgreSQL drops its connection and lock, and a standby takes over at
its next try; APScheduler's misfire handling (coalesce, grace) fires what fell due in the
gap once. On SQLite (one machine) the process is always the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from archive import locks

logger = logging.getLogger(__name__)


class LeaderElection:
    def __init__(self, engine: Engine, retry_seconds: float,
                 on_elected: Callable[[], None], on_deposed: Callable[[], None]) -> None:
        self.retry_seconds = retry_seconds
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.is_leader = False
        self._lock = locks.SessionLock(engine, locks.LEADER, 0) \
            if locks.supported(engine) else None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._lock is None:
            self._elected()
            return
        self._task = asyncio.create_task(self._campaign(), name="leader-election")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.is_leader:
            self._deposed()
        if self._lock is not None:
            await asyncio.to_thread(self._lock.dispose)

    async def _campaign(self) -> None:
        assert self._lock is not None
        while True:
            try:
                if self.is_leader:
                    if not await asyncio.to_thread(self._lock.check):
                        self._deposed()
                elif await asyncio.to_thread(self._lock.acquire):
                    self._elected()
            except SQLAlchemyError as exc:
                logger.warning("leader election: database unavailable: %s", exc)
                if self.is_leader:
                    self._deposed()
            await asyncio.sleep(self.retry_seconds)

    def _elected(self) -> None:
        self.is_leader = True
        logger.info("this process is the scheduler leader")
        self.on_elected()

    def _deposed(self) -> None:
        self.is_leader = False
        logger.warning("no longer the scheduler leader: schedules stopped here")
        self.on_deposed()
