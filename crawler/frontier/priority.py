"""The order of a crawl: Scrapy request priorities (higher first).

robots.txt (for the sitemaps it announces), then feeds and sitemaps, then page requisites
(so that each is captured close to its page), then the start pages; then articles, newest
first wherever a date is known (feed ``pubDate``, news sitemap ``publication_date``,
``lastmod``, a date in the URL, the ``<time>`` of a listing's teaser), undated ones by where
they were found (a listing's first page, deeper pages, an article's related links); the
first page of each section comes before articles older than most of a day (it shows the
newest of its section), the next pages of a listing before articles over a week old, and
tag, author, calendar and filter pages last. Hubs are also held back until nothing
outranks them (:mod:`.reserve`).

Scrapy's priority queue keeps one FIFO queue per priority value, so the order holds at any
queue length without sorting anything, in memory or on disk; the values are bucketed to
keep those queues few.
"""

from __future__ import annotations

from datetime import datetime

from crawler.discovery import ARTICLE, HUB

ROBOTS = 500
FEED = SITEMAP = 400
REQUISITE = 300
START = 250
ARTICLE_NEWEST, ARTICLE_OLDEST = 199, 100  # by age_bucket
UNDATED_ARTICLE = 160  # on a front page or a listing's first page: as a day-and-a-half old
SECTION = 180  # as an article 19 hours old
PAGINATION = 130  # page 2 of a listing; page n: PAGINATION + 2 - n, down to RELATED + 1
UNKNOWN = 95  # neither article- nor hub-shaped: perhaps an article
RELATED = 90  # an undated article linked from an article (related, most read: often old)
LISTING = 20  # tags, topics, authors, calendars, filters


def age_bucket(published: datetime, now: datetime) -> int:
    """0..99: hours for the first two days, then half-days (about 27 days in all)."""
    hours = max(0.0, (now - published).total_seconds() / 3600)
    bucket = hours if hours < 48 else 48 + (hours - 48) / 12
    return min(99, int(bucket))


def page_priority(kind: str | None, *, published: datetime | None = None,
                  now: datetime | None = None, page: int | None = None,
                  listing: bool = False, found_on: str | None = HUB,
                  found_on_page: int = 1) -> int:
    """The priority of a discovered page: ``kind`` is what its URL (or its family, or the
    site's patterns) says it is, None when unknown; ``published`` its date (for a listing's
    next page: the date of the last teaser before it); ``page`` its number if it is a
    listing's page; ``listing`` whether it is a tag, author, calendar or filter page;
    ``found_on`` the kind of the page it was found on (None: a feed or sitemap) and
    ``found_on_page`` that page's number in its listing."""
    if kind == ARTICLE:
        if published is not None and now is not None:
            return ARTICLE_NEWEST - age_bucket(published, now)
        if found_on == ARTICLE:
            return RELATED
        return max(ARTICLE_OLDEST, UNDATED_ARTICLE + 1 - found_on_page)
    if page is not None and page > 1:
        if published is not None and now is not None:  # as new as its newest teaser
            return ARTICLE_NEWEST - age_bucket(published, now)
        return max(RELATED + 1, PAGINATION + 2 - page)
    if kind == HUB:
        return LISTING if listing else SECTION
    return UNKNOWN
