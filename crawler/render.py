"""Render modes, and which statically fetched pages go on to the browser.

A crawl's mode (``NEWSARCHIVE_RENDER``, set per crawl from ``--render`` or the site's
``render``): ``static`` captures the HTTP response only; ``browser`` also renders every HTML
page in Chromium (:mod:`crawler.browser`); ``auto`` renders the pages whose static capture
looks incomplete (:func:`needs_browser`).

Either way a page is first fetched like any other (its redirects followed and archived by
Scrapy), and the spider hands it to :func:`browser_request` once it knows the page is HTML.
The request that function returns carries the static response (``meta["static_response"]``)
and the reason; the browser middleware renders the page with that response as its document
(it is not fetched twice) and the spider parses the rendered DOM when the request comes back.
Its ``meta["render"]`` says the page has been to the browser, so it never goes again.

Stats: ``newsarchive/browser/escalated`` (``auto`` pages found incomplete).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TYPE_CHECKING

from lxml import etree
from scrapy import Request

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import HtmlResponse



class RenderMode(StrEnum):
    STATIC = "static"
    BROWSER = "browser"
    AUTO = "auto"


STATIC, BROWSER, AUTO = RenderMode.STATIC.value, RenderMode.BROWSER.value, RenderMode.AUTO.value
RENDER_MODES = tuple(mode.value for mode in RenderMode)
RENDER_META = "render"  # request.meta: "browser" once a page has been sent to the browser
REASON_META = "render_reason"  # why it was
STATIC_RESPONSE_META = "static_response"  # the page as fetched, its document in the browser
RENDERED_FLAG = "rendered"  # response.flags of the DOM of a page rendered in the browser
LOADED_META = "browser_loaded"  # meta of that DOM: the URLs the browser loaded for the page
FRAMES_META = "browser_frames"  # and, of those, the documents of the page's frames
ESCALATED_STAT = "newsarchive/browser/escalated"
# What the static download left in the page's meta (Scrapy's and the download handler's):
# not the rendering request's (the browser middleware gives the rendered page the
# redirects that led to it back).
DOWNLOAD_META = frozenset({
    "download_latency", "download_slot", "redirect_reasons", "redirect_times", "redirect_ttl",
    "redirect_urls", "retry_times", "_auth_proxy", "_dont_cache", "_scheme_proxy",
    "cache_timestamp", "_size_budget", "http_reason"})

# Fewer words than this in the visible body, while scripts run, is a shell, not a page.
MIN_WORDS = 60
# Elements that single-page-application frameworks render into.
APP_ROOTS = ("root", "app", "__next", "__nuxt", "___gatsby", "svelte")
# Compiled once and run on lxml's tree, returning plain strings: no parsel Selector around
# each text node. On the Bench Courier's 30 KB pages this takes the check from 2.8 to 0.65 ms
# a page, which was half of what a page cost the crawl's process with extraction off.
_EXECUTABLE_SCRIPTS = etree.XPath(
    "count(//script[not(@type) or normalize-space(@type)='' or @type='module'"
    " or contains(translate(@type, 'JAVSCRIPT', 'javscript'), 'javascript')"
    " or contains(translate(@type, 'ECMASRIPT', 'ecmasript'), 'ecmascript')])")
_WITH_ID = etree.XPath("//*[@id]")  # filtered in Python: 5x cheaper than one XPath per id
_ROOT_TEXT = etree.XPath(".//text()[not(ancestor::script or ancestor::noscript)]",
                         smart_strings=False)
_ROOT_CHILDREN = etree.XPath("*[not(self::script or self::noscript)]")
_NOSCRIPT_TEXT = etree.XPath("//body//noscript//text()", smart_strings=False)
_VISIBLE_TEXT = etree.XPath("//body//text()[not(ancestor::script or ancestor::style or "
                            "ancestor::noscript or ancestor::template)]", smart_strings=False)
_NOSCRIPT_NOTICE = re.compile(r"javascript|enable", re.IGNORECASE)


def needs_browser(response: HtmlResponse) -> str | None:
    """Why the static capture of this page looks incomplete, or None. Only a page that runs
    scripts can be built by them: an empty application root (``#root``, ``#app``,
    ``#__next``, ...), a ``<noscript>`` notice, or little visible text."""
    document = response.selector.root
    scripts = int(_EXECUTABLE_SCRIPTS(document))
    if not scripts:
        return None
    roots: dict[str, list[etree._Element]] = {}
    for element in _WITH_ID(document):
        if (name := element.get("id")) in APP_ROOTS:
            roots.setdefault(name, []).append(element)
    for name in APP_ROOTS:
        if (found := roots.get(name)) and not any(
                "".join(_ROOT_TEXT(root)).strip() or _ROOT_CHILDREN(root) for root in found):
            return f"app shell: #{name} is empty"
    notice = " ".join(" ".join(_NOSCRIPT_TEXT(document)).split())
    if _NOSCRIPT_NOTICE.search(notice):
        return f"noscript notice: {notice[:80]!r}"
    words = sum(len(text.split()) for text in _VISIBLE_TEXT(document))
    if words < MIN_WORDS:
        return f"little text ({words} words) while {scripts} script(s) run"
    return None


def browser_request(crawler: Crawler, response: HtmlResponse) -> Request | None:
    """The request that renders this statically fetched page in the browser, if the crawl's
    mode asks for it (``browser``: every page; ``auto``: :func:`needs_browser`); None for a
    page that has been to the browser already."""
    mode = crawler.settings.get("NEWSARCHIVE_RENDER", AUTO)
    if mode == STATIC or response.meta.get(RENDER_META):
        return None
    reason = "render mode browser" if mode == BROWSER else needs_browser(response)
    if reason is None:
        return None
    if mode == AUTO:
        crawler.stats.inc_value(ESCALATED_STAT)
    request = response.request
    assert request is not None  # a response the spider parses has its request
    meta = {key: value for key, value in response.meta.items() if key not in DOWNLOAD_META}
    return request.replace(url=response.url, dont_filter=True, meta={
        **meta, RENDER_META: BROWSER, REASON_META: reason, STATIC_RESPONSE_META: response})
