"""The ``news`` spider: start URLs, RSS/Atom feeds and sitemaps, same-site link following.

``scrapy crawl news -a urls=https://example.com/ -a depth=1 -a max_pages=50`` (also
``feeds=``, ``sitemaps=``, ``allow=``, ``deny=``, ``horizon=2d``, ``article_patterns=``,
``hub_patterns=``, ``announced_seeds=1``; lists are comma- or space-separated).
Entries of feeds and sitemaps are fetched like start URLs; links are followed only on the
start URLs' sites, up to ``depth`` hops, and no more than ``max_pages`` pages are scheduled.
Every download is archived by the WarcArchiver extension whatever happens here.

Discovery (rules in :mod:`crawler.discovery`): sitemap indexes are followed, Google News
sitemap entries and ``lastmod``, and feed items whose ``pubDate`` / ``published`` /
``updated``, are older than ``horizon`` are skipped; with ``announced_seeds``
(site crawls) the sitemaps announced in robots.txt and the feeds announced by ``<link
rel="alternate">`` on hub pages are fetched too; at most
``NEWSARCHIVE_TRAP_MAX_PER_PATTERN`` URLs of one calendar/pagination family are scheduled.
Each HTML page is classified article or hub (``response.meta["page_kind"]``, read by the
article extractor: only articles are extracted).

Incremental crawls (``seen``, a :class:`crawler.seen.SeenUrls` given by the runner for site
crawls): archived articles found again in links, feeds and sitemaps are skipped, articles
whose refresh age has come are re-fetched, hubs and the start URLs always are.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from lxml import etree
from scrapy import Request, Spider
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots
from twisted.python.failure import Failure
from w3lib.url import canonicalize_url

from archive.models import utcnow
from crawler import signals as na_signals
from crawler.discovery import (
    ARTICLE,
    HUB,
    KindRules,
    jsonld_types,
    page_kind,
    parse_duration,
    parse_feed_date,
    sitemap_entry_date,
    trap_family,
    within_horizon,
)
from crawler.failures import download_failure, http_failure
from crawler.links import FRAME, KINDS, STYLESHEET, Requisite, css_requisites, page_links
from crawler.render import LOADED_META, browser_request
from crawler.seen import SeenUrls

ROLE_FEED = "feed"
ROLE_SITEMAP = "sitemap"
ROLE_ROBOTS = "robots"
ROLE_PAGE = "page"
ROLE_REQUISITE = "requisite"
# Requisites are fetched soon after their page, so that the two are captured close together.
REQUISITE_PRIORITY = 10
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


def site_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


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
        hub_refresh: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.start_urls = split_list(urls)
        self.feeds = split_list(feeds)
        self.sitemaps = split_list(sitemaps)
        self._depth_arg = depth
        self._max_pages_arg = max_pages
        self.allow = [re.compile(p) for p in split_list(allow)]
        self.deny = [re.compile(p) for p in split_list(deny)]
        self.sites = {site_of(u) for u in self.start_urls + self.feeds + self.sitemaps}
        self.horizon = parse_duration(horizon) if isinstance(horizon, str) else horizon
        self.kind_rules = KindRules.compile(split_list(article_patterns),
                                            split_list(hub_patterns))
        self.announced_seeds = announced_seeds not in (False, "", "0", "false", None)
        self.seen = seen
        self.hub_refresh = hub_refresh
        self.scheduled: set[str] = set()
        self.trap_counts: Counter[str] = Counter()
        self.failures: list[dict[str, Any]] = []
        self.requisites_scheduled = 0

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
            if request := self._request(url, ROLE_FEED, depth=0):
                yield request
        for url in self.sitemaps:
            if request := self._request(url, ROLE_SITEMAP, depth=0):
                yield request
        for url in self.start_urls:
            if request := self._request(url, ROLE_PAGE, depth=0, check_seen=False):
                yield request
        if self.announced_seeds:
            seeds = self.start_urls + self.feeds + self.sitemaps
            for origin in dict.fromkeys(self._origin(u) for u in seeds):
                if request := self._request(f"{origin}/robots.txt", ROLE_ROBOTS, depth=0):
                    yield request
        if self.seen is not None:
            for url in self.seen.due_refreshes(utcnow()):
                if request := self._request(url, ROLE_PAGE, self.max_depth, check_seen=False):
                    self.crawler.stats.inc_value("newsarchive/refreshed")
                    yield request

    # -- callbacks ---------------------------------------------------------------------------
    def parse(self, response: Response) -> Iterable[Request]:
        role = response.meta.get("role", ROLE_PAGE)
        if role == ROLE_FEED:
            yield from self._seeds(self._feed_links(response))
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
                if request := self._request(url, ROLE_SITEMAP, depth=0):
                    yield request
            return
        if not isinstance(response, HtmlResponse):
            self.crawler.stats.inc_value("newsarchive/non_html")
            if self.seen is not None:  # a document (PDF, ...): archived once, like an article
                self._record_seen(self.seen, response, ARTICLE, canonical=None)
            return
        links = page_links(response.selector.root, response.url)
        kind = page_kind(response.url, self.kind_rules, jsonld_types(links.jsonld),
                         links.og_type)
        response.meta["page_kind"] = kind
        if (rendering := browser_request(self.crawler, response)) is not None:
            yield rendering  # parsed again, as rendered (crawler.render)
            return
        self.crawler.stats.inc_value(f"newsarchive/pages/{kind}")
        if self.seen is not None:
            self._record_seen(self.seen, response, kind, links.canonical)
        self.crawler.signals.send_catch_log(
            na_signals.page_parsed, response=response, metadata={
                "outlinks": links.outlinks,
                "requisites": [{"url": r.url, "kind": r.kind} for r in links.requisites]})
        # a rendered page's requisites: those the browser did not load (icons, og:image...)
        self.scheduled.update(map(canonicalize_url, response.meta.get(LOADED_META, ())))
        yield from self._requisites(links.requisites)
        if kind == HUB and self.announced_seeds:
            for url, kind_of_feed in links.feeds:
                if kind_of_feed in FEED_TYPES and site_of(url) in self.sites and (
                        request := self._request(url, ROLE_FEED, depth=0)):
                    yield request
        depth = response.meta.get("page_depth", 0)
        if depth >= self.max_depth:
            return
        for url in links.outlinks:
            if self._follow(url) and (request := self._request(url, ROLE_PAGE, depth + 1)):
                yield request

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
                  if r.kind != FRAME or (frames and site_of(r.url) in self.sites)]
        wanted.sort(key=lambda r: KINDS.index(r.kind))  # stable: document order within a kind
        if len(wanted) > per_page:
            stats.inc_value("newsarchive/requisites/over_page_limit", len(wanted) - per_page)
            del wanted[per_page:]
        for requisite in wanted:
            key = canonicalize_url(requisite.url)
            if key in self.scheduled:
                stats.inc_value("newsarchive/requisites/shared")
                continue
            if self.requisites_scheduled >= most:
                stats.inc_value("newsarchive/requisites/over_crawl_limit")
                continue
            self.scheduled.add(key)
            self.requisites_scheduled += 1
            stats.inc_value("newsarchive/requisites/scheduled")
            headers = {"Accept": _ACCEPT[requisite.kind]} if requisite.kind in _ACCEPT else {}
            yield Request(requisite.url, callback=self.parse, errback=self.failed,
                          priority=REQUISITE_PRIORITY, headers=headers, meta={
                              "role": ROLE_REQUISITE, "requisite_kind": requisite.kind,
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
        # after a write error the last pages' records may never have reached the disk:
        # they must not count as archived (the next crawl fetches them again)
        if self.seen is not None and not self.crawler.stats.get_value("archive/failure"):
            self.seen.flush()

    def failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
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

    # -- helpers -----------------------------------------------------------------------------
    def _request(self, url: str, role: str, depth: int,
                 check_seen: bool = True) -> Request | None:
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            message = f"not an http(s) URL (scheme {scheme or 'missing'!r}); skipped"
            self.crawler.stats.inc_value("newsarchive/errors/bad_url")
            self.failures.append({"url": url, "error": "bad_url", "message": message})
            self.logger.error("%s: %s", url, message)
            return None
        key = canonicalize_url(url)
        if key in self.scheduled:
            return None
        if role == ROLE_PAGE and not self._admit_page(url, key, depth, check_seen):
            return None
        if role == ROLE_PAGE and self._page_count() >= self.max_pages:
            self.crawler.stats.inc_value("newsarchive/max_pages_reached")
            return None
        self.scheduled.add(key)
        if role == ROLE_PAGE:
            self.crawler.stats.inc_value("newsarchive/pages_scheduled")
        return Request(url, callback=self.parse, errback=self.failed,
                       meta={"role": role, "page_depth": depth, "conditional": depth == 0})

    def _admit_page(self, url: str, key: str, depth: int, check_seen: bool) -> bool:
        """Incremental skip of archived articles, then the per-family trap cap."""
        stats = self.crawler.stats
        if check_seen and self.seen is not None and self.seen.skip(url, utcnow()):
            self.scheduled.add(key)
            stats.inc_value("newsarchive/seen_skipped")
            return False
        if depth > 0 and (family := trap_family(url)) is not None:
            if self.trap_counts[family] >= self.settings.getint(
                    "NEWSARCHIVE_TRAP_MAX_PER_PATTERN"):
                self.scheduled.add(key)
                stats.inc_value("newsarchive/trap_capped")
                return False
            self.trap_counts[family] += 1
        return True

    @staticmethod
    def _record_seen(seen: SeenUrls, response: Response, kind: str,
                     canonical: str | None) -> None:
        """Remember an archived page (and the URLs that redirected to it) for later runs."""
        record = response.meta.get("warc_response")
        if record is None:  # not archived (NEWSARCHIVE_ARCHIVE=False): not "already archived"
            return
        for url in [*response.meta.get("redirect_urls", []), response.url]:
            seen.fetched(url, kind=kind,
                         canonical_url=canonical,
                         timestamp=record.timestamp, digest=record.payload_digest)

    @staticmethod
    def _origin(url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    def _page_count(self) -> int:
        return self.crawler.stats.get_value("newsarchive/pages_scheduled", 0)

    def _seeds(self, urls: Iterable[str]) -> Iterable[Request]:
        for url in urls:
            self.sites.add(site_of(url))
            if request := self._request(url, ROLE_PAGE, depth=0):
                yield request

    def _follow(self, url: str) -> bool:
        if site_of(url) not in self.sites:
            return False
        if self.allow and not any(p.search(url) for p in self.allow):
            return False
        return not any(p.search(url) for p in self.deny)

    def _feed_links(self, response: Response) -> list[str]:
        """RSS items' and Atom entries' links, without those dated before the horizon."""
        if not isinstance(response, TextResponse):
            return []
        selector = response.selector
        selector.remove_namespaces()
        now, links = utcnow(), []
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
                links.append(response.urljoin(link))
            else:
                self.crawler.stats.inc_value("newsarchive/feed_too_old")
        return links

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
        locs = []
        for entry in sitemap:
            if not entry.get("loc"):
                continue
            if within_horizon(sitemap_entry_date(entry), self.horizon, now):
                locs.append(entry["loc"])
            else:
                self.crawler.stats.inc_value("newsarchive/sitemap_too_old")
        if sitemap.type == "sitemapindex":
            for loc in locs:
                if request := self._request(loc, ROLE_SITEMAP, depth=0):
                    yield request
        else:
            yield from self._seeds(locs)
