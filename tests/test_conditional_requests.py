"""Conditional re-fetches end to end: a second crawl sends the first one's validators, a
``304 Not Modified`` costs no body, is archived as a server-not-modified revisit of the first
capture (WARC 1.1 6.7.3) and replays as it, here and in pywb; the spider parses the original.

One site (tests/support/validating_site.py) is crawled twice through the CLI: ``/`` (ETag and
Last-Modified, linking to ``/next.html``), ``/dated.html`` (Last-Modified only) and
``/ignoring.html`` (a server that ignores validators) are start URLs, so conditional; the
linked ``/next.html`` is not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.utils.test import get_crawler
from sqlalchemy import select, text
from sqlalchemy.orm import joinedload
from warcio.timeutils import timestamp_to_iso_date

from archive.archiver import Archiver
from archive.catalog import Catalog
from archive.config import ArchiveSettings
from archive.models import Capture
from archive.revalidation import latest_revalidation
from archive.snapshot import revisit_original
from crawler.conditional import REVALIDATION_META, ConditionalRequests
from tests.support.api import api_client
from tests.support.cli import Archive
from tests.support.peers import running_pywb, wb_manager
from tests.support.validating_site import Hit, Page, ValidatingSite
from tests.support.warc import ClockedWriter, exchange, read_records, warcio_check

HOME = (b'<html><head><title>Home</title></head><body>'
        b'<a href="/next.html">Next</a></body></html>')
PAGES = {
    "/": Page("text/html", HOME),
    "/dated.html": Page("text/html", b"<html><body>Dated</body></html>", etag=False),
    "/ignoring.html": Page("text/html", b"<html><body>Ignoring</body></html>", honours=False),
    "/next.html": Page("text/html", b"<html><body>Next</body></html>"),
}
NOT_MODIFIED = ("/", "/dated.html")
NOT_MODIFIED_PROFILE = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
IDENTICAL_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"


@dataclass
class Crawled:
    archive: Archive
    site: ValidatingSite
    summaries: list[dict]
    logs: list[dict[str, Hit]]  # per crawl: path → its answer

    def url(self, path: str) -> str:
        return self.site.url + path

    def capture(self, path: str, crawl: int) -> Capture:
        with self.archive.catalog().session() as session:
            return session.scalars(
                select(Capture).where(Capture.url == self.url(path),
                                      Capture.job_id == self.summaries[crawl]["job_id"])
                .options(joinedload(Capture.warc_file))).one()


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory):
    with ValidatingSite(dict(PAGES)) as site:
        archive = Archive(tmp_path_factory.mktemp("conditional") / "data")
        summaries, logs = [], []
        for _ in range(2):
            summaries.append(archive.crawl(site.url + "/", site.url + "/dated.html",
                                           site.url + "/ignoring.html", "--depth", "1"))
            logs.append({hit.path: hit for hit in site.take_log()})
        yield Crawled(archive, site, summaries, logs)


def test_first_crawl_fetches_whole_pages_and_keeps_their_validators(crawled: Crawled) -> None:
    first = crawled.logs[0]
    assert {path: (hit.status, hit.if_none_match, hit.if_modified_since)
            for path, hit in first.items() if path in PAGES} == {
        path: (200, None, None) for path in PAGES}
    home = crawled.capture("/", 0)
    assert (home.record_type, home.etag, home.last_modified) == (
        "response", PAGES["/"].etag_value, "Tue, 03 Nov 2026 14:00:00 GMT")
    dated = crawled.capture("/dated.html", 0)
    assert (dated.etag, dated.last_modified) == (None, "Tue, 03 Nov 2026 14:00:00 GMT")


def test_second_crawl_sends_the_validators_and_gets_no_body(crawled: Crawled) -> None:
    second = crawled.logs[1]
    home, dated = second["/"], second["/dated.html"]
    assert (home.status, home.if_none_match, home.if_modified_since) == (
        304, PAGES["/"].etag_value, "Tue, 03 Nov 2026 14:00:00 GMT")
    assert (dated.status, dated.if_none_match, dated.if_modified_since) == (
        304, None, "Tue, 03 Nov 2026 14:00:00 GMT")
    assert second["/ignoring.html"].if_none_match == PAGES["/ignoring.html"].etag_value
    # only the server that ignores validators and the page not asked conditionally sent bodies
    assert sorted(p for p, hit in second.items() if hit.status == 200) == [
        "/ignoring.html", "/next.html"]
    summary = crawled.summaries[1]
    assert (summary["status"], summary["not_modified"], summary["revisits"]) == (
        "succeeded", 2, 4)
    assert crawled.summaries[0]["not_modified"] == 0


def test_the_spider_parses_the_original_of_a_304(crawled: Crawled) -> None:
    """``/next.html`` is only linked from ``/``, which answered 304 without a body: the
    spider followed it on the second crawl too, and recorded the original's outlinks."""
    assert crawled.logs[1]["/next.html"].status == 200
    revisit = crawled.capture("/", 1)
    outlinks = [json.loads(payload) for headers, _, payload in _records(crawled, 1)
                if headers.get_header("WARC-Type") == "metadata"
                and headers.get_header("WARC-Refers-To") == revisit.record_id]
    assert outlinks == [{"outlinks": [crawled.url("/next.html")], "requisites": []}]


def _records(crawled: Crawled, crawl: int) -> list:
    [name] = crawled.summaries[crawl]["warc_files"]
    return read_records(crawled.archive.data_dir / "storage" / "warcs" / name)


@pytest.mark.parametrize("path", NOT_MODIFIED)
def test_a_304_is_a_server_not_modified_revisit_of_the_first_capture(crawled: Crawled,
                                                                     path: str) -> None:
    original, revisit = crawled.capture(path, 0), crawled.capture(path, 1)
    records = _records(crawled, 1)
    [(headers, _, block)] = [r for r in records
                                if r[0].get_header("WARC-Record-ID") == revisit.record_id]
    assert headers.get_header("WARC-Type") == "revisit"
    assert headers.get_header("WARC-Profile") == NOT_MODIFIED_PROFILE
    assert headers.get_header("WARC-Refers-To") == original.record_id
    assert headers.get_header("WARC-Refers-To-Target-URI") == crawled.url(path)
    assert headers.get_header("WARC-Refers-To-Date") == timestamp_to_iso_date(
        original.timestamp)
    assert headers.get_header("WARC-Payload-Digest") == original.payload_digest
    assert (headers.get_header("Content-Length"), block) == ("0", b"")  # 6.7.3: no body
    concurrent = [r for r in records
                  if r[0].get_header("WARC-Concurrent-To") == revisit.record_id]
    [request] = [r for r in concurrent if r[0].get_header("WARC-Type") == "request"]
    assert request[1].get_header("If-Modified-Since") == "Tue, 03 Nov 2026 14:00:00 GMT"
    # the 304 as it crossed the connection, byte for byte
    [answer] = [r for r in concurrent if r[0].get_header("WARC-Type") == "metadata"]
    assert answer[0].get_header("Content-Type") == "application/http; msgtype=response"
    assert answer[0].get_header("WARC-Target-URI") == "urn:metadata:" + crawled.url(path)
    assert answer[2] == crawled.logs[1][path].sent
    warcio_check(*crawled.archive.warc_paths())


def test_a_server_ignoring_validators_still_gives_an_identical_payload_revisit(
        crawled: Crawled) -> None:
    original = crawled.capture("/ignoring.html", 0)
    [(headers, http, _)] = [
        r for r in _records(crawled, 1)
        if r[0].get_header("WARC-Record-ID") == crawled.capture("/ignoring.html", 1).record_id]
    assert headers.get_header("WARC-Profile") == IDENTICAL_PROFILE
    assert headers.get_header("WARC-Refers-To") == original.record_id
    assert http.get_statuscode() == "200"


@pytest.mark.parametrize("path", NOT_MODIFIED)
def test_the_catalog_row_of_a_304_resolves_to_the_first_capture(crawled: Crawled,
                                                                path: str) -> None:
    original, revisit = crawled.capture(path, 0), crawled.capture(path, 1)
    assert (revisit.record_type, revisit.mime, revisit.status) == (
        "revisit", "warc/revisit", 200)
    assert revisit.payload_digest == original.payload_digest
    assert (revisit.etag, revisit.last_modified) == (original.etag, original.last_modified)
    with crawled.archive.catalog().session() as session:
        assert revisit_original(session, revisit).record_id == original.record_id
        # the next crawl revalidates the revisit's validators against the same original
        found = latest_revalidation(session.connection(), crawled.url(path))
    assert found is not None and found.original.record_id == original.record_id


def test_replay_of_a_304_answers_with_the_original(crawled: Crawled) -> None:
    with api_client(crawled.archive.data_dir) as client:
        for path in NOT_MODIFIED:
            revisit = crawled.capture(path, 1)
            with client.stream("GET", f"/web/{revisit.timestamp}id_/{crawled.url(path)}",
                               follow_redirects=False) as response:
                body = b"".join(response.iter_raw())
            assert (response.status_code, body) == (200, PAGES[path].body), path
            assert response.headers["content-type"] == "text/html"
            assert response.headers["memento-datetime"] == datetime.strptime(
                revisit.timestamp, "%Y%m%d%H%M%S").strftime("%a, %d %b %Y %H:%M:%S GMT")
        metrics = client.get("/metrics").text
    assert "newsarchive_not_modified_total 2.0" in metrics


@pytest.mark.slow
def test_pywb_replays_a_304_as_the_original(crawled: Crawled, tmp_path: Path) -> None:
    root = tmp_path / "pywb"
    root.mkdir()
    wb_manager(root, "init", "coll")
    wb_manager(root, "add", "coll", *map(str, crawled.archive.warc_paths()))
    with running_pywb(root) as pywb:
        for path in NOT_MODIFIED:
            revisit = crawled.capture(path, 1)
            answer = pywb.get(f"/coll/{revisit.timestamp}id_/{crawled.url(path)}")
            assert (answer.status_code, answer.content) == (200, PAGES[path].body), path


# -- the parts alone ------------------------------------------------------------------------


def _archive_with_a_capture(config: ArchiveSettings,
                            headers: list[tuple[str, str]]) -> Catalog:
    catalog = Catalog(config.database_url)
    writer = ClockedWriter(config.spool_dir, at=datetime(2026, 11, 3, 13, tzinfo=UTC),
                           step=timedelta(minutes=1))
    archiver = Archiver(catalog, config.open_storage(), writer)
    archiver.archive(exchange("http://news.example/style.css", b"body { color: navy }",
                              headers=[("Content-Type", "text/css"), *headers]))
    archiver.close()
    return catalog


def test_a_304_that_omits_a_validator_keeps_the_originals(tmp_path: Path,
                                                         catalog_url: str) -> None:
    """The archiver alone, on SQLite and PostgreSQL: a capture's validators, the lookup,
    and a 304 without ``Last-Modified`` catalogued with the original's."""
    url = "http://news.example/style.css"
    config = ArchiveSettings(data_dir=tmp_path / "data", database_url=catalog_url)
    catalog = _archive_with_a_capture(config, [
        ("ETag", '"v1"'), ("Last-Modified", "Tue, 03 Nov 2026 14:00:00 GMT")])
    with catalog.engine.connect() as conn:
        revalidation = latest_revalidation(conn, url)
    assert revalidation is not None
    assert revalidation.request_headers() == {
        "If-None-Match": '"v1"', "If-Modified-Since": "Tue, 03 Nov 2026 14:00:00 GMT"}
    archiver = Archiver(catalog, config.open_storage(), ClockedWriter(
        config.spool_dir, at=datetime(2026, 11, 4, tzinfo=UTC)))
    archiver.archive(exchange(url, b"", status=304, headers=[("ETag", '"v1"')]), revalidation)
    archiver.close()
    with catalog.session() as session:
        latest = session.scalars(select(Capture).order_by(Capture.id.desc()).limit(1)).one()
    assert (latest.record_type, latest.status, latest.etag, latest.last_modified) == (
        "revisit", 200, '"v1"', "Tue, 03 Nov 2026 14:00:00 GMT")
    catalog.dispose()


def test_a_failing_catalog_lookup_fetches_unconditionally(tmp_path: Path) -> None:
    url = "http://news.example/style.css"
    catalog = _archive_with_a_capture(ArchiveSettings(data_dir=tmp_path / "data"),
                                      [("ETag", '"v1"')])
    crawler = get_crawler(settings_dict={
        "NEWSARCHIVE_CONDITIONAL_REQUESTS": True, "NEWSARCHIVE_REVISITS": True,
        "NEWSARCHIVE_ARCHIVE": True, "NEWSARCHIVE_DATA_DIR": str(tmp_path / "data")})
    middleware = ConditionalRequests.from_crawler(crawler)
    asked = Request(url, meta={"conditional": True})
    middleware.process_request(asked)
    assert asked.headers.get("If-None-Match") == b'"v1"'
    assert REVALIDATION_META in asked.meta

    with catalog.engine.begin() as conn:  # the catalog fails the next lookup
        conn.execute(text("ALTER TABLE captures RENAME TO captures_elsewhere"))
    again = Request(url, meta={"conditional": True})
    middleware.process_request(again)
    assert again.headers.get("If-None-Match") is None
    assert REVALIDATION_META not in again.meta
    assert crawler.stats.get_value("newsarchive/conditional_lookup_failures") == 1
    middleware.engine_stopped()
    catalog.dispose()
