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

from archive.storage import Storage, StorageError, open_storage

if TYPE_CHECKING:
    from archive.catalog import Catalog


@dataclass(frozen=True)
class ArchiveConfig:
    data_dir: Path
    database_url: str
    storage_url: str
    spool_dir: Path
    s3_endpoint_url: str | None = None
    s3_retries: int = 8  # per S3 request, in boto3's "standard" retry mode

    @classmethod
    def resolve(
        cls,
        data_dir: str | Path | None = None,
        database_url: str | None = None,
        storage_url: str | None = None,
        spool_dir: str | Path | None = None,
        s3_endpoint_url: str | None = None,
        s3_retries: str | None = None,
    ) -> ArchiveConfig:
        root = Path(data_dir or "data").absolute()
        return cls(
            s3_endpoint_url=s3_endpoint_url or os.environ.get("NEWSARCHIVE_S3_ENDPOINT_URL"),
            s3_retries=_retries(s3_retries or os.environ.get("NEWSARCHIVE_S3_RETRIES") or "8"),
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
            environ.get("NEWSARCHIVE_S3_RETRIES"),
        )

    def open_storage(self, catalog: Catalog | None = None) -> Storage:
        """The storage backend with its scheme's options: for S3 the endpoint, and the
        catalog as the place where multipart progress survives a crash."""
        options: dict[str, object] = {}
        if self.storage_url.startswith("s3://"):
            options["max_attempts"] = self.s3_retries  # botocore's name for retries
            if self.s3_endpoint_url:
                options["endpoint_url"] = self.s3_endpoint_url
            if catalog is not None:
                from archive.uploads import CatalogMultipartState

                options["state"] = CatalogMultipartState(catalog)
        return open_storage(self.storage_url, **options)


def _retries(value: str) -> int:
    try:
        retries = int(value)
    except ValueError:
        retries = -1
    if not 0 <= retries <= 100:
        raise StorageError(f"NEWSARCHIVE_S3_RETRIES={value!r}: give a whole number of "
                           "retries per S3 request from 0 to 100 (default 8)")
    return retries
