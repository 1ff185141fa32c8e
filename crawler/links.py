"""One pass over a parsed HTML page: the links to follow and the page's requisites.

Link following, the metadata record's outlinks and page requisites all come from
:func:`page_links`, which walks the lxml tree Scrapy already parsed (``response.selector``)
once, joins each URL once against the page URL (or its ``<base href>``) and filters with
set lookups; no ``LinkExtractor`` per page (it re-parses, and joins and re-encodes each link
several times). A link that resolves against the page's origin alone (``/path``,
``https://host/path``: most of a news page's navigation, and links to other articles) is
joined once per crawl, not once per page (:func:`_resolved`).

* **Outlinks**: ``<a href>`` and ``<area href>``, http(s) only, without fragments, in
  document order, each once; URLs ending in a file extension Scrapy's link extractor ignores
  (images, archives, media, office files, ...) are left out, as it leaves them out.
* **Link dates**: a link in a teaser (a list item, a table row, a short ``<article>``: at
  most :data:`_TEASER_LINKS` links) with a ``<time datetime>`` is dated by it, as listings
  show when each story was published; the crawl fetches newest first.
* **Requisites**: what a browser fetches to render the page, as Heritrix's and wget's
  ``--page-requisites`` extractors find them: stylesheets (``<link rel=stylesheet>``,
  ``preload as=style``), scripts, images (``src``, ``srcset``, ``<picture><source>``, the
  lazy-loading attributes ``data-src``, ``data-srcset``, ``data-lazy-src``,
  ``data-original``, ``<input type=image>``, ``background``), icons, media and posters,
  ``og:image``, frames, and the ``url()`` / ``@import`` of ``<style>`` and ``style=``.
  Stylesheets' own ``@import`` and ``url()`` come from :func:`css_requisites`.
* **Page facts** found on the way: JSON-LD blocks, ``og:type``, the canonical URL, feeds,
  the ``<title>`` and the first ``<h1>`` (what an error page served with 200 says it is).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

from lxml import etree
from scrapy.linkextractors import IGNORED_EXTENSIONS

from archive.rewrite import css_urls, srcset_urls

STYLESHEET, SCRIPT, IMAGE, ICON, MEDIA, FRAME = ("stylesheet", "script", "image", "icon",
                                                 "media", "frame")
# the order a page's requisites are fetched in (what rendering needs most first)
KINDS = (STYLESHEET, IMAGE, FRAME, ICON, SCRIPT, MEDIA)
# request.meta of a requisite: what the page fetches it as (archive.warc.HttpExchange's
# resource_type), in Chrome's names, as a browser's requests have them (Playwright's
# Request.resource_type)
RESOURCE_TYPE_META = "resource_type"
_RESOURCE_TYPES = {STYLESHEET: "stylesheet", SCRIPT: "script", IMAGE: "image", ICON: "image",
                   MEDIA: "media", FRAME: "document"}
_FONT_EXTENSIONS = frozenset({".woff", ".woff2", ".ttf", ".otf", ".eot"})
_IGNORED = frozenset(f".{ext}" for ext in IGNORED_EXTENSIONS)
_SCHEMES = frozenset({"http", "https"})
_LAZY_SRC = ("data-src", "data-lazy-src", "data-original")
_LAZY_SRCSET = ("data-srcset", "data-lazy-srcset")
_ICON_RELS = frozenset({"icon", "shortcut", "apple-touch-icon", "apple-touch-icon-precomposed",
                        "mask-icon"})
_PRELOAD_KINDS = {"style": STYLESHEET, "script": SCRIPT, "image": IMAGE, "font": MEDIA,
                  "video": MEDIA, "audio": MEDIA, "track": MEDIA}
_OG_IMAGES = frozenset({"og:image", "og:image:url", "og:image:secure_url", "twitter:image"})
_TAGS = ("a", "area", "base", "link", "script", "img", "source", "video", "audio", "track",
         "input", "iframe", "frame", "embed", "object", "meta", "style", "body", "table",
         "td", "th", "time", "title", "h1")
_TEASERS = frozenset({"li", "article", "tr", "dd", "div", "section", "p"})
_TEASER_LINKS = 3


@dataclass(frozen=True, slots=True)
class Requisite:
    url: str
    kind: str

    @property
    def resource_type(self) -> str:
        """What a browser would fetch it as (:data:`RESOURCE_TYPE_META`): a stylesheet's
        ``url()`` of a font file is a font."""
        if posixpath.splitext(urlsplit(self.url).path)[1].lower() in _FONT_EXTENSIONS:
            return "font"
        return _RESOURCE_TYPES[self.kind]


@dataclass(slots=True)
class PageLinks:
    """What one pass over a page found (see the module docstring)."""

    outlinks: list[str] = field(default_factory=list)
    requisites: list[Requisite] = field(default_factory=list)
    jsonld: list[str] = field(default_factory=list)  # the text of each JSON-LD block
    og_type: str | None = None
    canonical: str | None = None
    feeds: list[tuple[str, str]] = field(default_factory=list)  # (url, type) of rel=alternate
    link_dates: dict[str, str] = field(default_factory=dict)  # outlink → its teaser's datetime
    title: str | None = None  # the first <title>
    heading: str | None = None  # the text of the first <h1>


# Links joined per origin and URLs checked for an ignored extension, kept across the pages
# of a crawl (each entry ~0.3 KB).
_CACHED_LINKS = 16_384


def _join(base: str, link: str) -> str | None:
    """``link`` joined to ``base`` (``urljoin``) without its fragment; None unless it is an
    http(s) URL with a host."""
    try:
        url = urljoin(base, link)
        parts = urlsplit(url)
    except ValueError:  # e.g. an invalid IPv6 host
        return None
    if parts.scheme not in _SCHEMES or not parts.netloc:
        return None
    return url.partition("#")[0] if parts.fragment or url.endswith("#") else url


_resolved = lru_cache(maxsize=_CACHED_LINKS)(_join)
"""``_join`` for links that depend on the base's scheme and host only (``_origin_only``),
given the base's origin: the same arguments recur on every page of a site."""


def _origin_only(link: str) -> bool:
    """Whether ``urljoin`` reads only the scheme and host of the base to join ``link`` (a
    stripped link): a path from the root (``/x``, not ``//host``), or an ``http(s)://`` URL
    with a host. Not with a tab or newline anywhere: ``urlsplit`` deletes those first."""
    if "\t" in link or "\n" in link or "\r" in link:
        return False
    if link[0] == "/":
        return link[1:2] != "/"
    for prefix in ("https://", "http://"):
        if link.startswith(prefix):
            return link[len(prefix):len(prefix) + 1] not in ("", "/", "?", "#")
    return False


@lru_cache(maxsize=_CACHED_LINKS)
def _followable(url: str) -> bool:
    """Not a URL Scrapy's link extractor leaves out for its extension (images, media...)."""
    return posixpath.splitext(urlsplit(url).path)[1].lower() not in _IGNORED


class _Collector:
    """Joins and deduplicates the URLs of one document."""

    def __init__(self, base: str) -> None:
        self.base = base
        try:
            scheme, netloc = urlsplit(base)[:2]
        except ValueError:
            scheme = ""
        # what urljoin reads of the base for an _origin_only link
        self.origin = f"{scheme}://{netloc}/" if scheme in _SCHEMES else None
        self.links = PageLinks()
        self._outlinks: set[str] = set()
        self._requisites: set[str] = set()

    def join(self, link: str | None) -> str | None:
        if not link:
            return None
        link = link.strip()
        if not link or link[0] == "#":
            return None
        if self.origin is not None and _origin_only(link):
            return _resolved(self.origin, link)
        return _join(self.base, link)

    def outlink(self, link: str | None) -> None:
        url = self.join(link)
        if url is None or url in self._outlinks or not _followable(url):
            return
        self._outlinks.add(url)
        self.links.outlinks.append(url)

    def requisite(self, link: str | None, kind: str) -> None:
        url = self.join(link)
        if url is None or url in self._requisites:
            return
        self._requisites.add(url)
        self.links.requisites.append(Requisite(url, kind))

    def css(self, text: str | None) -> None:
        for link, imported in css_urls(text or ""):
            self.requisite(link, STYLESHEET if imported else IMAGE)

    def srcset(self, value: str | None, kind: str = IMAGE) -> None:
        if value:
            for link in srcset_urls(value):
                self.requisite(link, kind)


def page_links(root: etree._Element, url: str) -> PageLinks:
    """Outlinks, requisites and the page facts discovery needs, from one walk of ``root``
    (the document element of a page fetched from ``url``)."""
    base = root.find(".//base[@href]") if hasattr(root, "find") else None
    found = _Collector(urljoin(url, base.get("href", "").strip()) if base is not None else url)
    for element in root.iter(*_TAGS):
        _visit(element, element.tag, found)
    for element in root.xpath("//*[@style]"):
        found.css(element.get("style"))
    return found.links


def _visit(element: etree._Element, tag: str, found: _Collector) -> None:
    get = element.get
    if tag in ("a", "area"):
        found.outlink(get("href"))
    elif tag == "link":
        rel = frozenset((get("rel") or "").lower().split())
        href = get("href")
        if "stylesheet" in rel:
            found.requisite(href, STYLESHEET)
        elif rel & _ICON_RELS:
            found.requisite(href, ICON)
        elif "preload" in rel or "modulepreload" in rel:
            kind = SCRIPT if "modulepreload" in rel else _PRELOAD_KINDS.get(
                (get("as") or "").lower())
            if kind:
                found.requisite(href, kind)
                found.srcset(get("imagesrcset"))
        elif "canonical" in rel and found.links.canonical is None and href:
            found.links.canonical = found.join(href)
        elif "alternate" in rel and href:
            feed = found.join(href)
            if feed:
                found.links.feeds.append((feed, (get("type") or "").split(";")[0].strip()
                                          .lower()))
    elif tag == "script":
        kind = (get("type") or "").strip().lower()
        if kind == "application/ld+json":
            if element.text:
                found.links.jsonld.append(element.text)
        else:
            found.requisite(get("src"), SCRIPT)
    elif tag in ("img", "source"):
        media = tag == "source" and (element.getparent() is not None and
                                     element.getparent().tag in ("video", "audio"))
        found.requisite(get("src"), MEDIA if media else IMAGE)
        found.srcset(get("srcset"))
        for name in _LAZY_SRC:
            found.requisite(get(name), IMAGE)
        for name in _LAZY_SRCSET:
            found.srcset(get(name))
    elif tag in ("video", "audio"):
        found.requisite(get("poster"), IMAGE)
        found.requisite(get("src"), MEDIA)
    elif tag in ("track", "embed"):
        found.requisite(get("src"), MEDIA)
    elif tag == "object":
        found.requisite(get("data"), MEDIA)
    elif tag == "input":
        if (get("type") or "").lower() == "image":
            found.requisite(get("src"), IMAGE)
    elif tag in ("iframe", "frame"):
        found.requisite(get("src"), FRAME)
    elif tag == "meta":
        name = (get("property") or get("name") or "").lower()
        if name in _OG_IMAGES:
            found.requisite(get("content"), IMAGE)
        elif name == "og:type" and found.links.og_type is None:
            found.links.og_type = get("content")
    elif tag == "style":
        found.css(element.text)
    elif tag == "title":
        if found.links.title is None:
            found.links.title = element.text
    elif tag == "h1":
        if found.links.heading is None:
            found.links.heading = element.text_content()
    elif tag in ("body", "table", "td", "th"):
        found.requisite(get("background"), IMAGE)
    elif tag == "time":
        _date_teaser(element, get("datetime"), found)


def _date_teaser(time: etree._Element, moment: str | None, found: _Collector) -> None:
    """Dates the links of the teaser a ``<time datetime>`` is in (see the module docstring)."""
    if not moment:
        return
    teaser = time.getparent()
    for _ in range(2):
        if teaser is None or teaser.tag in _TEASERS:
            break
        teaser = teaser.getparent()
    if teaser is None or teaser.tag not in _TEASERS:
        return
    anchors = teaser.findall(".//a")
    if len(anchors) > _TEASER_LINKS:
        return
    for anchor in anchors:
        url = found.join(anchor.get("href"))
        if url is not None:
            found.links.link_dates.setdefault(url, moment.strip())


def css_requisites(text: str, url: str) -> list[Requisite]:
    """The ``@import`` (stylesheets) and ``url()`` (fonts, images) of a stylesheet."""
    found = _Collector(url)
    found.css(text)
    return found.links.requisites

