"""The page budget (``max_pages``), spent when a request is sent, not when it is queued.

Counting at dispatch lets the priorities (:mod:`.priority`) decide what the budget buys: a
front page's 40 links are all queued, and the articles among them go first. Pages that
robots.txt forbids cost nothing (this middleware runs after Scrapy's robots.txt one). Hubs
(section pages, pagination, listings, as their URL says) may take at most ``hub_share`` of
the budget. URLs the user gave are never cut silently: with the default budget they are not
counted at all (it bounds what is discovered); an explicit ``max_pages`` counts them, the
first ones given first (the spider spends the budget on them as it schedules them, in
order), and the CLI says so before the crawl starts. Redirects and retries of a page cost
nothing more. Requisites, feeds, sitemaps and robots.txt are not pages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.exceptions import IgnoreRequest

from crawler.discovery import HUB
from crawler.frontier import ROLE_PAGE

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

COUNTED_META = "budget_counted"
GIVEN_META = "given"  # a start URL the user gave
EXPECTED_KIND_META = "expected_kind"  # what the URL says the page is (crawler.discovery)


class OverBudget(IgnoreRequest):
    """A page left out because the page budget (or the hubs' share of it) is spent."""


class PageBudget:
    def __init__(self, max_pages: int, explicit: bool, hub_share: float) -> None:
        self.max_pages = max_pages
        self.explicit = explicit
        self.hub_limit = max(1, int(max_pages * hub_share))
        self.spent = 0
        self.hubs = 0
        self.given = 0

    @property
    def exhausted(self) -> bool:
        return self.spent >= self.max_pages

    @property
    def hubs_exhausted(self) -> bool:
        return self.hubs >= self.hub_limit

    def admit(self, meta: dict[str, Any]) -> str | None:
        """Spend the budget on a page about to be sent; why it may not be, else None."""
        if meta.get(COUNTED_META):
            return None
        if meta.get(GIVEN_META) and not self.explicit:
            self.given += 1
        elif self.exhausted:
            return "max_pages_reached"
        elif meta.get(EXPECTED_KIND_META) == HUB and not meta.get(GIVEN_META):
            if self.hubs >= self.hub_limit:
                return "hub_share_reached"
            self.hubs += 1
            self.spent += 1
        else:
            self.spent += 1
        meta[COUNTED_META] = True
        return None


class BudgetGate:
    """Downloader middleware: sends a page only if the spider's :class:`PageBudget` allows."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BudgetGate:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        budget: PageBudget | None = getattr(self.crawler.spider, "budget", None)
        if budget is None or request.meta.get("role") != ROLE_PAGE:
            return
        if (reason := budget.admit(request.meta)) is not None:
            self.crawler.stats.inc_value(f"newsarchive/{reason}")
            raise OverBudget(reason)
