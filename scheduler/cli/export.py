"""``newsarchive export-wacz``: package a crawl job's or a site's WARCs as one WACZ file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from archive.config import ArchiveSettings
from archive.snapshot import normalize_timestamp
from archive.storage import StorageError
from archive.wacz import Selection, WaczError, select_job, select_site, write_wacz
from scheduler.cli.common import fail, job_id_option, open_catalog, out


def export_wacz(
    output: Annotated[Path, typer.Option("--output", "-o", help="The .wacz file to write.")],
    job: Annotated[int | None, job_id_option("Export this crawl job's WARCs.")] = None,
    site: Annotated[str | None, typer.Option(help="Export this site's WARCs.")] = None,
    from_: Annotated[str | None, typer.Option(
        "--from", help="With --site: captures from this time (YYYY-MM-DD, 1-14 digits or "
                       "ISO 8601).")] = None,
    to: Annotated[str | None, typer.Option(
        help="With --site: captures up to this time, inclusive (a day means its end).")]
    = None,
) -> None:
    """Write a WACZ (WARCs, CDXJ index, pages with article text) that ReplayWeb.page and
    pywb open directly. Set SOURCE_DATE_EPOCH for reproducible output."""
    if (job is None) == (site is None):
        raise fail("give exactly one of --job ID or --site NAME", 2)
    if job is not None and (from_ or to):
        raise fail("--from and --to select within a --site; a --job is exported whole", 2)
    try:
        since = time_bound(from_, upper=False) if from_ else None
        until = time_bound(to, upper=True) if to else None
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    config = ArchiveSettings.load()
    catalog = open_catalog()
    try:
        with catalog.session() as session:
            selection: Selection = (select_job(session, job) if job is not None
                                    else select_site(session, site or "", since, until))
        summary = write_wacz(output, catalog, config.open_storage(catalog), config.spool_dir,
                             selection)
    except (WaczError, StorageError, OSError) as exc:
        raise fail(str(exc)) from None
    finally:
        catalog.dispose()
    out.print(f"wrote {output}: {len(selection.warcs)} WARC file(s), {summary.captures} "
              f"captures, {summary.pages} pages, {summary.bytes / 1e6:.2f} MB")


def time_bound(value: str, *, upper: bool) -> str:
    """A 14-digit bound: ``2026-11-03`` or ``20261103`` covers that whole day (its start as
    a lower bound, its end as an upper bound); ISO 8601 date-times are exact."""
    text = value.strip()
    if re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", text):
        text = text.replace("-", "")
    if text.isdigit():
        normalize_timestamp(text)  # validates: at most 14 digits, a real date
        return text.ljust(14, "9" if upper else "0")
    return normalize_timestamp(text)
