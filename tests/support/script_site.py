"""A news site on 127.0.0.1 whose story is built by scripts, with a request log.

``/story.html`` is an app shell (``<div id="root">``, a ``<noscript>`` notice): its script
fetches ``/api/article.json`` (served gzip-encoded, :data:`ARTICLE_JSON_GZIP` byte for
byte) and writes the headline and body into the page; fetches ``/api/moved``, which
redirects (302) to ``/api/extra.json``, and adds that paragraph too; shows a lazy image
(``/img/lazy.png``) only once it is scrolled into view, far below the first screen; and
tries two addresses the SSRF guard refuses (:data:`REFUSED_URLS`). ``/plain.html`` and
``/plain2.html`` are ordinary articles, all in their HTML, sharing ``/style.css``.
"""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from tests.support.images import png
from tests.support.served import QuietHandler, ServedSite

HEADLINE = "Harbour tunnel opens after a decade of digging"
BODY = ("The harbour tunnel opened to traffic on Monday morning, ten years after the first "
        "boring machine went underground. Engineers said the crossing now takes four minutes "
        "instead of the forty the ferry needed, and the city expects twelve thousand cars a "
        "day. Residents of the north shore, who campaigned for the tunnel for thirty years, "
        "lined the approach road with flags. The mayor thanked the crews who worked through "
        "three winters and two floods to finish the job.")
EXTRA = "A correction appended through a redirected request."
ARTICLE_JSON = json.dumps({"headline": HEADLINE, "body": BODY}).encode()
ARTICLE_JSON_GZIP = gzip.compress(ARTICLE_JSON, mtime=0)
REFUSED_URLS = ("http://10.255.255.1/x", "http://169.254.169.254/")
PLAIN_TEXT = " ".join(f"Paragraph {n}: the council approved the new bus timetable after a "
                      "long debate about night services and fares." for n in range(10))


LAZY_PNG = png(40, 30, (200, 30, 30))

STORY = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Harbour tunnel</title><meta property="og:type" content="article"></head><body>
<noscript>Please enable JavaScript to read this article.</noscript>
<div id="root"></div>
<img id="lazy" alt="tunnel" data-src="/img/lazy.png" width="40" height="30"
     style="display:block; margin-top:3000px">
<script>
fetch("/api/article.json").then(r => r.json()).then(story => {{
  document.getElementById("root").innerHTML =
    "<article><h1>" + story.headline + "</h1><p id='body'>" + story.body + "</p></article>";
  return fetch("/api/moved");
}}).then(r => r.text()).then(text => {{
  document.querySelector("article").insertAdjacentHTML("beforeend",
                                                      "<p id='extra'>" + text + "</p>");
}});
for (const url of {json.dumps(list(REFUSED_URLS))}) {{
  fetch(url).catch(() => {{}});
}}
new IntersectionObserver((entries, observer) => {{
  for (const entry of entries) {{
    if (entry.isIntersecting) {{
      entry.target.src = entry.target.dataset.src;
      observer.disconnect();
    }}
  }}
}}).observe(document.getElementById("lazy"));
</script></body></html>""".encode()

STYLE = b"body { font-family: serif; color: #222; }\n"


def plain(title: str) -> bytes:
    """An ordinary article, all in its HTML, with the site's stylesheet."""
    return (f"""<!doctype html><html lang="en"><head><title>{title}</title>
<link rel="stylesheet" href="/style.css">
<script type="application/ld+json">{{"@type": "NewsArticle", "headline": "{title}"}}</script>
</head><body><article><h1>{title}</h1><p>{PLAIN_TEXT}</p></article></body></html>""").encode()


class ScriptSite(ServedSite):
    """``with ScriptSite() as site:`` serves it; ``site.requests`` lists the paths asked for."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._lock = threading.Lock()
        super().__init__(self._handler())

    def render(self, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
        html = [("Content-Type", "text/html; charset=utf-8")]
        pages: dict[str, tuple[int, list[tuple[str, str]], bytes]] = {
            "/story.html": (200, html, STORY),
            "/plain.html": (200, html, plain("Bus timetable approved")),
            "/plain2.html": (200, html, plain("Night buses return")),
            "/style.css": (200, [("Content-Type", "text/css")], STYLE),
            "/api/article.json": (200, [("Content-Type", "application/json"),
                                        ("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")],
                                  ARTICLE_JSON_GZIP),
            "/api/moved": (302, [("Location", "/api/extra.json")], b""),
            "/api/extra.json": (200, [("Content-Type", "text/plain; charset=utf-8")],
                                EXTRA.encode()),
            "/img/lazy.png": (200, [("Content-Type", "image/png")], LAZY_PNG),
            "/robots.txt": (200, [("Content-Type", "text/plain")], b"User-agent: *\nAllow: /\n"),
        }
        return pages.get(path, (404, [("Content-Type", "text/plain")], b"not found\n"))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with site._lock:
                    site.requests.append(self.path)
                status, headers, body = site.render(urlsplit(self.path).path)
                self.answer(status, body, headers)

        return Handler
