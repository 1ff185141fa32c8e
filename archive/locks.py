"""PostgreSQL advisory locks: one scheduler, one crawl per site, one enqueue per request.

A :class:`SessionLock` lives on its own connection (outside the pool), so it is held exactly
as long as that connection: a process or machine that dies releases it when PostgreSQL
notices the connection is gone. :func:`transaction_lock` serializes a short critical section
of a transaction across processes. On SQLite (one machine) none of this applies: callers
check :func:`supported` and keep their in-process behaviour.
"""

from __future__ import annotations

import logging
import zlib

from sqlalchemy import Connection, Engine, create_engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

logger = logging.getLogger(__name__)

# First key of the two-integer lock space: what the second key identifies.
LEADER = 7001  # the scheduler (second key 0)
SITE = 7002  # a site's crawl (site id)
JOB = 7003  # a job's attempt (job id): free while running = its worker died
ENQUEUE = 7004  # an enqueue critical section (hash of the dedupe/idempotency key)


def supported(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def key_of(value: int | str) -> int:
    """A signed 32-bit lock key: ids as they are, strings by CRC-32."""
    if isinstance(value, int):
        return value
    return zlib.crc32(value.encode()) - 2**31


def transaction_lock(session: Session, namespace: int, value: int | str) -> None:
    """Block until this transaction holds the lock; released at commit or rollback."""
    session.execute(select(func.pg_advisory_xact_lock(namespace, key_of(value))))


class SessionLock:
    """A session-level advisory lock held on a dedicated connection."""

    def __init__(self, engine: Engine, namespace: int, value: int | str) -> None:
        # NullPool: closing the connection really closes it, which releases the lock
        self._engine = create_engine(engine.url, poolclass=NullPool,
                                     isolation_level="AUTOCOMMIT")
        self.key = (namespace, key_of(value))
        self._conn: Connection | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    def acquire(self) -> bool:
        """Try once, without waiting; True if this object now holds the lock."""
        if self._conn is not None:
            return True
        conn = self._engine.connect()
        try:
            got = conn.execute(select(func.pg_try_advisory_lock(*self.key))).scalar()
        except DBAPIError:
            conn.close()
            raise
        if got:
            self._conn = conn
        else:
            conn.close()
        return bool(got)

    def check(self) -> bool:
        """Whether the lock is still held (its connection answers); drops it if not."""
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
        except DBAPIError as exc:
            logger.warning("advisory lock %s lost with its connection: %s", self.key, exc)
            self._close()
            return False
        return True

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(select(func.pg_advisory_unlock(*self.key)))
        except DBAPIError as exc:  # the connection is gone, and the lock with it
            logger.warning("could not unlock %s: %s", self.key, exc)
        self._close()

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except DBAPIError:
                conn.invalidate()

    def dispose(self) -> None:
        self.release()
        self._engine.dispose()

    def __enter__(self) -> SessionLock:
        return self

    def __exit__(self, *_: object) -> None:
        self.dispose()
