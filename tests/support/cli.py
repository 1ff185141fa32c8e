"""The real ``newsarchive`` CLI run in a subprocess (Scrapy's reactor runs once per
process) against a data directory of the test's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.catalog import Catalog
from archive.config import ArchiveSettings


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
