"""Multipart upload progress kept in the catalog (see archive.s3.MultipartState)."""

from __future__ import annotations

from sqlalchemy import delete, select

from archive.catalog import Catalog
from archive.models import MultipartUpload
from archive.s3 import UploadProgress


class CatalogMultipartState:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def load(self, key: str) -> UploadProgress | None:
        with self.catalog.session() as session:
            row = session.get(MultipartUpload, key)
            if row is None:
                return None
            return UploadProgress(upload_id=row.upload_id, sha256=row.sha256,
                                  parts={int(n): etag for n, etag in row.parts.items()})

    def save(self, key: str, progress: UploadProgress) -> None:
        with self.catalog.session() as session:
            row = session.get(MultipartUpload, key)
            if row is None:
                row = MultipartUpload(key=key)
                session.add(row)
            row.upload_id, row.sha256 = progress.upload_id, progress.sha256
            row.parts = {str(n): etag for n, etag in progress.parts.items()}

    def clear(self, key: str) -> None:
        with self.catalog.session() as session:
            session.execute(delete(MultipartUpload).where(MultipartUpload.key == key))

    def active_upload_ids(self) -> set[str]:
        with self.catalog.session() as session:
            return set(session.scalars(select(MultipartUpload.upload_id)))
