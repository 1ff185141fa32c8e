"""The crawl process freezes its start-up heap when the engine starts (and can be told not to)."""

from __future__ import annotations

import gc

import pytest
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.extensions.heap_freeze import HeapFreeze
from crawler.runner import crawl_settings


def test_start_up_heap_is_frozen_when_the_engine_starts() -> None:
    settings = crawl_settings()  # the project's settings: on by default
    assert settings.getbool("NEWSARCHIVE_GC_FREEZE")
    assert "crawler.extensions.heap_freeze.HeapFreeze" in settings.getdict("EXTENSIONS")
    crawler = get_crawler(settings_dict={"NEWSARCHIVE_GC_FREEZE": True})
    crawler._apply_settings()  # stats, as a crawl's start would make them
    extension = HeapFreeze.from_crawler(crawler)  # noqa: F841 - receivers are held weakly
    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        crawler.signals.send_catch_log(signals.engine_started)
        assert gc.get_freeze_count() > 1000
        assert crawler.stats.get_value("gc/frozen_objects") > 1000
    finally:
        gc.unfreeze()


def test_it_can_be_switched_off() -> None:
    with pytest.raises(NotConfigured):
        HeapFreeze.from_crawler(get_crawler(settings_dict={"NEWSARCHIVE_GC_FREEZE": False}))
