"""Wayback and Memento (RFC 7089) conventions shared by the replay and TimeMap routers:
the archived URL in a request path, the service's URLs for a memento, TimeGate and TimeMap,
``Memento-Datetime`` and ``Link`` headers, and the TimeGate itself.

The archived URL is taken from the raw request path and query string, so an archived
``?query`` is part of it and percent-escapes stay as requested. Link targets are absolute
URLs of this service. The TimeGate honours ``Accept-Datetime`` (latest capture without it)
and redirects (302) to the closest memento's rewritten view ``/web/{ts}/{url}``.
"""

from __future__ import annotations

from datetime import UTC
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import unquote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from warcio.timeutils import timestamp_to_datetime

from archive.catalog import Catalog
from archive.snapshot import AnyCapture, closest_capture, first_and_last, neighbours
from scheduler.web.errors import ApiError

LINK_FORMAT = "application/link-format"


def archived_url(request: Request, prefix: str) -> str:
    """The raw request path after ``prefix`` (e.g. ``/timemap/link/``) plus its query string,
    as the URL of an archived resource (``http://`` is assumed when no scheme is given)."""
    return normalize_archived_url(raw_target(request, prefix))


def raw_target(request: Request, prefix: str) -> str:
    """The request path after ``prefix`` as sent (not percent-decoded), plus ``?query``."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.split(b"?", 1)[0].decode("latin-1")
    root = request.scope.get("root_path", "")
    after = path[len(root):] if path.startswith(root) else path
    if not after.startswith(prefix):
        raise ApiError(f"expected a path starting with {prefix}, got {after}")
    url = after[len(prefix):]
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{url}?{query}" if query else url


def normalize_archived_url(url: str) -> str:
    if url[:8].lower().startswith(("http%3a", "https%3a")):
        url = unquote(url)  # a fully escaped URL: /web/http%3A%2F%2Fexample.com%2F
    scheme, sep, rest = url.partition(":")
    if sep and scheme.lower() in ("http", "https"):
        return f"{scheme.lower()}://{rest.lstrip('/')}"  # proxies may fold "//" into "/"
    if not url:
        raise ApiError("no URL given: append the archived URL, e.g. /web/http://example.com/")
    return f"http://{url}"


def http_date(timestamp: str) -> str:
    """14-digit timestamp → RFC 1123 date (``Tue, 03 Nov 2026 12:00:00 GMT``)."""
    return format_datetime(timestamp_to_datetime(timestamp).replace(tzinfo=UTC), usegmt=True)


def parse_accept_datetime(value: str) -> str:
    """``Accept-Datetime`` (RFC 1123) → 14-digit UTC timestamp; ApiError (400) if invalid."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None:
        raise ApiError(f"Accept-Datetime {value!r} is not an RFC 1123 date; send e.g. "
                       "'Tue, 03 Nov 2026 14:00:00 GMT'")
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed.strftime("%Y%m%d%H%M%S")


def replay_base(request: Request) -> str:
    """The base URL (ending in ``/``) of the replay origin, as seen by this request's
    client: ``NEWSARCHIVE_REPLAY_URL``, else the request's host on the replay port, else
    (replays on this origin) the request's own base."""
    state = request.app.state
    if getattr(state, "replay_url", None):
        return state.replay_url.rstrip("/") + "/"
    port = getattr(state, "replay_port", None)
    if port:
        host = request.url.hostname or "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"{request.url.scheme}://{host}:{port}/"
    return str(request.base_url)


class MementoUrls:
    """Absolute URLs for one original URL: mementos and the TimeGate on the replay origin,
    TimeMaps on this one."""

    def __init__(self, request: Request, original: str) -> None:
        self.base = str(request.base_url)  # ends with "/" (and includes any root path)
        self.replay = replay_base(request)
        self.original = original

    def memento(self, timestamp: str, modifier: str = "", url: str | None = None) -> str:
        return f"{self.replay}web/{timestamp}{modifier}/{url or self.original}"

    @property
    def timegate(self) -> str:
        return f"{self.replay}web/{self.original}"

    def timemap(self, kind: str = "link") -> str:
        return f"{self.base}timemap/{kind}/{self.original}"

    def link_header(self, capture: AnyCapture | None = None, modifier: str = "",
                    related: dict[str, AnyCapture | None] | None = None) -> str:
        """``Link``: original, timegate, timemap and (given a capture) the memento itself;
        ``related`` adds mementos by relation (``first``, ``prev``, ``next``, ``last``), one
        link per memento with all its relation types (RFC 7089 section 2.2)."""
        links = [f'<{self.original}>; rel="original"',
                 f'<{self.timegate}>; rel="timegate"',
                 f'<{self.timemap()}>; rel="timemap"; type="{LINK_FORMAT}"']
        mementos: dict[str, tuple[AnyCapture, list[str]]] = {}
        for rel, target in [*(related or {}).items(), ("memento", capture)]:
            if target is not None:
                uri = self.memento(target.timestamp, modifier, target.url)
                mementos.setdefault(uri, (target, []))[1].append(rel)
        for uri, (target, rels) in mementos.items():
            kinds = " ".join(rels if rels[-1] == "memento" else [*rels, "memento"])
            links.append(f'<{uri}>; rel="{kinds}"; datetime="{http_date(target.timestamp)}"')
        return ", ".join(links)


def memento_headers(urls: MementoUrls, capture: AnyCapture,
                    modifier: str = "") -> dict[str, str]:
    return {"Memento-Datetime": http_date(capture.timestamp),
            "Link": urls.link_header(capture, modifier)}


def timegate(request: Request, catalog: Catalog, url: str,
             accept_datetime: str | None) -> Response:
    """302 to the memento closest to ``Accept-Datetime`` (the latest without one), its
    ``Link`` naming the first, previous, next and last mementos too (as the Wayback Machine's
    TimeGate does; Memento clients read them from there)."""
    at = parse_accept_datetime(accept_datetime) if accept_datetime else None
    with catalog.session() as session:
        capture = closest_capture(session, url, at)
        previous, following = neighbours(session, capture)
        first, last = first_and_last(session, capture)
    urls = MementoUrls(request, url)
    related = {"first": first, "prev": previous, "next": following, "last": last}
    return RedirectResponse(urls.memento(capture.timestamp, url=capture.url), status_code=302,
                            headers={"Vary": "accept-datetime",
                                     "Link": urls.link_header(capture, related=related)})
