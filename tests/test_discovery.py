"""Discovery rules, revisit records in the archive layer, the seen-URL store, and the site
settings for refresh/horizon/patterns (API and CLI)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from scrapy.http import XmlResponse
from scrapy.utils.test import get_crawler
from sqlalchemy import inspect, select
from warcio.archiveiterator import ArchiveIterator

from archive.archiver import Archiver
from archive.catalog import Catalog, alembic_config
from archive.config import ArchiveSettings
from archive.models import Capture, SeenUrl, Site
from archive.warc import HttpExchange, WarcWriter, payload_digest
from crawler.discovery import (
    ARTICLE,
    HUB,
    KindRules,
    jsonld_types,
    kind_from_url,
    normalize_url,
    not_found_page,
    page_kind,
    parse_duration,
    parse_feed_date,
    refresh_step,
    sitemap_entry_date,
    trap_family,
    within_horizon,
)
from crawler.seen import SeenUrls
from crawler.spiders.news import NewsSitemap, NewsSpider
from tests.support.api import api_client
from tests.support.cli import Archive
from tests.support.warc import exchange, warcio_check

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


# -- article or hub ----------------------------------------------------------------------------
@pytest.mark.parametrize(("url", "kind"), [
    ("https://news.example/", HUB),
    ("https://news.example/world/", HUB),
    ("https://news.example/world", HUB),
    ("https://news.example/world/2026/11/03/harbour-bridge-reopens.html", ARTICLE),
    ("https://news.example/2026/11/storm-surge-pact", ARTICLE),
    ("https://news.example/politics/council-votes-to-extend-the-ferry-contract", ARTICLE),
    ("https://news.example/news/article-1234567", ARTICLE),
    ("https://news.example/tag/harbour-bridge-reopens-today", HUB),
    ("https://news.example/world/page/3", HUB),
    ("https://news.example/world/?page=3", HUB),
    ("https://news.example/calendar/2026/11/24", HUB),
    ("https://news.example/world/2026/11/03/", None),
    ("https://news.example/article/2999.html", ARTICLE),  # short ids after a content word
    ("https://news.example/news/4521", ARTICLE),
    ("https://news.example/story/88", ARTICLE),
    ("https://news.example/article.php?id=2999", ARTICLE),
    ("https://news.example/world/?id=2999&page=2", HUB),  # a listing still
    ("https://news.example/about/contact.html", None),
])
def test_kind_from_url_shapes(url: str, kind: str | None) -> None:
    assert kind_from_url(url) == kind


def test_page_signals_then_url_shape_then_hub() -> None:
    none = KindRules()
    odd = "https://news.example/about/contact.html"
    assert page_kind(odd, none, {"newsarticle"}, None) == ARTICLE
    assert page_kind(odd, none, set(), "article") == ARTICLE
    assert page_kind(odd, none, {"website", "newsarticle"}, None) == ARTICLE  # article wins
    dated = "https://news.example/world/2026/11/03/harbour-bridge-reopens.html"
    assert page_kind(dated, none, {"collectionpage"}, None) == HUB
    assert page_kind(dated, none, set(), "website") == HUB
    assert page_kind(dated, none, set(), None) == ARTICLE
    assert page_kind(odd, none, set(), None) == HUB  # unsure: refetched when due


def test_site_patterns_override_detection() -> None:
    rules = KindRules.compile(articles=[r"/live/"], hubs=[r"/world/2026/11/03/"])
    assert page_kind("https://n.example/live/", rules, {"website"}, "website") == ARTICLE
    assert page_kind("https://n.example/world/2026/11/03/harbour-bridge-reopens.html", rules,
                     {"newsarticle"}, "article") == HUB


def test_jsonld_types_reads_graphs_lists_and_skips_bad_json() -> None:
    scripts = [
        json.dumps({"@graph": [{"@type": "WebSite"}, {"@type": ["NewsArticle", "Thing"]}]}),
        json.dumps([{"@type": "https://schema.org/BlogPosting"}]),
        "{not json",
    ]
    assert jsonld_types(scripts) == {"website", "newsarticle", "thing", "blogposting"}


def test_trap_families_group_listing_urls_by_their_digits() -> None:
    a = trap_family("https://n.example/calendar/2026/11/24")
    assert a == trap_family("https://n.example/calendar/2031/01/02") == "n.example/calendar/N/N/N"
    assert trap_family("https://n.example/world/?page=2") == "n.example/world/?*"
    assert trap_family("https://n.example/world/") is None  # no digits: no family
    assert trap_family("https://n.example/world/2026/11/03/bridge-reopens-today.html") is None


# -- sitemaps, durations, URL keys -------------------------------------------------------------
NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>https://n.example/a</loc><lastmod>2026-11-24T11:00:00Z</lastmod>
    <news:news><news:publication_date>2026-10-01T08:00:00+02:00</news:publication_date>
    </news:news></url>
  <url><loc>https://n.example/b</loc><lastmod>2026-11-23</lastmod></url>
  <url><loc>https://n.example/c</loc><lastmod>2026-11-01</lastmod></url>
  <url><loc>https://n.example/d</loc></url>
  <url><loc>https://n.example/e</loc><lastmod>yesterday</lastmod></url>
</urlset>"""


def test_horizon_uses_publication_date_then_lastmod() -> None:
    entries = list(NewsSitemap(NEWS_SITEMAP))
    assert entries[0]["publication_date"] == "2026-10-01T08:00:00+02:00"
    kept = [e["loc"][-1] for e in entries
            if within_horizon(sitemap_entry_date(e), timedelta(days=2), NOW)]
    assert kept == ["b", "d", "e"]  # a: published in October; c: too old; d, e: no date
    assert all(within_horizon(sitemap_entry_date(e), None, NOW) for e in entries)


@pytest.mark.parametrize(("value", "expected"), [
    ("Tue, 24 Nov 2026 09:30:00 +0100", datetime(2026, 11, 24, 8, 30, tzinfo=UTC)),  # RSS
    ("Tue, 24 Nov 2026 09:30:00 GMT", datetime(2026, 11, 24, 9, 30, tzinfo=UTC)),
    ("2026-11-24T09:30:00+01:00", datetime(2026, 11, 24, 8, 30, tzinfo=UTC)),  # Atom, dc:date
    ("2026-11-24", datetime(2026, 11, 24, tzinfo=UTC)),
    ("next Tuesday", None), ("", None), (None, None),  # unreadable never hides an item
])
def test_feed_dates(value: str | None, expected: datetime | None) -> None:
    assert parse_feed_date(value) == expected


def test_durations_parse_and_bad_ones_say_how_to_write_them() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration(" 2D ") == timedelta(days=2)
    assert parse_duration("1w") == timedelta(days=7)
    for bad in ("", "1", "h", "0h", "1y", "-1h"):
        with pytest.raises(ValueError, match=r"invalid duration .*e\.g\. 1h or 2d"):
            parse_duration(bad)


def test_refresh_steps_and_url_normalization() -> None:
    ages = [timedelta(hours=1), timedelta(days=1)]
    assert refresh_step(NOW - timedelta(minutes=59), ages, NOW) == 0
    assert refresh_step(NOW - timedelta(hours=2), ages, NOW) == 1
    assert refresh_step((NOW - timedelta(days=3)).replace(tzinfo=None), ages, NOW) == 2
    assert normalize_url("https://n.example/a?utm_source=rss&b=2&a=1#top") \
        == "https://n.example/a?a=1&b=2"


# -- revisit records ---------------------------------------------------------------------------
def html_exchange(url: str, body: bytes, status: int = 200, **fields: object) -> HttpExchange:
    return exchange(url, body, status=status, headers=[
        ("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
        **fields)


def new_archiver(config: ArchiveSettings, catalog: Catalog, **kwargs: object) -> Archiver:
    return Archiver(catalog, config.open_storage(catalog), WarcWriter(config.spool_dir),
                    **kwargs)  # type: ignore[arg-type]


def records(config: ArchiveSettings) -> list[tuple[str, dict[str, str], bytes]]:
    found = []
    for path in sorted((config.data_dir / "storage" / "warcs").glob("*.warc.gz")):
        with path.open("rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type in ("response", "revisit"):
                    found.append((record.rec_type, dict(record.rec_headers.headers),
                                  record.content_stream().read()))
    return found


@pytest.fixture
def config(tmp_path: Path) -> ArchiveSettings:
    return ArchiveSettings(data_dir=tmp_path / "data")


def test_same_payload_later_is_a_revisit_of_the_first_response(config: ArchiveSettings,
                                                               catalog: Catalog) -> None:
    page, other = b"<html>home</html>", b"<html>changed</html>"
    first = new_archiver(config, catalog)
    original = first.archive(html_exchange("http://n.example/", page))
    same_crawl = first.archive(html_exchange("http://n.example/", page))  # from memory
    first.close()
    second = new_archiver(config, catalog)  # a later crawl: from the catalog
    later = second.archive(html_exchange("http://n.example/", page))
    changed = second.archive(html_exchange("http://n.example/", other))
    back = second.archive(html_exchange("http://n.example/", page))  # latest differs: full copy
    second.close()
    assert [r.record_type for r in (original, same_crawl, later, changed, back)] \
        == ["response", "revisit", "revisit", "response", "response"]
    assert second.stats.revisits == 1

    written = records(config)
    assert [kind for kind, _, _ in written] == ["response", "revisit", "revisit", "response",
                                                "response"]
    for _, headers, body in written[1:3]:
        assert headers["WARC-Profile"] \
            == "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
        assert headers["WARC-Refers-To-Target-URI"] == "http://n.example/"
        assert headers["WARC-Refers-To"] == original.record_id  # the chain ends at the original
        assert headers["WARC-Payload-Digest"] == payload_digest(page)
        assert headers["WARC-Refers-To-Date"].startswith(original.date.strftime("%Y-%m-%dT%H"))
        assert body == b""
    with catalog.session() as session:
        rows = session.execute(select(Capture.record_type, Capture.mime, Capture.payload_digest)
                               .order_by(Capture.id)).all()
    assert rows[1] == ("revisit", "warc/revisit", payload_digest(page))
    cdxj = [line for path in (config.data_dir / "storage" / "indexes").glob("*.cdxj")
            for line in path.read_text().splitlines()]
    assert sum('"mime": "warc/revisit"' in line for line in cdxj) == 2


def test_no_revisit_for_other_status_empty_truncated_or_when_off(
        config: ArchiveSettings) -> None:
    catalog = Catalog(config.database_url)
    archiver = new_archiver(config, catalog)
    body = b"<html>same</html>"
    archiver.archive(html_exchange("http://n.example/a", body))
    kinds = [archiver.archive(html_exchange("http://n.example/a", body, status=404)).record_type,
             archiver.archive(html_exchange("http://n.example/a", body, status=404)).record_type,
             archiver.archive(html_exchange("http://n.example/a", body,
                                       truncated="length")).record_type]
    archiver.archive(html_exchange("http://n.example/empty", b""))
    kinds.append(archiver.archive(html_exchange("http://n.example/empty", b"")).record_type)
    # a redirect is written whole each time: pywb replays a revisit of a 3xx with no body
    kinds += [archiver.archive(html_exchange("http://n.example/old", body, status=302,
                                             )).record_type for _ in range(2)]
    archiver.close()
    off = new_archiver(config, catalog, revisits=False)
    kinds.append(off.archive(html_exchange("http://n.example/a", body)).record_type)
    off.close()
    assert kinds == ["response", "revisit", "response", "response", "response", "response",
                     "response"]
    catalog.dispose()


def test_revisit_files_pass_warcio_check(config: ArchiveSettings) -> None:
    catalog = Catalog(config.database_url)
    archiver = new_archiver(config, catalog)
    for _ in range(3):
        archiver.archive(html_exchange("http://n.example/", b"<html>x</html>"))
    archiver.close()
    catalog.dispose()
    warcio_check(*(config.data_dir / "storage" / "warcs").glob("*.warc.gz"))


# -- catalogs: SQLite and PostgreSQL ----------------------------------------------------------
def test_migration_0005_goes_down_and_up(catalog: Catalog) -> None:
    from alembic import command

    assert {"seen_urls"} <= set(inspect(catalog.engine).get_table_names())
    command.downgrade(alembic_config(catalog.engine), "0004")
    assert "seen_urls" not in inspect(catalog.engine).get_table_names()
    assert "refresh" not in {c["name"] for c in inspect(catalog.engine).get_columns("sites")}
    command.upgrade(alembic_config(catalog.engine), "head")
    assert {i["name"] for i in inspect(catalog.engine).get_indexes("seen_urls")} \
        >= {"ix_seen_urls_site_canonical"}


def test_seen_state_survives_a_restart(catalog: Catalog) -> None:
    with catalog.session() as session:
        site = Site(name="n", start_urls=["https://n.example/"], feeds=[], sitemaps=[],
                    allow=[], deny=[], max_depth=2, max_pages=10)
        session.add(site)
        session.flush()
        site_id = site.id
    article = "https://n.example/world/2026/11/24/bridge-reopens-to-traffic.html"
    seen = SeenUrls(catalog, site_id, [timedelta(hours=1)], batch_size=2).load()
    seen.fetched(article + "?ref=home", kind=ARTICLE, canonical_url=article,
                 timestamp="20261124100000", digest="sha1:AAAA", now=NOW)
    seen.fetched("https://n.example/", kind=HUB, canonical_url=None,
                 timestamp="20261124100001", digest="sha1:BBBB", now=NOW)  # batch: flushed
    seen.fetched("https://n.example/world/", kind=HUB, canonical_url=None,
                 timestamp="20261124100002", digest=None, now=NOW)
    seen.flush()

    later = NOW + timedelta(minutes=30)
    again = SeenUrls(catalog, site_id, [timedelta(hours=1)]).load()
    assert len(again) == 3
    assert again.skip(article + "?ref=home", later)  # by URL
    assert again.skip(article + "?utm_source=rss", later)  # by canonical URL
    assert not again.skip("https://n.example/", later)  # hubs: always
    assert not again.skip("https://n.example/world/2026/11/24/another-story-here.html", later)
    assert list(again.due_refreshes(later)) == []
    assert list(again.due_refreshes(NOW + timedelta(hours=2))) == [
        normalize_url(article + "?ref=home")]
    again.flush()  # the skipped article was seen again
    with catalog.session() as session:
        rows = {r.url: r for r in session.scalars(select(SeenUrl))}
    row = rows[normalize_url(article + "?ref=home")]
    assert (row.kind, row.canonical_url, row.last_capture, row.last_payload_digest) \
        == (ARTICLE, article, "20261124100000", "sha1:AAAA")
    assert row.last_seen_at.replace(tzinfo=UTC) > NOW
    assert rows["https://n.example/"].kind == HUB

    refreshed = SeenUrls(catalog, site_id, [timedelta(hours=1)]).load()
    refreshed.fetched(article, kind=ARTICLE, canonical_url=article, timestamp="20261124130000",
                      digest="sha1:CCCC", now=NOW + timedelta(hours=2))
    refreshed.flush()
    final = SeenUrls(catalog, site_id, [timedelta(hours=1)]).load()
    assert list(final.due_refreshes(NOW + timedelta(hours=3))) == []  # the 1 h one is done


# -- site settings: API and CLI ----------------------------------------------------------------
def test_api_accepts_and_checks_refresh_horizon_and_patterns(tmp_path: Path) -> None:
    with api_client(tmp_path / "data", allowed_networks="127.0.0.0/8") as client:
        body = {"name": "tribune", "start_urls": ["http://127.0.0.1:9/"],
                "refresh": ["1h", "1d"], "horizon": "3d", "article_patterns": [r"/story/\d+"],
                "hub_patterns": ["/live/"]}
        created = client.post("/api/v1/sites", json=body)
        assert created.status_code == 201, created.text
        assert {k: created.json()[k] for k in ("refresh", "horizon", "article_patterns",
                                               "hub_patterns")} \
            == {k: body[k] for k in ("refresh", "horizon", "article_patterns", "hub_patterns")}
        patched = client.patch("/api/v1/sites/tribune", json={"refresh": ["6h"]})
        assert patched.status_code == 200 and patched.json()["refresh"] == ["6h"]
        assert patched.json()["horizon"] == "3d"
        bad = client.post("/api/v1/sites", json={**body, "name": "b", "refresh": ["90x"]})
        assert bad.status_code == 422
        assert "invalid duration '90x'" in bad.text and "1h or 2d" in bad.text
        bad = client.patch("/api/v1/sites/tribune", json={"hub_patterns": ["("]})
        assert bad.status_code == 422 and "invalid regular expression '('" in bad.text


def test_cli_sites_add_sets_refresh_and_horizon(archive: Archive) -> None:
    cli = archive.cli_in_process  # configuration only: no subprocess needed
    cli("sites", "add", "tribune", "--start-url", "http://127.0.0.1:9/",
        "--refresh", "1h", "--refresh", "1d", "--horizon", "12h",
        "--article-pattern", "/story/")
    shown = cli("sites", "show", "tribune").json()
    assert (shown["refresh"], shown["horizon"], shown["article_patterns"]) \
        == (["1h", "1d"], "12h", ["/story/"])
    bad = cli("sites", "add", "other", "--start-url", "http://127.0.0.1:9/",
              "--horizon", "soon", expect=None)
    assert bad.returncode != 0 and "invalid duration 'soon'" in bad.stderr


def test_cli_sites_update_changes_only_the_given_fields(archive: Archive) -> None:
    cli = archive.cli_in_process  # configuration only: no subprocess needed
    home, feed = "http://127.0.0.1:9/", "http://127.0.0.1:9/rss"
    cli("sites", "add", "tribune", "--start-url", home, "--feed", feed,
        "--every", "30m", "--refresh", "1h")
    done = cli("sites", "update", "tribune", "--horizon", "12h", "--cron",
               "*/10 * * * *", "--disable", "--refresh", "6h", "--refresh", "1d")
    assert "updated site tribune: enabled, horizon, refresh, schedule" in done.text
    shown = cli("sites", "show", "tribune").json()
    assert (shown["horizon"], shown["schedule"], shown["enabled"], shown["refresh"]) == (
        "12h", {"cron": "*/10 * * * *"}, False, ["6h", "1d"])
    assert (shown["start_urls"], shown["feeds"], shown["max_pages"]) == ([home], [feed], 1000)
    cli("sites", "update", "tribune", "--no-schedule", "--enable")
    shown = cli("sites", "show", "tribune").json()
    assert (shown["schedule"], shown["enabled"]) == (None, True)

    for args, message, status in [
        (("ghost", "--depth", "1"), "no site named 'ghost'", 1),
        (("tribune",), "nothing to change for site 'tribune'", 2),
        (("tribune", "--horizon", "soon"), "invalid duration 'soon'", 2),
        (("tribune", "--every", "1h", "--cron", "* * * * *"), "give one of --every, --cron", 2),
        (("tribune", "--article-pattern", "("), "invalid regular expression '('", 2),
        (("tribune", "--feed", "file:///etc/passwd"), "feeds.0: only http and https URLs", 2),
    ]:
        bad = cli("sites", "update", *args, expect=status)
        assert message in bad.stderr, bad.stderr
    assert cli("sites", "show", "tribune").json() == shown  # nothing changed


def test_feed_items_are_dated_by_publication_and_pretty_printed_links_are_read() -> None:
    """An Atom entry is judged by ``published`` even when ``updated`` (recent) comes first;
    a ``<link href>`` element with whitespace inside still gives its href."""
    now = datetime.now(UTC)
    recent, old = now - timedelta(hours=3), now - timedelta(days=40)
    atom = f"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">
      <entry><title>Edited long ago story</title>
        <link rel="alternate" href="https://news.example/old-story.html">
        </link>
        <updated>{recent.isoformat()}</updated><published>{old.isoformat()}</published>
      </entry>
      <entry><title>Fresh story</title>
        <link rel="alternate" href="https://news.example/fresh-story.html">
        </link>
        <updated>{recent.isoformat()}</updated>
      </entry></feed>"""
    crawler = get_crawler(NewsSpider)
    spider = NewsSpider.from_crawler(crawler, urls=["https://news.example/"], horizon="2d")
    response = XmlResponse("https://news.example/atom.xml", body=atom.encode())
    assert [url for url, _ in spider._feed_entries(response)] == [
        "https://news.example/fresh-story.html"]
    assert crawler.stats.get_value("newsarchive/feed_too_old") == 1


@pytest.mark.parametrize(("title", "heading"), [
    ("Page not found | The Chronicle", None),
    ("404 - Not Found", None),
    ("The Chronicle", "Error 404"),
    (None, "Sorry, this page could not be found"),
    ("Seite nicht gefunden", None),
    ("Page introuvable - Le Courrier", None),
    ("Página no encontrada", None),
    (None, "This article is no longer available"),
])
def test_error_pages_served_with_200_are_recognised(title: str | None,
                                                    heading: str | None) -> None:
    assert not_found_page(title, heading, set())


@pytest.mark.parametrize("headline", [
    "Wreckage not found in second search", "404 days of protest", "Harbour bridge reopens",
    "Missing hiker could not be found by rescuers"])
def test_headlines_are_not_error_pages(headline: str) -> None:
    assert not not_found_page(headline, headline, set())


def test_a_page_declaring_an_article_is_not_an_error_page() -> None:
    assert not not_found_page("Page not found", None, {"newsarticle"})
