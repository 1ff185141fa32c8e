"""The test harness: services a test needs (and skips, or fails in CI, without), the
environment a test runs in, free ports, waiting, pids."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeVar

import pytest

T = TypeVar("T")


def services_required() -> bool:
    """CI sets NEWSARCHIVE_REQUIRE_SERVICES=1: a missing service is then a failure."""
    return os.environ.get("NEWSARCHIVE_REQUIRE_SERVICES") == "1"


def missing(message: str) -> NoReturn:
    """Skip the test for a missing service or tool, or fail it where services are required."""
    if services_required():
        pytest.fail(message + " and NEWSARCHIVE_REQUIRE_SERVICES=1")
    pytest.skip(message)


# Variables of the test harness itself, not settings of newsarchive.
HARNESS_VARIABLES = ("NEWSARCHIVE_REQUIRE_SERVICES", "NEWSARCHIVE_CHROMIUM")


def is_setting(name: str) -> bool:
    """Whether an environment variable is a newsarchive setting (which a test must not
    inherit from the developer's shell)."""
    return name.startswith("NEWSARCHIVE_") and name not in HARNESS_VARIABLES \
        and not name.startswith("NEWSARCHIVE_TEST_")


def environ_without_settings() -> dict[str, str]:
    """This process's environment minus every newsarchive setting: the base of a
    subprocess that is given exactly the settings the test means."""
    return {k: v for k, v in os.environ.items() if not is_setting(k)}


_handed_out: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on ``host`` now, and never one this process was given before: the OS may
    offer a port just closed again, and two servers of one test must not get the same."""
    while True:
        with socket.socket() as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port


class Timeout(AssertionError):
    pass


def wait_until(predicate: Callable[[], T], timeout: float, *, interval: float = 0.1,
               message: str | Callable[[], str] = "condition") -> T:
    """Poll ``predicate`` until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise Timeout(f"timed out after {timeout:g} s waiting for {text}")
        time.sleep(interval)


def pid_running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (Linux /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
