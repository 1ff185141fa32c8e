"""A small archive built record by record for replay tests: three versions of a story (with
a base href, meta refresh, srcset, CSS url()s, a form), a stylesheet, an image, a redirect, a
404, a Latin-1 page and an extracted article, at known times."""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.archiver import Archiver
from archive.catalog import Catalog
from archive.config import ArchiveSettings
from archive.warc import HttpExchange
from tests.support.warc import ClockedWriter, exchange

SITE = "http://news.example.org"
STORY = f"{SITE}/story?id=7"
T1, T2, T3 = "20261103100000", "20261103120000", "20261105120000"


def ts_datetime(ts: str) -> datetime:
    return datetime.strptime(ts, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def story_html(version: str) -> bytes:
    return f"""<!DOCTYPE html>
<html><head><title>Story {version}</title>
<base href="{SITE}/news/">
<meta http-equiv="refresh" content="300; url=/story?id=7&amp;fresh=1">
<link rel="stylesheet" href="/assets/site.css" integrity="sha384-abc">
<link rel="icon" href="favicon.ico">
<script src="https://cdn.example.net/app.js"></script>
<style>body {{ background: url('img/bg.png') }} @import "print.css";</style>
</head><body>
<p style="background-image: url(&quot;/img/p.png&quot;)">Version {version} café</p>
<a href="other.html#top">relative</a> <a href="https://elsewhere.example.com/x?a=1">abs</a>
<a href="#frag">frag</a> <a href="mailto:desk@example.org">mail</a>
<img src="/img/a.png" srcset="/img/a1.png 1x, /img/a2.png 2x">
<picture><source srcset="/img/w.webp"></picture>
<video poster="/img/poster.jpg"></video>
<iframe src="/embed.html"></iframe>
<form action="/search"><input name="q"></form>
</body></html>""".encode()


CSS = (b'@import url("fonts.css");\n@import \'more.css\';\n'
       b"body { background: url(/img/bg.png) }\n.logo { background: url(\"logo.svg\") }\n")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def story_headers(version: str) -> list[tuple[str, str]]:
    return [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip"),
            ("Set-Cookie", "session=1; Path=/"), ("Set-Cookie", "tracking=2; Path=/"),
            ("Connection", "keep-alive"), ("Keep-Alive", "timeout=5"),
            ("X-Version", version), ("Content-Length", "999")]


def build_archive(data_dir: Path, storage_url: str | None = None,
                  database_url: str | None = None) -> None:
    """Three versions of STORY, a stylesheet, an image, a redirect, a 404, a Latin-1 page
    and an article; stored (closed and uploaded) in storage."""
    config = ArchiveSettings(data_dir=data_dir, database_url=database_url,
                             storage_url=storage_url)
    catalog = Catalog(config.database_url)
    writer = ClockedWriter(config.spool_dir, at=ts_datetime(T1))
    archiver = Archiver(catalog, config.open_storage(), writer)

    def at(ts: str, item: HttpExchange) -> Any:
        writer.at = ts_datetime(ts)
        return archiver.archive(item)

    for ts, version in ((T1, "v1"), (T2, "v2"), (T3, "v3")):
        at(ts, exchange(STORY, gzip.compress(story_html(version), mtime=0),
                        headers=story_headers(version),
                        reason="Everything Fine" if version == "v3" else "OK"))
    at(T2, exchange(f"{SITE}/assets/site.css", CSS, headers=[("Content-Type", "text/css")]))
    at(T2, exchange(f"{SITE}/img/a.png", gzip.compress(PNG, mtime=0),
                    headers=[("Content-Type", "image/png"), ("Content-Encoding", "gzip")]))
    at(T2, exchange(f"{SITE}/old", b"moved", headers=[("Location", "/story?id=7"),
                                                     ("Content-Type", "text/plain")],
                    status=301, reason="Moved Permanently"))
    at(T2, exchange(f"{SITE}/missing", b"<html><body>Not here</body></html>",
                    headers=[("Content-Type", "text/html")], status=404, reason="Not Found"))
    at(T2, exchange(f"{SITE}/latin", "<html><body><p>Fran\u00e7ais \u00e9t\u00e9</p></body>"
                    "</html>".encode("iso-8859-1"),
                    headers=[("Content-Type", "text/html; charset=iso-8859-1")]))
    article = at(T2, exchange(f"{SITE}/article", b"<html><body><h1>Harbour</h1></body></html>",
                              headers=[("Content-Type", "text/html")]))
    archiver.annotate(article, {"title": "Harbour"}, article={
        "url": f"{SITE}/article", "title": "Harbour bridge reopens", "authors": ["A. Writer"],
        "published": "2026-11-03", "language": "en", "text": "The bridge reopened.",
        "word_count": 3}, extractor_version="test-1")
    archiver.close()
    catalog.dispose()


def parse_links(value: str) -> list[tuple[str, dict[str, str]]]:
    """A tiny RFC 8288 link-value parser: [(target, {param: value})]."""
    links = []
    for match in re.finditer(r'<([^>]*)>((?:\s*;\s*[\w*-]+="[^"]*")*)', value):
        params = dict(re.findall(r'([\w*-]+)="([^"]*)"', match.group(2)))
        links.append((match.group(1), params))
    return links
