"""Reference tools, made on first use under ``.cache/``: pywb and py-wacz in virtualenvs of
their own (their pins clash with ours), ReplayWeb.page packed with npm."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.harness import missing

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
