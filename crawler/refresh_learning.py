"""Refresh ages learned from a site's edits: catch most edits with the fewest refetches.

A site opts in with ``"auto"`` among its refresh ages (``refresh = ["auto", "1h", "1d"]``).
The ages it gives are then the start and the bounds:

- until :data:`MIN_EDITS` edits (``NEWSARCHIVE_REFRESH_LEARN_MIN_EDITS``) have been observed,
  the crawl uses them as they are;
- the learned ages are never more than they are (each article is refetched at most as many
  times as the site allows) and never later than the longest (the site's word for how long
  an article is worth watching; edits after it are not observed either);
- nor sooner than the site's crawl interval (a refetch cannot come before the next crawl),
  when its schedule is an interval.

:func:`shape_refresh_ages` is the choice, a pure function. Each observed edit is placed at
the age of the capture that caught it (:mod:`archive.edit_ages`), snapped down to the
nearest candidate age (:data:`LADDER` and the ages the site gave): the refetch that caught
it ran at the next crawl after its refresh age, so snapping down takes out that lag (and the
ages do not creep later from one learning to the next), at the price of some optimism about
edits caught long after a refetch age. A refetch at age ``t`` after one at ``s`` catches
an article's edits in ``(s, t]`` as one new version; the score of a set of ages is the
number of (article, interval) pairs with an edit, i.e. the versions it would record of the
edits seen so far. A dynamic programme over the ladder finds
the best ages for each number of refetches (on a tie, the one whose last refetch sees more
edits at all, then the earlier); the fewest refetches whose score is within
:data:`TOLERANCE` of the edits of the best the budget allows win.

Observations are censored by the ages in use: between two refetches nothing is seen, and a
dropped early refetch could never show again that it was needed. So a share of each site's
articles (``NEWSARCHIVE_REFRESH_EXPLORE_SHARE``, chosen by URL hash in
:class:`crawler.seen.SeenUrls`) keeps the ages the site gave.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from archive.edit_ages import SiteEdits, site_edits
from archive.models import Site
from crawler.discovery import parse_refresh

MIN_EDITS = 30  # the default of NEWSARCHIVE_REFRESH_LEARN_MIN_EDITS
TOLERANCE = 0.05  # of the observed edits: an extra refetch must catch more to be worth it
_M, _H, _D = 60, 3600, 86400
LADDER = tuple(timedelta(seconds=s) for s in (
    5 * _M, 10 * _M, 15 * _M, 20 * _M, 30 * _M, 45 * _M, _H, 90 * _M, 2 * _H, 3 * _H, 4 * _H,
    6 * _H, 8 * _H, 12 * _H, 18 * _H, _D, 36 * _H, 2 * _D, 3 * _D, 4 * _D, 5 * _D, 7 * _D,
    10 * _D, 14 * _D, 21 * _D, 30 * _D))
REACH = 1.5  # an edit later than the longest age by more than this ratio is out of reach


@dataclass(frozen=True)
class RefreshShape:
    """The ages a crawl uses, and why."""

    ages: list[timedelta]
    learned: bool  # False: the configured ages (too few edits, or not learning)
    reason: str
    edits: int  # edits observed
    caught: int  # of them, how many these ages would record as versions
    caught_by_configured: int  # … and the configured ages


def shape_refresh_ages(edits_by_article: Sequence[Sequence[float]],
                       configured: Sequence[timedelta], *,
                       shortest: timedelta | None = None,
                       min_edits: int = MIN_EDITS) -> RefreshShape:
    """The refresh ages that catch the most of the observed edits (each article's catching
    ages in seconds) with the fewest refetches, within the bounds ``configured`` sets (at
    most as many ages, none later than its longest) and ``shortest``."""
    configured = sorted(configured)
    if not configured:
        raise ValueError("no refresh ages to start from")
    longest = configured[-1]
    floor = min(shortest or LADDER[0], longest)
    candidates = sorted({age for age in LADDER if floor <= age <= longest}
                        | {age for age in configured if age >= floor} | {floor})
    articles = [_snap(ages, candidates) for ages in edits_by_article]
    total = sum(len(ages) for ages in edits_by_article)
    configured_catch = _caught(articles, candidates, configured)
    if total < min_edits:
        return RefreshShape(configured, False, f"{total} edits observed, fewer than "
                            f"{min_edits}: the configured ages", total, configured_catch,
                            configured_catch)
    best = _best_by_count(articles, len(candidates), len(configured))
    top = max(score for score, _ in best)
    if not top:
        return RefreshShape(configured, False, f"none of the {total} edits observed is "
                            "within the longest age: the configured ages", total, 0, 0)
    count, (score, indexes) = next((n, entry) for n, entry in enumerate(best, 1)
                                   if entry[0] >= top - TOLERANCE * total)
    ages = [candidates[i] for i in indexes]
    return RefreshShape(ages, True, f"learned from {total} edits: {count} of "
                        f"{len(configured)} refetches would record {score} as versions",
                        total, score, configured_catch)


def _snap(ages: Sequence[float], candidates: list[timedelta]) -> list[int]:
    """The candidate indexes an article's edit ages snap down to, those in reach."""
    seconds = [c.total_seconds() for c in candidates]
    limit = seconds[-1] * REACH
    return sorted({max(0, bisect_right(seconds, age) - 1) for age in ages if age <= limit})


def _caught(articles: list[list[int]], candidates: list[timedelta],
            ages: Sequence[timedelta]) -> int:
    """Versions refetches at ``ages`` record of the snapped edits: per article, the
    intervals between refetches that hold one of its edits."""
    ages = sorted(ages)
    caught = 0
    for indexes in articles:
        intervals = {bisect_left(ages, candidates[i]) for i in indexes}
        caught += len(intervals - {len(ages)})  # after the last refetch: never seen
    return caught


def _best_by_count(articles: list[list[int]], size: int,
                   budget: int) -> list[tuple[int, list[int]]]:
    """For 1…``budget`` refetches at candidate indexes: the best score and its indexes."""
    # between[s + 1][i]: articles with an edit in (candidate s, candidate i] (s = -1: age 0)
    between = [[0] * size for _ in range(size + 1)]
    for indexes in articles:
        for s in range(-1, size):
            following = bisect_left(indexes, s + 1)
            if following < len(indexes):
                between[s + 1][indexes[following]] += 1
    for row in between:
        for i in range(1, size):
            row[i] += row[i - 1]
    # edits at or before candidate i: seen at all (if only folded into a later version)
    seen = [0] * size
    for indexes in articles:
        for index in indexes:
            seen[index] += 1
    for i in range(1, size):
        seen[i] += seen[i - 1]
    score = [between[0][i] for i in range(size)]
    parents: list[list[int | None]] = [[None] * size]
    results = []
    for count in range(1, min(budget, size) + 1):
        if count > 1:
            new, parent = [-1] * size, [None] * size
            for i in range(size):
                for s in range(i):
                    if score[s] >= 0 and score[s] + between[s + 1][i] > new[i]:
                        new[i], parent[i] = score[s] + between[s + 1][i], s
            score = new
            parents.append(parent)
        last = max(range(size), key=lambda i: (score[i], seen[i], -i))
        indexes, at = [], last
        for level in range(count - 1, -1, -1):
            indexes.append(at)
            at = parents[level][at] if level else None
        results.append((score[last], indexes[::-1]))
    return results


@dataclass(frozen=True)
class SiteRefresh:
    """A site's refresh ages: those it gave, whether it learns, its observed edits and the
    ages they suggest (when they were read)."""

    configured: list[timedelta]
    learn: bool
    edits: SiteEdits | None = None
    shape: RefreshShape | None = None

    @property
    def learned(self) -> bool:
        """Whether crawls use learned ages (the site learns, from enough edits)."""
        return self.learn and self.shape is not None and self.shape.learned

    @property
    def ages(self) -> list[timedelta]:
        """The ages a crawl uses."""
        return self.shape.ages if self.learned and self.shape else self.configured


def site_refresh(session: Session, site: Site, min_edits: int = MIN_EDITS, *,
                 observe: bool = False) -> SiteRefresh:
    """The refresh ages of ``site``, learned from its edits when it opts in; ``observe``:
    read its edits (and the ages they suggest) even when it does not."""
    refresh = parse_refresh(site.refresh or [])
    if not (refresh.learn or observe):
        return SiteRefresh(refresh.ages, False)
    edits = site_edits(session, site.id)
    if not refresh.ages:
        return SiteRefresh(refresh.ages, refresh.learn, edits)
    interval = (site.schedule or {}).get("interval_seconds")
    shape = shape_refresh_ages(edits.ages_by_article(), refresh.ages, min_edits=min_edits,
                               shortest=timedelta(seconds=interval) if interval else None)
    return SiteRefresh(refresh.ages, refresh.learn, edits, shape)
