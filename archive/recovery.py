"""Spool recovery: the WARC is the source of truth; lose nothing that was complete.

* A spool file whose writer process is gone (``NAME.warc.gz.open``, or a closed
  ``NAME.warc.gz`` whose catalog row was never closed) is cut after its last complete gzip
  member (one member = one record). Every complete record is indexed (CDXJ) and the catalog
  rows that are missing are added: a capture for each response and revisit record, an
  article for each metadata record that carries an extraction. No complete record is ever
  left unfindable; only captures past the cut are removed. A file without one complete
  record is deleted, not stored.
* The crawl job that wrote it, if still marked running with its process gone, is recorded
  failed (``archive.ledger.fail_if_gone``), as is a foreground crawl of this host that died
  before writing a file (``archive.ledger.fail_dead_foreground``).
* A closed file still in the spool (its upload failed) is shipped again.

Each file is recovered on its own: one that cannot be (a full or read-only disk, a catalog
that does not answer) is reported and left for the next run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO, Any

from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from warcio.recordloader import ArcWarcRecord
from warcio.timeutils import iso_date_to_timestamp

from archive import ledger
from archive.archiver import ship_closed_warc
from archive.catalog import Catalog
from archive.cdxj import REVISIT_MIME, CdxjEntry, mime_of, surt_key, write_cdxj
from archive.layout import OPEN_SUFFIX, cdxj_path, this_host, writer_of
from archive.models import Article, Capture, WarcFile, WarcState, utcnow
from archive.processes import pid_alive
from archive.revalidation import REVALIDATED_STATUS, Validators
from archive.snapshot import parse_record
from archive.storage import Storage, StorageError
from archive.warc import RESOURCE_TYPE_HEADER, ClosedWarc, is_not_modified_profile

logger = logging.getLogger(__name__)

CHUNK = 1024 * 1024
CAPTURED_TYPES = ("response", "revisit", "resource")


@dataclass
class RecoveryReport:
    recovered_files: int = 0  # abandoned files cut, indexed and closed
    truncated_bytes: int = 0  # incomplete bytes cut off their ends
    dropped_captures: int = 0  # catalog captures that pointed past a cut
    added_captures: int = 0  # complete records the catalog did not know, now catalogued
    removed_empty: int = 0  # abandoned files without one complete record, deleted
    failed_jobs: int = 0  # running jobs whose process was gone, recorded failed
    shipped_files: int = 0
    failed_files: int = 0  # files that could not be recovered or stored this time

    def add(self, other: RecoveryReport) -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    @property
    def eventful(self) -> bool:
        return any(getattr(self, item.name) for item in fields(self))


def writer_alive(path: Path, *, this_process_done: bool = False) -> bool:
    """Whether the process named in a spool file name is still running on this host
    (``this_process_done``: not if it is this process, whose writer has stopped)."""
    writer = writer_of(path.name)
    if writer is None or writer[1] != this_host():
        return False
    if this_process_done and writer[0] == os.getpid():
        return False
    return pid_alive(writer[0])


def complete_members(stream: IO[bytes]) -> list[tuple[int, int]]:
    """(offset, length) of every complete gzip member at the start of ``stream``."""
    members: list[tuple[int, int]] = []
    start = 0
    decomp = zlib.decompressobj(wbits=31)
    consumed = 0
    while chunk := stream.read(CHUNK):
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


@dataclass(frozen=True)
class _Record:
    offset: int
    length: int
    record: ArcWarcRecord

    def header(self, name: str) -> str | None:
        return self.record.rec_headers.get_header(name)


def _records(stream: IO[bytes], members: list[tuple[int, int]], sha: Any) -> Iterator[_Record]:
    """The parseable records among ``members``; a complete gzip member that holds no
    readable WARC record stays in the file (it is its bytes) but is not catalogued."""
    for offset, length in members:
        data = stream.read(length)
        sha.update(data)
        try:
            yield _Record(offset, length, parse_record(data))
        except StorageError as exc:
            logger.warning("record at offset %d is not catalogued: %s", offset, exc)


def _capture_row(item: _Record, filename: str) -> tuple[CdxjEntry, dict[str, Any]] | None:
    """The CDXJ entry and catalog capture of a response, revisit or resource record, as the
    archiver writes them (a resource: status 200 in the catalog, none in the CDXJ)."""
    record = item.record
    resource = record.rec_type == "resource"
    http = record.http_headers if record.http_headers and record.http_headers.statusline \
        else None
    not_modified = record.rec_type == "revisit" and is_not_modified_profile(
        item.header("WARC-Profile"))
    if record.rec_type not in CAPTURED_TYPES or (http is None and not (not_modified
                                                                       or resource)):
        return None
    url = item.header("WARC-Target-URI") or ""
    timestamp = iso_date_to_timestamp(item.header("WARC-Date"))
    if resource:
        status, mime = 200, mime_of(item.header("Content-Type"))
    elif not_modified:
        # a 304's revisit (no block) is catalogued as the archiver does: with its original's
        # status; its validators are in the metadata record of its head, not read here
        status, mime = REVALIDATED_STATUS, REVISIT_MIME
    else:
        assert http is not None
        status = int(http.get_statuscode() or 0)
        mime = (REVISIT_MIME if record.rec_type == "revisit"
                else mime_of(http.get_header("Content-Type")))
    digest = item.header("WARC-Payload-Digest")
    entry = CdxjEntry.build(url=url, timestamp=timestamp, mime=mime,
                            status=None if resource else status, digest=digest,
                            length=item.length, offset=item.offset, filename=filename)
    row = {"url": url, "surt": surt_key(url), "timestamp": timestamp, "status": status,
           "mime": mime, "payload_digest": digest, "record_type": record.rec_type,
           "record_id": item.header("WARC-Record-ID"), "offset": item.offset,
           "length": item.length, "truncated": item.header("WARC-Truncated"),
           # as the archiver catalogues them: a page's rendering, and what it fetched
           "subresource": resource or bool(item.header(RESOURCE_TYPE_HEADER)),
           **Validators.of(http.headers if http else []).columns()}
    return entry, row


def _article_row(item: _Record) -> tuple[str, dict[str, Any]] | None:
    """(the response record id, the article row) of a metadata record with an extraction."""
    if item.record.rec_type != "metadata":
        return None
    refers_to = item.header("WARC-Refers-To")
    try:
        extraction = json.loads(item.record.content_stream().read()).get("extraction")
    except (ValueError, AttributeError):
        return None
    if not refers_to or not isinstance(extraction, dict):
        return None
    article = {name: value for name, value in extraction.items()
               if name in Article.__table__.columns and name not in ("id", "capture_id")}
    article["extractor_version"] = extraction.get("extractor_version") or "unknown"
    article["metadata_record_id"] = item.header("WARC-Record-ID")
    return refers_to, article


def finish_file(catalog: Catalog, path: Path, report: RecoveryReport) -> ClosedWarc | None:
    """Cut, index, catalogue and close one abandoned spool file (``.open`` or closed);
    None when it held no complete record (then it is deleted)."""
    filename = path.name.removesuffix(OPEN_SUFFIX)
    with path.open("rb") as f:
        members = complete_members(f)
    size = path.stat().st_size
    keep = members[-1][0] + members[-1][1] if members else 0
    if keep < size:
        with path.open("r+b") as f:
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())
    entries, captures, articles, sha = _index(path, filename, members)
    with catalog.session() as session:
        row = session.scalar(select(WarcFile).where(WarcFile.filename == filename))
        if row is None:
            row = WarcFile(filename=filename)
            session.add(row)
            session.flush()
        dropped = _drop_past(session, row, keep)
        if not members:
            session.delete(row)
        else:
            added = _catalogue(session, row, captures, articles)
            report.added_captures += added
            row.state, row.size, row.sha256 = WarcState.CLOSED, keep, sha.hexdigest()
            row.records, row.closed_at = len(members), utcnow()
        writer = writer_of(filename)
        job_id = row.job_id or (ledger.running_job_of(session, writer[0]) if writer else None)
        found = (f"recovery kept the {len(members)} complete records of its WARC {filename}"
                 if members else f"its WARC {filename} held no complete record and was removed")
        if job_id is not None and ledger.fail_if_gone(session, job_id, found):
            report.failed_jobs += 1
    report.truncated_bytes += size - keep
    report.dropped_captures += dropped
    if not members:
        path.unlink()
        cdxj_path(path.with_name(filename)).unlink(missing_ok=True)
        report.removed_empty += 1
        logger.warning("removed %s: it held no complete record", path.name)
        return None
    final = path.with_name(filename)
    index = cdxj_path(final)
    write_cdxj(index, entries)
    if path != final:
        os.replace(path, final)
    report.recovered_files += 1
    logger.warning("recovered %s: kept %d records (%d bytes), cut %d bytes, dropped %d "
                   "captures past the cut, catalogued %d the catalog lacked", filename,
                   len(members), keep, size - keep, dropped, added)
    return ClosedWarc(path=final, cdxj_path=index, size=keep, sha256=sha.hexdigest(),
                      records=len(members))


def _index(path: Path, filename: str, members: list[tuple[int, int]]) -> tuple[
        list[CdxjEntry], list[dict[str, Any]], list[tuple[str, dict[str, Any]]], Any]:
    """The CDXJ entries, capture rows and article rows of the complete records ``members``
    of the WARC at ``path``, and the SHA-256 of those bytes."""
    entries: list[CdxjEntry] = []
    captures: list[dict[str, Any]] = []
    articles: list[tuple[str, dict[str, Any]]] = []
    sha = hashlib.sha256()
    with path.open("rb") as f:
        for item in _records(f, members, sha):
            try:
                found = _capture_row(item, filename)
            except (ValueError, TypeError) as exc:  # a bad date or status line
                logger.warning("record at offset %d of %s is not catalogued: %s",
                               item.offset, filename, exc)
                continue
            if found is not None:
                entries.append(found[0])
                captures.append(found[1])
            elif (article := _article_row(item)) is not None:
                articles.append(article)
    return entries, captures, articles, sha


def catalogue_complete_records(catalog: Catalog, path: Path, filename: str) -> int:
    """Add the catalog rows the complete records at the start of ``path`` (a copy of WARC
    ``filename``, e.g. of a damaged stored object) lack; returns how many captures."""
    with path.open("rb") as f:
        members = complete_members(f)
    _, captures, articles, _ = _index(path, filename, members)
    with catalog.session() as session:
        row = session.scalar(select(WarcFile).where(WarcFile.filename == filename))
        return _catalogue(session, row, captures, articles) if row is not None else 0


def _drop_past(session: Session, row: WarcFile, keep: int) -> int:
    """Remove the captures (and their articles) whose records lie past the cut."""
    lost = select(Capture.id).where(Capture.warc_file_id == row.id,
                                    Capture.offset + Capture.length > keep)
    dropped = len(session.scalars(lost).all())
    if dropped:
        session.execute(delete(Article).where(Article.capture_id.in_(lost)))
        session.execute(delete(Capture).where(Capture.warc_file_id == row.id,
                                              Capture.offset + Capture.length > keep))
    return dropped


def _catalogue(session: Session, row: WarcFile, captures: list[dict[str, Any]],
               articles: list[tuple[str, dict[str, Any]]]) -> int:
    """Add the capture and article rows the catalog lacks; returns how many captures."""
    known = set(session.scalars(select(Capture.record_id)
                                .where(Capture.warc_file_id == row.id)))
    missing = [{**c, "job_id": row.job_id, "warc_file_id": row.id} for c in captures
               if c["record_id"] not in known]
    if missing:
        session.execute(Capture.__table__.insert(), missing)
    if articles:
        ids = dict(session.execute(select(Capture.record_id, Capture.id).where(
            Capture.warc_file_id == row.id,
            Capture.record_id.in_([refers_to for refers_to, _ in articles]))).all())
        with_article = set(session.scalars(select(Article.capture_id)
                                           .where(Article.capture_id.in_(ids.values()))))
        rows = [{**article, "capture_id": ids[refers_to]} for refers_to, article in articles
                if refers_to in ids and ids[refers_to] not in with_article]
        if rows:
            session.execute(Article.__table__.insert(), rows)
    return len(missing)


def recover_spool(catalog: Catalog, storage: Storage, spool_dir: Path, *,
                  this_process_done: bool = False) -> RecoveryReport:
    """Finish the spool files of dead writers and ship every closed file still there.
    ``this_process_done``: this process's own writer has stopped (after a write error), so
    its files count as abandoned too."""
    report = RecoveryReport()
    if spool_dir.is_dir():
        _recover_files(catalog, storage, spool_dir, report, this_process_done)
    with catalog.session() as session:
        report.failed_jobs += ledger.fail_dead_foreground(session)  # those that left no file
    return report


def _recover_files(catalog: Catalog, storage: Storage, spool_dir: Path,
                   report: RecoveryReport, this_process_done: bool) -> None:
    with catalog.session() as session:
        states = dict(session.execute(select(WarcFile.filename, WarcFile.state)).all())
    abandoned = sorted(spool_dir.glob(f"*.warc.gz{OPEN_SUFFIX}")) + [
        p for p in sorted(spool_dir.glob("*.warc.gz"))
        if states.get(p.name) not in (WarcState.CLOSED, WarcState.UPLOADED)]
    handled: set[str] = set()
    for path in abandoned:
        if writer_alive(path, this_process_done=this_process_done):
            continue
        handled.add(path.name.removesuffix(OPEN_SUFFIX))
        try:
            closed = finish_file(catalog, path, report)
        except (OSError, SQLAlchemyError, StorageError) as exc:
            report.failed_files += 1
            logger.error("could not recover %s, it stays in the spool: %s", path.name, exc)
            continue
        if closed is not None:
            _ship(catalog, storage, closed, report)
    with catalog.session() as session:
        rows = {w.filename: w for w in session.scalars(
            select(WarcFile).where(WarcFile.state.in_((WarcState.CLOSED, WarcState.UPLOADED))))}
    for path in sorted(spool_dir.glob("*.warc.gz")):
        row = rows.get(path.name)
        if row is None or path.name in handled or writer_alive(path):
            continue
        if row.state == WarcState.UPLOADED:  # stored and verified; the spool copy outlived
            path.unlink(missing_ok=True)  # a crash between the upload and its removal
            cdxj_path(path).unlink(missing_ok=True)
        elif cdxj_path(path).exists():
            _ship(catalog, storage, ClosedWarc(
                path=path, cdxj_path=cdxj_path(path), size=row.size or 0,
                sha256=row.sha256 or "", records=row.records or 0), report)


def _ship(catalog: Catalog, storage: Storage, closed: ClosedWarc,
          report: RecoveryReport) -> None:
    try:
        ship_closed_warc(catalog, storage, closed)
        report.shipped_files += 1
    except (StorageError, OSError, SQLAlchemyError) as exc:
        report.failed_files += 1
        logger.error("could not store %s, it stays in the spool: %s", closed.filename, exc)
