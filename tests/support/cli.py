"""The real ``newsarchive`` CLI run against a data directory of the test's own: in a
subprocess (a crawl: Scrapy's reactor runs once per process), or in the test's own process
for the commands that start no reactor (no interpreter to start, nothing to import again)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.catalog import Catalog
from archive.config import ArchiveSettings

DEFAULT_COLUMNS = 80  # rich's width when its output is not a terminal and COLUMNS is unset
# Commands that run Scrapy's reactor (or a server): only ever in a subprocess.
REACTOR_COMMANDS = frozenset({"crawl", "demo", "serve", "worker"})
# A local test site needs no politeness: AutoThrottle's start delay between two requests to
# it would only make each crawl longer.
UNTHROTTLED = ("-s", "AUTOTHROTTLE_ENABLED=false")


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
        database = self.env.get("NEWSARCHIVE_DATABASE_URL")
        self.config = ArchiveSettings(data_dir=data_dir,
                                      **({"database_url": database} if database else {}))

    def cli(self, *args: str, env: dict[str, str] | None = None, timeout: float = 180,
            expect: int | None = 0) -> CliResult:
        full_env = {**os.environ, **self.env, **(env or {})}
        proc = subprocess.run([sys.executable, "-m", "scheduler.cli", *args], env=full_env,
                              capture_output=True, timeout=timeout, check=False)
        result = CliResult(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"))
        return checked(result, args, expect)

    def cli_in_process(self, *args: str, env: dict[str, str] | None = None, stdin: str = "",
                       expect: int | None = 0) -> CliResult:
        """``cli`` in this process: the same command tree, exit statuses and output, the
        environment set for the call only. A command that runs Scrapy's reactor (once per
        process) only when it is to be refused before it starts (``expect`` not 0)."""
        if args and args[0] in REACTOR_COMMANDS and not expect:
            raise ValueError(f"newsarchive {args[0]} runs Scrapy's reactor: use cli()")
        stdout, stderr = output_stream(), output_stream()
        call_env = {**self.env, **(env or {})}
        with redirect_stdout(stdout), redirect_stderr(stderr):
            # First imported here, not in a terminal. Rich reads COLUMNS once, when a console
            # is made (at import): each call sets the width a process of its own would have.
            from scheduler.cli import app
            from scheduler.cli.common import err, out

            out.width = err.width = int(call_env.get("COLUMNS", DEFAULT_COLUMNS))
            with environment(call_env), replaced_stdin(stdin):
                try:
                    app(args=list(args), prog_name="newsarchive")
                    returncode = 0
                except SystemExit as exc:
                    returncode = exit_status(exc)
        result = CliResult(returncode, stdout.buffer.getvalue(),
                           stderr.buffer.getvalue().decode("utf-8", "replace"))
        return checked(result, args, expect)

    def crawl(self, *args: str, env: dict[str, str] | None = None, expect: int | None = 0,
              throttled: bool = True) -> dict[str, Any]:
        """``crawl --json``; ``throttled=False`` turns AutoThrottle off (``UNTHROTTLED``)."""
        options = () if throttled else UNTHROTTLED
        return self.cli("crawl", "--json", *args, *options, env=env, expect=expect).json()

    def catalog(self) -> Catalog:
        return Catalog(self.config.database_url)

    def warc_paths(self) -> list[Path]:
        return sorted((self.data_dir / "storage" / "warcs").glob("*.warc.gz"))


def checked(result: CliResult, args: tuple[str, ...], expect: int | None) -> CliResult:
    """``result``, or an AssertionError with its output when it exited otherwise."""
    if expect is not None and result.returncode != expect:
        raise AssertionError(f"newsarchive {' '.join(args)} exited {result.returncode}, "
                             f"expected {expect}\nstdout: {result.text[-2000:]}\n"
                             f"stderr: {result.stderr[-4000:]}")
    return result


def exit_status(exc: SystemExit) -> int:
    """The status a process ending with ``exc`` exits with (a message: printed, 1)."""
    if exc.code is None or isinstance(exc.code, int):
        return exc.code or 0
    print(exc.code, file=sys.stderr)
    return 1


def output_stream() -> io.TextIOWrapper:
    """A stand-in for ``sys.stdout``/``sys.stderr``: text, and bytes on ``.buffer`` (a
    ``BytesIO``) as ``snapshot --raw`` writes them, in the order they were written."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """``os.environ`` with ``values`` set, as it was again afterwards."""
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def replaced_stdin(text: str) -> Iterator[None]:
    saved, sys.stdin = sys.stdin, io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = saved
