"""Article metadata from a parsed page: structured data first, then markup heuristics.

Sources, best first: JSON-LD (``@graph``, ``@id`` references), schema.org microdata (extruct,
only when the page has no JSON-LD article), OpenGraph / ``<meta>`` tags, then the markup
(``<h1>``, ``<title>``, bylines: crawler.bylines) and htmldate for the publication day.
Pure functions on an lxml tree that is not modified.
"""

from __future__ import annotations

import functools
import html
import itertools
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import htmldate
from lxml import etree
from lxml import html as lhtml

from crawler.bylines import (
    as_shown,
    author_links,
    first_authors,
    labelled_bylines,
    markup_bylines,
    name_key,
)

_I = re.IGNORECASE
_JSONLD_JUNK = re.compile(r"^\s*(?:<!--|<!\[CDATA\[)|(?:-->|\]\]>|;)\s*$")
# Separators between a headline and a site name in <title>/og:title ("Headline | Site").
_TITLE_SPLIT = re.compile(r"\s+[|\-\u2013\u2014:\u00b7\u00bb\u203a\u2022~/]+\s+|\s*[|\uff5c]\s*")
_SITE_SPLIT = re.compile(rf"{_TITLE_SPLIT.pattern}|(?<=\w):\s+")  # also "Site: Headline"
_META_KEYS = {
    "title": ("og:title", "twitter:title", "dc.title"),
    "published": ("article:published_time", "datepublished", "og:published_time", "pubdate",
                  "publishdate", "publish-date", "parsely-pub-date", "sailthru.date",
                  "dc.date.issued", "dcterms.created", "dc.date", "date"),
    "modified": ("article:modified_time", "datemodified", "og:updated_time", "dcterms.modified"),
    "authors": ("author", "article:author", "byl", "parsely-author", "sailthru.author",
                "dc.creator", "dcterms.creator"),
    "description": ("og:description", "description", "twitter:description", "dc.description"),
    "site_name": ("og:site_name", "application-name"),
}


@dataclass(frozen=True)
class Metadata:
    """What :func:`extract_metadata` finds; the text-independent fields of an Article."""

    title: str | None
    authors: list[str]
    published: str | None
    modified: str | None
    description: str | None
    site_name: str | None
    canonical_url: str | None


def normalize_date(value: Any) -> str | None:
    """ISO 8601 date: keep time and offset when given, else YYYY-MM-DD; None if unparseable.
    Decimal digits of any script count (Bengali, Arabic-Indic...: pages localise them)."""
    value = _text(value)
    if not value:
        return None
    value = "".join(str(int(ch)) if ch.isdecimal() else ch for ch in value)
    try:
        if re.fullmatch(r"[0-9]{4}-?[0-9]{2}-?[0-9]{2}", value):
            return date.fromisoformat(value).isoformat()
        return datetime.fromisoformat(value).isoformat(timespec="seconds")
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).isoformat(timespec="seconds")
    except (TypeError, ValueError, IndexError):
        pass
    try:
        match = re.match(r"([0-9]{4}-[0-9]{2}-[0-9]{2})(?![0-9])", value)
        return date.fromisoformat(match.group(1)).isoformat() if match else None
    except ValueError:
        return None


def extract_metadata(tree: lhtml.HtmlElement, url: str) -> Metadata:
    """Metadata of the page ``tree`` fetched from ``url`` (the tree is left unchanged)."""
    node, index = _jsonld(tree) or _microdata(tree, url)
    meta: dict[str, list[str]] = {}
    for el in tree.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        if key and (content := el.get("content", "").strip()):
            meta.setdefault(key, []).append(content)

    def first(field: str, norm: Any = _text) -> Any:
        return next((v for k in _META_KEYS[field] if k in meta and (v := norm(meta[k]))), None)

    site_name = (first("site_name")
                 or _text(_names(node.get("publisher"), index, persons_only=False)))
    not_authors = (site_name, (urlsplit(url).hostname or "").removeprefix("www.").split(".")[0])
    authors = as_shown(tree, first_authors(itertools.chain(
        [_names(node.get("author"), index)], (meta.get(key) for key in _META_KEYS["authors"]),
        markup_bylines(tree), labelled_bylines(tree), author_links(tree)), not_authors))
    structured = normalize_date(node.get("datePublished")) or first("published", normalize_date)
    return Metadata(
        title=_title(tree, [_text(node.get("headline")), first("title")], site_name, url),
        authors=authors,
        published=_published(tree, url, structured),
        modified=normalize_date(node.get("dateModified")) or first("modified", normalize_date),
        description=_text(node.get("description")) or first("description"),
        site_name=site_name,
        canonical_url=_canonical(tree, url, meta),
    )


def _text(value: Any) -> str | None:
    """First non-empty string of a value (or list), unescaped and whitespace-collapsed."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
    if not isinstance(value, str):
        return None
    return " ".join(html.unescape(value).split()) or None


def _types(node: dict) -> set[str]:
    raw = node.get("@type")
    return {t.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
            for t in (raw if isinstance(raw, list) else [raw]) if isinstance(t, str)}


def _jsonld(tree: lhtml.HtmlElement) -> tuple[dict, dict[str, dict]] | None:
    """First article-typed JSON-LD node (also in @graph/lists) and an @id index."""
    stack: list[Any] = []
    for script in tree.xpath('//script[contains(translate(@type, "LDJSON", "ldjson"), "ld+json")]'):
        try:
            stack.insert(0, json.loads(_JSONLD_JUNK.sub("", script.text or ""), strict=False))
        except (ValueError, RecursionError):
            continue
    nodes: list[dict] = []
    while stack and len(nodes) < 1000:  # depth-first, document order
        obj = stack.pop()
        if isinstance(obj, list):
            stack.extend(reversed(obj))
        elif isinstance(obj, dict):
            nodes.append(obj)
            stack.extend(obj.get(k) for k in ("itemListElement", "mainEntity", "@graph"))
    index = {n["@id"]: n for n in nodes if isinstance(n.get("@id"), str)}
    return next(((n, index) for n in nodes if _is_article(n)), None)


def _is_article(node: dict) -> bool:
    return any(t.endswith(("Article", "Posting", "Report")) for t in _types(node))


@functools.cache
def _microdata_extractor() -> Any:
    """extruct's microdata parser, imported on first use: importing extruct loads all of its
    syntaxes (rdflib...), about a second that most processes never need."""
    from extruct.w3cmicrodata import MicrodataExtractor

    return MicrodataExtractor()


def _microdata(tree: lhtml.HtmlElement, url: str) -> tuple[dict, dict[str, dict]]:
    """schema.org microdata article as a JSON-LD-shaped dict; extruct runs only when the page
    declares an article-typed ``itemscope`` (its full pass over a page is slow)."""
    if not tree.xpath('//*[@itemscope][contains(@itemtype, "Article") or contains(@itemtype, '
                      '"Posting") or contains(@itemtype, "Report")]'):
        return {}, {}
    try:
        items = _microdata_extractor().extract_items(tree, url)
    except (ValueError, TypeError, KeyError, etree.LxmlError):
        return {}, {}

    def as_jsonld(item: Any) -> Any:
        if isinstance(item, list):
            return [as_jsonld(i) for i in item]
        if not isinstance(item, dict) or "properties" not in item:
            return item
        return {"@type": item.get("type")} | {k: as_jsonld(v)
                                               for k, v in item["properties"].items()}

    queue: list[Any] = as_jsonld(items)
    while queue:  # breadth-first: the outermost article
        node = queue.pop(0)
        if isinstance(node, list):
            queue.extend(node)
        elif isinstance(node, dict):
            if _is_article(node):
                return node, {}
            queue.extend(node.values())
    return {}, {}


def _names(value: Any, index: dict[str, dict], persons_only: bool = True) -> list[str]:
    """Names from JSON-LD author/publisher values (strings, objects, @id references, lists)."""
    out: list[str] = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):
            ref = item.get("@id")
            item = index.get(ref, item) if "name" not in item and isinstance(ref, str) else item
            types = _types(item)  # ["Person", "Organization"]: a blogger as publisher
            if persons_only and "Person" not in types and types & {"Organization",
                                                                  "NewsMediaOrganization"}:
                continue
            item = item.get("name")
            item = item[0] if isinstance(item, list) and item else item
        if isinstance(item, str) and item.strip():
            out.append(item)
    return out


def _title(tree: lhtml.HtmlElement, titles: list[str | None], site: str | None,
           url: str) -> str | None:
    """The headline as the page shows it. ``titles`` are the declared ones, best first (JSON-LD,
    OpenGraph); <title> is added. The page's <h1> wins when it is one of them or one part of
    one ("Section | Headline | Site") or a reworded version of the first; else the first
    declared title that is not just the site's name, with the site's name cut off."""
    title_el = tree.find(".//title")
    titles = [t for t in (*titles, _text(title_el.text_content()) if title_el is not None
                          else None) if t]
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    site_keys = {name_key(s) for s in (site, host, host.split(".")[0]) if s}
    titles = [t for t in titles if name_key(t) not in site_keys]
    h1s = [t for el in tree.iter("h1") if (t := _text(el.text_content())) and len(t) < 300
           and name_key(t) not in site_keys and len(_words(t)) >= 2]
    parts = {name_key(p) for t in titles for p in [t, *_TITLE_SPLIT.split(t)]}
    for h1 in h1s:
        if name_key(h1) in parts:
            return h1
    if not titles:
        return h1s[0] if h1s else None
    title = _strip_site(titles[0], [p for p in _SITE_SPLIT.split(titles[0]) if p.strip()],
                        site_keys)
    for h1 in h1s:
        if _similar(h1, title) and not parts & {name_key(p) for p in _TITLE_SPLIT.split(h1)}:
            return h1
    return title


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def _similar(a: str, b: str, share: float = 0.6) -> bool:
    """Most words of each are in the other (a reworded or extended headline)."""
    wa, wb = Counter(_words(a)), Counter(_words(b))
    common = sum((wa & wb).values())
    return common >= share * max(wa.total(), wb.total(), 1)


def _strip_site(title: str, parts: list[str], site_keys: set[str]) -> str:
    """Drop leading/trailing parts of a "Headline | Site Name" title that name the site."""
    if len(parts) < 2:
        return title
    keep = list(parts)
    while len(keep) > 1 and name_key(keep[-1]) in site_keys:
        keep.pop()
    while len(keep) > 1 and name_key(keep[0]) in site_keys:
        keep.pop(0)
    if keep == parts:
        return title
    start = title.find(keep[0])
    end = title.rfind(keep[-1]) + len(keep[-1])
    return title[start:end].strip() if 0 <= start < end else title


def _published(tree: lhtml.HtmlElement, url: str, structured: str | None) -> str | None:
    """Publication date: htmldate's day (URL, then meta and JSON-LD, then the markup) with
    the structured timestamp when it falls on that day (in its own offset or in UTC, as
    htmldate may read it); a UTC timestamp in the publisher's offset when the page gives that
    too. A day found only by htmldate's extensive search of the text gives way to a
    structured timestamp, and is no date at all when it is a 1 January (a copyright line)."""
    params = {"url": url, "original_date": True}
    local = (_local_twin(tree, structured) or structured) if structured else None
    days = {local[:10], _utc_day(local)} if local else set()
    try:
        day = htmldate.find_date(tree, extensive_search=True, **params)
        if day and day not in days:
            fast = htmldate.find_date(tree, extensive_search=False, **params)
            if (local and fast is None) or (day.endswith("-01-01") and fast != day):
                day = None  # found in the text only: a copyright year, or not the declared day
    except (ValueError, TypeError, etree.LxmlError):
        day = None
    return local if local and (not day or day in days) else day


# A timestamp with a time and an offset, in <time datetime>, <meta content> or JSON-LD text.
_STAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2})?(?:\.[0-9]+)?"
                    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})")
_STAMP_SOURCES = etree.XPath('//time/@datetime | //meta/@content | '
                             '//script[contains(@type, "ld+json")]/text()')


def _local_twin(tree: lhtml.HtmlElement, stamp: str) -> str | None:
    """The same instant as UTC ``stamp`` written in a non-zero offset elsewhere on the page
    (``<time datetime>``, a video's uploadDate...): the publisher's own calendar day."""
    instant = _aware(stamp)
    if instant is None or instant.utcoffset():
        return None
    for text in _STAMP_SOURCES(tree):
        for match in _STAMP.finditer(text):
            other = _aware(normalize_date(match.group()))
            if other is not None and other.utcoffset() and other == instant:
                return other.isoformat(timespec="seconds")
    return None


def _aware(stamp: str | None) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(stamp) if stamp and len(stamp) > 10 else None
    except ValueError:
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None


def _utc_day(stamp: str) -> str | None:
    instant = _aware(stamp)
    return instant.astimezone(UTC).date().isoformat() if instant else None


def _canonical(tree: lhtml.HtmlElement, url: str, meta: dict[str, list[str]]) -> str | None:
    hrefs = tree.xpath('//link[contains(concat(" ", translate(@rel, "CANONICAL", "canonical"),'
                       ' " "), " canonical ")]/@href') + meta.get("og:url", [])
    try:
        canonical = urljoin(url, hrefs[0].strip()) if hrefs else None
    except ValueError:  # e.g. malformed IPv6 host
        return None
    return canonical if canonical and canonical.startswith("http") else None
