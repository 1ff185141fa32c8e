"""The no-data-loss lifecycle on local storage: crashed writers, failed uploads, recovery.

* a ``.open`` file cut in the middle of a gzip member (unit level: WarcWriter + Archiver);
* ``newsarchive crawl`` killed with SIGKILL while it writes, then ``storage upload``;
* an upload that fails keeps the WARC in the spool until ``storage upload`` can store it.
"""

from __future__ import annotations

import fcntl
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from archive.archiver import Archiver
from archive.catalog import Catalog
from archive.layout import OPEN_SUFFIX, warc_filename
from archive.models import Article, Capture, WarcFile
from archive.recovery import recover_spool, writer_alive
from archive.snapshot import load_snapshot
from archive.storage import LocalStorage
from archive.warc import HttpExchange, WarcWriter, WrittenRecord
from scheduler.demo.server import ARTICLE_PATHS
from tests.support.cli import Archive
from tests.support.harness import wait_until
from tests.support.warc import exchange, resource_types, sha256, warcio_check

ARTICLE = "/world/2026/11/03/harbour-bridge-reopens.html"
def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def records_in(data: bytes) -> list[tuple[str, str]]:
    """(WARC-Type, WARC-Record-ID) of every record warcio reads from ``data``."""
    return [(r.rec_headers.get_header("WARC-Type"), r.rec_headers.get_header("WARC-Record-ID"))
            for r in ArchiveIterator(io.BytesIO(data))]


def single_record_id(data: bytes) -> str:
    """The record id of ``data``, which must frame exactly one record."""
    records = records_in(data)
    assert len(records) == 1, f"expected one record, found {len(records)}"
    return records[0][1]


def ends_with_complete_member(data: bytes) -> bool:
    """Whether some complete gzip member starts in ``data`` (independent of the code
    under test: zlib decompression of the bytes as they are)."""
    for start in range(len(data)):
        if data[start:start + 2] != b"\x1f\x8b":
            continue
        decomp = zlib.decompressobj(wbits=31)
        try:
            decomp.decompress(data[start:])
        except zlib.error:
            continue
        if decomp.eof:
            return True
    return False


# -- unit level: a .open file cut in the middle of a record ---------------------------------


CRASH_TIME = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class DeadWriterWarcWriter(WarcWriter):
    """Names its files after a process that no longer exists on this host, as a crashed
    crawler would have left them."""

    def __init__(self, spool_dir: Path, pid: int) -> None:
        super().__init__(spool_dir)
        self.pid = pid

    def new_filename(self) -> str:
        return warc_filename(self.prefix, CRASH_TIME, self._serial, pid=self.pid)


def story(n: int) -> HttpExchange:
    body = gzip.compress((f"<html><h1>Story {n}</h1>" + "<p>text</p>" * 200 * n).encode(),
                         mtime=0)
    return exchange(f"https://news.example.org/story/{n}", body,
                    request_headers=[("Accept", "text/html")],
                    headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
                    ip_address="93.184.216.34")


@dataclass
class Crashed:
    catalog: Catalog
    storage: LocalStorage
    spool: Path
    path: Path  # the abandoned .open file
    responses: list[WrittenRecord]
    exchanges: list[HttpExchange]


@pytest.fixture
def crashed(tmp_path: Path) -> Iterator[Crashed]:
    """Six exchanges (response, request, metadata + article each) written, captures
    committed, then the writer 'dies': no close, no rename, no upload."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    storage = LocalStorage((tmp_path / "storage").as_uri())
    spool = tmp_path / "spool"
    writer = DeadWriterWarcWriter(spool, dead_pid())
    archiver = Archiver(catalog, storage, writer)
    exchanges = [story(n) for n in range(1, 7)]
    responses = []
    for ex in exchanges:
        response = archiver.archive(ex)
        archiver.annotate(response, {"outlinks": []}, {"url": ex.url, "title": ex.url})
        responses.append(response)
    archiver.flush()
    writer._current.out.raw.close()  # the process is gone: only what reached the OS stays
    archiver._shipper.shutdown()
    (path,) = spool.glob("*.warc.gz.open")
    yield Crashed(catalog, storage, spool, path, responses, exchanges)
    catalog.dispose()


@pytest.mark.parametrize("damage", ["cut mid-member", "cut after the gzip header",
                                    "zero-filled tail"])
def test_recovery_cuts_after_the_last_complete_record(crashed: Crashed, damage: str) -> None:
    last = crashed.responses[-1]
    written = crashed.path.read_bytes()
    assert len(written) > last.offset + last.length  # its request and metadata follow
    keep = last.offset  # everything up to the last response is complete
    if damage == "cut mid-member":
        damaged = written[:last.offset + last.length // 2]
    elif damage == "cut after the gzip header":
        damaged = written[:last.offset + 12]
    else:
        damaged = written[:last.offset + last.length // 2] + b"\0" * 8192
    crashed.path.write_bytes(damaged)
    assert not writer_alive(crashed.path)

    # A file whose writer is alive (this process) is left alone.
    live = crashed.spool / (warc_filename("newsarchive", CRASH_TIME, 9) + OPEN_SUFFIX)
    live.write_bytes(written[:100])
    assert writer_alive(live)

    report = recover_spool(crashed.catalog, crashed.storage, crashed.spool)

    assert (report.recovered_files, report.shipped_files, report.failed_files) == (1, 1, 0)
    assert report.truncated_bytes == len(damaged) - keep
    assert report.dropped_captures == 1
    assert sorted(p.name for p in crashed.spool.iterdir()) == [live.name]
    assert live.read_bytes() == written[:100]

    filename = crashed.path.name.removesuffix(".open")
    stored = (crashed.storage.root / "warcs" / filename).read_bytes()
    assert stored == written[:keep]
    warcio_check(crashed.storage.root / "warcs" / filename)
    assert len(records_in(stored)) == 1 + 3 * 5  # warcinfo + 5 x (response, request, metadata)

    with crashed.catalog.session() as session:
        row = session.scalars(select(WarcFile)).one()
        assert (row.filename, row.state, row.size, row.sha256, row.records) \
            == (filename, "uploaded", keep, sha256(stored), 16)
        captures = list(session.scalars(select(Capture).order_by(Capture.offset)))
        assert [c.record_id for c in captures] \
            == [r.record_id for r in crashed.responses[:-1]]
        assert sorted(a.url for a in session.scalars(select(Article))) \
            == sorted(ex.url for ex in crashed.exchanges[:-1])
        for capture, ex in zip(captures, crashed.exchanges, strict=False):
            assert single_record_id(stored[capture.offset:capture.offset + capture.length]) \
                == capture.record_id
            snap = load_snapshot(capture, crashed.storage, crashed.spool)
            assert snap.raw_body == ex.body
    index = (crashed.storage.root / "indexes" / f"{filename}.cdxj").read_text().splitlines()
    fields = [json.loads(line.split(" ", 2)[2]) for line in index]
    assert sorted((int(f["offset"]), int(f["length"]), f["url"]) for f in fields) \
        == [(r.offset, r.length, r.target_uri) for r in crashed.responses[:-1]]


# -- a crawl killed with SIGKILL while it writes --------------------------------------------


def wait_for(condition: Any, timeout: float, what: str, proc: subprocess.Popen) -> Any:
    """``wait_until`` ``condition``, failing at once if the crawl process ends first."""
    def met() -> Any:
        if proc.poll() is not None:
            raise AssertionError(f"the crawl ended (exit {proc.returncode}) before {what}")
        return condition()

    return wait_until(met, timeout, message=what)


def catalog_captures(archive: Archive) -> dict[str, tuple[int, int, str]]:
    """record id → (offset, length, url) of every capture, read without migrating."""
    catalog = Catalog(archive.config.database_url, upgrade=False)
    try:
        with catalog.session() as session:
            return {c.record_id: (c.offset, c.length, c.url)
                    for c in session.scalars(select(Capture))}
    finally:
        catalog.dispose()


@pytest.mark.slow
def test_crawl_killed_mid_write_is_recovered_by_storage_upload(
        tmp_path: Path, demo_site: Any) -> None:
    archive = Archive(tmp_path / "data", env={"NEWSARCHIVE_DOWNLOAD_TIMEOUT": "60"})
    base = demo_site.url
    # Three requests that hang for 10 s keep the crawl busy; the fourth slot fetches pages.
    urls = [f"{base}/slow?delay=10&n={n}" for n in range(3)]
    urls += [base + "/", *(base + path for path in ARTICLE_PATHS)]
    log = (tmp_path / "crawl.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "scheduler.cli", "crawl", "--json",
                             "--no-extract", "--depth", "0", *urls],
                            env={**os.environ, **archive.env}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=log)
    log.close()
    spool = archive.config.spool_dir
    try:
        open_path = wait_for(lambda: next(iter(spool.glob("*.warc.gz.open")), None), 60,
                             "a .open WARC in the spool", proc)
        wait_for(lambda: len(catalog_captures(archive)) >= 4, 60,
                 "4 captures in the catalog", proc)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not writer_alive(open_path)

    killed = open_path.read_bytes()
    before = catalog_captures(archive)
    written_ids: list[str] = []
    try:  # every record that made it to the file before the kill
        for record in ArchiveIterator(io.BytesIO(killed)):
            written_ids.append(record.rec_headers.get_header("WARC-Record-ID"))
    except Exception:  # noqa: BLE001 - a torn last record ends the iteration
        pass
    assert set(before) <= set(written_ids)
    with archive.catalog().session() as session:
        job_id = session.scalars(select(WarcFile.job_id)).one()
        assert session.scalars(select(WarcFile.state)).one() == "open"

    upload = archive.cli("storage", "upload")
    assert "recovered 1 abandoned file(s), stored 1, failed 0" in upload.text
    assert list(spool.iterdir()) == [], "no .open file (nor anything else) is left"

    filename = open_path.name.removesuffix(".open")
    stored_path = archive.data_dir / "storage" / "warcs" / filename
    stored = stored_path.read_bytes()
    assert killed.startswith(stored)
    assert not ends_with_complete_member(killed[len(stored):]), \
        "only an incomplete record may be cut off"
    warcio_check(stored_path)
    stored_ids = [record_id for _, record_id in records_in(stored)]
    assert stored_ids == written_ids[:len(stored_ids)]
    assert len(written_ids) - len(stored_ids) <= 1

    with archive.catalog().session() as session:
        row = session.scalars(select(WarcFile)).one()
        assert (row.state, row.size, row.sha256, row.job_id) \
            == ("uploaded", len(stored), sha256(stored), job_id)
        captures = list(session.scalars(select(Capture).where(Capture.job_id == job_id)))
    # no capture lost, none invented: the catalog now names exactly the stored responses
    # (those the crawl had catalogued, and those written after its last flush)
    stored_responses = {record_id for kind, record_id in records_in(stored)
                        if kind in ("response", "revisit")}
    assert set(before) <= stored_responses
    assert {c.record_id for c in captures} == stored_responses
    for capture in captures:
        data = stored[capture.offset:capture.offset + capture.length]
        assert len(data) == capture.length
        assert single_record_id(data) == capture.record_id
    captured = {url for _, _, url in before.values()}
    page = next(p for p in ("/", *ARTICLE_PATHS) if base + p in captured)
    raw = archive.cli("snapshot", base + page, "--raw").stdout
    assert raw == demo_site.served_bytes(page)


# -- an upload that fails keeps the WARC in the spool ----------------------------------------


@pytest.mark.slow
def test_failed_upload_keeps_the_warc_in_the_spool_until_storage_upload(
        tmp_path: Path, demo_site: Any) -> None:
    archive = Archive(tmp_path / "data")
    storage_root = archive.data_dir / "storage"
    storage_root.mkdir(parents=True)
    blocker = storage_root / "warcs"
    blocker.write_bytes(b"a file where the warcs/ directory should be")

    crawl = archive.cli("crawl", "--json", demo_site.url + ARTICLE, "--depth", "0",
                        "--no-extract")
    summary = crawl.json()
    assert summary["status"] == "succeeded" and summary["pages"] >= 1
    (name,) = summary["warc_files"]
    assert f"upload of {name} failed, kept in the spool" in crawl.stderr

    spool = archive.config.spool_dir
    assert sorted(p.name for p in spool.iterdir()) == [name, f"{name}.cdxj"]
    kept = (spool / name).read_bytes()
    with archive.catalog().session() as session:
        row = session.scalars(select(WarcFile)).one()
        assert (row.state, row.size, row.sha256) == ("closed", len(kept), sha256(kept))
    status = archive.cli("storage", "status", "--json").json()
    assert status["pending_uploads"] == [name] and status["files"] == 2

    still_broken = archive.cli("storage", "upload", expect=1)
    assert "stored 0, failed 1" in still_broken.text
    assert (spool / name).read_bytes() == kept
    with archive.catalog().session() as session:
        assert session.scalars(select(WarcFile.state)).one() == "closed"

    blocker.unlink()
    upload = archive.cli("storage", "upload")
    assert "stored 1, failed 0" in upload.text
    assert list(spool.iterdir()) == []
    assert (storage_root / "warcs" / name).read_bytes() == kept
    assert (storage_root / "indexes" / f"{name}.cdxj").is_file()
    with archive.catalog().session() as session:
        row = session.scalars(select(WarcFile)).one()
        assert (row.state, row.storage_key) == ("uploaded", f"warcs/{name}")
        captures = list(session.scalars(select(Capture)))
    assert len(captures) == summary["pages"]
    for capture in captures:
        assert single_record_id(kept[capture.offset:capture.offset + capture.length]) \
            == capture.record_id
    assert archive.cli("storage", "verify", "--json").json()["ok"] == 1


# -- a new SQLite catalog opened by several processes at once --------------------------------------


def _open_catalog(url: str) -> str:
    Catalog(url).dispose()
    return "ok"


def test_processes_creating_one_sqlite_catalog_together_all_open_it(tmp_path: Path) -> None:
    """A crawl and a CLI command (or a test's probe) opening a new catalog at the same time:
    one migrates, the others wait for its transaction; none fails with "table … already
    exists", and the schema ends at head. Several rounds, since it is a race."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from sqlalchemy import create_engine, text

    from tests.support.databases import schema_head

    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("fork")) as pool:
        for round_ in range(12):
            url = f"sqlite:///{tmp_path / f'catalog-{round_}.sqlite'}"
            assert list(pool.map(_open_catalog, [url] * 8)) == ["ok"] * 8
            engine = create_engine(url)
            with engine.connect() as conn:
                assert conn.scalar(text("SELECT version_num FROM alembic_version")) \
                    == schema_head()
            engine.dispose()


def _flock_waiters(path: Path) -> int:
    """How many ``flock`` requests wait for ``path`` (Linux /proc/locks: ``-> FLOCK`` rows
    name the file by device and inode)."""
    inode = path.stat().st_ino
    return sum(1 for line in Path("/proc/locks").read_text().splitlines()
               if "->" in line and "FLOCK" in line and line.split()[-3].endswith(f":{inode}"))


def test_a_new_sqlite_catalog_is_not_touched_before_its_migrate_lock_is_held(
        tmp_path: Path) -> None:
    """The race the test above found in CI: a process probing a new catalog's revision
    switched the file to WAL while another held the migrate lock and began the upgrade, and
    the upgrade's own WAL switch failed at once with "database is locked" (SQLite does not
    wait out the busy timeout there). Every opener now probes under the lock: while it is
    held elsewhere, a new catalog's file is not even created."""
    import threading

    from sqlalchemy import create_engine, text

    from tests.support.databases import schema_head

    database = tmp_path / "catalog.sqlite"
    lock_file = tmp_path / "catalog.sqlite.migrate-lock"
    opened: list[str] = []
    with open(lock_file, "ab") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        opener = threading.Thread(
            target=lambda: opened.append(_open_catalog(f"sqlite:///{database}")))
        opener.start()
        wait_until(lambda: _flock_waiters(lock_file), 30, interval=0.01,
                   message="the opener to wait for the migrate lock")
        assert not database.exists() and opened == []
    opener.join(30)
    assert opened == ["ok"]
    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == schema_head()
        assert conn.scalar(text("PRAGMA journal_mode")) == "wal"
    engine.dispose()


def test_recovery_catalogues_what_a_page_fetched_as_the_archiver_does(tmp_path: Path) -> None:
    """Only the crawl knows a frame from a page; it says so in the record
    (``WARC-Resource-Type``, as Browsertrix writes it), so captures catalogued again from
    the WARC after a crash keep the catalog's ``subresource``."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    storage = LocalStorage((tmp_path / "storage").as_uri())
    spool = tmp_path / "spool"
    writer = DeadWriterWarcWriter(spool, dead_pid())
    archiver = Archiver(catalog, storage, writer)
    frame = exchange("https://news.example.org/embed/map.html", b"<html>map</html>",
                     headers=[("Content-Type", "text/html")], resource_type="document")
    style = exchange("https://cdn.example.org/site.css", b"h1 { color: navy }",
                     headers=[("Content-Type", "text/css")], resource_type="stylesheet")
    fetched = [story(1), frame, style]
    written = [archiver.archive(ex) for ex in fetched]  # never flushed: the crash comes first
    writer._current.out.raw.close()
    archiver._shipper.shutdown()

    types = resource_types(*spool.glob("*.open"))
    assert types == {story(1).url: None, frame.url: "document", style.url: "stylesheet"}

    recover_spool(catalog, storage, spool)
    with catalog.session() as session:
        rows = dict(session.execute(select(Capture.record_id, Capture.subresource)).all())
    assert rows == {written[0].record_id: False, written[1].record_id: True,
                    written[2].record_id: True}
    catalog.dispose()
