"""Where archive files live: the spool (local, being written or waiting for upload) and the
keys of stored objects. The writer and every reader take names from here.

Spool: ``NAME.warc.gz.open`` while written, ``NAME.warc.gz`` plus its sorted index
``NAME.warc.gz.cdxj`` once closed; both are removed after a verified upload.
Storage: ``warcs/NAME.warc.gz`` and ``indexes/NAME.warc.gz.cdxj``.
"""

from __future__ import annotations

from pathlib import Path

OPEN_SUFFIX = ".open"
CDXJ_SUFFIX = ".cdxj"
WARC_KEY_PREFIX = "warcs/"
INDEX_KEY_PREFIX = "indexes/"


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
