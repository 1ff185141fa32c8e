"""CPU and memory of processes and of the machine, read from /proc (Linux).

CPU figures are seconds of user + system time; memory figures are kB as /proc reports them.
A process that has gone counts 0. ``run_measured`` runs one command as a subprocess with its
process tree sampled, its wall time, ``wait4`` usage and the machine's CPU meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_tree(root: int) -> list[int]:
    """``root`` and all its descendants alive now (from each process's parent pid)."""
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, ()))
    return tree


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process, all its threads (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu_s(root: int) -> float:
    """CPU seconds used so far by ``root`` and its live descendants."""
    return sum(cpu_s(pid) for pid in proc_tree(root))


def children_cpu_s() -> float:
    """CPU seconds of this process's children that have been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def system_cpu() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot, all cores; busy leaves out
    idle, iowait and steal."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle, iowait, steal = values[3], values[4], values[7]
    return (sum(values[:8]) - idle - iowait - steal) / CLK_TCK, steal / CLK_TCK


def busy_cpu_s() -> float:
    """CPU seconds the whole machine has been busy since boot, steal included."""
    busy, steal = system_cpu()
    return busy + steal


def status_kb(pid: int, field: str) -> int:
    """A kB field of /proc/PID/status (``"VmRSS:"``, ``"VmHWM:"``); 0 if the process is gone."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def rss_kb(pid: int) -> int:
    """Resident set size of one process."""
    return status_kb(pid, "VmRSS:")


def pss_kb(pid: int) -> int:
    """Proportional set size of one process (``/proc/PID/smaps_rollup``): each page shared
    by n processes counts 1/n, so a tree's sum is the memory it takes; 0 if it is gone.
    About a millisecond per process to read (the kernel walks its page tables)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def tree_rss_kb(root: int) -> int:
    """Summed resident set size of ``root`` and its live descendants."""
    return sum(rss_kb(pid) for pid in proc_tree(root))


def comm(pid: int) -> str:
    """The command name of a process (``/proc/PID/comm``: at most 15 characters); "" if it
    is gone."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/comm") as f:
        return f.read().strip()
    return ""


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


class TreeMemorySampler(threading.Thread):
    """Samples the RSS and CPU of a process and its descendants every ``interval`` s, from
    /proc, until ``stop()``: the peak of the summed RSS, each process's peak RSS (VmHWM) and
    last seen CPU time, and the peak of the summed RSS of the processes of each command name
    (``comm``: e.g. ``chromium`` for all of a browser's processes). Descendants that nobody
    waits for (a forkserver's workers) are invisible to ``RUSAGE_CHILDREN``; this sees
    them. The RSS of processes sharing memory (a browser's) is counted once per process;
    with ``pss_every`` n > 0, every n-th sample also sums the tree's PSS (``peak_tree_pss_kb``:
    shared pages split between their processes), which costs ~1 ms per process."""

    def __init__(self, pid: int, interval: float = 0.25, pss_every: int = 0) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.pss_every = pid, interval, pss_every
        self.peak_tree_kb = 0
        self.peak_tree_pss_kb = 0
        self.peak_processes = 0  # most processes in the tree at once
        self.peak_hwm: dict[int, int] = {}
        self.peak_comm_kb: dict[str, int] = {}  # peak summed RSS per command name
        self.cpu: dict[int, float] = {}  # last seen CPU seconds of each process of the tree
        self.comms: dict[int, str] = {}  # each process's command name, as last sampled
        self._stop_event = threading.Event()

    def run(self) -> None:
        samples = 0
        while not self._stop_event.is_set():
            total = 0
            by_comm: dict[str, int] = {}
            tree = proc_tree(self.pid)
            if self.pss_every and samples % self.pss_every == 0:
                self.peak_tree_pss_kb = max(self.peak_tree_pss_kb,
                                            sum(pss_kb(pid) for pid in tree))
            samples += 1
            for pid in tree:
                rss = rss_kb(pid)
                total += rss
                name = comm(pid) or self.comms.get(pid, "")  # (it changes at exec)
                self.comms[pid] = name
                by_comm[name] = by_comm.get(name, 0) + rss
                hwm = status_kb(pid, "VmHWM:")
                self.cpu[pid] = max(self.cpu.get(pid, 0.0), cpu_s(pid))
                self.peak_hwm[pid] = max(self.peak_hwm.get(pid, 0), hwm)
            self.peak_tree_kb = max(self.peak_tree_kb, total)
            self.peak_processes = max(self.peak_processes, len(tree))
            for name, kb in by_comm.items():
                self.peak_comm_kb[name] = max(self.peak_comm_kb.get(name, 0), kb)
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    @property
    def descendants_cpu_s(self) -> float:
        """CPU seconds of the descendants, as last sampled."""
        return sum(v for pid, v in self.cpu.items() if pid != self.pid)

    @property
    def sampled_cpu_s(self) -> float:
        """CPU seconds of the whole tree, each process's own as last sampled: what a process
        used after its last sample is missed (a lower bound), but nothing is counted twice,
        as ``wait4``'s children's time plus the descendants' would be."""
        return sum(self.cpu.values())

    @property
    def sampled_cpu_by_comm(self) -> dict[str, float]:
        """``sampled_cpu_s`` by command name."""
        totals: dict[str, float] = {}
        for pid, seconds in self.cpu.items():
            name = self.comms.get(pid, "")
            totals[name] = totals.get(name, 0.0) + seconds
        return totals

    @property
    def peak_other_kb(self) -> int:
        """Largest peak RSS of any descendant."""
        return max((v for pid, v in self.peak_hwm.items() if pid != self.pid), default=0)


@dataclass
class Measured:
    """One command run by :func:`run_measured`."""

    returncode: int
    wall_s: float
    rusage: resource.struct_rusage  # wait4's: the process and the descendants it reaped
    sampler: TreeMemorySampler  # the tree as sampled while it ran (stopped)
    busy_s: float  # CPU the whole machine used meanwhile (steal left out)
    steal_s: float

    @property
    def cpu_s(self) -> float:
        """User + system CPU of the process and every descendant reaped in its tree (a
        descendant left to init, like a forkserver's worker, is not in it)."""
        return self.rusage.ru_utime + self.rusage.ru_stime


def run_measured(cmd: Sequence[str], *, cwd: Path, env: dict[str, str], stdout: IO[bytes],
                 stderr: IO[bytes], on_start: Callable[[int], None] | None = None,
                 interval: float = 0.25, pss_every: int = 0) -> Measured:
    """Run ``cmd`` to its end with its process tree sampled every ``interval`` s (PSS every
    ``pss_every``-th time: :class:`TreeMemorySampler`); ``on_start`` gets its pid once it
    runs."""
    busy0, steal0 = system_cpu()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=stdout, stderr=stderr)
    sampler = TreeMemorySampler(proc.pid, interval, pss_every)
    sampler.start()
    if on_start is not None:
        on_start(proc.pid)
    _, status, rusage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    sampler.stop()
    busy1, steal1 = system_cpu()
    return Measured(proc.returncode, wall, rusage, sampler, busy1 - busy0, steal1 - steal0)
