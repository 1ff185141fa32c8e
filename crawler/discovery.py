"""News discovery rules: article or hub, URL keys, feed/sitemap horizon, traps, refresh ages.

Pure functions and small value classes, no Scrapy engine and no catalog; the ``news`` spider
applies them.

Article detection (:func:`page_kind`), first rule that answers wins:

1. the site's ``article_patterns`` / ``hub_patterns`` (regexes searched in the URL);
2. the page: JSON-LD ``@type`` NewsArticle, Article, BlogPosting... or ``og:type=article``
   make an article; JSON-LD WebSite/CollectionPage/ItemList or ``og:type=website`` a hub;
3. the URL shape (:func:`kind_from_url`): a date path followed by a slug
   (``/2026/11/03/harbour-bridge-reopens.html``), a long hyphenated slug, a long numeric
   id, a short numeric id after an article-like segment (``/article/2999.html``,
   ``/news/4521``, ``/story/88``) or an id parameter (``/article.php?id=2999``) make an
   article; the home page, one-segment section paths and listing paths (``/tag/``,
   ``/category/``, ``/page/2``, ``?page=``, calendars) a hub;
4. otherwise a hub (refetched when due, never skipped as archived: when unsure, we fetch).

Traps (:func:`trap_family`, applied by :class:`crawler.frontier.traps.TrapGuard`): a URL
that is not article-shaped belongs to the family of URLs equal to it up to the digits of its
path and its query (``/calendar/N/N/N``, ``/world/?*``, ``/shop?*``); URLs whose path
repeats itself (:func:`pathological_path`) are refused outright. Session ids in query
strings are dropped by :func:`normalize_url`, so the variants of one page are one URL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from archive.urlkeys import TRACKING_PARAMS, normalize_url, url_hash  # noqa: F401 - re-exported

ARTICLE = "article"
HUB = "hub"

ARTICLE_TYPES = frozenset({
    "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle",
    "opinionnewsarticle", "backgroundnewsarticle", "reviewnewsarticle", "askpublicnewsarticle",
    "blogposting", "liveblogposting", "socialmediaposting", "report", "techarticle",
    "scholarlyarticle",
})
HUB_TYPES = frozenset({"website", "collectionpage", "itemlist", "searchresultspage"})
_DATE_SLUG = re.compile(r"/(?:19|20)\d\d/[01]?\d/(?:[0-3]?\d/)?[^/?#]*[a-z][^/?#]{3,}",
                        re.IGNORECASE)
_LONG_SLUG = re.compile(r"/[^/?#]*[a-z0-9]+(?:-[a-z0-9]+){3,}[^/?#]*/?$", re.IGNORECASE)
_NUMERIC_ID = re.compile(r"[/_-]\d{6,}(?:\.html?)?/?$")
# a short id after a segment naming a piece of content: /article/2999.html, /news/4521
_SHORT_ID = re.compile(r"/(?:articles?|stor(?:y|ies)|news|posts?|items?|content|a|s)/"
                       r"\d{1,5}(?:\.(?:html?|php|aspx?))?/?$", re.IGNORECASE)
_ID_QUERY = re.compile(r"(?:^|&)(?:id|article_?id|story_?id|aid|nid|post_?id)=\d+(?:&|$)",
                       re.IGNORECASE)
_PAGINATION = re.compile(r"/page/(\d+)/?$|[?&](?:page|p|pg)=(\d+)", re.IGNORECASE)
# a run of 1-3 path segments repeated three times or more (/a/b/a/b/a/b): Heritrix's
# PathologicalPathDecideRule refuses a segment repeated more than twice
_REPEATED_SEGMENTS = re.compile(r"((?:/[^/]+){1,3})\1\1")
_MAX_SEGMENTS = 20  # Heritrix's TooManyPathSegmentsDecideRule default
_URL_DATE = re.compile(r"/((?:19|20)\d\d)[/-]?([01]\d)[/-]?([0-3]\d)(?=[/_.-])")
_LISTING = re.compile(r"/(?:tags?|topics?|category|categories|sections?|authors?|archives?|"
                      r"page|search|calendar)(?:/|$)|[?&](?:page|p|date|day|month)=",
                      re.IGNORECASE)
_BROWSING = re.compile(r"/(?:tags?|topics?|authors?|calendar|archives?|search)(?:/|$)",
                       re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


# -- URL keys: archive.urlkeys owns them (the catalog keys articles by them too) -------


# -- durations ---------------------------------------------------------------------------------
def parse_duration(value: str) -> timedelta:
    """``"90s"``, ``"30m"``, ``"1h"``, ``"2d"``, ``"1w"`` → timedelta; ValueError otherwise."""
    match = _DURATION.match(str(value).strip().lower())
    if not match or int(match[1]) == 0:
        raise ValueError(f"invalid duration {value!r}: use a positive number and s, m, h, d "
                         "or w, e.g. 1h or 2d")
    return timedelta(seconds=int(match[1]) * _UNITS[match[2]])


def format_duration(duration: timedelta) -> str:
    """The shortest :func:`parse_duration` form: 90 minutes → ``"90m"``, a day → ``"1d"``."""
    seconds = int(duration.total_seconds())
    for unit in "dhm":
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


# -- article or hub ----------------------------------------------------------------------------
@dataclass(frozen=True)
class KindRules:
    """A site's URL regexes that override detection."""

    articles: tuple[re.Pattern[str], ...] = ()
    hubs: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def compile(cls, articles: Iterable[str] = (), hubs: Iterable[str] = ()) -> KindRules:
        return cls(tuple(re.compile(p) for p in articles), tuple(re.compile(p) for p in hubs))

    def override(self, url: str) -> str | None:
        if any(p.search(url) for p in self.articles):
            return ARTICLE
        if any(p.search(url) for p in self.hubs):
            return HUB
        return None


def kind_from_url(url: str) -> str | None:
    """``article`` or ``hub`` when the URL's shape says so, else None."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if _LISTING.search(path + (f"?{parts.query}" if parts.query else "")):
        return HUB
    if (_DATE_SLUG.search(path) or _LONG_SLUG.search(path) or _NUMERIC_ID.search(path)
            or _SHORT_ID.search(path) or (parts.query and _ID_QUERY.search(parts.query))):
        return ARTICLE
    if "/" not in path.strip("/") and "." not in path:
        return HUB  # "/", "/world", "/world/"
    return None


def listing_page(url: str) -> bool:
    """Whether a hub is a way of browsing rather than a section: a tag, topic, author,
    archive, search or calendar page, or one with a query (filters, sorting)."""
    return bool(urlsplit(url).query) or _BROWSING.search(urlsplit(url).path) is not None


# What error pages served with status 200 say in their title or main heading (EN, DE, FR,
# ES, PT, IT, NL). Each phrase names the page (or article) as missing, so that a headline
# such as "Wreckage not found" is not taken for one.
_NOT_FOUND = re.compile("|".join((
    r"\b(?:page|article|story|content|file)s? (?:was |were |is )?not found\b",
    r"\berror 404\b|\b404 error\b|\b404\b\W{0,3}(?:not found|page)",
    r"\b(?:page|article|story|content)\b[^.!?]{0,40}\b(?:cannot|can't|can\u2019t|could not|"
    r"couldn't|couldn\u2019t) be found\b",
    r"\b(?:page|article|story)\b[^.!?]{0,30}\b(?:does not|doesn't|doesn\u2019t|no longer) "
    r"exists?\b",
    r"\b(?:page|article|story|content)\b[^.!?]{0,30}\bno longer available\b",
    r"\b(?:seite|artikel)\b[^.!?]{0,30}\bnicht gefunden\b",
    r"\b(?:page|article) (?:introuvable|non trouv[ée]e)\b",
    r"\bp[áa]gina (?:no encontrada|n[ãa]o encontrada|non trovata|niet gevonden)\b",
)), re.IGNORECASE)


def not_found_page(title: str | None, heading: str | None, types: set[str]) -> bool:
    """Whether a page served with status 200 is an error page (a soft 404): its title or
    main heading says the page is missing, and it does not declare itself an article
    (JSON-LD ``types``, as :func:`jsonld_types` reads them)."""
    if types & ARTICLE_TYPES:
        return False
    return any(_NOT_FOUND.search(text) for text in (title, heading) if text)


def jsonld_types(scripts: Iterable[str]) -> set[str]:
    """Lower-cased ``@type`` values of JSON-LD blocks (``@graph`` and lists included);
    blocks that are not valid JSON are ignored."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            kind = node.get("@type")
            for value in kind if isinstance(kind, list) else [kind]:
                if isinstance(value, str):
                    found.add(value.rsplit("/", 1)[-1].lower())
            walk(node.get("@graph"))

    for script in scripts:
        try:
            walk(json.loads(script))
        except ValueError:
            continue
    return found


def page_kind(url: str, rules: KindRules, types: set[str], og_type: str | None) -> str:
    """Article or hub, by the rules in this module's docstring."""
    if kind := rules.override(url):
        return kind
    og = (og_type or "").strip().lower()
    if types & ARTICLE_TYPES or og == "article":
        return ARTICLE
    if types & HUB_TYPES or og == "website":
        return HUB
    return kind_from_url(url) or HUB


def url_family(url: str) -> str | None:
    """The key of the URLs equal to ``url`` up to its path's digits and its query
    (``n.example/calendar/N/N/N``, ``n.example/shop?*``), or, for a path without either
    that ends in a hyphenated slug, up to that slug (``n.example/world/*-*``); None for
    other URLs. Calendars, pagination and faceted filters (every combination of filters is
    one family) are families; so are the articles of a site whose article URLs differ only
    in an id or a slug."""
    parts = urlsplit(url)
    if parts.query or _DIGITS.search(parts.path):
        return (parts.netloc.lower() + _DIGITS.sub("N", parts.path)
                + ("?*" if parts.query else ""))
    parent, _, last = parts.path.rstrip("/").rpartition("/")
    if "-" in last and parent:
        return f"{parts.netloc.lower()}{parent}/*-*"
    return None


def trap_family(url: str) -> str | None:
    """The family of a possible trap URL (:func:`url_family`); None for article-shaped
    URLs, which are never capped."""
    return None if kind_from_url(url) == ARTICLE else url_family(url)


def pathological_path(url: str) -> bool:
    """Whether a URL's path repeats itself (``/a/b/a/b/a/b``) or is absurdly deep: the
    relative-link loops of broken sites, refused as Heritrix refuses them."""
    path = urlsplit(url).path
    return path.count("/") > _MAX_SEGMENTS or _REPEATED_SEGMENTS.search(path) is not None


def pagination_number(url: str) -> int | None:
    """The page number of a listing page (``/page/3``, ``?page=3``), None otherwise."""
    match = _PAGINATION.search(url)
    return int(match[1] or match[2]) if match else None


def url_date(url: str) -> datetime | None:
    """The date a URL's path carries (``/2026/11/03/``, ``/2026-11-03-``), in UTC."""
    match = _URL_DATE.search(urlsplit(url).path)
    if not match:
        return None
    try:
        return datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=UTC)
    except ValueError:
        return None


# -- horizon (sitemaps and feeds) -------------------------------------------------------------
def parse_w3c_date(value: str | None) -> datetime | None:
    """A sitemap ``lastmod`` / ``news:publication_date`` (W3C datetime) in UTC, None when
    missing or unreadable (an unreadable date never hides an entry)."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_feed_date(value: str | None) -> datetime | None:
    """An RSS ``pubDate`` (RFC 822) or an Atom / Dublin Core date (W3C) in UTC, else None."""
    if not value:
        return None
    if (parsed := parse_w3c_date(value)) is not None:
        return parsed
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def sitemap_entry_date(entry: dict[str, Any]) -> datetime | None:
    """A sitemap entry's ``news:publication_date``, else its ``lastmod``."""
    return parse_w3c_date(entry.get("publication_date")) or parse_w3c_date(entry.get("lastmod"))


def within_horizon(date: datetime | None, horizon: timedelta | None, now: datetime) -> bool:
    """Whether an entry dated ``date`` is recent enough; undated entries always are."""
    return horizon is None or date is None or now - date <= horizon


# -- refresh policy ----------------------------------------------------------------------------
def next_hub_interval(current: timedelta | None, new_articles: int,
                      bounds: tuple[timedelta, timedelta]) -> timedelta:
    """A hub's next refresh interval, within ``bounds`` (shortest, longest): halved while
    each fetch finds new articles on it, doubled when one finds none (the adaptive
    re-fetch of Common Crawl's news crawler, news-please and Heritrix's
    ``WaitEvaluator``, which lengthen or shorten a URL's wait by whether it changed)."""
    shortest, longest = bounds
    if current is None:
        return shortest
    interval = current / 2 if new_articles else current * 2
    return max(shortest, min(longest, interval))


def as_utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive; they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


AUTO_REFRESH = "auto"


@dataclass(frozen=True)
class RefreshAges:
    """A site's ``refresh`` setting: the ages at which archived articles are re-captured,
    and whether they are learned from the site's edits (``"auto"`` among them,
    :mod:`crawler.refresh_learning`); then the ages given are the start and the bounds."""

    ages: list[timedelta]
    learn: bool = False


def parse_refresh(values: Iterable[str]) -> RefreshAges:
    """``["1h", "1d"]`` or ``["auto", "1h", "1d"]`` → :class:`RefreshAges`; ValueError
    names the problem."""
    values = [str(value).strip() for value in values]
    learn = values.count(AUTO_REFRESH)
    if learn > 1:
        raise ValueError(f'"{AUTO_REFRESH}" may appear once')
    ages = sorted(parse_duration(value) for value in values if value != AUTO_REFRESH)
    if learn and not ages:
        raise ValueError(f'"{AUTO_REFRESH}" needs the ages to start from, which also bound '
                         f'what is learned, e.g. ["{AUTO_REFRESH}", "1h", "1d"]')
    return RefreshAges(ages, bool(learn))


def refresh_step(first_seen: datetime, ages: Iterable[timedelta], now: datetime) -> int:
    """How many of the refresh ``ages`` have passed since an article was first captured."""
    elapsed = now - as_utc(first_seen)
    return sum(1 for age in ages if elapsed >= age)
