"""The crawl process hands memory it has freed back to the system (glibc's malloc_trim)."""

from __future__ import annotations

from scrapy.utils.test import get_crawler

from crawler.extensions.memory_trim import MemoryTrim
from crawler.runner import crawl_settings


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def test_memory_freed_between_live_objects_goes_back_to_the_system() -> None:
    assert "crawler.extensions.memory_trim.MemoryTrim" in crawl_settings().getdict("EXTENSIONS")
    extension = MemoryTrim.from_crawler(get_crawler())
    # 100 MB in heap-sized blocks (below the allocator's mmap threshold), one block in 50
    # kept alive: what a crawl's freed page buffers look like between its live objects
    blocks = [bytearray(64 * 1024) for _ in range(1600)]
    kept = blocks[::50]
    del blocks
    before = rss_kb()
    extension.trim()
    assert before - rss_kb() > 50_000, "less than 50 MB of the freed 98 MB returned"
    assert len(kept) == 32
