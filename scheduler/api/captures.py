"""/api/v1/captures: what the archive holds for a URL, a prefix, a host or a domain."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, select, tuple_

from archive.cdx_query import search_range
from archive.models import Capture, WarcFile
from scheduler.api.crawls import service_of
from scheduler.api.errors import Unprocessable

router = APIRouter(prefix="/api/v1/captures", tags=["captures"])
Timestamp = Annotated[str | None, Query(pattern=r"^\d{1,14}$",
                                        description="YYYYMMDDhhmmss or a prefix of it")]


class CaptureOut(BaseModel):
    url: str
    timestamp: str
    status: int
    mime: str
    digest: str | None
    record_type: str
    record_id: str
    warc_file: str
    offset: int
    length: int
    truncated: str | None
    job_id: int | None


class CaptureList(BaseModel):
    items: list[CaptureOut]
    next_cursor: str | None = None


def match_clause(url: str, match: str) -> ColumnElement[bool]:
    """The SURT key range of ``url`` for ``match``, as the CDX API reads it (an index range
    scan on ``ix_captures_surt_timestamp``, not a LIKE)."""
    start, end = search_range(url, match)
    if match == "exact":
        return Capture.surt == start
    return and_(Capture.surt >= start, Capture.surt < end)


def encode_cursor(c: Capture) -> str:
    return base64.urlsafe_b64encode(json.dumps([c.surt, c.timestamp, c.id]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, str, int]:
    try:
        surt, timestamp, ident = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return str(surt), str(timestamp), int(ident)
    except (ValueError, TypeError):
        raise Unprocessable("cursor: not a next_cursor value returned by this endpoint",
                            field="cursor") from None


@router.get("", response_model=CaptureList)
def list_captures(
    request: Request,
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
    with service_of(request).catalog.session() as session:
        rows = session.execute(query).all()
    items = [CaptureOut(url=c.url, timestamp=c.timestamp, status=c.status, mime=c.mime,
                        digest=c.payload_digest, record_type=c.record_type,
                        record_id=c.record_id, warc_file=filename, offset=c.offset,
                        length=c.length, truncated=c.truncated, job_id=c.job_id)
             for c, filename in rows[:limit]]
    more = len(rows) > limit
    return CaptureList(items=items, next_cursor=encode_cursor(rows[limit - 1][0]) if more
                       else None)
