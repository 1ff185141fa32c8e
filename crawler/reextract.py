"""Run article extraction again over archived HTML responses, never the live web.

Candidates are 2xx HTML ``response`` captures and 2xx ``revisit`` captures (whose payload is
read from their original, see :func:`archive.snapshot.revisit_original`). Each record is read
back with one ranged read (from storage, or from the spool before upload), its
Content-Encoding decoded (:mod:`archive.encoding`) and its charset taken from the archived
``Content-Type``; a record that cannot be read or decoded is reported and the run goes on;
:func:`crawler.extraction.extract_article` runs in a process pool (forkserver, as in the
crawl) while the main process reads the next batch. ``articles`` rows are
updated in place (the capture link and the crawl's metadata record id are kept) or created,
with the current ``EXTRACTOR_VERSION``. Captures whose article is already at that version are
skipped unless ``force``, so a second run does nothing. The histories (versions) of the
articles created or changed are rebuilt (:func:`archive.history.rebuild_histories`),
idempotently; articles from before histories existed get their key and history even when
skipped.

A history is rebuilt once every capture of it is read by the current extractor, so that a
change one extractor named is not compared again across two extractors' readings: after a
selection (``job_id``, ``site``, ``since``), the other captures of the histories it changed
or found already current (a rerun of an interrupted run) are read too, and of the histories
those move articles to; a history with a capture that cannot be read or extracted is
rebuilt at the end of the run, with that capture's older reading (an ``extractor`` version
where they meet), and the capture is tried once per run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Select, and_, false, func, or_, select
from sqlalchemy.orm import joinedload
from w3lib.encoding import http_content_type_encoding
from warcio.exceptions import ArchiveLoadFailed

from archive.catalog import Catalog
from archive.cdxj import HTML_MIMES
from archive.encoding import UndecodableBody
from archive.history import article_key, rebuild_histories
from archive.models import Article, Capture, CrawlJob, Site
from archive.snapshot import SnapshotNotFound, normalize_timestamp, read_capture_records
from archive.storage import Storage, StorageError
from crawler.extraction import EXTRACTOR_VERSION, extract_to_dict
from crawler.pool import extraction_pool

_KEYS_PER_QUERY = 500  # histories per query for the rest of a selection's histories
ARTICLE_FIELDS = frozenset(c.key for c in Article.__table__.columns) - {
    "id", "capture_id", "extractor_version", "metadata_record_id", "created_at", "url_key"}


class ReextractError(ValueError):
    """The selection is invalid (unknown job or site, bad date); the message says which."""


@dataclass
class ReextractReport:
    extractor_version: str
    scanned: int = 0  # candidate captures
    created: int = 0  # new articles rows
    updated: int = 0  # rows rewritten (new version or new content)
    unchanged: int = 0  # already at this version (skipped), or the same result under force
    empty: int = 0  # no article in the page, or not HTML (an existing row is left as it is)
    failed: list[dict[str, Any]] = field(default_factory=list)  # capture_id, url, error

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def candidates(catalog: Catalog, *, job_id: int | None = None, site: str | None = None,
               since: str | None = None) -> Select[Any]:
    """The captures to re-extract, oldest first: pages, as the crawl extracts them (not the
    frames it fetched as requisites); raises :class:`ReextractError` for an unknown job or
    site or a bad ``since``."""
    query = select(Capture).where(
        Capture.status.between(200, 299), Capture.subresource == false(),
        or_(and_(Capture.record_type == "response", Capture.mime.in_(HTML_MIMES)),
            Capture.record_type == "revisit"))
    with catalog.session() as session:
        if job_id is not None:
            if session.get(CrawlJob, job_id) is None:
                raise ReextractError(f"no crawl job {job_id}; see `newsarchive jobs list`")
            query = query.where(Capture.job_id == job_id)
        if site is not None:
            site_id = session.scalar(select(Site.id).where(Site.name == site))
            if site_id is None:
                raise ReextractError(f"no site named {site!r}; see `newsarchive sites list`")
            query = query.where(Capture.job_id.in_(
                select(CrawlJob.id).where(CrawlJob.site_id == site_id)))
    if since is not None:
        try:
            stamp = normalize_timestamp(since)  # validates; pads digits to the period's end
        except ValueError as exc:
            raise ReextractError(f"since: {exc}") from None
        since = since.strip()
        query = query.where(Capture.timestamp >= (since.ljust(14, "0") if since.isdigit()
                                                  else stamp))
    return query.order_by(Capture.id)


def reextract(
    catalog: Catalog,
    storage: Storage,
    spool_dir: Path,
    *,
    job_id: int | None = None,
    site: str | None = None,
    since: str | None = None,
    force: bool = False,
    workers: int | None = None,
    extractor_version: str = EXTRACTOR_VERSION,
    batch_size: int = 32,
    on_progress: Callable[[ReextractReport, int], None] | None = None,
) -> ReextractReport:
    """Re-extract the selected captures (all when no filter is given); see the module doc.

    ``since`` is a capture time (1-14 digits or ISO 8601). ``on_progress(report, total)`` is
    called after every batch.
    """
    query = candidates(catalog, job_id=job_id, site=site, since=since)
    report = ReextractReport(extractor_version)
    with catalog.session() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    selective = (job_id, site, since) != (None, None, None)
    unbuilt: set[str] = set()  # histories changed but still read by several extractors
    current: set[str] = set()  # histories of selected captures skipped as already current
    failed: set[int] = set()  # captures that could not be read or extracted

    def store(results: list[tuple[int, str, Future[dict[str, Any] | None]]]) -> None:
        reported = len(report.failed)
        rebuilt, mixed = _store(catalog, results, extractor_version, report)
        failed.update(failure["capture_id"] for failure in report.failed[reported:])
        unbuilt.difference_update(rebuilt)
        unbuilt.update(mixed)

    def run(batches: Iterator[list[Capture]]) -> None:
        pending: list[tuple[int, str, Future[dict[str, Any] | None]]] = []
        for batch in batches:
            batch = [capture for capture in batch if capture.id not in failed]
            report.scanned += len(batch)
            submitted = []
            unkeyed = []  # skipped articles from before histories (migration 0012)
            for capture in batch:
                if (capture.article is not None and not force
                        and capture.article.extractor_version == extractor_version):
                    report.unchanged += 1
                    if capture.article.url_key is None:
                        unkeyed.append(capture.article.id)
                    elif selective:
                        current.add(capture.article.url_key)
                    continue
                try:
                    payload = _payload(catalog, capture, storage, spool_dir)
                except (SnapshotNotFound, StorageError, OSError, ArchiveLoadFailed,
                        UndecodableBody) as exc:
                    report.failed.append({"capture_id": capture.id, "url": capture.url,
                                          "error": f"cannot read the record: {exc}"})
                    failed.add(capture.id)
                    if capture.article is not None and capture.article.url_key:
                        unbuilt.add(capture.article.url_key)
                    continue
                if payload is None:
                    report.empty += 1
                    continue
                body, charset = payload
                submitted.append((capture.id, capture.url,
                                  pool.submit(body, capture.url, charset)))
            if unkeyed:
                _key_articles(catalog, unkeyed)
            # Store the previous batch while this one is being extracted.
            store(pending)
            pending = submitted
            if on_progress:
                on_progress(report, total)
        store(pending)

    with _LazyPool(workers or os.cpu_count() or 1) as pool:
        run(_batches(catalog, query, batch_size))
        if selective:
            # The older (or newer) captures of the histories the selection changed, or found
            # current (a rerun after an interrupted one), are read too, so that each history
            # is read by one extractor; reading them may move an article to another history.
            done: set[str] = set()
            while todo := sorted((unbuilt | current) - done):
                done.update(todo)
                for start in range(0, len(todo), _KEYS_PER_QUERY):
                    with catalog.session() as session:
                        ids = [capture_id for capture_id in session.scalars(_rest_of(
                            todo[start:start + _KEYS_PER_QUERY], extractor_version))
                            if capture_id not in failed]
                    total += len(ids)
                    run(_batches_of(catalog, ids, batch_size))
    if unbuilt:  # a capture that could not be read keeps the older reading
        with catalog.session() as session:
            rebuild_histories(session, unbuilt)
    if on_progress:
        on_progress(report, total)
    return report


def _rest_of(keys: list[str], extractor_version: str) -> Select[Any]:
    """The ids of the captures of the histories ``keys`` whose article another extractor
    read. Fetched once and then read by id: paging the join itself by capture id makes
    PostgreSQL walk the articles from the first capture at every batch."""
    return (select(Article.capture_id)
            .where(Article.url_key.in_(keys), Article.extractor_version != extractor_version)
            .order_by(Article.capture_id))


def _payload(catalog: Catalog, capture: Capture, storage: Storage,
             spool_dir: Path) -> tuple[bytes, str | None] | None:
    """The decoded body and declared charset of the response behind ``capture`` (a
    revisit's original); None if that is not HTML."""
    with catalog.session() as session:
        records = read_capture_records(capture, storage, spool_dir, session)
    if records.source.mime not in HTML_MIMES:
        return None
    content_type = records.payload_source.http_headers.get_header("Content-Type")
    return records.decoded_payload(), http_content_type_encoding(content_type)


class _LazyPool:
    """A forkserver process pool started at the first submit (none when nothing needs
    extracting); the forkserver imports the extractor once, not every worker."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, body: bytes, url: str, encoding: str | None,
               ) -> Future[dict[str, Any] | None]:
        if self._pool is None:
            self._pool = self._start()
        try:
            return self._pool.submit(extract_to_dict, body, url, encoding)
        except BrokenProcessPool:  # a worker died (its pages are reported failed): go on
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._start()
            return self._pool.submit(extract_to_dict, body, url, encoding)

    def _start(self) -> ProcessPoolExecutor:
        return extraction_pool(self.workers)

    def __enter__(self) -> _LazyPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _batches(catalog: Catalog, query: Select[Any], size: int) -> Iterator[list[Capture]]:
    """Captures (with WARC file and article loaded) in id order, ``size`` at a time."""
    last_id = 0
    while True:
        with catalog.session() as session:
            batch = list(session.scalars(
                query.where(Capture.id > last_id).limit(size)
                .options(joinedload(Capture.warc_file), joinedload(Capture.article))))
        if not batch:
            return
        yield batch
        last_id = batch[-1].id


def _batches_of(catalog: Catalog, ids: list[int], size: int) -> Iterator[list[Capture]]:
    """The captures ``ids`` (with WARC file and article loaded), ``size`` at a time."""
    for start in range(0, len(ids), size):
        with catalog.session() as session:
            yield list(session.scalars(
                select(Capture).where(Capture.id.in_(ids[start:start + size]))
                .order_by(Capture.id)
                .options(joinedload(Capture.warc_file), joinedload(Capture.article))))


def _key_articles(catalog: Catalog, article_ids: list[int]) -> None:
    """Give articles their history key and build those histories."""
    with catalog.session() as session:
        articles = list(session.scalars(select(Article).where(Article.id.in_(article_ids))))
        for article in articles:
            article.url_key = article_key(article.url, article.canonical_url)
        session.flush()
        rebuild_histories(session, {a.url_key for a in articles})


def _store(catalog: Catalog, results: list[tuple[int, str, Future[dict[str, Any] | None]]],
           version: str, report: ReextractReport) -> tuple[set[str], set[str]]:
    """Wait for the batch's extractions and write their articles in one transaction, with
    the histories they complete; returns the keys of the histories rebuilt, and of those
    changed that other captures still hold another extractor's reading of (rebuilt once
    those are read, so that a rebuild does not compare two extractors' readings of what one
    extractor had named)."""
    outcomes = []
    for capture_id, url, future in results:
        try:
            outcomes.append((capture_id, future.result()))
        except Exception as exc:  # noqa: BLE001 - any extractor or worker failure is reported
            report.failed.append({"capture_id": capture_id, "url": url,
                                  "error": f"extraction failed: {exc!r}"})
    if not outcomes:
        return set(), set()
    with catalog.session() as session:
        existing = {a.capture_id: a for a in session.scalars(select(Article).where(
            Article.capture_id.in_([capture_id for capture_id, _ in outcomes])))}
        touched: set[str] = set()
        for capture_id, result in outcomes:
            if result is None:
                report.empty += 1
                continue
            values = {k: v for k, v in result.items() if k in ARTICLE_FIELDS}
            values["url_key"] = article_key(values["url"], values.get("canonical_url"))
            touched.add(values["url_key"])
            article = existing.get(capture_id)
            if article is None:
                session.add(Article(capture_id=capture_id, extractor_version=version, **values))
                report.created += 1
            elif article.extractor_version == version and all(
                    getattr(article, k) == v for k, v in values.items()):
                report.unchanged += 1
            else:
                if article.url_key:
                    touched.add(article.url_key)  # the history it leaves, if its key changed
                for key, value in values.items():
                    setattr(article, key, value)
                article.extractor_version = version
                report.updated += 1
        session.flush()
        mixed = set(session.scalars(select(Article.url_key).distinct().where(
            Article.url_key.in_(sorted(touched)), Article.extractor_version != version)))
        rebuild_histories(session, touched - mixed)
    return touched - mixed, mixed
