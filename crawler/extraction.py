"""Article extraction: robust decoding, metadata (JSON-LD > meta > trafilatura > htmldate), text.

Pure functions, no Scrapy imports: safe to run in a process pool.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import htmldate
import py3langid
import trafilatura
from charset_normalizer import from_bytes
from lxml import etree
from lxml import html as lhtml
from w3lib.encoding import html_body_declared_encoding, read_bom, resolve_encoding

EXTRACTOR_VERSION = f"newsarchive-extract/1 trafilatura/{trafilatura.__version__}"
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
_BY = re.compile(r"^\s*(?:(?:written|reported|words)\s+)?(?:by|par|von|por|door)\b[\s:]*", _I)
_AUTHOR_SPLIT = re.compile(r"\s*[,;&|]\s*(?:(?:and|und|et|y|e)\s+)?|\s+(?:and|und|et|y|e)\s+", _I)
_ROLE = re.compile(
    r"\b(?:staff|writer|reporter|correspondent|editor|contributor|contributing|columnist"
    r"|journalist|photographer|producer|analyst|bureau|desk|newsroom|chief|senior|special"
    r"|freelance|news|press|agency|rédaction|redaktion|journaliste|korrespondent\w*)\b", _I)
_JSONLD_JUNK = re.compile(r"^\s*(?:<!--|<!\[CDATA\[)|(?:-->|\]\]>|;)\s*$")
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_LANG = re.compile(r"([a-z]{2,3})(?:[-_][\w-]+)?")
_TITLE_SEP = "[|\\-\u2013\u2014:\u00b7\u00bb\u2022]+"
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
_TRAFILATURA_OPTS: dict[str, Any] = {
    "with_metadata": True, "include_comments": False, "include_tables": False,
    "include_images": False, "favor_precision": True, "deduplicate": False,
}


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


def split_authors(raw: str | list[str] | None) -> list[str]:
    """Split a byline ("By A, Staff Writer and B") into clean, deduplicated person names."""
    names: list[str] = []
    for value in [raw] if isinstance(raw, str) else [v for v in raw or [] if isinstance(v, str)]:
        value = _BY.sub("", re.sub(r"\([^)]*\)|\S+@\S+", " ", html.unescape(value)))
        for part in _AUTHOR_SPLIT.split(value):
            name = " ".join(_BY.sub("", part).strip(" \t\n-\u2013\u2014:\u00b7|").split())
            if (not name or len(name) > 60 or len(name.split()) > 5 or _ROLE.search(name)
                    or re.search(r"\d|https?:|www\.|/", name) or not re.search(r"[^\W\d_]", name)):
                continue
            name = name.title() if name.isupper() else name
            if name.casefold() not in {n.casefold() for n in names}:
                names.append(name)
    return names


def normalize_date(value: Any) -> str | None:
    """ISO 8601 date: keep time and offset when given, else YYYY-MM-DD; None if unparseable."""
    value = _text(value)
    if not value:
        return None
    try:
        if re.fullmatch(r"\d{4}-?\d{2}-?\d{2}", value):
            return date.fromisoformat(value).isoformat()
        return datetime.fromisoformat(value).isoformat(timespec="seconds")
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).isoformat(timespec="seconds")
    except (TypeError, ValueError, IndexError):
        match = re.match(r"(\d{4}-\d{2}-\d{2})(?!\d)", value)
        return normalize_date(match.group(1)) if match else None


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


def _jsonld(tree: lhtml.HtmlElement) -> tuple[dict, dict[str, dict]]:
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
    articles = (n for n in nodes
                if any(t.endswith(("Article", "Posting")) or t == "Report" for t in _types(n)))
    return next(articles, {}), index


def _names(value: Any, index: dict[str, dict], persons_only: bool = True) -> list[str]:
    """Names from JSON-LD author/publisher values (strings, objects, @id references, lists)."""
    out: list[str] = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):
            ref = item.get("@id")
            item = index.get(ref, item) if "name" not in item and isinstance(ref, str) else item
            if persons_only and _types(item) & {"Organization", "NewsMediaOrganization"}:
                continue
            item = item.get("name")
        if isinstance(item, str) and item.strip():
            out.append(item)
    return out


def _prune_boilerplate(tree: lhtml.HtmlElement) -> None:
    """Drop cookie/comment/share/donation/... blocks unless they hold the main text container."""
    weights: dict[Any, int] = {}
    for p in tree.iter("p"):
        if (parent := p.getparent()) is not None:
            weights[parent] = weights.get(parent, 0) + len(p.text_content())
    main = max(weights, key=weights.__getitem__) if weights else tree
    protected = {main, *main.iterancestors()}
    half = len(tree.text_content()) / 2
    doomed = [el for el in tree.iter(etree.Element)
              if el not in protected and el.tag not in ("html", "body")
              and (_BOILER_ATTR.search(f"{el.get('class', '')} {el.get('id', '')}")
                   or el.tag == "dialog" or el.get("role") in ("dialog", "alertdialog"))
              and len(el.text_content()) < half]
    for el in doomed:
        el.drop_tree()


def _clean_text(text: str, title: str | None, authors: list[str]) -> str:
    """Drop leftover boilerplate lines, bylines and a leading copy of the headline."""
    known = {a.casefold() for a in authors}

    def junk(line: str) -> bool:
        if len(line) > 200:
            return False
        byline = {n.casefold() for n in split_authors(line)} if _BY.match(line) else set()
        return bool(_BOILER_LINE.search(line)) or (bool(byline) and byline <= known)

    lines = [ln for raw in text.splitlines() if (ln := " ".join(raw.split())) and not junk(ln)]
    if lines and title and lines[0].casefold() == title.casefold():
        lines = lines[1:]
    return "\n".join(lines)


def _strip_site(title: str | None, site: str | None) -> str | None:
    """Remove a " | Site Name" suffix (or "Site Name - " prefix) matching the site name."""
    if not title or not site:
        return title
    site_re = re.escape(site)
    stripped = re.sub(rf"\s*{_TITLE_SEP}\s*{site_re}\s*$", "", title, flags=_I)
    return re.sub(rf"^\s*{site_re}\s*{_TITLE_SEP}\s*", "", stripped, flags=_I) or title


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


def extract_article(body: bytes | str, url: str, *, encoding: str | None = None) -> Article | None:
    """Extract the main article and its metadata; None if not HTML or no extractable text."""
    if (tree := _parse(body, encoding)) is None:
        return None
    node, index = _jsonld(tree)
    meta: dict[str, list[str]] = {}
    for el in tree.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        if key and (content := el.get("content", "").strip()):
            meta.setdefault(key, []).append(content)

    def first(field: str, norm: Any = _text) -> Any:
        return next((v for k in _META_KEYS[field] if k in meta and (v := norm(meta[k]))), None)

    hrefs = tree.xpath('//link[contains(concat(" ", translate(@rel, "CANONICAL", "canonical"),'
                       ' " "), " canonical ")]/@href') + meta.get("og:url", [])
    try:
        canonical = urljoin(url, hrefs[0].strip()) if hrefs else None
    except ValueError:  # e.g. malformed IPv6 host
        canonical = None
    _prune_boilerplate(tree)
    try:
        doc = trafilatura.bare_extraction(tree, url=url, **_TRAFILATURA_OPTS)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError,
            etree.LxmlError):
        return None
    if doc is None or not doc.text:
        return None
    site_name = (_text(_names(node.get("publisher"), index, persons_only=False))
                 or first("site_name") or _text(doc.sitename))
    title = _text(node.get("headline") or node.get("name")) or first("title") or _text(doc.title)
    title = _strip_site(title, site_name)
    authors = split_authors(_names(node.get("author"), index))
    for key in _META_KEYS["authors"]:
        authors = authors or split_authors(meta.get(key))
    authors = authors or split_authors((doc.author or "").split(";"))
    published = (normalize_date(node.get("datePublished")) or first("published", normalize_date)
                 or normalize_date(doc.date))
    if not published:
        try:
            published = normalize_date(htmldate.find_date(tree, url=url, original_date=True))
        except (ValueError, TypeError, etree.LxmlError):
            published = None
    if len(text := _clean_text(doc.text, title, authors)) < MIN_TEXT_CHARS:
        return None
    return Article(
        url=url,
        canonical_url=canonical if canonical and canonical.startswith("http") else None,
        title=title,
        authors=authors,
        published=published,
        modified=normalize_date(node.get("dateModified")) or first("modified", normalize_date),
        language=_language(tree, text),
        description=(_text(node.get("description")) or first("description")
                     or _text(doc.description)),
        site_name=site_name,
        text=text,
        word_count=len(text.split()),
    )
