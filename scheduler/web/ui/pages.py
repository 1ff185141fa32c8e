"""The web UI's pages: server-rendered HTML over the catalog, read-only.

Live progress of queued and running jobs comes from ``static/progress.js`` polling
``GET /api/v1/crawls/{id}``; everything else is rendered here. An article's history page
diffs two of its versions with :mod:`archive.versions` (the diff logic lives there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from archive import ledger
from archive.history import (
    VersionNotFound,
    content_of,
    headline_history,
    readers,
    versions_of_article,
)
from archive.models import MAX_ID, ArticleVersion
from archive.search import ArticleNotFound, SearchError, get_article, search_articles
from archive.versions import (
    FIELD_KINDS,
    Comparison,
    compare,
    diff_body,
    inline_diff,
    inline_paragraph,
)
from scheduler import schedules
from scheduler.sites import SiteNotFound, get_site, site_edits
from scheduler.web.deps import ServiceDep
from scheduler.web.ui import queries
from scheduler.web.ui.templating import render

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

DASHBOARD_JOBS = 20
LATEST_ARTICLES = 10
SITE_JOBS = 50
JOB_CAPTURES = 200
SEARCH_RESULTS = 20
TIMELINE_CAPTURES = 1000
MAX_URL = 2048
YEAR = re.compile(r"^\d{4}$")


def not_found(request: Request, message: str) -> HTMLResponse:
    return render(request, "not_found.html", status=404, message=message)


@router.get("/")
def dashboard(request: Request, service: ServiceDep) -> HTMLResponse:
    with service.catalog.session() as session:
        sites = [(site, job, schedules.next_run(service.scheduler, site.name))
                 for site, job in queries.sites_with_last_job(session)]
        return render(request, "dashboard.html", sites=sites,
                      jobs=queries.recent_jobs(session, DASHBOARD_JOBS),
                      articles=queries.latest_articles(session, LATEST_ARTICLES),
                      site_names=[site.name for site, _, _ in sites],
                      languages=queries.article_languages(session))


@router.get("/ui/sites/{name}")
def site_page(name: str, request: Request, service: ServiceDep) -> HTMLResponse:
    with service.catalog.session() as session:
        try:
            site = get_site(session, name)
        except SiteNotFound:
            return not_found(request, f"There is no site named “{name}”.")
        settings = service.settings
        edits = site_edits(session, site, settings)
        return render(request, "site.html", site=site, edits=edits,
                      next_run=schedules.next_run(service.scheduler, site.name),
                      jobs=queries.recent_jobs(session, SITE_JOBS, site), limit=SITE_JOBS)


@router.get("/ui/jobs/{job_id}")
def job_page(job_id: int, request: Request, service: ServiceDep,
             after: Annotated[int, Query(ge=0, le=MAX_ID, description="last capture id shown")]
             = 0
             ) -> HTMLResponse:
    if not 1 <= job_id <= MAX_ID:
        return not_found(request, f"There is no crawl job {job_id}.")
    with service.catalog.session() as session:
        try:
            job = ledger.get_job(session, job_id)
        except ledger.JobNotFound:
            return not_found(request, f"There is no crawl job {job_id}.")
        captures = queries.job_captures(session, job_id, after=after, limit=JOB_CAPTURES)
        return render(request, "job.html", job=job, after=after, limit=JOB_CAPTURES,
                      warc_files=queries.job_warc_files(session, job_id), captures=captures)


@router.get("/ui/search")
def search_page(request: Request, service: ServiceDep, q: str = "", lang: str = "", site: str = "",
                cursor: str = "") -> HTMLResponse:
    with service.catalog.session() as session:
        context = {"q": q, "lang": lang, "site": site, "error": None, "results": None,
                   "next_cursor": None, "site_names": queries.site_names(session),
                   "languages": queries.article_languages(session)}
        if not (q.strip() or lang or site):
            return render(request, "search.html", **context)
        try:
            page = search_articles(session, q=q, lang=lang or None, site=site or None,
                                   cursor=cursor or None, limit=SEARCH_RESULTS)
        except SearchError as exc:
            return render(request, "search.html", status=422, **{**context, "error": str(exc)})
        return render(request, "search.html",
                      **{**context, "results": page.items, "next_cursor": page.next_cursor})


@router.get("/ui/captures")
def captures_page(request: Request, service: ServiceDep, url: str = "",
                  year: str = "") -> HTMLResponse:
    url = url.strip()
    context = {"url": url, "years": {}, "year": year, "months": [], "shown": 0,
               "limit": TIMELINE_CAPTURES, "error": None, "checks": {}, "articles": {}}
    if len(url) > MAX_URL:
        context["error"] = (f"The URL is {len(url)} characters long; at most {MAX_URL} are "
                            "accepted. Shorten it (drop tracking parameters).")
    elif year and not YEAR.match(year):
        context["error"] = f"year must be four digits, e.g. 2026; got “{year}”."
    if context["error"] or not url:
        return render(request, "captures.html", status=422 if context["error"] else 200,
                      **context)
    with service.catalog.session() as session:
        years = queries.capture_years(session, url)
        year = year if year in years else (max(years) if years else "")
        captures = queries.captures_in_year(session, url, year, TIMELINE_CAPTURES) \
            if year else []
        return render(request, "captures.html",
                      **{**context, "years": years, "year": year, "shown": len(captures),
                         "months": list(queries.calendar(captures)),
                         "checks": queries.capture_checks(session, captures),
                         "articles": queries.capture_articles(session, captures)})


@router.get("/ui/articles/{article_id}")
def article_page(article_id: int, request: Request, service: ServiceDep) -> HTMLResponse:
    if not 1 <= article_id <= MAX_ID:
        return not_found(request, f"There is no article {article_id}.")
    with service.catalog.session() as session:
        try:
            hit = get_article(session, article_id)
        except ArticleNotFound:
            return not_found(request, f"There is no article {article_id}.")
        capture = hit.article.capture
        return render(request, "article.html", article=hit.article, site=hit.site,
                      capture=capture,
                      check=queries.capture_checks(session, [capture]).get(capture.id),
                      versions=queries.version_count(session, hit.article))


class BadVersionPair(ValueError):
    """``from``/``to`` of the history page name no version of the article."""


@router.get("/ui/articles/{article_id}/history")
def article_history_page(article_id: int, request: Request, service: ServiceDep,
                         from_: Annotated[str, Query(alias="from")] = "", to: str = "",
                         ) -> HTMLResponse:
    """The versions of the article's history, its headlines, and the inline diff of two
    versions (``from``/``to``: version ids; default the one before ``to``, and the latest).
    The same page from any article of the history, named after its latest article."""
    if not 1 <= article_id <= MAX_ID:
        return not_found(request, f"There is no article {article_id}.")
    with service.catalog.session() as session:
        try:
            hit = get_article(session, article_id)
            versions = versions_of_article(session, article_id)
        except (ArticleNotFound, VersionNotFound):
            return not_found(request, f"There is no article {article_id}.")
        latest = next((v.article for v in reversed(versions) if v.article), hit.article)
        context = {"article": latest, "versions": versions, "error": None, "diff": None,
                   "headlines": headline_history(versions)}
        if versions:
            try:
                new = _chosen(versions, to, "to") or versions[-1]
                old = _chosen(versions, from_, "from") \
                    or versions[max(0, versions.index(new) - 1)]
            except BadVersionPair as exc:
                return render(request, "article_history.html", status=400,
                              **{**context, "error": str(exc)})
            context["diff"] = PairDiff.of(old, new)
        return render(request, "article_history.html", **context)


def _chosen(versions: list[ArticleVersion], raw: str, name: str) -> ArticleVersion | None:
    """The version whose id is ``raw`` (None when ``raw`` is empty)."""
    raw = raw.strip()
    if not raw:
        return None
    ids = ", ".join(str(v.id) for v in versions)
    shown = raw if len(raw) <= 40 else raw[:40] + "…"
    if not raw.isdigit():
        raise BadVersionPair(f"{name} must be a version id (a number: {ids}); got “{shown}”.")
    for version in versions:
        if str(version.id) == raw.lstrip("0"):  # no int(): a huge number is no version
            return version
    raise BadVersionPair(f"{name}: version {shown} is not a version of this article; its "
                         f"versions are {ids}. Choose two of them below.")


@dataclass(frozen=True)
class PairDiff:
    """What the history page shows of the change from ``old`` to ``new``: the named changes
    (:func:`archive.versions.compare`), the headline diffed word by word (None when the same),
    the byline and date changes, and the body as (op, inline pieces) paragraph by paragraph
    (:func:`archive.versions.inline_paragraph`)."""

    old: ArticleVersion
    new: ArticleVersion
    comparison: Comparison
    headline: list[tuple[str, str]] | None
    metadata: list[dict[str, Any]]
    body: list[tuple[str, list[tuple[str, str]]]]
    readers: tuple[str, str] | None  # two extractors read the two versions

    @classmethod
    def of(cls, old: ArticleVersion, new: ArticleVersion) -> PairDiff:
        before, after = content_of(old), content_of(new)
        comparison = compare(before, after)
        return cls(old, new, comparison,
                   headline=(inline_diff(before.title, after.title)
                             if before.title != after.title else None),
                   metadata=[c for c in comparison.changes if c["kind"] in FIELD_KINDS],
                   body=[(part.op, inline_paragraph(part))
                         for part in diff_body(before, after)],
                   readers=readers(old, new))
