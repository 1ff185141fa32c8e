"""GET /cdx: the capture index with pywb's CDX server API parameters, streamed.

The query itself (archive.cdx_query) knows nothing of HTTP; this module hands it the request
parameters (a bad one is a ``CdxQueryError``: 400 naming it, scheduler.web.errors) and
streams the result lines.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from archive.cdx_query import CdxQuery, lines
from scheduler.web.deps import ServiceDep
from scheduler.web.errors import error_responses

router = APIRouter(tags=["cdx"])

TEXT_RESPONSES = {200: {"description": "One line per capture", "content": {
    "text/x-cdxj": {}, "text/x-ndjson": {}, "text/plain": {}}}, **error_responses(400)}


# The parameters are declared for the OpenAPI page only: they are read (and checked, with a
# 400 naming the parameter) by CdxQuery.parse from the raw query string, where filter= repeats.
@router.get("/cdx", response_class=StreamingResponse, responses=TEXT_RESPONSES)
def cdx(
    request: Request,
    service: ServiceDep,
    url: Annotated[str | None, Query(description="URL; `example.com/*` = prefix, "
                                                 "`*.example.com` = domain")] = None,
    match_type: Annotated[str | None, Query(alias="matchType",
                                            description="exact|prefix|host|domain")] = None,
    from_: Annotated[str | None, Query(alias="from", description="1-14 digit timestamp, "
                                                                 "padded down")] = None,
    to: Annotated[str | None, Query(description="1-14 digit timestamp, padded up")] = None,
    limit: Annotated[str | None, Query(description="at most this many lines")] = None,
    sort: Annotated[str | None, Query(description="reverse|closest")] = None,
    closest: Annotated[str | None, Query(description="timestamp to sort by distance "
                                                     "from")] = None,
    filter_: Annotated[list[str] | None, Query(alias="filter", description=(
        "[!][=|~]field:value, repeatable: contains, `=` exact, `~` regex from the start "
        "of the value, `!` negation"))] = None,
    fl: Annotated[str | None, Query(description="comma-separated fields: urlkey, timestamp, "
                                                "url, mime, status, digest, length, offset, "
                                                "filename")] = None,
    output: Annotated[str | None, Query(description="cdxj (default)|json|text")] = None,
    page: Annotated[str | None, Query(description=(
        "page number from 0: pages of `pageSize` blocks of 3000 lines of the URL's range, "
        "as pywb's ZipNum index; past the last page: 400"))] = None,
    page_size: Annotated[str | None, Query(alias="pageSize", description=(
        "blocks per page (default 10)"))] = None,
    show_num_pages: Annotated[str | None, Query(alias="showNumPages", description=(
        "true: answer {\"pages\", \"pageSize\", \"blocks\"} instead of lines"))] = None,
    show_paged_index: Annotated[str | None, Query(alias="showPagedIndex", description=(
        "true: one line per block of the page instead of its lines"))] = None,
    show_resume_key: Annotated[str | None, Query(alias="showResumeKey", description=(
        "true: an answer cut by `limit` ends with an empty line and a key to resume "
        "after its last line (Internet Archive CDX server)"))] = None,
    resume_key: Annotated[str | None, Query(alias="resumeKey", description=(
        "continue after the line a resume key names"))] = None,
) -> StreamingResponse:
    """Captures in SURT-key then time order (or `sort`), as pywb's CDX server returns them."""
    query = CdxQuery.parse(request.query_params.multi_items())
    return StreamingResponse(lines(service.catalog.session, query), media_type=query.media_type)
