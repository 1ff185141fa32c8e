"""``newsarchive crawl``: crawl URLs or a configured site in the foreground, with a progress
bar and a summary (``run_and_report`` is shared with ``newsarchive demo``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from sqlalchemy import select

from archive.catalog import Catalog
from archive.models import ACTIVE_STATUSES, CrawlJob
from crawler.overrides import OverrideError, crawl_config, parse_overrides
from crawler.render import RenderMode
from crawler.startup import quick_imports
from scheduler.cli.check import check_after_crawl
from scheduler.cli.common import err, fail, out
from scheduler.urlcheck import check_crawl_urls

# Settings this command sets from its own options: -s would contradict them.
SET_BY_OPTIONS = {
    "NEWSARCHIVE_MAX_PAGES": "give --max-pages instead",
    "NEWSARCHIVE_MAX_DEPTH": "give --depth instead",
    "NEWSARCHIVE_EXTRACT": "give --extract or --no-extract instead",
    "NEWSARCHIVE_RENDER": "give --render instead",
    "NEWSARCHIVE_JOB_ID": "the crawl sets it itself",
}


def crawl(
    urls: Annotated[list[str] | None, typer.Argument(help="Start URLs.")] = None,
    feed: Annotated[list[str] | None, typer.Option(help="RSS/Atom feed URL (repeatable).")] = None,
    sitemap: Annotated[list[str] | None, typer.Option(help="Sitemap URL (repeatable).")] = None,
    depth: Annotated[int | None, typer.Option(
        min=0, help="Link hops from the URLs (default 2); 0 = only the URLs.")] = None,
    max_pages: Annotated[int | None, typer.Option(
        min=1, help="Most pages to fetch (default 1000).")] = None,
    extract: Annotated[bool, typer.Option(help="Extract articles (--no-extract: archive only).")]
    = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Scrapy's log.")] = False,
    site: Annotated[str | None, typer.Option(help="Crawl this configured site now.")] = None,
    render: Annotated[RenderMode | None, typer.Option(
        help="static: HTTP only; browser: also render every page in Chromium; auto: in "
             "Chromium when a page looks script-built (default: the site's, else "
             "NEWSARCHIVE_RENDER, auto).")] = None,
    setting: Annotated[list[str] | None, typer.Option(
        "--set", "-s", metavar="NAME=VALUE",
        help="Set a Scrapy setting or NEWSARCHIVE_* crawl setting for this crawl "
             "(repeatable; wins over the site's and the environment's), e.g. "
             "-s DOWNLOAD_DELAY=1.5.")] = None,
) -> None:
    """Crawl URLs (or a configured --site) in the foreground and archive them to WARC."""
    with quick_imports():  # Scrapy's engine and the spider, not needed by other commands
        from crawler.runner import CrawlSpec

    try:
        overrides = parse_overrides(setting or [], reserved=SET_BY_OPTIONS)
    except OverrideError as exc:
        raise fail(str(exc), 2) from None
    config = crawl_config(overrides)  # this crawl's catalog and networks
    spec = CrawlSpec(urls=urls or [], feeds=feed or [], sitemaps=sitemap or [], depth=depth,
                     max_pages=max_pages, extract=extract,
                     render=render.value if render else None)
    site_id = None
    if site is not None:
        if spec.urls or spec.feeds or spec.sitemaps:
            raise fail("give URLs or --site, not both")
        spec, site_id = site_crawl_spec(Catalog(config.database_url), site, spec)
    if not (spec.urls or spec.feeds or spec.sitemaps):
        raise fail("give at least one URL, --feed or --sitemap (or --site NAME)")
    check_crawl_urls({"urls": spec.urls, "feeds": spec.feeds, "sitemaps": spec.sitemaps},
                     config.network_policy())  # the crawl checks each connection too
    if cut := budget_cut(spec, max_pages, site):
        err.print(f"[yellow]notice:[/] {cut}", soft_wrap=True, highlight=False)
    summary = run_and_report(spec, {**({} if verbose else {"LOG_LEVEL": "WARNING"}),
                                    **overrides}, as_json, site_id)
    check_after_crawl(summary.job_id, as_json=as_json)


def budget_cut(spec: Any, max_pages: int | None, site: str | None) -> str | None:
    """What an explicit page budget smaller than the URLs given leaves out, said before the
    crawl starts (given URLs are never cut silently); None when it cuts nothing."""
    given = len(dict.fromkeys(spec.urls))
    if spec.max_pages is None or given <= spec.max_pages:
        return None
    if max_pages is not None:
        return (f"--max-pages {max_pages} cuts the {given} given URLs: only the first "
                f"{max_pages} are fetched")
    return (f"site {site}'s max_pages {spec.max_pages} cuts its {given} start URLs: only the "
            f"first {spec.max_pages} are fetched (give --max-pages {given} to fetch them all)")


def site_crawl_spec(catalog: Catalog, name: str, given: Any) -> tuple[Any, int]:
    """The spec of a configured site; refuses while the site already has an active job."""
    from archive.ledger import site_spec
    from crawler.runner import CrawlSpec
    from scheduler.sites import SiteNotFound, get_site

    with catalog.session() as session:
        try:
            site = get_site(session, name)
        except SiteNotFound as exc:
            raise fail(str(exc)) from None
        active = session.scalar(select(CrawlJob.id).where(
            CrawlJob.site_id == site.id, CrawlJob.status.in_(ACTIVE_STATUSES)))
        if active is not None:
            raise fail(f"site {name} already has job {active} {'queued or running'}; "
                       f"one site never has two crawls at once (newsarchive jobs show {active})")
        spec = CrawlSpec.from_dict(site_spec(site))
        spec.depth = given.depth if given.depth is not None else spec.depth
        spec.max_pages = given.max_pages or spec.max_pages
        spec.extract = given.extract
        spec.render = given.render or spec.render
        return spec, site.id


def run_and_report(spec: Any, overrides: dict[str, Any], as_json: bool,
                   site_id: int | None = None) -> Any:
    from crawler.runner import run_crawl

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               MofNCompleteColumn(), TextColumn("{task.fields[size]}"))
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("pages fetched", total=expected_pages(spec), size="")

        def progress(pages: int, stats: dict[str, Any]) -> None:
            size = stats.get("warc/bytes_written", 0)
            bar.update(task, completed=pages, size=f"{size / 1e6:.1f} MB")

        summary = run_crawl(spec, overrides, site_id=site_id,
                            on_progress=progress if err.is_terminal else None)
    if as_json:
        print(json.dumps({k: v for k, v in summary.to_dict().items() if k != "stats"}, indent=2))
    else:
        print_summary(summary)
    if summary.status != "succeeded":
        raise fail(f"job {summary.job_id} {summary.status}: {summary.error}" if summary.error
                   else f"job {summary.job_id} {summary.status}")
    return summary


def expected_pages(spec: Any) -> int | None:
    """The progress bar's total: the pages the crawl will fetch at most, when the spec says
    (the given URLs of a crawl that discovers nothing, else an explicit page budget); None
    (the bar counts without a total) when discovery decides."""
    discovers = spec.depth != 0 or spec.feeds or spec.sitemaps or spec.site
    if not discovers:
        given = len(dict.fromkeys(spec.urls))
        return min(given, spec.max_pages) if spec.max_pages is not None else given
    return spec.max_pages


def print_summary(summary: Any) -> None:
    out.print(f"[bold]job {summary.job_id}[/] {summary.status}: {summary.pages} responses "
              f"archived, {summary.bytes / 1e6:.2f} MB, {len(summary.warc_files)} WARC "
              f"file(s), {summary.articles} articles, {summary.errors} errors")
    requisites = summary.requisites
    if requisites.get("archived") or requisites.get("failed"):
        out.print(f"  page requisites: {requisites['archived']} archived, "
                  f"{requisites['failed']} failed")
    browser = summary.browser
    if browser.get("unavailable") and (browser["mode"] == "browser" or browser["static"]):
        out.print(f"  [yellow]browser capture off:[/] {browser['unavailable']}; "
                  f"{browser['static']} page(s) that needed it captured statically")
    elif browser.get("pages") or browser.get("static"):
        out.print(f"  browser: {browser['pages']} page(s) rendered in Chromium "
                  f"({browser['escalated']} escalated from static), {browser['requests']} "
                  f"requests, {browser['blocked']} blocked by the address guard"
                  + (f", {browser['static']} failed (captured statically)"
                     if browser["static"] else ""))
    if summary.skipped["over_max_pages"]:
        out.print(f"  [yellow]limit reached:[/] {summary.skipped['over_max_pages']} more "
                  "URL(s) were not fetched (raise --max-pages)")
    for name in summary.warc_files:
        out.print(f"  warc: {name}")
    for failure in summary.failures[:20]:
        out.print(f"  [yellow]{failure['error']}[/] {failure['url']}: {failure['message']}")
