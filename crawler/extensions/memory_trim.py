"""Scrapy extension that hands the memory a crawl has freed back to the system.

Each page passes through large short-lived buffers (the body as received, decoded, as text,
its parsed tree, the compressed records) that glibc's allocator mostly keeps once they are
freed, scattered between live objects: a crawl's resident size then grows with the pages it
has fetched, not with what it holds. Every ``TRIM_INTERVAL`` seconds this extension calls
glibc's ``malloc_trim(0)``, which returns the free pages of every arena to the system (about
1.5 ms on a crawl's heap). Where the C library has no ``malloc_trim`` (not glibc) it is off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

TRIM_INTERVAL = 1.0  # seconds


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


class MemoryTrim:
    def __init__(self, trim: Callable[[int], int]) -> None:
        self._trim = trim
        self._loop = task.LoopingCall(self.trim)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        trim = _malloc_trim()
        if trim is None:
            raise NotConfigured("no malloc_trim in this C library")
        ext = cls(trim)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: object) -> None:
        self._loop.start(TRIM_INTERVAL, now=False)

    def trim(self) -> None:
        self._trim(0)

    def spider_closed(self, spider: object) -> None:
        if self._loop.running:
            self._loop.stop()
