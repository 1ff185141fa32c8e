"""Article extraction: robust decoding, one parse, metadata (crawler.metadata), main text.

The page is parsed once with lxml; metadata is read from that tree, then boilerplate blocks
are pruned and trafilatura extracts the text from the same tree. Pure functions, no Scrapy
imports: safe to run in a process pool.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import asdict, dataclass
from typing import Any

import py3langid
import trafilatura
from charset_normalizer import from_bytes
from lxml import etree
from lxml import html as lhtml
from w3lib.encoding import html_body_declared_encoding, read_bom, resolve_encoding

from crawler.bylines import split_authors
from crawler.discovery import jsonld_types, not_found_page
from crawler.metadata import extract_metadata, normalize_date

__all__ = ["EXTRACTOR_VERSION", "Article", "decode_html", "extract", "extract_article",
           "normalize_date", "split_authors"]

EXTRACTOR_VERSION = f"newsarchive-extract/7 trafilatura/{trafilatura.__version__}"
MIN_TEXT_CHARS = 50  # shorter "articles" are navigation crumbs or error stubs

_I = re.IGNORECASE
_MAGIC = (b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b", b"RIFF",
          b"OggS", b"ID3", b"\x7fELF", b"BZh", b"\xd0\xcf\x11\xe0")
_HTML_TAG = re.compile(r"<(?:!doctype\s+html|html|head|body|article|main|p|div|title)[\s>/]", _I)
_BOILER_ATTR = re.compile(
    r"(?<![a-z])(?:cookie|consent|gdpr|rgpd|comment|kommentar|donat|newsletter|subscri|abonn"
    r"|share|sharing|partage|teilen|social|related|recommend|promo|advert|sponsor|paywall"
    r"|popup|modal|outbrain|taboola)", _I)
_BOILER_LINE = re.compile(
    r"^(?:©|\(c\)\s|copyright\b)|all rights reserved|alle rechte vorbehalten|tous droits réservés"
    r"|todos los derechos|we use cookies|uses cookies|accept (?:all )?cookies|wir verwenden cookies"
    r"|nous utilisons des cookies|leave a (?:comment|reply)|post (?:a )?comment|add a comment"
    r"|comments are closed|^donate\b|donate (?:now|today)|support (?:our|local|independent) "
    r"journalism|sign up (?:to|for) our (?:free )?newsletter", _I)
_ATTRIBUTED = etree.XPath("//*[@class or @id or @role] | //dialog")  # pruning candidates
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_LANG = re.compile(r"([a-z]{2,3})(?:[-_][\w-]+)?")
# Comments are asked for so that trafilatura moves them out of the text (into doc.comments,
# dropped here): measured cheaper than include_comments=False, which prunes the raw tree
# once more, with the same text.
_TRAFILATURA_OPTS: dict[str, Any] = {
    "with_metadata": False, "include_comments": True, "include_tables": True,
    "include_images": False, "deduplicate": False,
}
# Precision mode first; when it keeps less than this many characters and under this share of
# what the default mode finds, it has dropped part of the article: take the default mode's.
RECALL_CHECK_CHARS, RECALL_SHARE = 500, 0.6
MAX_TEXT_BETWEEN_CHUNKS = 40  # "Advertisement", "Continue reading below"
_INVISIBLE = frozenset({"script", "style", "noscript", "template"})


@dataclass(frozen=True)
class Article:
    """Extracted article text plus normalised metadata."""

    url: str
    canonical_url: str | None
    title: str | None
    authors: list[str]
    published: str | None
    modified: str | None
    language: str | None
    description: str | None
    site_name: str | None
    text: str
    word_count: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict with keys in field order."""
        return asdict(self)


def decode_html(body: bytes, encoding: str | None = None) -> str:
    """Decode: BOM, then valid UTF-8, then <meta> charset, then header charset, then detection.

    Valid non-ASCII UTF-8 is practically never legacy-encoded text, so it beats declarations
    (UTF-8 pages mislabelled iso-8859-1); for pure ASCII every candidate decodes identically.
    """
    bom_enc, bom = read_bom(body)
    if bom_enc and bom:
        return body[len(bom):].decode(bom_enc, "replace")
    for enc in filter(None, ("utf-8", html_body_declared_encoding(body),
                             resolve_encoding(encoding or ""))):
        try:
            return body.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
    best = from_bytes(body[:200_000]).best()  # yields Python codec names
    return body.decode(best.encoding if best else "cp1252", "replace")


def _text_between(a: lhtml.HtmlElement, b: lhtml.HtmlElement) -> int:
    """Characters of visible text after element ``a`` and before element ``b``."""
    n = 0
    for text in a.xpath("following::text()"):
        owner = text.getparent()  # for a tail, the element the text follows
        if owner is b or b in owner.iterancestors():
            break
        container = owner.getparent() if text.is_tail else owner
        if container is None or container.tag not in _INVISIBLE:
            n += len(text.strip())
    return n


def _merge_chunks(main: lhtml.HtmlElement, weights: dict[Any, int]) -> lhtml.HtmlElement:
    """Join an article body split into same-class chunks (ads between them) into the first.

    Layouts such as Condé Nast's repeat ``<div class="article__body">`` around every ad slot;
    extractors keep the first chunk only. Returns the container now holding the text.
    """
    cls = main.get("class")
    if not cls:
        return main

    def parent_kind(el: lhtml.HtmlElement) -> tuple[str, str | None] | None:
        parent = el.getparent()
        return None if parent is None else (parent.tag, parent.get("class"))

    # same class in the same kind of parent: chunks of one body, not a footer or a flyout
    chunks = [el for el in main.getroottree().iter(main.tag)
              if el.get("class") == cls and el in weights and parent_kind(el) == parent_kind(main)]
    if len(chunks) < 2:
        return main
    if any(_text_between(a, b) > MAX_TEXT_BETWEEN_CHUNKS for a, b in itertools.pairwise(chunks)):
        return main  # headings or other text between them: moving the chunks would reorder it
    first = chunks[0]
    for chunk in chunks[1:]:
        if chunk.text and chunk.text.strip():
            etree.SubElement(first, "p").text = chunk.text
        first.extend(list(chunk))
        chunk.drop_tree()
    return first


def _prune_boilerplate(tree: lhtml.HtmlElement) -> None:
    """Drop cookie/comment/share/donation/... blocks unless they hold the main text container."""
    weights: dict[Any, int] = {}
    for p in tree.iter("p"):
        if (parent := p.getparent()) is not None:
            weights[parent] = weights.get(parent, 0) + len(p.text_content())
    main = _merge_chunks(max(weights, key=weights.__getitem__), weights) if weights else tree
    protected = {main, *main.iterancestors()}
    half = len(tree.text_content()) / 2
    doomed = [el for el in _ATTRIBUTED(tree)
              if el not in protected and el.tag not in ("html", "body")
              and (_BOILER_ATTR.search(f"{el.get('class', '')} {el.get('id', '')}")
                   or el.tag == "dialog" or el.get("role") in ("dialog", "alertdialog"))
              and len(el.text_content()) < half]
    for el in doomed:
        el.drop_tree()


def _clean_text(text: str, title: str | None, authors: list[str]) -> str:
    """Drop leftover boilerplate lines, bylines and a leading copy of the headline."""
    known = {a.casefold() for a in authors}

    def junk(line: str) -> bool:  # a boilerplate line, or a byline naming only the authors
        if len(line) > 200:
            return False
        folded = line.casefold()
        byline = ({n.casefold() for n in split_authors(line)}
                  if len(line) < 120 and any(a in folded for a in known) else set())
        return bool(_BOILER_LINE.search(line)) or (bool(byline) and byline <= known)

    lines = [ln for raw in text.splitlines() if (ln := " ".join(raw.split())) and not junk(ln)]
    if lines and title and lines[0].casefold() == title.casefold():
        lines = lines[1:]
    return "\n".join(lines)


def _language(tree: lhtml.HtmlElement, text: str) -> str | None:
    """Primary subtag of <html lang>, else py3langid on the extracted text."""
    match = _LANG.fullmatch((tree.get("lang") or tree.get("xml:lang") or "").strip().lower())
    if match and match.group(1) not in ("und", "mul", "zxx"):
        return match.group(1)
    return py3langid.classify(text[:5000])[0] if len(text) >= 20 else None


def _parse(body: bytes | str, encoding: str | None) -> lhtml.HtmlElement | None:
    """Decode and parse; None for empty, binary or non-HTML input."""
    if isinstance(body, bytes):
        if not body.strip() or body.startswith(_MAGIC):
            return None
        if read_bom(body)[0] is None and b"\x00" in body[:1024]:
            return None
        body = decode_html(body, encoding)
    body = _XML_INVALID.sub("", body)
    if body.lstrip()[:1] in ("{", "[") or not _HTML_TAG.search(body):
        return None
    try:
        parser = lhtml.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)
        return lhtml.document_fromstring(body.encode("utf-8", "replace"), parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None


def _main_text(tree: lhtml.HtmlElement, url: str, *, favor_precision: bool) -> str:
    """trafilatura's main text (it works on a copy: the tree is left as it is)."""
    try:
        doc = trafilatura.bare_extraction(tree, url=url, favor_precision=favor_precision,
                                          **_TRAFILATURA_OPTS)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError,
            etree.LxmlError):
        return ""
    return doc.text or "" if doc is not None else ""


def _error_page(tree: lhtml.HtmlElement) -> bool:
    """Whether the page says it is missing (the crawl's spider reads the same title and
    heading in its link pass, :mod:`crawler.links`, and records the page as a soft 404)."""
    heading = tree.find(".//h1")
    return not_found_page(
        tree.findtext(".//title"), heading.text_content() if heading is not None else None,
        jsonld_types(tree.xpath('//script[@type="application/ld+json"]/text()')))


def extract_article(body: bytes | str, url: str, *, encoding: str | None = None) -> Article | None:
    """Extract the main article and its metadata; None if not HTML, no extractable text, or
    an error page served with 200 (a soft 404: :func:`crawler.discovery.not_found_page`)."""
    if (tree := _parse(body, encoding)) is None or _error_page(tree):
        return None
    meta = extract_metadata(tree, url)  # before pruning: bylines and dates live in blocks
    _prune_boilerplate(tree)            # that the pruning drops
    text = _main_text(tree, url, favor_precision=True)
    if len(text) < RECALL_CHECK_CHARS:
        recall = _main_text(tree, url, favor_precision=False)
        text = recall if len(text) < RECALL_SHARE * len(recall) else text
    text = _clean_text(text, meta.title, meta.authors)
    if len(text) < MIN_TEXT_CHARS:
        return None
    return Article(
        url=url,
        canonical_url=meta.canonical_url,
        title=meta.title,
        authors=meta.authors,
        published=meta.published,
        modified=meta.modified,
        language=_language(tree, text),
        description=meta.description,
        site_name=meta.site_name,
        text=text,
        word_count=len(text.split()),
    )


extract = extract_article  # the name the crawler's issue uses


def extract_to_dict(body: bytes, url: str, encoding: str | None) -> dict[str, Any] | None:
    """:func:`extract_article` as a picklable dict (or None): the process-pool entry point."""
    article = extract_article(body, url, encoding=encoding)
    return article.to_dict() if article else None
