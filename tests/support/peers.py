"""Reference tools, made on first use under ``.cache/``: pywb and py-wacz in virtualenvs of
their own (their pins clash with ours), ReplayWeb.page packed with npm."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.harness import free_port, missing, wait_until

CACHE = Path(__file__).resolve().parents[2] / ".cache"
REPLAYWEB_VERSION = "2.5.3"


def _run(command: list[str], what: str, cwd: Path | None = None, timeout: float = 900) -> None:
    try:
        proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        proc = subprocess.CompletedProcess(command, 1, "", str(exc))
    if proc.returncode != 0:
        missing(f"cannot install {what} ({' '.join(command)}): {proc.stderr[-1500:]}")


def peer_bin(package: str, *executables: str) -> Path:
    """``bin/`` of a virtualenv ``.cache/PACKAGE-venv`` with ``package`` installed."""
    venv = CACHE / f"{package}-venv"
    bin_dir = venv / "bin"
    if all((bin_dir / name).exists() for name in executables):
        return bin_dir
    _run([sys.executable, "-m", "venv", str(venv)], package)
    _run([str(bin_dir / "pip"), "install", "--quiet", package], package)
    return bin_dir


def pywb_bin() -> Path:
    return peer_bin("pywb", "wayback", "wb-manager")


def wb_manager(root: Path, *args: str) -> None:
    """``wb-manager ARGS`` in the pywb directory ``root`` (``init COLL``, ``add COLL WARC…``)."""
    subprocess.run([str(pywb_bin() / "wb-manager"), *args], cwd=root, check=True,
                   capture_output=True, timeout=120)


@contextmanager
def running_pywb(root: Path) -> Iterator[httpx.Client]:
    """pywb's ``wayback`` serving the collections of ``root`` on a free port, until the block
    ends; a client of it."""
    port = free_port()
    log_path = root / "wayback.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([str(pywb_bin() / "wayback"), "-p", str(port), "-b",
                                 "127.0.0.1"], cwd=root, stdout=log, stderr=subprocess.STDOUT)
    pywb = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)

    def answers() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"wayback exited {proc.returncode}: "
                                 f"{log_path.read_text()[-2000:]}")
        try:
            return pywb.get("/").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(answers, 60, message=f"pywb wayback on port {port}")
        yield pywb
    finally:
        pywb.close()
        proc.terminate()
        proc.wait(timeout=30)


def wacz_tool() -> Path:
    return peer_bin("wacz", "wacz") / "wacz"


def replaywebpage_app() -> Path:
    """``package/`` of replaywebpage@REPLAYWEB_VERSION, packed with npm once and cached."""
    cache = CACHE / "replaywebpage"
    app = cache / "package"
    if (app / "index.html").exists() and (app / "sw.js").exists():
        return app
    npm = shutil.which("npm")
    if npm is None:
        missing("npm is not installed (apt-get install nodejs npm)")
    cache.mkdir(parents=True, exist_ok=True)
    tarball = f"replaywebpage-{REPLAYWEB_VERSION}.tgz"
    for command in ([npm, "pack", f"replaywebpage@{REPLAYWEB_VERSION}"],
                    ["tar", "xzf", tarball]):
        _run(command, "ReplayWeb.page", cwd=cache, timeout=300)
    return app
