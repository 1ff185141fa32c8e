"""A news site whose pages need every kind of requisite, on two hosts, with a request log.

``site`` serves on 127.0.0.1 and ``cdn`` on 127.0.0.2 (a CDN of the site: another host).
Two articles share a stylesheet on the CDN (which ``@import``s another, gzip-encoded, and
uses a web font and a background image through ``url()``) and the logo; the first article
also has a ``srcset`` image, a ``<picture>``, the four lazy-loading attributes, an icon, a
script, a video with a poster, an ``og:image`` on the CDN, inline ``style`` and ``<style>``
backgrounds, a same-site frame (with its own image) and a frame on the CDN host (another
site: not a requisite to fetch). The CDN's robots.txt disallows everything.

Every resource answers with an ``ETag`` and a ``Last-Modified`` and honours
``If-None-Match`` with a 304.
"""

from __future__ import annotations

import gzip
import threading
import zlib
from collections import Counter
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from types import TracebackType

from tests.support.images import png
from tests.support.served import QuietHandler, ServedSite

ARTICLE = "/news/2026/12/01/bridge-reopens-after-repairs.html"
SECOND = "/news/2026/12/02/ferry-timetable-changes-for-winter.html"
LAST_MODIFIED = formatdate(1_700_000_000, usegmt=True)


class _Host(ServedSite):
    """One HTTP server: path → (content type, body, content coding)."""

    def __init__(self, address: str) -> None:
        self.routes: dict[str, tuple[str, bytes, str | None]] = {}
        self.requests: Counter[str] = Counter()
        self.conditional: Counter[str] = Counter()  # requests that carried If-None-Match
        self._lock = threading.Lock()
        super().__init__(self._handler(), address)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        host = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = self.path
                with host._lock:
                    host.requests[path] += 1
                    if self.headers.get("If-None-Match"):
                        host.conditional[path] += 1
                route = host.routes.get(path)
                if route is None:
                    self.answer(404)
                    return
                content_type, body, coding = route
                etag = f'"{zlib.crc32(body):08x}"'
                if self.headers.get("If-None-Match") == etag:
                    self.answer(304, headers=[("ETag", etag)])
                    return
                self.answer(200, body, [
                    ("Content-Type", content_type), ("ETag", etag),
                    ("Last-Modified", LAST_MODIFIED),
                    *([("Content-Encoding", coding)] if coding else [])])

        return Handler


class RequisitesSite:
    """``with RequisitesSite() as site:``; ``site.url``/``site.cdn_url`` are the two hosts."""

    def __init__(self) -> None:
        self.site = _Host("127.0.0.1")
        self.cdn = _Host("127.0.0.2")
        self._build()

    @property
    def url(self) -> str:
        return self.site.url

    @property
    def cdn_url(self) -> str:
        return self.cdn.url

    def __enter__(self) -> RequisitesSite:
        self.site.__enter__()
        self.cdn.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.site.__exit__(exc_type, exc, tb)
        self.cdn.__exit__(exc_type, exc, tb)

    # the requisites of ARTICLE (host, path), and of SECOND
    def article_requisites(self) -> set[tuple[str, str]]:
        site, cdn = self.url, self.cdn_url
        return {
            (cdn, "/css/site.css"), (cdn, "/css/typography.css"), (cdn, "/fonts/serif.woff2"),
            (cdn, "/img/paper.png"), (cdn, "/img/og.png"),
            (site, "/favicon.ico"), (site, "/js/app.js"), (site, "/img/logo.png"),
            (site, "/img/hero-480.png"), (site, "/img/hero-960.png"),
            (site, "/img/chart.webp"), (site, "/img/chart.png"),
            (site, "/img/lazy-src.png"), (site, "/img/lazy-srcset.png"),
            (site, "/img/lazy-lazysrc.png"), (site, "/img/lazy-original.png"),
            (site, "/img/poster.png"), (site, "/media/clip.mp4"),
            (site, "/img/inline-bg.png"), (site, "/img/style-bg.png"),
            (site, "/embed/map.html"), (site, "/img/map.png"),
        }

    def second_requisites(self) -> set[tuple[str, str]]:
        return {(self.cdn_url, "/css/site.css"), (self.cdn_url, "/css/typography.css"),
                (self.cdn_url, "/fonts/serif.woff2"), (self.cdn_url, "/img/paper.png"),
                (self.url, "/img/logo.png")}

    def _build(self) -> None:
        cdn = self.cdn_url
        html = "text/html; charset=utf-8"
        image = "image/png"
        self.cdn.routes.update({
            "/robots.txt": ("text/plain", b"User-agent: *\nDisallow: /\n", None),
            "/css/site.css": ("text/css", (
                b'@import "typography.css";\n'
                b'@font-face { font-family: Serif; src: url("../fonts/serif.woff2") '
                b'format("woff2"); }\n'
                b"body { background: #f4f1ea url(/img/paper.png) repeat; margin: 0; }\n"
                b"header { background: #123; color: #fff; padding: 16px; }\n"
                b".hero { width: 480px; height: 120px; }\n"), None),
            "/css/typography.css": ("text/css", gzip.compress(
                b"h1 { font: bold 32px Serif, serif; color: #a22; }\n"
                b"p { font: 16px/1.5 Serif, serif; }\n", mtime=0), "gzip"),
            "/fonts/serif.woff2": ("font/woff2", b"wOF2\x00\x01\x00\x00fake-font-bytes", None),
            "/img/paper.png": (image, png(8, 8, (244, 241, 234)), None),
            "/img/og.png": (image, png(12, 6, (10, 90, 160)), None),
            "/ad.html": (html, b"<!doctype html><p>an advertisement</p>", None),
        })
        article = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Bridge reopens after repairs</title>
<link rel="stylesheet" href="{cdn}/css/site.css">
<link rel="icon" href="/favicon.ico">
<meta property="og:type" content="article">
<meta property="og:image" content="{cdn}/img/og.png">
<script src="/js/app.js"></script>
<style>.aside {{ background: url('/img/style-bg.png'); height: 20px; }}</style>
</head><body>
<header><img src="/img/logo.png" alt="The Harbour Herald" width="120" height="30"></header>
<article><h1>Bridge reopens after repairs</h1>
<img class="hero" srcset="/img/hero-480.png 480w, /img/hero-960.png 960w"
     sizes="480px" src="/img/hero-480.png" alt="">
<picture><source srcset="/img/chart.webp" type="image/webp">
<img src="/img/chart.png" alt="chart"></picture>
<p>The harbour bridge reopened on Monday after eight months of repairs.</p>
<img data-src="/img/lazy-src.png" alt=""><img data-srcset="/img/lazy-srcset.png 1x" alt="">
<img data-lazy-src="/img/lazy-lazysrc.png" alt=""><img data-original="/img/lazy-original.png"
 alt="">
<video poster="/img/poster.png" src="/media/clip.mp4" width="160" height="90"></video>
<div style="background-image: url(&quot;/img/inline-bg.png&quot;); height: 10px"></div>
<div class="aside"></div>
<iframe src="/embed/map.html" width="200" height="100"></iframe>
<iframe src="{cdn}/ad.html" width="200" height="50"></iframe>
<a href="{SECOND}">Ferry timetable</a> <a href="/img/logo.png">the logo</a>
</article></body></html>"""
        second = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ferry timetable changes</title>
<link rel="stylesheet" href="{cdn}/css/site.css"></head><body>
<header><img src="/img/logo.png" alt="The Harbour Herald" width="120" height="30"></header>
<article><h1>Ferry timetable changes for winter</h1><p>Fewer sailings from December.</p>
</article></body></html>"""
        self.site.routes.update({
            ARTICLE: (html, article.encode(), None),
            SECOND: (html, second.encode(), None),
            "/embed/map.html": (html, b'<!doctype html><img src="/img/map.png" alt="map">',
                                None),
            "/favicon.ico": ("image/x-icon", png(4, 4, (200, 0, 0)), None),
            "/js/app.js": ("application/javascript", b"document.documentElement.dataset.js=1;",
                           None),
            "/img/logo.png": (image, png(120, 30, (18, 52, 86)), None),
            "/media/clip.mp4": ("video/mp4", b"\x00\x00\x00\x18ftypmp42fake-video", None),
        })
        for name, colour in (("hero-480", (200, 120, 40)), ("hero-960", (200, 121, 40)),
                             ("chart", (40, 160, 90)), ("lazy-src", (1, 2, 3)),
                             ("lazy-srcset", (4, 5, 6)), ("lazy-lazysrc", (7, 8, 9)),
                             ("lazy-original", (10, 11, 12)), ("poster", (90, 90, 90)),
                             ("inline-bg", (230, 230, 250)), ("style-bg", (250, 230, 230)),
                             ("map", (30, 120, 30))):
            self.site.routes[f"/img/{name}.png"] = (image, png(16, 16, colour), None)
        self.site.routes["/img/chart.webp"] = ("image/webp", b"RIFF\x1a\x00\x00\x00WEBPVP8 ",
                                               None)
