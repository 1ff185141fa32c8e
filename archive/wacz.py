"""WACZ 1.1.1 export (https://specs.webrecorder.net/wacz/1.1.1/), streamed.

A WACZ is a ZIP holding ``archive/*.warc.gz`` (STORED, so replay tools read records with
ranged requests; whole files, so with every record: requisites, and the screenshots and
rendered DOMs of browser captures as ``resource`` records, which are indexed but are not
pages), ``indexes/index.cdx.gz`` + ``index.idx`` (one sorted CDXJ of all those
WARCs in gzip blocks, as py-wacz writes it; pywb's ``wb-manager add --unpack-wacz`` only
picks up ``.cdx``/``.cdx.gz`` indexes), ``pages/pages.jsonl`` (every archived HTML page,
seeds first: :mod:`archive.pages`), ``datapackage.json`` (SHA-256 and size of every file)
and ``datapackage-digest.json``.

:func:`iter_wacz` yields the ZIP in chunks of about :data:`CHUNK_SIZE` bytes: WARCs are
copied from storage (or the spool, before upload) chunk by chunk, each file is hashed as it
passes, and ``datapackage.json`` goes last. The ZIP is written as to an unseekable stream
(local headers followed by data descriptors), so a file and an HTTP response get the same
bytes. :func:`write_wacz` writes to a path atomically.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from archive.catalog import Catalog
from archive.cdxj import NO_STATUS_RECORDS, CdxjEntry
from archive.layout import spool_path, warc_key
from archive.models import Capture, CrawlJob, Site, WarcFile, WarcState
from archive.pages import Scope, has_text, iter_pages
from archive.storage import CHUNK_SIZE, Storage, StorageError

WACZ_VERSION = "1.1.1"
MEDIA_TYPE = "application/wacz"
INDEX_PATH = "indexes/index.cdx.gz"  # CDXJ lines in gzip blocks, found through index.idx
IDX_PATH = "indexes/index.idx"
CDX_LINES_PER_BLOCK = 300  # as py-wacz: a replay tool fetches one block per lookup
PAGES_PATH = "pages/pages.jsonl"
ROWS_PER_FETCH = 1000
EXPORTABLE_STATES = (WarcState.CLOSED, WarcState.UPLOADED)  # an open file is still growing


class WaczError(Exception):
    """Export failed; the message says what and how to fix it."""


class SelectionNotFound(WaczError, LookupError):
    """The job or site to export does not exist."""


class EmptySelection(WaczError):
    """The job or site exists but has no complete WARC file to export (yet)."""


@dataclass(frozen=True)
class WarcSource:
    """A complete WARC file of the catalog and where its bytes are."""

    id: int
    filename: str
    size: int
    sha256: str
    storage_key: str | None  # None until uploaded: the bytes are in the spool

    @classmethod
    def of(cls, row: WarcFile) -> WarcSource:
        uploaded = row.state == WarcState.UPLOADED and row.storage_key
        return cls(id=row.id, filename=row.filename, size=row.size or 0,
                   sha256=row.sha256 or "", storage_key=row.storage_key if uploaded else None)


@dataclass(frozen=True)
class Selection:
    """What goes into one WACZ: whole WARC files (the selected ones plus those holding the
    originals of their revisit records), and where its pages are (:class:`Scope`: which of
    those files, the crawls' start URLs, the time range)."""

    warcs: tuple[WarcSource, ...]
    pages: Scope
    title: str

    @classmethod
    def of(cls, session: Session, warcs: tuple[WarcSource, ...], title: str,
           since: str | None = None, until: str | None = None) -> Selection:
        ids = frozenset(w.id for w in warcs)
        return cls(warcs=_with_originals(session, warcs), title=title,
                   pages=Scope(warc_ids=ids, seeds=_seeds(session, ids), since=since,
                               until=until))


@dataclass
class WaczSummary:
    """What :func:`iter_wacz` wrote: resource path → (bytes, "sha256:…"), pages, size."""

    resources: dict[str, tuple[int, str]] = field(default_factory=dict)
    pages: int = 0
    captures: int = 0
    bytes: int = 0


def select_job(session: Session, job_id: int) -> Selection:
    """The complete WARC files of crawl job ``job_id``."""
    job = session.get(CrawlJob, job_id)
    if job is None:
        raise SelectionNotFound(f"no crawl job {job_id}; list jobs with `newsarchive jobs list`")
    warcs = _complete_warcs(session, WarcFile.job_id == job_id)
    if not warcs:
        raise EmptySelection(
            f"job {job_id} ({job.status}) has no complete WARC file yet; a WARC can be "
            "exported once it is closed (at the end of the crawl or when it rolls over)")
    return Selection.of(session, warcs, f"newsarchive crawl job {job_id}")


def select_site(session: Session, name: str, since: str | None = None,
                until: str | None = None) -> Selection:
    """The complete WARC files of site ``name``'s jobs holding a capture between ``since``
    and ``until`` (14-digit timestamps, inclusive; None: open-ended)."""
    site = session.scalar(select(Site).where(Site.name == name))
    if site is None:
        raise SelectionNotFound(f"no site named {name!r}; list sites with "
                                "`newsarchive sites list`")
    if since and until and since > until:
        raise WaczError(f"the time range is empty: from {since} is after to {until}")
    in_range = select(Capture.warc_file_id).join(CrawlJob, Capture.job_id == CrawlJob.id) \
        .where(CrawlJob.site_id == site.id)
    if since:
        in_range = in_range.where(Capture.timestamp >= since)
    if until:
        in_range = in_range.where(Capture.timestamp <= until)
    warcs = _complete_warcs(session, WarcFile.id.in_(in_range))
    span = f" from {since or 'the start'} to {until or 'now'}" if since or until else ""
    if not warcs:
        raise EmptySelection(f"site {name} has no complete WARC file with captures{span}; "
                             f"check `newsarchive jobs list` and the time range")
    return Selection.of(session, warcs, f"newsarchive site {name}{span}", since, until)


def _complete_warcs(session: Session, *conditions: Any) -> tuple[WarcSource, ...]:
    """The closed WARC files matching ``conditions``; a WaczError if one of them is damaged
    (a WACZ holds whole files, and one left out silently would lose its records)."""
    rows = session.scalars(select(WarcFile).where(*conditions, WarcFile.state.in_(
        (*EXPORTABLE_STATES, WarcState.DAMAGED))).order_by(WarcFile.filename)).all()
    damaged = [row.filename for row in rows if row.state == WarcState.DAMAGED]
    if damaged:
        raise WaczError(
            f"{', '.join(damaged)} failed verification (`newsarchive storage verify`): a WACZ "
            "holds whole, intact WARC files; put back a good copy of the object, then run "
            "`newsarchive storage verify --repair`")
    return tuple(WarcSource.of(row) for row in rows)


def _seeds(session: Session, warc_ids: frozenset[int]) -> tuple[str, ...]:
    """The start URLs of the crawl jobs that wrote ``warc_ids``, oldest job first."""
    specs = session.scalars(select(CrawlJob.spec).where(CrawlJob.id.in_(
        select(WarcFile.job_id).where(WarcFile.id.in_(sorted(warc_ids))))).order_by(CrawlJob.id))
    return tuple(dict.fromkeys(url for spec in specs for url in spec.get("urls") or ()))


def _with_originals(session: Session, warcs: tuple[WarcSource, ...]) -> tuple[WarcSource, ...]:
    """``warcs`` plus the WARCs holding the responses their revisit records stand for (same
    URL and payload digest), so that every revisit can be replayed from the WACZ alone."""
    ids = [warc.id for warc in warcs]
    revisited = select(Capture.surt, Capture.payload_digest).where(
        Capture.warc_file_id.in_(ids), Capture.record_type == "revisit")
    holding = select(Capture.warc_file_id).where(
        Capture.record_type == "response",
        tuple_(Capture.surt, Capture.payload_digest).in_(revisited))
    extra = _complete_warcs(session, WarcFile.id.in_(holding), WarcFile.id.not_in(ids))
    return tuple(sorted(warcs + extra, key=lambda warc: warc.filename))


def default_created() -> datetime:
    """Now, or ``SOURCE_DATE_EPOCH`` (reproducible-builds convention) when it is set."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), UTC)
        except ValueError:
            raise WaczError(f"SOURCE_DATE_EPOCH={epoch!r} is not an integer number of "
                            "seconds since 1970; unset it or fix it") from None
    return datetime.now(UTC)


def software() -> str:
    try:
        return f"newsarchive {version('newsarchive')}"
    except PackageNotFoundError:
        return "newsarchive"


class _Sink:
    """An unseekable file for ``zipfile``: collects what is written until drained."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._offset = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self._offset

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


class _ZipStream:
    """Adds members chunk by chunk, hashing each; yields the ZIP bytes as they are made."""

    def __init__(self, created: datetime, summary: WaczSummary) -> None:
        self.sink = _Sink()
        self.zip = zipfile.ZipFile(self.sink, "w")
        self.date_time = created.astimezone(UTC).timetuple()[:6]
        self.summary = summary

    def add(self, path: str, chunks: Iterable[bytes], *, size: int | None = None,
            compress: bool = False) -> Iterator[bytes]:
        info = zipfile.ZipInfo(path, self.date_time)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        if size is not None:
            info.file_size = size  # lets zipfile choose ZIP64 headers for files over 4 GiB
        digest, written = hashlib.sha256(), 0
        with self.zip.open(info, "w") as member:
            for chunk in chunks:
                digest.update(chunk)
                written += len(chunk)
                member.write(chunk)
                yield from self._drain()
        self.summary.resources[path] = (written, f"sha256:{digest.hexdigest()}")
        yield from self._drain()

    def close(self) -> Iterator[bytes]:
        self.zip.close()
        yield from self._drain()

    def _drain(self) -> Iterator[bytes]:
        data = self.sink.drain()
        if data:
            self.summary.bytes += len(data)
            yield data


def iter_wacz(catalog: Catalog, storage: Storage, spool_dir: Path, selection: Selection, *,
              created: datetime | None = None,
              summary: WaczSummary | None = None) -> Iterator[bytes]:
    """Yield the WACZ of ``selection`` in chunks; ``summary`` (if given) is filled in."""
    created = created or default_created()
    summary = summary if summary is not None else WaczSummary()
    stream = _ZipStream(created, summary)
    for warc in selection.warcs:
        path = f"archive/{warc.filename}"
        yield from stream.add(path, _warc_chunks(warc, storage, spool_dir), size=warc.size)
        _check_as_catalogued(warc, *summary.resources[path])
    index = _BlockIndex(INDEX_PATH.rsplit("/", 1)[-1])
    yield from stream.add(INDEX_PATH, index.blocks(_index_lines(catalog, selection, summary)))
    yield from stream.add(IDX_PATH, _batched(index.idx_lines), compress=True)
    yield from stream.add(PAGES_PATH, _batched(
        _page_lines(catalog, storage, spool_dir, selection, summary)), compress=True)
    package = datapackage(summary.resources, created=created, title=selection.title)
    yield from stream.add("datapackage.json", [package], compress=True)
    digest = {"path": "datapackage.json",
              "hash": f"sha256:{hashlib.sha256(package).hexdigest()}"}
    yield from stream.add("datapackage-digest.json", [json.dumps(digest, indent=2).encode()],
                          compress=True)
    yield from stream.close()


def write_wacz(path: Path, catalog: Catalog, storage: Storage, spool_dir: Path,
               selection: Selection, *, created: datetime | None = None) -> WaczSummary:
    """Write the WACZ to ``path`` via a temporary file beside it: on any error nothing is
    left behind (and an existing ``path`` is untouched)."""
    if path.is_dir():
        raise WaczError(f"cannot write {path}: it is a directory; give a file name like "
                        f"{path / 'export.wacz'}")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        out = tmp.open("xb")
    except OSError as exc:
        raise WaczError(f"cannot write {path}: {exc.strerror or exc}") from None
    summary = WaczSummary()
    try:
        with out:
            for chunk in iter_wacz(catalog, storage, spool_dir, selection, created=created,
                                   summary=summary):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return summary


def datapackage(resources: dict[str, tuple[int, str]], *, created: datetime,
                title: str) -> bytes:
    """``datapackage.json`` (Frictionless data package profile) for the written files."""
    names: set[str] = set()
    entries = []
    for path, (size, digest) in resources.items():
        entries.append({"name": _resource_name(path, names), "path": path, "hash": digest,
                        "bytes": size})
    package = {
        "profile": "data-package",
        "title": title,
        "resources": entries,
        "created": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "wacz_version": WACZ_VERSION,
        "software": software(),
    }
    return json.dumps(package, indent=2, ensure_ascii=False).encode()


def _resource_name(path: str, taken: set[str]) -> str:
    """A unique Frictionless resource name (lower case, ``[-a-z0-9._/]``)."""
    base = re.sub(r"[^-a-z0-9._/]", "-", path.rsplit("/", 1)[-1].lower())
    name, serial = base, 1
    while name in taken:
        serial += 1
        name = f"{base}-{serial}"
    taken.add(name)
    return name


def _warc_chunks(warc: WarcSource, storage: Storage, spool_dir: Path) -> Iterator[bytes]:
    with _open_warc(warc, storage, spool_dir) as stream:
        while chunk := stream.read(CHUNK_SIZE):
            yield chunk


def _open_warc(warc: WarcSource, storage: Storage, spool_dir: Path) -> BinaryIO:
    """From storage once uploaded, else from the spool (or from storage after all, when the
    upload finished since the selection was made)."""
    if warc.storage_key is None:
        local = spool_path(spool_dir, warc.filename)
        if local is not None:
            return local.open("rb")
    return storage.open(warc.storage_key or warc_key(warc.filename))


def _check_as_catalogued(warc: WarcSource, size: int, digest: str) -> None:
    """Fail the export when a WARC did not read back with its catalogued size and SHA-256."""
    if (size, digest) != (warc.size, f"sha256:{warc.sha256}"):
        raise StorageError(
            f"{warc.filename} read back as {size} bytes with {digest}, but the catalog has "
            f"{warc.size} bytes with sha256:{warc.sha256}; run "
            "`newsarchive storage verify --repair`")


def _batched(lines: Iterable[str]) -> Iterator[bytes]:
    """Encode lines and group them into chunks of about CHUNK_SIZE bytes."""
    batch: list[bytes] = []
    size = 0
    for line in lines:
        data = line.encode("utf-8")
        batch.append(data)
        size += len(data)
        if size >= CHUNK_SIZE:
            yield b"".join(batch)
            batch, size = [], 0
    if batch:
        yield b"".join(batch)


class _BlockIndex:
    """A sorted CDXJ as ``index.cdx.gz`` (one gzip member per block of lines, STORED in the
    ZIP so each block is one ranged read) plus the lines of its ``index.idx`` (the first key
    of each block with the block's offset, length and SHA-256): pywb's and py-wacz's
    compressed index, which ReplayWeb.page searches without loading the whole index."""

    def __init__(self, filename: str) -> None:
        meta = json.dumps({"format": "cdxj-gzip-1.0", "filename": filename})
        self.idx_lines = [f"!meta 0 {meta}\n"]
        self._offset = 0

    def blocks(self, lines: Iterable[str]) -> Iterator[bytes]:
        remaining = iter(lines)
        while block := list(islice(remaining, CDX_LINES_PER_BLOCK)):
            data = gzip.compress("".join(block).encode("utf-8"), mtime=0)
            key = block[0].split(" {", 1)[0]
            location = {"offset": self._offset, "length": len(data),
                        "digest": f"sha256:{hashlib.sha256(data).hexdigest()}"}
            self.idx_lines.append(f"{key} {json.dumps(location)}\n")
            self._offset += len(data)
            yield data


def _index_lines(catalog: Catalog, selection: Selection, summary: WaczSummary) -> Iterator[str]:
    """CDXJ lines of every capture in the selected WARCs, in byte order of the lines.

    The database sorts by (SURT, timestamp) in binary collation; rows that tie are sorted
    here, so memory holds one group of equal keys at a time."""
    filenames = {warc.id: warc.filename for warc in selection.warcs}
    with catalog.session() as session:
        surt = Capture.surt
        if session.get_bind().dialect.name == "postgresql":
            surt = surt.collate("C")  # type: ignore[assignment]
        rows = session.execute(
            select(Capture.url, Capture.timestamp, Capture.mime, Capture.status,
                   Capture.payload_digest, Capture.length, Capture.offset,
                   Capture.warc_file_id, Capture.surt, Capture.record_type)
            .where(Capture.warc_file_id.in_(list(filenames)))
            .order_by(surt, Capture.timestamp)
            .execution_options(yield_per=ROWS_PER_FETCH))
        group: list[str] = []
        key: tuple[str, str] | None = None
        for row in rows:
            if (row.surt, row.timestamp) != key and group:
                yield from sorted(group)
                group = []
            key = (row.surt, row.timestamp)
            summary.captures += 1
            group.append(CdxjEntry.build(
                url=row.url, timestamp=row.timestamp, mime=row.mime,
                status=None if row.record_type in NO_STATUS_RECORDS else row.status,
                digest=row.payload_digest, length=row.length, offset=row.offset,
                filename=filenames[row.warc_file_id]).to_line())
        yield from sorted(group)


def _page_lines(catalog: Catalog, storage: Storage, spool_dir: Path, selection: Selection,
                summary: WaczSummary) -> Iterator[str]:
    """The ``json-pages-1.0`` header, then one line per page (:func:`archive.pages.iter_pages`)."""
    header = {"format": "json-pages-1.0", "id": "pages", "title": selection.title,
              "hasText": has_text(catalog, selection.pages)}
    yield json.dumps(header) + "\n"
    for page in iter_pages(catalog, storage, spool_dir, selection.pages):
        summary.pages += 1
        yield json.dumps(page.to_json(), ensure_ascii=False) + "\n"
