"""Extraction pool workers (and their forkserver) end with the process that owns the pool."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

OWNER = """
import json, sys
import multiprocessing.forkserver as forkserver
from crawler.pool import extraction_pool

pool = extraction_pool(2)
print(sum(f.result() for f in [pool.submit(abs, -n) for n in range(20)]), flush=True)
print(json.dumps([*pool._processes, forkserver._forkserver._forkserver_pid]), flush=True)
sys.stdin.read()  # until killed
"""


def running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_workers_and_forkserver_exit_when_the_owner_is_killed() -> None:
    owner = subprocess.Popen([sys.executable, "-c", OWNER], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parent.parent)
    try:
        assert owner.stdout is not None
        assert owner.stdout.readline().strip() == str(sum(range(20)))
        pids = json.loads(owner.stdout.readline())
        assert len(pids) >= 2 and all(map(running, pids))
    finally:
        owner.kill()  # SIGKILL: no atexit, no pool shutdown
        owner.wait(timeout=30)
    deadline = time.monotonic() + 30
    while any(map(running, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)  # poll interval
    assert not [pid for pid in pids if running(pid)], "pool processes outlived their owner"
