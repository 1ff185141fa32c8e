"""Every kind of failure a crawl reports, in one list, and how an exception maps to one.

Download failures are per URL: the crawl goes on, and each is listed in the job's
``failures`` and counted in ``newsarchive/errors/KIND``; what arrived of a response before it
failed is archived (``WARC-Truncated``). Archive failures stop the crawl:
what was written before stays, and the job ends ``failed`` with the kind as its reason.
"""

from __future__ import annotations

import errno

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    ResponseDataLossError,
)
from sqlalchemy.exc import SQLAlchemyError
from twisted.internet.error import DNSLookupError

from crawler.download_handler import HeaderTooLongError
from crawler.resolver import AddressRefusedError

DOWNLOAD_KINDS = {
    "refused_address": "the host is (or resolves to) an address the SSRF guard refuses",
    "dns_error": "the host name does not resolve",
    "connection_refused": "nothing listens at the address",
    "timeout": "no complete answer within NEWSARCHIVE_DOWNLOAD_TIMEOUT",
    "connection_lost": "the connection closed before a complete answer",
    "short_body": "the connection closed or was reset before the body was complete (shorter "
                  "than its Content-Length, or chunks missing); what arrived is archived",
    "header_too_long": "a response header line is longer than NEWSARCHIVE_MAX_HEADER_LINE; "
                       "what arrived is archived, truncated",
    "bad_url": "not an http(s) URL, or one that cannot be requested",
    "http_NNN": "the server answered with error status NNN (the response is archived)",
    "download_error": "any other failure to download; the message says which",
}
ARCHIVE_KINDS = {
    "disk_full": "no space left where the spool or the catalog is written",
    "storage_unwritable": "the spool (or the catalog) is read-only or not permitted",
    "write_error": "another error writing the spool",
    "catalog_unavailable": "the catalog database could not record what was written",
}

_DOWNLOAD_EXCEPTIONS: tuple[tuple[type[BaseException], str], ...] = (
    (AddressRefusedError, "refused_address"),
    (CannotResolveHostError, "dns_error"),
    (DNSLookupError, "dns_error"),
    (DownloadConnectionRefusedError, "connection_refused"),
    (DownloadTimeoutError, "timeout"),
    (TimeoutError, "timeout"),
    (HeaderTooLongError, "header_too_long"),
    (ResponseDataLossError, "short_body"),
    (DownloadFailedError, "connection_lost"),
    (ValueError, "bad_url"),  # Scrapy's Request refuses what it cannot send
)
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
_UNWRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}


def download_failure(exc: BaseException) -> tuple[str, str]:
    """The kind (a key of :data:`DOWNLOAD_KINDS`) and a message for a failed download."""
    for candidate in (exc.__cause__, exc):
        for cls, kind in _DOWNLOAD_EXCEPTIONS:
            if isinstance(candidate, cls):
                return kind, str(candidate) or DOWNLOAD_KINDS[kind]
    return "download_error", f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def http_failure(status: int) -> tuple[str, str]:
    return f"http_{status}", f"HTTP {status}"


def archive_failure(exc: BaseException) -> tuple[str, str]:
    """The kind (a key of :data:`ARCHIVE_KINDS`) and a one-line message for a failure to
    write the archive."""
    if isinstance(exc, SQLAlchemyError):
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        kind = "disk_full" if "disk is full" in detail else (
            "storage_unwritable" if "readonly" in detail or "read-only" in detail
            else "catalog_unavailable")
        return kind, f"the catalog could not record the crawl: {detail}"
    if isinstance(exc, OSError):
        kind = ("disk_full" if exc.errno in _DISK_FULL else
                "storage_unwritable" if exc.errno in _UNWRITABLE else "write_error")
        where = f": {exc.filename}" if exc.filename else ""
        return kind, f"{exc.strerror or exc}{where}"
    return "write_error", f"{type(exc).__name__}: {exc}"
