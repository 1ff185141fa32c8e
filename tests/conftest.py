"""The fixtures the tests share; the helpers behind them are in tests/support/."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from archive.catalog import Catalog
from scheduler.demo.server import DemoSite
from tests.support.cli import Archive
from tests.support.databases import POSTGRES_URL, REDIS_URL, RedisTarget
from tests.support.harness import is_setting, missing
from tests.support.s3 import S3_TEST_BUCKET, MotoServer, moto_server_executable
from tests.support.service import RunningService


@pytest.fixture(autouse=True)
def no_settings_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test sees the settings it sets, never a developer's NEWSARCHIVE_* variables."""
    for name in [n for n in os.environ if is_setting(n)]:
        monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def demo_site() -> Iterator[DemoSite]:
    with DemoSite() as site:
        yield site


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return Archive(tmp_path / "data")


@pytest.fixture
def service_factory(tmp_path: Path) -> Iterator[Any]:
    """Start ``newsarchive serve`` subprocesses (tests.support.service.RunningService):
    ``service_factory(env={...}, start=True)``; all are stopped (and their crawl children
    killed) at teardown."""
    made: list[RunningService] = []

    def make(env: dict[str, str | None] | None = None, *, start: bool = True,
             host: str = "127.0.0.1", replay_origin: bool = True) -> RunningService:
        service = RunningService(tmp_path / f"service{len(made)}", env, host=host,
                                 replay_origin=replay_origin)
        made.append(service)
        return service.start() if start else service

    yield make
    for service in made:
        service.close()


@pytest.fixture
def service(service_factory: Any) -> Any:
    """A running service with the default test environment (127.0.0.0/8 allowed)."""
    return service_factory()


# -- S3 over real HTTP: moto in server mode, as a separate process --------------------------


@pytest.fixture
def moto_factory(tmp_path: Path) -> Iterator[Any]:
    """Start moto servers on fresh free ports: ``moto_factory()`` → a running
    :class:`MotoServer`. Skips when moto_server is not installed, fails instead when
    NEWSARCHIVE_REQUIRE_SERVICES=1. Every server is stopped at teardown."""
    executable = moto_server_executable()
    if executable is None:
        missing("moto_server is not installed (pip install 'moto[server]')")
    started: list[MotoServer] = []

    def make() -> MotoServer:
        for attempt in range(3):  # a free port can be taken before moto binds it
            server = MotoServer(executable, tmp_path / f"moto-{len(started)}-{attempt}.log")
            started.append(server)
            try:
                return server.start()
            except RuntimeError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def s3_server(moto_factory: Any) -> MotoServer:
    """A running moto server with the bucket ``newsarchive-test`` created."""
    server = moto_factory()
    server.create_bucket(S3_TEST_BUCKET)
    return server


# -- PostgreSQL and Redis on 127.0.0.1 (scale-out) -------------------------------------------


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[Any]:
    """``postgres_databases()`` → the URL of a fresh, empty database on the test server
    (NEWSARCHIVE_TEST_POSTGRES_URL); every one is dropped at the end of the session."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect():
            pass
    except OperationalError as exc:
        admin.dispose()
        missing(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc.orig}")
    made: list[str] = []

    def make() -> str:
        name = f"newsarchive_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return admin.url.set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.connect() as conn:
        for name in made:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_catalog_url(postgres_databases: Any) -> str:
    """One migrated PostgreSQL catalog for the session (emptied by ``catalog_url``)."""
    Catalog(url := postgres_databases()).dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty catalog: SQLite in tmp_path, then the session's PostgreSQL
    database with every table truncated (ids restart at 1)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    url: str = request.getfixturevalue("postgres_catalog_url")
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = conn.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = "
                                   "current_schema() AND tablename <> 'alembic_version'"))
        names = ", ".join(f'"{t}"' for t in tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    """A migrated, empty catalog: SQLite, then PostgreSQL (see ``catalog_url``)."""
    catalog = Catalog(catalog_url)
    yield catalog
    catalog.dispose()


@pytest.fixture
def redis_target() -> Iterator[RedisTarget]:
    """The test Redis (NEWSARCHIVE_TEST_REDIS_URL) with a key namespace of this test's own;
    only its keys are deleted at teardown."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        missing(f"Redis is not reachable at {REDIS_URL}: {exc}")
    target = RedisTarget(REDIS_URL, f"newsarchive-test-{uuid.uuid4().hex[:12]}")
    yield target
    keys = list(client.scan_iter(match=f"{target.namespace}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


# `make test` runs the files on two workers (pytest-xdist, a file per worker at a time): the
# longest go first, so that none of them is left to run alone at the end.
LONG_FILES = ("test_scale_out.py", "test_service_lifecycle.py", "test_browser_capture.py",
              "test_capture_check.py", "test_interop_replayweb.py", "test_wire_fidelity.py",
              "test_service_runtime.py", "test_requisites.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: (LONG_FILES.index(item.path.name)
                                 if item.path.name in LONG_FILES else len(LONG_FILES)))
