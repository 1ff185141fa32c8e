"""Incremental site crawls end to end (real CLI, tests/news_site.py): discovery from feeds,
news sitemaps, sitemap indexes and robots.txt; archived articles not fetched again; unchanged
hubs written as revisit records that resolve to the original; the refresh policy; traps."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload
from warcio.timeutils import timestamp_to_iso_date

from archive.models import Article, Capture, SeenUrl, utcnow
from archive.snapshot import load_snapshot, parse_record, read_record_bytes
from tests.support.cli import Archive
from tests.support.news_site import (
    OLD_ARTICLE,
    OLD_FEED_ITEM,
    OLD_NEWS_ENTRY,
    OLD_SITEMAP,
    REPORT,
    NewsSite,
)

TRAP_CAP = 4
HUBS = {"/", "/world/", "/business/", "/feed.xml", "/atom.xml", "/sitemap-index.xml",
        "/news-sitemap.xml", "/robots.txt"}


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with NewsSite() as news:
        news.add_article("world", "harbour-bridge-reopens-to-traffic", "Bridge reopens")
        news.add_article("world", "ferry-timetable-changes-next-week", "Ferry timetable")
        news.add_article("business", "port-authority-reports-record-quarter", "Record quarter")
        news.add_article("business", "shipyard-wins-big-ferry-order", "Ferry order")
        # Linked from the home page only, with a query string; its canonical URL is clean.
        news.add_article("world", "storm-barrier-test-goes-well-today", "Storm barrier",
                         in_feeds=False, link_suffix="?ref=home")
        yield news


def add_site(archive: Archive, site: NewsSite, *extra: str) -> None:
    archive.cli("sites", "add", "tribune", "--start-url", f"{site.url}/",
                "--feed", f"{site.url}/atom.xml", "--depth", "10", *extra)


def crawl(archive: Archive) -> dict:
    summary = archive.crawl("--site", "tribune",
                            env={"NEWSARCHIVE_TRAP_MAX_PER_PATTERN": str(TRAP_CAP)})
    assert summary["status"] == "succeeded", summary
    return summary


def paths(log: list[str]) -> Counter[str]:
    return Counter(urlsplit(target).path for target in log)


def article_requests(site: NewsSite, log: list[str]) -> Counter[str]:
    return Counter(p for p in paths(log).elements() if p in site.articles)


def latest(archive: Archive, url: str) -> Capture:
    with archive.catalog().session() as session:
        return session.scalars(select(Capture).where(Capture.url == url)
                               .options(joinedload(Capture.warc_file))
                               .order_by(Capture.timestamp.desc(), Capture.id.desc())
                               .limit(1)).one()


def test_second_run_fetches_hubs_and_new_articles_only(archive: Archive,
                                                       site: NewsSite) -> None:
    add_site(archive, site)
    first = crawl(archive)
    log = site.take_log()
    counts = paths(log)
    assert article_requests(site, log) == Counter(list(site.articles))  # each once
    assert set(counts) >= HUBS
    for hidden in (OLD_ARTICLE, OLD_NEWS_ENTRY, OLD_SITEMAP, OLD_FEED_ITEM):  # > 2-day horizon
        assert counts[hidden] == 0
    assert counts[REPORT] == 1  # a document: archived once, then seen like an article
    assert sum(n for p, n in counts.items() if p.startswith("/calendar/")) == TRAP_CAP
    assert first["skipped"]["trap_cap"] > 0 and first["skipped"]["sitemap_horizon"] == 2
    assert first["skipped"]["feed_horizon"] == 1
    storm = next(a for a in site.articles.values() if a.link_suffix)
    with archive.catalog().session() as session:  # only articles are extracted
        assert sorted(a.url for a in session.scalars(select(Article))) == sorted(
            site.url + a.path + a.link_suffix for a in site.articles.values())
    business_before = latest(archive, f"{site.url}/business/")

    new = site.add_article("world", "new-lighthouse-keeper-appointed-today", "Lighthouse",
                           age=timedelta(minutes=10))
    storm.in_feeds = True  # now in the feeds under its canonical URL
    hubs_due(archive)
    second = crawl(archive)
    log = site.take_log()
    assert article_requests(site, log) == Counter([new.path])
    assert {p for p in paths(log) if not p.startswith("/calendar/")} == HUBS | {new.path}
    assert second["skipped"]["already_archived"] >= len(site.articles) - 1
    assert second["revisits"] >= 3  # /business/, /atom.xml, /sitemap-index.xml at least

    with archive.catalog().session() as session:
        kinds = dict(session.execute(select(SeenUrl.url, SeenUrl.kind)).all())
    assert kinds[f"{site.url}/business/"] == "hub"
    assert kinds[f"{site.url}{new.path}"] == "article"
    assert kinds[f"{site.url}{storm.path}?ref=home"] == "article"

    # The unchanged section page is a revisit record that resolves to the first capture.
    business = latest(archive, f"{site.url}/business/")
    assert (business.record_type, business.mime) == ("revisit", "warc/revisit")
    assert business.payload_digest == business_before.payload_digest
    assert business.timestamp > business_before.timestamp
    record = parse_record(read_record_bytes(business, archive.config.open_storage(),
                                            archive.config.spool_dir))
    headers = record.rec_headers
    assert headers.get_header("WARC-Type") == "revisit"
    assert headers.get_header("WARC-Profile") == \
        "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
    assert headers.get_header("WARC-Refers-To-Target-URI") == f"{site.url}/business/"
    assert headers.get_header("WARC-Refers-To-Date") == \
        timestamp_to_iso_date(business_before.timestamp)
    assert headers.get_header("WARC-Refers-To") == business_before.record_id
    assert headers.get_header("WARC-Payload-Digest") == business_before.payload_digest
    assert record.http_headers.get_statuscode() == "200"
    assert record.content_stream().read() == b""
    with archive.catalog().session() as session:  # replay's contract: latest response with
        original = session.scalars(select(Capture).where(  # that SURT and digest before it
            Capture.surt == business.surt, Capture.payload_digest == business.payload_digest,
            Capture.record_type == "response", Capture.timestamp <= business.timestamp,
        ).order_by(Capture.timestamp.desc()).options(joinedload(Capture.warc_file))
            .limit(1)).one()
        assert original.record_id == business_before.record_id
        snapshot = load_snapshot(original, archive.config.open_storage(),
                                 archive.config.spool_dir)
    assert snapshot.raw_body == site.render("/business/")[2]
    cdxj = [line for path in (archive.data_dir / "storage" / "indexes").glob("*.cdxj")
            for line in path.read_text().splitlines()]
    fields = [json.loads(line.split(" ", 2)[2]) for line in cdxj
              if line.split(" ")[1] == business.timestamp and "/business/" in line]
    assert fields and fields[0]["mime"] == "warc/revisit"
    assert fields[0]["digest"] == business.payload_digest.removeprefix("sha1:")


def hubs_due(archive: Archive) -> None:
    """As if the hubs' refresh intervals had passed."""
    with archive.catalog().session() as session:
        session.execute(update(SeenUrl).values(next_fetch_at=utcnow() - timedelta(seconds=1)))


def interval(archive: Archive, url: str) -> int | None:
    with archive.catalog().session() as session:
        return session.scalar(select(SeenUrl.refresh_interval).where(SeenUrl.url == url))


def test_hubs_are_refetched_when_due_sooner_while_they_bring_new_articles(
        archive: Archive, site: NewsSite) -> None:
    add_site(archive, site, "--hub-refresh-min", "10m", "--hub-refresh-max", "2h")
    crawl(archive)
    site.take_log()
    assert interval(archive, f"{site.url}/world/") == interval(
        archive, f"{site.url}/atom.xml") == 600

    second = crawl(archive)  # at once: only what is always fetched
    assert set(paths(site.take_log())) == {"/", "/robots.txt", "/sitemap-index.xml"}
    assert second["skipped"]["hub_not_due"] >= 4  # the sections, the feed, the news sitemap

    new = site.add_article("world", "new-lighthouse-keeper-appointed-today", "Lighthouse",
                           age=timedelta(minutes=10), in_feeds=False, on_home=False)
    hubs_due(archive)
    crawl(archive)
    assert article_requests(site, site.take_log()) == Counter([new.path])
    assert interval(archive, f"{site.url}/world/") == 600  # a new article: stays short
    assert interval(archive, f"{site.url}/business/") == 1200  # nothing new: doubled
    for _ in range(3):
        hubs_due(archive)
        crawl(archive)
    assert interval(archive, f"{site.url}/business/") == 7200  # up to the longest
    with archive.catalog().session() as session:
        row = session.scalar(select(SeenUrl).where(SeenUrl.url == f"{site.url}/business/"))
        assert row.next_fetch_at.replace(tzinfo=UTC) > utcnow() + timedelta(minutes=110)


def test_refresh_policy_recaptures_edited_articles(archive: Archive, site: NewsSite) -> None:
    add_site(archive, site, "--refresh", "1h", "--refresh", "1d")
    crawl(archive)
    site.take_log()
    edited, unchanged = (site.articles[p] for p in sorted(site.articles)[:2])
    before = latest(archive, site.url + edited.path)
    edited.text = "Correction: the figures were revised on Monday. " + edited.text
    with archive.catalog().session() as session:  # an hour and a bit later
        session.execute(update(SeenUrl).values(first_seen_at=utcnow() - timedelta(hours=2)))

    crawl(archive)
    log = site.take_log()
    assert article_requests(site, log) == Counter(list(site.articles))  # all are past 1 h
    after = latest(archive, site.url + edited.path)
    assert after.record_type == "response" and after.payload_digest != before.payload_digest
    with archive.catalog().session() as session:
        texts = [a.text for a in session.scalars(
            select(Article).where(Article.url == site.url + edited.path).order_by(Article.id))]
    assert len(texts) == 2
    assert "Correction" not in texts[0] and "Correction: the figures were revised" in texts[1]
    assert latest(archive, site.url + unchanged.path).record_type == "revisit"

    crawl(archive)  # the 1 h refresh is done and the 1 d one is not due yet
    assert article_requests(site, site.take_log()) == Counter()
