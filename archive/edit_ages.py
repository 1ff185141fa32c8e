"""When a site's articles are edited, by article age: read from the article histories.

The facts stay where they are owned (``article_versions``, ``captures``, ``crawl_jobs``);
this module only reads them. A site's **tracked articles** are the histories whose first
version was captured by a crawl of the site. An **edit** is a later version that names at
least one change other than ``unpublished`` (an article taken down is counted apart, as
``unpublished``; one that comes back unchanged, or another extractor's reading
(``extractor``), is no edit).

An edit's **age** is measured from the article's first capture, the clock the site's refresh
ages run on (:mod:`crawler.seen`), not from its published date (often missing, late or in
the wrong zone). An edit is only seen when a capture catches it, so it happened in the
interval (``since``, ``age``]: from the previous capture of the URL (a refetch that found
nothing new, or the version before) to the capture that caught it. The histogram places
each edit at its catching age, the latest it can have happened: an upper bound, which is
also the age a refetch must reach to catch it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from archive.models import ArticleVersion, Capture, CrawlJob
from archive.versions import EXTRACTOR

HOUR = 3600
DAY = 24 * HOUR
# (label, from seconds, to seconds]: an edit at exactly 1h falls in "<1h"
BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("<1h", 0, HOUR), ("1-3h", HOUR, 3 * HOUR), ("3-6h", 3 * HOUR, 6 * HOUR),
    ("6-12h", 6 * HOUR, 12 * HOUR), ("12-24h", 12 * HOUR, DAY), ("1-2d", DAY, 2 * DAY),
    ("2-7d", 2 * DAY, 7 * DAY), (">7d", 7 * DAY, float("inf")),
)
UNPUBLISHED = "unpublished"
_CHUNK = 500  # URLs per query for the previous captures


@dataclass(frozen=True)
class Edit:
    """One edit of a tracked article: ages in seconds since its first capture."""

    url_key: str
    age: float  # the capture that caught it
    since: float  # the capture before it (the edit happened in (since, age])
    kinds: tuple[str, ...]
    stealth: bool


@dataclass(frozen=True)
class Bucket:
    label: str
    from_seconds: float
    to_seconds: float | None  # None: no upper end
    edits: int
    within: int  # of them, those seen to happen in this bucket (the capture before was too)


@dataclass(frozen=True)
class SiteEdits:
    """A site's tracked articles and their edits."""

    articles: int
    edits: list[Edit]
    unpublished: int

    @property
    def edited_articles(self) -> int:
        return len({edit.url_key for edit in self.edits})

    @property
    def stealth(self) -> int:
        return sum(edit.stealth for edit in self.edits)

    def kinds(self) -> list[tuple[str, int]]:
        """Kinds of change with how many edits name each, most common first."""
        counts = Counter(kind for edit in self.edits for kind in edit.kinds)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    def histogram(self) -> list[Bucket]:
        return histogram((edit.since, edit.age) for edit in self.edits)

    def ages_by_article(self) -> list[list[float]]:
        """Each edited article's catching ages, in order (what refresh shaping needs)."""
        ages: dict[str, list[float]] = defaultdict(list)
        for edit in self.edits:
            ages[edit.url_key].append(edit.age)
        return [sorted(article) for _, article in sorted(ages.items())]


def histogram(intervals: Iterable[tuple[float, float]]) -> list[Bucket]:
    """Edits, each ``(since, age)`` in seconds, counted in :data:`BUCKETS` (each (from, to])
    by ``age``; ``within``: those whose whole interval lies in the bucket."""
    counts = [0] * len(BUCKETS)
    within = [0] * len(BUCKETS)
    for since, age in intervals:
        index = next(i for i, (_, _, high) in enumerate(BUCKETS) if age <= high)
        counts[index] += 1
        within[index] += since >= BUCKETS[index][1]
    return [Bucket(label, low, None if high == float("inf") else high, count, inside)
            for (label, low, high), count, inside in zip(BUCKETS, counts, within, strict=True)]


def _moment(timestamp: str) -> datetime:
    return datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def site_edits(session: Session, site_id: int) -> SiteEdits:
    """The edits of the articles a site's crawls first captured (three queries, plus one
    per :data:`_CHUNK` edited URLs)."""
    first_capture = aliased(Capture)
    first = (select(ArticleVersion.url_key, first_capture.timestamp.label("first"))
             .join(first_capture, first_capture.id == ArticleVersion.capture_id)
             .join(CrawlJob, CrawlJob.id == first_capture.job_id)
             .where(CrawlJob.site_id == site_id, ArticleVersion.number == 1)
             .subquery())
    articles = session.scalar(select(func.count()).select_from(first)) or 0
    rows = session.execute(
        select(ArticleVersion.url_key, ArticleVersion.number, ArticleVersion.changes,
               ArticleVersion.stealth, Capture.timestamp, Capture.surt, first.c.first)
        .join(Capture, Capture.id == ArticleVersion.capture_id)
        .join(first, first.c.url_key == ArticleVersion.url_key)
        .where(ArticleVersion.number > 1)
        .order_by(ArticleVersion.url_key, ArticleVersion.number)).all()
    captured = _capture_times(session, {row.surt for row in rows})
    edits, unpublished, previous_version = [], 0, {}
    for row in rows:
        kinds = tuple(dict.fromkeys(change.get("kind", "") for change in row.changes or []))
        start = _moment(row.first)
        at = _moment(row.timestamp)
        before = previous_version.get(row.url_key, start)
        previous_version[row.url_key] = at
        if UNPUBLISHED in kinds:
            unpublished += 1
            continue
        if not kinds or EXTRACTOR in kinds:  # back, saying the same; or an extractor's reading
            continue
        times = captured.get(row.surt, [])
        index = bisect_left(times, row.timestamp)  # captures of the URL before this one
        if index:
            before = max(before, _moment(times[index - 1]))
        edits.append(Edit(row.url_key, (at - start).total_seconds(),
                          max(0.0, (before - start).total_seconds()), kinds, row.stealth))
    return SiteEdits(articles, edits, unpublished)


def _capture_times(session: Session, surts: set[str]) -> dict[str, list[str]]:
    """Timestamps of the page captures (responses and revisits) of each SURT, sorted."""
    times: dict[str, list[str]] = defaultdict(list)
    ordered = sorted(surts)
    for start in range(0, len(ordered), _CHUNK):
        for surt, timestamp in session.execute(
                select(Capture.surt, Capture.timestamp)
                .where(Capture.surt.in_(ordered[start:start + _CHUNK]),
                       Capture.record_type.in_(("response", "revisit")))):
            times[surt].append(timestamp)
    return {surt: sorted(stamps) for surt, stamps in times.items()}
