"""ASGI middleware: a ``Date`` header on every response but a raw replay.

``serve`` turns off the server's own ``Date`` and ``Server`` headers, because a raw replay
(``/web/{ts}id_/{url}``) must carry the archived ones, once, not the live server's beside
them (and no ``Date`` when the archived response had none). Every other response (API, UI,
the rewritten archive view, redirects to a capture) gets the ``Date`` HTTP requires of an
origin server, unless its handler set one.
"""

from __future__ import annotations

import re
from email.utils import formatdate

from starlette.types import ASGIApp, Message, Receive, Scope, Send

RAW_REPLAY = re.compile(r"^/web/\d+id_/")  # the RAW modifier of scheduler.web.routers.replay


class DateHeader:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or RAW_REPLAY.match(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def send_with_date(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                if not any(name.lower() == b"date" for name, _ in headers):
                    headers.append((b"date", formatdate(usegmt=True).encode("latin-1")))
            await send(message)

        await self.app(scope, receive, send_with_date)
