"""``newsarchive captures`` and ``newsarchive snapshot``: what the archive holds for a URL."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from archive.capture_checks import checks_of, is_incomplete
from archive.catalog import Catalog
from archive.config import ArchiveSettings
from archive.encoding import UndecodableBody
from archive.models import CaptureCheck
from archive.snapshot import (
    SnapshotNotFound,
    article_of,
    closest_capture,
    list_captures,
    load_snapshot,
    normalize_timestamp,
)
from archive.storage import StorageError
from scheduler.cli.common import fail, open_catalog, out
from scheduler.views import CaptureOut


def captures(
    url: str,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines output.")] = False,
) -> None:
    """List the archived captures of URL, oldest first."""
    with open_catalog().session() as session:
        rows = list_captures(session, url)
        if not rows:
            raise fail(f"no capture of {url} in the archive")
        checks = checks_of(session, (c.id for c in rows))
        if as_json:
            for c in rows:
                print(json.dumps(CaptureOut.from_capture(c, check=checks.get(c.id))
                                 .model_dump(mode="json")))
            return
        table = Table("timestamp", "status", "mime", "length", "digest", "warc file",
                      "replay check")
        for c in rows:
            table.add_row(c.timestamp, str(c.status), c.mime, str(c.length),
                          c.payload_digest or "", c.warc_file.filename,
                          check_cell(checks.get(c.id)))
        out.print(table)


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
            try:
                body = snap.body
            except UndecodableBody as exc:
                raise fail(f"the capture at {capture.timestamp} cannot be decoded: {exc}; "
                           f"its archived bytes are at /web/{capture.timestamp}id_/{url}"
                           ) from None
            sys.stdout.buffer.write(body)
            sys.stdout.buffer.flush()
        elif text:
            if article is None:
                raise fail(f"no article was extracted from the capture at {capture.timestamp}")
            print(article.text)
        elif as_json:
            check = checks_of(session, [capture.id]).get(capture.id)
            print(json.dumps({"capture": CaptureOut.from_capture(capture, check=check)
                              .model_dump(mode="json"),
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


def check_cell(check: CaptureCheck | None) -> str:
    """A capture's check in a table cell: unchecked (empty), ok, or what is missing."""
    if check is None:
        return ""
    diff = "?" if check.pixel_diff is None else f"{check.pixel_diff:.1%}"
    if not is_incomplete(check):
        return f"ok ({diff} differ)"
    return (f"[yellow]incomplete[/]: {diff} differ, {len(check.failed_resources)} "
            "failed")
