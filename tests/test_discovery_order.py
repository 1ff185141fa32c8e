"""Discovery end to end on generated news sites (real CLI, tests/support/generated_site.py):
a budget goes to articles, newest first; traps stay bounded; a family of article URLs is
never capped once shown to be articles; given URLs are never cut by the default budget."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler
from sqlalchemy import select

from archive.models import UrlFamily
from crawler.frontier.budget import BudgetGate, OverBudget
from crawler.spiders.news import NewsSpider
from tests.support.cli import Archive
from tests.support.generated_site import GeneratedSite, ServedRequest
from tests.support.served import QuietHandler, ServedSite

QUICK = {"NEWSARCHIVE_REQUISITES": "false", "NEWSARCHIVE_CAPTURE_CHECK": "false"}
TRAP_CAP = 5


def pages(site: GeneratedSite, log: list[ServedRequest]) -> list[str]:
    """The HTML pages the crawl asked for, in order (not robots.txt, feeds, sitemaps)."""
    return [r.path for r in log if not r.path.endswith((".xml", ".txt"))]


def articles(site: GeneratedSite, paths: list[str]) -> list[str]:
    """The articles among ``paths``, each once, as the site names them."""
    found = (site.article_at(site.url + path) for path in paths)
    return list(dict.fromkeys(a.path for a in found if a is not None))


def newest_share(site: GeneratedSite, fetched: list[str]) -> float:
    """The share of the fetched articles that are among the site's len(fetched) newest."""
    newest = {a.path for a in site.articles[:len(fetched)]}
    return len(newest & set(fetched)) / len(fetched)


@pytest.fixture
def short_ids() -> Iterator[GeneratedSite]:
    with GeneratedSite("short_id") as site:
        yield site


def test_a_budget_of_200_on_a_short_id_site_buys_the_newest_articles(
        archive: Archive, short_ids: GeneratedSite) -> None:
    summary = archive.crawl(f"{short_ids.url}/", "--max-pages", "200", "--no-extract",
                            env=QUICK)
    fetched = pages(short_ids, short_ids.take_log())
    found = articles(short_ids, fetched)
    assert len(fetched) == 200 and summary["pages"] == 201  # and robots.txt
    assert len(found) / len(fetched) >= 0.9, Counter(
        "article" if short_ids.is_article(short_ids.url + p) else p.split("?")[0]
        for p in fetched)
    assert newest_share(short_ids, found) >= 0.85
    assert fetched[0] == "/" and all(short_ids.is_article(short_ids.url + p)
                                     for p in fetched[1:11])  # the front page's freshest
    assert short_ids.article_at(short_ids.url + fetched[1]) == short_ids.articles[0]
    assert summary["skipped"]["over_max_pages"] > 0


def test_feeds_and_sitemaps_first_then_articles_newest_first(archive: Archive) -> None:
    with GeneratedSite("long_id") as site:
        archive.cli("sites", "add", "courier", "--start-url", f"{site.url}/", "--feed",
                    f"{site.url}/feed.xml", "--max-pages", "120")
        summary = archive.crawl("--site", "courier", "--no-extract", env=QUICK)
        log = site.take_log()
    order = [r.path for r in log]
    seeds = {"/robots.txt", "/feed.xml", "/news-sitemap.xml", "/sitemap.xml"}
    first_article = next(i for i, path in enumerate(order) if site.is_article(site.url + path))
    assert set(order[:first_article]) == seeds | {"/"}  # every seed before any article
    found = articles(site, pages(site, log))
    assert len(found) >= 108 and summary["status"] == "succeeded"
    assert newest_share(site, found) >= 0.9
    ranks = [next(i for i, a in enumerate(site.articles) if a.path == path)
             for path in found]
    # The crawl goes from the newest down. Pages in flight together reach the server in any
    # order (the adjacent pairs out of order were 17-19 of 110 on a quiet machine and 23
    # under load), so the check is how far each article is from its place in newest-first
    # order: 9 places at most when quiet; 109, the whole crawl, if it went oldest first.
    in_order = {rank: i for i, rank in enumerate(sorted(ranks))}
    assert max(abs(i - in_order[rank]) for i, rank in enumerate(ranks)) <= len(ranks) // 5


def test_calendars_filters_sessions_and_loops_stay_bounded(archive: Archive) -> None:
    with GeneratedSite("date_slug", articles=150) as site:
        summary = archive.crawl(f"{site.url}/", "--max-pages", "1000", "--depth", "6",
                                "--no-extract", env={
                                    **QUICK, "NEWSARCHIVE_TRAP_MAX_PER_PATTERN": str(TRAP_CAP),
                                    "NEWSARCHIVE_HUB_SHARE": "1"})
        fetched = pages(site, site.take_log())
    traps = Counter(t for path in fetched for t in site.traps(site.url + path))
    assert traps["calendar"] <= TRAP_CAP
    assert traps["facets"] <= 1 + TRAP_CAP  # /explore, then its filters: one family
    assert traps["repeating"] <= 4  # until the path repeats itself a third time
    found = articles(site, fetched)
    assert len(found) == 150  # the traps took nothing from the articles
    fetched_articles = [site.article_at(site.url + p).path for p in fetched
                        if site.is_article(site.url + p)]
    assert len(fetched_articles) == 150  # a session id makes no second copy
    assert summary["skipped"]["trap_cap"] > 0


class _UnknownShapes(QuietHandler):
    """Articles at /p/N (no article shape), each a NewsArticle, all linked from /."""

    count = 30
    stories: list[str] = []  # the /p/ paths asked for

    def do_GET(self) -> None:
        if self.path == "/":
            links = "".join(f'<li><a href="/p/{n}">Story {n}</a></li>'
                            for n in range(self.count, 0, -1))
            body = f"<html><body><h1>Front</h1><ul>{links}</ul></body></html>"
        elif self.path.startswith("/p/"):
            self.stories.append(self.path)
            data = json.dumps({"@type": "NewsArticle", "headline": self.path})
            body = (f'<html><head><script type="application/ld+json">{data}</script></head>'
                    f"<body><h1>{self.path}</h1><p>Text.</p></body></html>")
        else:
            self.send_error(404)
            return
        self.answer(200, body.encode(), [("Content-Type", "text/html; charset=utf-8")])


def test_a_family_of_articles_is_uncapped_and_remembered_for_the_site(
        archive: Archive) -> None:
    env = {**QUICK, "NEWSARCHIVE_TRAP_MAX_PER_PATTERN": "3"}
    with ServedSite(_UnknownShapes) as site:
        archive.cli("sites", "add", "shapes", "--start-url", f"{site.url}/")
        first = archive.crawl("--site", "shapes", "--no-extract", env=env)
        first_stories, _UnknownShapes.stories = _UnknownShapes.stories, []
        with archive.catalog().session() as session:
            families = session.scalars(select(UrlFamily.family)).all()
        _UnknownShapes.count = 40
        second = archive.crawl("--site", "shapes", "--no-extract", env=env)
    assert sorted(first_stories) == sorted(f"/p/{n}" for n in range(1, 31))  # each once
    assert first["skipped"]["trap_cap"] == 0
    assert families == [f"{site.url.removeprefix('http://')}/p/N"]
    assert second["skipped"]["already_archived"] == 30
    assert sorted(_UnknownShapes.stories) == sorted(f"/p/{n}" for n in range(31, 41))
    assert second["skipped"]["trap_cap"] == 0


def test_the_default_budget_never_cuts_given_urls() -> None:
    """The spider and the budget gate alone (``newsarchive crawl`` has no way to lower the
    default budget but ``--max-pages``, which is explicit)."""
    crawler = get_crawler(NewsSpider, {"NEWSARCHIVE_MAX_PAGES": 3})
    given = [f"https://n.example/article/{n}.html" for n in range(8)]
    spider = NewsSpider.from_crawler(crawler, urls=given, depth=1)
    crawler.spider = spider
    gate = BudgetGate(crawler)

    async def start() -> list[Request]:
        return [request async for request in spider.start()]

    sent = []
    for request in asyncio.run(start()):
        gate.process_request(request)  # no OverBudget: given URLs are not counted
        sent.append(request.url)
    links = "".join(f'<a href="/story/{n}">{n}</a>' for n in range(6))
    response = HtmlResponse(given[0], body=f"<html><body>{links}</body></html>".encode(),
                            encoding="utf-8", request=Request(given[0], meta={
                                "role": "page", "page_depth": 0}))
    found = [r for r in spider.parse(response) if r.meta.get("role") == "page"]
    refused = 0
    for request in found:
        try:
            gate.process_request(request)
        except OverBudget:
            refused += 1
    assert sent == given
    assert len(found) == 6 and refused == 3  # the budget bounds what was discovered


def test_an_explicit_budget_counts_given_urls(archive: Archive,
                                              short_ids: GeneratedSite) -> None:
    given = [f"{short_ids.url}{a.path}" for a in short_ids.articles[:8]]
    summary = archive.crawl(*given, "--depth", "0", "--max-pages", "5", "--no-extract",
                            env=QUICK)
    # the first five given (sent five at a time: they reach the server in any order)
    assert sorted(pages(short_ids, short_ids.take_log())) == sorted(
        a.path for a in short_ids.articles[:5])
    assert summary["skipped"]["over_max_pages"] == 3
