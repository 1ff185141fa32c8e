"""The catalog database: engine, migrations, sessions.

SQLite by default (WAL mode, foreign keys on), any SQLAlchemy URL otherwise (PostgreSQL:
``postgresql+psycopg://…``, connections checked before use). The schema is always created
by running the Alembic migrations in ``archive/migrations``; a catalog already at the newest
revision is recognised with one query, without importing Alembic (about a tenth of a
crawl's start-up).
"""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_MIGRATION_FILE = re.compile(r"(\d{4})_\w+\.py")


def head_revision() -> str:
    """The newest migration's revision. Each file is named after its revision
    (``0012_article_versions.py`` is revision ``"0012"``, the one after ``"0011"``), which
    tests check against Alembic's own reading of the scripts."""
    return max(match[1] for path in (MIGRATIONS_DIR / "versions").iterdir()
               if (match := _MIGRATION_FILE.fullmatch(path.name)))


def at_head(engine: Engine) -> bool:
    """Whether the catalog's schema is at :func:`head_revision` (False for a new database,
    or one a concurrent migration keeps locked for now)."""
    try:
        with engine.connect() as conn:
            current = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:
        return False
    return [row[0] for row in current] == [head_revision()]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    # a server database may restart or drop idle connections under long-lived workers
    engine = create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        if engine.url.database:
            Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


# pg_advisory_lock key pair held while migrating (scheduler/locks.py uses 7001-7004)
MIGRATION_LOCK = {"ns": 7000, "key": 0}


class NotOurRevision(Exception):
    """The schema is at a revision the migrations do not know (a newer newsarchive's)."""


def _upgrade(engine: Engine) -> None:
    from alembic import command
    from alembic.util import CommandError

    try:
        command.upgrade(alembic_config(engine), "head")
    except CommandError as exc:
        raise NotOurRevision(str(exc)) from None


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent).

    On PostgreSQL, processes starting together (several ``serve`` and workers) migrate one
    at a time under an advisory lock; the others then find the schema up to date. On SQLite,
    see :func:`_sqlite_migration_lock`.
    """
    if engine.dialect.name == "sqlite":
        if _sqlite_file_size(engine) and at_head(engine):
            return  # written, so switched to WAL already: the probe needed no lock
        with _sqlite_migration_lock(engine):
            if not at_head(engine):
                _migrate_sqlite(engine)
        return
    if at_head(engine):
        return
    if engine.dialect.name != "postgresql":
        _upgrade(engine)
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:ns, :key)"), MIGRATION_LOCK)
        try:
            _upgrade(engine)
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:ns, :key)"), MIGRATION_LOCK)
            conn.commit()


def _sqlite_path(engine: Engine) -> str | None:
    """The file of an SQLite catalog named by its path (None: in memory, or a ``file:`` URI)."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def _sqlite_file_size(engine: Engine) -> int:
    """The size of an SQLite catalog's file (0: none yet, or not a file). A ``stat``, never
    an open: closing the database file would drop this process's SQLite locks on it."""
    if (database := _sqlite_path(engine)) is None:
        return 0
    try:
        return Path(database).stat().st_size
    except OSError:
        return 0


@contextmanager
def _sqlite_migration_lock(engine: Engine) -> Iterator[None]:
    """An exclusive ``flock`` of ``NAME.migrate-lock`` beside an SQLite catalog, held while a
    process opening it checks its revision and, if behind, upgrades it.

    SQLite's own locks cannot order processes opening a new catalog together: switching a
    new file to WAL, as every connection's first statement does, answers "database is
    locked" at once, without waiting out the busy timeout, while another connection holds
    the write lock (one process's probe was switching the file while another began the
    upgrade, and the upgrade failed). So a process finding the file empty or missing, or
    the schema behind, checks it again under the lock: each new file is switched to WAL by
    one process at a time. A file with content has been switched already (the switch is its
    first write), and probing it needs no lock, so an up-to-date catalog opens without one.
    A file of its own, because opening and closing the database file itself would drop the
    POSIX locks this process's other SQLite connections hold on it (SQLite's "how to
    corrupt" list, 2.2), and a catalog opened twice in one process did.
    """
    if (database := _sqlite_path(engine)) is None:
        yield
        return
    with open(f"{database}.migrate-lock", "ab") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _migrate_sqlite(engine: Engine) -> None:
    """Upgrade an SQLite catalog in one ``BEGIN IMMEDIATE`` transaction, under
    :func:`_sqlite_migration_lock`.

    pysqlite commits DDL as it goes (it opens a transaction only before DML) and alembic
    commits SQLite migrations one by one, so two processes creating a new catalog at once
    both created its tables ("table sites already exists"), and a process killed mid-upgrade
    left half a schema. In one transaction (SQLAlchemy's documented pysqlite recipe, with
    ``transactional_ddl`` in ``migrations/env.py``) a killed upgrade rolls back.
    """
    migration_engine = create_engine(engine.url, poolclass=NullPool)

    @event.listens_for(migration_engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        _sqlite_pragmas(dbapi_connection, record)
        dbapi_connection.isolation_level = None  # the driver issues no BEGIN of its own

    @event.listens_for(migration_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        _upgrade(migration_engine)
    finally:
        migration_engine.dispose()


class CatalogError(Exception):
    """The catalog cannot be opened; the message names it (no password) and why."""


def shown(url: str) -> str:
    """A database URL fit to print: its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return url.split("@")[-1] if "@" in url else url


class Catalog:
    """Owns the engine and hands out sessions; created once per process."""

    def __init__(self, url: str, *, upgrade: bool = True) -> None:
        self.url = url
        try:
            self.engine = make_engine(url)
            if upgrade:
                migrate(self.engine)
        except NotOurRevision as exc:
            raise CatalogError(f"cannot open the catalog {shown(url)}: {exc}; was it made by "
                               "a newer newsarchive?") from None
        except (SQLAlchemyError, OSError, ValueError, ImportError) as exc:
            # ValueError: a malformed URL; ImportError: a database driver not installed
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise CatalogError(f"cannot open the catalog {shown(url)}: {reason} (the catalog "
                               "is NEWSARCHIVE_DATABASE_URL, by default "
                               "NEWSARCHIVE_DATA_DIR/catalog.sqlite)") from None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def local_file(self) -> Path | None:
        """The database file of an SQLite catalog (None for a server or in-memory one)."""
        if self.engine.dialect.name != "sqlite" or self.engine.url.database in (None, "",
                                                                                ":memory:"):
            return None
        return Path(self.engine.url.database)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
