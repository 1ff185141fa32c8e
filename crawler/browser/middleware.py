"""``BrowserCapture``: the downloader middleware that renders pages in Chromium.

Its ``process_request`` takes the requests :func:`crawler.render.browser_request` made
(``meta["render"] == "browser"``, the page's static response in ``meta``) and returns the
page as Chromium rendered it: an :class:`~scrapy.http.HtmlResponse` of the rendered DOM, at
the page's URL, whose ``meta["warc_response"]`` is still the record of the page's response.
It runs before the request reaches a download slot (a slot is taken only by a transfer), so
the page's own requests, which ``engine.download_async`` queues in the slots, never wait for
the page that made them.

A page (within ``NEWSARCHIVE_BROWSER_TIMEOUT``, at most ``NEWSARCHIVE_BROWSER_PAGES`` at
once, each in a fresh browser context of ``NEWSARCHIVE_BROWSER_VIEWPORT``): the document
is loaded, the network left to go quiet, the page scrolled to its end a viewport at a time
(lazy images and infinite lists load on scroll) and back, the network left to go quiet
again; then the rendered DOM (``page.content()``) and a full-page PNG screenshot (its first
16,384 pixels of a taller page) are taken and sent with ``page_rendered``, for the archive
to write as ``resource`` records.

Without Chromium or Playwright, or when Chromium fails to start, one line says why and how
to install it, and pages are captured statically (``newsarchive/browser/unavailable``); a
page whose rendering fails is captured statically too (``newsarchive/browser/failed``).
Either way the spider gets the static response back, marked as having been to the browser.

Stats: ``newsarchive/browser/pages`` (rendered), ``newsarchive/browser/static`` (sent to the
browser but captured statically), ``newsarchive/browser/failed`` (of those, because
Chromium failed on the page), and those of :mod:`crawler.browser.network`.
"""

from __future__ import annotations

import asyncio
import logging
from time import monotonic
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse

from archive.warc import DOM_CONTENT_TYPE
from crawler import signals as na_signals
from crawler.browser.chromium import BrowserUnavailable, Chromium, find_chromium, viewport
from crawler.browser.network import PageNetwork, SharedResources
from crawler.render import (
    BROWSER,
    FRAMES_META,
    LOADED_META,
    REASON_META,
    RENDER_META,
    RENDERED_FLAG,
    STATIC,
    STATIC_RESPONSE_META,
)

if TYPE_CHECKING:
    from typing import Self

    from playwright.async_api import Browser, Page
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

PAGES_STAT = "newsarchive/browser/pages"
STATIC_STAT = "newsarchive/browser/static"
FAILED_STAT = "newsarchive/browser/failed"
UNAVAILABLE_STAT = "newsarchive/browser/unavailable"
QUIET_LIMIT = 10.0  # seconds one wait for a quiet network may take, within the page's time
SCREENSHOT_SHARE = 0.25  # of the page's time kept for the DOM and the screenshot
SCROLL_STEP_MS = 150  # between two viewports when scrolling (lazy loaders react)
SCROLL_MAX_STEPS = 40  # viewports scrolled at most (an endless list ends here)
MAX_LISTED_BLOCKED = 20  # blocked URLs named in a page's metadata record
MAX_SCREENSHOT_HEIGHT = 16384  # CSS pixels of a page's screenshot, from its top
# Scroll down a viewport at a time to the end of the page (which may grow), then back up.
SCROLL = """async ([stepMs, maxSteps]) => {
  const pause = () => new Promise(resolve => setTimeout(resolve, stepMs));
  const height = () => Math.max(document.documentElement.scrollHeight,
                                document.body ? document.body.scrollHeight : 0);
  for (let step = 0; step < maxSteps && window.scrollY + window.innerHeight < height();
       step++) {
    window.scrollBy(0, window.innerHeight);
    await pause();
  }
  window.scrollTo(0, 0);
  await pause();
}"""


class RenderFailed(Exception):
    """Chromium failed on one page (the message is Playwright's first line)."""


class BrowserCapture:
    def __init__(self, crawler: Crawler, chromium: Chromium | None,
                 unavailable: str | None) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.chromium = chromium
        self.unavailable = unavailable  # why pages cannot be rendered, once known
        self.timeout = settings.getfloat("NEWSARCHIVE_BROWSER_TIMEOUT")
        self.viewport = viewport(settings.get("NEWSARCHIVE_BROWSER_VIEWPORT"))
        self.user_agent = settings.get("USER_AGENT")
        self._pages = asyncio.Semaphore(settings.getint("NEWSARCHIVE_BROWSER_PAGES"))
        self._shared = SharedResources()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if crawler.settings.get("NEWSARCHIVE_RENDER") == STATIC:
            raise NotConfigured
        try:
            chromium, unavailable = Chromium(find_chromium(
                crawler.settings.get("NEWSARCHIVE_CHROMIUM") or "")), None
        except BrowserUnavailable as exc:
            chromium, unavailable = None, str(exc)
        middleware = cls(crawler, chromium, unavailable)
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(middleware.engine_stopped, signal=signals.engine_stopped)
        return middleware

    def spider_opened(self, spider: object) -> None:
        if self.unavailable:
            self._announce_unavailable()

    async def engine_stopped(self) -> None:
        if self.chromium is not None:
            await self.chromium.close()

    async def process_request(self, request: Request) -> Response | None:
        if request.meta.get(RENDER_META) != BROWSER:
            return None
        static: Response | None = request.meta.pop(STATIC_RESPONSE_META, None)
        if static is None:  # not from crawler.render: fetched statically as it is
            return None
        if "redirect_urls" in static.meta:  # how the page was reached (crawler.seen)
            request.meta["redirect_urls"] = static.meta["redirect_urls"]
        if self.chromium is None or self.unavailable:
            return self._static(request, static, self.unavailable or "no browser")
        try:
            return await self._render(request, static, await self._browser())
        except BrowserUnavailable as exc:
            self.unavailable = str(exc)
            self._announce_unavailable()
            return self._static(request, static, self.unavailable)
        except RenderFailed as exc:
            self.crawler.stats.inc_value(FAILED_STAT)
            logger.warning("%s: browser capture failed, captured statically: %s",
                           static.url, exc)
            return self._static(request, static, f"browser capture failed: {exc}")

    async def _browser(self) -> Browser:
        assert self.chromium is not None
        return await self.chromium.browser()

    def _announce_unavailable(self) -> None:
        """The one line a crawl logs when it cannot render pages."""
        self.crawler.stats.set_value(UNAVAILABLE_STAT, self.unavailable)
        logger.warning("browser capture is off for this crawl: %s; pages are captured "
                       "statically", self.unavailable)

    def _static(self, request: Request, static: Response, error: str) -> Response:
        """The static response, back to the spider as this request's (not rendered)."""
        self.crawler.stats.inc_value(STATIC_STAT)
        self._send(request, {"mode": STATIC, "reason": request.meta.get(REASON_META),
                             "error": error})
        return static.replace(request=request)

    def _send(self, request: Request, render: dict[str, Any], screenshot: bytes | None = None,
              dom: str | None = None) -> None:
        self.crawler.signals.send_catch_log(
            na_signals.page_rendered, record=request.meta.get("warc_response"), render=render,
            screenshot=screenshot, dom=dom)

    async def _render(self, request: Request, static: Response, browser: Browser) -> Response:
        from playwright.async_api import Error

        try:
            return await self._render_page(request, static, browser)
        except (Error, TimeoutError) as exc:
            text = str(exc).strip()
            raise RenderFailed(text.splitlines()[0] if text else repr(exc)) from None

    async def _render_page(self, request: Request, static: Response,
                           browser: Browser) -> Response:
        async with self._pages:
            start = monotonic()
            deadline = start + self.timeout
            context = await browser.new_context(
                viewport=self.viewport, user_agent=self.user_agent, service_workers="block",
                accept_downloads=False)
            try:
                page = await context.new_page()
                page.set_default_timeout(self.timeout * 1000)
                network = PageNetwork(self.crawler, page, static, self._shared)
                await page.route("**/*", network.handle)
                await self._settle(page, network, static.url,
                                   deadline - self.timeout * SCREENSHOT_SHARE)
                dom = await page.content()
                screenshot = await self._screenshot(page, deadline)
            finally:
                await context.close()
        self.crawler.stats.inc_value(PAGES_STAT)
        self._send(request, {
            "mode": BROWSER, "reason": request.meta.get(REASON_META),
            "requests": network.requests, "blocked": network.blocked[:MAX_LISTED_BLOCKED],
            "seconds": round(monotonic() - start, 1)}, screenshot, dom)
        request.meta[LOADED_META] = network.loaded
        request.meta[FRAMES_META] = network.frames
        return HtmlResponse(url=static.url, status=static.status, body=dom.encode("utf-8"),
                            encoding="utf-8", headers={"Content-Type": DOM_CONTENT_TYPE},
                            request=request, flags=[*static.flags, RENDERED_FLAG],
                            ip_address=static.ip_address, protocol=static.protocol)

    async def _screenshot(self, page: Page, deadline: float) -> bytes:
        """A PNG of the whole page, or of its first :data:`MAX_SCREENSHOT_HEIGHT` pixels
        (the screenshot of a long page would run to megabytes)."""
        height = await page.evaluate(
            "Math.max(document.documentElement.scrollHeight, "
            "document.body ? document.body.scrollHeight : 0)")
        clip = None
        if height > MAX_SCREENSHOT_HEIGHT:
            clip = {"x": 0, "y": 0, "width": self.viewport["width"],
                    "height": MAX_SCREENSHOT_HEIGHT}
        return await page.screenshot(full_page=True, clip=clip, type="png",
                                     timeout=max(1.0, deadline - monotonic()) * 1000)

    @staticmethod
    async def _settle(page: Page, network: PageNetwork, url: str, deadline: float) -> None:
        """Load ``url``, let the network go quiet, scroll through the page, let it go quiet
        again: as far as ``deadline`` allows (what has loaded by then is what is kept)."""
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        try:
            await page.goto(url, wait_until="load",
                            timeout=max(1.0, deadline - monotonic()) * 1000)
        except PlaywrightTimeout:
            logger.info("%s: still loading at the browser time limit", url)
            return
        await network.quiet(min(deadline, monotonic() + QUIET_LIMIT))
        remaining = deadline - monotonic()
        if remaining <= 0:
            return
        try:
            await asyncio.wait_for(page.evaluate(SCROLL, [SCROLL_STEP_MS, SCROLL_MAX_STEPS]),
                                   timeout=remaining)
        except TimeoutError:
            logger.info("%s: still scrolling at the browser time limit", url)
            return
        await network.quiet(min(deadline, monotonic() + QUIET_LIMIT))
