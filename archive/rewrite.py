"""Rewrite archived HTML and CSS so every URL points into the archive at one timestamp.

Pages (links, forms, frames, ``<base>``, meta refresh) go to ``{prefix}{ts}/{url}``;
resources get pywb's modifiers: ``cs_`` for stylesheets and CSS ``@import``, ``js_`` for
scripts, ``im_`` for images, media, icons and CSS ``url()``, ``if_`` for frames. URLs are
resolved against the page URL (or its ``<base href>``) first; ``data:``, ``javascript:``,
``mailto:`` and fragment-only links are left alone. HTML is parsed with lxml
(``iterlinks`` finds the URL attributes, meta refresh, ``<style>`` and ``style=``;
``srcset``, ``poster`` and the document inside ``srcdoc`` are handled here; lxml's list
includes ``formaction`` and ``xlink:href``). Attributes that only act on the live web or on
the archive's origin are removed: ``ping`` (a POST on every click), ``attributionsrc``
(a request on click or load), ``manifest``, ``integrity`` (a rewritten resource no longer
matches its hash), and ``<meta http-equiv="set-cookie">``. The charset comes from w3lib's
``html_to_unicode`` (BOM, then Content-Type, then ``<meta>``), as Scrapy decodes pages; a page
that declares none keeps its bytes (:meth:`Rewriter.html_response`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree
from w3lib.encoding import (
    html_body_declared_encoding,
    html_to_unicode,
    http_content_type_encoding,
    read_bom,
)

from archive.cdxj import mime_of

CSS_URL = re.compile(r"""(?P<import>@import\s+)?url\(\s*(?P<q>["']?)(?P<url>.*?)(?P=q)\s*\)""",
                     re.IGNORECASE | re.DOTALL)
CSS_IMPORT = re.compile(r"""(?P<import>@import\s+)(?P<q>["'])(?P<url>.*?)(?P=q)""",
                        re.IGNORECASE | re.DOTALL)
SRCSET_SPACE = re.compile(r"[\s,]*")
SRCSET_URL = re.compile(r"\S+")
SRCSET_DESCRIPTORS = re.compile(r"[^,]*,?")
CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
REPLAYABLE_SCHEMES = ("http", "https")
INERT_ATTRIBUTES = ("ping", "manifest", "integrity", "attributionsrc")

PAGE, STYLESHEET, SCRIPT, IMAGE, FRAME = "", "cs_", "js_", "im_", "if_"
MEDIA_TAGS = frozenset({"img", "image", "use", "input", "source", "video", "audio", "track",
                        "embed", "object", "applet", "body", "table", "td", "th"})


@dataclass(frozen=True)
class ArchiveUrls:
    """Builds archive URLs: ``{prefix}{timestamp}{modifier}/{url}``."""

    prefix: str = "/web/"

    def memento(self, timestamp: str, url: str, modifier: str = "") -> str:
        return f"{self.prefix}{timestamp}{modifier}/{url}"


def _modifier(element: etree._Element, attribute: str) -> str:
    if attribute == "formaction":  # where a form goes: a page, whatever the element
        return PAGE
    tag = element.tag if isinstance(element.tag, str) else ""
    if tag == "link":
        rel = (element.get("rel") or "").lower().split()
        kind = (element.get("as") or "").lower()
        if "stylesheet" in rel or kind == "style":
            return STYLESHEET
        if kind == "script" or "modulepreload" in rel:
            return SCRIPT
        if "icon" in rel or "apple-touch-icon" in rel or kind in ("image", "font"):
            return IMAGE
        return PAGE
    if tag == "script":
        return SCRIPT
    if tag in ("iframe", "frame"):
        return FRAME
    return IMAGE if tag in MEDIA_TAGS else PAGE


UTF8_HTML = "text/html; charset=utf-8"
BANNER_SLOT = "newsarchive-banner-slot"  # an element no page has, replaced by the banner


def charset_of(content_type: str | None) -> str | None:
    match = CHARSET.search(content_type or "")
    return match.group(1) if match else None


def css_urls(text: str) -> Iterator[tuple[str, bool]]:
    """Each ``url()`` and ``@import`` of a stylesheet: (the URL as written, imported?)."""
    for match in CSS_URL.finditer(text):
        yield match.group("url"), bool(match.group("import"))
    for match in CSS_IMPORT.finditer(text):
        yield match.group("url"), True


def srcset_urls(value: str) -> list[str]:
    """The candidate URLs of a ``srcset`` value."""
    return [part for part, is_url in _srcset_parts(value) if is_url is not None]


def _srcset_parts(value: str) -> Iterator[tuple[str, str | None]]:
    """``value`` cut by the HTML srcset parsing rules into (text, None) pieces and
    (candidate URL, the comma that ended it or "") pieces, in order."""
    pos, end = 0, len(value)
    while pos < end:
        space = SRCSET_SPACE.match(value, pos)
        assert space is not None  # matches the empty string at worst
        yield space.group(), None
        pos = space.end()
        match = SRCSET_URL.match(value, pos)
        if match is None:
            break
        link = match.group()
        stripped = link.rstrip(",")
        yield stripped, link[len(stripped):]
        pos = match.end()
        if stripped == link:  # descriptors follow, up to the next comma
            descriptors = SRCSET_DESCRIPTORS.match(value, pos)
            assert descriptors is not None
            yield descriptors.group(), None
            pos = descriptors.end()


class Rewriter:
    """Rewrites one document of one capture (``url`` at ``timestamp``); a ``<base href>``
    in the document becomes the base for the rest of it."""

    def __init__(self, urls: ArchiveUrls, timestamp: str, url: str) -> None:
        self.urls = urls
        self.timestamp = timestamp
        self.base = url
        # the encoding the crawler decoded a page with, when the page is decoded byte for
        # byte here (html_response): its non-ASCII links are read again with it
        self.links_encoding: str | None = None

    def url(self, link: str, modifier: str = PAGE) -> str:
        """``link`` (relative to the current base) as an archive URL."""
        link = link.strip()
        if not link or link.startswith("#"):
            return link
        if self.links_encoding and not link.isascii():
            link = link.encode("latin-1").decode(self.links_encoding, errors="replace")
        try:
            absolute = urljoin(self.base, link)
            scheme = urlsplit(absolute).scheme
        except ValueError:  # e.g. an invalid IPv6 host: leave the link as it was
            return link
        if scheme not in REPLAYABLE_SCHEMES:
            return link
        return self.urls.memento(self.timestamp, absolute, modifier)

    # -- CSS ------------------------------------------------------------------------------
    def css(self, text: str) -> str:
        """``url(...)`` (images, fonts; ``cs_`` after ``@import``) and ``@import "..."``."""
        def by_url(match: re.Match[str]) -> str:
            modifier = STYLESHEET if match.group("import") else IMAGE
            quote = match.group("q")
            return (f"{match.group('import') or ''}url({quote}"
                    f"{self.url(match.group('url'), modifier)}{quote})")

        def by_import(match: re.Match[str]) -> str:
            quote = match.group("q")
            return (f"{match.group('import')}{quote}"
                    f"{self.url(match.group('url'), STYLESHEET)}{quote}")

        return CSS_IMPORT.sub(by_import, CSS_URL.sub(by_url, text))

    def css_bytes(self, body: bytes, content_type: str | None) -> str:
        charset = charset_of(content_type) or "utf-8"
        try:
            text = body.decode(charset, errors="replace")
        except LookupError:  # an unknown charset name
            text = body.decode("utf-8", errors="replace")
        return self.css(text)

    def srcset(self, value: str, modifier: str = IMAGE) -> str:
        """Each candidate's URL rewritten, descriptors kept."""
        return "".join(part if is_url is None else self.url(part, modifier) + is_url
                       for part, is_url in _srcset_parts(value))

    # -- HTML -----------------------------------------------------------------------------
    def html_response(self, body: bytes, content_type: str | None,
                      banner: str | None = None) -> tuple[bytes, str]:
        """The page rewritten (:meth:`html`) as bytes, and the Content-Type to serve them
        with. A page that declares its charset (BOM, Content-Type, ``<meta>``), and XHTML
        (XML: UTF-8 unless it says otherwise), is decoded and served as declared UTF-8. An
        HTML page that declares none is served in its own bytes with no charset, so that
        the browser chooses the encoding as it did for the live page, and the replay shows
        what the reader saw: Chromium, for one, never guesses UTF-8 for a web page and shows
        undeclared UTF-8 as windows-1252. For the rewriting it is decoded byte for byte
        (latin-1); its links are read as the crawler read them (UTF-8 when the page's bytes
        are, else windows-1252, as Scrapy guesses), so they lead to what was archived."""
        if read_bom(body)[0] or http_content_type_encoding(content_type) \
                or html_body_declared_encoding(body) or mime_of(content_type) != "text/html":
            return self.html(body, content_type, banner).encode("utf-8"), UTF8_HTML
        try:
            body.decode("utf-8")
            self.links_encoding = "utf-8"
        except UnicodeDecodeError:
            self.links_encoding = "cp1252"
        text = self._document(body.decode("latin-1"), banner)
        return text.encode("latin-1", "xmlcharrefreplace"), content_type or "text/html"

    def html(self, body: bytes, content_type: str | None, banner: str | None = None, *,
             scripted: bool = False) -> str:
        """The page decoded (see the module docstring), rewritten, with ``banner`` (an HTML
        fragment) as the first element of ``<body>``. ``scripted``: the document is a DOM
        as a browser rendered it with scripts on, so its ``<noscript>`` content was never
        shown; it is dropped (replay runs without scripts, which would show it)."""
        _, text = html_to_unicode(content_type, body)
        return self._document(text, banner, scripted=scripted)

    def _document(self, text: str, banner: str | None, *, scripted: bool = False) -> str:
        if not text.strip():
            return text
        parser = lxml.html.HTMLParser(encoding="utf-8")
        doc = lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)
        if scripted:
            for element in doc.findall(".//noscript"):
                element.drop_tree()
        base = doc.find(".//base[@href]")
        if base is not None:
            self.base = urljoin(self.base, base.get("href", "").strip())
        self._rewrite_links(doc)
        body_element = doc.find("body") if banner else None
        if body_element is not None:  # a place for the banner, filled once serialized
            body_element.insert(0, etree.Element(BANNER_SLOT))
        doctype = doc.getroottree().docinfo.doctype
        page = lxml.html.tostring(doc, encoding="unicode", method="html",
                                  doctype=doctype or None)
        if body_element is None:
            return page
        # in ASCII (character references): it reads the same whatever the page's encoding
        return page.replace(f"<{BANNER_SLOT}></{BANNER_SLOT}>", banner.encode(
            "ascii", "xmlcharrefreplace").decode("ascii"), 1)

    def _rewrite_links(self, doc: lxml.html.HtmlElement) -> None:
        styles: set[tuple[etree._Element, str | None]] = set()
        for element, attribute, link, pos in list(doc.iterlinks()):
            if element.tag == "style" or attribute == "style":
                styles.add((element, attribute))
            elif element.tag == "meta":  # http-equiv refresh: "5; url=/next"
                content = element.get("content", "")
                element.set("content", content[:pos]
                            + self.url(link) + content[pos + len(link):])
            elif attribute:
                element.set(attribute, self.url(link, _modifier(element, attribute)))
        for element, attribute in styles:
            if attribute is None:
                element.text = self.css(element.text or "")
            else:
                element.set(attribute, self.css(element.get(attribute, "")))
        for element in list(doc.iter()):  # (set-cookie metas are dropped on the way)
            if not isinstance(element.tag, str):
                continue
            for attribute in ("srcset", "imagesrcset"):
                if element.get(attribute):
                    element.set(attribute, self.srcset(element.get(attribute, "")))
            if element.get("poster"):
                element.set("poster", self.url(element.get("poster", ""), IMAGE))
            if element.get("srcdoc") is not None:
                inner = Rewriter(self.urls, self.timestamp, self.base)
                element.set("srcdoc", inner.html(element.get("srcdoc", "").encode("utf-8"),
                                                 UTF8_HTML))
            for attribute in INERT_ATTRIBUTES:
                if element.get(attribute) is not None:
                    del element.attrib[attribute]
            if element.tag == "meta" and (element.get("http-equiv") or "").lower() \
                    == "set-cookie":
                element.drop_tree()

