"""Storage audits: what waits in the spool, and whether storage matches the catalog."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, update

from archive.archiver import ship_closed_warc
from archive.catalog import Catalog
from archive.layout import OPEN_SUFFIX, WARC_KEY_PREFIX, cdxj_path, warc_key
from archive.models import MultipartUpload, WarcFile, WarcState
from archive.recovery import catalogue_complete_records
from archive.storage import CHUNK_SIZE, Storage, StorageError
from archive.warc import ClosedWarc


@dataclass
class SpoolStatus:
    files: int
    bytes: int
    open_files: int
    pending_uploads: list[str]
    multipart_in_progress: int


def spool_status(catalog: Catalog, spool_dir: Path) -> SpoolStatus:
    paths = [p for p in spool_dir.glob("*") if p.is_file()] if spool_dir.is_dir() else []
    with catalog.session() as session:
        pending = list(session.scalars(select(WarcFile.filename)
                                       .where(WarcFile.state == WarcState.CLOSED)
                                       .order_by(WarcFile.id)))
        multipart = len(session.scalars(select(MultipartUpload.key)).all())
    return SpoolStatus(files=len(paths), bytes=sum(p.stat().st_size for p in paths),
                       open_files=sum(p.name.endswith(OPEN_SUFFIX) for p in paths),
                       pending_uploads=pending, multipart_in_progress=multipart)


@dataclass
class VerifyReport:
    checked: int = 0
    ok: int = 0
    missing: list[str] = field(default_factory=list)
    size_mismatch: list[str] = field(default_factory=list)
    sha256_mismatch: list[str] = field(default_factory=list)
    unknown_objects: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    recatalogued: int = 0  # captures of intact records of damaged files the catalog lacked

    @property
    def problems(self) -> int:
        return (len(self.missing) + len(self.size_mismatch) + len(self.sha256_mismatch)
                + len(self.unknown_objects))


def object_sha256(storage: Storage, key: str) -> str:
    digest = hashlib.sha256()
    with storage.open(key) as stream:
        while chunk := stream.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def verify_storage(catalog: Catalog, storage: Storage, spool_dir: Path, *,
                   repair: bool = False) -> VerifyReport:
    """Check every uploaded WARC (existence, size, SHA-256 of the stored bytes) and that
    every object under ``warcs/`` is catalogued. ``repair`` re-uploads a bad object when
    the spool still holds the file, and otherwise marks its row ``damaged``: its records
    that are intact (before a cut, outside a corrupt stretch) still read, the others say
    the file is damaged; a damaged file whose object checks good again (a copy put back)
    is marked uploaded. It never deletes or rewrites an object."""
    report = VerifyReport()
    with catalog.session() as session:
        rows = list(session.scalars(select(WarcFile).where(
            WarcFile.state.in_((WarcState.UPLOADED, WarcState.DAMAGED))).order_by(WarcFile.id)))
    known = {row.storage_key for row in rows if row.storage_key}
    for row in rows:
        report.checked += 1
        key = row.storage_key or warc_key(row.filename)
        problem = _check(storage, key, row.size, row.sha256)
        if problem is None:
            report.ok += 1
            if repair and row.state == WarcState.DAMAGED:  # a good copy was put back
                with catalog.session() as session:
                    session.execute(update(WarcFile).where(WarcFile.id == row.id)
                                    .values(state=WarcState.UPLOADED))
                report.repaired.append(row.filename)
            continue
        getattr(report, problem).append(row.filename)
        if repair:
            _repair(catalog, storage, spool_dir, row, report)
    for obj in storage.list(WARC_KEY_PREFIX):
        if obj.key not in known and obj.key.endswith(".warc.gz"):
            with catalog.session() as session:
                closed = session.scalar(select(WarcFile.id).where(
                    WarcFile.filename == obj.key.removeprefix(WARC_KEY_PREFIX)))
            if closed is None:
                report.unknown_objects.append(obj.key)
    return report


def _check(storage: Storage, key: str, size: int | None, sha256: str | None) -> str | None:
    try:
        stored = storage.stat(key)
    except StorageError:
        return "missing"
    if stored is None:
        return "missing"
    if size is not None and stored.size != size:
        return "size_mismatch"
    if sha256 and object_sha256(storage, key) != sha256:
        return "sha256_mismatch"
    return None


def _repair(catalog: Catalog, storage: Storage, spool_dir: Path, row: WarcFile,
            report: VerifyReport) -> None:
    """Re-store the spool copy if there is one (verified like any upload), else mark the
    row damaged."""
    local = spool_dir / row.filename
    if local.exists() and row.sha256:
        closed = ClosedWarc(path=local, cdxj_path=cdxj_path(local),
                            size=row.size or 0, sha256=row.sha256, records=row.records or 0)
        try:
            ship_closed_warc(catalog, storage, closed)
        except StorageError:
            pass  # the spool copy is not the catalogued file either: stays damaged
        else:
            report.repaired.append(row.filename)
            return
    with catalog.session() as session:
        session.execute(update(WarcFile).where(WarcFile.id == row.id)
                        .values(state=WarcState.DAMAGED))
    report.recatalogued += _catalogue_intact(catalog, storage, spool_dir, row)


def _catalogue_intact(catalog: Catalog, storage: Storage, spool_dir: Path,
                      row: WarcFile) -> int:
    """The WARC is the source of truth even when damaged: its complete records before the
    damage get the catalog rows they lack (a copy is read into the spool, then removed)."""
    key = row.storage_key or warc_key(row.filename)
    spool_dir.mkdir(parents=True, exist_ok=True)
    copy = spool_dir / f".{row.filename}.verify"
    try:
        with storage.open(key) as stream, copy.open("wb") as out:
            while chunk := stream.read(CHUNK_SIZE):
                out.write(chunk)
        return catalogue_complete_records(catalog, copy, row.filename)
    except StorageError:
        return 0  # nothing stored to read: the row says damaged, its captures say why
    finally:
        copy.unlink(missing_ok=True)
