"""``newsarchive storage status|upload|verify``: the spool and the object store."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer

from archive.catalog import Catalog
from archive.config import ArchiveSettings
from archive.recovery import recover_spool
from archive.verify import spool_status, verify_storage
from scheduler.cli.common import open_catalog, out

storage_app = typer.Typer(help="Inspect the spool and verify stored WARCs.",
                          no_args_is_help=True)


def _open() -> tuple[ArchiveSettings, Catalog]:
    return ArchiveSettings.load(), open_catalog()


@storage_app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Spool size and WARCs waiting for upload."""
    config, catalog = _open()
    report = spool_status(catalog, config.spool_dir)
    if as_json:
        print(json.dumps(asdict(report) | {"storage_url": config.storage_url}))
        return
    out.print(f"storage: {config.storage_url}")
    out.print(f"spool {config.spool_dir}: {report.files} file(s), {report.bytes / 1e6:.1f} MB, "
              f"{report.open_files} being written")
    out.print(f"pending uploads: {len(report.pending_uploads)}; multipart uploads in "
              f"progress: {report.multipart_in_progress}")
    for name in report.pending_uploads:
        out.print(f"  {name}")


@storage_app.command("upload")
def upload() -> None:
    """Store every WARC waiting in the spool now (also recovers abandoned .open files)."""
    config, catalog = _open()
    report = recover_spool(catalog, config.open_storage(catalog), config.spool_dir)
    out.print(f"recovered {report.recovered_files} abandoned file(s), stored "
              f"{report.shipped_files}, failed {report.failed_files}")
    if report.added_captures or report.removed_empty or report.failed_jobs:
        out.print(f"  catalogued {report.added_captures} capture(s) the catalog lacked, "
                  f"removed {report.removed_empty} file(s) without a complete record, "
                  f"recorded {report.failed_jobs} dead job(s) failed")
    if report.failed_files:
        raise typer.Exit(1)


@storage_app.command("verify")
def verify(
    repair: Annotated[bool, typer.Option(help="Re-upload from the spool where possible, "
                                              "else mark the file damaged.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Check that every uploaded WARC exists with the catalogued size and SHA-256, and that
    every stored WARC is in the catalog. Exits 1 when something is wrong."""
    config, catalog = _open()
    report = verify_storage(catalog, config.open_storage(catalog), config.spool_dir,
                            repair=repair)
    if as_json:
        print(json.dumps(asdict(report)))
    else:
        out.print(f"checked {report.checked} WARC(s): {report.ok} ok, {report.problems} "
                  "problem(s)")
        for kind in ("missing", "size_mismatch", "sha256_mismatch", "unknown_objects",
                     "repaired"):
            for name in getattr(report, kind):
                out.print(f"  {kind.replace('_', ' ')}: {name}")
        if report.recatalogued:
            out.print(f"  catalogued {report.recatalogued} capture(s) of intact records the "
                      "catalog lacked")
    if report.problems and not (repair and len(report.repaired) == report.problems):
        raise typer.Exit(1)
