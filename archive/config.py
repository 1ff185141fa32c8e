"""Where the archive lives: data directory, catalog URL, storage URL, spool directory.

Every value has a safe default under the data directory (``NEWSARCHIVE_DATA_DIR``,
default ``./data``): ``catalog.sqlite``, ``storage/`` (``file://``) and ``spool/``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ArchiveConfig:
    data_dir: Path
    database_url: str
    storage_url: str
    spool_dir: Path

    @classmethod
    def resolve(
        cls,
        data_dir: str | Path | None = None,
        database_url: str | None = None,
        storage_url: str | None = None,
        spool_dir: str | Path | None = None,
    ) -> ArchiveConfig:
        root = Path(data_dir or "data").absolute()
        return cls(
            data_dir=root,
            database_url=database_url or f"sqlite:///{root / 'catalog.sqlite'}",
            storage_url=storage_url or (root / "storage").as_uri(),
            spool_dir=Path(spool_dir).absolute() if spool_dir else root / "spool",
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ArchiveConfig:
        return cls.resolve(
            environ.get("NEWSARCHIVE_DATA_DIR"),
            environ.get("NEWSARCHIVE_DATABASE_URL"),
            environ.get("NEWSARCHIVE_STORAGE_URL"),
            environ.get("NEWSARCHIVE_SPOOL_DIR"),
        )
