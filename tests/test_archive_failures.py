"""Nothing archived goes missing and no failure is reported as success: a full disk, a spool
that turns read-only at a rollover, and ``kill -9`` at several points of a crawl. Afterwards
every complete record in the WARCs has a catalog row and replays byte-exact, the job's state
is right, and the CLI said what happened in one line.

The disks are tmpfs mounts (root only: skipped elsewhere, run in CI); the crawls run the
real CLI in a subprocess against a site of incompressible pages (tests.support.bulk_site).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.exc import OperationalError

from archive.archiver import Archiver
from archive.catalog import Catalog
from archive.config import ArchiveSettings
from archive.models import Capture, CrawlJob, JobStatus, WarcFile
from archive.recovery import complete_members
from archive.snapshot import load_snapshot
from tests.support import bulk_site
from tests.support.bulk_site import BulkSite
from tests.support.cli import Archive
from tests.support.disks import grow, small_disk
from tests.support.harness import environ_without_settings, wait_until
from tests.support.warc import ClockedWriter, captured_records, exchange, warcio_check

pytestmark = pytest.mark.slow

PAGES = 200
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


@pytest.fixture(scope="module")
def site() -> Iterator[BulkSite]:
    with BulkSite() as served:
        yield served


def only_error_line(stderr: str) -> str:
    """The one ``error:`` line the CLI printed; no traceback anywhere."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    return errors[0]


def all_warcs(archive: Archive) -> list[Path]:
    return archive.warc_paths() + sorted((archive.data_dir / "spool").glob("*.warc.gz"))


def assert_every_record_findable(archive: Archive, expected: int | None = None) -> int:
    """Each complete response record in the WARCs is catalogued at its offset and replays
    the bytes the site served; returns how many there are."""
    paths = all_warcs(archive)
    assert not list((archive.data_dir / "spool").glob("*.open")), "an .open file is left"
    if paths:
        warcio_check(*paths)
    records = captured_records(*paths)
    catalog = archive.catalog()
    storage = archive.config.open_storage()
    with catalog.session() as session:
        rows = {c.record_id: c for c in session.scalars(select(Capture))}
        for record_id, _, url, offset, length in records:
            capture = rows.get(record_id)
            assert capture is not None, f"{url} ({record_id}) is in a WARC but not catalogued"
            assert (capture.url, capture.offset, capture.length) == (url, offset, length)
            snapshot = load_snapshot(capture, storage, archive.config.spool_dir, session)
            page = url.rsplit("/", 1)[1].split("?")[0]
            if page.isdigit():  # (robots.txt is archived too)
                assert snapshot.body == bulk_site.body(int(page))
    catalog.dispose()
    if expected is not None:
        assert len(records) == expected
    return len(records)


def job(archive: Archive, job_id: int = 1) -> CrawlJob:
    catalog = archive.catalog()
    with catalog.session() as session:
        found = session.get(CrawlJob, job_id)
        assert found is not None
        session.expunge(found)
    catalog.dispose()
    return found


# -- a full disk -------------------------------------------------------------------------------


def test_low_disk_space_stops_the_crawl_before_the_disk_is_full(site: BulkSite,
                                                                tmp_path: Path) -> None:
    """The free-space guard stops the crawl with room left: the WARC is closed and stored,
    every row and the job's outcome recorded, at once."""
    with small_disk(tmp_path / "data", "3m") as data:
        archive = Archive(data, env={"NEWSARCHIVE_MIN_FREE_SPACE": "1000000"})
        urls = [site.page(n) for n in range(PAGES)]  # 6 MB of incompressible pages
        result = archive.cli("crawl", "--depth", "0", *urls, expect=1, timeout=300)
        line = only_error_line(result.stderr)
        assert "job 1 failed: archiving failed (disk_full): only" in line
        assert "below NEWSARCHIVE_MIN_FREE_SPACE (1,000,000)" in line
        found = assert_every_record_findable(archive)
        assert 0 < found < PAGES
        stopped = job(archive)
        assert stopped.status == JobStatus.FAILED and "(disk_full)" in (stopped.error or "")
        assert stopped.stats["archive_failure"] == "disk_full"
        assert stopped.stats["pages"] == found


def test_a_full_disk_fails_the_crawl_and_loses_nothing(site: BulkSite, tmp_path: Path) -> None:
    """Without the guard the disk really fills (WARC and catalog alike): the crawl stops,
    and once there is room, recovery catalogues every complete record."""
    with small_disk(tmp_path / "data", "3m") as data:
        archive = Archive(data, env={"NEWSARCHIVE_MIN_FREE_SPACE": "0"})
        urls = [site.page(n) for n in range(PAGES)]
        result = archive.cli("crawl", "--depth", "0", *urls, expect=1, timeout=300)
        line = only_error_line(result.stderr)
        assert "job 1 failed: archiving failed (disk_full)" in line, line
        assert "No space left on device" in line or "disk is full" in line, line
        grow(data, "64m")  # the operator frees space; recovery catalogues what was written
        upload = archive.cli("storage", "upload")
        assert "failed 0" in upload.text
        assert 0 < assert_every_record_findable(archive) < PAGES
        assert job(archive).status == JobStatus.FAILED


def test_low_disk_space_under_the_catalog_stops_the_crawl(site: BulkSite, tmp_path: Path) -> None:
    """An SQLite catalog on another disk is guarded as well: the crawl stops while the
    catalog can still take the outcome."""
    with small_disk(tmp_path / "catalog", "4m") as catalog_disk:
        (catalog_disk / "ballast").write_bytes(b"\0" * 3_200_000)
        archive = Archive(tmp_path / "data", env={
            "NEWSARCHIVE_DATABASE_URL": f"sqlite:///{catalog_disk}/catalog.sqlite",
            "NEWSARCHIVE_MIN_FREE_SPACE": "1000000"})
        result = archive.cli("crawl", "--depth", "0", site.page(0), site.page(1), expect=1)
        line = only_error_line(result.stderr)
        assert "archiving failed (disk_full): only" in line
        assert f"bytes free on the disk of {catalog_disk}, below" in line
        stopped = job(archive)
        assert stopped.status == JobStatus.FAILED
        assert stopped.stats["archive_failure"] == "disk_full"
        assert stopped.stats["pages"] == assert_every_record_findable(archive)


# -- a crawl that cannot start -------------------------------------------------------------------


def test_a_crawl_that_cannot_start_is_recorded_failed(tmp_path: Path) -> None:
    """Scrapy only logs an exception of the spider's construction; the job must not stay
    running (the CLI and the API refuse such URLs first: this is the runner's own net)."""
    data = tmp_path / "data"
    env = {**environ_without_settings(), "NEWSARCHIVE_DATA_DIR": str(data)}
    code = ("from crawler.runner import CrawlSpec, run_crawl; import json; "
            "print(json.dumps(run_crawl(CrawlSpec(urls=['http://[::1'])).to_dict()))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["status"] == "failed"
    assert summary["error"] == "the crawl could not run: ValueError('Invalid IPv6 URL')"
    failed = job(Archive(data))
    assert (failed.status, failed.error) == (JobStatus.FAILED, summary["error"])


# -- a spool that turns read-only at a rollover ------------------------------------------------


def without_dac_override() -> None:
    """preexec_fn: this (root) process and what it runs obey file permissions, as an
    operator's read-only spool would be to any user: CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH leave the capability bounding set, so exec does not grant them."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_a_spool_that_turns_read_only_fails_the_crawl_and_loses_nothing(
        site: BulkSite, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("drops root's permission override for the crawl, which needs root")
    archive = Archive(tmp_path / "data", env={"NEWSARCHIVE_WARC_MAX_SIZE": "200000",
                                              "NEWSARCHIVE_CATALOG_FLUSH_INTERVAL": "0.2"})
    spool = archive.data_dir / "spool"
    urls = [site.page(n, delay=0.05) for n in range(PAGES)]
    crawl = subprocess.Popen(
        [sys.executable, "-m", "scheduler.cli", "crawl", "--depth", "0", *urls],
        env={**environ_without_settings(), **archive.env}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, preexec_fn=without_dac_override)
    try:
        # the spool turns read-only after the first rollover
        wait_until(lambda: archive.warc_paths() or crawl.poll() is not None, 60,
                   message="a first WARC to be stored")
        assert crawl.poll() is None, crawl.communicate()
        spool.chmod(0o555)
        out, err = crawl.communicate(timeout=120)
    finally:
        spool.chmod(0o755)
        if crawl.poll() is None:
            crawl.kill()
    assert crawl.returncode == 1, (out, err)
    line = only_error_line(err)
    assert "failed: archiving failed (storage_unwritable): Permission denied" in line, line
    archive.cli("storage", "upload")
    assert 0 < assert_every_record_findable(archive) < PAGES
    assert job(archive).status == JobStatus.FAILED


# -- kill -9 at several points -----------------------------------------------------------------


def start_crawl(archive: Archive, site: BulkSite, pages: int = PAGES) -> subprocess.Popen:
    urls = [site.page(n, delay=0.05) for n in range(pages)]
    return subprocess.Popen(
        [sys.executable, "-m", "scheduler.cli", "crawl", "--depth", "0", *urls],
        env={**environ_without_settings(), **archive.env}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)


def open_records(archive: Archive) -> int:
    """Complete records in the crawl's ``.open`` spool file so far (0 if none yet)."""
    files = list((archive.data_dir / "spool").glob("*.warc.gz.open"))
    if not files:
        return 0
    with files[0].open("rb") as f:
        return len(complete_members(f))


@pytest.mark.parametrize("records", [0, 3, 40])
def test_kill_9_mid_crawl_loses_no_complete_record(site: BulkSite, tmp_path: Path,
                                                   records: int) -> None:
    """Killed with no record written (the file is removed), before the first catalog flush
    (every row is missing), and later (some rows are): recovery catalogues what is there."""
    archive = Archive(tmp_path / "data", env={"NEWSARCHIVE_CATALOG_FLUSH_INTERVAL": "30"})
    crawl = start_crawl(archive, site)
    try:
        spool = archive.data_dir / "spool"
        wait_until(lambda: list(spool.glob("*.open")) and open_records(archive) >= records,
                   60, message=f"{records} records in the spool")
        os.killpg(crawl.pid, signal.SIGKILL)
        crawl.wait(10)
    finally:
        if crawl.poll() is None:
            os.killpg(crawl.pid, signal.SIGKILL)
    upload = archive.cli("storage", "upload")
    assert "failed 0" in upload.text
    found = assert_every_record_findable(archive)
    assert found >= (records - 1) // 2  # a warcinfo, then a response and a request a page
    if found:  # no catalog flush had run: recovery catalogued every one
        assert f"catalogued {found} capture(s) the catalog lacked" in upload.text
    if records == 0 and found == 0:
        assert archive.warc_paths() == []  # nothing complete: nothing stored
        catalog = archive.catalog()
        with catalog.session() as session:
            assert session.scalars(select(WarcFile)).all() == []
        catalog.dispose()
    dead = job(archive)
    assert dead.status == JobStatus.FAILED and "is gone" in (dead.error or "")


def test_kill_9_before_the_first_record_fails_the_job(tmp_path: Path) -> None:
    """A crawl killed while its first request hangs leaves no file: the next recovery still
    records its job failed (it no longer stays running until a `serve` starts)."""
    archive = Archive(tmp_path / "data")
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        crawl = subprocess.Popen(
            [sys.executable, "-m", "scheduler.cli", "crawl", "--depth", "0", url],
            env={**environ_without_settings(), **archive.env,
                 "NEWSARCHIVE_DOWNLOAD_TIMEOUT": "60"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            def running() -> bool:
                if not (archive.data_dir / "catalog.sqlite").exists():
                    return False
                catalog = archive.catalog()
                with catalog.session() as session:
                    status = session.scalar(select(CrawlJob.status))
                catalog.dispose()
                return status == JobStatus.RUNNING

            wait_until(running, 60, message="the job running")
            os.killpg(crawl.pid, signal.SIGKILL)
            crawl.wait(10)
        finally:
            if crawl.poll() is None:
                os.killpg(crawl.pid, signal.SIGKILL)
    assert not list((archive.data_dir / "spool").glob("*.warc.gz*"))
    upload = archive.cli("storage", "upload")
    assert "recorded 1 dead job(s) failed" in upload.text, upload.text
    dead = job(archive)
    assert dead.status == JobStatus.FAILED
    assert (dead.error or "").endswith("is gone (service or machine stopped mid-crawl); it "
                                       "left no complete WARC record")


# -- verify --repair on a truncated WARC ---------------------------------------------------------


def test_repair_of_a_truncated_warc_keeps_every_record_before_the_cut_readable(
        site: BulkSite, tmp_path: Path) -> None:
    archive = Archive(tmp_path / "data")
    urls = [site.page(n) for n in range(6)]
    archive.crawl("--depth", "0", *urls)
    [stored] = archive.warc_paths()
    records = {url: (offset, length) for _, _, url, offset, length in captured_records(stored)}
    cut = records[urls[3]][0] + records[urls[3]][1] // 2  # in the middle of page 3's record
    good_copy = stored.read_bytes()
    with stored.open("r+b") as f:
        f.truncate(cut)
    catalog = archive.catalog()  # and the catalog lost the rows of pages 1 and 2
    with catalog.session() as session:
        session.execute(delete(Capture).where(Capture.url.in_(urls[1:3])))
    catalog.dispose()
    report = archive.cli("storage", "verify", "--repair", "--json", expect=1).json()
    assert report["size_mismatch"] == [stored.name] and report["repaired"] == []
    assert report["recatalogued"] == 2  # the WARC is the source of truth
    for n, url in enumerate(urls):
        result = archive.cli("snapshot", url, "--raw", expect=None)
        if records[url][0] + records[url][1] <= cut:
            assert (result.returncode, result.stdout) == (0, bulk_site.body(n)), url
        else:
            assert result.returncode == 1
            assert only_error_line(result.stderr).startswith(
                f"error: {stored.name} is damaged in storage and this record is not intact")
    wacz = tmp_path / "job.wacz"  # a WACZ holds whole files: it names the damaged one
    line = only_error_line(archive.cli("export-wacz", "--job", "1", "-o", str(wacz),
                                       expect=1).stderr)
    assert line.startswith(f"error: {stored.name} failed verification"), line
    assert not wacz.exists()
    stored.write_bytes(good_copy)  # the operator puts a good copy back
    report = archive.cli("storage", "verify", "--repair", "--json").json()
    assert report["repaired"] == [stored.name]
    archive.cli("export-wacz", "--job", "1", "-o", str(wacz))
    assert archive.cli("snapshot", urls[5], "--raw").stdout == bulk_site.body(5)


# -- a catalog flush that fails keeps its rows ---------------------------------------------------


def test_a_failed_catalog_flush_keeps_its_rows_for_the_next(tmp_path: Path) -> None:
    """The rows of a failed flush stay buffered; while the catalog fails, only the caller's
    periodic flush retries (not every record past the batch size)."""
    config = ArchiveSettings(data_dir=tmp_path / "data")
    catalog = Catalog(config.database_url)
    archiver = Archiver(catalog, config.open_storage(), ClockedWriter(config.spool_dir),
                        batch_size=3)
    with catalog.engine.begin() as conn:  # the catalog cannot take them for a while
        conn.execute(text("ALTER TABLE captures RENAME TO captures_away"))
    written = [archiver.archive(exchange(f"http://n.example/{n}")).record_id for n in range(3)]
    with pytest.raises(OperationalError):  # the batch's own flush failed (and said so)
        archiver.flush()
    with catalog.engine.begin() as conn:
        conn.execute(text("ALTER TABLE captures_away RENAME TO captures"))
    written += [archiver.archive(exchange(f"http://n.example/{n}")).record_id
                for n in range(3, 6)]
    with catalog.session() as session:  # no flush per record while failing
        assert session.scalars(select(Capture.record_id)).all() == []
    archiver.flush()  # the next periodic flush commits what the failed ones could not
    with catalog.session() as session:
        assert sorted(session.scalars(select(Capture.record_id))) == sorted(written)
    written += [archiver.archive(exchange(f"http://n.example/{n}")).record_id
                for n in range(6, 9)]
    with catalog.session() as session:  # and per batch again once it succeeded
        assert sorted(session.scalars(select(Capture.record_id))) == sorted(written)
    archiver.close()
    catalog.dispose()
