"""Replay: the archived HTTP response of a capture, rebuilt from its WARC record.

:func:`open_response` reads the capture's record with one ranged read. A ``revisit`` capture
takes its status and headers from its own record (when it has an HTTP header block) and its
payload from the original ``response`` record (:func:`archive.snapshot.read_capture_records`).

The payload is kept as archived (:attr:`ArchivedResponse.payload`, still content-encoded;
the ranged read already holds the whole record); :meth:`ArchivedResponse.decoded` removes
the Content-Encoding for the rewritten view. Headers keep their order and repeats; hop-by-hop
headers go and ``Content-Length`` states the payload length. Headers that would act on the
archive's own origin (cookies, site data, security and CORS policies, authentication, link
relations, refresh) are replayed under ``X-Archive-Orig-{name}``, as pywb does: visible,
inert.

:func:`rendered_dom` finds the DOM a browser rendered of a page capture: the ``resource``
record ``urn:dom:{url}`` written concurrent to the capture's own record (catalogued under
that URI's SURT key at the time it was written, which is at or after the page's).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from archive.cdxj import surt_key
from archive.models import Capture
from archive.snapshot import (
    AnyCapture,
    CaptureRecords,
    parse_record,
    read_capture_records,
    read_record_bytes,
)
from archive.storage import Storage, StorageError
from archive.warc import dom_uri

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
})
REDIRECT_HEADERS = frozenset({"location", "content-location"})
ORIGIN_BOUND_HEADERS = frozenset({
    "set-cookie", "set-cookie2", "clear-site-data", "strict-transport-security",
    "content-security-policy", "content-security-policy-report-only", "x-frame-options",
    "access-control-allow-origin", "access-control-allow-credentials",
    "access-control-allow-headers", "access-control-allow-methods",
    "access-control-expose-headers", "access-control-max-age", "service-worker-allowed",
    "origin-agent-cluster", "cross-origin-opener-policy", "cross-origin-embedder-policy",
    "cross-origin-resource-policy", "permissions-policy", "feature-policy", "report-to",
    "reporting-endpoints", "nel", "alt-svc", "www-authenticate", "proxy-authenticate",
    "refresh", "link", "accept-ch", "critical-ch", "supports-loading-mode",
})
ORIGINAL_PREFIX = "X-Archive-Orig-"


class RecordUnreadable(StorageError):
    """The record of a capture cannot be read; ``url`` is the capture's."""

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.url = url


@dataclass(frozen=True)
class ArchivedResponse:
    capture: AnyCapture  # the memento asked for: a response or a revisit
    protocol: str
    status: int
    reason: str
    archived_headers: list[tuple[str, str]]  # as archived, every value, in order
    payload: bytes  # as archived (content-encoded)
    _records: CaptureRecords

    @property
    def source(self) -> AnyCapture:
        """The response capture whose record holds the payload."""
        return self._records.source

    @property
    def status_line(self) -> str:
        return f"{self.protocol} {self.status} {self.reason}".rstrip()

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.archived_headers if k.lower() == name), None)

    @property
    def content_type(self) -> str | None:
        return self.header("content-type")

    @property
    def is_redirect(self) -> bool:
        return 300 <= self.status < 400 and self.header("location") is not None

    def location(self) -> str | None:
        """The redirect target, absolute (resolved against the capture's URL)."""
        value = self.header("location")
        return urljoin(self.capture.url, value.strip()) if value else None

    def headers(self, rewrite_url: Callable[[str], str] | None = None) -> list[tuple[str, str]]:
        """Headers to send: hop-by-hop ones dropped, origin-bound ones renamed
        ``X-Archive-Orig-…``, ``Content-Length`` set to the payload length,
        ``Location``/``Content-Location`` passed through ``rewrite_url`` (with the absolute
        target) when given."""
        out: list[tuple[str, str]] = []
        for name, value in self.archived_headers:
            lower = name.lower()
            if lower in HOP_BY_HOP or lower == "content-length":
                continue
            if lower in ORIGIN_BOUND_HEADERS:
                out.append((ORIGINAL_PREFIX + name, value))
                continue
            if rewrite_url is not None and lower in REDIRECT_HEADERS:
                value = rewrite_url(urljoin(self.capture.url, value.strip()))
            out.append((name, value))
        out.append(("Content-Length", str(len(self.payload))))
        return out

    def decoded(self) -> bytes:
        """The payload with its Content-Encoding removed (:mod:`archive.encoding`)."""
        return self._records.decoded_payload()


def open_response(session: Session, capture: AnyCapture, storage: Storage,
                  spool_dir: Path) -> ArchivedResponse:
    """Read ``capture``'s record (and, for a revisit, its original's) into a response;
    :class:`RecordUnreadable` says why it cannot be read."""
    try:
        records = read_capture_records(capture, storage, spool_dir, session)
        headers = records.http_headers
        status_code, _, reason = headers.statusline.partition(" ")
        if not status_code.isdigit():
            raise StorageError(f"the record {capture.record_id} has no HTTP status line "
                               f"({headers.statusline!r})")
    except StorageError as exc:
        raise RecordUnreadable(f"the record of this capture cannot be read: {exc}",
                               capture.url) from None
    return ArchivedResponse(
        capture=capture, protocol=headers.protocol or "HTTP/1.1",
        status=int(status_code), reason=reason, archived_headers=list(headers.headers),
        payload=records.raw_payload, _records=records,
    )


# A page's DOM is written once it has been rendered: the first few resources of its URI
# at or after the page's time are the candidates (another capture's come later).
DOM_CANDIDATES = 3


def rendered_dom(session: Session, capture: AnyCapture, storage: Storage,
                 spool_dir: Path) -> bytes | None:
    """The rendered DOM (UTF-8 HTML) recorded for the page ``capture``, or None: the
    ``urn:dom:`` resource whose ``WARC-Concurrent-To`` is the capture's record. A record
    that cannot be read counts as none (the page replays from its response)."""
    candidates = session.scalars(
        select(Capture).where(Capture.surt == surt_key(dom_uri(capture.url)),
                              Capture.record_type == "resource",
                              Capture.timestamp >= capture.timestamp)
        .order_by(Capture.timestamp, Capture.id).limit(DOM_CANDIDATES)
        .options(joinedload(Capture.warc_file)))
    for candidate in candidates:
        try:
            record = parse_record(read_record_bytes(candidate, storage, spool_dir))
        except StorageError:
            continue
        if record.rec_headers.get_header("WARC-Concurrent-To") == capture.record_id:
            return record.raw_stream.read()
    return None

