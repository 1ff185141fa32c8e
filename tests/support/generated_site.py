"""A generated news site on 127.0.0.1 for discovery tests and benchmarks, with a request log.

``GeneratedSite(scheme, articles=600, amp=False, pagination="query", seed=16)`` serves a
deterministic site whose article URLs follow one of :data:`SCHEMES`; pages are rendered per
request from the seed and the moment the site was built (``now``: every date is relative to
it, the newest article is minutes old, the oldest weeks). Ground truth: ``articles`` (newest
first), :meth:`~GeneratedSite.article_at` / :meth:`~GeneratedSite.is_article` (an AMP twin
or a session-id variant is its article) and :meth:`~GeneratedSite.traps` (which trap a URL
belongs to).

* ``/``: the :data:`FRONT_PAGE` newest articles, nav to the :data:`SECTIONS`, a few tags, the
  calendar, the filters and an "about" link (the repeating-path trap); ``og:type=website``.
* ``/SECTION/`` and ``/tag/TAG/``: :data:`PER_PAGE` articles a page, newest first, paginated
  to the oldest (``?page=N`` or ``/page/N``), links to the first, last, previous, next and
  two pages either side; every other section declares JSON-LD ``CollectionPage``.
* Articles: JSON-LD ``NewsArticle`` with ``datePublished``, ``og:type=article``, a byline,
  paragraphs, related articles, the front page and sections, their tags and calendar day;
  with ``amp=True`` a ``rel=amphtml`` twin under ``/amp/`` whose own links stay in AMP.
* Traps (:data:`TRAPS`): ``calendar`` (``/calendar/YYYY/MM/DD``, that day's articles and
  links to the day before and after, for ever); ``facets`` (``/explore?sort=..&color=..``:
  each page links to every combination one toggle away, no digits in any of them);
  ``sessions`` (one link in :data:`SESSION_EVERY` gets ``?sid=HEX``, fixed per source and
  target, and a page asked for with a ``sid`` passes it on to all its links);
  ``repeating`` (``/about/``, whose relative links lead to ``/about/contact/about/...``).
* ``/feed.xml`` (RSS, the :data:`FEED_ITEMS` newest with ``pubDate``), ``/news-sitemap.xml``
  (Google News, the last :data:`NEWS_SITEMAP_AGE`) and ``/sitemap.xml`` (every article,
  oldest first, ``lastmod``), both sitemaps announced in ``/robots.txt``.

Hubs, feeds and sitemaps answer with an ``ETag`` and a ``Last-Modified`` (their newest
article) and honour ``If-None-Match`` / ``If-Modified-Since`` with a 304. ``requests``
records every request (path as sent, headers, status; ``take_log()`` empties it);
``publish(n)`` adds n articles published now, so hubs and feeds change between crawls.
"""

from __future__ import annotations

import bisect
import hashlib
import html
import json
import random
import re
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.support.served import QuietHandler, ServedSite

SCHEMES = ("date_slug", "long_slug", "short_id", "short_id_news", "short_id_story",
           "long_id", "query_id", "category_slug")
SECTIONS = ("world", "politics", "business", "technology", "science", "health", "sport",
            "culture")
TAGS = ("elections", "climate", "transport", "housing", "energy", "football", "courts",
        "education", "markets", "space", "weather", "music", "health-care", "farming",
        "tourism", "startups")
TRAPS = ("calendar", "facets", "sessions", "repeating")
FRONT_PAGE = 20
PER_PAGE = 15
FEED_ITEMS = 50
NEWS_SITEMAP_AGE = timedelta(days=2)
SESSION_EVERY = 6  # one link in six carries a session id
FACETS = {"sort": ("newest", "oldest", "relevance", "popular"),  # one value
          "color": ("red", "blue", "green", "amber", "violet", "teal"),  # any subset
          "size": ("small", "medium", "large", "huge"),
          "format": ("video", "audio", "text", "gallery")}
REPEATING = ("about", "contact")

_SUBJECTS = ("harbour bridge", "city council", "ferry service", "river museum", "state budget",
             "water board", "rail union", "coastal town", "national theatre", "city library",
             "night market", "port authority", "school board", "space agency", "wind farm",
             "dairy farmers", "tram network", "health ministry", "youth orchestra",
             "football club", "tech startup", "old brewery", "airport", "mountain village",
             "lifeboat crew", "central bank", "flood defence", "housing trust", "zoo",
             "science festival", "fishing fleet", "opera house", "bus drivers", "hospital",
             "border town", "chess club", "film archive", "solar plant", "postal service",
             "ski resort")
_VERBS = ("reopens", "approves", "delays", "rejects", "expands", "celebrates", "scraps",
          "unveils", "reviews", "doubles", "rebuilds", "cancels", "extends", "wins",
          "questions", "welcomes", "closes", "tests", "plans", "defends", "restores",
          "funds", "renames", "halts", "launches")
_TAILS = ("after two-year repair", "despite protests", "ahead of winter", "amid storm warnings",
          "for the first time", "after long debate", "under new rules", "at last",
          "before the summer", "after record year", "in surprise move", "with little notice",
          "to mixed reviews", "after public vote", "as costs climb", "after audit",
          "in landmark deal", "following complaints", "despite budget cuts",
          "after heavy rain", "on a shoestring", "with volunteer help", "after court ruling",
          "as visitors return", "amid staff shortages", "behind schedule", "ahead of schedule",
          "after safety review", "in quiet ceremony", "as prices fall")
_WORDS = ("the", "committee", "residents", "said", "on", "monday", "plans", "would", "change",
          "timetable", "council", "members", "questioned", "cost", "local", "businesses",
          "welcomed", "decision", "officials", "expect", "work", "to", "finish", "by",
          "spring", "harbour", "traffic", "engineers", "reported", "progress", "and", "a",
          "spokesperson", "added", "that", "further", "details", "follow", "next", "week")
_AUTHORS = ("Ada Reporter", "Ben Stringer", "Chloe Desk", "Dev Wire", "Eva Column")
_REPEATING_PATH = re.compile(r"^/(?:(?:about|contact)/)+$")
_CALENDAR_PATH = re.compile(r"^/calendar/(\d{4})/(\d{2})/(\d{2})$")


@dataclass(frozen=True)
class GeneratedArticle:
    url: str  # absolute, as the site links it
    published: datetime
    section: str
    title: str
    tags: tuple[str, ...]
    serial: int  # 0 for the oldest: the seed of its text

    @property
    def path(self) -> str:
        """Path and query of ``url`` (the site's own key)."""
        parts = urlsplit(self.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass(frozen=True)
class ServedRequest:
    path: str  # as sent, query included
    headers: dict[str, str]  # names lower-cased
    status: int


@dataclass(frozen=True)
class _Page:
    status: int
    content_type: str
    body: bytes
    last_modified: datetime | None = None
    validators: bool = False  # ETag / Last-Modified, conditional requests honoured


class GeneratedSite(ServedSite):
    """``with GeneratedSite("short_id") as site:`` serves it (see the module docstring)."""

    def __init__(self, scheme: str = "date_slug", *, articles: int = 600, amp: bool = False,
                 pagination: str = "query", seed: int = 16, now: datetime | None = None,
                 host: str = "127.0.0.1") -> None:
        if scheme not in SCHEMES:
            raise ValueError(f"unknown scheme {scheme!r}: one of {', '.join(SCHEMES)}")
        if pagination not in ("query", "path"):
            raise ValueError(f"pagination is 'query' (?page=N) or 'path' (/page/N), "
                             f"not {pagination!r}")
        super().__init__(self._handler(), host)
        self.scheme, self.amp, self.pagination, self.seed = scheme, amp, pagination, seed
        self.now = (now or datetime.now(UTC)).replace(microsecond=0)
        self.requests: list[ServedRequest] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._id_rng = random.Random(seed + 1)  # ids apart: the same titles in every scheme
        self._slugs: set[str] = set()
        self._last_id = {"short_id": 999, "short_id_news": 3999, "short_id_story": 0,
                         "query_id": 1999, "long_id": 10_000_000}.get(scheme, 0)
        self._oldest_first: list[GeneratedArticle] = []
        self._by_path: dict[str, GeneratedArticle] = {}
        self._by_list: dict[str, list[GeneratedArticle]] = {}  # "/world/", "/tag/x/"; oldest first
        self._by_day: dict[date, list[GeneratedArticle]] = {}
        ages, age = [], timedelta(seconds=self._rng.randint(120, 900))
        for _ in range(articles):
            ages.append(age)
            age += timedelta(seconds=self._rng.randint(600, 6600))
        for age in reversed(ages):
            self._add(self.now - age)

    # -- ground truth ------------------------------------------------------------------------
    @property
    def articles(self) -> list[GeneratedArticle]:
        """Every article, newest first."""
        return self._oldest_first[::-1]

    def article_at(self, url: str) -> GeneratedArticle | None:
        """The article ``url`` shows: itself, its AMP twin or a session-id variant."""
        path, query = self._split(url)
        query.pop("sid", None)
        if self.amp and path.startswith("/amp/"):
            path = path[4:]
        return self._by_path.get(path + (f"?{urlencode(query)}" if query else ""))

    def is_article(self, url: str) -> bool:
        return self.article_at(url) is not None

    def traps(self, url: str) -> set[str]:
        """The :data:`TRAPS` ``url`` belongs to (a session variant of a calendar page: two)."""
        path, query = self._split(url)
        found = {"sessions"} if "sid" in query else set()
        if _CALENDAR_PATH.match(path):
            found.add("calendar")
        elif path == "/explore":
            found.add("facets")
        elif _REPEATING_PATH.match(path) and path.count("/") > 2:
            found.add("repeating")  # /about/ itself is an ordinary page
        return found

    def publish(self, count: int = 1) -> list[GeneratedArticle]:
        """Add ``count`` articles published now (newest first): hubs and feeds change."""
        with self._lock:
            added = [self._add(datetime.now(UTC).replace(microsecond=0))
                     for _ in range(count)]
        return added[::-1]

    def take_log(self) -> list[ServedRequest]:
        """The requests received since the last call."""
        with self._lock:
            log, self.requests = self.requests, []
        return log

    # -- building ----------------------------------------------------------------------------
    def _add(self, published: datetime) -> GeneratedArticle:
        rng = self._rng
        section = rng.choice(SECTIONS)
        title, short_slug = self._title(section)
        tags = tuple(sorted(rng.sample(TAGS, 2)))
        self._last_id += (self._id_rng.randint(100, 9999) if self.scheme == "long_id"
                          else self._id_rng.randint(1, 5))
        path = self._article_path(section, title, short_slug, published)
        article = GeneratedArticle(self.url + path, published, section, title, tags,
                                   len(self._oldest_first))
        self._oldest_first.append(article)
        self._by_path[article.path] = article
        for key in (f"/{section}/", *(f"/tag/{tag}/" for tag in tags)):
            self._by_list.setdefault(key, []).append(article)
        self._by_day.setdefault(published.date(), []).append(article)
        return article

    def _title(self, section: str) -> tuple[str, str]:
        """A title whose slug no other article has, and a short slug (subject and verb) no
        other article of ``section`` has."""
        for attempt in range(21):
            subject, verb, tail = (self._rng.choice(words)
                                   for words in (_SUBJECTS, _VERBS, _TAILS))
            title, short = f"{subject} {verb} {tail}".capitalize(), _slug(f"{subject} {verb}")
            if attempt == 20:  # a large site: a unique suffix, letters (digits change shapes)
                suffix = _letters(len(self._oldest_first))
                title, short = f"{title} {suffix}", f"{short}-{suffix}"
            if _slug(title) not in self._slugs and f"{section}/{short}" not in self._slugs:
                break
        self._slugs.update((_slug(title), f"{section}/{short}"))
        return title, short

    def _article_path(self, section: str, title: str, short_slug: str,
                      published: datetime) -> str:
        slug, ident = _slug(title), self._last_id
        return {
            "date_slug": f"/{published:%Y/%m/%d}/{slug}.html",
            "long_slug": f"/{slug}",
            "short_id": f"/article/{ident}.html",
            "short_id_news": f"/news/{ident}",
            "short_id_story": f"/story/{ident}",
            "long_id": f"/news/{section}-{ident}",
            "query_id": f"/article.php?id={ident}",
            "category_slug": f"/{section}/{short_slug}",
        }[self.scheme]

    # -- rendering ---------------------------------------------------------------------------
    def render(self, target: str) -> _Page:
        """The answer to ``GET target`` (the handler applies conditional headers)."""
        path, query = self._split(target)
        sid = query.pop("sid", None)
        key = path + (f"?{urlencode(query)}" if query else "")
        links = _Links(key, sid)
        if article := self._by_path.get(key):
            return self._html(self._article(article, links, amp=False))
        if self.amp and path.startswith("/amp/") and (article := self._by_path.get(key[4:])):
            return self._html(self._article(article, links, amp=True))
        newest = self._oldest_first[-FRONT_PAGE:][::-1]
        if key == "/":
            return self._hub(self._front(newest, links), newest)
        if listing := self._listing(path, query, links):
            return listing
        if match := _CALENDAR_PATH.match(key):
            try:
                day = date(*map(int, match.groups()))
            except ValueError:
                return _not_found()
            listed = self._by_day.get(day, [])[::-1]
            return self._hub(self._calendar(day, listed, links), listed)
        if path == "/explore":
            return self._facets(query, links)
        if _REPEATING_PATH.match(key):
            other = REPEATING[1] if path.endswith(f"/{REPEATING[0]}/") else REPEATING[0]
            body = (f"<h1>About us</h1><p>Write to the newsroom.</p>"
                    f'<a href="{links.href(other + "/", relative_to=path)}">{other}</a>')
            return self._hub(_document("About us", self._chrome(body, links)), [])
        feeds = {"/robots.txt": ("text/plain", self._robots),
                 "/feed.xml": ("application/rss+xml", self._rss),
                 "/news-sitemap.xml": ("application/xml", self._news_sitemap),
                 "/sitemap.xml": ("application/xml", self._sitemap)}
        if key in feeds:
            content_type, build = feeds[key]
            return _Page(200, content_type, build().encode(), newest[0].published
                         if newest else self.now, validators=key != "/robots.txt")
        return _not_found()

    def _listing(self, path: str, query: dict[str, str], links: _Links) -> _Page | None:
        """A section's or a tag's page N, or None when ``path`` is neither."""
        number = 1
        if self.pagination == "path" and (match := re.match(r"^(/.+/)page/(\d+)$", path)):
            path, number = match[1], int(match[2])
        elif self.pagination == "query" and query.get("page", "").isdigit():
            number = int(query.pop("page"))
        if query or number < 1 or path not in self._by_list:
            return None
        members = self._by_list[path]
        last = max(1, -(-len(members) // PER_PAGE))
        if number > last:
            return _not_found()
        stop = len(members) - (number - 1) * PER_PAGE
        listed = members[max(0, stop - PER_PAGE):stop][::-1]
        name = path.strip("/").rsplit("/", 1)[-1]
        collection = name in SECTIONS and SECTIONS.index(name) % 2 == 0
        return self._hub(self._listing_page(path, name, number, last, listed, links,
                                            collection), listed)

    def _page_path(self, hub: str, number: int) -> str:
        if number == 1:
            return hub
        return f"{hub}?page={number}" if self.pagination == "query" else f"{hub}page/{number}"

    def _front(self, listed: list[GeneratedArticle], links: _Links) -> str:
        tags = " ".join(f'<a href="{links.href(f"/tag/{t}/")}">{t}</a>' for t in TAGS[:6])
        body = (f"<h1>The Generated Gazette</h1>{self._article_list(listed, links)}"
                f"<p>Trending: {tags}</p>")
        return _document("The Generated Gazette", self._chrome(body, links),
                         head='<meta property="og:type" content="website">'
                              '<link rel="alternate" type="application/rss+xml" '
                              'title="Gazette" href="/feed.xml">')

    def _listing_page(self, hub: str, name: str, number: int, last: int,
                      listed: list[GeneratedArticle], links: _Links, collection: bool) -> str:
        window = sorted({1, last, *range(max(1, number - 2), min(last, number + 2) + 1)})
        pages = " ".join(f'<a href="{links.href(self._page_path(hub, n))}">{n}</a>'
                         for n in window if n != number)
        if number > 1:
            pages = (f'<a rel="prev" href="{links.href(self._page_path(hub, number - 1))}">'
                     f"previous</a> {pages}")
        if number < last:
            pages += (f' <a rel="next" href="{links.href(self._page_path(hub, number + 1))}">'
                      "next</a>")
        title = name.replace("-", " ").title() + (f" (page {number})" if number > 1 else "")
        head = _jsonld({"@context": "https://schema.org", "@type": "CollectionPage",
                        "name": title}) if collection else ""
        body = f"<h1>{title}</h1>{self._article_list(listed, links)}<nav>{pages}</nav>"
        return _document(title, self._chrome(body, links), head=head)

    def _calendar(self, day: date, listed: list[GeneratedArticle], links: _Links) -> str:
        one = timedelta(days=1)
        body = (f"<h1>{day:%A %d %B %Y}</h1>{self._article_list(listed, links)}"
                f'<a href="{links.href(f"/calendar/{day - one:%Y/%m/%d}")}">previous day</a> '
                f'<a href="{links.href(f"/calendar/{day + one:%Y/%m/%d}")}">next day</a>')
        return _document(f"Stories of {day}", self._chrome(body, links))

    def _facets(self, query: dict[str, str], links: _Links) -> _Page:
        """``/explore``: any combination of :data:`FACETS` (one sort, any subset of the
        others); each page links to every combination one toggle away."""
        state = {name: query[name].split(",") for name in FACETS if query.get(name)}
        if (set(query) - set(FACETS) or len(state.get("sort", ())) > 1
                or any(v not in FACETS[n] for n, values in state.items() for v in values)):
            return _not_found()
        toggles = []
        for name, values in FACETS.items():
            for value in values:
                chosen = set(state.get(name, ()))
                if name == "sort":
                    chosen = set() if value in chosen else {value}
                else:
                    chosen ^= {value}
                target = {**state, name: [v for v in values if v in chosen]}
                encoded = "&".join(f"{n}={','.join(target[n])}" for n in FACETS
                                   if target.get(n))
                href = links.href("/explore" + (f"?{encoded}" if encoded else ""))
                toggles.append(f'<a href="{href}">{value}</a>')
        key = "&".join(f"{n}={','.join(v)}" for n, v in state.items())
        pool = self._oldest_first
        listed = random.Random(f"{self.seed}/{key}").sample(pool, min(10, len(pool)))
        body = (f"<h1>Explore</h1><nav>{' '.join(toggles)}</nav>"
                f"{self._article_list(listed, links)}")
        return self._hub(_document("Explore", self._chrome(body, links)), listed)

    def _article(self, article: GeneratedArticle, links: _Links, *, amp: bool) -> str:
        rng = random.Random(f"{self.seed}/{article.serial}")
        author = rng.choice(_AUTHORS)
        paragraphs = "".join(
            "<p>" + " ".join(" ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 16)))
                             .capitalize() + "." for _ in range(rng.randint(3, 5))) + "</p>"
            for _ in range(rng.randint(3, 6)))
        # the section's three older and two newer neighbours, and one from anywhere
        section = self._by_list[f"/{article.section}/"]
        at = _index(section, article)
        related = [*section[max(0, at - 3):at], *section[at + 1:at + 3],
                   rng.choice(self._oldest_first)]
        path = self._amp_path if amp else (lambda a: a.path)
        related_links = "".join(
            f'<li><a href="{links.href(path(a))}">{html.escape(a.title)}</a></li>'
            for a in dict.fromkeys(related) if a is not article)
        tags = " ".join(f'<a href="{links.href(f"/tag/{t}/")}">{t}</a>' for t in article.tags)
        day = f"/calendar/{article.published:%Y/%m/%d}"
        head = (f'<meta property="og:type" content="article">'
                f'<meta property="og:title" content="{html.escape(article.title)}">'
                + _jsonld({"@context": "https://schema.org", "@type": "NewsArticle",
                           "headline": article.title,
                           "datePublished": article.published.isoformat(),
                           "articleSection": article.section,
                           "author": {"@type": "Person", "name": author}}))
        if amp:
            head += f'<link rel="canonical" href="{html.escape(article.url)}">'
        elif self.amp:
            head += f'<link rel="amphtml" href="{html.escape(self.url + self._amp_path(article))}">'
        body = (f"<article><h1>{html.escape(article.title)}</h1>"
                f'<p class="byline">By {author}, <time datetime="'
                f'{article.published.isoformat()}">{article.published:%d %B %Y %H:%M}</time>'
                f"</p>{paragraphs}</article><p>Tags: {tags} · "
                f'<a href="{links.href(day)}">more from that day</a></p>'
                f"<h2>Related</h2><ul>{related_links}</ul>")
        return _document(article.title, self._chrome(body, links), head=head, amp=amp)

    def _amp_path(self, article: GeneratedArticle) -> str:
        return "/amp" + article.path

    def _chrome(self, body: str, links: _Links) -> str:
        """The header nav and footer every HTML page has."""
        nav = " ".join(f'<a href="{links.href(f"/{s}/")}">{s.title()}</a>' for s in SECTIONS)
        today = f"/calendar/{self.now:%Y/%m/%d}"
        return (f'<header><a href="{links.href("/")}">The Generated Gazette</a>'
                f"<nav>{nav}</nav></header><main>{body}</main>"
                f'<footer><a href="{links.href(today)}">Calendar</a> '
                f'<a href="{links.href("/explore")}">Explore stories</a> '
                f'<a href="{links.href("/about/")}">About us</a></footer>')

    @staticmethod
    def _article_list(listed: list[GeneratedArticle], links: _Links) -> str:
        return "<ul>" + "".join(
            f'<li><a href="{links.href(a.path)}">{html.escape(a.title)}</a> '
            f'<time datetime="{a.published.isoformat()}">{a.published:%d %b %H:%M}</time></li>'
            for a in listed) + "</ul>"

    def _robots(self) -> str:
        return (f"User-agent: *\nAllow: /\n\nSitemap: {self.url}/news-sitemap.xml\n"
                f"Sitemap: {self.url}/sitemap.xml\n")

    def _rss(self) -> str:
        items = "".join(f"<item><title>{html.escape(a.title)}</title><link>{a.url}</link>"
                        f"<guid>{a.url}</guid><pubDate>{format_datetime(a.published)}"
                        "</pubDate></item>" for a in self._oldest_first[-FEED_ITEMS:][::-1])
        return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
                f"<title>The Generated Gazette</title><link>{self.url}/</link>"
                f"{items}</channel></rss>")

    def _news_sitemap(self) -> str:
        urls = "".join(
            f"<url><loc>{html.escape(a.url)}</loc><news:news><news:publication>"
            "<news:name>The Generated Gazette</news:name><news:language>en</news:language>"
            f"</news:publication><news:publication_date>{a.published.isoformat()}"
            f"</news:publication_date><news:title>{html.escape(a.title)}</news:title>"
            "</news:news></url>"
            for a in reversed(self._oldest_first) if self.now - a.published <= NEWS_SITEMAP_AGE)
        return ('<?xml version="1.0" encoding="UTF-8"?>'
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
                'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
                f"{urls}</urlset>")

    def _sitemap(self) -> str:
        urls = "".join(f"<url><loc>{html.escape(a.url)}</loc>"
                       f"<lastmod>{a.published.isoformat()}</lastmod></url>"
                       for a in self._oldest_first)
        return ('<?xml version="1.0" encoding="UTF-8"?>'
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"{urls}</urlset>")

    def _hub(self, document: str, listed: list[GeneratedArticle]) -> _Page:
        newest = max((a.published for a in listed), default=self.now)
        return _Page(200, "text/html; charset=utf-8", document.encode(), newest,
                     validators=True)

    @staticmethod
    def _html(document: str) -> _Page:
        return _Page(200, "text/html; charset=utf-8", document.encode())

    @staticmethod
    def _split(url: str) -> tuple[str, dict[str, str]]:
        parts = urlsplit(url)
        return parts.path or "/", dict(parse_qsl(parts.query, keep_blank_values=True))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                headers = {name.lower(): value for name, value in self.headers.items()}
                page = site.render(self.path)
                etag = f'"{hashlib.sha1(page.body).hexdigest()[:16]}"'
                status = 304 if page.validators and _not_modified(
                    headers, etag, page.last_modified) else page.status
                with site._lock:
                    site.requests.append(ServedRequest(self.path, headers, status))
                answer = []
                if page.validators:
                    answer.append(("ETag", etag))
                    if page.last_modified is not None:
                        answer.append(("Last-Modified",
                                       format_datetime(page.last_modified, usegmt=True)))
                if status != 304:
                    answer.append(("Content-Type", page.content_type))
                self.answer(status, page.body, answer)

        return Handler


class _Links:
    """The hrefs of one page: session ids on some links, the page's own passed on."""

    def __init__(self, source: str, sid: str | None) -> None:
        self.source, self.sid = source, sid

    def href(self, target: str, relative_to: str | None = None) -> str:
        """``target`` as linked from this page (``relative_to``: a relative link)."""
        absolute = relative_to + target if relative_to else target
        sid = self.sid
        if sid is None:
            digest = hashlib.sha1(f"{self.source}>{absolute}".encode()).hexdigest()
            if int(digest[:8], 16) % SESSION_EVERY == 0:
                sid = digest[8:24]
        if sid is None:
            return html.escape(target)
        return html.escape(f"{target}{'&' if '?' in target else '?'}sid={sid}")


def _not_modified(headers: dict[str, str], etag: str, last_modified: datetime | None) -> bool:
    """RFC 9110 13.1: If-None-Match wins; If-Modified-Since only without it."""
    if (tags := headers.get("if-none-match")) is not None:
        return tags.strip() == "*" or etag in (t.strip().removeprefix("W/")
                                               for t in tags.split(","))
    if (since := headers.get("if-modified-since")) and last_modified is not None:
        try:
            return last_modified <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def _not_found() -> _Page:
    return _Page(404, "text/html; charset=utf-8", b"<!doctype html><title>Not found</title>"
                 b"<h1>Not found</h1>")


def _document(title: str, body: str, *, head: str = "", amp: bool = False) -> str:
    return (f'<!doctype html><html lang="en"{" amp" if amp else ""}><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title>{head}</head><body>{body}</body></html>")


def _jsonld(data: dict[str, object]) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def _slug(text: str) -> str:
    return re.sub(r"[^a-z]+", "-", text.lower()).strip("-")


def _index(ordered: list[GeneratedArticle], article: GeneratedArticle) -> int:
    """The place of ``article`` in ``ordered`` (oldest first, so sorted by serial)."""
    return bisect.bisect_left(ordered, article.serial, key=lambda a: a.serial)


def _letters(number: int) -> str:
    """``number`` in base 26, written with the letters a-z."""
    out = chr(ord("a") + number % 26)
    while number := number // 26:
        out = chr(ord("a") + number % 26) + out
    return out
