"""Fixed pages on a local origin of their own (a ``127.x`` address), e.g. another site
whose page targets the service, or a page with its stylesheet and images."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


class LocalPages:
    """``pages`` (path → HTML, or → (Content-Type, body bytes)) served at
    ``http://HOST:PORT``; ``requests`` lists the paths asked for."""

    def __init__(self, pages: dict[str, str | tuple[str, bytes]],
                 host: str = "127.0.0.3") -> None:
        content = {path: ("text/html; charset=utf-8", page.encode()) if isinstance(page, str)
                   else page for path, page in pages.items()}
        self.requests: list[str] = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                found = content.get(self.path.split("?")[0])
                if found is None:
                    self.send_error(404)
                    return
                mime, body = found
                self.send_response(200)
                self.send_header("Content-Type", mime)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LocalPages:
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()
