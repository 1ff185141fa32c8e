"""The catalog side of the capture check (``scheduler.capture_check`` renders and compares):
which captures a job's check looks at, the screenshot a capture recorded of the live page,
and the stored results (``capture_checks``, one row per capture, the latest check).

A replay is *incomplete* when a resource failed to load in it or more than
:data:`MAX_PIXEL_DIFF` of its pixels differ from the live page's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from sqlalchemy import false, select
from sqlalchemy.orm import Session, joinedload

from archive.cdxj import HTML_MIMES, surt_key
from archive.models import Capture, CaptureCheck, utcnow
from archive.snapshot import AnyCapture, parse_record, read_record_bytes
from archive.storage import Storage

MAX_PIXEL_DIFF = 0.02  # the share of differing pixels above which a replay is incomplete
VIEW_SCHEME = "urn:view:"  # WARC-Target-URI of a page's screenshot: urn:view:{page URL}
CHECKED_RECORD_TYPES = ("response", "revisit")


def is_incomplete(check: CaptureCheck) -> bool:
    """Whether the archived view lacks something the live page had."""
    return bool(check.failed_resources) or (
        check.pixel_diff is not None and check.pixel_diff > MAX_PIXEL_DIFF)


def is_checkable(capture: AnyCapture) -> bool:
    """An archived HTML page (not a redirect or an error page)."""
    return (capture.record_type in CHECKED_RECORD_TYPES and 200 <= capture.status < 300
            and capture.mime in HTML_MIMES)


def job_pages(session: Session, job_id: int, limit: int) -> list[Capture]:
    """The first ``limit`` HTML pages job ``job_id`` archived, in archive order (not its
    frames: those are rendered within their page)."""
    return list(session.scalars(
        select(Capture).where(Capture.job_id == job_id, Capture.subresource == false(),
                              Capture.record_type.in_(CHECKED_RECORD_TYPES),
                              Capture.status >= 200, Capture.status < 300,
                              Capture.mime.in_(HTML_MIMES))
        .order_by(Capture.id).limit(limit).options(joinedload(Capture.warc_file))))


def recorded_view(session: Session, capture: AnyCapture, storage: Storage,
                  spool_dir: Path) -> bytes | None:
    """The PNG screenshot of the live page that the capture's crawl recorded: the
    ``resource`` record ``urn:view:{url}`` written concurrently with the capture's record
    (``WARC-Concurrent-To``), or None."""
    view_url = VIEW_SCHEME + capture.url
    candidates = session.scalars(
        select(Capture).where(Capture.surt == surt_key(view_url), Capture.url == view_url,
                              Capture.record_type == "resource",
                              Capture.timestamp >= capture.timestamp)
        .order_by(Capture.timestamp, Capture.id).limit(5)
        .options(joinedload(Capture.warc_file)))
    for candidate in candidates:
        record = parse_record(read_record_bytes(candidate, storage, spool_dir))
        concurrent = [value.strip() for name, value in record.rec_headers.headers
                      if name.lower() == "warc-concurrent-to"]
        if capture.record_id in concurrent:
            return record.raw_stream.read()
    return None


def record_check(session: Session, capture_id: int, *, pixel_diff: float | None,
                 failed_resources: list[dict[str, str]], compared_with: str,
                 error: str | None = None, thumbnail: bytes | None = None,
                 checked_at: datetime | None = None) -> CaptureCheck:
    """Store (or replace) the check of capture ``capture_id``."""
    return session.merge(CaptureCheck(
        capture_id=capture_id, checked_at=checked_at or utcnow(), pixel_diff=pixel_diff,
        failed_resources=failed_resources, compared_with=compared_with, error=error,
        thumbnail=thumbnail))


def checks_of(session: Session, capture_ids: Iterable[int]) -> dict[int, CaptureCheck]:
    """capture id → its check, for those of ``capture_ids`` that have one (no thumbnails)."""
    ids = list(capture_ids)
    if not ids:
        return {}
    return {check.capture_id: check for check in session.scalars(
        select(CaptureCheck).where(CaptureCheck.capture_id.in_(ids)))}


def thumbnail_of(session: Session, capture_id: int) -> bytes | None:
    """The PNG thumbnail of the checked capture's archived view, if it has one."""
    return session.scalar(select(CaptureCheck.thumbnail)
                          .where(CaptureCheck.capture_id == capture_id))

