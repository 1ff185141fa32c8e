"""``newsarchive demo``: serve the bundled demo news site, crawl it, say where it went."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer
from sqlalchemy import select

from archive.catalog import Catalog
from archive.config import ArchiveSettings
from archive.layout import WARC_KEY_PREFIX
from archive.models import Article, Capture
from scheduler.cli.check import check_after_crawl
from scheduler.cli.common import err, out
from scheduler.cli.crawl import run_and_report


def demo(
    port: Annotated[int, typer.Option(help="Port for the demo site (0 = any free port).")] = 0,
    keep_serving: Annotated[bool, typer.Option(help="Keep serving the site afterwards.")]
    = False,
) -> None:
    """Serve the bundled demo news site on 127.0.0.1, crawl it and show where it went."""
    from crawler.runner import CrawlSpec
    from scheduler.demo.server import DemoSite

    config = ArchiveSettings.load()
    with DemoSite(port=port) as site:
        err.print(f"demo site: {site.url}/ (The Harbour Gazette)")
        spec = CrawlSpec(urls=[f"{site.url}/"], feeds=[f"{site.url}/feed.xml"], depth=2,
                         max_pages=100)
        overrides = {"LOG_LEVEL": "WARNING", "NEWSARCHIVE_ALLOWED_NETWORKS": "127.0.0.0/8",
                     "AUTOTHROTTLE_ENABLED": False}
        summary = run_and_report(spec, overrides, as_json=False)
        # the live site is still up, on a loopback address the crawl was allowed
        check_after_crawl(summary.job_id, default=True,
                          allowed_networks=overrides["NEWSARCHIVE_ALLOWED_NETWORKS"])
        out.print(f"\nWARC files are in {config.storage_url}/{WARC_KEY_PREFIX} "
                  f"(catalog: {config.database_url})")
        with Catalog(config.database_url).session() as session:
            example = session.scalars(select(Capture.url).join(Article)
                                      .where(Capture.job_id == summary.job_id)
                                      .order_by(Article.word_count.desc())).first()
        if example:
            out.print("Fetch a snapshot:")
            out.print(f"  newsarchive captures {example}")
            out.print(f"  newsarchive snapshot {example} --text")
            out.print(f"  newsarchive snapshot {example} --raw > page.html")
        if keep_serving:
            stop = stop_on_signals()
            err.print(f"serving {site.url}/ until Ctrl-C (or SIGTERM)")
            while not stop.wait(3600):  # a timed wait: signals are handled while waiting
                pass


def stop_on_signals() -> threading.Event:
    """An event Ctrl-C or SIGTERM sets, from now on. The crawl (Scrapy) left its own
    handlers installed, which only stop a reactor that has already stopped."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop
