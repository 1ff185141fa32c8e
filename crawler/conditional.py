"""Downloader middleware: conditional re-fetches, so that an unchanged resource costs no body.

A request marked ``meta["conditional"] = True`` (page requisites, feeds, sitemaps, start
pages) is sent with ``If-None-Match`` / ``If-Modified-Since`` from the URL's latest usable
capture (:func:`archive.revalidation.latest_revalidation`), which is remembered in
``meta[REVALIDATION_META]``. A ``304 Not Modified`` answer is archived by the WarcArchiver
extension (on ``response_downloaded``, before any middleware sees it) as a server-not-modified
revisit of that capture; then this middleware hands the spider that capture instead, read
back from storage (status, headers, body decoded), with ``"not_modified"`` in
``response.flags`` and ``meta["not_modified"] = True``, so that it is parsed as if fetched.
Each is counted in ``newsarchive/not_modified``.

The catalog is read through a connection of this middleware's own, opened at the first
conditional request; a host with no capture at all costs one query for the crawl. A lookup
that fails (the catalog down or locked) sends the request unconditionally and pauses lookups
for ``PAUSE_AFTER_FAILURE`` seconds; an original that cannot be read back makes the request
go again, unconditionally. ``NEWSARCHIVE_CONDITIONAL_REQUESTS=false`` turns it off, as do
``NEWSARCHIVE_REVISITS=false`` and a crawl that archives nothing.

Its priority (650) puts its ``process_response`` after the cookies middleware's (the 304's
cookies are taken, the original's are not replayed into the crawl) and before the meta
refresh and redirect middlewares', which then see the original as they would a fetch.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from time import monotonic
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.http import Headers
from scrapy.responsetypes import responsetypes
from scrapy.utils.defer import maybe_deferred_to_future
from sqlalchemy import Connection, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload
from twisted.internet.threads import deferToThread

from archive.catalog import Catalog, CatalogError
from archive.cdxj import surt_key
from archive.encoding import UndecodableBody
from archive.models import Capture
from archive.replay import open_response
from archive.revalidation import NOT_MODIFIED, Revalidation, host_archived, latest_revalidation
from archive.snapshot import SnapshotNotFound
from archive.storage import Storage, StorageError
from crawler.config import archive_settings

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from archive.config import ArchiveSettings

logger = logging.getLogger(__name__)

CONDITIONAL_META = "conditional"  # set by the spider: revalidate this URL's last capture
REVALIDATION_META = "newsarchive_revalidation"  # the Revalidation sent, for the archiver
NOT_MODIFIED_META = "not_modified"  # set on a response that is the original of a 304
NOT_MODIFIED_FLAG = "not_modified"
CONDITIONAL_HEADERS = (b"If-None-Match", b"If-Modified-Since")
PAUSE_AFTER_FAILURE = 30.0  # seconds without lookups after one failed
# not replayed into the spider's response: the body given is decoded and complete
_DROPPED = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class ConditionalRequests:
    def __init__(self, crawler: Crawler, config: ArchiveSettings) -> None:
        self.stats = crawler.stats
        self.config = config
        self._catalog: Catalog | None = None
        self._lookups: Connection | None = None
        self._storage: Storage | None = None
        self._hosts_archived: dict[str, bool] = {}  # SURT host → any capture at all
        self._paused_until = 0.0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        if not (settings.getbool("NEWSARCHIVE_CONDITIONAL_REQUESTS")
                and settings.getbool("NEWSARCHIVE_REVISITS")
                and settings.getbool("NEWSARCHIVE_ARCHIVE")):
            raise NotConfigured
        middleware = cls(crawler, archive_settings(settings))
        crawler.signals.connect(middleware.engine_stopped, signal=signals.engine_stopped)
        return middleware

    # -- before the download ------------------------------------------------------------
    def process_request(self, request: Request) -> None:
        # A redirect or a retry copies headers and meta: the validators sent are always
        # those of this request's own URL, looked up again.
        if request.meta.pop(REVALIDATION_META, None) is not None:
            for name in CONDITIONAL_HEADERS:
                request.headers.pop(name, None)
        if not request.meta.get(CONDITIONAL_META):
            return
        revalidation = self._lookup(request.url)
        if revalidation is None:
            return
        for name, value in revalidation.request_headers().items():
            request.headers[name] = value
        request.meta[REVALIDATION_META] = revalidation

    def _lookup(self, url: str) -> Revalidation | None:
        if monotonic() < self._paused_until:
            return None
        key = surt_key(url)
        host = key.split(")/", 1)[0]
        try:
            lookups = self._connection()
            if host not in self._hosts_archived:
                self._hosts_archived[host] = host_archived(lookups, key)
            if not self._hosts_archived[host]:
                return None
            return latest_revalidation(lookups, url)
        except (SQLAlchemyError, CatalogError) as exc:
            # fetching the whole body loses nothing; the archiver judges the catalog
            self.stats.inc_value("newsarchive/conditional_lookup_failures")
            logger.warning("conditional request lookup failed, fetching %s unconditionally "
                           "(no lookups for %g s): %s", url, PAUSE_AFTER_FAILURE, exc)
            self._close_lookups()
            self._paused_until = monotonic() + PAUSE_AFTER_FAILURE
            return None

    def _connection(self) -> Connection:
        if self._catalog is None:
            self._catalog = Catalog(self.config.database_url)
        if self._lookups is None:  # autocommit: no snapshot held between lookups
            self._lookups = self._catalog.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT")
        return self._lookups

    # -- after it -------------------------------------------------------------------------
    async def process_response(self, request: Request, response: Response) -> Request | Response:
        revalidation: Revalidation | None = request.meta.get(REVALIDATION_META)
        if revalidation is None or response.status != NOT_MODIFIED:
            return response
        try:
            catalog = self._catalog or Catalog(self.config.database_url)
            self._catalog = catalog
            if self._storage is None:
                self._storage = self.config.open_storage(catalog)
            # a ranged read (from S3 maybe) and a decoding: off the reactor's thread
            original = await maybe_deferred_to_future(deferToThread(
                self._read_original, catalog, self._storage, revalidation, request, response))
        except (StorageError, SQLAlchemyError, CatalogError, SnapshotNotFound,
                UndecodableBody) as exc:
            self.stats.inc_value("newsarchive/not_modified_unreadable")
            logger.warning("%s: 304 Not Modified, but its archived original %s cannot be "
                           "read (%s); fetching it again unconditionally", request.url,
                           revalidation.original.record_id, exc)
            meta = {k: v for k, v in request.meta.items()
                    if k not in (CONDITIONAL_META, REVALIDATION_META)}
            again = request.replace(meta=meta, dont_filter=True)
            for name in CONDITIONAL_HEADERS:
                again.headers.pop(name, None)
            return again
        request.meta[NOT_MODIFIED_META] = True
        self.stats.inc_value("newsarchive/not_modified")
        return original

    def _read_original(self, catalog: Catalog, storage: Storage, revalidation: Revalidation,
                       request: Request, response: Response) -> Response:
        """The archived original of a 304 as a Scrapy response (in a worker thread)."""
        with catalog.session() as session:
            capture = session.scalars(
                select(Capture).where(Capture.record_id == revalidation.original.record_id)
                .options(joinedload(Capture.warc_file))).first()
            if capture is None:
                raise SnapshotNotFound(f"no capture with the record id "
                                       f"{revalidation.original.record_id}")
            archived = open_response(session, capture, storage, self.config.spool_dir)
        body = archived.decoded()
        headers = Headers()
        for name, value in archived.archived_headers:
            if name.lower() not in _DROPPED:
                headers.appendlist(name, value)
        kind: Any = responsetypes.from_args(headers=headers, url=request.url, body=body)
        return kind(url=request.url, status=archived.status, headers=headers, body=body,
                    flags=[*response.flags, NOT_MODIFIED_FLAG], request=request,
                    certificate=response.certificate, ip_address=response.ip_address,
                    protocol=response.protocol)

    def engine_stopped(self) -> None:
        self._close_lookups()
        if self._catalog is not None:
            self._catalog.dispose()

    def _close_lookups(self) -> None:
        if self._lookups is not None:
            with suppress(SQLAlchemyError):  # a broken connection closes as far as it can
                self._lookups.close()
            self._lookups = None
