"""Memento (RFC 7089) TimeMaps: ``/timemap/link/{url}`` and ``/timemap/json/{url}``.

The TimeGate is ``/web/{url}`` (scheduler.web.routers.replay); the conventions both share
are in :mod:`scheduler.web.wayback`.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from archive.catalog import Catalog
from archive.models import Capture
from archive.snapshot import list_captures
from scheduler.web.deps import ServiceDep
from scheduler.web.errors import NotFound, error_responses
from scheduler.web.wayback import LINK_FORMAT, MementoUrls, archived_url, http_date

router = APIRouter(tags=["memento"])


def _captures(catalog: Catalog, url: str) -> list[Capture]:
    with catalog.session() as session:
        captures = list_captures(session, url)
    if not captures:
        raise NotFound(f"no capture of {url} in the archive; nothing to list", url=url)
    return captures


@router.get("/timemap/link/{url:path}", response_class=Response,
            responses={200: {"content": {LINK_FORMAT: {}}}, **error_responses(400, 404)})
def timemap_link(request: Request, url: str, service: ServiceDep) -> Response:
    """TimeMap in link format: original, self, timegate, then every memento oldest first
    (``first``/``last`` marked)."""
    original = archived_url(request, "/timemap/link/")
    captures = _captures(service.catalog, original)
    urls = MementoUrls(request, original)
    lines = [f'<{original}>; rel="original"',
             f'<{urls.timemap()}>; rel="self"; type="{LINK_FORMAT}"; '
             f'from="{http_date(captures[0].timestamp)}"; '
             f'until="{http_date(captures[-1].timestamp)}"',
             f'<{urls.timegate}>; rel="timegate"']
    for index, capture in enumerate(captures):
        rel = " ".join(filter(None, ["first" if index == 0 else "",
                                     "last" if index == len(captures) - 1 else "",
                                     "memento"]))
        lines.append(f'<{urls.memento(capture.timestamp, url=capture.url)}>; rel="{rel}"; '
                     f'datetime="{http_date(capture.timestamp)}"')
    return Response(",\n".join(lines) + "\n", media_type=LINK_FORMAT)


def _iso(timestamp: str) -> str:
    return datetime.strptime(timestamp, "%Y%m%d%H%M%S").strftime("%Y-%m-%dT%H:%M:%SZ")


@router.get("/timemap/json/{url:path}", responses=error_responses(400, 404))
def timemap_json(request: Request, url: str, service: ServiceDep) -> JSONResponse:
    """TimeMap as JSON (the Memento aggregator's shape): original_uri, timegate_uri,
    timemap_uri and mementos {first, last, list} with ISO 8601 datetimes."""
    original = archived_url(request, "/timemap/json/")
    captures = _captures(service.catalog, original)
    urls = MementoUrls(request, original)
    mementos = [{"datetime": _iso(c.timestamp), "timestamp": c.timestamp,
                 "uri": urls.memento(c.timestamp, url=c.url), "status": c.status,
                 "mime": c.mime} for c in captures]
    return JSONResponse({
        "original_uri": original, "timegate_uri": urls.timegate,
        "timemap_uri": {"link_format": urls.timemap("link"),
                        "json_format": urls.timemap("json")},
        "mementos": {"first": mementos[0], "last": mementos[-1], "list": mementos},
    })

