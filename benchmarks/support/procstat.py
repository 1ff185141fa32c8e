"""CPU and memory of processes and of the machine, read from /proc (Linux).

CPU figures are seconds of user + system time; memory figures are kB as /proc reports them.
A process that has gone counts 0.
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading

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


def tree_rss_kb(root: int) -> int:
    """Summed resident set size of ``root`` and its live descendants."""
    return sum(rss_kb(pid) for pid in proc_tree(root))


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


class TreeMemorySampler(threading.Thread):
    """Samples the RSS and CPU of a process and its descendants every ``interval`` s, from
    /proc, until ``stop()``: the peak of the summed RSS, each process's peak RSS (VmHWM) and
    last seen CPU time. Descendants that nobody waits for (a forkserver's workers) are
    invisible to ``RUSAGE_CHILDREN``; this sees them."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_tree_kb = 0
        self.peak_hwm: dict[int, int] = {}
        self.cpu: dict[int, float] = {}  # last seen CPU seconds of each process of the tree
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            total = 0
            for pid in proc_tree(self.pid):
                total += rss_kb(pid)
                hwm = status_kb(pid, "VmHWM:")
                self.cpu[pid] = max(self.cpu.get(pid, 0.0), cpu_s(pid))
                self.peak_hwm[pid] = max(self.peak_hwm.get(pid, 0), hwm)
            self.peak_tree_kb = max(self.peak_tree_kb, total)
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    @property
    def descendants_cpu_s(self) -> float:
        """CPU seconds of the descendants, as last sampled."""
        return sum(v for pid, v in self.cpu.items() if pid != self.pid)

    @property
    def peak_other_kb(self) -> int:
        """Largest peak RSS of any descendant."""
        return max((v for pid, v in self.peak_hwm.items() if pid != self.pid), default=0)
