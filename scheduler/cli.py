"""The ``newsarchive`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table
from sqlalchemy import select

from archive.catalog import Catalog
from archive.config import ArchiveSettings, SettingsError
from archive.models import ACTIVE_STATUSES, CrawlJob
from archive.snapshot import (
    SnapshotNotFound,
    article_of,
    closest_capture,
    list_captures,
    load_snapshot,
    normalize_timestamp,
)
from archive.storage import StorageError
from scheduler.cli_articles import articles, reextract
from scheduler.cli_common import App, err, fail, open_catalog, out
from scheduler.cli_export import export_wacz
from scheduler.cli_jobs import jobs_app
from scheduler.cli_sites import sites_app
from scheduler.cli_storage import storage_app
from scheduler.cli_worker import worker

app = App(help="Archive news sites to WARC and retrieve what they said.",
          no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(sites_app, name="sites")
app.add_typer(jobs_app, name="jobs")
app.add_typer(storage_app, name="storage")
app.command()(articles)
app.command()(reextract)
app.command("export-wacz")(export_wacz)
app.command()(worker)

EXTRACT_FIELDS = ("url", "title", "authors", "published", "modified", "language",
                  "description", "site_name", "canonical_url", "text")


@app.command()
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
) -> None:
    """Crawl URLs (or a configured --site) in the foreground and archive them to WARC."""
    from crawler.runner import CrawlSpec

    spec = CrawlSpec(urls=urls or [], feeds=feed or [], sitemaps=sitemap or [], depth=depth,
                     max_pages=max_pages, extract=extract)
    site_id = None
    if site is not None:
        if spec.urls or spec.feeds or spec.sitemaps:
            raise fail("give URLs or --site, not both")
        spec, site_id = site_crawl_spec(site, spec)
    if not (spec.urls or spec.feeds or spec.sitemaps):
        raise fail("give at least one URL, --feed or --sitemap (or --site NAME)")
    run_and_report(spec, {} if verbose else {"LOG_LEVEL": "WARNING"}, as_json, site_id)


def site_crawl_spec(name: str, given: Any) -> tuple[Any, int]:
    """The spec of a configured site; refuses while the site already has an active job."""
    from archive.ledger import site_spec
    from crawler.runner import CrawlSpec
    from scheduler.sites import SiteNotFound, get_site

    with open_catalog().session() as session:
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
        return spec, site.id


def run_and_report(spec: Any, overrides: dict[str, Any], as_json: bool,
                   site_id: int | None = None) -> Any:
    from crawler.runner import run_crawl

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               MofNCompleteColumn(), TextColumn("{task.fields[size]}"))
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("responses archived", total=spec.max_pages, size="")

        def progress(stats: dict[str, Any]) -> None:
            size = stats.get("warc/bytes_written", 0)
            bar.update(task, completed=stats.get("warc/responses", 0),
                       size=f"{size / 1e6:.1f} MB")

        summary = run_crawl(spec, overrides, site_id=site_id,
                            on_progress=progress if err.is_terminal else None)
    if as_json:
        print(json.dumps({k: v for k, v in summary.to_dict().items() if k != "stats"}, indent=2))
    else:
        print_summary(summary)
    if summary.status != "succeeded":
        raise typer.Exit(1)
    return summary


def print_summary(summary: Any) -> None:
    out.print(f"[bold]job {summary.job_id}[/] {summary.status}: {summary.pages} responses "
              f"archived, {summary.bytes / 1e6:.2f} MB, {len(summary.warc_files)} WARC "
              f"file(s), {summary.articles} articles, {summary.errors} errors")
    if summary.skipped["over_max_pages"]:
        out.print(f"  [yellow]limit reached:[/] {summary.skipped['over_max_pages']} more "
                  "URL(s) were not fetched (raise --max-pages)")
    for name in summary.warc_files:
        out.print(f"  warc: {name}")
    for failure in summary.failures[:20]:
        out.print(f"  [yellow]{failure['error']}[/] {failure['url']}: {failure['message']}")


@app.command()
def captures(
    url: str,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines output.")] = False,
) -> None:
    """List the archived captures of URL, oldest first."""
    with open_catalog().session() as session:
        rows = list_captures(session, url)
        if not rows:
            raise fail(f"no capture of {url} in the archive")
        if as_json:
            for c in rows:
                print(json.dumps(capture_dict(c)))
            return
        table = Table("timestamp", "status", "mime", "length", "digest", "warc file")
        for c in rows:
            table.add_row(c.timestamp, str(c.status), c.mime, str(c.length),
                          c.payload_digest or "", c.warc_file.filename)
        out.print(table)


def capture_dict(capture: Any) -> dict[str, Any]:
    return {
        "url": capture.url, "timestamp": capture.timestamp, "status": capture.status,
        "mime": capture.mime, "digest": capture.payload_digest,
        "record_id": capture.record_id, "record_type": capture.record_type,
        "warc_file": capture.warc_file.filename, "offset": capture.offset,
        "length": capture.length, "truncated": capture.truncated, "job_id": capture.job_id,
    }


@app.command()
def snapshot(
    url: str,
    at: Annotated[str | None, typer.Option(help="YYYYMMDDhhmmss (any prefix) or ISO 8601.")]
    = None,
    raw: Annotated[bool, typer.Option("--raw", help="Write the decoded body bytes.")] = False,
    text: Annotated[bool, typer.Option("--text", help="Print the article text.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Article metadata + capture.")]
    = False,
) -> None:
    """Show the capture of URL closest to --at (default: the latest)."""
    if sum((raw, text, as_json)) > 1:
        raise fail("choose one of --raw, --text, --json")
    config = ArchiveSettings.load()
    try:
        when = normalize_timestamp(at) if at else None
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    catalog = Catalog(config.database_url)
    with catalog.session() as session:
        try:
            capture = closest_capture(session, url, when)
            snap = load_snapshot(capture, config.open_storage(), config.spool_dir, session)
        except (SnapshotNotFound, StorageError) as exc:
            raise fail(str(exc)) from None
        article = article_of(session, capture)
        if raw:
            sys.stdout.buffer.write(snap.body)
            sys.stdout.buffer.flush()
        elif text:
            if article is None:
                raise fail(f"no article was extracted from the capture at {capture.timestamp}")
            print(article.text)
        elif as_json:
            print(json.dumps({"capture": capture_dict(capture),
                              "article": article_dict(article) if article else None},
                             indent=2, ensure_ascii=False))
        else:
            out.print(f"[bold]{capture.url}[/] at {capture.timestamp}: {snap.status_line}")
            out.print(f"  record {capture.record_id} in {capture.warc_file.filename} "
                      f"@{capture.offset}+{capture.length}")
            if article:
                out.print(f"  [bold]{article.title}[/] — {', '.join(article.authors)} "
                          f"({article.published}, {article.language}, "
                          f"{article.word_count} words)")


def article_dict(article: Any) -> dict[str, Any]:
    return {
        "id": article.id, "url": article.url, "canonical_url": article.canonical_url,
        "title": article.title, "authors": article.authors, "published": article.published,
        "modified": article.modified, "language": article.language,
        "description": article.description, "site_name": article.site_name,
        "word_count": article.word_count, "extractor_version": article.extractor_version,
        "metadata_record_id": article.metadata_record_id, "text": article.text,
    }


@app.command()
def extract(
    files: Annotated[list[Path] | None, typer.Argument(help="HTML files.")] = None,
    url: Annotated[str | None, typer.Option(help="Original URL of the file(s).")] = None,
    batch: Annotated[Path | None, typer.Option(help='JSON lines: {"file": ..., "url": ...}')]
    = None,
) -> None:
    """Extract article metadata and text from HTML files; one JSON line per file."""
    from crawler.extraction import extract_article

    jobs: list[tuple[str, str | None]] = [(str(f), url) for f in files or []]
    if batch is not None:
        try:
            lines = batch.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise fail(f"cannot read --batch {batch}: {exc.strerror}") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                jobs.append((str(item["file"]), item.get("url")))
            except (json.JSONDecodeError, KeyError, TypeError):
                raise fail(f'{batch}:{number}: expected {{"file": PATH, "url": URL}}, '
                           f"got {line[:80]!r}", 2) from None
    if not jobs:
        raise fail("give HTML files or --batch LIST.jsonl", 2)
    failed = 0
    for name, page_url in jobs:
        result: dict[str, Any] = {"file": name} | dict.fromkeys(EXTRACT_FIELDS)
        result.update(url=page_url, authors=[], text="")
        try:
            article = extract_article(Path(name).read_bytes(), page_url or "")
        except OSError as exc:
            failed += 1
            result["error"] = f"cannot read {name}: {exc.strerror}"
        else:
            if article is None:
                result["error"] = "no article text found"
            else:
                data = article.to_dict()
                result.update({k: data[k] for k in EXTRACT_FIELDS if k != "url"})
                result["url"] = page_url or data["url"] or None
        print(json.dumps(result, ensure_ascii=False), flush=True)
    if failed:
        raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
) -> None:
    """Run the service: HTTP API (/docs), schedules and the crawl dispatcher."""
    import ipaddress

    import uvicorn

    from scheduler.app import create_app
    from scheduler.config import ServiceSettings

    try:
        settings = ServiceSettings.load()
    except SettingsError as exc:
        raise fail(f"bad configuration: {exc}", 2) from None
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not settings.api_token:
        raise fail(f"refusing to listen on {host} without NEWSARCHIVE_API_TOKEN: anyone who "
                   "can reach it could start crawls; set a token or bind 127.0.0.1", 2)
    if settings.sites_file:  # fail before binding, with the file, site and field named
        from scheduler.sites import load_sites_file

        try:
            load_sites_file(settings.sites_file)
        except ValueError as exc:
            raise fail(f"bad NEWSARCHIVE_SITES_FILE: {exc}", 2) from None
    # raw replays carry the archived Date and Server: uvicorn adds neither (the app dates
    # every other response, scheduler.date_header)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info",
                server_header=False, date_header=False)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port for the demo site (0 = any free port).")] = 0,
    keep_serving: Annotated[bool, typer.Option(help="Keep serving the site afterwards.")]
    = False,
) -> None:
    """Serve the bundled demo news site on 127.0.0.1, crawl it and show where it went."""
    from crawler.runner import CrawlSpec
    from scheduler.demo import DemoSite

    config = ArchiveSettings.load()
    with DemoSite(port=port) as site:
        err.print(f"demo site: {site.url}/ (The Harbour Gazette)")
        spec = CrawlSpec(urls=[f"{site.url}/"], feeds=[f"{site.url}/feed.xml"], depth=2,
                         max_pages=100)
        overrides = {"LOG_LEVEL": "WARNING", "NEWSARCHIVE_ALLOWED_NETWORKS": "127.0.0.0/8",
                     "AUTOTHROTTLE_ENABLED": False}
        summary = run_and_report(spec, overrides, as_json=False)
        out.print(f"\nWARC files are in {config.storage_url}/warcs/ "
                  f"(catalog: {config.database_url})")
        with Catalog(config.database_url).session() as session:
            from sqlalchemy import select

            from archive.models import Article, Capture
            example = session.scalars(select(Capture.url).join(Article)
                                      .where(Capture.job_id == summary.job_id)
                                      .order_by(Article.word_count.desc())).first()
        if example:
            out.print("Fetch a snapshot:")
            out.print(f"  newsarchive captures {example}")
            out.print(f"  newsarchive snapshot {example} --text")
            out.print(f"  newsarchive snapshot {example} --raw > page.html")
        if keep_serving:
            err.print(f"serving {site.url}/ until Ctrl-C")
            site.wait()


if __name__ == "__main__":
    app()
