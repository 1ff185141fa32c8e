"""The request filters of a crawl (crawler.frontier), each alone: scope, traps, priorities,
the page budget; and the discovery rules and per-site state they use."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from archive.catalog import Catalog
from archive.models import SeenUrl, Site, UrlFamily
from crawler.discovery import (
    ARTICLE,
    HUB,
    kind_from_url,
    next_hub_interval,
    normalize_url,
    pagination_number,
    pathological_path,
    trap_family,
    url_date,
)
from crawler.frontier import priority
from crawler.frontier.budget import COUNTED_META, PageBudget
from crawler.frontier.scheduled import ScheduledKeys
from crawler.frontier.scope import SiteScope
from crawler.frontier.traps import PROOF, TrapGuard
from crawler.seen import SeenUrls

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SITE = "https://n.example"


# -- scope -------------------------------------------------------------------------------------
def test_scope_follows_the_crawls_sites_within_allow_and_deny() -> None:
    scope = SiteScope([f"{SITE}/", "https://www.other.example/feed.xml"],
                      allow=[r"/(world|2026)/"], deny=[r"/world/video/"])
    assert scope.follows(f"{SITE}/world/bridge")
    assert scope.follows("https://other.example/2026/12/07/story")  # www. ignored
    assert not scope.follows(f"{SITE}/sport/match")  # not allowed
    assert not scope.follows(f"{SITE}/world/video/clip")  # denied
    assert not scope.follows("https://cdn.example/world/x")  # another site
    scope.add("https://cdn.example/world/x")  # a feed entry's site joins the crawl
    assert scope.follows("https://cdn.example/world/y")


# -- traps -------------------------------------------------------------------------------------
def test_a_calendar_and_a_faceted_filter_stay_bounded() -> None:
    traps = TrapGuard(limit=3)
    days = [f"{SITE}/calendar/2026/{m:02}/{d:02}" for m in (1, 2) for d in range(1, 29)]
    facets = [f"{SITE}/shop?color={c}&size={s}&sort={o}"
              for c in ("red", "blue", "green") for s in ("s", "m", "l") for o in ("new", "old")]
    admitted = [u for u in days + facets if traps.admit(u, u)]
    assert admitted == days[:3] + facets[:3]
    assert traps.capped == len(days) + len(facets) - 6


def test_session_ids_make_no_new_urls_and_repeating_paths_are_refused() -> None:
    page = f"{SITE}/world/bridge-reopens"
    variants = [f"{page}?sid={n:032x}" for n in range(5)] + [
        f"{page};jsessionid=0A1B2C3D4E5F", f"{page}?PHPSESSID={'ab' * 13}"]
    assert {normalize_url(v) for v in variants} == {page}
    assert normalize_url(f"{SITE}/world?sid=12") == f"{SITE}/world?sid=12"  # not a session id
    traps = TrapGuard(limit=10)
    assert not traps.admit(f"{SITE}/a/b/a/b/a/b/", None)
    assert not traps.admit(f"{SITE}/x/x/x", None)
    assert traps.admit(f"{SITE}/a/b/a/b/", None)  # twice is a path, not a loop
    assert pathological_path(f"{SITE}" + "/s" * 21 + "x")
    assert traps.refused == 2


def test_a_family_shown_to_be_articles_is_uncapped_and_its_held_urls_released() -> None:
    traps = TrapGuard(limit=2)
    # neither article- nor hub-shaped: /p/<id> is a family "differing only in digits"
    urls = [f"{SITE}/p/{n}" for n in range(10)]
    assert trap_family(urls[0]) == "n.example/p/N"
    assert [traps.admit(u, u) for u in urls] == [True, True] + [False] * 8
    assert traps.article_fetched(urls[0]) == []  # one article is not yet a family
    released = traps.article_fetched(urls[1])
    assert PROOF == 2 and released == urls[2:]
    assert traps.is_proven(f"{SITE}/p/11") and traps.admit(f"{SITE}/p/11", None)
    assert traps.newly_proven == {"n.example/p/N"} and traps.capped == 0
    remembered = TrapGuard(limit=2, proven=traps.proven)  # the site's next crawl
    assert all(remembered.admit(u, u) for u in urls)


def test_article_urls_with_short_ids_are_never_a_family() -> None:
    traps = TrapGuard(limit=1)
    shapes = [f"{SITE}/article/{n}.html" for n in range(2990, 3000)] + [
        f"{SITE}/news/{n}" for n in range(4500, 4510)] + [
        f"{SITE}/story/{n}" for n in range(80, 90)] + [
        f"{SITE}/article.php?id={n}" for n in range(10)]
    assert all(kind_from_url(u) == ARTICLE for u in shapes)
    assert all(traps.admit(u, u) for u in shapes)


# -- priorities --------------------------------------------------------------------------------
def test_priorities_feeds_then_articles_newest_first_then_hubs() -> None:
    def article(hours: float) -> int:
        return priority.page_priority(ARTICLE, published=NOW - timedelta(hours=hours), now=NOW)

    order = [
        priority.FEED, priority.REQUISITE, priority.START,
        article(0.5), article(5), priority.page_priority(HUB),  # a section
        article(30),
        priority.page_priority(ARTICLE),  # undated, on a front page or a first page
        priority.page_priority(ARTICLE, found_on_page=3),  # undated, deeper in a listing
        article(24 * 2), article(24 * 6), article(24 * 8), priority.page_priority(HUB, page=2),
        priority.page_priority(HUB, page=5), article(24 * 20),
        priority.page_priority(None),
        priority.page_priority(ARTICLE, found_on=ARTICLE),  # undated, related to an article
        priority.page_priority(HUB, listing=True),
    ]
    assert order == sorted(order, reverse=True) and len(set(order)) == len(order)
    assert article(24 * 365) == priority.ARTICLE_OLDEST
    assert priority.page_priority(HUB, page=500) > priority.RELATED


def test_dates_and_page_numbers_in_urls() -> None:
    assert url_date(f"{SITE}/world/2026/12/05/bridge.html") == datetime(2026, 12, 5, tzinfo=UTC)
    assert url_date(f"{SITE}/2026-12-05-bridge") == datetime(2026, 12, 5, tzinfo=UTC)
    assert url_date(f"{SITE}/2026/13/45/x") is None and url_date(f"{SITE}/world/") is None
    assert pagination_number(f"{SITE}/world/page/4") == 4
    assert pagination_number(f"{SITE}/world?page=3") == 3
    assert pagination_number(f"{SITE}/world") is None


# -- the page budget ---------------------------------------------------------------------------
def test_the_default_budget_bounds_discovered_pages_not_given_ones() -> None:
    budget = PageBudget(max_pages=3, explicit=False, hub_share=0.5)
    given = [budget.admit({"given": True}) for _ in range(5)]
    found = [budget.admit({"expected_kind": ARTICLE}) for _ in range(5)]
    assert given == [None] * 5
    assert found == [None, None, None] + ["max_pages_reached"] * 2
    assert budget.given == 5 and budget.exhausted


def test_an_explicit_budget_counts_given_urls_and_a_redirect_counts_once() -> None:
    budget = PageBudget(max_pages=2, explicit=True, hub_share=0.5)
    meta = {"given": True}
    assert budget.admit(meta) is None and meta[COUNTED_META]
    assert budget.admit(meta) is None  # the same page again (a redirect, a retry): free
    assert budget.admit({"given": True}) is None
    assert budget.admit({"given": True}) == "max_pages_reached"


def test_hubs_take_at_most_their_share_of_the_budget() -> None:
    budget = PageBudget(max_pages=10, explicit=True, hub_share=0.2)
    hubs = [budget.admit({"expected_kind": HUB}) for _ in range(4)]
    assert hubs == [None, None, "hub_share_reached", "hub_share_reached"]
    assert [budget.admit({"expected_kind": ARTICLE}) for _ in range(9)].count(None) == 8


# -- hub refresh -------------------------------------------------------------------------------
def test_hub_intervals_shorten_while_articles_appear_and_lengthen_when_not() -> None:
    bounds = (timedelta(minutes=15), timedelta(days=1))
    interval = next_hub_interval(None, 5, bounds)
    assert interval == timedelta(minutes=15)
    for _ in range(10):
        interval = next_hub_interval(interval, 0, bounds)
    assert interval == timedelta(days=1)
    assert next_hub_interval(interval, 3, bounds) == timedelta(hours=12)


@pytest.fixture
def site_id(catalog: Catalog) -> int:
    with catalog.session() as session:
        site = Site(name="n", start_urls=[f"{SITE}/"], feeds=[], sitemaps=[], allow=[],
                    deny=[], max_depth=2, max_pages=10)
        session.add(site)
        session.flush()
        return site.id


def test_hub_refresh_and_article_families_survive_a_restart(catalog: Catalog,
                                                             site_id: int) -> None:
    bounds = (timedelta(minutes=15), timedelta(hours=4))
    seen = SeenUrls(catalog, site_id, hub_refresh=bounds).load()
    for hub, new in ((f"{SITE}/world", 4), (f"{SITE}/weather", 0), (f"{SITE}/feed.xml", 2)):
        seen.fetched(hub, kind=HUB, canonical_url=None, timestamp="20261207120000",
                     digest=None, now=NOW, new_articles=new)
    seen.fetched(f"{SITE}/weather", kind=HUB, canonical_url=None, timestamp="20261207121500",
                 digest=None, now=NOW + timedelta(minutes=15), new_articles=0)
    seen.families_proven({"n.example/p/N"})
    seen.flush()

    again = SeenUrls(catalog, site_id, hub_refresh=bounds).load()
    assert again.article_families == {"n.example/p/N"}
    soon, later = NOW + timedelta(minutes=20), NOW + timedelta(minutes=46)
    assert again.hub_due(f"{SITE}/world", soon)  # 15 minutes
    assert not again.hub_due(f"{SITE}/weather", soon)  # nothing new twice: 30 minutes
    assert again.hub_due(f"{SITE}/weather", later)
    assert again.hub_due(f"{SITE}/never-seen", NOW)
    assert SeenUrls(catalog, site_id).load().hub_due(f"{SITE}/weather", soon)  # no bounds
    with catalog.session() as session:
        rows = {r.url: r for r in session.scalars(select(SeenUrl))}
        families = session.scalars(select(UrlFamily.family)).all()
    assert rows[f"{SITE}/weather"].refresh_interval == 1800
    assert rows[f"{SITE}/world"].refresh_interval == 900
    assert families == ["n.example/p/N"]
    again.families_proven({"n.example/p/N"})  # already stored: not inserted twice
    again.flush()


# -- scheduled keys -------------------------------------------------------------------------


def test_scheduled_keys_answer_membership_for_what_was_added() -> None:
    keys = ScheduledKeys()
    keys.add("http://news.example/a")
    keys.update(["http://news.example/b", "http://news.example/b"])
    assert "http://news.example/a" in keys and "http://news.example/b" in keys
    assert "http://news.example/c" not in keys
    assert len(keys) == 2


def test_scheduled_keys_cost_far_less_than_the_urls() -> None:
    urls = [f"https://news.example.org/world/2026/12/07/story-number-{n}-of-the-day"
            for n in range(50_000)]

    def traced(make: Callable[[], object]) -> int:
        tracemalloc.start()
        try:
            kept = make()  # (alive while measured)
            assert kept is not None
            return tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()

    def hashed() -> ScheduledKeys:
        keys = ScheduledKeys()
        keys.update(urls)
        return keys

    # the URL strings as the spider makes them (normalize_url builds a new one each time)
    as_strings = traced(lambda: {f"{url}/" for url in urls})
    assert traced(hashed) < as_strings / 2
    keys = hashed()
    assert all(url in keys for url in urls)
