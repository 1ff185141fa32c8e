"""Local HTTP server for the bundled "Harbour Gazette" demo news site.

The server serves the static files under ``scheduler/demo/site`` plus a few special
endpoints that reproduce real-world HTTP behaviour (redirects, also to any URL with
``/redirect?to=URL``, error statuses, gzip, chunked transfer encoding, very large and very
slow responses, misdeclared charsets).
It is used by ``newsarchive demo`` and by the crawl test suite.

Run it in the foreground with ``python -m scheduler.demo.server --port 8080``.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import html
import logging
import re
import socket
import socketserver
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = [
    "ARTICLE_PATHS",
    "BIG_SIZE",
    "FRENCH_ARTICLE",
    "MALFORMED_ARTICLE",
    "NO_CHARSET_ARTICLE",
    "REDIRECTS",
    "TWO_AUTHOR_ARTICLE",
    "WRONG_CHARSET_ARTICLE",
    "DemoSite",
    "RequestLog",
    "main",
]

logger = logging.getLogger(__name__)

DEFAULT_SITE_DIR = Path(__file__).resolve().parent / "site"
SITE_NAME = "The Harbour Gazette"

#: URL paths of the eight article pages, newest first.
ARTICLE_PATHS: tuple[str, ...] = (
    "/business/2026/11/03/port-authority-record-quarter.html",
    "/world/2026/11/03/harbour-bridge-reopens.html",
    "/culture/2026/11/02/festival-des-lumieres.html",
    "/world/2026/11/02/fishing-quota-talks-stall.html",
    "/business/2026/11/01/waterfront-cafe-chain-expansion.html",
    "/culture/2026/10/31/maritime-museum-wreck-gallery.html",
    "/world/2026/10/30/coastal-cities-storm-surge-pact.html",
    "/business/2026/10/29/shipyard-ferry-order.html",
)
#: ``<html lang="fr">``, French prose and author.
FRENCH_ARTICLE = "/culture/2026/11/02/festival-des-lumieres.html"
#: No ``<meta charset>`` and a bare ``Content-Type: text/html``; body is non-ASCII UTF-8.
NO_CHARSET_ARTICLE = "/business/2026/11/01/waterfront-cafe-chain-expansion.html"
#: UTF-8 bytes (and ``<meta charset="utf-8">``) served as ``charset=iso-8859-1``.
WRONG_CHARSET_ARTICLE = "/business/2026/10/29/shipyard-ferry-order.html"
#: Unclosed tags, stray ``</div>``, unquoted attributes, no ``</html>``.
MALFORMED_ARTICLE = "/world/2026/11/02/fishing-quota-talks-stall.html"
#: JSON-LD ``author`` is a list of two Person objects.
TWO_AUTHOR_ARTICLE = "/business/2026/11/03/port-authority-record-quarter.html"

#: Special redirect paths: path -> (status, Location).
REDIRECTS: dict[str, tuple[int, str]] = {
    "/redirect-to-home": (301, "/"),
    "/old/harbour-bridge": (302, "/world/2026/11/03/harbour-bridge-reopens.html"),
}

BIG_SIZE = 3 * 1024 * 1024
SLOW_SECONDS = 10.0
HTML_TYPE = "text/html; charset=utf-8"
SESSION_COOKIES = (
    "session=hg-demo-7f3a9c21; Path=/; HttpOnly",
    "consent=pending; Path=/; Max-Age=31536000; SameSite=Lax",
)

_CONTENT_TYPES = {
    ".html": HTML_TYPE,
    ".htm": HTML_TYPE,
    ".xml": "application/xml",
    ".css": "text/css",
    ".txt": "text/plain",
    ".png": "image/png",
    ".pdf": "application/pdf",
    ".js": "application/javascript",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
}
_XML_ROOT_TYPES = {b"<rss": "application/rss+xml", b"<feed": "application/atom+xml"}
_CHARSET_OVERRIDES = {
    NO_CHARSET_ARTICLE: "text/html",
    WRONG_CHARSET_ARTICLE: "text/html; charset=iso-8859-1",
}
_COMPRESSIBLE_TYPES = frozenset(
    {
        "text/html",
        "text/css",
        "text/xml",
        "application/xml",
        "application/rss+xml",
        "application/atom+xml",
    }
)
#: Headers omitted from 304 Not Modified responses.
_NOT_MODIFIED_DROP = frozenset({"content-type", "content-encoding", "set-cookie"})
#: Files whose ``{base}`` placeholder is replaced with the server's base URL.
_TEMPLATED_SUFFIXES = frozenset({".xml", ".txt"})
_HOST_RE = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")
_TITLE_RE = re.compile(rb"<title>(.*?)</title>", re.S)
_DEFAULT_ROBOTS = "User-agent: *\nDisallow: /private/\nAllow: /\n\nSitemap: {base}/sitemap.xml\n"


class RequestLog(list[tuple[str, str]]):
    """Thread-safe list of ``(method, path_with_query)`` tuples received by the server."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def append(self, item: tuple[str, str]) -> None:
        with self._lock:
            super().append(item)

    def clear(self) -> None:
        with self._lock:
            super().clear()

    def snapshot(self) -> list[tuple[str, str]]:
        """Return a consistent copy of the log."""
        with self._lock:
            return list(self)

    def paths(self, method: str | None = None) -> list[str]:
        """Request targets, optionally filtered by method."""
        return [p for m, p in self.snapshot() if method is None or m == method]


@dataclass
class _Response:
    """A fully built response; ``chunks`` selects chunked transfer encoding."""

    status: int
    body: bytes = b""
    content_type: str | None = HTML_TYPE
    reason: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    chunks: list[bytes] | None = None
    compressible: bool = False
    etag: str | None = None
    delay: float = 0.0


def _page(title: str, body: str, lang: str = "en") -> bytes:
    """Small, complete HTML page with the site's chrome."""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)} | {SITE_NAME}</title>\n"
        '<link rel="stylesheet" href="/assets/style.css">\n</head>\n<body>\n'
        f'<header class="site-header"><a class="logo" href="/">{SITE_NAME}</a></header>\n'
        f'<main id="content">\n{body}\n</main>\n'
        f'<footer class="site-footer"><p class="copyright">© 2026 {SITE_NAME}. '
        "All rights reserved.</p></footer>\n</body>\n</html>\n"
    ).encode()


def _error_response(status: int, reason: str | None = None, detail: str = "") -> _Response:
    phrase = reason or HTTPStatus(status).phrase
    text = detail or {
        404: "Sorry, we could not find the page you were looking for.",
        500: "Something went wrong on our side. Please try again later.",
    }.get(status, phrase)
    body = _page(
        f"{status} {phrase}",
        f"<h1>{status} {html.escape(phrase)}</h1>\n<p>{html.escape(text)}</p>\n"
        '<p><a href="/">Return to the home page</a></p>',
    )
    return _Response(status, body, reason=reason)


def _redirect(status: int, location: str) -> _Response:
    body = _page(
        "Moved",
        f'<h1>Moved</h1>\n<p>This page has moved to <a href="{html.escape(location)}">'
        f"{html.escape(location)}</a>.</p>",
    )
    return _Response(status, body, headers=[("Location", location)])


@lru_cache(maxsize=1)
def _big_body() -> bytes:
    """Deterministic, valid HTML page of exactly ``BIG_SIZE`` bytes."""
    head = (
        b'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        b"<title>Print archive dump | The Harbour Gazette</title>\n</head>\n<body>\n"
        b"<h1>Print archive dump</h1>\n"
    )
    tail = b"</body>\n</html>\n"
    parts = [head]
    size = len(head) + len(tail)
    i = 0
    while True:
        line = (
            f'<p id="line-{i:06d}">Archive line {i:06d}: shipping movements, tide tables '
            f"and notices to mariners for the harbour, edition {i % 365 + 1}.</p>\n"
        ).encode("ascii")
        if size + len(line) > BIG_SIZE:
            break
        parts.append(line)
        size += len(line)
        i += 1
    parts.append(b" " * (BIG_SIZE - size) + tail)
    body = b"".join(parts)
    assert len(body) == BIG_SIZE
    return body


def _chunked_pages() -> list[bytes]:
    updates = [
        ("06:10", "Coastguard issues an amber warning for the outer harbour."),
        ("06:45", "Island ferries suspended until at least midday."),
        ("07:20", "Quay Street closed between the fish market and the customs house."),
        ("08:05", "High water passes without flooding; barriers to stay up overnight."),
    ]
    chunks = [
        b'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        b"<title>Live: storm updates from the harbour | The Harbour Gazette</title>\n"
        b'<link rel="stylesheet" href="/assets/style.css">\n</head>\n<body>\n'
        b'<main id="content">\n<h1>Live: storm updates from the harbour</h1>\n'
    ]
    for time, text in updates:
        chunks.append(
            f'<article class="live-update"><time>{time}</time><p>{html.escape(text)}</p>'
            "</article>\n".encode()
        )
    chunks.append(
        f'</main>\n<footer class="site-footer"><p class="copyright">© 2026 {SITE_NAME}. '
        "All rights reserved.</p></footer>\n</body>\n</html>\n".encode()
    )
    return chunks


def _accepts_gzip(header: str | None) -> bool:
    """True if an ``Accept-Encoding`` value allows gzip (``q=0`` disables it)."""
    if not header:
        return False
    for item in header.split(","):
        name, _, params = item.partition(";")
        if name.strip().lower() not in ("gzip", "x-gzip"):
            continue
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    return float(value) > 0
                except ValueError:
                    return False
        return True
    return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], site: DemoSite) -> None:
        self.site = site
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn); skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: object, client_address: object) -> None:
        logger.debug("error while handling request from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "HarbourGazetteDemo/1.0"
    timeout = 30  # idle keep-alive connections are closed after this many seconds
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body are separate writes; avoid Nagle/delayed-ACK stalls on keep-alive.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.site._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.site._track(self.connection, add=False)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_POST(self) -> None:
        site = self.server.site
        site.requests.append((self.command, self.path))
        self._discard_body()
        resp = _error_response(405, detail="Comments are closed on the demo site.")
        resp.headers.append(("Allow", "GET, HEAD"))
        self._send(resp, head=False)

    def _discard_body(self) -> None:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return
        try:
            remaining = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            return
        while remaining > 0:
            data = self.rfile.read(min(remaining, 65536))
            if not data:
                break
            remaining -= len(data)

    def _base_url(self) -> str:
        host = self.headers.get("Host", "")
        if host and _HOST_RE.fullmatch(host):
            return f"http://{host}"
        return self.server.site.url

    def _serve(self, head: bool) -> None:
        site = self.server.site
        site.requests.append((self.command, self.path))
        site._busy(+1)
        try:
            resp = site._build(self.path, self._base_url())
            if resp.delay > 0 and site._stopping.wait(resp.delay):
                resp = _error_response(503, detail="The server is shutting down.")
                resp.headers += [("Retry-After", "5"), ("Connection", "close")]
            self._send(resp, head)
        except OSError:
            self.close_connection = True
            logger.debug("client went away during %s %s", self.command, self.path)
        finally:
            site._busy(-1)

    def _send(self, resp: _Response, head: bool) -> None:
        body = resp.body
        headers = list(resp.headers)
        if resp.content_type:
            headers.append(("Content-Type", resp.content_type))
            if resp.content_type.startswith("text/html"):
                headers += [("Set-Cookie", cookie) for cookie in SESSION_COOKIES]
        headers.append(("X-Served-By", "demo"))
        etag = resp.etag
        if resp.compressible:
            headers.append(("Vary", "Accept-Encoding"))
            if resp.chunks is None and _accepts_gzip(self.headers.get("Accept-Encoding")):
                body = gzip.compress(body, mtime=0)
                headers.append(("Content-Encoding", "gzip"))
                etag = etag and f'{etag[:-1]}-gzip"'
        status = resp.status
        if etag:
            headers.append(("ETag", etag))
            candidates = {t.strip() for t in self.headers.get("If-None-Match", "").split(",")}
            if status == 200 and (etag in candidates or "*" in candidates):
                status, body = 304, b""
                headers = [(k, v) for k, v in headers if k.lower() not in _NOT_MODIFIED_DROP]

        self.send_response(status, resp.reason)
        for key, value in headers:
            self.send_header(key, value)
        if resp.chunks is not None and status != 304:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if not head:
                for chunk in resp.chunks:
                    self.wfile.write(b"%X\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            return
        if status >= 200 and status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and status not in (204, 304):
            self.wfile.write(body)


class DemoSite:
    """The demo news site served on a background thread.

    Use as a context manager (``with DemoSite() as site: ...``) or call
    :meth:`start` / :meth:`stop`.  ``site.url`` is the base URL without a trailing
    slash; ``site.requests`` records every ``(method, path_with_query)`` received.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, site_dir: str | Path | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.site_dir = Path(site_dir).resolve() if site_dir else DEFAULT_SITE_DIR
        self.requests = RequestLog()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._active = 0
        self._cond = threading.Condition()
        self._special: dict[str, Callable[[str], _Response]] = {
            "/missing": lambda q: _error_response(404),
            "/error": lambda q: _error_response(500, "Internal Server Error"),
            "/teapot": lambda q: _error_response(
                418, "I'm a teapot", "This server refuses to brew coffee."
            ),
            "/chunked": self._chunked,
            "/big": self._big,
            "/slow": self._slow,
            "/search": self._search,
            "/redirect": self._redirect_to,
        }

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> DemoSite:
        """Bind the socket and start serving in a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self.host, self.port), self)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"demo-site-{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.debug("demo site serving %s at %s", self.site_dir, self.url)
        return self

    def stop(self) -> None:
        """Stop serving; wakes up pending ``/slow`` requests and closes connections."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._cond:  # give in-flight requests a moment to finish writing
            self._cond.wait_for(lambda: self._active == 0, timeout=2.0)
            conns = list(self._connections)
        for conn in conns:  # wake idle keep-alive connections blocked in recv()
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`stop` is called (or *timeout* expires)."""
        return self._stopping.wait(timeout)

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> DemoSite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<DemoSite {self.host}:{self.port} {state}>"

    # -- public helpers --------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        if not self.port:
            raise RuntimeError("DemoSite has no port yet; call start() first")
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def served_bytes(self, path: str) -> bytes:
        """Body bytes sent for ``GET path`` before any content-encoding.

        For static files this is the file content (with ``{base}`` filled in for
        ``.xml``/``.txt`` files); for generated pages it is the generated body.
        """
        return self._build(path, self.url).body

    # -- internals -------------------------------------------------------------

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._cond:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _busy(self, delta: int) -> None:
        with self._cond:
            self._active += delta
            self._cond.notify_all()

    def _build(self, target: str, base: str) -> _Response:
        parts = urlsplit(target)
        raw_path = parts.path or "/"
        path = unquote(raw_path)
        if path in REDIRECTS:
            return _redirect(*REDIRECTS[path])
        special = self._special.get(path)
        if special is not None:
            return special(parts.query)
        return self._static(path, raw_path, parts.query, base)

    def _static(self, path: str, raw_path: str, query: str, base: str) -> _Response:
        root = self.site_dir.resolve()
        if "\x00" in path or not path.startswith("/"):
            return _error_response(404)
        target = (root / path.lstrip("/")).resolve()
        if not target.is_relative_to(root):
            return _error_response(404)
        if target.is_dir():
            if not path.endswith("/"):
                location = raw_path + "/" + (f"?{query}" if query else "")
                return _redirect(301, location)
            target = target / "index.html"
        elif path.endswith("/"):
            return _error_response(404)
        if not target.is_file():
            if path == "/robots.txt":
                data = _DEFAULT_ROBOTS.replace("{base}", base).encode()
                return _Response(200, data, "text/plain")
            return _error_response(404)
        data = target.read_bytes()
        suffix = target.suffix.lower()
        if suffix in _TEMPLATED_SUFFIXES:
            data = data.replace(b"{base}", base.encode("ascii"))
        content_type = _CONTENT_TYPES.get(suffix, "application/octet-stream")
        if suffix == ".xml":
            start = data[:500]
            for marker, xml_type in _XML_ROOT_TYPES.items():
                if marker in start:
                    content_type = xml_type
                    break
        content_type = _CHARSET_OVERRIDES.get(path, content_type)
        etag = f'"{hashlib.sha1(data).hexdigest()[:20]}"'
        compressible = content_type.split(";")[0] in _COMPRESSIBLE_TYPES
        return _Response(200, data, content_type, compressible=compressible, etag=etag)

    def _chunked(self, query: str) -> _Response:
        chunks = _chunked_pages()
        return _Response(200, b"".join(chunks), chunks=chunks)

    def _big(self, query: str) -> _Response:
        return _Response(200, _big_body())

    def _slow(self, query: str) -> _Response:
        delay = SLOW_SECONDS
        values = parse_qs(query).get("delay")
        if values:
            with contextlib.suppress(ValueError):
                delay = min(max(float(values[0]), 0.0), SLOW_SECONDS)
        body = _page("Slow page", f"<h1>Slow page</h1>\n<p>Served after {delay:g} seconds.</p>")
        return _Response(200, body, delay=delay)

    def _redirect_to(self, query: str) -> _Response:
        """``/redirect?to=URL[&status=302]``: redirect anywhere, e.g. to another host."""
        values = parse_qs(query)
        location = values.get("to", [""])[0]
        if not location or any(c in location for c in "\r\n"):
            return _error_response(400, detail="Give the target as ?to=URL.")
        status = 302
        with contextlib.suppress(ValueError):
            status = int(values.get("status", ["302"])[0])
        if status not in (301, 302, 303, 307, 308):
            status = 302
        return _redirect(status, location)

    def _search(self, query: str) -> _Response:
        q = parse_qs(query).get("q", [""])[0].strip()
        results = []
        if q:
            needle = q.casefold()
            for path in ARTICLE_PATHS:
                file = self.site_dir / path.lstrip("/")
                if not file.is_file():
                    continue
                data = file.read_bytes()
                if needle in data.decode("utf-8", "replace").casefold():
                    match = _TITLE_RE.search(data)
                    title = match.group(1).decode("utf-8", "replace") if match else path
                    title = title.replace(f" | {SITE_NAME}", "")
                    results.append(f'  <li><a href="{path}">{html.escape(title)}</a></li>')
        listing = (
            '<ul class="search-results">\n' + "\n".join(results) + "\n</ul>"
            if results
            else '<p class="no-results">No articles matched your search.</p>'
        )
        body = _page(
            f"Search: {q}" if q else "Search",
            f"<h1>Search results</h1>\n"
            f'<p class="query">You searched for: <strong>{html.escape(q)}</strong></p>\n'
            f"{listing}",
        )
        return _Response(200, body)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo site in the foreground until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m scheduler.demo.server", description="Serve the Harbour Gazette demo site."
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="port (default: %(default)s; 0=any)")
    parser.add_argument("--site-dir", type=Path, default=None, help="serve this directory instead")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    with DemoSite(args.host, args.port, args.site_dir) as site:
        print(f"Serving {SITE_NAME} demo site at {site.url}/ (Ctrl+C to stop)", flush=True)
        try:
            while not site.wait(0.5):
                pass
        except KeyboardInterrupt:
            print("\nStopping.", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
