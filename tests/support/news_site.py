"""A small news site on 127.0.0.1 whose content tests change between crawls, with a request log.

Home page, ``/world/`` and ``/business/`` sections, articles with JSON-LD ``NewsArticle`` and
``<link rel="canonical">``, an RSS feed (announced on the home page by ``<link
rel="alternate">``), an Atom feed, a Google News sitemap and a sitemap index (announced in
robots.txt), an old sitemap, an old news-sitemap entry and an old RSS item that a horizon
must hide, a PDF report linked from a section, and an endless calendar
(``/calendar/YYYY/MM/DD`` links to the day before and after). Hubs render deterministically,
so an unchanged hub is byte-identical from one crawl to the next.
"""

from __future__ import annotations

import html
import json
import re
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from tests.support.served import QuietHandler, ServedSite

SECTIONS = ("world", "business")
OLD_ARTICLE = "/world/2025/10/01/harbour-history-from-a-year-ago.html"
OLD_NEWS_ENTRY = "/business/2026/01/05/old-news-sitemap-entry-story.html"
OLD_SITEMAP = "/sitemap-2025.xml"
OLD_FEED_ITEM = "/world/2026/09/01/old-feed-item-past-the-horizon.html"
REPORT = "/business/download/annual-port-authority-report"  # a PDF, no extension in its URL
REPORT_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
CALENDAR_DAY = date(2026, 11, 24)
_CALENDAR = re.compile(r"^/calendar/(\d{4})/(\d{2})/(\d{2})$")


@dataclass
class Article:
    section: str
    slug: str
    title: str
    text: str
    published: datetime
    in_feeds: bool = True  # listed in the feeds and the news sitemap
    link_suffix: str = ""  # appended to the home page's link (e.g. "?ref=home")
    on_home: bool = True  # linked from the home page (else from its section only)

    @property
    def path(self) -> str:
        return f"/{self.section}/{self.published:%Y/%m/%d}/{self.slug}.html"


class NewsSite(ServedSite):
    """``with NewsSite() as site:`` serves it; ``site.requests`` lists the paths asked for."""

    def __init__(self) -> None:
        self.articles: dict[str, Article] = {}
        self.requests: list[str] = []
        self._lock = threading.Lock()
        super().__init__(self._handler())
        self.now = datetime.now(UTC).replace(microsecond=0)

    # -- content -------------------------------------------------------------------------
    def add_article(self, section: str, slug: str, title: str, *, age: timedelta = timedelta(
            hours=3), **fields: object) -> Article:
        text = " ".join(f"{title} paragraph {n}: the harbour committee met again and "
                        "residents asked questions about the timetable." for n in range(8))
        article = Article(section, slug, title, text, self.now - age, **fields)  # type: ignore
        self.articles[article.path] = article
        return article

    def take_log(self) -> list[str]:
        """The paths requested since the last call (query strings included)."""
        with self._lock:
            log, self.requests = self.requests, []
        return log

    # -- rendering -----------------------------------------------------------------------
    def render(self, target: str) -> tuple[int, str, bytes]:
        path = urlsplit(target).path
        if path == "/":
            return self._html(self._home())
        if path.strip("/") in SECTIONS:
            return self._html(self._section(path.strip("/")))
        if path in self.articles:
            return self._html(self._article(self.articles[path]))
        if match := _CALENDAR.match(path):
            return self._html(self._calendar(date(*map(int, match.groups()))))
        pages = {"/robots.txt": ("text/plain", self._robots),
                 "/feed.xml": ("application/rss+xml", self._rss),
                 "/atom.xml": ("application/atom+xml", self._atom),
                 "/sitemap-index.xml": ("application/xml", self._sitemap_index),
                 "/news-sitemap.xml": ("application/xml", self._news_sitemap),
                 OLD_SITEMAP: ("application/xml", self._old_sitemap)}
        if path in pages:
            mime, render = pages[path]
            return 200, mime, render().encode()
        if path == REPORT:
            return 200, "application/pdf", REPORT_PDF
        return 404, "text/plain", b"not found\n"

    def _listed(self) -> list[Article]:
        return sorted((a for a in self.articles.values() if a.in_feeds),
                      key=lambda a: a.published, reverse=True)

    @staticmethod
    def _html(body: str) -> tuple[int, str, bytes]:
        return 200, "text/html; charset=utf-8", body.encode()

    def _home(self) -> str:
        links = "".join(f'<li><a href="{a.path}{a.link_suffix}">{html.escape(a.title)}</a></li>'
                        for a in sorted(self.articles.values(), key=lambda a: a.path)
                        if a.on_home)
        return ('<!doctype html><html><head><title>The Test Tribune</title>'
                '<meta property="og:type" content="website">'
                '<link rel="alternate" type="application/rss+xml" href="/feed.xml">'
                '</head><body><nav><a href="/world/">World</a> '
                f'<a href="/business/">Business</a></nav><ul>{links}</ul></body></html>')

    def _section(self, section: str) -> str:
        links = "".join(f'<li><a href="{a.path}">{html.escape(a.title)}</a></li>'
                        for a in sorted(self.articles.values(), key=lambda a: a.path)
                        if a.section == section and not a.link_suffix)
        extra = (f'<a href="/calendar/{CALENDAR_DAY:%Y/%m/%d}">Calendar</a>'
                 if section == "world" else f'<a href="{REPORT}">Annual report (PDF)</a>')
        return (f'<!doctype html><html><head><title>{section.title()}</title></head><body>'
                f'<h1>{section.title()}</h1><ul>{links}</ul>{extra}</body></html>')

    def _article(self, article: Article) -> str:
        data = {"@context": "https://schema.org", "@type": "NewsArticle",
                "headline": article.title, "datePublished": article.published.isoformat(),
                "author": {"@type": "Person", "name": "Ada Reporter"}}
        return ('<!doctype html><html lang="en"><head>'
                f'<title>{html.escape(article.title)}</title>'
                f'<link rel="canonical" href="{self.url}{article.path}">'
                f'<script type="application/ld+json">{json.dumps(data)}</script></head><body>'
                f'<article><h1>{html.escape(article.title)}</h1><p>By Ada Reporter</p>'
                + "".join(f"<p>{html.escape(p)}.</p>" for p in article.text.split(". "))
                + f'</article><a href="/{article.section}/">More {article.section}</a>'
                '</body></html>')

    @staticmethod
    def _calendar(day: date) -> str:
        one = timedelta(days=1)
        return (f'<!doctype html><html><head><title>Events {day}</title></head><body>'
                f'<a href="/calendar/{day - one:%Y/%m/%d}">previous day</a> '
                f'<a href="/calendar/{day + one:%Y/%m/%d}">next day</a></body></html>')

    def _robots(self) -> str:
        return f"User-agent: *\nAllow: /\n\nSitemap: {self.url}/sitemap-index.xml\n"

    def _rss(self) -> str:
        listed = [(a.title, a.path, a.published) for a in self._listed()]
        listed.append(("Old", OLD_FEED_ITEM, self.now - timedelta(days=40)))
        items = "".join(f"<item><title>{html.escape(title)}</title>"
                        f"<link>{self.url}{path}</link>"
                        f"<pubDate>{format_datetime(published)}</pubDate></item>"
                        for title, path, published in listed)
        return ('<?xml version="1.0"?><rss version="2.0"><channel><title>Tribune</title>'
                f"{items}</channel></rss>")

    def _atom(self) -> str:
        entries = "".join(f"<entry><title>{html.escape(a.title)}</title>"
                          f'<link rel="alternate" href="{self.url}{a.path}"/>'
                          f"<updated>{a.published.isoformat()}</updated></entry>"
                          for a in self._listed() if a.section == "business")
        return ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'
                f"<title>Tribune business</title>{entries}</feed>")

    def _news_sitemap(self) -> str:
        entries = [(a.path, a.published) for a in self._listed()]
        entries.append((OLD_NEWS_ENTRY, self.now - timedelta(days=40)))
        urls = "".join(
            f"<url><loc>{self.url}{path}</loc><news:news><news:publication>"
            "<news:name>Tribune</news:name><news:language>en</news:language>"
            f"</news:publication><news:publication_date>{published.isoformat()}"
            "</news:publication_date><news:title>t</news:title></news:news></url>"
            for path, published in entries)
        return ('<?xml version="1.0" encoding="UTF-8"?>'
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
                'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
                f"{urls}</urlset>")

    def _sitemap_index(self) -> str:
        return ('<?xml version="1.0" encoding="UTF-8"?>'
                '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"<sitemap><loc>{self.url}/news-sitemap.xml</loc></sitemap>"
                f"<sitemap><loc>{self.url}{OLD_SITEMAP}</loc>"
                "<lastmod>2025-10-01T00:00:00Z</lastmod></sitemap></sitemapindex>")

    def _old_sitemap(self) -> str:
        return ('<?xml version="1.0" encoding="UTF-8"?>'
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"<url><loc>{self.url}{OLD_ARTICLE}</loc><lastmod>2025-10-01</lastmod></url>"
                "</urlset>")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with site._lock:
                    site.requests.append(self.path)
                status, mime, body = site.render(self.path)
                self.answer(status, body, [("Content-Type", mime)])

        return Handler
