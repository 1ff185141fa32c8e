"""``newsarchive worker``: run crawl jobs from the broker (scale-out, docs/deployment.md)."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from archive.config import SettingsError
from scheduler.cli.common import fail


def worker(
    slots: Annotated[int | None, typer.Option(
        min=1, max=64, help="Crawls run at once (default: NEWSARCHIVE_MAX_CRAWLS)")] = None,
) -> None:
    """Run crawl jobs sent through NEWSARCHIVE_BROKER_URL (Redis), each in a child process."""
    from scheduler.config import ServiceSettings
    from scheduler.worker import CrawlWorker

    try:
        settings = ServiceSettings.load()
    except SettingsError as exc:
        raise fail(f"bad configuration: {exc}", 2) from None
    if not settings.broker_url:
        raise fail("newsarchive worker needs NEWSARCHIVE_BROKER_URL (e.g. redis://host:6379/0) "
                   "to receive jobs; without it `newsarchive serve` runs crawls itself", 2)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    CrawlWorker(settings, slots or settings.max_crawls).run()
