"""A site of many incompressible pages on 127.0.0.1, to fill disks and spools.

``/page/N?size=BYTES&delay=SECONDS`` answers ``size`` bytes (default 30,000) that depend only
on ``N`` (:func:`body`), as ``application/octet-stream``, after ``delay`` seconds.
"""

from __future__ import annotations

import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

DEFAULT_SIZE = 30_000


def body(n: int, size: int = DEFAULT_SIZE) -> bytes:
    return random.Random(n).randbytes(size)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if not parts.path.startswith("/page/") or not parts.path[6:].isdigit():
            self.send_error(404)
            return
        size = int(query.get("size", [DEFAULT_SIZE])[0])
        time.sleep(float(query.get("delay", [0])[0]))  # the page's own pace, not a test wait
        data = body(int(parts.path[6:]), size)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


class BulkSite:
    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def page(self, n: int, **params: object) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"{self.url}/page/{n}" + (f"?{query}" if query else "")

    def __enter__(self) -> BulkSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()
