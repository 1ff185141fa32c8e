"""The pages of a WACZ (``pages/pages.jsonl``): which captures are pages, in which order, and
their titles.

A page is what a reader opens, whether or not it was extracted: a capture in the selected
WARC files that is a 2xx ``response`` with an HTML mime (:data:`archive.cdxj.HTML_MIMES`),
or a 2xx ``revisit`` of one (the URL fetched again with an unchanged payload; it replays
from its original), fetched as a page. Redirects (their target is the page), error pages,
what was fetched for a page (its frames and other requisites, its browser's requests:
:attr:`archive.models.Capture.subresource`) and every other capture (stylesheets, scripts,
images, feeds, sitemaps, robots.txt, PDFs) are not pages. A
URL captured by several crawls is several pages, told apart by ``ts``, as WACZ pages are a
URL at a time.

Seeds come first, marked ``"seed": true`` as Browsertrix marks them: the pages of the start
URLs of the selected crawl jobs (``crawl_jobs.spec["urls"]``, matched by SURT key) and of
the URLs they redirected to in the selection (up to :data:`MAX_REDIRECTS` hops), in the
order the seeds were given, each seed's captures oldest first. Then every other page, oldest
first.

Each page has ``id`` (its WARC-Record-ID without decoration), ``url`` and ``ts``, and, when
known, ``title`` and ``text``: the extracted article's headline and text, or else the
``<title>`` of the archived HTML. That title is read from the first
:data:`TITLE_READ_BYTES` of the page's record (one ranged read; the original's for a
revisit), de-chunked and its Content-Encoding undone (:mod:`archive.encoding`) and the HTML
decoded as the replay view decodes it (w3lib: BOM, Content-Type charset, ``<meta>``), which
is what a browser shows. A record that cannot be read, a body that does not decode (an
unknown or broken Content-Encoding) or a ``<title>`` that does not end within the bytes read
gives no title: the page is listed without one, and viewers show its URL.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import lxml.html
from lxml import etree
from sqlalchemy import Select, and_, false, or_, select, tuple_
from sqlalchemy.orm import Session, aliased, joinedload
from w3lib.encoding import html_to_unicode
from warcio.recordloader import ArcWarcRecord
from warcio.timeutils import timestamp_to_iso_date

from archive.catalog import Catalog
from archive.cdxj import HTML_MIMES, surt_key
from archive.encoding import UndecodableBody, decode_body, remove_transfer_coding
from archive.models import Article, Capture
from archive.snapshot import (
    SnapshotNotFound,
    parse_record_start,
    read_record_bytes,
    revisit_original,
)
from archive.storage import Storage, StorageError

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5  # hops followed from a seed to its page
TITLE_READ_BYTES = 64 * 1024  # of a page's record, read for its <title>
DECODED_LIMIT = 1024 * 1024  # most bytes of that record, and of its payload, decompressed
PAGES_PER_BATCH = 500
_ASCII_SPACE = re.compile(r"[\t\n\f\r ]+")  # what document.title strips and collapses
_TITLE_END = re.compile(r"</title", re.IGNORECASE)


@dataclass(frozen=True)
class Scope:
    """Where the pages are: the WARC files (catalog ids), the crawl's start URLs, and
    14-digit bounds on the capture time (inclusive; None: open-ended)."""

    warc_ids: frozenset[int]
    seeds: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None


@dataclass(frozen=True)
class Page:
    record_id: str
    url: str
    timestamp: str
    title: str | None = None
    text: str | None = None
    seed: bool = False

    def to_json(self) -> dict[str, Any]:
        """The ``json-pages-1.0`` line (without the title or text when unknown)."""
        page: dict[str, Any] = {"id": page_id(self.record_id), "url": self.url,
                                "ts": timestamp_to_iso_date(self.timestamp)}
        if self.title:
            page["title"] = self.title
        if self.text:
            page["text"] = self.text
        if self.seed:
            page["seed"] = True
        return page


def page_id(record_id: str) -> str:
    """``<urn:uuid:1b4f…>`` → ``1b4f…`` (the page's WARC-Record-ID without decoration)."""
    return record_id.strip("<>").removeprefix("urn:uuid:").replace("-", "")


def iter_pages(catalog: Catalog, storage: Storage, spool_dir: Path,
               scope: Scope) -> Iterator[Page]:
    """The pages of ``scope``, seeds first (see the module docstring). Memory holds one batch
    of pages; the catalog is read in batches, each in a session of its own."""
    reader = _RecordReader(storage, spool_dir)
    with catalog.session() as session:
        seed_keys = _seed_keys(session, scope, reader)
    for key in seed_keys:
        yield from _pages_in_time_order(catalog, reader, _pages(scope).where(
            Capture.surt == key), seed=True)
    others = _pages(scope).where(Capture.surt.not_in(seed_keys)) if seed_keys else _pages(scope)
    yield from _pages_in_time_order(catalog, reader, others, seed=False)


def has_text(catalog: Catalog, scope: Scope) -> bool:
    """Whether a page of ``scope`` has an extracted text (``hasText`` of the pages header)."""
    query = _pages(scope).where(Article.text != "").limit(1)
    with catalog.session() as session:
        return session.execute(query).first() is not None


def _pages(scope: Scope) -> Select[Any]:
    """The pages of ``scope`` with their article's title and text (None when not extracted)."""
    original = aliased(Capture)
    revisits_html = select(original.id).where(
        original.surt == Capture.surt, original.payload_digest == Capture.payload_digest,
        original.record_type == "response", original.mime.in_(HTML_MIMES),
        original.timestamp <= Capture.timestamp).exists()
    query = (select(Capture, Article.title, Article.text)
             .outerjoin(Article, Article.capture_id == Capture.id)
             .where(_in_scope(scope), Capture.status.between(200, 299),
                    Capture.subresource == false(),
                    or_(and_(Capture.record_type == "response", Capture.mime.in_(HTML_MIMES)),
                        and_(Capture.record_type == "revisit", revisits_html)))
             .options(joinedload(Capture.warc_file)))
    return query


def _in_scope(scope: Scope) -> Any:
    if not scope.warc_ids:
        return false()
    condition = Capture.warc_file_id.in_(sorted(scope.warc_ids))
    if scope.since:
        condition = and_(condition, Capture.timestamp >= scope.since)
    if scope.until:
        condition = and_(condition, Capture.timestamp <= scope.until)
    return condition


def _pages_in_time_order(catalog: Catalog, reader: _RecordReader, query: Select[Any], *,
                         seed: bool) -> Iterator[Page]:
    """``query``'s pages oldest first, :data:`PAGES_PER_BATCH` at a time (keyset
    pagination on time and id, so no cursor stays open while records are read)."""
    last: tuple[str, int] = ("", 0)
    while True:
        with catalog.session() as session:
            rows = session.execute(
                query.where(tuple_(Capture.timestamp, Capture.id) > tuple_(*last))
                .order_by(Capture.timestamp, Capture.id).limit(PAGES_PER_BATCH)).all()
            pages = [Page(record_id=capture.record_id, url=capture.url,
                          timestamp=capture.timestamp, seed=seed, text=text,
                          title=title or reader.title(session, capture))
                     for capture, title, text in rows]
        yield from pages
        if len(rows) < PAGES_PER_BATCH:
            return
        last = (rows[-1][0].timestamp, rows[-1][0].id)


def _seed_keys(session: Session, scope: Scope, reader: _RecordReader) -> list[str]:
    """The SURT keys of the seeds, each followed by the keys of the URLs it redirected to in
    the scope (depth first, up to :data:`MAX_REDIRECTS` hops)."""
    keys: list[str] = []

    def visit(key: str, hops: int) -> None:
        if key in keys:
            return
        keys.append(key)
        if hops == MAX_REDIRECTS:
            return
        redirects = session.scalars(
            select(Capture).where(_in_scope(scope), Capture.surt == key,
                                  Capture.status.between(300, 399))
            .options(joinedload(Capture.warc_file)).order_by(Capture.timestamp, Capture.id)
        ).all()
        for target in dict.fromkeys(filter(None, map(reader.location, redirects))):
            visit(surt_key(target), hops + 1)

    for url in scope.seeds:
        visit(surt_key(url), 0)
    return keys


class _RecordReader:
    """Reads what a page list needs from the start of a record: a title, a redirect
    target. A record that cannot be read gives nothing (logged at debug level): the page
    is listed all the same."""

    def __init__(self, storage: Storage, spool_dir: Path) -> None:
        self.storage = storage
        self.spool_dir = spool_dir

    def title(self, session: Session, capture: Capture) -> str | None:
        """The archived page's ``<title>`` (a revisit's from its original)."""
        try:
            source = revisit_original(session, capture) \
                if capture.record_type == "revisit" else capture
        except SnapshotNotFound as exc:
            logger.debug("no title for %s: %s", capture.url, exc)
            return None
        record = self._start(source)
        if record is None or record.http_headers is None:
            return None
        headers = record.http_headers
        body = remove_transfer_coding(record.raw_stream.read(),
                                      headers.get_header("Transfer-Encoding"))
        try:
            body = decode_body(body, headers.get_header("Content-Encoding"), DECODED_LIMIT)
        except UndecodableBody as exc:
            logger.debug("no title for %s: %s", capture.url, exc)
            return None
        return html_title(body, headers.get_header("Content-Type"))

    def location(self, capture: Capture) -> str | None:
        """The absolute URL a redirect capture points to."""
        record = self._start(capture)
        value = record.http_headers.get_header("Location") \
            if record is not None and record.http_headers is not None else None
        return urljoin(capture.url, value.strip()) if value and value.strip() else None

    def _start(self, capture: Capture) -> ArcWarcRecord | None:
        try:
            return parse_record_start(read_record_bytes(
                capture, self.storage, self.spool_dir, TITLE_READ_BYTES), DECODED_LIMIT)
        except StorageError as exc:
            logger.debug("cannot read the record of %s: %s", capture.url, exc)
            return None


def html_title(body: bytes, content_type: str | None) -> str | None:
    """The title a browser shows for ``body`` (the first bytes of an HTML document): the
    first ``<title>`` outside SVG, ASCII whitespace stripped and collapsed; None when there
    is none, when it is empty or when no ``</title`` ends it within ``body``."""
    _, text = html_to_unicode(content_type, body)
    if not _TITLE_END.search(text):
        return None
    try:
        parser = lxml.html.HTMLParser(encoding="utf-8")
        doc = lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)
    except (etree.ParserError, ValueError):
        return None
    found = doc.xpath("(//title[not(ancestor::svg)])[1]")
    if not found:
        return None
    title = _ASCII_SPACE.sub(" ", found[0].text_content()).strip(" ")
    return title or None
