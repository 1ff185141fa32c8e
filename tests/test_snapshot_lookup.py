"""Snapshot lookup end to end: Archiver -> catalog (SQLite; closest-capture lookups on
PostgreSQL too) -> spool / LocalStorage -> record."""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, func, inspect, select, text
from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord

from archive.archiver import Archiver
from archive.catalog import Catalog, alembic_config, head_revision, make_engine
from archive.models import Article, Capture, WarcFile, WarcState
from archive.snapshot import (
    CaptureRef,
    SnapshotNotFound,
    closest_capture,
    list_captures,
    load_snapshot,
    normalize_timestamp,
    parse_record,
)
from archive.storage import LocalStorage, StorageError, open_storage
from archive.warc import HttpExchange
from tests.support.databases import temporary_database
from tests.support.warc import ClockedWriter, exchange

URL = "https://news.example.org/story"
TIMES = {
    "v1": datetime(2026, 11, 3, 10, 0, 0, tzinfo=UTC),
    "v2": datetime(2026, 11, 3, 12, 0, 0, tzinfo=UTC),
    "v3": datetime(2026, 11, 5, 12, 0, 0, tzinfo=UTC),
}


def page(version: str) -> bytes:
    return f"<html><h1>Story</h1><p>{version}</p></html>".encode()


def story(version: str, url: str = URL) -> HttpExchange:
    return exchange(url, gzip.compress(page(version), mtime=0),
                    request_headers=[("Accept", "text/html")],
                    headers=[("Content-Type", "text/html; charset=utf-8"),
                             ("Content-Encoding", "gzip"), ("X-Version", version)],
                    ip_address="93.184.216.34")


@dataclass
class Setup:
    catalog: Catalog
    storage: LocalStorage
    writer: ClockedWriter
    archiver: Archiver
    spool: Path

    def archive(self, version: str, when: datetime, url: str = URL) -> str:
        self.writer.at = when
        return self.archiver.archive(story(version, url)).record_id


def make_setup(tmp_path: Path, database_url: str | None = None,
               **writer_options: object) -> Setup:
    catalog = Catalog(database_url or f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    storage = open_storage((tmp_path / "storage").as_uri())
    assert isinstance(storage, LocalStorage)
    spool = tmp_path / "spool"
    writer = ClockedWriter(spool, reproducible=True, **writer_options)
    return Setup(catalog, storage, writer, Archiver(catalog, storage, writer), spool)


@contextmanager
def archived(tmp_path: Path, database_url: str | None = None) -> Iterator[Setup]:
    """The three versions of URL and one other page, archived (the spool file still open)."""
    s = make_setup(tmp_path, database_url)
    for version, when in TIMES.items():
        s.archive(version, when)
    s.archive("other", TIMES["v2"], "https://news.example.org/other")
    s.archiver.flush()
    try:
        yield s
    finally:
        s.archiver.close()  # no-op when the test already closed it
        s.catalog.dispose()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    with archived(tmp_path) as s:
        yield s


@pytest.fixture(params=["sqlite", "postgresql"])
def any_catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    """:func:`setup` on SQLite and on PostgreSQL (skipped without a server, unless
    NEWSARCHIVE_REQUIRE_SERVICES=1)."""
    with temporary_database(request.param, tmp_path) as url, archived(tmp_path, url) as s:
        yield s


def version_of(capture: Capture | CaptureRef) -> str:
    return next(v for v, t in TIMES.items() if t.strftime("%Y%m%d%H%M%S") == capture.timestamp)


# -- closest_capture ------------------------------------------------------------------------


CLOSEST = [
    ("20200101000000", "v1"),  # before all
    ("20261103100000", "v1"),  # exact
    ("20261103120000", "v2"),  # exact
    ("20261105120000", "v3"),  # exact
    ("20261103105959", "v1"),  # between v1 and v2, nearer v1
    ("20261103110001", "v2"),  # between v1 and v2, nearer v2
    ("20261103110000", "v1"),  # halfway: the earlier wins
    ("20261104120000", "v2"),  # halfway between v2 and v3: the earlier wins
    ("20261104120001", "v3"),
    ("20300101000000", "v3"),  # after all
    (None, "v3"),  # latest
]


def test_closest_capture(any_catalog: Setup) -> None:
    with any_catalog.catalog.session() as session:
        expected_rows = {c.id: c for c in list_captures(session, URL)}
        for at, expected in CLOSEST:
            capture = closest_capture(session, URL, at)
            assert version_of(capture) == expected, f"closest to {at}"
            row = expected_rows[capture.id]  # every field is the catalog row's
            assert capture == CaptureRef(
                id=row.id, job_id=row.job_id, url=URL, surt=row.surt,
                timestamp=row.timestamp, status=200, mime="text/html",
                payload_digest=row.payload_digest, record_type="response",
                record_id=row.record_id, offset=row.offset, length=row.length,
                truncated=None, warc_file=capture.warc_file)
            assert (capture.warc_file.filename, capture.warc_file.storage_key,
                    capture.warc_file.state) == (row.warc_file.filename, None, WarcState.OPEN)


def test_closest_capture_is_two_probes_of_the_surt_timestamp_index(setup: Setup) -> None:
    """SQLite's plan for the one statement: an index search on each side of the time, no
    sort, the WARC file by primary key."""
    statements: list[tuple[str, object]] = []
    event.listen(setup.catalog.engine, "before_cursor_execute",
                 lambda _c, _cur, statement, parameters, *_: statements.append(
                     (statement, parameters)))
    with setup.catalog.session() as session:
        closest_capture(session, URL, "20261104000000")
    [(statement, parameters)] = statements
    with setup.catalog.engine.connect() as conn:
        plan = [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}",
                                                       parameters)]
    assert [step for step in plan if "captures" in step] == [
        "SEARCH captures USING INDEX ix_captures_surt_timestamp (surt=? AND timestamp<?)",
        "SEARCH captures USING INDEX ix_captures_surt_timestamp (surt=? AND timestamp>?)"]
    assert not [step for step in plan if "TEMP B-TREE" in step or step.startswith("SCAN c")]


def test_lookup_uses_the_surt_key(any_catalog: Setup) -> None:
    with any_catalog.catalog.session() as session:
        capture = closest_capture(session, "http://NEWS.example.org/story", "20261103100000")
        assert version_of(capture) == "v1"
        other = closest_capture(session, "https://news.example.org/other")
        assert other.url == "https://news.example.org/other"


def test_list_captures_in_time_order(setup: Setup) -> None:
    with setup.catalog.session() as session:
        captures = list_captures(session, URL)
        assert [version_of(c) for c in captures] == ["v1", "v2", "v3"]
        assert [version_of(c) for c in list_captures(session, URL, limit=2)] == ["v1", "v2"]


def test_unknown_url_raises_snapshot_not_found(any_catalog: Setup) -> None:
    with any_catalog.catalog.session() as session:
        with pytest.raises(SnapshotNotFound) as excinfo:
            closest_capture(session, "https://news.example.org/never", "20261103100000")
        assert "https://news.example.org/never" in str(excinfo.value)
        assert "org,example,news)/never" in str(excinfo.value)
        with pytest.raises(SnapshotNotFound):
            closest_capture(session, "https://news.example.org/never")


# -- normalize_timestamp --------------------------------------------------------------------


@pytest.mark.parametrize(("value", "normalized", "expected"), [
    # partial timestamps mean the end of the period (wayback convention)
    ("2026", "20261231235959", "v3"),
    ("202611", "20261130235959", "v3"),
    ("20261103", "20261103235959", "v2"),
    ("2026110310", "20261103105959", "v1"),
    ("20261103120000", "20261103120000", "v2"),
    (" 20261103120000 ", "20261103120000", "v2"),
    ("2026-11-03T11:30:00", "20261103113000", "v2"),  # naive ISO is UTC
    ("2026-11-03", "20261103000000", "v1"),
])
def test_normalized_timestamps_select_captures(setup: Setup, value: str, normalized: str,
                                               expected: str) -> None:
    assert normalize_timestamp(value) == normalized
    with setup.catalog.session() as session:
        assert version_of(closest_capture(session, URL, normalize_timestamp(value))) == expected


@pytest.mark.parametrize("value", [
    "2026-11-03T14:00:00+00:00", "2026-11-03T14:00:00Z", "2026-11-03T16:00:00+02:00",
    "2026-11-03T14:00:00.5+00:00",
])
def test_iso_timestamps_with_offset(value: str) -> None:
    assert normalize_timestamp(value) == "20261103140000"


@pytest.mark.parametrize(("value", "message"), [
    ("yesterday", "neither 1-14 digits"),
    ("", "neither 1-14 digits"),
    ("2026-13-45", "neither 1-14 digits"),
    ("123456789012345", "has 15 digits; use at most 14"),
])
def test_bad_timestamps_raise_value_error(value: str, message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        normalize_timestamp(value)
    assert message in str(excinfo.value)
    assert repr(value) in str(excinfo.value)


# -- load_snapshot --------------------------------------------------------------------------


def test_load_snapshot_from_open_spool_file(setup: Setup) -> None:
    with setup.catalog.session() as session:
        capture = closest_capture(session, URL, "20261103120000")
        assert capture.warc_file.state == WarcState.OPEN
        assert (setup.spool / (capture.warc_file.filename + ".open")).is_file()
        snapshot = load_snapshot(capture, setup.storage, setup.spool)

    assert snapshot.body == page("v2")
    assert snapshot.raw_body == gzip.compress(page("v2"), mtime=0)
    assert snapshot.status_line == "HTTP/1.1 200 OK"
    assert snapshot.http_headers.get_header("X-Version") == "v2"
    assert snapshot.warc_headers.get_header("WARC-Record-ID") == capture.record_id
    assert snapshot.warc_headers.get_header("WARC-Date") == "2026-11-03T12:00:00Z"
    assert snapshot.warc_headers.get_header("WARC-Payload-Digest") == capture.payload_digest
    assert list(setup.storage.list()) == []  # nothing shipped yet


def test_close_ships_to_storage_and_snapshot_reads_from_it(setup: Setup,
                                                           tmp_path: Path) -> None:
    with setup.catalog.session() as session:
        filename = closest_capture(session, URL).warc_file.filename

    setup.archiver.close()

    assert list(setup.spool.iterdir()) == []
    assert [o.key for o in setup.storage.list()] == [
        f"indexes/{filename}.cdxj", f"warcs/{filename}"]
    stored = setup.storage.root / "warcs" / filename
    with setup.catalog.session() as session:
        row = session.scalars(select(WarcFile)).one()
        assert (row.filename, row.state, row.storage_key) == (
            filename, WarcState.UPLOADED, f"warcs/{filename}")
        assert row.sha256 == hashlib.sha256(stored.read_bytes()).hexdigest()
        assert row.size == stored.stat().st_size
        assert row.records == 1 + 4 * 2  # warcinfo + 4 exchanges
        assert row.closed_at is not None
        assert row.uploaded_at is not None

        for version in TIMES:
            capture = closest_capture(session, URL, TIMES[version].strftime("%Y%m%d%H%M%S"))
            # a spool directory that does not exist proves the read went to storage
            snapshot = load_snapshot(capture, setup.storage, tmp_path / "no-spool")
            assert snapshot.body == page(version)
            assert snapshot.http_headers.get_header("X-Version") == version
            assert snapshot.warc_headers.get_header("WARC-Record-ID") == capture.record_id


def test_captures_read_back_the_right_record(setup: Setup) -> None:
    setup.archiver.close()
    with setup.catalog.session() as session:
        captures = session.scalars(select(Capture).order_by(Capture.id)).all()
        assert len(captures) == 4
        for capture in captures:
            data = setup.storage.read_range(capture.warc_file.storage_key, capture.offset,
                                            capture.length)
            parsed = list(ArchiveIterator(io.BytesIO(data)))
            assert len(parsed) == 1
            record = parsed[0]
            assert record.rec_headers.get_header("WARC-Record-ID") == capture.record_id
            assert record.rec_headers.get_header("WARC-Type") == "response"
            assert record.rec_headers.get_header("WARC-Target-URI") == capture.url
            assert record.rec_headers.get_header("WARC-Payload-Digest") == (
                capture.payload_digest)
            assert record.rec_headers.get_header("WARC-Date").replace("-", "").replace(
                ":", "").replace("T", "").removesuffix("Z") == capture.timestamp


def record_members(path: Path) -> list[bytes]:
    """Every record of the WARC file at ``path`` as catalogued: its gzip member's bytes."""
    spans = []
    with path.open("rb") as f:
        records = ArchiveIterator(f)
        for _ in records:
            records.read_to_end()
            spans.append((records.get_record_offset(), records.get_record_length()))
    data = path.read_bytes()
    return [data[offset:offset + length] for offset, length in spans]


def record_view(record: ArcWarcRecord, decoded: bool = False) -> tuple[object, ...]:
    """A record's type, WARC and HTTP headers and payload (as archived, or decoded)."""
    http = record.http_headers
    return (record.rec_type, record.rec_headers.headers, http and http.statusline,
            http and http.headers,
            (record.content_stream() if decoded else record.raw_stream).read())


def test_parse_record_reads_what_warcio_archive_iterator_reads(setup: Setup) -> None:
    """parse_record (one zlib call, warcio's record loader) against warcio's ArchiveIterator
    on every record of a WARC (warcinfo, request, response, metadata), gzip'd as stored and
    uncompressed."""
    setup.archiver.close()
    [warc] = (setup.storage.root / "warcs").glob("*.warc.gz")
    members = record_members(warc)
    assert len(members) == 1 + 4 * 2
    for member in members:
        for data in (member, zlib.decompress(member, wbits=31)):
            for decoded in (False, True):
                expected = next(iter(ArchiveIterator(io.BytesIO(data))))
                assert record_view(parse_record(data), decoded) == record_view(expected,
                                                                               decoded)


@pytest.mark.parametrize(("data", "message"), [
    (b"", "no WARC record at the catalogued offset"),
    (gzip.compress(b"WARC/1.1\r\n", mtime=0)[:12], "is not valid gzip"),
    (gzip.compress(b"", mtime=0), "no WARC record at the catalogued offset"),
    (b"\r\n", "no WARC record at the catalogued offset"),
    (b"<!doctype html><p>not an archive</p>", "no WARC record at the catalogued offset"),
    (gzip.compress(b"WARC/1.1\r\nWARC-Type: response\r\nContent-Length: 6\r\n\r\nHTTP/x",
                   mtime=0),
     "the WARC record at the catalogued offset cannot be read"),
])
def test_parse_record_errors_name_the_problem(data: bytes, message: str) -> None:
    with pytest.raises(StorageError, match=message):
        parse_record(data)


def test_parse_record_reads_any_http_status_line_as_archive_iterator_does() -> None:
    """Scrapy's HTTP/2 handler reports the protocol as "h2"; such records must replay."""
    body = b"<p>over h2</p>"
    for protocol in ("HTTP/2", "h2"):
        http = f"{protocol} 200 OK\r\nContent-Type: text/html\r\n\r\n".encode() + body
        data = (b"WARC/1.1\r\nWARC-Type: response\r\nWARC-Target-URI: https://h2.example/\r\n"
                b"Content-Type: application/http; msgtype=response\r\n"
                b"Content-Length: %d\r\n\r\n" % len(http) + http + b"\r\n\r\n")
        record = parse_record(gzip.compress(data))
        assert record.http_headers.get_statuscode() == "200"
        assert record.content_stream().read() == body
        assert record_view(parse_record(data)) == record_view(
            next(iter(ArchiveIterator(io.BytesIO(data)))))


def test_captures_across_rolled_files(tmp_path: Path) -> None:
    s = make_setup(tmp_path, max_size=1)  # every exchange gets its own file
    ids = {version: s.archive(version, when) for version, when in TIMES.items()}
    s.archiver.close()
    try:
        assert list(s.spool.iterdir()) == []
        with s.catalog.session() as session:
            files = session.scalars(select(WarcFile).order_by(WarcFile.id)).all()
            assert len(files) == 3
            assert {f.state for f in files} == {WarcState.UPLOADED}
            for version in TIMES:
                capture = closest_capture(session, URL, TIMES[version].strftime("%Y%m%d%H%M%S"))
                assert capture.record_id == ids[version]
                snapshot = load_snapshot(capture, s.storage, s.spool)
                assert snapshot.body == page(version)
            assert len({c.warc_file_id for c in list_captures(session, URL)}) == 3
    finally:
        s.catalog.dispose()


def test_annotate_links_article_to_capture(setup: Setup) -> None:
    setup.writer.at = TIMES["v3"]
    response = setup.archiver.archive(story("v4", "https://news.example.org/article"))
    metadata = setup.archiver.annotate(response, {"title": "Story"},
                                       article={"url": response.target_uri, "title": "Story",
                                                "text": "Body", "word_count": 1},
                                       extractor_version="test-1")
    setup.archiver.flush()
    with setup.catalog.session() as session:
        article = session.scalars(select(Article)).one()
        assert article.capture.record_id == response.record_id
        assert article.metadata_record_id == metadata.record_id
        assert article.extractor_version == "test-1"
        assert (article.title, article.word_count) == ("Story", 1)


# -- catalog --------------------------------------------------------------------------------


def test_head_revision_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    assert head_revision() == ScriptDirectory.from_config(
        alembic_config(make_engine("sqlite://"))).get_current_head()


def test_a_catalog_at_head_opens_without_importing_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    Catalog(url).dispose()
    opened = subprocess.run(
        [sys.executable, "-c", "import sys; from archive.catalog import Catalog; "
         f"Catalog({url!r}).dispose(); print(sorted(m for m in sys.modules "
         "if m.split('.')[0] in ('alembic', 'mako')))"],
        capture_output=True, text=True, check=True)
    assert opened.stdout.strip() == "[]"


def test_catalog_migrations_are_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    first = Catalog(url)
    with first.session() as session:
        session.add(WarcFile(filename="kept.warc.gz"))
    with first.engine.connect() as conn:
        head = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    first.dispose()

    second = Catalog(url)
    try:
        with second.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).all() == head
        assert len(head) == 1
        assert {"crawl_jobs", "warc_files", "captures", "articles"} <= set(
            inspect(second.engine).get_table_names())
        with second.session() as session:
            assert session.scalar(select(func.count()).select_from(WarcFile)) == 1
            assert session.scalars(select(WarcFile.filename)).one() == "kept.warc.gz"
    finally:
        second.dispose()
