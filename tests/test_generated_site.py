"""The generated news site (tests/support/generated_site.py): its ground truth and the shape of
its traps, checked over HTTP without a crawl."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import urljoin, urlsplit

import pytest
from lxml import html as lxml_html

from tests.support.generated_site import (
    FEED_ITEMS,
    FRONT_PAGE,
    PER_PAGE,
    SCHEMES,
    SECTIONS,
    GeneratedSite,
)

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
SHAPES = {
    "date_slug": r"^/2026/\d\d/\d\d/[a-z-]+\.html$",
    "long_slug": r"^/[a-z]+(?:-[a-z]+){3,}$",
    "short_id": r"^/article/\d{4}\.html$",
    "short_id_news": r"^/news/\d{4}$",
    "short_id_story": r"^/story/\d{1,4}$",
    "long_id": r"^/news/[a-z]+-\d{8}$",
    "query_id": r"^/article\.php\?id=\d{4}$",
    "category_slug": r"^/[a-z]+/[a-z]+(?:-[a-z]+){1,3}$",
}


def get(site: GeneratedSite, path: str, headers: dict[str, str] | None = None
        ) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(urljoin(site.url, path), headers=headers or {})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def links(site: GeneratedSite, path: str) -> list[str]:
    status, _, body = get(site, path)
    assert status == 200, path
    return [urljoin(urljoin(site.url, path), href)
            for href in lxml_html.fromstring(body).xpath("//a/@href")]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_each_scheme_shapes_its_article_urls(scheme: str) -> None:
    with GeneratedSite(scheme, now=NOW) as site:
        paths = [a.path for a in site.articles]
        assert len(set(paths)) == len(paths) == 600
        assert all(re.match(SHAPES[scheme], p) for p in paths), paths[:3]


def test_a_seed_makes_the_same_site_and_the_same_stories_in_every_scheme() -> None:
    with (GeneratedSite("date_slug", now=NOW) as site,
          GeneratedSite("date_slug", now=NOW) as again,
          GeneratedSite("short_id", now=NOW) as other):
        assert [a.path for a in site.articles] == [a.path for a in again.articles]
        assert get(site, "/world/?page=2")[2] == get(again, "/world/?page=2")[2].replace(
            again.url.encode(), site.url.encode())
        assert [(a.title, a.published) for a in site.articles] == [
            (a.title, a.published) for a in other.articles]


def test_articles_are_newest_first_minutes_to_weeks_old_and_each_page_says_so() -> None:
    with GeneratedSite("short_id", now=NOW) as site:
        dates = [a.published for a in site.articles]
        assert dates == sorted(dates, reverse=True)
        assert timedelta(minutes=1) < NOW - dates[0] < timedelta(minutes=16)
        assert NOW - dates[-1] > timedelta(weeks=3)
        article = site.articles[7]
        status, headers, body = get(site, article.path)
        assert status == 200 and "ETag" not in headers
        assert b'"@type": "NewsArticle"' in body
        assert f'"datePublished": "{article.published.isoformat()}"'.encode() in body
        assert b'<meta property="og:type" content="article">' in body


def test_ground_truth_maps_amp_twins_and_session_variants_to_their_article() -> None:
    with GeneratedSite("query_id", amp=True, now=NOW) as site:
        article = site.articles[0]
        _, _, body = get(site, article.path)
        twin = re.search(rb'<link rel="amphtml" href="([^"]+)"', body)[1].decode()
        assert twin == f"{site.url}/amp{article.path}"
        assert get(site, twin)[0] == 200
        for url in (article.url, twin, f"{article.url}&sid=0a1b2c3d4e5f6a7b"):
            assert site.article_at(url) == article and site.is_article(url)
        assert not site.is_article(f"{site.url}/world/")
        assert not site.is_article(f"{site.url}/article.php?id=1")


def test_front_page_sections_and_pagination_reach_every_article_newest_first() -> None:
    with GeneratedSite("date_slug", pagination="path", now=NOW) as site:
        front = [u for u in links(site, "/") if site.is_article(u)]
        assert [site.article_at(u) for u in front] == site.articles[:FRONT_PAGE]
        assert {f"{site.url}/{s}/" for s in SECTIONS} <= {u.split("?")[0] for u in
                                                          links(site, "/")}
        found, page = [], "/world/"
        while page:
            on_page = [site.article_at(u) for u in links(site, page) if site.is_article(u)]
            assert len(on_page) <= PER_PAGE
            found += on_page
            _, _, body = get(site, page)
            following = lxml_html.fromstring(body).xpath("//a[@rel='next']/@href")
            page = following[0].split("?")[0] if following else None
        assert page is None and len(found) > 3 * PER_PAGE
        assert found == [a for a in site.articles if a.section == "world"]


def test_feed_and_sitemaps_list_what_they_promise_and_robots_announces_the_sitemaps() -> None:
    with GeneratedSite("long_id", now=NOW) as site:
        _, _, robots = get(site, "/robots.txt")
        assert f"Sitemap: {site.url}/news-sitemap.xml" in robots.decode()
        assert f"Sitemap: {site.url}/sitemap.xml" in robots.decode()
        _, _, feed = get(site, "/feed.xml")
        items = re.findall(rb"<link>([^<]+)</link><guid>", feed)
        assert [i.decode() for i in items] == [a.url for a in site.articles[:FEED_ITEMS]]
        assert format_datetime(site.articles[0].published).encode() in feed
        _, _, news = get(site, "/news-sitemap.xml")
        recent = [a.url for a in site.articles if NOW - a.published <= timedelta(days=2)]
        assert re.findall(rb"<loc>([^<]+)</loc>", news) == [u.encode() for u in recent]
        assert 20 < len(recent) < 100
        _, _, sitemap = get(site, "/sitemap.xml")
        assert [u.decode() for u in re.findall(rb"<loc>([^<]+)</loc>", sitemap)] == [
            a.url for a in reversed(site.articles)]
        assert sitemap.count(b"<lastmod>") == 600


def test_hubs_feeds_and_sitemaps_answer_conditional_requests_with_304() -> None:
    with GeneratedSite("date_slug", now=NOW) as site:
        for path in ("/", "/world/?page=2", "/feed.xml", "/news-sitemap.xml", "/sitemap.xml"):
            status, headers, _ = get(site, path)
            etag, modified = headers["ETag"], headers["Last-Modified"]
            assert get(site, path, {"If-None-Match": etag})[0] == 304
            assert get(site, path, {"If-Modified-Since": modified})[0] == 304
            assert get(site, path, {"If-None-Match": '"other"',
                                    "If-Modified-Since": modified})[0] == 200
        log = site.take_log()
        assert [r.status for r in log[:4]] == [200, 304, 304, 200]
        assert log[1].headers["if-none-match"] == get(site, "/")[1]["ETag"]
        new = site.publish()[0]
        status, headers, body = get(site, "/", {"If-None-Match": log[1].headers["if-none-match"]})
        assert status == 200 and new.url.encode().removeprefix(site.url.encode()) in body


def test_traps_are_endless_but_shaped_as_described() -> None:
    with GeneratedSite("short_id_story", now=NOW) as site:
        today = f"/calendar/{NOW:%Y/%m/%d}"
        assert any(site.is_article(u) for u in links(site, today))
        far = "/calendar/1901/03/04"
        assert [urlsplit(u).path for u in links(site, far) if "calendar/19" in u] == [
            "/calendar/1901/03/03", "/calendar/1901/03/05"]
        assert site.traps(site.url + far) == {"calendar"}

        facets = [u for u in links(site, "/explore?sort=oldest&color=red,teal")
                  if urlsplit(u).path == "/explore"]
        assert len(set(facets)) == 18 + 1  # a toggle for each value, and the footer's link
        assert not any(re.search(r"\d", urlsplit(u).query.split("sid=")[0]) for u in facets)
        assert all("facets" in site.traps(u) for u in facets)

        path = "/about/"
        for _ in range(5):
            path = next(urlsplit(u).path for u in links(site, path)
                        if urlsplit(u).path.startswith(path) and urlsplit(u).path != path)
        assert path == "/about/contact/about/contact/about/contact/"
        assert site.traps(site.url + path) == {"repeating"}
        assert site.traps(site.url + "/about/") == set()

        front = links(site, "/")
        with_sid = [u for u in front if "sid=" in u]
        assert 0 < len(with_sid) < len(front) / 2
        assert links(site, "/") == front  # fixed per source and target
        sid = with_sid[0].split("sid=")[1]
        assert all(u.endswith(f"sid={sid}") for u in links(site, with_sid[0]))
        assert "sessions" in site.traps(with_sid[0])


def test_every_request_is_recorded_with_its_headers() -> None:
    with GeneratedSite("long_slug", articles=30, now=NOW) as site:
        get(site, "/feed.xml", {"If-Modified-Since": "Sat, 05 Dec 2026 12:00:00 GMT"})
        get(site, "/no-such-page")
        log = site.take_log()
        assert [(r.path, r.status) for r in log] == [("/feed.xml", 304), ("/no-such-page", 404)]
        assert log[0].headers["if-modified-since"] == "Sat, 05 Dec 2026 12:00:00 GMT"
        assert site.take_log() == []
