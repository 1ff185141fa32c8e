"""Small and read-only disks for tests of write failures: a tmpfs mounted for the test (root
only: the test skips elsewhere, and fails in CI, which runs as root)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.harness import missing


def _mount(*args: str) -> None:
    proc = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        missing(f"cannot mount a tmpfs for the test ({' '.join(args)}): {proc.stderr.strip()}")


@contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``3m``) at ``path``, writable by every user; unmounted after."""
    if os.geteuid() != 0:
        missing("mounting a small tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(path))
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def grow(path: Path, size: str) -> None:
    """Give the tmpfs at ``path`` more room (free the disk)."""
    _mount("-o", f"remount,size={size}", str(path))
