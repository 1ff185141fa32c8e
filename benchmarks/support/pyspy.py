"""py-spy sampling a process (a server, a crawl), and a summary of where its Python time goes.

``PySpy.start`` runs ``py-spy record --gil --nonblocking`` (only the thread holding the GIL,
i.e. where Python time goes) in raw (collapsed stacks) format; ``summarise`` reads that
file: the share of samples by thread (event loop vs the threadpool that runs sync
endpoints), by package of the innermost frame, and the top functions by own and by
inclusive time (project code and selected framework frames). ``read_samples`` gives the
counts themselves, for comparing two recordings (requisites.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PY_SPY_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
SQLITE_CALLS = {"do_execute", "do_executemany", "do_close", "do_commit", "do_rollback",
                "connect", "fetchall", "fetchone", "_fetchall_impl", "_fetchone_impl"}
AREAS = (  # (label, substring of the frame's file), first match wins
    ("sqlalchemy", "/sqlalchemy/"), ("pydantic", "/pydantic"), ("fastapi", "/fastapi/"),
    ("starlette", "/starlette/"), ("uvicorn", "/uvicorn/"), ("h11", "/h11/"),
    ("anyio", "/anyio/"), ("asyncio", "/asyncio/"), ("logging", "/logging/"),
    ("json", "/json/"), ("pathlib/os", "/pathlib"), ("threading", "threading.py"),
    ("apscheduler", "/apscheduler/"), ("scrapy", "/scrapy/"), ("twisted", "/twisted/"),
    ("lxml", "/lxml/"), ("parsel", "/parsel/"), ("w3lib", "/w3lib/"), ("warcio", "/warcio/"),
    ("project: archive", "/archive/"), ("project: crawler", "/crawler/"),
    ("project: scheduler", "/scheduler/"), ("other packages", "/site-packages/"),
    ("imports", "<frozen importlib"), ("stdlib: other", "/lib/python3"),
)
LOOP_FILES = ("/asyncio/", "/uvicorn/", "/starlette/", "/fastapi/", "/anyio/", "/h11/")
INCLUSIVE_FUNCS = {  # framework frames worth a line of their own in the inclusive list
    "RequestResponseCycle.run_asgi", "H11Protocol.data_received", "RequestResponseCycle.send",
    "run_in_threadpool", "WorkerThread.run", "serialize_response", "TypeAdapter.dump_json",
    "BaseModel.model_validate", "Session.get", "Session.execute", "Session.scalars",
    "SessionTransaction.commit", "Session.close", "_ConnectionFairy._checkout",
    "_ConnectionRecord.__connect", "DefaultDialect.connect", "DefaultDialect.do_execute",
    "Logger.info", "Path.rglob", "Path.stat",
}


def find_py_spy(explicit: str | None) -> str | None:
    """``explicit``, else py-spy on PATH, else beside this interpreter; None if none."""
    for candidate in (explicit, shutil.which("py-spy"),
                      str(Path(sys.executable).parent / "py-spy")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


class PySpy:
    """One ``py-spy record`` of process ``pid`` at 200 Hz for ``duration`` s into ``out``."""

    def __init__(self, py_spy: str, pid: int, duration: float, out: Path) -> None:
        self.out, self.duration = out, duration
        self.proc = subprocess.Popen(
            [py_spy, "record", "--pid", str(pid), "--rate", "200", "--gil", "--nonblocking",
             "--full-filenames", "--format", "raw", "--duration",
             str(max(1, round(duration))), "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)  # let it attach before the load starts

    def finish(self) -> str | None:
        """Wait for the recording; None when it wrote its file, else py-spy's complaint."""
        _, err = self.proc.communicate(timeout=self.duration + 60)
        return None if self.out.exists() else err.strip()[-500:]


@dataclass
class Samples:
    """A raw py-spy recording counted: each frame is ``"func (short file)"``."""

    total: int = 0
    own: Counter[str] = field(default_factory=Counter)  # the innermost frame
    inclusive: Counter[str] = field(default_factory=Counter)  # each frame on the stack, once
    areas: Counter[str] = field(default_factory=Counter)  # package of the innermost frame
    roles: Counter[str] = field(default_factory=Counter)  # which thread
    stacks: Counter[tuple[str, ...]] = field(default_factory=Counter)  # functions, root first


def read_samples(path: Path, within: str | None = None) -> Samples:
    """Count the samples of a raw (collapsed stacks) py-spy recording; with ``within``, only
    those whose stack has a frame of that function (e.g. ``"CrawlerProcess.start"``)."""
    samples = Samples()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        parsed = [m for f in stack.split(";")
                  if not f.startswith(("process ", "thread ("))
                  and (m := PY_SPY_FRAME.match(f))]
        if within is not None and not any(m["func"] == within for m in parsed):
            continue
        samples.total += n
        if not parsed:
            continue
        leaf = parsed[-1]
        samples.stacks[tuple(m["func"] for m in parsed)] += n
        funcs = {m["func"] for m in parsed}
        samples.roles["worker threads (sync endpoints)" if "WorkerThread.run" in funcs else
                      "event loop thread" if any(k in m["file"] for m in parsed
                                                 for k in LOOP_FILES)
                      else "other"] += n
        samples.own[f"{leaf['func']} ({short(leaf['file'])})"] += n
        driver = ("/sqlalchemy/engine/" in leaf["file"]
                  and leaf["func"].rsplit(".", 1)[-1] in SQLITE_CALLS)
        samples.areas["sqlite3 calls (C, via SQLAlchemy)" if driver
                      else area_of(leaf["file"])] += n
        for key in {f"{m['func']} ({short(m['file'])})" for m in parsed}:
            samples.inclusive[key] += n
    return samples


def _listed(key: str) -> bool:
    """A frame for summarise's inclusive list: project code and selected framework frames."""
    func, _, file = key[:-1].rpartition(" (")
    path = f"/{file}"
    return func in INCLUSIVE_FUNCS or (
        ("/archive/" in path or "/scheduler/" in path) and "/scheduler/cli/" not in path)


def summarise(path: Path, top: int) -> tuple[int, list[str]]:
    """(samples, report lines) of a raw py-spy recording."""
    samples = read_samples(path)
    total = max(samples.total, 1)
    lines = ["  by thread: " + ", ".join(f"{label} {100 * n / total:.0f}%"
                                         for label, n in samples.roles.most_common()),
             "  own time by package of the innermost Python frame:"]
    lines += [f"    {100 * n / total:5.1f}%  {label}"
              for label, n in samples.areas.most_common()]
    lines.append(f"  top {top} functions by own time:")
    lines += [f"    {100 * n / total:5.1f}%  {key}" for key, n in samples.own.most_common(top)]
    lines.append(f"  top {top} by inclusive time (project code, selected framework frames):")
    listed = Counter({k: n for k, n in samples.inclusive.items() if _listed(k)})
    lines += [f"    {100 * n / total:5.1f}%  {key}" for key, n in listed.most_common(top)]
    return samples.total, lines


def area_of(path: str) -> str:
    return next((label for label, key in AREAS if key in path), "other")


def short(path: str) -> str:
    """A frame's file relative to site-packages, the stdlib or the repository."""
    match = re.search(r"/(?:site-packages|lib/python3\.\d+)/(.*)$", path)
    if match:
        return match.group(1)
    with contextlib.suppress(ValueError):
        return str(Path(path).relative_to(REPO))
    return path
