"""HTTP/1.1 download handler that keeps what an archive needs and Scrapy normally drops.

* The reason phrase of the status line (``200 OK``, ``418 I'm a teapot``) is kept in
  ``request.meta["http_reason"]``; Scrapy's Response has only the numeric status.
* A body over ``DOWNLOAD_MAXSIZE`` is cut at the limit and still delivered, flagged
  ``truncated``, so the archive records it with ``WARC-Truncated: length`` instead of losing
  the exchange. Scrapy's own limit would cancel the download.

Built on Scrapy's ``HTTP11DownloadHandler``; only the agent construction differs.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy import Request, signals
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler, _ScrapyAgent
from scrapy.exceptions import CannotResolveHostError, ResponseDataLossError, StopDownload
from scrapy.utils._download_handlers import get_dataloss_msg, wrap_twisted_exceptions
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached

from crawler.resolver import AddressRefusedError, refusals

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.web.client import Response as TxResponse

logger = logging.getLogger(__name__)

TRUNCATED_FLAG = "truncated"


class _ReasonKeepingAgent(_ScrapyAgent):
    def _cb_bodyready(self, txresponse: TxResponse, request: Request):  # type: ignore[override]
        phrase = txresponse.phrase
        request.meta["http_reason"] = phrase.decode("latin-1") if phrase else ""
        return super()._cb_bodyready(txresponse, request)


class ArchivalDownloadHandler(HTTP11DownloadHandler):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
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
            with wrap_twisted_exceptions():
                response = await maybe_deferred_to_future(agent.download_request(request))
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
        if "download_stopped" in response.flags and request.meta.get("_truncated_at"):
            limit = request.meta.pop("_truncated_at")
            response = response.replace(body=response.body[:limit],
                                        flags=[*response.flags, TRUNCATED_FLAG])
        return response

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
