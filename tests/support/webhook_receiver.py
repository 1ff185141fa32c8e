"""A webhook receiver on 127.0.0.1 that checks each POST's signature as a receiver would
(HMAC-SHA256 of the exact body, compared in constant time) and answers the statuses the test
scripts."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.served import QuietHandler, ServedSite


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    signature_valid: bool

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver(ServedSite):
    """Records every POST; answers the next of ``statuses`` (then 200 for ever)."""

    def __init__(self, secret: str, statuses: Iterable[int] = ()) -> None:
        self.secret = secret.encode()
        self.statuses = list(statuses)
        self.received: list[Received] = []
        self.arrived = threading.Event()  # set by each POST
        super().__init__(self._handler())

    @property
    def hook_url(self) -> str:
        return f"{self.url}/hooks/newsarchive"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                expected = "sha256=" + hmac.new(receiver.secret, body,
                                                hashlib.sha256).hexdigest()
                given = self.headers.get("X-Newsarchive-Signature", "")
                receiver.received.append(Received(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                    hmac.compare_digest(expected, given)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.answer(status, b"ok" if status < 300 else b"try later")
                receiver.arrived.set()

        return Handler
