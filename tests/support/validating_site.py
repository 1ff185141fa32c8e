"""A small site on 127.0.0.1 that sends validators and honours conditional requests.

Each page has an ``ETag`` (quoted SHA-1 prefix of its body) and/or a ``Last-Modified``; a
request whose ``If-None-Match`` matches (weak comparison, RFC 9110 13.1.2), or, without
one, whose ``If-Modified-Since`` is not before the page's date (13.1.3), gets a ``304 Not
Modified`` with the page's validators and no body; a page made with ``honours=False`` is
served as by a server that ignores them (always 200, same body). Every answer is logged with
the conditional headers received and, for a 304, the exact bytes sent.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from tests.support.served import ServedSite

LAST_MODIFIED = datetime(2026, 11, 3, 14, 0, tzinfo=UTC)


@dataclass
class Page:
    mime: str
    body: bytes
    etag: bool = True
    last_modified: bool = True
    honours: bool = True  # answers conditional requests (False: always the whole page)

    @property
    def etag_value(self) -> str:
        return f'"{hashlib.sha1(self.body).hexdigest()[:16]}"'


@dataclass
class Hit:
    path: str
    if_none_match: str | None
    if_modified_since: str | None
    status: int
    sent: bytes = b""  # for a 304, the bytes sent (its head)


@dataclass
class ValidatingSite(ServedSite):
    """``with ValidatingSite({"/": Page(...)}) as site:`` serves the pages."""

    pages: dict[str, Page]
    log: list[Hit] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        super().__init__(self._handler())

    def take_log(self) -> list[Hit]:
        with self._lock:
            log, self.log = self.log, []
        return log

    @staticmethod
    def not_modified(page: Page, if_none_match: str | None,
                     if_modified_since: str | None) -> bool:
        if not page.honours:
            return False
        if if_none_match is not None:  # it alone decides when present (RFC 9110 13.2.2)
            tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
            return page.etag and (page.etag_value in tags or "*" in tags)
        if if_modified_since is not None and page.last_modified:
            try:
                return parsedate_to_datetime(if_modified_since) >= LAST_MODIFIED
            except (TypeError, ValueError):
                return False
        return False

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                page = site.pages.get(path)
                if page is None:
                    self._send(Hit(path, None, None, 404), b"HTTP/1.1 404 Not Found\r\n"
                               b"Content-Length: 0\r\n\r\n")
                    return
                inm, ims = self.headers.get("If-None-Match"), self.headers.get(
                    "If-Modified-Since")
                validators = ""
                if page.etag:
                    validators += f"ETag: {page.etag_value}\r\n"
                if page.last_modified:
                    validators += (f"Last-Modified: "
                                   f"{format_datetime(LAST_MODIFIED, usegmt=True)}\r\n")
                date = format_datetime(datetime.now(UTC), usegmt=True)
                if site.not_modified(page, inm, ims):
                    head = (f"HTTP/1.1 304 Not Modified\r\nDate: {date}\r\n{validators}"
                            "Cache-Control: max-age=60\r\n\r\n").encode()
                    self._send(Hit(path, inm, ims, 304, head), head)
                    return
                head = (f"HTTP/1.1 200 OK\r\nDate: {date}\r\nContent-Type: {page.mime}\r\n"
                        f"{validators}Cache-Control: max-age=60\r\n"
                        f"Content-Length: {len(page.body)}\r\n\r\n").encode()
                self._send(Hit(path, inm, ims, 200), head + page.body)

            def _send(self, hit: Hit, data: bytes) -> None:
                with site._lock:
                    site.log.append(hit)
                self.wfile.write(data)
                self.wfile.flush()

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
