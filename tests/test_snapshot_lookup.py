"""Snapshot lookup end to end: Archiver -> catalog (SQLite) -> spool / LocalStorage -> record."""

from __future__ import annotations

import gzip
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text
from warcio.archiveiterator import ArchiveIterator

from archive.archiver import Archiver
from archive.catalog import Catalog
from archive.models import Article, Capture, WarcFile, WarcState
from archive.snapshot import (
    SnapshotNotFound,
    closest_capture,
    list_captures,
    load_snapshot,
    normalize_timestamp,
)
from archive.storage import LocalStorage, open_storage
from archive.warc import HttpExchange, WarcWriter

URL = "https://news.example.org/story"
TIMES = {
    "v1": datetime(2026, 11, 3, 10, 0, 0, tzinfo=UTC),
    "v2": datetime(2026, 11, 3, 12, 0, 0, tzinfo=UTC),
    "v3": datetime(2026, 11, 5, 12, 0, 0, tzinfo=UTC),
}


def page(version: str) -> bytes:
    return f"<html><h1>Story</h1><p>{version}</p></html>".encode()


class ClockedWriter(WarcWriter):
    """Record ids from a counter; ``now`` returns whatever ``at`` is set to."""

    def __init__(self, spool_dir: Path, **kwargs: object) -> None:
        super().__init__(spool_dir, **kwargs)  # type: ignore[arg-type]
        self.at = datetime(2026, 1, 1, tzinfo=UTC)
        self.counter = 0

    def new_record_id(self) -> str:
        self.counter += 1
        return f"<urn:uuid:00000000-0000-0000-0000-{self.counter:012d}>"

    def now(self) -> datetime:
        return self.at

    def new_filename(self) -> str:
        stamp = self.at.strftime("%Y%m%d%H%M%S%f")[:17]
        return f"{self.prefix}-{stamp}-{self._serial:05d}-4242~testhost.warc.gz"


def exchange(version: str, url: str = URL) -> HttpExchange:
    return HttpExchange(
        url=url, method="GET", request_headers=[("Accept", "text/html")], status=200,
        reason="OK",
        response_headers=[("Content-Type", "text/html; charset=utf-8"),
                          ("Content-Encoding", "gzip"), ("X-Version", version)],
        body=gzip.compress(page(version), mtime=0), ip_address="93.184.216.34",
    )


@dataclass
class Setup:
    catalog: Catalog
    storage: LocalStorage
    writer: ClockedWriter
    archiver: Archiver
    spool: Path

    def archive(self, version: str, when: datetime, url: str = URL) -> str:
        self.writer.at = when
        return self.archiver.archive(exchange(version, url)).record_id


def make_setup(tmp_path: Path, **writer_options: object) -> Setup:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    storage = open_storage((tmp_path / "storage").as_uri())
    assert isinstance(storage, LocalStorage)
    spool = tmp_path / "spool"
    writer = ClockedWriter(spool, **writer_options)
    return Setup(catalog, storage, writer, Archiver(catalog, storage, writer), spool)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    s = make_setup(tmp_path)
    for version, when in TIMES.items():
        s.archive(version, when)
    s.archive("other", TIMES["v2"], "https://news.example.org/other")
    s.archiver.flush()
    yield s
    s.archiver.close()  # no-op when the test already closed it
    s.catalog.dispose()


def version_of(capture: Capture) -> str:
    return next(v for v, t in TIMES.items() if t.strftime("%Y%m%d%H%M%S") == capture.timestamp)


# -- closest_capture ------------------------------------------------------------------------


@pytest.mark.parametrize(("at", "expected"), [
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
])
def test_closest_capture(setup: Setup, at: str | None, expected: str) -> None:
    with setup.catalog.session() as session:
        capture = closest_capture(session, URL, at)
        assert version_of(capture) == expected
        assert capture.url == URL
        assert capture.status == 200
        assert capture.mime == "text/html"


def test_lookup_uses_the_surt_key(setup: Setup) -> None:
    with setup.catalog.session() as session:
        capture = closest_capture(session, "http://NEWS.example.org/story", "20261103100000")
        assert version_of(capture) == "v1"
        other = closest_capture(session, "https://news.example.org/other")
        assert other.url == "https://news.example.org/other"


def test_list_captures_in_time_order(setup: Setup) -> None:
    with setup.catalog.session() as session:
        captures = list_captures(session, URL)
        assert [version_of(c) for c in captures] == ["v1", "v2", "v3"]
        assert [version_of(c) for c in list_captures(session, URL, limit=2)] == ["v1", "v2"]


def test_unknown_url_raises_snapshot_not_found(setup: Setup) -> None:
    with setup.catalog.session() as session:
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
    response = setup.archiver.archive(exchange("v4", "https://news.example.org/article"))
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
