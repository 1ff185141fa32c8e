"""Servers a benchmark starts on 127.0.0.1, and how it talks to them outside the load.

``ServerProcess`` runs one server as a subprocess in its own session (so a terminal's
Ctrl-C reaches the benchmark, which stops it), logging to a file; ``start()`` returns when
``ready_path`` answers 200. ``newsarchive_serve`` is the project's API server as a
benchmark runs it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .procstat import cpu_s


def environ_without_settings() -> dict[str, str]:
    """This environment minus every NEWSARCHIVE_* setting: the base of a process that is
    given exactly the settings the benchmark means."""
    return {k: v for k, v in os.environ.items() if not k.startswith("NEWSARCHIVE_")}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """(status, body) of a GET; an HTTP error status is returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class ServerProcess:
    """``command`` (listening on 127.0.0.1:``port``) started in ``cwd``, output to ``log``."""

    def __init__(self, name: str, command: list[str], *, port: int, cwd: Path, log: Path,
                 ready_path: str = "/", env: dict[str, str] | None = None) -> None:
        self.name, self.command, self.port = name, command, port
        self.cwd, self.log, self.ready_path, self.env = cwd, log, ready_path, env
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(self.command, cwd=self.cwd, env=self.env,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n"
                                   + self.log.read_text(errors="replace")[-3000:])
            with contextlib.suppress(OSError):
                status, _ = http_get(self.url + self.ready_path, timeout=1)
                if status == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name}: no 200 from {self.url}{self.ready_path} within "
                           f"{timeout:.0f} s; see {self.log}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu_s(self) -> float:
        """CPU seconds the server process (all its threads) has used so far."""
        return cpu_s(self.pid)

    def stop(self) -> int | None:
        """SIGINT (a graceful shutdown), then SIGTERM, then SIGKILL; the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        for sig, wait in ((signal.SIGINT, 15), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig)
            try:
                return self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                continue
        return None

    def kill(self) -> None:
        """SIGKILL, for a server with nothing to shut down cleanly."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def newsarchive_serve(work: Path, data_dir: Path, port: int,
                      replay_port: int | None = None) -> ServerProcess:
    """``newsarchive serve --host 127.0.0.1 --port PORT`` (the console script beside this
    interpreter) on ``data_dir``, with no other NEWSARCHIVE_* variable and no config file,
    run from and logging to ``work``; ready when /healthz answers 200. Replays are served on
    their own origin, ``--replay-port`` (default PORT + 1): on PORT, ``/web/`` answers a
    redirect there."""
    exe = Path(sys.executable).parent / "newsarchive"
    binary = str(exe) if exe.exists() else shutil.which("newsarchive")
    if binary is None:
        sys.exit("`newsarchive` not found: run the benchmark with the project's virtualenv "
                 "(.venv/bin/python benchmarks/...)")
    env = environ_without_settings()
    env["NEWSARCHIVE_DATA_DIR"] = str(data_dir)
    env["NEWSARCHIVE_CONFIG"] = str(work / "no-such-newsarchive.toml")
    command = [binary, "serve", "--host", "127.0.0.1", "--port", str(port)]
    if replay_port is not None:
        command += ["--replay-port", str(replay_port)]
    return ServerProcess("server", command, port=port, cwd=work, log=work / "server.log",
                         ready_path="/healthz", env=env)
