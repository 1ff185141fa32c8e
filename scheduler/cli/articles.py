"""``newsarchive articles`` (search the extracted articles) and ``newsarchive reextract``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from archive.catalog import Catalog
from archive.config import ArchiveSettings
from archive.search import DEFAULT_LIMIT, MAX_LIMIT, SearchError, search_articles
from scheduler.cli.common import err, fail, job_id_option, open_catalog, out
from scheduler.views import ArticleSummary

if TYPE_CHECKING:
    from crawler.reextract import ReextractReport


def articles(
    query: Annotated[str | None, typer.Argument(
        help='Words and "phrases" to find in title or text (all required).')] = None,
    site: Annotated[str | None, typer.Option(help="Configured site name.")] = None,
    lang: Annotated[str | None, typer.Option(help="Language code, e.g. en.")] = None,
    author: Annotated[str | None, typer.Option(help="An author's full name (any case).")]
    = None,
    since: Annotated[str | None, typer.Option(
        help="Published (else captured) on or after: YYYY[-MM[-DD]] or ISO 8601.")] = None,
    until: Annotated[str | None, typer.Option(
        help="Published (else captured) on or before, inclusive at the precision given.")]
    = None,
    limit: Annotated[int, typer.Option(help=f"1 to {MAX_LIMIT}.")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, typer.Option(help="Next page: the cursor printed last.")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines output.")] = False,
) -> None:
    """Search archived articles, newest first."""
    with open_catalog().session() as session:
        try:
            page = search_articles(session, q=query, site=site, lang=lang, author=author,
                                   since=since, until=until, limit=limit, cursor=cursor)
        except SearchError as exc:
            raise fail(str(exc), 2) from None
        rows = [ArticleSummary.from_hit(hit) for hit in page.items]
    if as_json:
        for row in rows:
            print(json.dumps(row.model_dump(), ensure_ascii=False))
    elif rows:
        table = Table()
        for name in ("id", "date", "lang", "site", "title", "authors", "words"):
            table.add_column(name, no_wrap=name not in ("title", "authors"))
        for row in rows:
            table.add_row(str(row.id), row.date[:16].replace("T", " "), row.language or "",
                          row.site or "", escape(row.title or row.url),
                          escape(", ".join(row.authors)), str(row.word_count))
        out.print(table)
    else:
        err.print("no articles match")
    if page.next_cursor:
        err.print(f"more: --cursor {page.next_cursor}")


def reextract(
    job: Annotated[int | None, job_id_option("Only captures of this crawl job.")] = None,
    site: Annotated[str | None, typer.Option(help="Only captures of this site's crawls.")]
    = None,
    since: Annotated[str | None, typer.Option(
        help="Only captures made at or after: YYYYMMDDhhmmss (any prefix) or ISO 8601.")]
    = None,
    force: Annotated[bool, typer.Option(
        help="Also redo articles already at the current extractor version.")] = False,
    workers: Annotated[int | None, typer.Option(
        min=1, help="Extraction processes (default: one per CPU).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Extract articles again from archived HTML (read from storage, never the web)."""
    from crawler.reextract import ReextractError
    from crawler.reextract import reextract as run_reextract

    config = ArchiveSettings.load()
    catalog = Catalog(config.database_url)
    columns = (SpinnerColumn(), TextColumn("captures re-extracted"), BarColumn(),
               MofNCompleteColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("", total=None)

        def progress(report: ReextractReport, total: int) -> None:
            bar.update(task, completed=report.scanned, total=total)

        try:
            report = run_reextract(catalog, config.open_storage(catalog), config.spool_dir,
                                   job_id=job, site=site, since=since, force=force,
                                   workers=workers, on_progress=progress)
        except ReextractError as exc:
            raise fail(str(exc), 2) from None
        finally:
            catalog.dispose()
    if as_json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        out.print(f"[bold]{report.scanned}[/] captures scanned: {report.created} articles "
                  f"created, {report.updated} updated, {report.unchanged} unchanged, "
                  f"{report.empty} without article text, {len(report.failed)} failed "
                  f"({escape(report.extractor_version)})")
        for failure in report.failed[:20]:
            out.print(f"  [yellow]failed[/] capture {failure['capture_id']} "
                      f"{escape(failure['url'])}: {escape(failure['error'])}")
    if report.failed:
        raise typer.Exit(1)
