"""The order of a crawl: Scrapy request priorities (higher first).

robots.txt (for the sitemaps it announces), then feeds and sitemaps, then page requisites
(so that each is captured close to its page), then the start pages, then articles, newest
first wherever a date is known (feed ``pubDate``, news sitemap ``publication_date``,
``lastmod``, a date in the URL) and undated ones by how deep in a listing they were found,
then pages of unknown kind, then section pages, then deeper pagination, then other listings
(tags, calendars). Scrapy's priority queue keeps one FIFO queue per priority value, so the
order holds at any queue length without sorting anything, in memory or on disk; the values
are bucketed to keep those queues few.
"""

from __future__ import annotations

from datetime import datetime

from crawler.discovery import ARTICLE, HUB

ROBOTS = 500
FEED = SITEMAP = 400
REQUISITE = 300
START = 250
ARTICLE_NEWEST, ARTICLE_OLDEST = 199, 100
UNDATED_ARTICLE = 150  # as an article about three days old
UNKNOWN = 95  # neither article- nor hub-shaped: perhaps an article
SECTION = 90
PAGINATION = 60  # page 2 of a listing; page n: PAGINATION + 2 - n, down to LISTING + 1
LISTING = 20  # tags, topics, authors, calendars, filters


def age_bucket(published: datetime, now: datetime) -> int:
    """0..99: hours for the first two days, then half-days (about 27 days in all)."""
    hours = max(0.0, (now - published).total_seconds() / 3600)
    bucket = hours if hours < 48 else 48 + (hours - 48) / 12
    return min(99, int(bucket))


def page_priority(kind: str | None, *, published: datetime | None = None,
                  now: datetime | None = None, page: int | None = None,
                  listing: bool = False, found_on_page: int = 1) -> int:
    """The priority of a discovered page: ``kind`` is what its URL (or its family, or the
    site's patterns) says it is, None when unknown; ``page`` its number if it is a listing's
    page; ``found_on_page`` the page number of the listing it was found on."""
    if kind == ARTICLE:
        if published is not None and now is not None:
            return ARTICLE_NEWEST - age_bucket(published, now)
        return UNDATED_ARTICLE - min(found_on_page - 1, UNDATED_ARTICLE - ARTICLE_OLDEST)
    if page is not None and page > 1:
        return max(LISTING + 1, PAGINATION + 2 - page)
    if kind == HUB:
        return LISTING if listing else SECTION
    return UNKNOWN
