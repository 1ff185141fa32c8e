"""``newsarchive check``: run the capture check of a URL's capture (or of a job's pages) now,
store it and show it; and the check ``newsarchive crawl`` and ``demo`` run after their
crawl (``check_after_crawl``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from archive.capture_checks import is_checkable, is_incomplete
from archive.snapshot import SnapshotNotFound, normalize_timestamp
from scheduler.cli.common import err, fail, job_id_option, out
from scheduler.config import ServiceSettings
from scheduler.views import CaptureCheckOut


def check(
    url: Annotated[str | None, typer.Argument(help="The archived page's URL.")] = None,
    at: Annotated[str | None, typer.Option(
        help="YYYYMMDDhhmmss (any prefix) or ISO 8601: the capture closest to it "
        "(default: the latest).")] = None,
    job: Annotated[int | None, job_id_option(
        "Check the HTML pages crawl job ID archived (the first "
        "NEWSARCHIVE_CAPTURE_CHECK_MAX_PAGES) instead of one URL.")] = None,
    thumbnail: Annotated[Path | None, typer.Option(
        help="Write the thumbnail of the archived view (PNG) to this file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Render the archived view of URL's capture in Chromium, compare it with the live page
    and store the result: the share of differing pixels and the resources that failed to
    load in replay (exit 0 whatever it finds)."""
    from crawler.browser.chromium import BrowserUnavailable
    from scheduler.capture_check.checker import CaptureChecker, check_job

    if (url is None) == (job is None):
        raise fail("give a URL or --job ID (one of them)", 2)
    if thumbnail is not None and job is not None:
        raise fail("--thumbnail goes with a URL (a job has several pages)", 2)
    try:
        when = normalize_timestamp(at) if at else None
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    settings = ServiceSettings.load()
    try:
        if job is not None:
            reports = check_job(settings, job, None if as_json else show)
            if as_json:
                print(json.dumps([as_dict(report, None) for report in reports], indent=2))
            elif not reports:
                out.print(f"job {job} archived no HTML page to check")
            return
        checker = CaptureChecker(settings)
        try:
            capture = checker.closest(url, when)  # type: ignore[arg-type]
        except SnapshotNotFound as exc:
            checker.close()
            raise fail(str(exc)) from None
        if not is_checkable(capture):
            checker.close()
            raise fail(f"the capture of {capture.url} at {capture.timestamp} is not an HTML "
                       f"page (HTTP {capture.status}, {capture.mime}, {capture.record_type}); "
                       "the check renders archived pages")
        with checker:
            report = checker.check(capture)
    except BrowserUnavailable as exc:
        raise fail(f"the capture check needs Chromium: {exc}", 2) from None
    written = None
    if thumbnail is not None and report.thumbnail is not None:
        thumbnail.write_bytes(report.thumbnail)
        written = thumbnail
    if as_json:
        print(json.dumps(as_dict(report, written), indent=2))
    else:
        show(report)
        if written is not None:
            out.print(f"  thumbnail: {escape(str(written))}")


def as_dict(report: Any, thumbnail: Path | None) -> dict[str, Any]:
    return {"capture_id": report.capture_id, "url": report.url,
            "timestamp": report.timestamp,
            "check": CaptureCheckOut.from_check(report.check).model_dump(mode="json"),
            "replay_requests": report.replay_requests,
            "thumbnail": str(thumbnail) if thumbnail else None}


def show(report: Any) -> None:
    """A check as a few lines: verdict, pixel share, failed resources."""
    check = report.check
    against = ("the screenshot taken at capture" if check.compared_with == "capture"
               else "the live page now")
    verdict = "[yellow]incomplete[/]" if is_incomplete(check) else "[green]complete[/]"
    diff = (f"{check.pixel_diff:.1%} of pixels differ from {against}"
            if check.pixel_diff is not None else f"not compared with {against}")
    out.print(f"{escape(report.url)} at {report.timestamp}: {verdict} replay; {diff}; "
              f"{len(check.failed_resources)} resource(s) failed to load in replay")
    if check.error:
        out.print(f"  [yellow]{escape(check.error)}[/]")
    for failed in check.failed_resources:
        out.print(f"  [red]✗[/] {escape(failed['url'])}: {escape(failed['reason'])}")


def check_after_crawl(job_id: int, *, default: bool = False, as_json: bool = False,
                      **settings_given: Any) -> None:
    """The capture check of a foreground crawl's pages, when NEWSARCHIVE_CAPTURE_CHECK is on
    (unset: ``default``, which the demo makes True), with the settings the crawl was given.
    Without Chromium: one notice line, and nothing fails."""
    settings = ServiceSettings.load(**settings_given)
    given = "capture_check" in settings.model_fields_set
    if not (settings.capture_check if given else default):
        return
    # only now: the checker brings the replay server (FastAPI), ~0.4 s of imports
    from crawler.browser.chromium import BrowserUnavailable
    from scheduler.capture_check.checker import check_job

    try:
        reports = check_job(settings, job_id)
    except BrowserUnavailable as exc:
        err.print(f"notice: capture check skipped: {escape(str(exc))}", soft_wrap=True)
        return
    if not reports:
        return
    incomplete = sum(1 for report in reports if is_incomplete(report.check))
    console = err if as_json else out  # stdout holds the JSON summary
    which = " (newsarchive captures URL shows which)" if incomplete else ""
    console.print(f"capture check: {len(reports)} page(s) rendered from the archive, "
                  f"{incomplete} incomplete{which}")
