"""Catalog reads behind the web UI: one small query per page section.

Every function takes an open session and returns ORM rows (or tuples of them); the pages
render them while the session is still open.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.capture_checks import checks_of
from archive.cdx_query import match_clause
from archive.models import Article, ArticleVersion, Capture, CrawlJob, Site, WarcFile
from scheduler.views import CaptureCheckOut


def sites_with_last_job(session: Session) -> list[tuple[Site, CrawlJob | None]]:
    """Every site (by name) with its most recent crawl job, if any."""
    last = (select(CrawlJob.site_id, func.max(CrawlJob.id).label("job_id"))
            .group_by(CrawlJob.site_id).subquery())
    rows = session.execute(select(Site, CrawlJob)
                           .outerjoin(last, last.c.site_id == Site.id)
                           .outerjoin(CrawlJob, CrawlJob.id == last.c.job_id)
                           .order_by(Site.name))
    return [(site, job) for site, job in rows]


def site_names(session: Session) -> list[str]:
    return list(session.scalars(select(Site.name).order_by(Site.name)))


def article_languages(session: Session) -> list[str]:
    return list(session.scalars(select(Article.language).distinct()
                                .where(Article.language.is_not(None))
                                .order_by(Article.language)))


def recent_jobs(session: Session, limit: int, site: Site | None = None) -> list[CrawlJob]:
    """Newest first; only ``site``'s jobs when given."""
    query = select(CrawlJob).order_by(CrawlJob.id.desc()).limit(limit)
    if site is not None:
        query = query.where(CrawlJob.site_id == site.id)
    return list(session.scalars(query))


def latest_articles(session: Session, limit: int) -> list[tuple[Article, Capture]]:
    """The most recently archived articles with the capture each came from."""
    return [(a, c) for a, c in session.execute(
        select(Article, Capture).join(Capture, Article.capture_id == Capture.id)
        .order_by(Capture.timestamp.desc(), Article.id.desc()).limit(limit))]


def version_count(session: Session, article: Article) -> int:
    """How many versions the article's history has (0 when it has not been built)."""
    if article.url_key is None:
        return 0
    return session.scalar(select(func.count(ArticleVersion.id))
                          .where(ArticleVersion.url_key == article.url_key)) or 0


def job_warc_files(session: Session, job_id: int) -> list[WarcFile]:
    return list(session.scalars(select(WarcFile).where(WarcFile.job_id == job_id)
                                .order_by(WarcFile.id)))


def job_captures(session: Session, job_id: int, *, after: int, limit: int
                 ) -> list[tuple[Capture, int | None]]:
    """A job's captures in archive order, ``limit`` from capture id ``after`` on, each with
    its article id (or None)."""
    return [(c, a) for c, a in session.execute(
        select(Capture, Article.id).outerjoin(Article, Article.capture_id == Capture.id)
        .where(Capture.job_id == job_id, Capture.id > after)
        .order_by(Capture.id).limit(limit))]


# -- capture timeline ------------------------------------------------------------------------


def capture_years(session: Session, url: str) -> dict[str, int]:
    """Year → number of captures of exactly ``url`` (SURT match), oldest year first."""
    year = func.substr(Capture.timestamp, 1, 4)
    rows = session.execute(select(year, func.count(Capture.id))
                           .where(match_clause(url, "exact")).group_by(year).order_by(year))
    return {str(y): int(n) for y, n in rows}


def captures_in_year(session: Session, url: str, year: str, limit: int) -> list[Capture]:
    """Captures of ``url`` in ``year``, oldest first, at most ``limit``."""
    return list(session.scalars(
        select(Capture).where(match_clause(url, "exact"),
                              Capture.timestamp.startswith(year, autoescape=True))
        .order_by(Capture.timestamp, Capture.id).limit(limit)))


@dataclass(frozen=True)
class Day:
    date: str  # YYYY-MM-DD
    captures: list[Capture]


@dataclass(frozen=True)
class Month:
    month: str  # YYYY-MM
    days: list[Day]

    @property
    def count(self) -> int:
        return sum(len(day.captures) for day in self.days)


def calendar(captures: Iterable[Capture]) -> Iterator[Month]:
    """Group time-ordered captures by month, then by day (the Wayback calendar's shape)."""
    for month, in_month in itertools.groupby(captures, lambda c: c.timestamp[:6]):
        days = [Day(f"{day[:4]}-{day[4:6]}-{day[6:8]}", list(group))
                for day, group in itertools.groupby(in_month, lambda c: c.timestamp[:8])]
        yield Month(f"{month[:4]}-{month[4:6]}", days)


def capture_articles(session: Session, captures: Iterable[Capture]) -> dict[int, int]:
    """capture id → the id of the article extracted from it, for those that have one."""
    ids = [c.id for c in captures]
    return {capture_id: article_id for capture_id, article_id in session.execute(
        select(Article.capture_id, Article.id).where(Article.capture_id.in_(ids)))} \
        if ids else {}


def capture_checks(session: Session, captures: Iterable[Capture]) -> dict[int, CaptureCheckOut]:
    """capture id → its capture check (with its verdict), for the checked ones."""
    return {capture_id: CaptureCheckOut.from_check(check)
            for capture_id, check in checks_of(session, (c.id for c in captures)).items()}
