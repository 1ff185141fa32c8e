"""Programs a benchmark needs from outside the project.

Debian packages (nginx, wrk) are installed with apt-get when missing and the benchmark runs
as root, printed as it goes. Peer projects that measure against ours (pywb) get their own
virtualenv under ``.cache/`` of the repository, made when missing: their pins clash with the
project's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SBIN = ("/usr/sbin", "/usr/local/sbin")  # not on a normal user's PATH


def _which(name: str) -> str | None:
    return shutil.which(name) or next(
        (f"{d}/{name}" for d in SBIN if os.path.exists(f"{d}/{name}")), None)


def debian_tool(name: str, *, fallback: str | None = None) -> str | None:
    """The path of program ``name`` from the Debian package of the same name.

    When it is missing it is installed (``apt-get update && apt-get install -y NAME``) if
    this process is root. When that is not possible: with ``fallback`` (what the benchmark
    does instead), that is printed and None returned; without, the benchmark exits saying
    which command to run.
    """
    found = _which(name)
    if found:
        return found
    if os.geteuid() != 0:
        if fallback is None:
            sys.exit(f"{name} is not installed: run `apt-get install -y {name}` (as root) first")
        print(f"{name} not found and not root: {fallback} (`apt-get install -y {name}` as root "
              f"for {name})", flush=True)
        return None
    print(f"{name} not found: running `apt-get update && apt-get install -y {name}`",
          flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", name], check=True, env=env)
    except (OSError, subprocess.CalledProcessError) as exc:
        if fallback is None:
            raise
        print(f"could not install {name} ({exc}): {fallback}", flush=True)
        return None
    return _which(name)


def peer_venv(name: str, *requirements: str, program: str) -> Path:
    """``.cache/NAME-venv`` of the repository, created with ``python -m venv`` and
    ``pip install REQUIREMENTS`` unless its ``bin/PROGRAM`` exists; returns its directory."""
    venv = REPO / ".cache" / f"{name}-venv"
    if (venv / "bin" / program).exists():
        return venv
    print(f"{name}: creating {venv} (python -m venv; pip install {' '.join(requirements)})",
          flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *requirements], check=True)
    return venv
