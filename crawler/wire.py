"""The bytes of each HTTP exchange as they crossed the connection, for the WARC records.

Scrapy hands on a parsed response: header names re-cased, repeats regrouped, a
``Content-Length`` added, ``Connection`` dropped, the body de-chunked. An archive must keep
what the server sent, as wget and warcprox do, so the connection's protocol is replaced by
:class:`RecordingClientProtocol`, which keeps every byte written to and read from the
transport (after TLS, before any parsing) in a :class:`WireRecord` per request. Twisted's
protocol handles one request at a time on a connection, so the bytes of a request and its
response are exactly those between two ``request()`` calls; bytes a server sends past the end
of a response (which Twisted ignores) are cut off by the parser's own count.

The record reaches the download handler on the Twisted response (``_newsarchive_wire``) or,
when the response failed before its headers were parsed, on the exception
(``newsarchive_wire``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.core.downloader.handlers.http11 import (
    _LenientHTTP11ClientFactory,
    _LenientHTTP11ClientProtocol,
)

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import ITransport
    from twisted.web.iweb import IResponse


class WireRecord:
    """What one request wrote and what its response read, in order, as bytes."""

    __slots__ = ("_received", "_sent", "complete", "extra", "line_too_long", "peer")

    def __init__(self, peer: str | None = None) -> None:
        self._sent: list[bytes] = []
        self._received: list[bytes] = []
        self.peer = peer  # the server's IP address
        self.complete = False  # the parser has seen the end of the response
        self.extra = 0  # bytes read past the end of the response (not part of it)
        self.line_too_long = False  # the head stopped at the header line limit

    def wrote(self, data: bytes) -> None:
        self._sent.append(data)

    def read(self, data: bytes) -> None:
        if not self.complete:  # later bytes are the server's, not this response's
            self._received.append(data)

    @property
    def request(self) -> bytes:
        return b"".join(self._sent)

    @property
    def response(self) -> bytes:
        data = b"".join(self._received)
        return data[:len(data) - self.extra] if self.extra else data

    def split_response(self) -> tuple[bytes, bytes]:
        """(status line and header block through the blank line, the body as read); an
        incomplete head is all head."""
        data = self.response
        end = data.find(b"\r\n\r\n")
        if end < 0:
            end = data.find(b"\n\n")  # a server that ends lines with LF alone
            return (data, b"") if end < 0 else (data[:end + 2], data[end + 2:])
        return data[:end + 4], data[end + 4:]


class _RecordingTransport:
    """The connection's transport, keeping a copy of what is written to it."""

    def __init__(self, transport: ITransport, protocol: RecordingClientProtocol) -> None:
        self._transport = transport
        self._protocol = protocol

    def write(self, data: bytes) -> None:
        if self._protocol.wire is not None:
            self._protocol.wire.wrote(data)
        self._transport.write(data)

    def writeSequence(self, data: list[bytes]) -> None:
        for part in data:
            self.write(part)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class RecordingClientProtocol(_LenientHTTP11ClientProtocol):
    """Scrapy's HTTP/1.1 client protocol, keeping each exchange's bytes."""

    max_header_line = 16384  # Twisted's; set by recording_factory
    wire: WireRecord | None = None

    def makeConnection(self, transport: ITransport) -> None:
        super().makeConnection(_RecordingTransport(transport, self))

    def dataReceived(self, data: bytes) -> None:
        if self.wire is not None:
            self.wire.read(data)
        super().dataReceived(data)

    def request(self, request: Any) -> Deferred[IResponse]:
        try:
            peer = self.transport.getPeer().host  # type: ignore[union-attr]
        except AttributeError:
            peer = None
        wire = self.wire = WireRecord(peer)
        d = super().request(request)
        parser = self._parser
        if parser is not None:
            parser.MAX_LENGTH = self.max_header_line
            too_long = parser.lineLengthExceeded

            def line_length_exceeded(line: bytes) -> Any:
                wire.line_too_long = True
                return too_long(line)

            parser.lineLengthExceeded = line_length_exceeded

        def attach(response: Any) -> Any:
            response._newsarchive_wire = wire
            return response

        def attach_to_failure(failure: Any) -> Any:
            failure.value.newsarchive_wire = wire
            return failure

        d.addCallbacks(attach, attach_to_failure)
        return d

    def _finishResponse(self, rest: bytes) -> None:
        if self.wire is not None:
            self.wire.complete, self.wire.extra = True, len(rest)
        super()._finishResponse(rest)


def recording_factory(max_header_line: int) -> type[_LenientHTTP11ClientFactory]:
    """A connection pool's protocol factory (``HTTPConnectionPool._factory``) building
    :class:`RecordingClientProtocol` with that header line limit."""

    class RecordingClientFactory(_LenientHTTP11ClientFactory):
        def buildProtocol(self, addr: Any) -> RecordingClientProtocol:
            protocol = RecordingClientProtocol(self._quiescentCallback)
            protocol.max_header_line = max_header_line
            return protocol

    return RecordingClientFactory
