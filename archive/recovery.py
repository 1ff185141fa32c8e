"""Spool recovery: finish what a crashed writer left behind, lose nothing that was complete.

* A ``NAME.warc.gz.open`` whose writer process is gone is cut after its last complete gzip
  member (one member = one record), closed, indexed, recorded and shipped; catalog captures
  pointing past the cut are removed.
* A closed file still in the spool (its upload failed) is shipped again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select
from warcio.timeutils import iso_date_to_timestamp

from archive.archiver import ship_closed_warc
from archive.catalog import Catalog
from archive.cdxj import CdxjEntry, mime_of, write_cdxj
from archive.layout import OPEN_SUFFIX, cdxj_path, this_host, writer_of
from archive.models import Article, Capture, WarcFile, WarcState, utcnow
from archive.snapshot import parse_record
from archive.storage import Storage, StorageError
from archive.warc import ClosedWarc

logger = logging.getLogger(__name__)

CHUNK = 1024 * 1024


@dataclass
class RecoveryReport:
    recovered_files: int = 0
    truncated_bytes: int = 0
    dropped_captures: int = 0
    shipped_files: int = 0
    failed_files: int = 0


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie (dead, not yet reaped by its new parent) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: trust kill(0)
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def writer_alive(path: Path) -> bool:
    """Whether the process named in a spool file name is still running on this host."""
    writer = writer_of(path.name)
    if writer is None or writer[1] != this_host():
        return False
    return pid_alive(writer[0])


def complete_members(path: Path) -> list[tuple[int, int]]:
    """(offset, length) of every complete gzip member at the start of ``path``."""
    members: list[tuple[int, int]] = []
    start = 0
    decomp = zlib.decompressobj(wbits=31)
    consumed = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            data = chunk
            while data:
                try:
                    decomp.decompress(data)
                except zlib.error:
                    return members
                if not decomp.eof:
                    consumed += len(data)
                    break
                used = len(data) - len(decomp.unused_data)
                consumed += used
                members.append((start, consumed - start))
                start = consumed
                data = decomp.unused_data
                decomp = zlib.decompressobj(wbits=31)
    return members


def recover_open_file(catalog: Catalog, path: Path) -> tuple[ClosedWarc, int, int]:
    """Cut, close and index one abandoned ``.open`` file; returns (closed, cut, dropped)."""
    members = complete_members(path)
    size = path.stat().st_size
    keep = members[-1][0] + members[-1][1] if members else 0
    with path.open("r+b") as f:
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    filename = path.name.removesuffix(OPEN_SUFFIX)
    final = path.with_name(filename)
    entries = []
    sha = hashlib.sha256()
    with path.open("rb") as f:
        for offset, length in members:
            data = f.read(length)
            sha.update(data)
            record = parse_record(data)
            if record.rec_type in ("response", "revisit") and record.http_headers:
                headers = record.rec_headers
                entries.append(CdxjEntry.build(
                    url=headers.get_header("WARC-Target-URI"),
                    timestamp=iso_date_to_timestamp(headers.get_header("WARC-Date")),
                    mime=mime_of(record.http_headers.get_header("Content-Type")),
                    status=int(record.http_headers.get_statuscode() or 0),
                    digest=headers.get_header("WARC-Payload-Digest"),
                    length=length, offset=offset, filename=filename))
    index = cdxj_path(final)
    write_cdxj(index, entries)
    os.replace(path, final)
    closed = ClosedWarc(path=final, cdxj_path=index, size=keep, sha256=sha.hexdigest(),
                        records=len(members))
    with catalog.session() as session:
        row = session.scalar(select(WarcFile).where(WarcFile.filename == filename))
        if row is None:
            row = WarcFile(filename=filename)
            session.add(row)
            session.flush()
        lost = select(Capture.id).where(Capture.warc_file_id == row.id,
                                        Capture.offset + Capture.length > keep)
        dropped = len(session.scalars(lost).all())
        session.execute(delete(Article).where(Article.capture_id.in_(lost)))
        session.execute(delete(Capture).where(Capture.warc_file_id == row.id,
                                              Capture.offset + Capture.length > keep))
        row.state, row.size, row.sha256 = WarcState.CLOSED, keep, closed.sha256
        row.records, row.closed_at = len(members), utcnow()
    logger.warning("recovered %s: kept %d records (%d bytes), cut %d bytes, dropped %d "
                   "catalog captures past the cut", filename, len(members), keep, size - keep,
                   dropped)
    return closed, size - keep, dropped


def recover_spool(catalog: Catalog, storage: Storage, spool_dir: Path) -> RecoveryReport:
    """Recover abandoned ``.open`` files and ship closed files still in the spool."""
    report = RecoveryReport()
    if not spool_dir.is_dir():
        return report
    for path in sorted(spool_dir.glob(f"*.warc.gz{OPEN_SUFFIX}")):
        if writer_alive(path):
            continue
        closed, cut, dropped = recover_open_file(catalog, path)
        report.recovered_files += 1
        report.truncated_bytes += cut
        report.dropped_captures += dropped
        _ship(catalog, storage, closed, report)
    with catalog.session() as session:
        pending = {w.filename: w for w in session.scalars(
            select(WarcFile).where(WarcFile.state == WarcState.CLOSED))}
    for path in sorted(spool_dir.glob("*.warc.gz")):
        row = pending.get(path.name)
        cdxj = cdxj_path(path)
        if row is None or writer_alive(path) or not cdxj.exists():
            continue
        closed = ClosedWarc(path=path, cdxj_path=cdxj, size=row.size or 0,
                            sha256=row.sha256 or "", records=row.records or 0)
        _ship(catalog, storage, closed, report)
    return report


def _ship(catalog: Catalog, storage: Storage, closed: ClosedWarc,
          report: RecoveryReport) -> None:
    try:
        ship_closed_warc(catalog, storage, closed)
        report.shipped_files += 1
    except (StorageError, OSError) as exc:
        report.failed_files += 1
        logger.error("could not store %s, it stays in the spool: %s", closed.filename, exc)
