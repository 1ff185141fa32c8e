"""WACZ export: `newsarchive export-wacz` and GET /api/v1/crawls/{id}/wacz.

The demo site is crawled once as a configured site; its job is exported and the package is
checked member by member (layout, STORED WARCs identical to the stored ones, hashes and sizes
in datapackage.json, index, pages), with py-wacz's validator, against the API's bytes, and
for bounded memory on a large WARC. A --no-extract crawl of it is exported too: its pages
are its HTML pages, seeds first, titled from the archived HTML. Records written here with
chosen encodings check where a title comes from and when there is none.
"""

from __future__ import annotations

import gzip
import html
import io
import json
import os
import re
import subprocess
import tracemalloc
import zipfile
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import brotli
import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator
from warcio.timeutils import timestamp_to_iso_date

from archive import pages as pages_module
from archive import wacz as wacz_module
from archive.archiver import Archiver
from archive.catalog import Catalog
from archive.config import ArchiveSettings
from archive.models import Article, Capture, CrawlJob, Site, WarcFile
from archive.storage import LocalStorage, Storage, StorageError
from archive.wacz import select_job, select_site, write_wacz
from archive.warc import HttpExchange
from scheduler.demo.server import ARTICLE_PATHS, WRONG_CHARSET_ARTICLE
from tests.support.api import api_client
from tests.support.cli import Archive
from tests.support.peers import pywb_bin, wacz_tool
from tests.support.s3 import S3_TEST_BUCKET
from tests.support.warc import ClockedWriter, exchange, sha256

pytestmark = pytest.mark.slow

EPOCH = 1_793_700_000  # `created` of the golden exports (SOURCE_DATE_EPOCH)
TAIL = ["indexes/index.cdx.gz", "indexes/index.idx", "pages/pages.jsonl", "datapackage.json",
        "datapackage-digest.json"]


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory, demo_site) -> Archive:
    """The demo site crawled once as the configured site ``gazette``."""
    archive = Archive(tmp_path_factory.mktemp("wacz") / "data",
                      env={"SOURCE_DATE_EPOCH": str(EPOCH)})
    archive.cli_in_process("sites", "add", "gazette", "--start-url", f"{demo_site.url}/",
                           "--depth", "1")
    archive.summary = archive.crawl("--site", "gazette")  # type: ignore[attr-defined]
    return archive


@pytest.fixture(scope="module")
def exported(crawled: Archive, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("out") / "job.wacz"
    result = crawled.cli_in_process("export-wacz", "--job", str(job_id(crawled)), "-o", str(path))
    assert f"wrote {path}" in result.text
    return path


def wacz_digest(data: bytes) -> str:
    """A digest as datapackage.json and index.idx write it."""
    return "sha256:" + sha256(data)


def job_id(archive: Archive) -> int:
    return archive.summary["job_id"]  # type: ignore[attr-defined]


def test_layout_and_stored_warcs_identical(crawled: Archive, exported: Path) -> None:
    stored = crawled.warc_paths()
    assert stored
    with zipfile.ZipFile(exported) as wacz:
        assert wacz.namelist() == [f"archive/{p.name}" for p in stored] + TAIL
        for path in stored:
            info = wacz.getinfo(f"archive/{path.name}")
            assert info.compress_type == zipfile.ZIP_STORED  # ranged reads need STORED
            assert wacz.read(info) == path.read_bytes()
        assert wacz.testzip() is None  # every CRC matches


def test_datapackage_hashes_and_sizes(crawled: Archive, exported: Path) -> None:
    with zipfile.ZipFile(exported) as wacz:
        package_bytes = wacz.read("datapackage.json")
        package = json.loads(package_bytes)
        members = {name: wacz.read(name) for name in wacz.namelist()}
        digest = json.loads(wacz.read("datapackage-digest.json"))
    assert package["profile"] == "data-package" and package["wacz_version"] == "1.1.1"
    assert package["created"] == datetime.fromtimestamp(EPOCH, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    assert package["software"].startswith("newsarchive")
    assert package["title"] == f"newsarchive crawl job {job_id(crawled)}"
    listed = {r["path"]: r for r in package["resources"]}
    assert sorted(listed) == sorted(set(members) - {"datapackage.json",
                                                    "datapackage-digest.json"})
    for path, resource in listed.items():
        assert resource["hash"] == wacz_digest(members[path]), path
        assert resource["bytes"] == len(members[path]), path
    assert len({r["name"] for r in package["resources"]}) == len(listed)
    assert digest == {"path": "datapackage.json", "hash": wacz_digest(package_bytes)}


def read_index(wacz: zipfile.ZipFile) -> list[str]:
    """The CDXJ lines of index.cdx.gz, read block by block as index.idx locates them (each
    block's offset, length, SHA-256 and first key checked)."""
    data = wacz.read("indexes/index.cdx.gz")
    assert wacz.getinfo("indexes/index.cdx.gz").compress_type == zipfile.ZIP_STORED
    meta, *entries = wacz.read("indexes/index.idx").decode().splitlines()
    assert meta == '!meta 0 {"format": "cdxj-gzip-1.0", "filename": "index.cdx.gz"}'
    lines: list[str] = []
    end = 0
    for entry in entries:
        key, location = entry.split(" {", 1)
        block = json.loads("{" + location)
        assert block["offset"] == end
        end = block["offset"] + block["length"]
        compressed = data[block["offset"]:end]
        assert block["digest"] == wacz_digest(compressed)
        block_lines = gzip.decompress(compressed).decode().splitlines()
        assert block_lines[0].startswith(key + " {")
        lines += block_lines
    assert end == len(data) and lines == gzip.decompress(data).decode().splitlines()
    return lines


def test_index_is_sorted_and_points_at_records(crawled: Archive, exported: Path) -> None:
    with zipfile.ZipFile(exported) as wacz:
        lines = read_index(wacz)
        warcs = {name.removeprefix("archive/"): wacz.read(name)
                 for name in wacz.namelist() if name.startswith("archive/")}
    assert lines == sorted(lines)
    with crawled.catalog().session() as session:
        captured = set(session.scalars(select(Capture.record_id)
                                       .where(Capture.job_id == job_id(crawled))))
    seen = set()
    for line in lines:
        _surt, timestamp, fields = line.split(" ", 2)
        entry = json.loads(fields)
        data = warcs[entry["filename"]]
        offset, length = int(entry["offset"]), int(entry["length"])
        record = next(ArchiveIterator(io.BytesIO(data[offset:offset + length])))
        assert record.rec_headers.get_header("WARC-Target-URI") == entry["url"]
        assert record.rec_headers.get_header("WARC-Date").startswith(
            timestamp_to_iso_date(timestamp)[:19])
        seen.add(record.rec_headers.get_header("WARC-Record-ID"))
    assert seen == captured


def read_pages(path: Path) -> list[dict]:
    """The lines of a WACZ's pages/pages.jsonl: the header, then the pages."""
    with zipfile.ZipFile(path) as wacz:
        return [json.loads(line) for line in wacz.read("pages/pages.jsonl").splitlines()]


def html_captures(archive: Archive, job: int) -> list[Any]:
    """(url, timestamp, title, text) of the job's 200 HTML captures, with the article's
    title and text where one was extracted."""
    with archive.catalog().session() as session:
        return session.execute(
            select(Capture.url, Capture.timestamp, Article.title, Article.text)
            .outerjoin(Article, Article.capture_id == Capture.id)
            .where(Capture.job_id == job, Capture.status == 200,
                   Capture.mime == "text/html")).all()


def test_pages_list_every_html_page_with_article_titles_and_text(crawled: Archive,
                                                                 exported: Path,
                                                                 demo_site) -> None:
    header, *pages = read_pages(exported)
    assert header == {"format": "json-pages-1.0", "id": "pages",
                      "title": f"newsarchive crawl job {job_id(crawled)}", "hasText": True}
    html = html_captures(crawled, job_id(crawled))
    articles = [row for row in html if row.title]
    assert len(articles) >= 5 and len(html) > len(articles)  # the home page and sections too
    assert sorted((p["url"], p["ts"]) for p in pages) == sorted(
        (row.url, timestamp_to_iso_date(row.timestamp)) for row in html)
    by_url = {p["url"]: p for p in pages}
    assert sorted((a.url, a.title, a.text) for a in articles) == sorted(
        (a.url, by_url[a.url]["title"], by_url[a.url]["text"]) for a in articles)
    assert len({p["id"] for p in pages}) == len(pages)
    assert [p["url"] for p in pages if p.get("seed")] == [pages[0]["url"]] == \
        [f"{demo_site.url}/"]
    bridge = next(p for p in pages if p["url"].endswith("harbour-bridge-reopens.html"))
    assert bridge["title"] == "Harbour Bridge reopens to traffic after eighteen-month restoration"
    assert "Quay Street" in bridge["text"]
    assert by_url[f"{demo_site.url}/world/"]["title"] == "World | The Harbour Gazette"
    assert "text" not in by_url[f"{demo_site.url}/world/"]


# -- a crawl that extracted nothing (--no-extract) -----------------------------------------

NOT_PAGES = ("/assets/style.css", "/assets/logo.png", "/old/harbour-bridge",  # a 302
             "/feed.xml", "/sitemap.xml", "/robots.txt")


@pytest.fixture(scope="module")
def unextracted(tmp_path_factory: pytest.TempPathFactory, demo_site) -> tuple[Archive, Path]:
    """The demo site crawled with --no-extract from its home page, a redirect to an article,
    a stylesheet and an image; the job exported. Returns (archive, WACZ)."""
    archive = Archive(tmp_path_factory.mktemp("unextracted") / "data",
                      env={"SOURCE_DATE_EPOCH": str(EPOCH)})
    archive.summary = archive.crawl(  # type: ignore[attr-defined]
        "--no-extract", "--depth", "1",
        *(demo_site.url + path for path in ("/", "/old/harbour-bridge", "/assets/style.css",
                                            "/assets/logo.png")))
    path = tmp_path_factory.mktemp("out") / "unextracted.wacz"
    archive.cli_in_process("export-wacz", "--job", str(job_id(archive)), "-o", str(path))
    return archive, path


def served_title(demo_site, path: str) -> str:
    """The ``<title>`` of a demo page as a browser shows it: from the bytes served, in the
    charset served (the page whose UTF-8 is labelled iso-8859-1 shows as windows-1252)."""
    body = demo_site.served_bytes(path)
    match = re.search(rb"<title>(.*?)</title>", body, re.DOTALL)
    assert match, path
    charset = "cp1252" if path == WRONG_CHARSET_ARTICLE else "utf-8"
    return html.unescape(match.group(1).decode(charset))


def test_unextracted_crawl_lists_every_html_page_seeds_first(unextracted, demo_site) -> None:
    archive, path = unextracted
    header, *pages = read_pages(path)
    assert header == {"format": "json-pages-1.0", "id": "pages",
                      "title": f"newsarchive crawl job {job_id(archive)}", "hasText": False}
    html_pages = html_captures(archive, job_id(archive))
    assert len(html_pages) == 1 + 3 + len(ARTICLE_PATHS)  # home, sections, articles
    assert sorted((p["url"], p["ts"]) for p in pages) == sorted(
        (row.url, timestamp_to_iso_date(row.timestamp)) for row in html_pages)
    # the home page, then the article the redirect led to; the others oldest first
    bridge = f"{demo_site.url}/world/2026/11/03/harbour-bridge-reopens.html"
    assert [p["url"] for p in pages if p.get("seed")] == [p["url"] for p in pages[:2]] == \
        [f"{demo_site.url}/", bridge]
    assert [p["ts"] for p in pages[2:]] == sorted(p["ts"] for p in pages[2:])
    assert {p["url"]: p["title"] for p in pages} == {
        p["url"]: served_title(demo_site, p["url"].removeprefix(demo_site.url)) for p in pages}
    assert not [p for p in pages if "text" in p]
    assert len({p["id"] for p in pages}) == len(pages)


def test_unextracted_crawl_lists_no_other_capture(unextracted, demo_site) -> None:
    """Stylesheets, images, feeds, sitemaps, robots.txt and redirects were captured, and
    are not pages."""
    archive, path = unextracted
    with archive.catalog().session() as session:
        captured = dict(session.execute(select(Capture.url, Capture.status).where(
            Capture.job_id == job_id(archive))).all())
    others = [demo_site.url + p for p in NOT_PAGES]
    assert [captured[url] for url in others] == [200, 200, 302, 200, 200, 200]
    assert not {p["url"] for p in read_pages(path)[1:]} & set(others)


def test_revisits_of_html_pages_are_pages(archive: Archive, demo_site, tmp_path: Path) -> None:
    """A second crawl finds the pages unchanged (revisit records): its WACZ lists them, with
    the titles of the originals, and not the first crawl's pages that come along."""
    urls = [demo_site.url + p for p in ("/", "/world/", "/assets/style.css")]
    archive.crawl("--no-extract", "--depth", "0", *urls)
    second = archive.crawl("--no-extract", "--depth", "0", *urls)["job_id"]
    with archive.catalog().session() as session:
        kinds = set(session.scalars(select(Capture.record_type)
                                    .where(Capture.job_id == second)))
    assert kinds == {"revisit"}
    target = tmp_path / "second.wacz"
    archive.cli_in_process("export-wacz", "--job", str(second), "-o", str(target))
    with zipfile.ZipFile(target) as wacz:
        assert len([n for n in wacz.namelist() if n.startswith("archive/")]) == 2
    with archive.catalog().session() as session:
        stamps = dict(session.execute(select(Capture.url, Capture.timestamp)
                                      .where(Capture.job_id == second)).all())
    assert [(p["url"], p["ts"], p["title"], p["seed"]) for p in read_pages(target)[1:]] == [
        (url, timestamp_to_iso_date(stamps[url]), title, True) for url, title in
        ((urls[0], served_title(demo_site, "/")), (urls[1], "World | The Harbour Gazette"))]


@pytest.mark.parametrize("export", ["exported", "unextracted"])
def test_py_wacz_validates_the_export(export: str, request: pytest.FixtureRequest) -> None:
    exported = request.getfixturevalue(export)
    path = exported[1] if isinstance(exported, tuple) else exported
    proc = subprocess.run([str(wacz_tool()), "validate", "-f", str(path)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "the passed WACZ is valid" in proc.stdout


def test_pywb_unpacks_the_export(crawled: Archive, exported: Path, tmp_path: Path) -> None:
    """``wb-manager add --unpack-wacz`` takes our WARCs and index into a pywb collection (it
    only picks up ``.cdx``/``.cdx.gz`` indexes, hence index.cdx.gz)."""

    manager = str(pywb_bin() / "wb-manager")
    for command in ([manager, "init", "coll"],
                    [manager, "add", "--unpack-wacz", "coll", str(exported)]):
        proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                              timeout=300, check=False)
        assert proc.returncode == 0 and "WARNING" not in proc.stderr, proc.stderr
    collection = tmp_path / "collections" / "coll"
    [stored] = crawled.warc_paths()
    [unpacked] = (collection / "archive").iterdir()
    assert unpacked.read_bytes() == stored.read_bytes()
    index = (collection / "indexes" / "index.cdxj").read_text().splitlines()
    with zipfile.ZipFile(exported) as wacz:
        ours = read_index(wacz)
    assert index == [line.replace(stored.name, unpacked.name) for line in ours]


def test_api_streams_the_same_bytes_as_the_cli(crawled: Archive, exported: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
    with api_client(crawled.data_dir) as client:
        with client.stream("GET", f"/api/v1/crawls/{job_id(crawled)}/wacz") as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/wacz"
            assert response.headers["content-disposition"] == \
                f'attachment; filename="newsarchive-job-{job_id(crawled)}.wacz"'
            assert "content-length" not in response.headers  # streamed, not buffered
            body = b"".join(response.iter_bytes())
        assert body == exported.read_bytes()

        missing = client.get("/api/v1/crawls/999999/wacz")
        assert missing.status_code == 404
        assert missing.json()["error"].startswith("no crawl job 999999")

        with crawled.catalog().session() as session:  # a job whose only WARC is still open
            job = CrawlJob(status="failed", spec={"urls": ["http://example.com/"]})
            session.add(job)
            session.flush()
            session.add(WarcFile(job_id=job.id, filename=f"still-open-{job.id}.warc.gz"))
            open_job = job.id
        conflict = client.get(f"/api/v1/crawls/{open_job}/wacz")
        assert conflict.status_code == 409
        assert conflict.json()["error"] == (
            f"job {open_job} (failed) has no complete WARC file yet; a WARC can be exported "
            "once it is closed (at the end of the crawl or when it rolls over)")


def test_site_export_holds_the_same_warcs_as_the_job(crawled: Archive, tmp_path: Path) -> None:
    whole = tmp_path / "site.wacz"
    crawled.cli_in_process("export-wacz", "--site", "gazette", "-o", str(whole))
    by_job = tmp_path / "job.wacz"
    crawled.cli_in_process("export-wacz", "--job", str(job_id(crawled)), "-o", str(by_job))
    with zipfile.ZipFile(whole) as site_wacz, zipfile.ZipFile(by_job) as job_wacz:
        assert site_wacz.namelist() == job_wacz.namelist()
        for name in [*job_wacz.namelist()[:-len(TAIL)], *TAIL[:2]]:
            assert site_wacz.read(name) == job_wacz.read(name)
        pages = [json.loads(line) for line in site_wacz.read("pages/pages.jsonl").splitlines()]
    assert pages[0]["title"] == "newsarchive site gazette"



def site_with_jobs(config: ArchiveSettings, *jobs: tuple[int, str, bytes]) -> dict[int, str]:
    """Site ``gazette`` with one job per (day of November, URL, body), each archiving that
    page with an article titled "News of day N"; returns job id → WARC file name."""
    catalog = Catalog(config.database_url)
    with catalog.session() as session:
        site = Site(name="gazette", start_urls=["http://example.com/"])
        session.add(site)
        session.flush()
        session.add_all([CrawlJob(id=day, site_id=site.id, status="succeeded", spec={})
                         for day, _, _ in jobs])
    for day, url, body in jobs:
        hourly = ClockedWriter(config.spool_dir, at=datetime(2026, 11, day, 1, tzinfo=UTC),
                               step=timedelta(hours=1))
        archiver = Archiver(catalog, LocalStorage(config.storage_url), hourly, job_id=day)
        response = archiver.archive(exchange(url, body, request_headers=[]))
        archiver.annotate(response, {"url": url}, article={
            "url": url, "title": f"News of day {day}", "text": f"Day {day} text."})
        archiver.close()
    with catalog.session() as session:
        return dict(session.execute(select(WarcFile.job_id, WarcFile.filename)).all())


def test_time_range_selects_warcs_and_pages(tmp_path: Path) -> None:
    """Two crawls of one site, on 1 and 3 November: --from/--to pick WARCs and pages."""
    archive = Archive(tmp_path / "data")
    names = site_with_jobs(archive.config, (1, "http://example.com/news/1.html", b"<h1>1</h1>"),
                           (3, "http://example.com/news/3.html", b"<h1>3</h1>"))

    def export(*args: str) -> tuple[list[str], list[dict]]:
        target = tmp_path / "range.wacz"
        archive.cli_in_process("export-wacz", "--site", "gazette", *args, "-o", str(target))
        with zipfile.ZipFile(target) as wacz:
            lines = [json.loads(line) for line in wacz.read("pages/pages.jsonl").splitlines()]
            return [n for n in wacz.namelist() if n.startswith("archive/")], lines

    warcs, pages = export()
    assert warcs == [f"archive/{names[1]}", f"archive/{names[3]}"]
    assert [p["title"] for p in pages[1:]] == ["News of day 1", "News of day 3"]
    assert pages[0]["title"] == "newsarchive site gazette"
    warcs, pages = export("--from", "2026-11-02")
    assert warcs == [f"archive/{names[3]}"]
    assert [(p["title"], p["ts"]) for p in pages[1:]] == [("News of day 3",
                                                         "2026-11-03T03:00:00Z")]
    assert pages[0]["title"] == "newsarchive site gazette from 20261102000000 to now"
    warcs, pages = export("--to", "2026-11-01")  # a day as upper bound: until its end
    assert warcs == [f"archive/{names[1]}"]
    assert [p["title"] for p in pages[1:]] == ["News of day 1"]
    warcs, pages = export("--from", "2026-11-01T02:30:00Z", "--to", "20261101033000")
    assert [p["ts"] for p in pages[1:]] == ["2026-11-01T03:00:00Z"]


def test_warcs_holding_the_originals_of_revisits_come_along(tmp_path: Path) -> None:
    """Job 3 fetched the page unchanged (a revisit record); its WACZ also carries job 1's
    WARC with the original response, but lists only job 3's pages."""
    config = ArchiveSettings(data_dir=tmp_path / "data")
    url = "http://example.com/news/same.html"
    names = site_with_jobs(config, (1, url, b"<h1>same</h1>"), (3, url, b"<h1>same</h1>"),
                           (5, "http://example.com/other.html", b"<h1>other</h1>"))
    catalog = Catalog(config.database_url)
    with catalog.session() as session:
        kinds = dict(session.execute(select(Capture.job_id, Capture.record_type)).all())
        assert kinds == {1: "response", 3: "revisit", 5: "response"}
        selection = select_job(session, 3)
    target = tmp_path / "revisit.wacz"
    write_wacz(target, catalog, LocalStorage(config.storage_url), config.spool_dir, selection)
    with zipfile.ZipFile(target) as wacz:
        assert [n for n in wacz.namelist() if n.startswith("archive/")] == \
            [f"archive/{names[1]}", f"archive/{names[3]}"]
        index = [json.loads(line.split(" ", 2)[2]) for line in read_index(wacz)]
        pages = [json.loads(line) for line in wacz.read("pages/pages.jsonl").splitlines()]
    assert sorted((e["filename"], e["mime"]) for e in index) == sorted(
        [(names[1], "text/html"), (names[3], "warc/revisit")])
    assert [p["title"] for p in pages[1:]] == ["News of day 3"]


def archive_pages(config: ArchiveSettings, exchanges: list[HttpExchange], *,
                  seeds: list[str], articles: dict[str, str]) -> Catalog:
    """Job 1 (started from ``seeds``) archiving ``exchanges`` a second apart; ``articles``
    maps the URLs extracted to their headline."""
    catalog = Catalog(config.database_url)
    with catalog.session() as session:
        session.add(CrawlJob(id=1, status="succeeded", spec={"urls": seeds}))
    archiver = Archiver(catalog, LocalStorage(config.storage_url),
                        ClockedWriter(config.spool_dir, step=timedelta(seconds=1)), job_id=1)
    for item in exchanges:
        response = archiver.archive(item)
        if item.url in articles:
            archiver.annotate(response, {"url": item.url}, article={
                "url": item.url, "title": articles[item.url], "text": "Article text."})
    archiver.close()
    return catalog


def html_page(path: str, body: bytes, *headers: tuple[str, str], status: int = 200,
              mime: str = "text/html; charset=utf-8") -> HttpExchange:
    return exchange(f"http://example.com{path}", body, status=status, request_headers=[],
                    headers=[("Content-Type", mime), *headers])


def test_titles_come_from_the_article_or_the_decoded_html(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Content-Encoding a crawl asks for is undone; one that is unknown or does not
    decode, a title past the bytes read, an SVG title or none give a page without a title
    (and the export succeeds). Redirects, errors and other types are not pages. The pages
    are read from the catalog a few at a time."""
    monkeypatch.setattr(pages_module, "TITLE_READ_BYTES", 8192)
    monkeypatch.setattr(pages_module, "PAGES_PER_BATCH", 3)
    deflate = zlib.compressobj(wbits=-15)
    exchanges = [
        html_page("/start", b"moved", ("Location", "/gzip"), status=301),
        html_page("/plain", b"<title>  Fish &amp; chips\n daily </title>"),
        html_page("/gzip", gzip.compress(b"<title>Gzip</title>"), ("Content-Encoding", "gzip")),
        html_page("/deflate", zlib.compress(b"<title>Zlib</title>"),
                  ("Content-Encoding", "deflate")),
        html_page("/raw-deflate", deflate.compress(b"<title>Raw</title>") + deflate.flush(),
                  ("Content-Encoding", "deflate")),
        html_page("/br", brotli.compress(b"<title>Brotli</title>"), ("Content-Encoding", "br")),
        html_page("/stacked", gzip.compress(zlib.compress(b"<title>Both</title>")),
                  ("Content-Encoding", "deflate, gzip")),
        html_page("/latin1", b"<title>Caf\xe9</title>", mime="text/html; charset=iso-8859-1"),
        html_page("/xhtml", b"<html xmlns='http://www.w3.org/1999/xhtml'><head><title>X"
                  b"</title></head></html>", mime="application/xhtml+xml"),
        html_page("/extracted", b"<title>Site | Headline</title>"),
        html_page("/not-gzip", b"<title>Not gzip</title>", ("Content-Encoding", "gzip")),
        html_page("/unknown", b"<title>Unknown</title>", ("Content-Encoding", "compress")),
        html_page("/far", gzip.compress(b"<!-- " + os.urandom(16384).hex().encode()
                                        + b" --><title>Far</title>"),
                  ("Content-Encoding", "gzip")),
        html_page("/svg", b"<body><svg><title>Icon</title></svg></body>"),
        html_page("/untitled", b"<p>no title</p>"),
        html_page("/missing", b"<title>Not found</title>", status=404),
        html_page("/logo.png", b"\x89PNG\r\n", mime="image/png"),
    ]
    config = ArchiveSettings(data_dir=tmp_path / "data")
    catalog = archive_pages(config, exchanges, seeds=["http://example.com/start"],
                            articles={"http://example.com/extracted": "Headline"})
    with catalog.session() as session:
        selection = select_job(session, 1)
    target = tmp_path / "titles.wacz"
    write_wacz(target, catalog, LocalStorage(config.storage_url), config.spool_dir, selection)
    assert [(p["url"].removeprefix("http://example.com"), p.get("title"), p.get("seed"))
            for p in read_pages(target)[1:]] == [
        ("/gzip", "Gzip", True),
        ("/plain", "Fish & chips daily", None),
        ("/deflate", "Zlib", None), ("/raw-deflate", "Raw", None), ("/br", "Brotli", None),
        ("/stacked", "Both", None), ("/latin1", "Café", None), ("/xhtml", "X", None),
        ("/extracted", "Headline", None),
        ("/not-gzip", None, None), ("/unknown", None, None), ("/far", None, None),
        ("/svg", None, None), ("/untitled", None, None)]


def test_index_blocks_are_found_through_the_idx(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wacz_module, "CDX_LINES_PER_BLOCK", 2)
    config = ArchiveSettings(data_dir=tmp_path / "data")
    site_with_jobs(config, *((day, f"http://example.com/{day}", b"x") for day in range(1, 6)))
    catalog = Catalog(config.database_url)
    with catalog.session() as session:
        selection = select_site(session, "gazette")
    target = tmp_path / "blocks.wacz"
    write_wacz(target, catalog, LocalStorage(config.storage_url), config.spool_dir, selection)
    with zipfile.ZipFile(target) as wacz:
        lines = read_index(wacz)
        assert len(wacz.read("indexes/index.idx").decode().splitlines()) == 1 + 3
    assert [line.split(" ")[0] for line in lines] == [f"com,example)/{day}" for day in range(1, 6)]


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--job", "999999"], 1, "no crawl job 999999; list jobs with `newsarchive jobs list`"),
    (["--site", "nope"], 1, "no site named 'nope'"),
    (["--site", "gazette", "--to", "2001-01-01"], 1,
     "site gazette has no complete WARC file with captures from the start to 20010101999999"),
    (["--site", "gazette", "--from", "2026-12-01", "--to", "2026-11-01"], 1,
     "the time range is empty: from 20261201000000 is after to 20261101999999"),
    (["--site", "gazette", "--from", "yesterday"], 2, "neither 1-14 digits"),
    (["--job", "1", "--site", "gazette"], 2, "give exactly one of --job ID or --site NAME"),
    ([], 2, "give exactly one of --job ID or --site NAME"),
    (["--job", "1", "--from", "2026"], 2, "--from and --to select within a --site"),
])
def test_bad_selection_is_a_clear_error(crawled: Archive, tmp_path: Path, args: list[str],
                                        code: int, message: str) -> None:
    target = tmp_path / "out.wacz"
    result = crawled.cli_in_process("export-wacz", *args, "-o", str(target), expect=code)
    assert message in " ".join(result.stderr.split())
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_is_a_clear_error(crawled: Archive, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    for target, reason in ((tmp_path / "missing" / "x.wacz", "No such file or directory"),
                           (blocker / "x.wacz", "Not a directory"),
                           (tmp_path, "it is a directory")):
        result = crawled.cli_in_process("export-wacz", "--job", str(job_id(crawled)),
                                        "-o", str(target), expect=1)
        assert f"cannot write {target}: {reason}" in " ".join(result.stderr.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


# -- in-process: a large WARC, the spool, a damaged WARC -----------------------------------


class RefusingStorage(LocalStorage):
    """Local storage whose uploads fail, so closed WARCs stay in the spool."""

    def put_file(self, key: str, path: Path, *, sha256: str):  # type: ignore[override]
        raise StorageError(f"upload of {key} refused by the test")


def archive_large_page(config: ArchiveSettings, storage: Storage, size: int) -> Catalog:
    catalog = Catalog(config.database_url)
    with catalog.session() as session:
        session.add(CrawlJob(id=1, status="succeeded", spec={}))
    archiver = Archiver(catalog, storage, ClockedWriter(config.spool_dir), job_id=1)
    body = os.urandom(size)  # incompressible: the WARC is as large as the body
    archiver.archive(exchange("http://example.com/big.bin", body, request_headers=[],
                              headers=[("Content-Type", "application/octet-stream")]))
    archiver.close()
    return catalog


def export_in_process(catalog: Catalog, config: ArchiveSettings, storage: Storage,
                      path: Path) -> int:
    """Write the WACZ of job 1; returns the peak memory traced while writing."""
    with catalog.session() as session:
        selection = select_job(session, 1)
    tracemalloc.start()
    try:
        write_wacz(path, catalog, storage, config.spool_dir, selection)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_bounded_on_a_large_warc(tmp_path: Path) -> None:
    config = ArchiveSettings(data_dir=tmp_path / "data")
    storage = LocalStorage(config.storage_url)
    catalog = archive_large_page(config, storage, 48 * 1024 * 1024)
    [warc] = (tmp_path / "data" / "storage" / "warcs").glob("*.warc.gz")
    peak = export_in_process(catalog, config, storage, tmp_path / "big.wacz")
    assert warc.stat().st_size > 48 * 1024 * 1024
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB while exporting a " \
                                   f"{warc.stat().st_size / 2**20:.0f} MiB WARC"
    with (zipfile.ZipFile(tmp_path / "big.wacz") as wacz,
          wacz.open(f"archive/{warc.name}") as member, warc.open("rb") as original):
        while chunk := member.read(1 << 20):
            assert chunk == original.read(len(chunk))
        assert original.read() == b""


def test_warcs_waiting_in_the_spool_are_exported_from_there(tmp_path: Path) -> None:
    config = ArchiveSettings(data_dir=tmp_path / "data")
    storage = RefusingStorage(config.storage_url)
    catalog = archive_large_page(config, storage, 100_000)
    [spooled] = config.spool_dir.glob("*.warc.gz")
    with catalog.session() as session:
        assert session.scalar(select(WarcFile.state)) == "closed"
    export_in_process(catalog, config, storage, tmp_path / "spool.wacz")
    with zipfile.ZipFile(tmp_path / "spool.wacz") as wacz:
        assert wacz.read(f"archive/{spooled.name}") == spooled.read_bytes()


def test_warcs_in_s3_are_streamed_from_there(tmp_path: Path, s3_server) -> None:
    config = ArchiveSettings(data_dir=tmp_path / "data")
    storage = s3_server.storage(f"s3://{S3_TEST_BUCKET}/archive")
    catalog = archive_large_page(config, storage, 3 * 1024 * 1024)
    with catalog.session() as session:
        warc = session.scalars(select(WarcFile)).one()
    assert warc.state == "uploaded" and not list(config.spool_dir.glob("*.warc.gz"))
    stored = s3_server.client().get_object(Bucket=S3_TEST_BUCKET,
                                           Key=f"archive/{warc.storage_key}")["Body"].read()
    export_in_process(catalog, config, storage, tmp_path / "s3.wacz")
    with zipfile.ZipFile(tmp_path / "s3.wacz") as wacz:
        assert wacz.read(f"archive/{warc.filename}") == stored


def test_damaged_warc_fails_the_export_and_leaves_nothing(tmp_path: Path) -> None:
    config = ArchiveSettings(data_dir=tmp_path / "data")
    storage = LocalStorage(config.storage_url)
    catalog = archive_large_page(config, storage, 100_000)
    [warc] = (tmp_path / "data" / "storage" / "warcs").glob("*.warc.gz")
    data = bytearray(warc.read_bytes())
    data[-100] ^= 0xFF
    warc.write_bytes(bytes(data))
    target = tmp_path / "out" / "damaged.wacz"
    target.parent.mkdir()
    target.write_bytes(b"previous export")
    damaged = (f"{warc.name} read back as {len(data)} bytes with sha256:[0-9a-f]{{64}}, "
               "but the catalog has .*storage verify")
    with pytest.raises(StorageError, match=damaged):
        export_in_process(catalog, config, storage, target)
    assert [p.name for p in target.parent.iterdir()] == ["damaged.wacz"]
    assert target.read_bytes() == b"previous export"
