"""Article search over the catalog: filters, full-text query, keyset pagination.

One entry point, :func:`search_articles` (and :func:`get_article` for one row)::

    with catalog.session() as session:
        page = search_articles(session, q='"harbour bridge" reopens', lang="en", limit=20)
        for hit in page.items:
            hit.article.title, hit.article.capture.timestamp, hit.site, hit.date
        more = search_articles(session, q='"harbour bridge" reopens', lang="en",
                               cursor=page.next_cursor)

Semantics:

- ``q``: plain words and ``"quoted phrases"``, all ANDed, over title and text; case and (on
  SQLite) accents are folded, no stemming. Operators are not interpreted: every term is
  quoted before it reaches FTS5 / ``tsquery``, so no input can cause a syntax error.
- ``site``: the configured site whose crawl captured the article (crawl_jobs.site_id →
  sites.name). ``lang``: the extracted language code (``en``). ``author``: one of the
  article's authors, whole name, case-insensitive.
- Dates: an article's date is its ``published`` value as extracted (ISO 8601, the publisher's
  own offset, not converted), or its capture time (UTC) when it has none. ``since`` /
  ``until`` take ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` or an ISO 8601 date-time and are
  inclusive at the precision given (``until="2026-11-03"`` includes that whole day).
- Order: newest date first, then highest id, with or without ``q``; ``next_cursor`` is an
  opaque keyset cursor on (date, id), so pages never repeat or skip rows while articles are
  added.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal_column, select, text, tuple_
from sqlalchemy.orm import Session, contains_eager

from archive.models import MAX_ID, Article, Capture, CrawlJob, Site

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_TERMS = 32
# Must be the indexed expression of migration 0004 for PostgreSQL to use the GIN index.
PG_DOCUMENT = ("to_tsvector('simple', coalesce(articles.title, '') || ' ' "
               "|| coalesce(articles.text, ''))")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # NUL breaks FTS5 strings and PostgreSQL text
_TERM = re.compile(r'"([^"]*)"?|([^\s"]+)')
_WORDISH = re.compile(r"[^\W_]")
_PARTIAL_DATE = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")


class SearchError(ValueError):
    """Bad search input; the message names the parameter, the value and the fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class ArticleNotFound(LookupError):
    """No article with that id."""


@dataclass(frozen=True)
class ArticleHit:
    """An article (its ``capture`` loaded) with the site that captured it and its date."""

    article: Article
    site: str | None
    date: str  # published, else capture time as YYYY-MM-DDThh:mm:ss (UTC)


@dataclass(frozen=True)
class ArticlePage:
    items: list[ArticleHit]
    next_cursor: str | None


def query_terms(q: str) -> list[str]:
    """Words and ``"phrases"`` of a user query, whitespace-collapsed; punctuation-only
    terms dropped. An unclosed quote runs to the end."""
    terms = []
    for match in _TERM.finditer(_CONTROL.sub(" ", q)):
        term = " ".join((match.group(1) if match.group(1) is not None else match.group(2))
                        .split())
        if _WORDISH.search(term):
            terms.append(term)
    return terms


def fts5_query(terms: list[str]) -> str:
    """An FTS5 MATCH expression: every term a quoted string (a phrase), implicitly ANDed."""
    return " ".join('"' + term.replace('"', '""') + '"' for term in terms)


def search_articles(
    session: Session,
    *,
    q: str | None = None,
    site: str | None = None,
    lang: str | None = None,
    author: str | None = None,
    since: str | date | None = None,
    until: str | date | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> ArticlePage:
    """One page of articles matching every given filter, newest first (see module doc).

    Raises :class:`SearchError` for bad input (limit out of 1..100, unparseable dates,
    a query without words, a cursor not made by this function).
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise SearchError("limit", f"{limit} is out of range; ask for 1 to {MAX_LIMIT} "
                          "articles and follow next_cursor for more")
    query, sort_date = _hits()
    query = query.order_by(sort_date.desc(), Article.id.desc()).limit(limit + 1)
    dialect = session.get_bind().dialect.name
    if q is not None and q.strip():
        query = query.where(_matches(q, dialect))
    site, lang, author = (_CONTROL.sub("", v).strip() if v else None
                          for v in (site, lang, author))
    if site:
        query = query.where(Site.name == site)
    if lang:
        query = query.where(Article.language == lang.lower())
    if author:
        query = query.where(_has_author(session, author, dialect))
    if since:
        bound = _date_bound("since", since)
        query = query.where(func.substr(sort_date, 1, len(bound)) >= bound)
    if until:
        bound = _date_bound("until", until)
        query = query.where(func.substr(sort_date, 1, len(bound)) <= bound)
    if cursor:
        query = query.where(tuple_(sort_date, Article.id) < tuple_(*_decode_cursor(cursor)))
    rows = session.execute(query).all()
    items = [ArticleHit(article, site_name, key) for article, site_name, key in rows[:limit]]
    last = items[-1] if len(rows) > limit else None
    return ArticlePage(items, _encode_cursor(last.date, last.article.id) if last else None)


def get_article(session: Session, article_id: int) -> ArticleHit:
    """The article with its capture and WARC file loaded; :class:`ArticleNotFound` if none."""
    query, _ = _hits()
    query = query.options(contains_eager(Article.capture).joinedload(Capture.warc_file))
    row = session.execute(query.where(Article.id == article_id)).first()
    if row is None:
        raise ArticleNotFound(f"no article with id {article_id}")
    return ArticleHit(*row)


def _hits() -> tuple[Select[Any], ColumnElement[str]]:
    """Articles with their capture, the capturing site's name and their date."""
    sort_date = func.coalesce(Article.published, _capture_iso()).label("sort_date")
    query = (select(Article, Site.name, sort_date)
             .join(Article.capture)
             .outerjoin(CrawlJob, CrawlJob.id == Capture.job_id)
             .outerjoin(Site, Site.id == CrawlJob.site_id)
             .options(contains_eager(Article.capture)))
    return query, sort_date


def _capture_iso() -> ColumnElement[str]:
    """The 14-digit capture timestamp as ``YYYY-MM-DDThh:mm:ss`` (portable SQL)."""
    ts = Capture.timestamp
    parts: list[Any] = [func.substr(ts, 1, 4), "-", func.substr(ts, 5, 2), "-",
                        func.substr(ts, 7, 2), "T", func.substr(ts, 9, 2), ":",
                        func.substr(ts, 11, 2), ":", func.substr(ts, 13, 2)]
    expr = parts[0]
    for part in parts[1:]:
        expr = expr.op("||")(part)
    return expr


def _matches(q: str, dialect: str) -> ColumnElement[bool]:
    terms = query_terms(q)
    if not terms:
        raise SearchError("q", f"{q!r} has no words to search for; give words or "
                          '"a phrase" (letters or digits)')
    if len(terms) > MAX_TERMS:
        raise SearchError("q", f"{len(terms)} terms is more than the {MAX_TERMS} allowed; "
                          "shorten the query")
    if dialect == "sqlite":
        return text("articles.id IN (SELECT rowid FROM articles_fts "
                    "WHERE articles_fts MATCH :fts_query)").bindparams(fts_query=fts5_query(terms))
    if dialect == "postgresql":
        tsquery = func.phraseto_tsquery("simple", terms[0])
        for term in terms[1:]:
            tsquery = tsquery.op("&&")(func.phraseto_tsquery("simple", term))
        return literal_column(PG_DOCUMENT).op("@@")(tsquery)
    raise SearchError("q", f"full-text search needs SQLite or PostgreSQL, not {dialect}")


def _has_author(session: Session, author: str, dialect: str) -> ColumnElement[bool]:
    name = " ".join(author.split())
    if dialect == "sqlite":
        # SQLite's lower() folds ASCII only; Python's casefold handles "Élodie" too.
        session.connection().connection.driver_connection.create_function(
            "na_casefold", 1, _casefold, deterministic=True)
        return text("EXISTS (SELECT 1 FROM json_each(articles.authors) "
                    "WHERE na_casefold(json_each.value) = :author_name)"
                    ).bindparams(author_name=name.casefold())
    return text("EXISTS (SELECT 1 FROM json_array_elements_text(articles.authors) AS a(name) "
                "WHERE lower(a.name) = lower(:author_name))").bindparams(author_name=name)


def _casefold(value: object) -> str | None:
    return value.casefold() if isinstance(value, str) else None


def _date_bound(name: str, value: str | date) -> str:
    """``YYYY[-MM[-DD]]`` as given, or a date-time as ``YYYY-MM-DDThh:mm:ss`` (UTC if it
    carries an offset)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return value.isoformat()
    else:
        text_value = value.strip()
        try:
            if _PARTIAL_DATE.fullmatch(text_value):  # validated as the first day it covers
                date.fromisoformat(text_value + "-01-01"[len(text_value) - 4:])
                return text_value
            moment = datetime.fromisoformat(text_value.replace("Z", "+00:00"))
        except ValueError:
            raise SearchError(
                name, f"{value!r} is not a date; use YYYY-MM-DD (or YYYY, YYYY-MM) or an "
                "ISO 8601 date-time such as 2026-11-03T14:00:00") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _encode_cursor(sort_date: str, article_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([sort_date, article_id]).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        sort_date, article_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if isinstance(sort_date, str) and isinstance(article_id, int) \
                and 0 <= article_id <= MAX_ID:
            return sort_date, article_id
    except (ValueError, TypeError):
        pass
    raise SearchError("cursor", "not a next_cursor value returned by this search; "
                      "repeat the search without cursor")
