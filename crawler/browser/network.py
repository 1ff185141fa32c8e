"""The requests of one page in Chromium, each downloaded by Scrapy and handed back.

:class:`PageNetwork` is the page's ``page.route("**/*")`` handler. An ``http(s)`` request
becomes a Scrapy :class:`~scrapy.Request` (method, body and Chromium's headers, less those
Scrapy sets itself: ``User-Agent``, ``Accept-Encoding``, ``Cookie``, hop-by-hop) and goes
through ``engine.download_async``: the downloader middlewares (robots.txt, retries, cookies,
redirects, content decoding), the SSRF guard at connection time, and ``response_downloaded``,
so the exchange is archived as it crossed the wire and counted like any other. Chromium gets
the decoded body (``route.fulfill``) with the response's status and headers, less
``Content-Length``, ``Transfer-Encoding`` and the content codings Scrapy removed.

Redirects are followed by Scrapy, each hop archived and checked by the guard, and Chromium
gets the final response at the URL it asked for: a redirect fulfilled to Chromium would be
followed by Chromium's own network stack, which Playwright does not intercept
(microsoft/playwright#3993, "as designed"), and so would bypass the guard.

The page's own document is not fetched again: the first navigation of the main frame is
fulfilled from the response the crawl already has. Later main-frame navigations (a script
or a meta refresh leaving the page) are aborted. A request to a refused address is aborted
(``newsarchive/browser/blocked``, logged, nothing archived), and so is one Scrapy could not
download (``newsarchive/browser/failed_requests``). ``data:`` and ``blob:`` URLs (and any
other scheme) are left to Chromium, which resolves them without the network.

Stylesheets, scripts, images and fonts are fetched once per crawl: a later page gets them
from :class:`SharedResources` (``newsarchive/browser/shared``), not from the site again
(Chromium's own cache is off while requests are intercepted).

It also counts the requests in flight, for :meth:`PageNetwork.quiet`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from time import monotonic
from typing import TYPE_CHECKING

from scrapy import Request
from scrapy.exceptions import IgnoreRequest

from crawler.failures import download_failure
from crawler.links import RESOURCE_TYPE_META

if TYPE_CHECKING:
    from playwright.async_api import Page, Route
    from playwright.async_api import Request as BrowserRequest
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

NOT_FORWARDED = frozenset({  # request headers Scrapy sets itself, or that are hop-by-hop
    "host", "connection", "keep-alive", "proxy-connection", "te", "transfer-encoding",
    "upgrade", "content-length", "cookie", "user-agent", "accept-encoding"})
NOT_FULFILLED = frozenset({  # response headers that do not describe the body Chromium gets
    "content-length", "transfer-encoding", "connection", "keep-alive"})
BROWSER_PAGE_META = "browser_page"  # request.meta of a page's request: the page's URL
BLOCKED_STAT = "newsarchive/browser/blocked"
REQUESTS_STAT = "newsarchive/browser/requests"
FAILED_REQUESTS_STAT = "newsarchive/browser/failed_requests"
QUIET_SECONDS = 0.5  # no request in flight for this long: the network is quiet


SHARED_STAT = "newsarchive/browser/shared"


class SharedResources:
    """The successful responses of the resources pages share (stylesheets, scripts, images,
    fonts) fetched in this crawl, by URL, up to ``max_bytes`` of bodies (least recently used
    first out), and the fetches of them under way, which pages rendered at the same time
    wait for instead of fetching the same URL again."""

    TYPES = frozenset({"stylesheet", "script", "image", "font"})

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._responses: OrderedDict[str, Response] = OrderedDict()
        self._bytes = 0
        self._fetching: dict[str, asyncio.Future[Response | None]] = {}

    def get(self, url: str) -> Response | None:
        response = self._responses.get(url)
        if response is not None:
            self._responses.move_to_end(url)
        return response

    async def wait(self, url: str) -> Response | None:
        """The response of a fetch of ``url`` under way (None when there is none, or when it
        failed)."""
        pending = self._fetching.get(url)
        return await asyncio.shield(pending) if pending is not None else None

    def fetching(self, url: str) -> None:
        self._fetching.setdefault(url, asyncio.get_running_loop().create_future())

    def fetched(self, url: str, response: Response | None) -> None:
        """The fetch of ``url`` ended (``response`` None: it failed)."""
        if response is not None:
            self.put(url, response)
        pending = self._fetching.pop(url, None)
        if pending is not None and not pending.done():
            pending.set_result(response)

    def put(self, url: str, response: Response) -> None:
        size = len(response.body)
        if response.status != 200 or url in self._responses or size > self.max_bytes // 16:
            return
        self._responses[url] = response
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, dropped = self._responses.popitem(last=False)
            self._bytes -= len(dropped.body)


class PageNetwork:
    """The ``page.route`` handler of one page whose document is ``document``."""

    def __init__(self, crawler: Crawler, page: Page, document: Response,
                 shared: SharedResources) -> None:
        self.crawler = crawler
        self.page = page
        self.document = document
        self.shared = shared
        self.requests = 0  # downloaded by Scrapy for this page
        self.blocked: list[str] = []  # URLs refused by the SSRF guard
        self.loaded: set[str] = set()  # http(s) URLs the page asked for (fetched or shared)
        self.frames: set[str] = set()  # of those, its frames' documents
        # robots.txt applies to them as to the spider's requisites
        self._obey_robots = crawler.settings.getbool("NEWSARCHIVE_REQUISITES_OBEY_ROBOTS")
        self._document_served = False
        self._in_flight = 0
        self._last_change = monotonic()
        self._changed = asyncio.Event()

    async def handle(self, route: Route) -> None:
        from playwright.async_api import Error

        request = route.request
        self._started()
        try:
            if not request.url.lower().startswith(("http:", "https:")):
                await route.continue_()
            elif self._is_main_navigation(request):
                await self._navigate(route)
            else:
                await self._download(route, request)
        except Error as exc:  # the page or its context closed while this was in flight
            logger.debug("%s: not handed to Chromium: %s", request.url, exc)
        finally:
            self._finished()

    def _is_main_navigation(self, request: BrowserRequest) -> bool:
        try:
            return request.is_navigation_request() and request.frame == self.page.main_frame
        except Exception:  # noqa: BLE001 - a request of a service worker has no frame
            return False

    async def _navigate(self, route: Route) -> None:
        if self._document_served:
            logger.info("%s: the page %s tried to navigate away; stopped there",
                        route.request.url, self.document.url)
            await route.abort("aborted")
            return
        self._document_served = True
        await self._fulfill(route, self.document)

    async def _download(self, route: Route, browser_request: BrowserRequest) -> None:
        url = browser_request.url
        self.loaded.add(url)
        if browser_request.resource_type == "document":  # not the page's: _navigate has that
            self.frames.add(url)
        sharable = browser_request.method == "GET" and \
            browser_request.resource_type in SharedResources.TYPES
        if sharable and ((known := self.shared.get(url)) is not None
                         or (known := await self.shared.wait(url)) is not None):
            self.crawler.stats.inc_value(SHARED_STAT)
            await self._fulfill(route, known)
            return
        if sharable:
            self.shared.fetching(url)
        response: Response | None = None
        try:
            response = await self._fetch(route, browser_request)
        finally:
            if sharable:
                self.shared.fetched(url, response)
        if response is not None:
            await self._fulfill(route, response)

    async def _fetch(self, route: Route, browser_request: BrowserRequest) -> Response | None:
        """The response of ``browser_request`` downloaded by Scrapy; None when the download
        failed or was refused (the route is aborted then)."""
        headers = {name: value for name, value in (await browser_request.all_headers()).items()
                   if name.lower() not in NOT_FORWARDED and not name.startswith(":")}
        request = Request(browser_request.url, method=browser_request.method, headers=headers,
                          body=browser_request.post_data_buffer or b"", dont_filter=True,
                          meta={BROWSER_PAGE_META: self.document.url,
                                RESOURCE_TYPE_META: browser_request.resource_type,
                                "dont_obey_robotstxt": not self._obey_robots})
        stats = self.crawler.stats
        stats.inc_value(REQUESTS_STAT)
        self.requests += 1
        engine = self.crawler.engine
        assert engine is not None  # pages are rendered while the engine runs
        try:
            response = await engine.download_async(request)
        except IgnoreRequest as exc:  # e.g. robots.txt
            logger.info("%s: not fetched for the page %s: %s", request.url, self.document.url,
                        exc)
            await route.abort("blockedbyclient")
            return None
        except Exception as exc:  # noqa: BLE001 - any failed download: the page goes on
            kind, message = download_failure(exc)
            if kind == "refused_address":
                stats.inc_value(BLOCKED_STAT)
                self.blocked.append(request.url)
                logger.warning("%s: blocked a request of the page %s: %s", request.url,
                               self.document.url, message)
                await route.abort("addressunreachable")
            else:
                stats.inc_value(FAILED_REQUESTS_STAT)
                logger.info("%s: a request of the page %s failed: %s", request.url,
                            self.document.url, message)
                await route.abort("failed")
            return None
        return response

    @staticmethod
    async def _fulfill(route: Route, response: Response) -> None:
        headers: dict[str, str] = {}
        for raw_name, raw_values in response.headers.items():
            name = raw_name.decode("latin-1")
            if name.lower() in NOT_FULFILLED:
                continue
            values = [v.decode("latin-1") for v in raw_values]
            separator = "\n" if name.lower() == "set-cookie" else ", "
            headers[name] = separator.join(values)
        status = response.status if 100 <= response.status <= 599 else 200
        await route.fulfill(status=status, headers=headers, body=response.body)

    # -- quiet network ------------------------------------------------------------------
    def _started(self) -> None:
        self._in_flight += 1
        self._touch()

    def _finished(self) -> None:
        self._in_flight -= 1
        self._touch()

    def _touch(self) -> None:
        self._last_change = monotonic()
        self._changed.set()

    async def quiet(self, deadline: float) -> bool:
        """Wait until no request has been in flight for :data:`QUIET_SECONDS`, or until
        ``deadline`` (a ``time.monotonic()`` value); whether the network went quiet."""
        while True:
            now = monotonic()
            calm = now - self._last_change
            if self._in_flight == 0 and calm >= QUIET_SECONDS:
                return True
            if now >= deadline:
                return False
            self._changed.clear()
            wait = deadline - now if self._in_flight else min(deadline - now,
                                                              QUIET_SECONDS - calm)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=wait)
