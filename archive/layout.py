"""Where archive files live and what their names say: the spool (local, being written or
waiting for upload) and the keys of stored objects. The writer and every reader take names
from here.

A WARC is named ``{prefix}-{17-digit timestamp}-{serial:05d}-{pid}~{host}.warc.gz`` (as
Heritrix names them): the last part says which process wrote it, so that recovery can tell
an abandoned file from one still being written.
Spool: ``NAME.warc.gz.open`` while written, ``NAME.warc.gz`` plus its sorted index
``NAME.warc.gz.cdxj`` once closed; both are removed after a verified upload.
Storage: ``warcs/NAME.warc.gz`` and ``indexes/NAME.warc.gz.cdxj``.
"""

from __future__ import annotations

import os
import re
import socket
from datetime import datetime
from pathlib import Path

OPEN_SUFFIX = ".open"
CDXJ_SUFFIX = ".cdxj"
WARC_KEY_PREFIX = "warcs/"
INDEX_KEY_PREFIX = "indexes/"


WRITER = re.compile(r"-(?P<pid>\d+)~(?P<host>[^/]+)\.warc\.gz(?:\.open)?$")


def this_host() -> str:
    """This machine's name as WARC file names carry it (``~`` separates pid and host)."""
    return socket.gethostname().replace("~", "-")


def warc_filename(prefix: str, when: datetime, serial: int, pid: int | None = None,
                  host: str | None = None) -> str:
    stamp = when.strftime("%Y%m%d%H%M%S%f")[:17]
    return (f"{prefix}-{stamp}-{serial:05d}-{os.getpid() if pid is None else pid}"
            f"~{host or this_host()}.warc.gz")


def writer_of(name: str) -> tuple[int, str] | None:
    """``(pid, host)`` of the process that wrote the WARC (or spool file) ``name``."""
    match = WRITER.search(name)
    return (int(match["pid"]), match["host"]) if match else None


def warc_key(filename: str) -> str:
    return WARC_KEY_PREFIX + filename


def index_key(filename: str) -> str:
    """The stored CDXJ index of WARC ``filename``."""
    return INDEX_KEY_PREFIX + filename + CDXJ_SUFFIX


def open_path(spool_dir: Path, filename: str) -> Path:
    """The spool path of ``filename`` while it is being written."""
    return spool_dir / (filename + OPEN_SUFFIX)


def cdxj_path(warc_path: Path) -> Path:
    """The spool index beside a closed WARC."""
    return warc_path.with_name(warc_path.name + CDXJ_SUFFIX)


def spool_path(spool_dir: Path, filename: str) -> Path | None:
    """The spool copy of ``filename`` (complete or still ``.open``), if there is one."""
    for candidate in (spool_dir / filename, open_path(spool_dir, filename)):
        if candidate.exists():
            return candidate
    return None
