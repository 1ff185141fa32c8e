"""``newsarchive reextract``: articles rebuilt from the archived WARC records alone.

The demo site is crawled once with ``--no-extract`` by a site started for this module and
stopped before any re-extraction, so every article can only have come from storage.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from archive.models import Article, Capture
from archive.snapshot import load_snapshot
from crawler.extraction import EXTRACTOR_VERSION, extract_article
from crawler.reextract import ReextractError, ReextractReport
from crawler.reextract import reextract as run_reextract
from scheduler.demo.server import ARTICLE_PATHS, FRENCH_ARTICLE, WRONG_CHARSET_ARTICLE, DemoSite
from tests.support.cli import Archive
from tests.support.s3 import S3_TEST_BUCKET

pytestmark = pytest.mark.slow  # crawls through the CLI


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A data directory holding two --no-extract crawls of the demo site (now stopped; the
    second one mostly revisit records), and what direct extraction of the served pages
    gives."""
    data_dir = tmp_path_factory.mktemp("crawled") / "data"
    archive = Archive(data_dir)
    with DemoSite() as site:
        summary = archive.crawl(site.url + "/", "--depth", "2", "--no-extract")
        again = archive.crawl(site.url + "/", "--depth", "2", "--no-extract")  # revisits
        expected = {}
        for path in ARTICLE_PATHS:
            charset = "iso-8859-1" if path == WRONG_CHARSET_ARTICLE else None
            article = extract_article(site.served_bytes(path), site.url + path,
                                      encoding=charset)
            assert article is not None
            expected[site.url + path] = article
        base = site.url
    assert summary["articles"] == again["articles"] == 0
    assert summary["pages"] > len(ARTICLE_PATHS)
    host, port = urlsplit(base).hostname, urlsplit(base).port
    with pytest.raises(ConnectionRefusedError), socket.create_connection((host, port), 2):
        pass  # the site is down: re-extraction cannot reach it
    return {"data_dir": data_dir, "expected": expected, "job_id": summary["job_id"]}


@pytest.fixture
def archive(crawled: dict[str, Any], tmp_path: Path) -> Iterator[Archive]:
    """A private copy of the crawled archive."""
    data_dir = tmp_path / "data"
    shutil.copytree(crawled["data_dir"], data_dir)
    yield Archive(data_dir)


def reextract(archive: Archive, *args: str, expect: int = 0) -> dict[str, Any]:
    return archive.cli("reextract", "--json", "--workers", "2", *args, expect=expect).json()


def articles_by_url(archive: Archive, record_type: str = "response",
                    ) -> dict[str, tuple[Article, Capture]]:
    catalog = archive.catalog()
    with catalog.session() as session:
        rows = session.execute(select(Article, Capture).join(Article.capture)
                               .where(Capture.record_type == record_type)).all()
    catalog.dispose()
    return {capture.url: (article, capture) for article, capture in rows}


def test_articles_rebuilt_from_storage_then_rerun_is_a_no_op(archive, crawled) -> None:
    assert articles_by_url(archive) == {}
    first = reextract(archive)
    assert first["failed"] == [] and first["extractor_version"] == EXTRACTOR_VERSION
    assert first["created"] >= len(ARTICLE_PATHS) and first["updated"] == 0
    assert first["scanned"] == first["created"] + first["empty"]
    found = articles_by_url(archive)
    revisited = articles_by_url(archive, "revisit")
    assert len(found) + len(revisited) == first["created"]
    for url, direct in crawled["expected"].items():
        article, capture = found[url]
        # Same result as extracting the page as served: gzip and charsets were decoded.
        assert (article.title, article.authors, article.published, article.language,
                article.text) == (direct.title, direct.authors, direct.published,
                                  direct.language, direct.text)
        assert (capture.record_type, capture.status, capture.mime) == \
            ("response", 200, "text/html")
        assert article.extractor_version == EXTRACTOR_VERSION
        assert article.metadata_record_id is None  # no crawl-time extraction to point at
        # The second crawl's revisit has its own article, from the original's payload.
        repeat, revisit = revisited[url]
        assert revisit.id != capture.id and revisit.job_id != capture.job_id
        assert (repeat.title, repeat.text) == (article.title, article.text)
    french, capture = found[next(u for u in found if u.endswith(FRENCH_ARTICLE))]
    assert french.language == "fr" and french.title.startswith("Le Festival des Lumières")
    catalog = archive.catalog()
    with catalog.session() as session:  # what was decoded: the archived bytes are gzipped
        record = session.get(Capture, capture.id, options=[joinedload(Capture.warc_file)])
        stored = load_snapshot(record, archive.config.open_storage(), archive.config.spool_dir)
    catalog.dispose()
    assert stored.http_headers.get_header("Content-Encoding") == "gzip"
    assert stored.raw_body[:2] == b"\x1f\x8b" and "Lumières".encode() in stored.body

    again = reextract(archive)
    assert (again["scanned"], again["unchanged"], again["created"], again["updated"]) == \
        (first["scanned"], first["created"], 0, 0)
    assert {url: (a.id, a.capture_id, a.text) for url, (a, _) in articles_by_url(archive)
            .items()} == {url: (a.id, a.capture_id, a.text) for url, (a, _) in found.items()}


def run_in_process(archive: Archive, **options: Any) -> ReextractReport:
    catalog = archive.catalog()
    try:
        return run_reextract(catalog, archive.config.open_storage(catalog),
                             archive.config.spool_dir, workers=1, **options)
    finally:
        catalog.dispose()


def test_older_extractor_versions_are_updated_in_place(archive) -> None:
    created = run_in_process(archive).created
    before = {url: (a.id, a.capture_id) for url, (a, _) in articles_by_url(archive).items()}
    catalog = archive.catalog()
    with catalog.session() as session:
        session.execute(update(Article).values(extractor_version="newsarchive-extract/0",
                                               title="stale title"))
    catalog.dispose()
    result = reextract(archive)
    assert (result["updated"], result["created"], result["unchanged"]) == (created, 0, 0)
    after = articles_by_url(archive)
    assert {url: (a.id, a.capture_id) for url, (a, _) in after.items()} == before
    assert all(a.title != "stale title" and a.extractor_version == EXTRACTOR_VERSION
               for a, _ in after.values())
    forced = run_in_process(archive, force=True)  # same extractor, same pages: no change
    assert (forced.unchanged, forced.updated) == (created, 0)
    newer = run_in_process(archive, extractor_version="newsarchive-extract/99")
    assert (newer.updated, newer.unchanged) == (created, 0)


def test_selection_by_job_site_and_date(archive, crawled) -> None:
    assert run_in_process(archive, since="2999").scanned == 0
    assert run_in_process(archive, job_id=crawled["job_id"]).created >= len(ARTICLE_PATHS)
    for options, message in (
            ({"job_id": 999}, "no crawl job 999; see `newsarchive jobs list`"),
            ({"site": "nowhere"}, "no site named 'nowhere'; see `newsarchive sites list`"),
            ({"since": "next tuesday"}, "since: timestamp 'next tuesday' is neither")):
        with pytest.raises(ReextractError) as raised:
            run_in_process(archive, **options)
        assert message in str(raised.value)
    bad = archive.cli("reextract", "--site", "nowhere", expect=2)
    assert "no site named 'nowhere'" in bad.stderr


def test_unreadable_records_are_reported_not_fatal(archive) -> None:
    for warc in archive.warc_paths():
        warc.unlink()
    result = archive.cli("reextract", "--workers", "1", expect=1)
    assert "0 articles created" in result.text and "failed" in result.text
    assert "cannot read the record" in result.text and "not found in file://" in result.text


def test_records_are_read_from_s3_with_ranged_gets(s3_server: Any, tmp_path: Path,
                                                   demo_site: DemoSite) -> None:
    archive = Archive(tmp_path / "data", env={
        "NEWSARCHIVE_STORAGE_URL": f"s3://{S3_TEST_BUCKET}/reextract", **s3_server.env})
    url = demo_site.url + FRENCH_ARTICLE
    archive.crawl(url, "--depth", "0", "--no-extract")
    assert not any(archive.config.spool_dir.iterdir())  # only S3 holds the WARC now
    result = reextract(archive)
    assert (result["created"], result["failed"]) == (1, [])
    article, _ = articles_by_url(archive)[url]
    assert article.title.startswith("Le Festival des Lumières")
