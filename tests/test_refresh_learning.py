"""Refresh ages learned from edits: the histogram of edit ages, the choice of ages on
synthetic distributions, the opt-in (``"auto"``) and its errors, and the share of articles
that keeps the configured ages."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from archive.catalog import Catalog
from archive.edit_ages import histogram
from crawler.discovery import format_duration, parse_refresh
from crawler.refresh_learning import shape_refresh_ages
from crawler.seen import SeenUrls

MINUTE, HOUR, DAY = 60, 3600, 86400
H1, H6, D1 = timedelta(hours=1), timedelta(hours=6), timedelta(days=1)


def test_histogram_counts_each_age_in_its_bucket() -> None:
    # (capture before, catching capture): the edit happened in between
    buckets = histogram([(0, 30 * MINUTE), (0, HOUR), (HOUR, HOUR + 1), (4 * HOUR, 5 * HOUR),
                         (HOUR, 23 * HOUR), (DAY, 3 * DAY), (20 * DAY, 30 * DAY)])
    assert [(b.label, b.edits, b.within) for b in buckets] == [
        ("<1h", 2, 2), ("1-3h", 1, 1), ("3-6h", 1, 1), ("6-12h", 0, 0), ("12-24h", 1, 0),
        ("1-2d", 0, 0), ("2-7d", 1, 0), (">7d", 1, 1)]
    assert (buckets[0].from_seconds, buckets[0].to_seconds) == (0, HOUR)
    assert buckets[-1].to_seconds is None
    assert sum(b.edits for b in histogram([])) == 0


def test_edits_in_the_first_two_hours_need_one_refetch_at_two_hours() -> None:
    # 40 articles, each edit caught between 2 hours and 2 hours 20 after the first capture
    articles = [[2 * HOUR + i * 30] for i in range(40)]
    shape = shape_refresh_ages(articles, [H1, D1], min_edits=30)
    assert shape.learned and shape.ages == [timedelta(hours=2)]
    assert (shape.edits, shape.caught, shape.caught_by_configured) == (40, 40, 40)
    assert "1 of 2 refetches would record 40 as versions" in shape.reason


def test_bimodal_edits_of_each_article_need_two_refetches() -> None:
    # each article is edited within the hour and again a day later: two versions to catch
    articles = [[HOUR + 5 * MINUTE, DAY + 10 * MINUTE] for _ in range(30)]
    shape = shape_refresh_ages(articles, [H1, H6, D1], min_edits=30)
    assert shape.ages == [H1, D1] and shape.caught == 60
    # with one refetch allowed, the later one catches the latest version of each
    single = shape_refresh_ages(articles, [D1], min_edits=30)
    assert single.ages == [D1] and single.caught == 30


def test_articles_edited_once_at_different_ages_need_one_refetch() -> None:
    # half edited at 1h, half at 20h, each once: one refetch at the later age sees every edit
    articles = [[HOUR]] * 20 + [[20 * HOUR]] * 20
    shape = shape_refresh_ages(articles, [H1, H6, D1], min_edits=30)
    assert shape.ages == [timedelta(hours=18)] and shape.caught == 40


def test_a_refetch_that_catches_few_edits_is_left_out() -> None:
    # 40 articles edited at 2h, 1 of them again at 20h: a second refetch would record one
    # more version of 41 edits (< 5%), so one refetch, at the age that sees every edit
    articles = [[2 * HOUR]] * 39 + [[2 * HOUR, 20 * HOUR]]
    shape = shape_refresh_ages(articles, [H1, D1], min_edits=30)
    assert shape.ages == [timedelta(hours=18)] and shape.caught == 40
    # 10 of 40 edited again: worth the second refetch
    articles = [[2 * HOUR]] * 30 + [[2 * HOUR, 20 * HOUR]] * 10
    assert shape_refresh_ages(articles, [H1, D1], min_edits=30).ages == [
        timedelta(hours=2), timedelta(hours=18)]


def test_too_few_edits_keep_the_configured_ages() -> None:
    shape = shape_refresh_ages([[2 * HOUR]] * 29, [H1, D1], min_edits=30)
    assert not shape.learned and shape.ages == [H1, D1]
    assert shape.reason == "29 edits observed, fewer than 30: the configured ages"


def test_learned_ages_stay_within_the_bounds() -> None:
    # edits at 5 minutes, crawls every 30 minutes: no refetch sooner than the next crawl
    early = shape_refresh_ages([[5 * MINUTE]] * 30, [H1, D1], min_edits=30,
                               shortest=timedelta(minutes=30))
    assert early.ages == [timedelta(minutes=30)]
    # edits long after the longest configured age are out of reach: configured ages stay
    late = shape_refresh_ages([[5 * DAY]] * 30, [H1, D1], min_edits=30)
    assert not late.learned and late.ages == [H1, D1]
    assert "none of the 30 edits observed is within the longest age" in late.reason
    # never more refetches than configured, never later than the longest
    spread = [[age] for age in (10 * MINUTE, HOUR, 3 * HOUR, 8 * HOUR, DAY) for _ in range(8)]
    ages = shape_refresh_ages([[a[0], a[0] * 2] for a in spread], [H1, H6], min_edits=30).ages
    assert len(ages) <= 2 and max(ages) <= H6


def test_observed_ages_lagging_the_refresh_ages_snap_back_to_them() -> None:
    # refreshes at 1h and 1d run at the next crawl, up to 20 minutes late: the ages learned
    # from what they caught are the same, not later
    articles = [[HOUR + i * MINUTE, DAY + 2 * i * MINUTE] for i in range(20)]
    assert shape_refresh_ages(articles, [H1, D1], min_edits=30).ages == [H1, D1]


def test_refresh_setting_parses_auto_and_refuses_misuse() -> None:
    assert parse_refresh(["1d", "1h"]).ages == [H1, D1]
    learned = parse_refresh(["auto", "1h", "1d"])
    assert learned.learn and learned.ages == [H1, D1]
    with pytest.raises(ValueError, match='"auto" needs the ages to start from'):
        parse_refresh(["auto"])
    with pytest.raises(ValueError, match='"auto" may appear once'):
        parse_refresh(["auto", "auto", "1h"])
    with pytest.raises(ValueError, match="invalid duration 'soon'"):
        parse_refresh(["auto", "soon"])
    assert [format_duration(t) for t in (H1, D1, timedelta(minutes=90),
                                         timedelta(days=14), timedelta(seconds=45))] == [
        "1h", "1d", "90m", "14d", "45s"]


def test_a_share_of_articles_keeps_the_configured_ages(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    learned, configured = [timedelta(hours=2)], [H1, D1]
    urls = [f"https://news.example/story/{n}" for n in range(2000)]
    for share, low, high in ((0.0, 0, 0), (0.1, 140, 260), (1.0, 2000, 2000)):
        seen = SeenUrls(catalog, 1, learned, explore=configured, explore_share=share)
        explored = [url for url in urls if seen.refresh_ages(url) == configured]
        assert low <= len(explored) <= high, share
        assert all(seen.refresh_ages(url) == learned for url in set(urls) - set(explored))
    catalog.dispose()
