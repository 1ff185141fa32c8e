"""Headless Chromium (Debian's, driven by Playwright with its executable path; no browser
download) that renders a page the way the capture check compares it: a fixed viewport,
animations off, a full-page screenshot once the network is quiet, and a log of every request
the page made, with the ones a ``gate`` refused (aborted before they leave) and the ones
that failed."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from crawler.browser.chromium import CHROMIUM_ARGS, INSTALL_HINT, BrowserUnavailable

QUIET_WAIT_MS = 5_000  # at most this long for the network to go quiet after "load"
Gate = Callable[[str], str | None]  # a request URL → None to let it through, or why not

@dataclass
class Rendering:
    """What one page load gave: the screenshot (None when the page did not load: see
    ``error``), every request URL in order, and the failed ones (URL → reason)."""

    screenshot: bytes | None
    requests: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    error: str | None = None


class Chromium:
    """``with Chromium(path, timeout) as browser: browser.render(url, gate)``; one browser
    for many pages, a fresh context (no cookies, no cache) per page."""

    def __init__(self, executable: str, timeout: float, viewport: dict[str, int]) -> None:
        self.executable = executable
        self.viewport = viewport
        self.timeout_ms = timeout * 1000
        self._playwright: Any = None
        self._browser: Any = None

    def __enter__(self) -> Chromium:
        try:
            from playwright.sync_api import Error, sync_playwright
        except ImportError:
            raise BrowserUnavailable("Playwright is not installed (pip install playwright), "
                                  f"and then {INSTALL_HINT}") from None
        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=self.executable, args=CHROMIUM_ARGS)
        except Error as exc:
            self._playwright.stop()
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise BrowserUnavailable(f"Chromium {self.executable} did not start ({first}); "
                                  f"{INSTALL_HINT}") from None
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self._browser.close()
        finally:
            self._playwright.stop()

    def render(self, url: str, gate: Gate) -> Rendering:
        """Load ``url`` and screenshot the whole page. Every request, the page's own
        included, passes ``gate`` first: a refused one is aborted and counted as failed
        with the gate's reason, as is one that fails or answers with an HTTP error."""
        from playwright.sync_api import Error, TimeoutError

        rendering = Rendering(screenshot=None)
        failures = rendering.failures

        in_flight: set[Any] = set()

        def on_request(request: Any) -> None:
            in_flight.add(request)
            rendering.requests.append(request.url)
            if (reason := gate(request.url)) is not None:
                failures.setdefault(request.url, reason)

        def on_finished(request: Any) -> None:
            in_flight.discard(request)

        def on_response(response: Any) -> None:
            if response.status >= 400:
                failures.setdefault(response.url, f"HTTP {response.status}")

        def on_failed(request: Any) -> None:
            in_flight.discard(request)
            failures.setdefault(request.url, f"failed: {request.failure}")

        def route(route: Any) -> None:
            if gate(route.request.url) is None:
                route.continue_()
            else:
                route.abort("blockedbyclient")

        context = self._browser.new_context(viewport=self.viewport, device_scale_factor=1,
                                            reduced_motion="reduce", service_workers="block")
        context.set_default_timeout(self.timeout_ms)
        try:
            page = context.new_page()
            page.on("request", on_request)
            page.on("response", on_response)
            page.on("requestfinished", on_finished)
            page.on("requestfailed", on_failed)
            page.route("**/*", route)
            try:
                page.goto(url, wait_until="load")
                if in_flight:  # Playwright's "networkidle": 500 ms without a request
                    with contextlib.suppress(TimeoutError):  # a page that keeps polling
                        page.wait_for_load_state("networkidle",
                                                 timeout=min(QUIET_WAIT_MS, self.timeout_ms))
                rendering.screenshot = page.screenshot(full_page=True, animations="disabled")
            except Error as exc:  # the document itself: refused, unreachable, too slow
                first = rendering.requests[0] if rendering.requests else url
                rendering.error = failures.get(first) or str(exc).strip().splitlines()[0]
        finally:
            context.close()
        return rendering
