"""The ``news`` spider: start URLs, RSS/Atom feeds and sitemaps, same-site link following.

``scrapy crawl news -a urls=https://example.com/ -a depth=1 -a max_pages=50`` (also
``feeds=``, ``sitemaps=``, ``allow=``, ``deny=``; lists are comma- or space-separated).
Entries of feeds and sitemaps are fetched like start URLs; links are followed only on the
start URLs' sites, up to ``depth`` hops, and no more than ``max_pages`` pages are scheduled.
Every download is archived by the WarcArchiver extension whatever happens here.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import urlsplit

from lxml import etree
from scrapy import Request, Spider
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap
from twisted.internet.error import DNSLookupError
from twisted.python.failure import Failure
from w3lib.url import canonicalize_url

from crawler import signals as na_signals
from crawler.resolver import AddressRefusedError

ROLE_FEED = "feed"
ROLE_SITEMAP = "sitemap"
ROLE_PAGE = "page"


def split_list(value: str | Iterable[str] | None) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [item for item in re.split(r"[,\s]+", value) if item]
    return [item for item in value if item]


FAILURE_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (AddressRefusedError, "refused_address"),
    (CannotResolveHostError, "dns_error"),
    (DNSLookupError, "dns_error"),
    (DownloadConnectionRefusedError, "connection_refused"),
    (DownloadTimeoutError, "timeout"),
    (TimeoutError, "timeout"),
)


def classify_failure(exc: BaseException) -> tuple[str, str]:
    """A stable kind (``dns_error``, ``timeout``...) and a message for a failed download."""
    for candidate in (exc.__cause__, exc):
        for cls, kind in FAILURE_KINDS:
            if isinstance(candidate, cls):
                return kind, str(candidate) or kind
    return type(exc).__name__, str(exc) or type(exc).__name__


def site_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


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
        self.scheduled: set[str] = set()
        self.failures: list[dict[str, Any]] = []
        self.link_extractor = LinkExtractor(unique=True)

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
            if request := self._request(url, ROLE_PAGE, depth=0):
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
        if not isinstance(response, HtmlResponse):
            self.crawler.stats.inc_value("newsarchive/non_html")
            return
        outlinks = [link.url for link in self.link_extractor.extract_links(response)]
        self.crawler.signals.send_catch_log(na_signals.page_parsed, response=response,
                                            outlinks=outlinks)
        depth = response.meta.get("page_depth", 0)
        if depth >= self.max_depth:
            return
        for url in outlinks:
            if self._follow(url) and (request := self._request(url, ROLE_PAGE, depth + 1)):
                yield request

    def failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            self.crawler.stats.inc_value("newsarchive/skipped")
            self.logger.info("%s: skipped: %s", request.url, failure.value)
            return
        if failure.check(HttpError):
            response = failure.value.response
            kind, message = f"http_{response.status}", f"HTTP {response.status}"
        else:
            kind, message = classify_failure(failure.value)
        self.crawler.stats.inc_value(f"newsarchive/errors/{kind}")
        self.failures.append({"url": request.url, "error": kind, "message": message})
        self.logger.warning("%s: %s", request.url, message)

    # -- helpers -----------------------------------------------------------------------------
    def _request(self, url: str, role: str, depth: int) -> Request | None:
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
        if role == ROLE_PAGE and self._page_count() >= self.max_pages:
            self.crawler.stats.inc_value("newsarchive/max_pages_reached")
            return None
        self.scheduled.add(key)
        if role == ROLE_PAGE:
            self.crawler.stats.inc_value("newsarchive/pages_scheduled")
        return Request(url, callback=self.parse, errback=self.failed,
                       meta={"role": role, "page_depth": depth})

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

    @staticmethod
    def _feed_links(response: Response) -> list[str]:
        if not isinstance(response, TextResponse):
            return []
        selector = response.selector
        selector.remove_namespaces()
        links = selector.xpath("//item/link/text() | //entry/link[not(@rel) or "
                               "@rel='alternate']/@href").getall()
        return [response.urljoin(link.strip()) for link in links if link.strip()]

    def _parse_sitemap(self, response: Response) -> Iterable[Request]:
        body = response.body
        if body[:2] == b"\x1f\x8b":
            body = gunzip(body)
        try:
            sitemap = Sitemap(body)
        except (AttributeError, etree.LxmlError) as exc:  # empty or not XML
            self.logger.warning("%s is not a sitemap: %s", response.url, exc)
            return
        locs = [entry["loc"] for entry in sitemap if entry.get("loc")]
        if sitemap.type == "sitemapindex":
            for loc in locs:
                if request := self._request(loc, ROLE_SITEMAP, depth=0):
                    yield request
        else:
            yield from self._seeds(locs)
