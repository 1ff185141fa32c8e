"""End to end: `newsarchive crawl` against the demo news site, then read the archive back."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from base64 import b32encode

import pytest
from sqlalchemy import select
from w3lib.url import safe_url_string
from warcio.archiveiterator import ArchiveIterator

from archive.models import Article, Capture, CrawlJob, WarcFile
from archive.snapshot import parse_record
from archive.warc import payload_digest
from scheduler.demo.server import FRENCH_ARTICLE as FRENCH
from scheduler.demo.server import (
    MALFORMED_ARTICLE,
    NO_CHARSET_ARTICLE,
    WRONG_CHARSET_ARTICLE,
)
from scheduler.demo.server import TWO_AUTHOR_ARTICLE as TWO_AUTHORS
from tests.support.cli import Archive
from tests.support.warc import warcio_check

pytestmark = pytest.mark.slow

ARTICLE = "/world/2026/11/03/harbour-bridge-reopens.html"
BOILERPLATE = ("We use cookies", "Accept all cookies", "Leave a comment", "Post comment",
               "Donate", "All rights reserved")


@pytest.fixture(scope="module")
def site_archive(tmp_path_factory: pytest.TempPathFactory, demo_site) -> Archive:
    """One crawl of the whole demo site plus every awkward URL we know of."""
    archive = Archive(tmp_path_factory.mktemp("site") / "data",
                      env={"NEWSARCHIVE_DOWNLOAD_MAXSIZE": str(1024 * 1024),
                           "NEWSARCHIVE_DOWNLOAD_TIMEOUT": "2"})
    base = demo_site.url
    extra = ["/search?q=harbour+bridge&page=2", "/error", "/teapot", "/missing", "/chunked",
             "/big", "/slow", "/files/report.pdf", "/redirect-to-home"]
    archive.summary = archive.crawl(  # type: ignore[attr-defined]
        f"{base}/", *(base + path for path in extra),
        "http://127.0.0.1:1/unreachable", "http://no-such-host.invalid/",
        "--feed", f"{base}/feed.xml", "--depth", "2", throttled=False,
    )
    return archive


def record_at(archive: Archive, capture: Capture):
    path = archive.data_dir / "storage" / "warcs" / capture.warc_file.filename
    with path.open("rb") as f:
        f.seek(capture.offset)
        data = f.read(capture.length)
    assert sum(1 for _ in ArchiveIterator(io.BytesIO(data))) == 1, \
        "catalog offset/length must frame exactly one record"
    return parse_record(data), data


def capture_of(archive: Archive, url: str) -> Capture:
    with archive.catalog().session() as session:
        capture = session.scalars(select(Capture).where(Capture.url == url)
                                  .order_by(Capture.id.desc())).first()
        assert capture is not None, f"{url} was not archived"
        capture.warc_file  # noqa: B018 - load the relationship before the session ends
        return capture


def test_summary_counts_pages_articles_and_errors(site_archive: Archive) -> None:
    summary = site_archive.summary  # type: ignore[attr-defined]
    assert summary["status"] == "succeeded"
    assert summary["pages"] >= 20
    assert summary["articles"] >= 8
    assert summary["warc_files"] and summary["bytes"] > 10_000
    kinds = {f["url"].rsplit("/", 1)[-1] or f["url"]: f["error"] for f in summary["failures"]}
    assert kinds["unreachable"] == "connection_refused"
    assert kinds["http://no-such-host.invalid/"] == "dns_error"
    assert kinds["slow"] == "timeout"
    assert kinds["error"] == "http_500" and kinds["missing"] == "http_404"
    assert summary["errors"] == len(summary["failures"])
    with site_archive.catalog().session() as session:
        job = session.get(CrawlJob, summary["job_id"])
        assert job.status == "succeeded" and job.stats["pages"] == summary["pages"]


def test_every_warc_passes_warcio_check(site_archive: Archive) -> None:
    paths = site_archive.warc_paths()
    assert paths
    assert "digest pass" in warcio_check(*paths)


def test_catalog_offsets_point_at_their_records(site_archive: Archive) -> None:
    with site_archive.catalog().session() as session:
        captures = list(session.scalars(select(Capture)))
        files = {w.id: w for w in session.scalars(select(WarcFile))}
        assert all(w.state == "uploaded" and w.sha256 for w in files.values())
        for capture in captures:
            capture.warc_file = files[capture.warc_file_id]
            record, _ = record_at(site_archive, capture)
            assert record.rec_headers.get_header("WARC-Record-ID") == capture.record_id
            assert record.rec_headers.get_header("WARC-Target-URI") == capture.url
            assert record.http_headers.get_statuscode() == str(capture.status)
    for path in site_archive.warc_paths():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert files_by_name(files)[path.name].sha256 == digest


def files_by_name(files: dict[int, WarcFile]) -> dict[str, WarcFile]:
    return {w.filename: w for w in files.values()}


def test_gzip_page_is_stored_encoded_and_decodes_to_the_served_file(site_archive, demo_site):
    capture = capture_of(site_archive, demo_site.url + ARTICLE)
    record, _ = record_at(site_archive, capture)
    assert record.http_headers.get_header("Content-Encoding") == "gzip"
    stored = record.raw_stream.read()
    assert stored[:2] == b"\x1f\x8b"
    assert gzip.decompress(stored) == demo_site.served_bytes(ARTICLE)
    expected_digest = "sha1:" + b32encode(hashlib.sha1(stored).digest()).decode()
    assert capture.payload_digest == expected_digest
    assert record.rec_headers.get_header("WARC-IP-Address") == "127.0.0.1"


def test_repeated_headers_and_reason_phrase_survive(site_archive, demo_site):
    record, _ = record_at(site_archive, capture_of(site_archive, demo_site.url + ARTICLE))
    cookies = [v for k, v in record.http_headers.headers if k.lower() == "set-cookie"]
    assert len(cookies) == 2 and cookies[0] != cookies[1]
    teapot, _ = record_at(site_archive, capture_of(site_archive, demo_site.url + "/teapot"))
    assert teapot.http_headers.statusline == "418 I'm a teapot"
    error, _ = record_at(site_archive, capture_of(site_archive, demo_site.url + "/error"))
    assert error.http_headers.statusline == "500 Internal Server Error"


def test_request_record_has_query_string_and_links_to_response(site_archive, demo_site):
    url = demo_site.url + "/search?q=harbour+bridge&page=2"
    capture = capture_of(site_archive, url)
    path = site_archive.data_dir / "storage" / "warcs" / capture.warc_file.filename
    with path.open("rb") as f:
        records = [(r.rec_headers, r.http_headers) for r in ArchiveIterator(f)]
    requests = [(w, h) for w, h in records if w.get_header("WARC-Type") == "request"
                and w.get_header("WARC-Concurrent-To") == capture.record_id]
    assert len(requests) == 1
    warc_headers, http_headers = requests[0]
    assert http_headers.protocol == "GET"
    assert http_headers.statusline == "/search?q=harbour+bridge&page=2 HTTP/1.1"
    assert warc_headers.get_header("WARC-Target-URI") == url
    response = next(w for w, _ in records if w.get_header("WARC-Record-ID") == capture.record_id)
    assert warc_headers.get_header("WARC-Date") == response.get_header("WARC-Date")


def test_chunked_response_is_kept_chunked_with_the_entity_digest(site_archive, demo_site):
    """As it crossed the wire (WARC 1.1 6.3.2: the payload digest is of the entity body)."""
    capture = capture_of(site_archive, demo_site.url + "/chunked")
    record, _ = record_at(site_archive, capture)
    assert record.http_headers.get_header("Transfer-Encoding") == "chunked"
    body = record.content_stream().read()  # warcio de-chunks
    assert body.startswith(b"<!DOCTYPE html>") or b"<html" in body[:200]
    assert capture.payload_digest == payload_digest(body)
    raw = site_archive.cli_in_process("snapshot", demo_site.url + "/chunked", "--raw")
    assert raw.stdout == body


def test_oversized_response_is_archived_truncated(site_archive, demo_site):
    capture = capture_of(site_archive, demo_site.url + "/big")
    record, _ = record_at(site_archive, capture)
    assert record.rec_headers.get_header("WARC-Truncated") == "length"
    assert capture.truncated == "length"
    assert len(record.raw_stream.read()) == 1024 * 1024


def test_redirect_and_error_statuses_are_archived_as_served(site_archive, demo_site):
    redirect, _ = record_at(site_archive,
                            capture_of(site_archive, demo_site.url + "/redirect-to-home"))
    assert redirect.http_headers.get_statuscode() == "301"
    assert redirect.http_headers.get_header("Location").endswith("/")
    assert capture_of(site_archive, demo_site.url + "/missing").status == 404


def test_non_html_is_archived_not_extracted(site_archive, demo_site):
    capture = capture_of(site_archive, demo_site.url + "/files/report.pdf")
    assert capture.mime == "application/pdf"
    record, _ = record_at(site_archive, capture)
    assert record.content_stream().read() == demo_site.served_bytes("/files/report.pdf")
    with site_archive.catalog().session() as session:
        assert session.scalars(select(Article).where(Article.capture_id == capture.id)).first() \
            is None


def test_snapshot_raw_returns_the_served_bytes(site_archive, demo_site):
    for path in (ARTICLE, FRENCH, "/files/report.pdf"):
        result = site_archive.cli_in_process("snapshot", demo_site.url + path, "--raw")
        assert result.stdout == demo_site.served_bytes(path)


def test_extraction_gets_metadata_and_clean_text(site_archive, demo_site):
    data = site_archive.cli_in_process("snapshot", demo_site.url + ARTICLE, "--json").json()
    article = data["article"]
    assert article["title"] == "Harbour Bridge reopens to traffic after eighteen-month restoration"
    assert article["authors"] == ["Jane Doe"]
    assert article["published"].startswith("2026-11-03")
    assert article["language"] == "en"
    assert article["word_count"] > 200
    assert not [b for b in BOILERPLATE if b in article["text"]]
    assert data["capture"]["record_id"]
    two = site_archive.cli_in_process("snapshot", demo_site.url + TWO_AUTHORS, "--json").json()
    assert two["article"]["authors"] == ["Jane Doe", "Marcus Okafor"]


def test_french_article_is_detected_and_clean(site_archive, demo_site):
    data = site_archive.cli_in_process("snapshot", demo_site.url + FRENCH, "--json").json()
    article = data["article"]
    assert article["language"] == "fr"
    assert article["title"].startswith("Le Festival des Lumières")
    assert article["authors"] == ["Camille Lefèvre"]
    text = site_archive.cli_in_process("snapshot", demo_site.url + FRENCH, "--text").text
    assert "Lumières" in text and not [b for b in BOILERPLATE if b in text]


def test_metadata_record_refers_to_the_response(site_archive, demo_site):
    capture = capture_of(site_archive, demo_site.url + ARTICLE)
    with site_archive.catalog().session() as session:
        article = session.scalars(select(Article).where(Article.capture_id == capture.id)).one()
    path = site_archive.data_dir / "storage" / "warcs" / capture.warc_file.filename
    with path.open("rb") as f:
        for record in ArchiveIterator(f):
            if record.rec_headers.get_header("WARC-Record-ID") == article.metadata_record_id:
                assert record.rec_headers.get_header("WARC-Type") == "metadata"
                assert record.rec_headers.get_header("WARC-Refers-To") == capture.record_id
                payload = json.loads(record.content_stream().read())
                assert payload["extraction"]["title"] == article.title
                assert any(link.endswith("/world/") for link in payload["outlinks"])
                break
        else:
            pytest.fail("metadata record not found")


def test_captures_command_lists_and_errors(site_archive, demo_site):
    listed = site_archive.cli_in_process("captures", demo_site.url + ARTICLE, "--json")
    rows = listed.text.splitlines()
    assert len(rows) == 1 and '"status": 200' in rows[0]
    missing = site_archive.cli_in_process("captures", demo_site.url + "/never", expect=1)
    assert "no capture of" in missing.stderr


def test_snapshot_at_picks_the_closest_capture(archive: Archive, demo_site) -> None:
    url = demo_site.url + ARTICLE
    first = archive.crawl(url, "--depth", "0", "--no-extract")
    second = archive.crawl(url, "--depth", "0", "--no-extract")
    with archive.catalog().session() as session:
        captures = list(session.scalars(select(Capture).where(Capture.url == url)
                                        .order_by(Capture.timestamp, Capture.id)))
    assert [c.job_id for c in captures] == [first["job_id"], second["job_id"]]
    early, late = captures
    for at, expected in (("2000", early), (early.timestamp, early), ("2999", late)):
        data = archive.cli_in_process("snapshot", url, "--at", at, "--json").json()
        assert data["capture"]["record_id"] == expected.record_id
    bad = archive.cli_in_process("snapshot", url, "--at", "yesterday", expect=2)
    assert "neither 1-14 digits" in bad.stderr


def test_depth_zero_and_no_extract(archive: Archive, demo_site) -> None:
    url = demo_site.url + ARTICLE
    before = len(demo_site.requests)
    summary = archive.crawl(url, "--depth", "0", "--no-extract")
    paths = [path for _, path in demo_site.requests[before:]]
    # the page, its requisites (stylesheet, logo) and robots.txt
    assert sorted(paths) == ["/assets/logo.png", "/assets/style.css", "/robots.txt", ARTICLE]
    assert summary["articles"] == 0 and summary["pages"] == 4
    assert summary["requisites"]["archived"] == 2
    with archive.catalog().session() as session:
        assert session.scalars(select(Article)).first() is None
    warcs = archive.warc_paths()
    with warcs[0].open("rb") as f:
        types = [r.rec_headers.get_header("WARC-Type") for r in ArchiveIterator(f)]
    assert types[0] == "warcinfo" and "metadata" in types


LOOPBACK_FORMS = ["127.0.0.1", "localhost", "2130706433", "0x7f.1", "017700000001", "127.1",
                  "[::1]", "[::ffff:127.0.0.1]"]


def test_loopback_is_refused_before_the_crawl(archive: Archive, demo_site) -> None:
    urls = [f"http://{host}:{demo_site.port}/" for host in LOOPBACK_FORMS]
    before = len(demo_site.requests)
    for url in urls:
        result = archive.cli_in_process("crawl", "--depth", "0", url, expect=2,
                                        env={"NEWSARCHIVE_ALLOWED_NETWORKS": ""})
        line = result.stderr.strip().splitlines()[-1]
        assert line.startswith("error: urls.0: refused to connect: "), line
        assert "NEWSARCHIVE_ALLOWED_NETWORKS" in line
    assert len(demo_site.requests) == before, "no request may reach a loopback address"
    with archive.catalog().session() as session:
        assert session.scalars(select(CrawlJob)).all() == [], "no job for a refused URL"


def test_loopback_found_during_the_crawl_is_refused(archive: Archive, demo_site) -> None:
    """The second gate: every connection is checked, whatever form the link takes."""
    from scheduler.demo.server import DemoSite

    try:
        outside = DemoSite(host="127.0.0.2").start()
    except OSError as exc:  # pragma: no cover - loopback aliases exist on Linux
        pytest.skip(f"cannot bind 127.0.0.2: {exc}")
    try:
        starts = [f"{outside.url}/redirect?to=http://{host}:{demo_site.port}/"
                  for host in LOOPBACK_FORMS]
        before = len(demo_site.requests)
        summary = archive.crawl(*starts, "--depth", "1",
                                env={"NEWSARCHIVE_ALLOWED_NETWORKS": "127.0.0.2/32"})
    finally:
        outside.stop()
    assert len(demo_site.requests) == before, "no request may reach a loopback address"
    refused = [f for f in summary["failures"] if f["error"] == "refused_address"]
    # One refusal per distinct redirect target: w3lib 2.6 writes the numeric forms
    # (2130706433, 0x7f.1, 127.1...) as 127.0.0.1, and Scrapy then drops them as duplicates.
    targets = {safe_url_string(f"http://{host}:{demo_site.port}/") for host in LOOPBACK_FORMS}
    assert len(refused) == len(targets), (
        [(f["url"], f["error"]) for f in summary["failures"]], summary["skipped"])
    messages = " ".join(f["message"] for f in refused)
    assert "loopback address 127.0.0.1" in messages
    assert "NEWSARCHIVE_ALLOWED_NETWORKS" in messages
    assert summary["pages"] == len(LOOPBACK_FORMS) + 1  # the redirects as served, robots.txt


def test_storage_root_that_is_a_file_is_one_clear_error(archive: Archive, demo_site) -> None:
    blocker = archive.data_dir.parent / "not-a-directory"
    blocker.write_bytes(b"keep me")
    env = {"NEWSARCHIVE_STORAGE_URL": blocker.as_uri()}
    before = len(demo_site.requests)
    for command in (("crawl", demo_site.url + "/", "--depth", "0"), ("storage", "upload")):
        result = archive.cli(*command, env=env, expect=2)
        assert "Traceback" not in result.stderr
        assert f"cannot use {blocker} as the storage directory" in result.stderr
    assert len(demo_site.requests) == before, "nothing is fetched that could not be stored"
    assert blocker.read_bytes() == b"keep me"
    with archive.catalog().session() as session:
        assert session.scalars(select(CrawlJob)).all() == [], "no job row left behind"


def test_max_pages_bounds_the_crawl(archive: Archive, demo_site) -> None:
    summary = archive.crawl(demo_site.url + "/", "--depth", "3", "--max-pages", "3",
                            "--no-extract")
    # 3 pages + robots.txt + the pages' requisites (not counted against --max-pages)
    assert summary["pages"] == 4 + summary["requisites"]["archived"]
    assert summary["requisites"]["archived"] == 2  # the stylesheet and logo they share
    assert summary["skipped"]["over_max_pages"] > 0


def test_robots_txt_is_obeyed_and_archived(site_archive, demo_site):
    summary = site_archive.summary  # type: ignore[attr-defined]
    assert "/private/secret.html" not in [p for _, p in demo_site.requests]
    assert capture_of(site_archive, demo_site.url + "/robots.txt").status == 200
    assert summary["status"] == "succeeded"


@pytest.mark.parametrize(("path", "expected"), [
    (NO_CHARSET_ARTICLE, "café"),
    (WRONG_CHARSET_ARTICLE, "Shipyard"),
    (MALFORMED_ARTICLE, "quota"),
])
def test_awkward_pages_are_archived_and_extracted(site_archive, demo_site, path, expected):
    data = site_archive.cli_in_process("snapshot", demo_site.url + path, "--json").json()
    article = data["article"]
    assert article is not None and article["word_count"] > 150
    assert expected in article["title"] + article["text"]
    assert "Ã" not in article["text"], "mojibake: UTF-8 decoded as Latin-1"
    raw = site_archive.cli_in_process("snapshot", demo_site.url + path, "--raw").stdout
    assert raw == demo_site.served_bytes(path)


def test_rollover_during_a_crawl_keeps_every_capture_readable(archive: Archive, demo_site):
    summary = archive.crawl(demo_site.url + "/", "--depth", "1", "--no-extract",
                            env={"NEWSARCHIVE_WARC_MAX_SIZE": "20000"})
    assert len(summary["warc_files"]) >= 3
    assert [p.name for p in archive.warc_paths()] == sorted(summary["warc_files"])
    assert not list(archive.config.spool_dir.iterdir()), "spool must be empty after shipping"
    with archive.catalog().session() as session:
        captures = list(session.scalars(select(Capture)))
        assert len(captures) == summary["pages"]
        for capture in captures:
            capture.warc_file  # noqa: B018
            record, _ = record_at(archive, capture)
            assert record.rec_headers.get_header("WARC-Record-ID") == capture.record_id
    for path in archive.warc_paths():
        with path.open("rb") as f:
            first = next(iter(ArchiveIterator(f)))
            assert first.rec_headers.get_header("WARC-Type") == "warcinfo"
