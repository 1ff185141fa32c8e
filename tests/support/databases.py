"""PostgreSQL and Redis on 127.0.0.1, as CI starts them (``.ci/services``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from tests.support.harness import missing

POSTGRES_URL = os.environ.get("NEWSARCHIVE_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("NEWSARCHIVE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def schema_head() -> str:
    """The newest migration's revision id: what a migrated catalog's ``alembic_version``
    holds."""
    from alembic.script import ScriptDirectory

    from archive.catalog import MIGRATIONS_DIR

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert head is not None
    return head


@contextmanager
def temporary_database(kind: str, directory: Path) -> Iterator[str]:
    """A SQLite file in ``directory``, or a fresh PostgreSQL schema dropped afterwards (skip
    without PostgreSQL, fail with NEWSARCHIVE_REQUIRE_SERVICES=1)."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'catalog.sqlite'}"
        return
    schema = f"newsarchive_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except OperationalError as exc:
        admin.dispose()
        missing(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc.orig}")
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@dataclass
class RedisTarget:
    url: str
    namespace: str  # every key of this test starts with it

    @property
    def env(self) -> dict[str, str]:
        return {"NEWSARCHIVE_BROKER_URL": self.url, "NEWSARCHIVE_BROKER_NAMESPACE": self.namespace}
