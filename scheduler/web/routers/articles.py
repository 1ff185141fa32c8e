"""/api/v1/articles: search extracted articles; one article with its capture and record."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from archive.models import MAX_ID
from archive.search import DEFAULT_LIMIT, MAX_LIMIT, get_article, search_articles
from scheduler.views import ArticleSummary
from scheduler.web.deps import ServiceDep
from scheduler.web.errors import error_responses
from scheduler.web.schemas import ArticleDetail, ArticleList

router = APIRouter(prefix="/api/v1/articles", tags=["articles"])
DateBound = Annotated[str | None, Query(
    max_length=40, description="YYYY, YYYY-MM, YYYY-MM-DD or ISO 8601 date-time; inclusive")]


@router.get("", response_model=ArticleList, responses=error_responses(422))
def list_articles(
    service: ServiceDep,
    q: Annotated[str | None, Query(
        max_length=1000, description='words and "phrases", all required')] = None,
    site: Annotated[str | None, Query(description="configured site name")] = None,
    lang: Annotated[str | None, Query(max_length=16, description="language code, e.g. en")]
    = None,
    author: Annotated[str | None, Query(max_length=200, description="an author's full name")]
    = None,
    since: DateBound = None,
    until: DateBound = None,
    limit: Annotated[int, Query(description=f"1 to {MAX_LIMIT}")] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> ArticleList:
    """Articles newest first (published date, else capture time); ``next_cursor`` pages."""
    with service.catalog.session() as session:
        page = search_articles(session, q=q, site=site, lang=lang, author=author,
                               since=since, until=until, limit=limit, cursor=cursor)
        return ArticleList(items=[ArticleSummary.from_hit(hit) for hit in page.items],
                           next_cursor=page.next_cursor)


@router.get("/{article_id}", response_model=ArticleDetail, responses=error_responses(404, 422))
def show_article(article_id: Annotated[int, Path(ge=1, le=MAX_ID)],
                 service: ServiceDep) -> ArticleDetail:
    """The article, the capture it came from, its WARC record and replay links."""
    with service.catalog.session() as session:
        return ArticleDetail.from_hit(get_article(session, article_id))
