"""py-spy sampling a server process, and a summary of where its Python time goes.

``PySpy.start`` runs ``py-spy record --gil --nonblocking`` (only the thread holding the GIL,
i.e. where Python time goes) in raw (collapsed stacks) format; ``summarise`` reads that
file: the share of samples by thread (event loop vs the threadpool that runs sync
endpoints), by package of the innermost frame, and the top functions by own and by
inclusive time (project code and selected framework frames).
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
    ("apscheduler", "/apscheduler/"), ("project: archive", "/archive/"),
    ("project: scheduler", "/scheduler/"),
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


def summarise(path: Path, top: int) -> tuple[int, list[str]]:
    """(samples, report lines) of a raw py-spy recording."""
    self_funcs: Counter[str] = Counter()
    incl_funcs: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    roles: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        parsed = [m for f in stack.split(";")
                  if not f.startswith(("process ", "thread ("))
                  and (m := PY_SPY_FRAME.match(f))]
        if not parsed:
            continue
        leaf = parsed[-1]
        funcs = {m["func"] for m in parsed}
        roles["worker threads (sync endpoints)" if "WorkerThread.run" in funcs else
              "event loop thread" if any(k in m["file"] for m in parsed for k in LOOP_FILES)
              else "other"] += n
        self_funcs[f"{leaf['func']} ({short(leaf['file'])})"] += n
        driver = ("/sqlalchemy/engine/" in leaf["file"]
                  and leaf["func"].rsplit(".", 1)[-1] in SQLITE_CALLS)
        areas["sqlite3 calls (C, via SQLAlchemy)" if driver else area_of(leaf["file"])] += n
        for key in {f"{m['func']} ({short(m['file'])})" for m in parsed
                    if m["func"] in INCLUSIVE_FUNCS or (
                        ("/archive/" in m["file"] or "/scheduler/" in m["file"])
                        and "/scheduler/cli/" not in m["file"])}:
            incl_funcs[key] += n
    total = max(total, 1)
    lines = ["  by thread: " + ", ".join(f"{label} {100 * n / total:.0f}%"
                                         for label, n in roles.most_common()),
             "  own time by package of the innermost Python frame:"]
    lines += [f"    {100 * n / total:5.1f}%  {label}" for label, n in areas.most_common()]
    lines.append(f"  top {top} functions by own time:")
    lines += [f"    {100 * n / total:5.1f}%  {key}" for key, n in self_funcs.most_common(top)]
    lines.append(f"  top {top} by inclusive time (project code, selected framework frames):")
    lines += [f"    {100 * n / total:5.1f}%  {key}" for key, n in incl_funcs.most_common(top)]
    return total, lines


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
