"""ASGI middleware: a ``Date`` header on responses that do not carry one already.

``serve`` turns off the server's own ``Date`` and ``Server`` headers, because a replayed
response (``/web/{ts}id_/{url}``) must carry the archived ones, once, not the live server's
beside them (and no ``Date`` when the archived response had none). Every other response
gets the ``Date`` HTTP requires of an origin server.
"""

from __future__ import annotations

from email.utils import formatdate

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Dated already, or a memento: an archived response keeps the headers it was archived with.
_KEEP_AS_IS = frozenset({b"date", b"memento-datetime"})


class DateHeader:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_date(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                names = {name.lower() for name, _ in headers}
                if not names & _KEEP_AS_IS:
                    headers.append((b"date", formatdate(usegmt=True).encode("latin-1")))
            await send(message)

        await self.app(scope, receive, send_with_date)
