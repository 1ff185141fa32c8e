"""HTTP/1.1 download handler that keeps what an archive needs and Scrapy normally drops.

* The reason phrase of the status line (``200 OK``, ``418 I'm a teapot``) is kept in
  ``request.meta["http_reason"]``; Scrapy's Response has only the numeric status.
* The bytes of each exchange as they crossed the connection (:mod:`crawler.wire`), in
  ``request.meta["wire"]``, for the WARC records.
* A response that fails after bytes arrived (a header line over
  ``NEWSARCHIVE_MAX_HEADER_LINE``, a body shorter than announced, a reset, a timeout) is
  handed to the archive as far as it came (signal ``exchange_failed``, with its
  ``WARC-Truncated`` reason) before the error goes on to the spider.
* A body over ``DOWNLOAD_MAXSIZE`` is cut at the limit and still delivered, flagged
  ``truncated``, so the archive records it with ``WARC-Truncated: length`` instead of losing
  the exchange. Scrapy's own limit would cancel the download.

Built on Scrapy's ``HTTP11DownloadHandler``; only the agent construction differs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from scrapy import Request, signals
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler, _ScrapyAgent
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadTimeoutError,
    ResponseDataLossError,
    StopDownload,
)
from scrapy.http import Response, TextResponse
from scrapy.utils._download_handlers import get_dataloss_msg, wrap_twisted_exceptions
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.error import ConnectionDone, ConnectionLost

from crawler import signals as na_signals
from crawler.resolver import AddressRefusedError, refusals
from crawler.wire import WireRecord, recording_factory

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.web.client import Response as TxResponse

logger = logging.getLogger(__name__)

TRUNCATED_FLAG = "truncated"
WIRE_META = "wire"  # request.meta key of the exchange's crawler.wire.WireRecord


class HeaderTooLongError(Exception):
    """A response header line over ``NEWSARCHIVE_MAX_HEADER_LINE`` (not retried: the same
    server sends the same line again)."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, its causes and contexts, and the reasons of Twisted's ``ResponseFailed``."""
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        yield current
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
        pending += [r.value for r in getattr(current, "reasons", []) if hasattr(r, "value")]


def _wire_of(exc: BaseException) -> WireRecord | None:
    """The wire record a failure before the response head was parsed carries (on Twisted's
    exception, which Scrapy's may wrap), if any."""
    return next((e.newsarchive_wire for e in _chain(exc) if hasattr(e, "newsarchive_wire")),
                None)


def _closed(exc: BaseException) -> bool:
    """True if the connection closing (cleanly or not) is what failed the response."""
    return any(isinstance(e, ConnectionDone | ConnectionLost) for e in _chain(exc))


class _ReasonKeepingAgent(_ScrapyAgent):
    def _cb_bodyready(self, txresponse: TxResponse, request: Request):  # type: ignore[override]
        phrase = txresponse.phrase
        request.meta["http_reason"] = phrase.decode("latin-1") if phrase else ""
        request.meta[WIRE_META] = getattr(txresponse, "_newsarchive_wire", None)
        return super()._cb_bodyready(txresponse, request)


class ArchivalDownloadHandler(HTTP11DownloadHandler):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._max_header_line = crawler.settings.getint("NEWSARCHIVE_MAX_HEADER_LINE")
        self._decompressing = crawler.settings.getbool("COMPRESSION_ENABLED")
        self._pool._factory = recording_factory(self._max_header_line)
        crawler.signals.connect(self._on_bytes_received, signal=signals.bytes_received)

    async def download_request(self, request: Request) -> Response:
        limit = request.meta.get("download_maxsize", self._default_maxsize)
        # [owner, limit, bytes received so far]: each scheme has its own handler instance,
        # and all of them receive every bytes_received signal.
        request.meta["_size_budget"] = [self, limit, 0] if limit else None
        agent = _ReasonKeepingAgent(
            contextFactory=self._contextFactory,
            bindAddress=self._bind_address,
            pool=self._pool,
            maxsize=0,  # enforced by _on_bytes_received, which keeps the partial body
            warnsize=self._default_warnsize,
            fail_on_dataloss=self._fail_on_dataloss,
            crawler=self._crawler,
            tls_verbose_logging=self._tls_verbose_logging,
        )
        meta_limit = request.meta.pop("download_maxsize", None)
        try:
            try:
                with wrap_twisted_exceptions():
                    response = await maybe_deferred_to_future(agent.download_request(request))
            except Exception as exc:  # any failure: what arrived is archived, then raised
                error = self._failed_exchange(request, exc)
                if error is exc:
                    raise
                raise error from None  # its own kind (crawler.failures looks at causes first)
        except CannotResolveHostError:
            host = urlparse_cached(request).hostname or ""
            if host in refusals:
                raise AddressRefusedError(refusals[host]) from None
            raise
        except ResponseDataLossError:
            if not self._fail_on_dataloss_warned:
                logger.warning(get_dataloss_msg(request.url))
                self._fail_on_dataloss_warned = True
            raise
        finally:
            if meta_limit is not None:
                request.meta["download_maxsize"] = meta_limit
        if (self._decompressing and isinstance(response, TextResponse)
                and request.method != "HEAD" and b"Content-Encoding" in response.headers):
            response = Response(**{name: getattr(response, name)
                                   for name in Response.attributes})
        if "download_stopped" in response.flags and request.meta.get("_truncated_at"):
            limit = request.meta.pop("_truncated_at")
            response = response.replace(body=response.body[:limit],
                                        flags=[*response.flags, TRUNCATED_FLAG])
        return response

    def _failed_exchange(self, request: Request, exc: Exception) -> Exception:
        """Hand what arrived of a failed response to the archive (``exchange_failed``) and
        return the exception to raise: ``exc``, or a :class:`HeaderTooLongError`."""
        wire = request.meta.pop(WIRE_META, None) or _wire_of(exc)
        if wire is None or not wire.response:
            return exc
        if wire.line_too_long:
            truncated = "length"
            exc = HeaderTooLongError(
                f"a response header line is longer than NEWSARCHIVE_MAX_HEADER_LINE "
                f"({self._max_header_line:,} bytes); archived as far as it came")
        elif isinstance(exc, TimeoutError | DownloadTimeoutError):
            truncated = "time"
        elif isinstance(exc, ResponseDataLossError) or _closed(exc):
            truncated = "disconnect"
        else:  # e.g. a header Twisted cannot parse
            truncated = "unspecified"
        self._crawler.signals.send_catch_log(na_signals.exchange_failed, request=request,
                                             wire=wire, truncated=truncated)
        return exc

    def _on_bytes_received(self, data: bytes, request: Request, spider: object) -> None:
        budget = request.meta.get("_size_budget")
        if not budget or budget[0] is not self:
            return
        budget[2] += len(data)
        if budget[2] > budget[1]:
            logger.warning("truncating %s at DOWNLOAD_MAXSIZE=%d bytes (received %d so far)",
                           request.url, budget[1], budget[2])
            request.meta["_truncated_at"] = budget[1]
            raise StopDownload(fail=False)
