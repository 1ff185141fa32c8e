"""The ``news`` spider: start URLs, RSS/Atom feeds and sitemaps, same-site link following.

``scrapy crawl news -a urls=https://example.com/ -a depth=1 -a max_pages=50`` (also
``feeds=``, ``sitemaps=``, ``allow=``, ``deny=``, ``horizon=2d``, ``article_patterns=``,
``hub_patterns=``, ``announced_seeds=1``; lists are comma- or space-separated).
Entries of feeds and sitemaps are fetched like start URLs; links are followed only on the
start URLs' sites, up to ``depth`` hops (a listing's next page keeps its page's depth), and
no more than ``max_pages`` pages are fetched besides the start URLs (an explicit
``max_pages`` counts those too). What is fetched first, what is capped and how the budget is
spent is :mod:`crawler.frontier`'s. Every download is archived by the WarcArchiver extension
whatever happens here.

Discovery (rules in :mod:`crawler.discovery`): sitemap indexes are followed, Google News
sitemap entries and ``lastmod``, and feed items whose ``pubDate`` / ``published`` /
``updated``, are older than ``horizon`` are skipped; with ``announced_seeds``
(site crawls) the sitemaps announced in robots.txt and the feeds announced by ``<link
rel="alternate">`` on hub pages are fetched too. Each HTML page is classified article or
hub (``response.meta["page_kind"]``, read by the article extractor: only articles are
extracted).

Incremental crawls (``seen``, a :class:`crawler.seen.SeenUrls` given by the runner for site
crawls): archived articles found again in links, feeds and sitemaps are skipped, articles
whose refresh age has come are re-fetched; hubs, feeds and sitemaps are refetched when their
adaptive refresh interval has passed (start URLs always are), conditionally; URL families
proven to be articles are remembered for the site.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta
from typing import Any, Self
from urllib.parse import urlsplit

from lxml import etree
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots
from twisted.python.failure import Failure

from archive.models import utcnow
from crawler import signals as na_signals
from crawler.discovery import (
    ARTICLE,
    HUB,
    KindRules,
    jsonld_types,
    kind_from_url,
    listing_page,
    normalize_url,
    not_found_page,
    page_kind,
    pagination_number,
    parse_duration,
    parse_feed_date,
    parse_w3c_date,
    sitemap_entry_date,
    url_date,
    within_horizon,
)
from crawler.failures import download_failure, http_failure
from crawler.frontier import (
    FRAME_AGAIN_META,
    ROLE_FEED,
    ROLE_PAGE,
    ROLE_REQUISITE,
    ROLE_ROBOTS,
    ROLE_SITEMAP,
    priority,
)
from crawler.frontier.budget import EXPECTED_KIND_META, GIVEN_META, OverBudget, PageBudget
from crawler.frontier.queue import Frontier, Waiting
from crawler.frontier.scheduled import ScheduledKeys
from crawler.frontier.scope import SiteScope
from crawler.frontier.traps import TrapGuard
from crawler.links import (
    FRAME,
    KINDS,
    RESOURCE_TYPE_META,
    STYLESHEET,
    Requisite,
    css_requisites,
    page_links,
)
from crawler.render import FRAMES_META, LOADED_META, browser_request
from crawler.seen import SeenUrls

# What a browser asks for, per kind of requisite (some servers negotiate image formats).
_ACCEPT = {
    STYLESHEET: "text/css,*/*;q=0.1",
    "image": "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
    "icon": "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
}
# Feed item dates, most to least telling (RSS pubDate, Atom published, Dublin Core date)
_FEED_DATES = ("pubDate", "published", "date", "updated")
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rss",
              "application/atom")


def split_list(value: str | Iterable[str] | None) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [item for item in re.split(r"[,\s]+", value) if item]
    return [item for item in value if item]


class NewsSitemap(Sitemap):
    """Scrapy's sitemap parser, plus ``publication_date`` of Google News entries
    (``<news:news><news:publication_date>``, which Scrapy's flat parser does not keep)."""

    def _process_sitemap_element(self, elem: Any) -> dict[str, Any] | None:
        published = next((el.text for el in elem.iter("{*}publication_date") if el.text), None)
        entry = super()._process_sitemap_element(elem)
        if entry is not None and published:
            entry["publication_date"] = published.strip()
        return entry


class NewsSpider(Spider):
    name = "news"

    def __init__(
        self,
        urls: str | list[str] | None = None,
        feeds: str | list[str] | None = None,
        sitemaps: str | list[str] | None = None,
        depth: int | str | None = None,
        max_pages: int | str | None = None,
        allow: str | list[str] | None = None,
        deny: str | list[str] | None = None,
        horizon: str | timedelta | None = None,
        article_patterns: str | list[str] | None = None,
        hub_patterns: str | list[str] | None = None,
        announced_seeds: bool | str = False,
        seen: SeenUrls | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.start_urls = split_list(urls)
        self.feeds = split_list(feeds)
        self.sitemaps = split_list(sitemaps)
        self._depth_arg = depth
        self._max_pages_arg = max_pages
        self.scope = SiteScope(self.start_urls + self.feeds + self.sitemaps,
                               split_list(allow), split_list(deny))
        self.horizon = parse_duration(horizon) if isinstance(horizon, str) else horizon
        self.kind_rules = KindRules.compile(split_list(article_patterns),
                                            split_list(hub_patterns))
        self.announced_seeds = announced_seeds not in (False, "", "0", "false", None)
        self.seen = seen
        self.scheduled = ScheduledKeys()  # normalized URLs asked for or queued
        self.failures: list[dict[str, Any]] = []
        self.requisites_scheduled = 0
        # Frames fetched as requisites (or by a page's browser) and not (yet) as pages. A
        # frame the page also links to is a page too, as Browsertrix would navigate to it:
        # it is fetched again when its link comes up (past Scrapy's duplicate filter), and
        # then archived as a page.
        self.frames_not_pages: set[str] = set()
        self.frames_as_pages: set[str] = set()
        self.seeds_out = 0  # feeds, sitemaps and robots.txt asked for and not answered yet
        # set from the crawl's settings in from_crawler
        self.budget: PageBudget
        self.traps: TrapGuard
        self.frontier: Frontier

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.budget = PageBudget(spider.max_pages, explicit=spider._max_pages_arg is not None,
                                   hub_share=settings.getfloat("NEWSARCHIVE_HUB_SHARE"))
        spider.traps = TrapGuard(settings.getint("NEWSARCHIVE_TRAP_MAX_PER_PATTERN"),
                                 proven=spider.seen.article_families if spider.seen else ())
        spider.frontier = Frontier(window=settings.getint("CONCURRENT_REQUESTS"))
        crawler.signals.connect(spider._idle, signal=signals.spider_idle)
        crawler.signals.connect(spider._dropped, signal=signals.request_dropped)
        return spider

    @property
    def max_depth(self) -> int:
        value = self._depth_arg
        return int(value) if value is not None else self.settings.getint("NEWSARCHIVE_MAX_DEPTH")

    @property
    def max_pages(self) -> int:
        value = self._max_pages_arg
        return int(value) if value is not None else self.settings.getint("NEWSARCHIVE_MAX_PAGES")

    async def start(self) -> AsyncIterator[Request]:
        if not (self.start_urls or self.feeds or self.sitemaps):
            self.logger.error("nothing to crawl: give urls=, feeds= or sitemaps=")
        for url in self.feeds:
            if request := self._seed(url, ROLE_FEED):
                yield request
        for url in self.sitemaps:
            if request := self._seed(url, ROLE_SITEMAP):
                yield request
        for url in self.start_urls:
            if request := self._start_page(url):
                yield request
        if self.announced_seeds:
            seeds = self.start_urls + self.feeds + self.sitemaps
            for origin in dict.fromkeys(self._origin(u) for u in seeds):
                if request := self._seed(f"{origin}/robots.txt", ROLE_ROBOTS):
                    yield request
        if self.seen is not None:
            for url in self.seen.due_refreshes(utcnow()):
                self.crawler.stats.inc_value("newsarchive/refreshed")
                self._discovered(url, self.max_depth, refresh=True)
        for request in self._next_pages():
            yield request

    # -- callbacks ---------------------------------------------------------------------------
    def parse(self, response: Response) -> Iterable[Request]:
        self._ended(response.meta)
        yield from self._parse(response)
        yield from self._next_pages()

    def _ended(self, meta: dict[str, Any]) -> None:
        self.frontier.ended(meta)
        if meta.get("role") in (ROLE_FEED, ROLE_SITEMAP, ROLE_ROBOTS):
            self.seeds_out -= 1

    def _parse(self, response: Response) -> Iterable[Request]:
        role = response.meta.get("role", ROLE_PAGE)
        if role == ROLE_FEED:
            self._seeds(self._feed_entries(response), response)
            return
        if role == ROLE_SITEMAP:
            yield from self._parse_sitemap(response)
            return
        if role == ROLE_REQUISITE:
            self.crawler.stats.inc_value("newsarchive/requisites/archived")
            yield from self._nested_requisites(response)
            return
        if role == ROLE_ROBOTS:
            for url in sitemap_urls_from_robots(response.body, base_url=response.url):
                if request := self._seed(url, ROLE_SITEMAP):
                    yield request
            return
        if not isinstance(response, HtmlResponse):
            self.crawler.stats.inc_value("newsarchive/non_html")
            if self.seen is not None:  # a document (PDF, ...): archived once, like an article
                self._record_seen(response, ARTICLE, canonical=None)
            return
        links = page_links(response.selector.root, response.url)
        types = jsonld_types(links.jsonld)
        kind = page_kind(response.url, self.kind_rules, types, links.og_type)
        response.meta["page_kind"] = kind
        if (rendering := browser_request(self.crawler, response)) is not None:
            yield rendering  # parsed again, as rendered (crawler.render)
            return
        self.crawler.stats.inc_value(f"newsarchive/pages/{kind}")
        if self.seen is not None:
            new = self._new_articles(links.outlinks) if kind == HUB else None
            self._record_seen(response, kind, links.canonical, new_articles=new)
        metadata: dict[str, Any] = {
            "outlinks": links.outlinks,
            "requisites": [{"url": r.url, "kind": r.kind} for r in links.requisites]}
        if response.status == 200 and not_found_page(links.title, links.heading, types):
            metadata["soft_404"] = True  # an article here before is unpublished
            self.crawler.stats.inc_value("newsarchive/soft_404")
        self.crawler.signals.send_catch_log(na_signals.page_parsed, response=response,
                                            metadata=metadata)
        # a rendered page's requisites: those the browser did not load (icons, og:image...);
        # its frames on the site, as the static requisites' frames
        for url in response.meta.get(FRAMES_META, ()):
            if (key := normalize_url(url)) not in self.scheduled and self.scope.on_site(url):
                self.frames_not_pages.add(key)
        self.scheduled.update(map(normalize_url, response.meta.get(LOADED_META, ())))
        yield from self._requisites(links.requisites)
        if kind == ARTICLE:  # a family of such URLs is articles, not a trap
            for page in self.traps.article_fetched(normalize_url(response.url)):
                self.frontier.push(page)
        if kind == HUB and self.announced_seeds:
            for url, kind_of_feed in links.feeds:
                if kind_of_feed in FEED_TYPES and self.scope.on_site(url) and (
                        request := self._seed(url, ROLE_FEED)):
                    yield request
        depth = response.meta.get("page_depth", 0)
        if depth >= self.max_depth:
            return
        listing = pagination_number(response.url) or 1
        dates = {url: parse_w3c_date(moment) for url, moment in links.link_dates.items()}
        # a listing's next page starts where this one ends: as new as its oldest teaser
        oldest = min(filter(None, dates.values()), default=None) if kind == HUB else None
        for url in links.outlinks:
            if not self.scope.follows(url):
                continue
            page = pagination_number(url) if kind == HUB else None
            # a listing's next page is the same listing: it keeps the depth
            self._discovered(url, depth if page else depth + 1,
                             published=oldest if page == listing + 1 else dates.get(url),
                             found_on=kind, found_on_page=listing)

    # -- the queue of discovered pages (crawler.frontier.queue) ------------------------------
    def _next_pages(self) -> list[Request]:
        """The best waiting pages, as many as Scrapy may be handed now; none while feeds and
        sitemaps are still coming (they know the newest articles), none once the budget is
        spent, and no hub once the hubs' share is."""
        frontier, budget, stats = self.frontier, self.budget, self.crawler.stats
        if budget.exhausted and frontier:
            stats.inc_value("newsarchive/max_pages_reached", frontier.clear())
        if self.seeds_out > 0:
            return []
        # as many as the downloader will send at once: more would only wait in Scrapy's
        # queue, where what is found meanwhile can no longer overtake them
        settings = self.settings
        frontier.window = min(settings.getint("CONCURRENT_REQUESTS"), max(1, len(
            self.scope.sites)) * settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"))
        requests = []
        while frontier.room() > 0 and (page := frontier.pop()) is not None:
            if page.expected_kind == HUB and budget.hubs_exhausted:
                stats.inc_value("newsarchive/hub_share_reached")
                continue
            request = self._page_request(page.url, page.depth, page.priority,
                                         page.expected_kind, conditional=page.conditional,
                                         again=page.key in self.frames_as_pages)
            frontier.sent(request.meta, page, hub=page.expected_kind == HUB)
            requests.append(request)
        return requests

    def _idle(self) -> None:
        """Nothing queued or in flight: whatever was counted out has ended."""
        self.frontier.idle()
        self.seeds_out = 0
        if requests := self._next_pages():
            for request in requests:
                self.crawler.engine.crawl(request)
            raise DontCloseSpider

    def _dropped(self, request: Request) -> None:  # the scheduler refused it (a duplicate)
        self._ended(request.meta)

    def _requisites(self, requisites: list[Requisite],
                    frames: bool = True) -> Iterable[Request]:
        """Requests for what a page needs to render: each URL once per crawl, at most
        ``NEWSARCHIVE_REQUISITES_PER_PAGE`` of a page (stylesheets first) and
        ``NEWSARCHIVE_REQUISITES_MAX`` in all, on any host; frames only on the crawl's
        sites and one level deep."""
        settings, stats = self.settings, self.crawler.stats
        if not settings.getbool("NEWSARCHIVE_REQUISITES"):
            return
        per_page = settings.getint("NEWSARCHIVE_REQUISITES_PER_PAGE")
        most = settings.getint("NEWSARCHIVE_REQUISITES_MAX")
        obey_robots = settings.getbool("NEWSARCHIVE_REQUISITES_OBEY_ROBOTS")
        wanted = [r for r in requisites
                  if r.kind != FRAME or (frames and self.scope.on_site(r.url))]
        wanted.sort(key=lambda r: KINDS.index(r.kind))  # stable: document order within a kind
        if len(wanted) > per_page:
            stats.inc_value("newsarchive/requisites/over_page_limit", len(wanted) - per_page)
            del wanted[per_page:]
        for requisite in wanted:
            key = normalize_url(requisite.url)
            if key in self.scheduled:
                stats.inc_value("newsarchive/requisites/shared")
                continue
            if self.requisites_scheduled >= most:
                stats.inc_value("newsarchive/requisites/over_crawl_limit")
                continue
            self.scheduled.add(key)
            if requisite.kind == FRAME:
                self.frames_not_pages.add(key)
            self.requisites_scheduled += 1
            stats.inc_value("newsarchive/requisites/scheduled")
            headers = {"Accept": _ACCEPT[requisite.kind]} if requisite.kind in _ACCEPT else {}
            yield Request(requisite.url, callback=self.parse, errback=self.failed,
                          priority=priority.REQUISITE, headers=headers, meta={
                              "role": ROLE_REQUISITE, "requisite_kind": requisite.kind,
                              RESOURCE_TYPE_META: requisite.resource_type,
                              "conditional": True, "dont_obey_robotstxt": not obey_robots})

    def _nested_requisites(self, response: Response) -> Iterable[Request]:
        """A stylesheet's ``@import`` and ``url()``; a frame's own requisites."""
        if isinstance(response, HtmlResponse):
            if response.meta.get("requisite_kind") == FRAME:
                links = page_links(response.selector.root, response.url)
                yield from self._requisites(links.requisites, frames=False)
        elif isinstance(response, TextResponse) and (
                response.meta.get("requisite_kind") == STYLESHEET
                or b"css" in response.headers.get(b"Content-Type", b"")):
            yield from self._requisites(css_requisites(response.text, response.url))

    def closed(self, reason: str) -> None:
        stats = self.crawler.stats
        stats.set_value("newsarchive/trap_capped", self.traps.capped)
        # after a write error the last pages' records may never have reached the disk:
        # they must not count as archived (the next crawl fetches them again)
        if self.seen is not None and not stats.get_value("archive/failure"):
            self.seen.families_proven(self.traps.newly_proven)
            self.seen.flush()

    def failed(self, failure: Failure) -> list[Request]:
        request = failure.request  # type: ignore[attr-defined]
        self._ended(request.meta)
        self._failed(request, failure)
        return self._next_pages()

    def _failed(self, request: Request, failure: Failure) -> None:
        if failure.check(OverBudget):  # counted by the budget
            return
        if request.meta.get("role") == ROLE_ROBOTS:  # no robots.txt: no sitemaps announced
            self.crawler.stats.inc_value("newsarchive/robots_txt_missing")
            return
        if request.meta.get("role") == ROLE_REQUISITE:  # the page is archived all the same
            self.crawler.stats.inc_value("newsarchive/requisites/failed")
            self.logger.info("%s: requisite not archived: %s", request.url, failure.value)
            return
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            self.crawler.stats.inc_value("newsarchive/skipped")
            self.logger.info("%s: skipped: %s", request.url, failure.value)
            return
        if failure.check(HttpError):
            kind, message = http_failure(failure.value.response.status)
        else:
            kind, message = download_failure(failure.value)
        self.crawler.stats.inc_value(f"newsarchive/errors/{kind}")
        self.failures.append({"url": request.url, "error": kind, "message": message})
        self.logger.warning("%s: %s", request.url, message)

    # -- requests ----------------------------------------------------------------------------
    def _seed(self, url: str, role: str) -> Request | None:
        """A feed, sitemap or robots.txt request; a feed or sitemap the site's earlier
        crawls fetched is left out until its refresh interval has passed."""
        if not self._http(url):
            return None
        key = normalize_url(url)
        if key in self.scheduled:
            return None
        self.scheduled.add(key)
        if role != ROLE_ROBOTS and self.seen is not None and not self.seen.hub_due(
                url, utcnow()):
            self.crawler.stats.inc_value("newsarchive/hub_not_due")
            return None
        prio = priority.ROBOTS if role == ROLE_ROBOTS else priority.FEED
        self.seeds_out += 1
        return Request(url, callback=self.parse, errback=self.failed, priority=prio,
                       meta={"role": role, "page_depth": 0, "conditional": True})

    def _discovered(self, url: str, depth: int, *, refresh: bool = False,
                    published: datetime | None = None, found_on: str | None = None,
                    found_on_page: int = 1) -> None:
        """Queue a page found in a link, a feed or a sitemap (or due for a refresh), unless
        it is out: already scheduled, an archived article, a hub not yet due, over the
        budget, or a trap (held back: see :class:`crawler.frontier.traps.TrapGuard`). Feed
        and sitemap entries (depth 0) are never trap-capped."""
        if not self._http(url):
            return
        key = normalize_url(url)
        if key in self.frames_not_pages:
            self.frames_not_pages.discard(key)
            self.frames_as_pages.add(key)
        elif key in self.scheduled:
            if self.frontier.waiting(key):  # found again: perhaps move it up
                expected = self._expected_kind(key, published)
                self.frontier.push(self._waiting(url, key, depth, expected,
                                                 refresh, published, found_on, found_on_page))
            return
        stats = self.crawler.stats
        self.scheduled.add(key)
        expected = self._expected_kind(key, published)
        if not refresh and self.seen is not None:
            now = utcnow()
            if expected != HUB and self.seen.skip(url, now):
                stats.inc_value("newsarchive/seen_skipped")
                return
            if expected == HUB and not self.seen.hub_due(url, now):
                stats.inc_value("newsarchive/hub_not_due")
                return
        if self.budget.exhausted:
            stats.inc_value("newsarchive/max_pages_reached")
            return
        waiting = self._waiting(url, key, depth, expected, refresh, published, found_on,
                                found_on_page)
        if depth > 0 and not self.traps.admit(key, waiting):
            return
        stats.inc_value("newsarchive/pages_scheduled")
        self.frontier.push(waiting)

    @staticmethod
    def _waiting(url: str, key: str, depth: int, expected: str | None, refresh: bool,
                 published: datetime | None, found_on: str | None,
                 found_on_page: int) -> Waiting:
        """A page's queue entry; its kind, date and listing page are read from ``key``, its
        normalized URL (without session ids or tracking parameters)."""
        page = pagination_number(key)
        prio = priority.page_priority(
            expected, published=published or url_date(key), now=utcnow(), page=page,
            listing=page is None and listing_page(key),
            found_on=found_on, found_on_page=found_on_page)
        # hubs and refreshes: a 304 costs no body
        return Waiting(url, key, prio, depth, expected, conditional=refresh or expected == HUB)

    def _start_page(self, url: str) -> Request | None:
        """A start URL: never skipped, capped or held back; an explicit budget counts it
        (and takes the first ones given), the default one does not."""
        if not self._http(url) or (key := normalize_url(url)) in self.scheduled:
            return None
        self.scheduled.add(key)
        request = self._page_request(url, 0, priority.START, self._expected_kind(url),
                                     conditional=True, given=True)
        # counted now, in the order given: an explicit budget takes the first ones
        if (reason := self.budget.admit(request.meta)) is not None:
            self.crawler.stats.inc_value(f"newsarchive/{reason}")
            return None
        self.crawler.stats.inc_value("newsarchive/pages_scheduled")
        return request

    def _page_request(self, url: str, depth: int, prio: int, expected: str | None, *,
                      conditional: bool, given: bool = False, again: bool = False) -> Request:
        """``again``: fetched as a frame already (:attr:`frames_as_pages`)."""
        return Request(url, callback=self.parse, errback=self.failed, priority=prio,
                       dont_filter=again, meta={
                           "role": ROLE_PAGE, "page_depth": depth, GIVEN_META: given,
                           FRAME_AGAIN_META: again, EXPECTED_KIND_META: expected,
                           "conditional": conditional})

    def _expected_kind(self, url: str, published: datetime | None = None) -> str | None:
        """What a URL says its page is: the site's patterns, a family proven to be
        articles, the URL's shape, else an article if it came with a date (a dated teaser,
        a feed item or a sitemap entry); None when nothing says."""
        if kind := self.kind_rules.override(url):
            return kind
        if self.traps.is_proven(url):
            return ARTICLE
        return kind_from_url(url) or (ARTICLE if published is not None else None)

    def _http(self, url: str) -> bool:
        scheme = urlsplit(url).scheme.lower()
        if scheme in ("http", "https"):
            return True
        message = f"not an http(s) URL (scheme {scheme or 'missing'!r}); skipped"
        self.crawler.stats.inc_value("newsarchive/errors/bad_url")
        self.failures.append({"url": url, "error": "bad_url", "message": message})
        self.logger.error("%s: %s", url, message)
        return False

    def _seeds(self, entries: Iterable[tuple[str, datetime | None]],
               response: Response) -> None:
        """Feed and sitemap entries: pages at depth 0, newest first."""
        entries = list(entries)
        if self.seen is not None:
            self._record_seen(response, HUB, canonical=None,
                              new_articles=self._new_articles(url for url, _ in entries))
        for url, published in entries:
            self.scope.add(url)
            self._discovered(url, 0, published=published)

    # -- incremental state -------------------------------------------------------------------
    def _new_articles(self, urls: Iterable[str]) -> int:
        """How many of a hub's links are articles this site has not archived yet."""
        seen = self.seen
        assert seen is not None
        return sum(1 for url in urls if self.scope.on_site(url)
                   and self._expected_kind(url) == ARTICLE
                   and seen.archived_article(url) is None)

    def _record_seen(self, response: Response, kind: str, canonical: str | None,
                     new_articles: int | None = None) -> None:
        """Remember an archived page (and the URLs that redirected to it) for later runs;
        a hub's refresh interval adapts to the ``new_articles`` it links to."""
        assert self.seen is not None
        record = response.meta.get("warc_response")
        if record is None:  # not archived (NEWSARCHIVE_ARCHIVE=False): not "already archived"
            return
        for url in [*response.meta.get("redirect_urls", []), response.url]:
            self.seen.fetched(url, kind=kind, canonical_url=canonical,
                              timestamp=record.timestamp, digest=record.payload_digest,
                              new_articles=new_articles)

    @staticmethod
    def _origin(url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    # -- feeds and sitemaps ------------------------------------------------------------------
    def _feed_entries(self, response: Response) -> list[tuple[str, datetime | None]]:
        """RSS items' and Atom entries' links and dates, without those dated before the
        horizon."""
        if not isinstance(response, TextResponse):
            return []
        selector = response.selector
        selector.remove_namespaces()
        now, entries = utcnow(), []
        for item in selector.xpath("//item | //entry"):
            link = (item.xpath("normalize-space(link)").get() or item.xpath(
                "link[not(@rel) or @rel='alternate']/@href").get() or "").strip()
            # the publication date first, the last update only when there is none
            date = parse_feed_date(next(filter(None, (
                item.xpath(f"normalize-space({name})").get()
                for name in _FEED_DATES)), None))
            if not link:
                continue
            if within_horizon(date, self.horizon, now):
                entries.append((response.urljoin(link), date))
            else:
                self.crawler.stats.inc_value("newsarchive/feed_too_old")
        return entries

    def _parse_sitemap(self, response: Response) -> Iterable[Request]:
        body = response.body
        if body[:2] == b"\x1f\x8b":
            body = gunzip(body)
        try:
            sitemap = NewsSitemap(body)
        except (AttributeError, etree.LxmlError) as exc:  # empty or not XML
            self.logger.warning("%s is not a sitemap: %s", response.url, exc)
            return
        now = utcnow()
        entries = []
        for entry in sitemap:
            if not entry.get("loc"):
                continue
            date = sitemap_entry_date(entry)
            if within_horizon(date, self.horizon, now):
                entries.append((entry["loc"], date))
            else:
                self.crawler.stats.inc_value("newsarchive/sitemap_too_old")
        if sitemap.type == "sitemapindex":  # always refetched when listed: no interval
            for loc, _ in entries:
                if request := self._seed(loc, ROLE_SITEMAP):
                    yield request
        else:
            self._seeds(entries, response)
