"""Content-Encoding: what the crawler advertises and how every reader decodes it.

One owner for both facts, so the crawler never asks for an encoding the readers cannot
undo. Decoding uses the pinned libraries (``zlib``, ``brotli``, ``backports.zstd``) and not
warcio's optional decoders: warcio's brotli path calls ``Decompressor.unused_data``, which
brotli 1.2 no longer has, and warcio does not decode zstd at all.

Transfer chunking, kept in the records as it crossed the wire, is removed first
(:func:`remove_transfer_coding`).

A truncated body (a capture with ``WARC-Truncated``, a server that stopped early) decodes as
far as it goes, as a browser renders it; bytes that are not in the named coding raise
:class:`UndecodableBody`. The archived bytes themselves are never changed.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from typing import Any

import brotli
from warcio.bufferedreaders import ChunkedDataReader

try:  # Python 3.14+
    from compression import zstd  # type: ignore[import-not-found]
except ImportError:  # the PEP 784 backport, pinned for 3.11-3.13
    from backports import zstd

# Sent by the crawler; decode_body undoes each of them.
ACCEPT_ENCODING = "gzip, deflate, br, zstd"


class UndecodableBody(ValueError):
    """A payload whose bytes are not in the Content-Encoding its headers name."""


def content_codings(content_encoding: str | None) -> list[str]:
    """The codings of a Content-Encoding value, in the order they were applied."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    return [c for c in codings if c and c != "identity"]


def decode_body(body: bytes, content_encoding: str | None, limit: int | None = None) -> bytes:
    """``body`` with every coding of ``content_encoding`` removed, last applied first; with
    ``limit``, at most that many bytes come out of each step (a page title needs the start
    of a page, not all a small compressed prefix may inflate to)."""
    for coding in reversed(content_codings(content_encoding)):
        decoder = _DECODERS.get(coding)
        if decoder is None:
            raise UndecodableBody(f"unknown Content-Encoding {coding!r}")
        try:
            body = decoder(body, limit or -1)
        except (zlib.error, brotli.error, zstd.ZstdError) as exc:
            raise UndecodableBody(f"the body is not valid {coding}: {exc}") from None
    return body if limit is None else body[:limit]


def remove_transfer_coding(body: bytes, transfer_encoding: str | None) -> bytes:
    """The entity body of a message body archived as it crossed the wire: de-chunked when
    ``Transfer-Encoding`` says chunked (warcio's reader, as pywb and ReplayWeb.page do; a
    body that is not valid chunking is left as it is)."""
    if "chunked" not in (transfer_encoding or "").lower():
        return body
    return ChunkedDataReader(io.BytesIO(body), raise_exceptions=False).read()


# Each decoder takes the most bytes to return (-1: all).
def _gunzip(body: bytes, limit: int) -> bytes:
    """Every gzip member in turn (a server may send several), as far as the bytes go."""
    return _frames(lambda: zlib.decompressobj(wbits=31), body, limit, pad=b"\0")


def _inflate(body: bytes, limit: int) -> bytes:
    """``deflate`` as RFC 9110 defines it (zlib), or the raw deflate some servers send."""
    size = max(limit, 0)  # zlib: 0 is no limit
    try:
        return zlib.decompressobj(wbits=15).decompress(body, size)
    except zlib.error:
        return zlib.decompressobj(wbits=-15).decompress(body, size)


def _unbrotli(body: bytes, limit: int) -> bytes:
    if limit < 0:
        return brotli.Decompressor().process(body)
    return brotli.Decompressor().process(body, output_buffer_limit=limit)


def _unzstd(body: bytes, limit: int) -> bytes:
    """Every zstd frame in turn, as far as the bytes go."""
    return _frames(zstd.ZstdDecompressor, body, limit)


def _frames(decompressor: Callable[[], Any], body: bytes, limit: int,
            pad: bytes = b"") -> bytes:
    """The frames (gzip members, zstd frames) of ``body`` decompressed one after the other
    until the bytes, or ``limit``, run out; a cut frame gives what it holds. ``pad``: a byte
    some servers put between frames (gzip: NULs after the last member)."""
    out: list[bytes] = []
    produced = 0
    while body and (limit < 0 or produced < limit):
        frame = decompressor()
        room = limit - produced if limit >= 0 else -1
        chunk = frame.decompress(body, room) if room >= 0 else frame.decompress(body)
        out.append(chunk)
        produced += len(chunk)
        if not frame.eof:
            break
        body = frame.unused_data.lstrip(pad) if pad else frame.unused_data
    return b"".join(out)


_DECODERS = {"gzip": _gunzip, "x-gzip": _gunzip, "deflate": _inflate, "br": _unbrotli,
             "zstd": _unzstd}
