"""/api/v1/captures: what the archive holds for a URL, a prefix, a host or a domain, each
capture with its capture check; the thumbnail of a checked capture's archived view."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from sqlalchemy import select, tuple_

from archive.capture_checks import checks_of, thumbnail_of
from archive.cdx_query import match_clause
from archive.models import MAX_ID, Capture, WarcFile
from scheduler.views import CaptureOut
from scheduler.web.deps import ServiceDep
from scheduler.web.errors import NotFound, Unprocessable, error_responses
from scheduler.web.schemas import CaptureList

router = APIRouter(prefix="/api/v1/captures", tags=["captures"])
Timestamp = Annotated[str | None, Query(pattern=r"^\d{1,14}$",
                                        description="YYYYMMDDhhmmss or a prefix of it")]


def encode_cursor(c: Capture) -> str:
    return base64.urlsafe_b64encode(json.dumps([c.surt, c.timestamp, c.id]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, str, int]:
    try:
        surt, timestamp, ident = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not 0 <= int(ident) <= MAX_ID:
            raise ValueError(ident)
        return str(surt), str(timestamp), int(ident)
    except (ValueError, TypeError):
        raise Unprocessable("cursor: not a next_cursor value returned by this endpoint",
                            field="cursor") from None


@router.get("", response_model=CaptureList, responses=error_responses(422))
def list_captures(
    service: ServiceDep,
    url: Annotated[str, Query(min_length=1, max_length=2048)],
    match: Literal["exact", "prefix", "host", "domain"] = "exact",
    from_: Annotated[str | None, Query(alias="from", pattern=r"^\d{1,14}$")] = None,
    to: Timestamp = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> CaptureList:
    """Captures ordered by SURT key then time; ``next_cursor`` fetches the next page."""
    query = (select(Capture, WarcFile.filename).join(WarcFile)
             .where(match_clause(url, match))
             .order_by(Capture.surt, Capture.timestamp, Capture.id).limit(limit + 1))
    if from_:
        query = query.where(Capture.timestamp >= from_.ljust(14, "0"))
    if to:
        query = query.where(Capture.timestamp <= to.ljust(14, "9"))
    if cursor:
        query = query.where(tuple_(Capture.surt, Capture.timestamp, Capture.id)
                            > tuple_(*decode_cursor(cursor)))
    with service.catalog.session() as session:
        rows = session.execute(query).all()
        checks = checks_of(session, (c.id for c, _ in rows[:limit]))
    items = [CaptureOut.from_capture(c, filename, checks.get(c.id))
             for c, filename in rows[:limit]]
    more = len(rows) > limit
    return CaptureList(items=items, next_cursor=encode_cursor(rows[limit - 1][0]) if more
                       else None)


@router.get("/{capture_id}/thumbnail", response_class=Response,
            responses={200: {"content": {"image/png": {}},
                             "description": "the archived view's first screenful, scaled "
                                            "to 320 pixels wide"},
                       **error_responses(404)})
def capture_thumbnail(
    service: ServiceDep,
    capture_id: Annotated[int, Path(ge=1, le=MAX_ID, description="a capture's `id`")],
) -> Response:
    """A PNG thumbnail of the capture's archived view, made by its capture check."""
    with service.catalog.session() as session:
        png = thumbnail_of(session, capture_id)
    if png is None:
        raise NotFound(f"capture {capture_id} has no thumbnail: only checked HTML captures "
                       f"have one (newsarchive check URL)", capture_id=capture_id)
    return Response(png, media_type="image/png",
                    headers={"Cache-Control": "max-age=300"})
