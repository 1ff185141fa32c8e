"""Shared fixtures: the bundled demo news site on 127.0.0.1 and a CLI runner.

Crawls run the real ``newsarchive`` CLI in a subprocess (Scrapy's reactor runs once per
process), against the demo site served by this test session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from archive.catalog import Catalog
from archive.config import ArchiveSettings
from scheduler.demo.server import DemoSite


@dataclass
class CliResult:
    returncode: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.stdout)


class Archive:
    """A data directory the CLI writes to, with helpers to run commands against it."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.env = {
            "NEWSARCHIVE_DATA_DIR": str(data_dir),
            "NEWSARCHIVE_ALLOWED_NETWORKS": "127.0.0.0/8",
            "NEWSARCHIVE_DOWNLOAD_TIMEOUT": "3",
            **(env or {}),
        }
        self.config = ArchiveSettings(data_dir=data_dir)

    def cli(self, *args: str, env: dict[str, str] | None = None, timeout: float = 180,
            expect: int | None = 0) -> CliResult:
        full_env = {**os.environ, **self.env, **(env or {})}
        proc = subprocess.run([sys.executable, "-m", "scheduler.cli", *args], env=full_env,
                              capture_output=True, timeout=timeout, check=False)
        result = CliResult(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"))
        if expect is not None and proc.returncode != expect:
            raise AssertionError(f"newsarchive {' '.join(args)} exited {proc.returncode}, "
                                 f"expected {expect}\nstdout: {result.text[-2000:]}\n"
                                 f"stderr: {result.stderr[-4000:]}")
        return result

    def crawl(self, *args: str, env: dict[str, str] | None = None,
              expect: int | None = 0) -> dict[str, Any]:
        return self.cli("crawl", "--json", *args, env=env, expect=expect).json()

    def catalog(self) -> Catalog:
        return Catalog(self.config.database_url)

    def warc_paths(self) -> list[Path]:
        return sorted((self.data_dir / "storage" / "warcs").glob("*.warc.gz"))


@pytest.fixture(scope="session")
def demo_site() -> Iterator[DemoSite]:
    with DemoSite() as site:
        yield site


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return Archive(tmp_path / "data")


@pytest.fixture
def service_factory(tmp_path: Path) -> Iterator[Any]:
    """Start ``newsarchive serve`` subprocesses (tests/service_helpers.RunningService):
    ``service_factory(env={...}, start=True)``; all are stopped (and their crawl children
    killed) at teardown."""
    from tests.service_helpers import RunningService

    made: list[RunningService] = []

    def make(env: dict[str, str | None] | None = None, *, start: bool = True,
             host: str = "127.0.0.1") -> RunningService:
        service = RunningService(tmp_path / f"service{len(made)}", env, host=host)
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


def services_required() -> bool:
    """CI sets NEWSARCHIVE_REQUIRE_SERVICES=1: a missing service is then a failure."""
    return os.environ.get("NEWSARCHIVE_REQUIRE_SERVICES") == "1"


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """``moto_server -H 127.0.0.1 -p PORT`` in its own process; boto3 talks to it over HTTP.

    :meth:`stop` kills the process (its objects are gone with it); :meth:`start` again binds
    the same port, so clients configured with :attr:`endpoint_url` keep working.
    """

    access_key = "newsarchive-test-key"
    secret_key = "newsarchive-test-secret"
    region = "us-east-1"

    def __init__(self, executable: str, log_path: Path, port: int | None = None) -> None:
        self.executable = executable
        self.log_path = log_path
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """What a ``newsarchive`` subprocess needs to reach this server."""
        return {"NEWSARCHIVE_S3_ENDPOINT_URL": self.endpoint_url,
                "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_EC2_METADATA_DISABLED": "true"}

    def start(self, timeout: float = 30.0) -> MotoServer:
        import time
        import urllib.error
        import urllib.request

        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [self.executable, "-H", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto_server on port {self.port} exited with "
                                   f"{self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(self.endpoint_url + "/", timeout=1) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"moto_server on port {self.port} did not answer within "
                                   f"{timeout:g} s: {self.log_tail()}")
            time.sleep(0.05)  # poll interval

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.kill()
        proc.wait(timeout=10)

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def client(self, **config: Any) -> Any:
        """A fresh boto3 S3 client (path-style) for this server."""
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region,
                            aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key,
                            config=Config(s3={"addressing_style": "path"}, **config))

    def create_bucket(self, bucket: str) -> None:
        self.client().create_bucket(Bucket=bucket)

    def storage(self, url: str, **options: Any) -> Any:
        """An ``archive.s3.S3Storage`` for ``url`` on this server (its own client)."""
        from archive.s3 import S3Storage

        return S3Storage(url, endpoint_url=self.endpoint_url, region_name=self.region,
                         aws_access_key_id=self.access_key,
                         aws_secret_access_key=self.secret_key, **options)


def moto_server_executable() -> str | None:
    import shutil

    beside = Path(sys.executable).with_name("moto_server")
    if beside.exists():
        return str(beside)
    return shutil.which("moto_server")


@pytest.fixture
def moto_factory(tmp_path: Path) -> Iterator[Any]:
    """Start moto servers on fresh free ports: ``moto_factory()`` → a running
    :class:`MotoServer`. Skips when moto_server is not installed, fails instead when
    NEWSARCHIVE_REQUIRE_SERVICES=1. Every server is stopped at teardown."""
    executable = moto_server_executable()
    if executable is None:
        message = "moto_server is not installed (pip install 'moto[server]')"
        if services_required():
            pytest.fail(message + " and NEWSARCHIVE_REQUIRE_SERVICES=1")
        pytest.skip(message)
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


S3_TEST_BUCKET = "newsarchive-test"


@pytest.fixture
def s3_server(moto_factory: Any) -> MotoServer:
    """A running moto server with the bucket ``newsarchive-test`` created."""
    server = moto_factory()
    server.create_bucket(S3_TEST_BUCKET)
    return server


# -- PostgreSQL and Redis on 127.0.0.1 (scale-out) -------------------------------------------

POSTGRES_URL = os.environ.get("NEWSARCHIVE_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("NEWSARCHIVE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _missing(message: str) -> None:
    if services_required():
        pytest.fail(message + " and NEWSARCHIVE_REQUIRE_SERVICES=1")
    pytest.skip(message)


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
        _missing(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc.orig}")
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


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
        _missing(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc.orig}")
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
    from sqlalchemy import create_engine, text

    url: str = request.getfixturevalue("postgres_catalog_url")
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = conn.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = "
                                   "current_schema() AND tablename <> 'alembic_version'"))
        names = ", ".join(f'"{t}"' for t in tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@dataclass
class RedisTarget:
    url: str
    namespace: str  # every key of this test starts with it

    @property
    def env(self) -> dict[str, str]:
        return {"NEWSARCHIVE_BROKER_URL": self.url, "NEWSARCHIVE_BROKER_NAMESPACE": self.namespace}


@pytest.fixture
def redis_target() -> Iterator[RedisTarget]:
    """The test Redis (NEWSARCHIVE_TEST_REDIS_URL) with a key namespace of this test's own;
    only its keys are deleted at teardown."""
    import uuid

    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        _missing(f"Redis is not reachable at {REDIS_URL}: {exc}")
    target = RedisTarget(REDIS_URL, f"newsarchive-test-{uuid.uuid4().hex[:12]}")
    yield target
    keys = list(client.scan_iter(match=f"{target.namespace}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


# -- pywb, in its own virtualenv (its pins clash with ours) ------------------------------------

PYWB_VENV = Path(__file__).resolve().parents[1] / ".cache" / "pywb-venv"


def pywb_bin() -> Path:
    """``bin/`` of the pywb virtualenv, created on first use."""
    bin_dir = PYWB_VENV / "bin"
    if (bin_dir / "wayback").exists() and (bin_dir / "wb-manager").exists():
        return bin_dir
    for command in ([sys.executable, "-m", "venv", str(PYWB_VENV)],
                    [str(bin_dir / "pip"), "install", "--quiet", "pywb"]):
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=900,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            proc = subprocess.CompletedProcess(command, 1, "", str(exc))
        if proc.returncode != 0:
            message = f"cannot install pywb ({' '.join(command)}): {proc.stderr[-1500:]}"
            if services_required():
                pytest.fail(message + " and NEWSARCHIVE_REQUIRE_SERVICES=1")
            pytest.skip(message)
    return bin_dir
