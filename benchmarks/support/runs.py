"""How one benchmark invocation is organised: scratch directory, round order, figures.

``percentile`` is the one definition every benchmark uses for latency percentiles;
``median`` (of rounds) is ``statistics.median``, NaN for no values.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank, without interpolation.

    The value at index ``floor(q / 100 * n)`` of the ``n`` sorted values (the last one for
    q = 100): the smallest value with more than q % of the sample at or below it, always one
    of the measured values. This is the definition the published lookup and load-generator
    figures used (replay.py, api_load.py's httpx fallback). wrk reports its own percentiles
    from its latency histogram; they are printed as wrk gives them.
    """
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def median(values: Sequence[float]) -> float:
    """``statistics.median`` (the mean of the middle two for an even count); NaN if empty."""
    return statistics.median(values) if values else float("nan")


def round_order(items: Sequence[T], rnd: int, *, rotate: bool = False,
                reverse_odd: bool = False) -> list[T]:
    """The order of ``items`` in round ``rnd`` (from 0): rotated by ``rnd`` places, and/or
    reversed in odd rounds, so no mode always runs first (or always after the same one)."""
    order = list(items)
    if rotate and order:
        shift = rnd % len(order)
        order = order[shift:] + order[:shift]
    if reverse_odd and rnd % 2:
        order.reverse()
    return order


@contextlib.contextmanager
def scratch_dir(prefix: str, *, keep: bool, path: Path | None = None) -> Iterator[Path]:
    """The directory one invocation works in: ``path`` (created if needed, always kept), or
    a new temp directory, removed at the end unless ``keep``; "kept DIR" is printed when it
    stays. SIGTERM becomes ``sys.exit(143)`` so that servers started inside are stopped."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = path or Path(tempfile.mkdtemp(prefix=prefix))
    work.mkdir(parents=True, exist_ok=True)
    try:
        yield work
    finally:
        if keep or path is not None:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def snapshot_revision(repo: Path, revision: str, packages: Sequence[str], dest: Path) -> None:
    """The project's ``packages`` as they were at git ``revision``, into ``dest`` (the code
    of a ``--baseline`` run)."""
    dest.mkdir()
    archive = subprocess.run(["git", "-C", str(repo), "archive", revision, *packages],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)


def snapshot_code(repo: Path, packages: Sequence[str], dest: Path) -> str:
    """Copy the project's ``packages`` from ``repo`` to ``dest`` (to put first on the
    PYTHONPATH of every run): other people edit the working tree while a benchmark runs, and
    the snapshot keeps all runs of one invocation on the same code. Returns a short hash of
    what was copied."""
    digest = hashlib.sha256()
    for package in packages:
        shutil.copytree(repo / package, dest / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for path in sorted(dest.rglob("*.py")):
        digest.update(path.relative_to(dest).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
