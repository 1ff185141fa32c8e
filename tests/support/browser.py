"""Headless Debian Chromium driven by Playwright, for tests that render pages.

``chromium_page()`` yields a Playwright page and the console errors it collects.
A missing Chromium or Playwright skips the test, or fails it when
NEWSARCHIVE_REQUIRE_SERVICES=1 (CI installs both).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from crawler.browser.chromium import CHROMIUM_ARGS
from tests.support.harness import missing


def chromium_executable() -> str | None:
    return os.environ.get("NEWSARCHIVE_CHROMIUM") or shutil.which("chromium")


def require_chromium() -> None:
    """Skip (fail in CI) unless Chromium and Playwright are installed."""
    if chromium_executable() is None:
        missing("chromium is not installed (apt-get install chromium)")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        missing("playwright is not installed (pip install playwright)")


@contextmanager
def chromium_page(**context_options: Any) -> Iterator[tuple[Any, list[str]]]:
    """A fresh browser page and the list its console errors and page errors go to."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(**context_options)
            page = context.new_page()
            page.on("console", lambda msg: errors.append(msg.text)
                    if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            yield page, errors
        finally:
            browser.close()
