"""Scrapy's downloader, holding each download slot to its concurrency (``DOWNLOADER``).

With the asyncio reactor, Scrapy 2.19's ``Downloader._process_queue`` starts each download
as a task and counts the request as transferring only once that task runs. Requests that
reach one slot in the same turn of the event loop (such as the start requests, released
together once robots.txt has been read) each find a free transfer slot, so a domain limited
to one concurrent request got two at once, and two got three (tests/test_crawl_settings.py
sees it on a local server; the Twisted epoll reactor does not). Here a request counts as
transferring from the moment it leaves the slot's queue; ``_download`` adds it again (a set)
and removes it when the download ends, as before.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from scrapy import Request
from scrapy.core.downloader import Downloader as ScrapyDownloader
from scrapy.core.downloader import Slot


class _HandoverQueue(deque[tuple[Request, Any]]):
    """A slot's queue whose requests count as transferring as soon as they leave it."""

    def __init__(self, transferring: set[Request], queued: deque[tuple[Request, Any]]) -> None:
        super().__init__(queued)
        self._transferring = transferring

    def popleft(self) -> tuple[Request, Any]:
        request, deferred = super().popleft()
        self._transferring.add(request)
        return request, deferred


class Downloader(ScrapyDownloader):
    def _get_slot(self, request: Request, spider: Any = None) -> tuple[str, Slot]:
        key, slot = super()._get_slot(request)
        if not isinstance(slot.queue, _HandoverQueue):
            slot.queue = _HandoverQueue(slot.transferring, slot.queue)
        return key, slot
