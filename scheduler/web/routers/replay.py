"""Wayback replay: ``/web/{timestamp}{modifier}/{url}`` and the TimeGate ``/web/{url}``.

Modifiers: none (the viewable page: links rewritten into the archive, a banner, a strict
Content-Security-Policy), ``id_`` (the archived response as captured), ``cs_``/``js_``/
``im_``/``if_`` (resources and frames of a rewritten page: like the view, without the
banner), ``text_`` and ``json_`` (the extracted article as plain text / JSON). The view
(and ``if_``) of a page captured in a browser shows the DOM the browser rendered, rewritten
like any page (its scripts stay off), so that it looks as the live page did; ``id_`` stays
the response as captured. A timestamp
that is not exactly a capture's (``2026``, or between two) redirects (302) to the closest
capture's 14-digit timestamp. Archived redirects stay redirects, into the archive.
"""

from __future__ import annotations

import html
import re
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from sqlalchemy.orm import Session

from archive.capture_checks import checks_of
from archive.cdxj import HTML_MIMES, mime_of
from archive.encoding import UndecodableBody
from archive.models import Article, Capture
from archive.replay import ArchivedResponse, open_response, rendered_dom
from archive.rewrite import UTF8_HTML, ArchiveUrls, Rewriter
from archive.snapshot import (
    AnyCapture,
    SnapshotNotFound,
    article_of,
    closest_capture,
    neighbours,
    normalize_timestamp,
    revisit_original,
)
from archive.warc import DOM_CONTENT_TYPE
from scheduler.service import Service
from scheduler.views import CaptureOut
from scheduler.web.deps import ServiceDep
from scheduler.web.errors import ApiError, NotFound, error_responses
from scheduler.web.schemas import ArticleOut, ArticleView
from scheduler.web.wayback import (
    MementoUrls,
    http_date,
    memento_headers,
    normalize_archived_url,
    raw_target,
    timegate,
)

router = APIRouter(tags=["replay"])

RAW, TEXT, JSON = "id_", "text_", "json_"
VIEW_MODIFIERS = frozenset({"", "cs_", "js_", "im_", "if_", "fr_", "oe_"})
RENDERED_VIEWS = frozenset({"", "if_", "fr_"})  # a page's views: its rendered DOM if any
MODIFIERS = VIEW_MODIFIERS | {RAW, TEXT, JSON}
SEGMENT = re.compile(r"(?P<timestamp>\d+)(?P<modifier>[a-z]+_)?")
# Archived content never acts with the archive's authority: every replay is a sandbox (an
# opaque origin: no cookies, storage or same-origin requests of this service, no scripts,
# no forms, no fetch, beacon or ping) that loads only from this service. The rewritten view
# may open links in new tabs; a raw replay is the bytes as captured, inert.
VIEW_POLICY = ("sandbox allow-popups allow-popups-to-escape-sandbox; "
               "default-src 'self' 'unsafe-inline' data: blob:; script-src 'none'; "
               "connect-src 'none'; object-src 'none'; form-action 'none'; base-uri 'self'; "
               "frame-ancestors 'self'")
# A page's frames (``if_``) are framed by its sandboxed view, an opaque origin that no
# ``frame-ancestors`` source matches (not even ``*``): they may be framed, as pywb's are.
FRAME_POLICY = VIEW_POLICY.replace("; frame-ancestors 'self'", "")
RAW_POLICY = ("sandbox; default-src 'self' 'unsafe-inline' data: blob:; script-src 'none'; "
              "connect-src 'none'; object-src 'none'; form-action 'none'; base-uri 'none'; "
              "frame-ancestors 'self'")
# Replays are public archive content, read without credentials: any origin may load them,
# which the sandboxed view needs for its fonts (CORS-mode requests from an opaque origin).
REPLAY_HEADERS = {"X-Content-Type-Options": "nosniff", "Access-Control-Allow-Origin": "*"}
BANNER_STYLE = ("all:initial;display:block;position:relative;z-index:2147483647;"
                "font:13px/1.5 system-ui,sans-serif;background:#1f2937;color:#f9fafb;"
                "padding:6px 12px;border-bottom:2px solid #f59e0b")


@router.get("/web/{path:path}", response_class=Response,
            responses={302: {"description": "to the closest capture (or memento), or to "
                                            "the replay origin"},
                       **error_responses(400, 404, 503)})
def web(request: Request, path: str, service: ServiceDep,
        accept_datetime: Annotated[str | None, Header()] = None) -> Response:
    """``/web/{timestamp}{modifier}/{url}`` replays a capture; ``/web/{url}`` is the Memento
    TimeGate (``Accept-Datetime``; the latest capture without it)."""
    rest = raw_target(request, "/web/")
    first, _, url = rest.partition("/")
    if rest.lower().startswith(("http:", "https:", "http%3a", "https%3a")) or any(
            c in first for c in ".:%"):
        return timegate(request, service.catalog, normalize_archived_url(rest),
                        accept_datetime)
    match = SEGMENT.fullmatch(first)
    if match is None:
        raise ApiError(f"{first!r} is neither a timestamp (1-14 digits YYYYMMDDhhmmss, then "
                       "an optional modifier such as id_) nor a URL; use "
                       "/web/{timestamp}/{url} or /web/{url}")
    timestamp, modifier = match.group("timestamp"), match.group("modifier") or ""
    if modifier not in MODIFIERS:
        raise ApiError(f"unknown modifier {modifier!r} in {first!r}; use one of "
                       f"{', '.join(sorted(m for m in MODIFIERS if m))} or none")
    try:
        at = normalize_timestamp(timestamp)
    except ValueError as exc:
        raise ApiError(str(exc), timestamp=timestamp) from None
    return replay(request, service, timestamp, at, modifier, normalize_archived_url(url))


router.add_api_route("/web/{path:path}", web, methods=["HEAD"], include_in_schema=False)


def replay(request: Request, service: Service, timestamp: str, at: str, modifier: str,
           url: str) -> Response:
    urls = MementoUrls(request, url)
    with service.catalog.session() as session:
        capture = closest_capture(session, url, at)
        if capture.timestamp != timestamp:
            return RedirectResponse(urls.memento(capture.timestamp, modifier, capture.url),
                                    status_code=302, headers={"Link": urls.link_header()})
        if modifier in (TEXT, JSON):
            return article_view(session, capture, modifier, urls)
        archived = open_response(session, capture, service.storage,
                                 service.settings.spool_dir)
        around = neighbours(session, capture) if modifier == "" else None
        dom = rendered_dom(session, capture, service.storage, service.settings.spool_dir) \
            if modifier in RENDERED_VIEWS and mime_of(archived.content_type) in HTML_MIMES \
            else None
    if modifier == RAW:
        return raw_response(archived, urls)
    root = request.scope.get("root_path", "")
    rewriter = Rewriter(ArchiveUrls(f"{root}/web/"), capture.timestamp, capture.url)
    return view_response(archived, urls, rewriter, modifier,
                         banner(urls, capture, *around) if around else None, dom)


def _encode(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def raw_response(archived: ArchivedResponse, urls: MementoUrls) -> Response:
    """The archived status, headers and payload bytes, plus Memento headers. The payload is
    already in memory (one ranged read): sent as one body, without a per-chunk hop to the
    threadpool."""
    timestamp = archived.capture.timestamp
    headers = archived.headers(lambda target: urls.memento(timestamp, RAW, target))
    headers += memento_headers(urls, archived.capture, RAW).items()
    headers += [("Content-Security-Policy", RAW_POLICY), *REPLAY_HEADERS.items()]
    if archived.reason and archived.reason != _standard_reason(archived.status):
        # ASGI cannot carry a reason phrase: the server sends the standard one
        headers.append(("X-Archive-Status-Line", archived.status_line))
    response = Response(archived.payload, status_code=archived.status)
    response.raw_headers = [(name.lower().encode("latin-1"), _encode(value))
                            for name, value in headers]
    return response


def _standard_reason(status: int) -> str | None:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return None


def view_response(archived: ArchivedResponse, urls: MementoUrls, rewriter: Rewriter,
                  modifier: str, banner_html: str | None, dom: bytes | None = None) -> Response:
    """The decoded payload (an HTML page's rendered ``dom`` instead, when there is one);
    HTML and CSS rewritten into the archive; strict CSP."""
    headers = {**memento_headers(urls, archived.capture, modifier),
               "Content-Security-Policy": FRAME_POLICY if modifier == "if_" else VIEW_POLICY,
               **REPLAY_HEADERS}
    location = archived.location() if archived.is_redirect else None
    if location:
        headers["Location"] = rewriter.url(location, modifier)
        return Response(status_code=archived.status, headers=headers)
    content_type = archived.content_type
    mime = mime_of(content_type)
    if dom is not None and mime in HTML_MIMES:
        return Response(rewriter.html(dom, DOM_CONTENT_TYPE, banner_html, scripted=True),
                        archived.status,
                        headers, media_type=UTF8_HTML)
    try:
        body = archived.decoded()
    except UndecodableBody:  # not in its named coding: as archived, for the browser to try
        if content_type:
            headers["Content-Type"] = content_type
        headers["Content-Encoding"] = archived.header("content-encoding") or ""
        return Response(archived.payload, archived.status, headers)
    if mime in HTML_MIMES:
        page, headers["Content-Type"] = rewriter.html_response(body, content_type, banner_html)
        return Response(page, archived.status, headers)
    if mime == "text/css":
        return Response(rewriter.css_bytes(body, content_type), archived.status, headers,
                        media_type="text/css; charset=utf-8")
    if content_type:
        headers["Content-Type"] = content_type
    return Response(body, archived.status, headers)


def banner(urls: MementoUrls, capture: AnyCapture, previous: Capture | None,
           following: Capture | None) -> str:
    """The view's banner: capture time, original URL, previous/next capture, TimeMap."""
    def link(target: Capture | None, label: str) -> str:
        if target is None:
            return f"<span>{label}: none</span>"
        href = html.escape(urls.memento(target.timestamp, url=target.url))
        return (f'<a style="color:#fcd34d" href="{href}">{label}: '
                f"{html.escape(http_date(target.timestamp))}</a>")

    original = html.escape(capture.url)
    timemap = html.escape(urls.timemap())
    return (f'<div id="newsarchive-banner" style="{BANNER_STYLE}">'
            f"<strong>newsarchive</strong> · captured {html.escape(http_date(capture.timestamp))}"
            f' · original: <a style="color:#93c5fd" rel="noreferrer" href="{original}">'
            f"{original}</a> · {link(previous, '← previous')} · {link(following, 'next →')}"
            f' · <a style="color:#fcd34d" href="{timemap}">all captures</a></div>')


def article_view(session: Session, capture: AnyCapture, modifier: str,
                 urls: MementoUrls) -> Response:
    """The extracted article of ``capture`` (of its original, for a revisit)."""
    article: Article | None = article_of(session, capture)
    if article is None and capture.record_type == "revisit":
        try:
            article = revisit_original(session, capture).article
        except SnapshotNotFound:
            article = None
    if article is None:
        raise NotFound(f"no article was extracted from the capture of {capture.url} at "
                       f"{capture.timestamp}; /web/{capture.timestamp}/{capture.url} shows "
                       "the page", url=capture.url)
    headers = memento_headers(urls, capture, modifier)
    if modifier == TEXT:
        return PlainTextResponse(article.text, headers=headers)
    check = checks_of(session, [capture.id]).get(capture.id)
    view = ArticleView(capture=CaptureOut.from_capture(capture, check=check),
                       article=ArticleOut.model_validate(article, from_attributes=True))
    return JSONResponse(view.model_dump(mode="json"), headers=headers)
