"""The spider's queue of discovered pages: best first, a few at a time into Scrapy's.

Priorities alone do not decide what a budget buys: while the downloader has free slots,
whatever is in Scrapy's queue is sent, and just after a page is parsed that may be its
section, tag and calendar pages or last month's related articles, before the articles of
this morning are even known. So discovered pages wait here, and the spider hands Scrapy at
most ``window`` of them at a time (the crawl's concurrency), the best first, topping up as
each ends; everything else the spider asks for (start pages, feeds, sitemaps, requisites)
goes to Scrapy directly, at the priorities :mod:`.priority` gives. While a hub is out, pages
it outranks wait for it: its answer may well link to better ones.

A page found again with a better priority (an undated link first, a dated teaser later)
moves up, keeping the shorter of its depths: it is queued again, and the stale entry is
skipped. One FIFO deque per priority
value (as Scrapy's own priority queue), so the order holds at
any length with no sorting; an entry is a few fields, not a ``Request``, so 100,000 waiting
pages take a few tens of MB.
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from typing import Any, NamedTuple

OUT_META = "frontier_out"  # set on a request handed to Scrapy from here
HUB_OUT_META = "frontier_hub_out"  # and on a hub, its priority


class Waiting(NamedTuple):
    """A discovered page, until it is sent."""

    url: str
    key: str  # crawler.discovery.normalize_url
    priority: int
    depth: int
    expected_kind: str | None
    conditional: bool


class Frontier:
    def __init__(self, window: int) -> None:
        self.window = max(1, window)
        self.out = 0  # handed to Scrapy and not ended yet
        self._hubs_out: Counter[int] = Counter()  # of those, hubs by priority
        self._queues: dict[int, deque[Waiting]] = {}
        self._priorities: list[int] = []  # heap of -priority, one per non-empty queue
        self._best: dict[str, Waiting] = {}  # key → its live entry

    def __len__(self) -> int:
        return len(self._best)

    def waiting(self, key: str) -> bool:
        return key in self._best

    def push(self, page: Waiting) -> None:
        """Queue a page, or move it up if it waits at a lower priority."""
        if (live := self._best.get(page.key)) is not None:
            if live.priority >= page.priority:
                return
            page = page._replace(depth=min(live.depth, page.depth))
        self._best[page.key] = page
        queue = self._queues.get(page.priority)
        if queue is None:
            queue = self._queues[page.priority] = deque()
            heapq.heappush(self._priorities, -page.priority)
        queue.append(page)

    def pop(self) -> Waiting | None:
        """The best page waiting, None when none is, or when a hub that is out outranks
        it."""
        floor = max((p for p, n in self._hubs_out.items() if n), default=None)
        while self._priorities:
            priority = -self._priorities[0]
            if floor is not None and priority < floor:
                return None
            queue = self._queues[priority]
            page = queue.popleft()
            if not queue:
                del self._queues[priority]
                heapq.heappop(self._priorities)
            if self._best.get(page.key) is page:  # else moved up: stale
                del self._best[page.key]
                return page
        return None

    def room(self) -> int:
        """How many pages Scrapy may be handed now."""
        return min(len(self._best), self.window - self.out)

    def sent(self, meta: dict[str, Any], page: Waiting, hub: bool) -> None:
        meta[OUT_META] = True
        self.out += 1
        if hub:
            meta[HUB_OUT_META] = page.priority
            self._hubs_out[page.priority] += 1

    def ended(self, meta: dict[str, Any]) -> None:
        """A request :meth:`sent` ended: answered, failed or dropped."""
        if meta.pop(OUT_META, False):
            self.out = max(0, self.out - 1)
        if (priority := meta.pop(HUB_OUT_META, None)) is not None:
            self._hubs_out[priority] = max(0, self._hubs_out[priority] - 1)

    def idle(self) -> None:
        """Nothing is queued or in flight in Scrapy: whatever was counted out has ended."""
        self.out = 0
        self._hubs_out.clear()

    def clear(self) -> int:
        """Drop every waiting page; how many there were."""
        dropped = len(self._best)
        self._queues.clear()
        self._priorities.clear()
        self._best.clear()
        return dropped
