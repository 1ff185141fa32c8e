"""A site on 127.0.0.1 that holds its pages at a gate, to see how a crawl sends requests.

``/p/N.html`` is a small HTML page without links; ``/robots.txt`` is a 404, answered at once.
Each page request waits at the gate, which opens for good when ``release_at`` page requests
are in flight at once, when the test calls :meth:`GatedSite.open`, or when one request has
waited ``timeout`` seconds. The site records the paths in arrival order with their arrival
times, the most page requests it had in flight at once, and what opened the gate
(``opened_by``: ``"count"``, ``"test"`` or ``"timeout"``).

So a crawl with N concurrent requests per domain shows N in flight with ``release_at=N`` (the
Nth request opens the gate), and no more than N with ``release_at=N + 1`` (the first N wait
``timeout`` for one that never comes, then go).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler

from tests.support.served import QuietHandler, ServedSite


class GatedSite(ServedSite):
    def __init__(self, release_at: int, timeout: float) -> None:
        self.release_at = release_at
        self.timeout = timeout
        self.paths: list[str] = []
        self.arrivals: list[float] = []  # time.monotonic() of each page request
        self.max_in_flight = 0
        self.opened_by: str | None = None
        self._in_flight = 0
        self._gate = threading.Event()
        self._lock = threading.Lock()
        super().__init__(self._handler())

    def page_urls(self, count: int) -> list[str]:
        return [f"{self.url}/p/{n}.html" for n in range(count)]

    def open(self) -> None:
        self._open("test")

    def _open(self, by: str) -> None:
        with self._lock:
            if self.opened_by is None:
                self.opened_by = by
                self._gate.set()

    def _arrive(self, path: str) -> None:
        with self._lock:
            self.paths.append(path)
            self.arrivals.append(time.monotonic())
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            full = self._in_flight >= self.release_at
        if full:
            self._open("count")
        if not self._gate.wait(self.timeout):
            self._open("timeout")

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                if not self.path.startswith("/p/"):
                    self.send_error(404)
                    return
                site._arrive(self.path)
                site._leave()  # before answering: the crawl cannot send the next one sooner
                body = f"<html><head><title>{self.path}</title></head><body><p>page " \
                       f"{self.path}</p></body></html>".encode()
                self.answer(200, body, [("Content-Type", "text/html; charset=utf-8")])

        return Handler
