"""A raw-socket HTTP/1.1 server on 127.0.0.1 that sends exact bytes, as no framework would.

Each path in :data:`EXCHANGES` answers a fixed head (status line and header block, byte for
byte) and body: odd header case and order, interleaved repeats, a custom reason phrase,
non-UTF-8 header bytes, chunked transfer coding, every content coding the crawler
advertises, 204 and 304 without ``Content-Length``, ``Connection: close``, a 20 KB header
line, a header name Twisted refuses, and a body cut short by a close, a reset or a stall.
Connections are kept alive unless the exchange ends them. Every request's bytes are kept in
:attr:`WireSite.requests`.
"""

from __future__ import annotations

import gzip
import socket
import ssl
import struct
import threading
import zlib
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from ipaddress import ip_address
from pathlib import Path
from types import TracebackType

import brotli
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from archive.encoding import zstd

ARTICLE_PATH = "world/2026/11/03/harbour-bridge-reopens.html"
ARTICLE = files("scheduler.demo").joinpath("site", ARTICLE_PATH).read_bytes()
CODINGS = ("gzip", "deflate", "br", "zstd")


@dataclass(frozen=True)
class Exchange:
    head: bytes  # status line and headers, ending in the blank line
    body: bytes  # as sent (content-coded, chunked)
    then: str = "keep"  # after sending: keep the connection, "close" it, "reset" it (RST),
    # or "stall" (send nothing more until the client gives up)
    entity: bytes | None = None  # the body once transfer chunking is removed (if chunked)


def encoded_path(coding: str) -> str:
    return f"/news/2026/11/03/harbour-bridge-reopens-{coding}.html"


def _encode(coding: str, data: bytes) -> bytes:
    if coding == "gzip":
        return gzip.compress(data, mtime=0)
    if coding == "deflate":
        return zlib.compress(data)
    if coding == "br":
        return brotli.compress(data)
    return zstd.compress(data)


def _head(status: str, *headers: str | bytes) -> bytes:
    lines = [status.encode("latin-1")]
    lines += [h if isinstance(h, bytes) else h.encode("latin-1") for h in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _chunked(data: bytes, size: int) -> bytes:
    chunks = [data[i:i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


def _exchanges() -> dict[str, Exchange]:
    article = ARTICLE
    plain = b"<!doctype html><title>plain</title><p>Harbour news in brief.</p>\n"
    out = {
        "/odd-headers": Exchange(_head(
            "HTTP/1.1 200 Everything Fine Here",
            "x-lower-case: yes", "ETAG: \"abc\"", "Set-Cookie: a=1; Path=/",
            "Link: </style.css>; rel=preload", "Set-Cookie: b=2; Path=/",
            "Content-Type: text/html; charset=utf-8", b"X-Cafe: caf\xe9 cr\xe8me",
            "Connection: keep-alive", "Keep-Alive: timeout=5", f"Content-Length: {len(plain)}",
        ), plain),
        "/chunked": Exchange(_head(
            "HTTP/1.1 200 OK", "Content-Type: text/html; charset=utf-8",
            "Transfer-Encoding: chunked",
        ), _chunked(article, 1000), entity=article),
        "/no-content": Exchange(_head("HTTP/1.1 204 No Content", "X-Served-By: wire"), b""),
        "/not-modified": Exchange(_head("HTTP/1.1 304 Not Modified", 'ETag: "v1"'), b""),
        "/close": Exchange(_head("HTTP/1.1 200 OK", "Content-Type: text/html",
                                 "Connection: close"), plain, then="close"),
        "/long-header": Exchange(_head(
            "HTTP/1.1 200 OK", "Content-Type: text/html", "X-Long: " + "x" * 20_000,
            f"Content-Length: {len(plain)}"), plain),
        "/bad-header-name": Exchange(_head(
            "HTTP/1.1 200 OK", "Content-Type: text/html", b"X-Caf\xe9: yes",
            f"Content-Length: {len(plain)}"), plain),
    }
    half = article[:len(article) // 2]
    for path, then in (("/short-body", "close"), ("/reset-body", "reset"),
                       ("/stall-body", "stall")):
        out[path] = Exchange(_head("HTTP/1.1 200 OK", "Content-Type: text/html",
                                   f"Content-Length: {len(article)}"), half, then=then)
    for coding in CODINGS:
        body = _encode(coding, article)
        out[encoded_path(coding)] = Exchange(_head(
            "HTTP/1.1 200 OK", "Content-Type: text/html; charset=utf-8",
            f"Content-Encoding: {coding}", "Vary: Accept-Encoding",
            f"Content-Length: {len(body)}"), body)
    return out


EXCHANGES = _exchanges()
NOT_FOUND = Exchange(_head("HTTP/1.1 404 Not Found", "Content-Type: text/plain",
                           "Content-Length: 9"), b"not found")


def self_signed_context(host: str, directory: Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for ``host`` (an IP)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ip_address(host))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


class WireSite:
    """``with WireSite() as site: site.url + path``; ``tls=`` a server context for https."""

    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self._listener = socket.create_server((host, 0))
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://{host}:{self._listener.getsockname()[1]}"
        self.requests: list[bytes] = []
        self._tls = tls
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:  # closed by __exit__
                return
            threading.Thread(target=self._serve_tls if self._tls else self._serve,
                             args=(conn,), daemon=True).start()

    def _serve_tls(self, conn: socket.socket) -> None:
        assert self._tls is not None
        try:
            wrapped = self._tls.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            conn.close()
            return
        self._serve(wrapped)

    def _serve(self, conn: socket.socket) -> None:
        pending = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in pending:
                    data = conn.recv(65536)
                    if not data:
                        return
                    pending += data
                request, _, pending = pending.partition(b"\r\n\r\n")
                self.requests.append(request + b"\r\n\r\n")
                path = request.split(b" ", 2)[1].decode("latin-1")
                exchange = EXCHANGES.get(path, NOT_FOUND)
                try:
                    conn.sendall(exchange.head + exchange.body)
                except OSError:
                    return
                if exchange.then == "close":
                    conn.shutdown(socket.SHUT_RDWR)
                    return
                if exchange.then == "reset":  # SO_LINGER 0: close sends RST
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
                    return
                if exchange.then == "stall":
                    with suppress(OSError):
                        while conn.recv(65536):  # until the client gives up
                            pass
                    return

    def __enter__(self) -> WireSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._listener.close()
