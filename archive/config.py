"""Where the archive lives: data directory, catalog URL, storage URL, spool directory.

Every value has a safe default under the data directory (``NEWSARCHIVE_DATA_DIR``,
default ``./data``): ``catalog.sqlite``, ``storage/`` (``file://``) and ``spool/``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from archive.storage import Storage, open_storage

if TYPE_CHECKING:
    from archive.catalog import Catalog


@dataclass(frozen=True)
class ArchiveConfig:
    data_dir: Path
    database_url: str
    storage_url: str
    spool_dir: Path
    s3_endpoint_url: str | None = None

    @classmethod
    def resolve(
        cls,
        data_dir: str | Path | None = None,
        database_url: str | None = None,
        storage_url: str | None = None,
        spool_dir: str | Path | None = None,
        s3_endpoint_url: str | None = None,
    ) -> ArchiveConfig:
        root = Path(data_dir or "data").absolute()
        return cls(
            s3_endpoint_url=s3_endpoint_url or os.environ.get("NEWSARCHIVE_S3_ENDPOINT_URL"),
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
            environ.get("NEWSARCHIVE_S3_ENDPOINT_URL"),
        )

    def open_storage(self, catalog: Catalog | None = None) -> Storage:
        """The storage backend with its scheme's options: for S3 the endpoint, and the
        catalog as the place where multipart progress survives a crash."""
        options: dict[str, object] = {}
        if self.storage_url.startswith("s3://"):
            if self.s3_endpoint_url:
                options["endpoint_url"] = self.s3_endpoint_url
            if catalog is not None:
                from archive.uploads import CatalogMultipartState

                options["state"] = CatalogMultipartState(catalog)
        return open_storage(self.storage_url, **options)
