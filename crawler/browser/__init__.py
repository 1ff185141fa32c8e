"""Browser capture: pages rendered in Chromium, every request they make archived.

Design. Chromium (Debian's, driven by Playwright) loads the page, and every request the page
makes, script fetches included, is intercepted (``page.route("**/*")``) and downloaded by
Scrapy's own downloader (``engine.download_async``) instead of Chromium's network stack,
as Zeno and Heritrix's browser support do. So one path serves static and browser capture
alike: the SSRF guard (``crawler.resolver``) refuses non-public addresses when Scrapy
connects, the exchange is archived from the wire (``crawler.wire``, ``WarcArchiver``:
content-encoded bytes, the real status line and headers, request records), and stats count
it. Chromium is only handed the decoded response. A recording proxy in front of Chromium
(Brozzler with warcprox) would need a man-in-the-middle certificate authority for HTTPS and
a second archiving path; scrapy-playwright's serialized DOM or a HAR would lose the wire
bytes. What interception misses (a redirect's follow-up request, WebSockets, service
workers) cannot leave Chromium at all: its only route out is a proxy that refuses every
connection (:mod:`.chromium`). Redirects are therefore followed by Scrapy, hop by hop, each
hop archived and checked by the guard (:mod:`.network`).

The page's document is the response the crawl fetched statically (archived once); what the
browser adds is written as ``resource`` records concurrent to that response's record: a
full-page screenshot (``urn:view:{url}``, as Browsertrix names it) and the rendered DOM
(``urn:dom:{url}``), which replay shows and extraction reads.

* :mod:`crawler.render` — modes, and which pages go to the browser;
* :mod:`.middleware` — :class:`BrowserCapture`, the downloader middleware rendering a page;
* :mod:`.network` — a page's requests through Scrapy;
* :mod:`.chromium` — finding, launching, isolating and closing Chromium.
"""

from crawler.browser.middleware import BrowserCapture

__all__ = ["BrowserCapture"]
