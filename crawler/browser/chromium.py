"""Chromium for browser capture: found once per crawl, launched on first use, shut off from
the network, closed when the crawl ends.

The executable is ``NEWSARCHIVE_CHROMIUM``, else ``chromium`` on the PATH (Debian's); no
browser is ever downloaded. Playwright drives it with its async API on the crawl's asyncio
event loop (Scrapy's default asyncio reactor).

Chromium itself reaches nothing: every request a page makes is intercepted and downloaded by
Scrapy (:mod:`crawler.browser.network`), and Playwright's interception misses a few kinds
(the follow-up request of a redirect, WebSockets, requests of service workers, preconnects),
so everything that is not intercepted is sent to a proxy that refuses every connection: a
local port this process holds bound and never listens on. Name resolution is off too
(``--host-resolver-rules``), and so are service workers (per context).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright

logger = logging.getLogger(__name__)

INSTALL_HINT = "install it with `apt-get install chromium`, or point NEWSARCHIVE_CHROMIUM at it"
# Every headless Chromium this project runs (browser capture, the capture check, the tests)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]
# and browser capture's, which reaches nothing itself (the module docstring)
OFFLINE_ARGS = ["--dns-prefetch-disable",
                "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
                "--host-resolver-rules=MAP * ~NOTFOUND"]


class BrowserUnavailable(Exception):
    """Chromium (or Playwright) cannot be used; the message says why and how to fix it."""


def find_chromium(configured: str) -> str:
    """The Chromium executable to run: ``configured`` (NEWSARCHIVE_CHROMIUM) or
    ``chromium`` on the PATH; :class:`BrowserUnavailable` when there is none or Playwright
    is not installed."""
    if configured:
        if not (os.path.isfile(configured) and os.access(configured, os.X_OK)):
            raise BrowserUnavailable(f"NEWSARCHIVE_CHROMIUM={configured} is not an "
                                     f"executable file; {INSTALL_HINT}")
        executable = configured
    else:
        found = shutil.which("chromium")
        if found is None:
            raise BrowserUnavailable(f"Chromium was not found on the PATH; {INSTALL_HINT}")
        executable = found
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        raise BrowserUnavailable("the playwright package is not installed (pip install "
                                 "playwright; no browser download is needed)") from None
    return executable


class Chromium:
    """One Chromium for the crawl, launched by the first :meth:`browser` call."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self._lock = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._dead_end: socket.socket | None = None  # the proxy port that refuses

    async def browser(self) -> Browser:
        """The running browser; :class:`BrowserUnavailable` if it cannot be launched."""
        async with self._lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            from playwright.async_api import Error, async_playwright

            try:
                if self._playwright is None:
                    self._playwright = await async_playwright().start()
                self._browser = await self._playwright.chromium.launch(
                    executable_path=self.executable, args=CHROMIUM_ARGS + OFFLINE_ARGS,
                    # (Playwright adds <-loopback> to the bypass list: loopback too)
                    proxy={"server": f"http://127.0.0.1:{self._refusing_port()}"})
            except Error as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                raise BrowserUnavailable(f"Chromium ({self.executable}) did not start: "
                                         f"{first}") from None
            logger.info("Chromium %s started for browser capture", self._browser.version)
            return self._browser

    def _refusing_port(self) -> int:
        if self._dead_end is None:
            self._dead_end = socket.socket()
            self._dead_end.bind(("127.0.0.1", 0))  # bound, never listening: refuses
        return int(self._dead_end.getsockname()[1])

    async def close(self) -> None:
        """Close the browser and stop Playwright (nothing happens if neither started)."""
        from playwright.async_api import Error

        browser, playwright = self._browser, self._playwright
        self._browser = self._playwright = None
        try:
            if browser is not None:
                await browser.close()
            if playwright is not None:
                await playwright.stop()
        except Error as exc:  # a browser that died already: nothing left to close
            logger.debug("closing Chromium: %s", exc)
        if self._dead_end is not None:
            self._dead_end.close()
            self._dead_end = None


def viewport(value: str) -> dict[str, Any]:
    """``"1280x800"`` (NEWSARCHIVE_BROWSER_VIEWPORT) as Playwright's viewport."""
    width, _, height = value.partition("x")
    return {"width": int(width), "height": int(height)}
