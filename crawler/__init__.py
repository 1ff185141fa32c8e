"""The newsarchive Scrapy project (spider, archiving extensions, extraction, SSRF guard)."""

import logging
import os

# Scrapy's cookie middleware builds a tldextract instance at import time, which would
# download the Public Suffix List. Use the snapshot bundled with tldextract instead: no
# surprise requests from an archiving crawler, and it works offline. Set the variable to a
# URL or file to use a fresher list.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

# charset_normalizer logs ~100 DEBUG records per detection and Scrapy leaves the root
# logger at NOTSET, so creating those records costs real crawl time.
logging.getLogger("charset_normalizer").setLevel(logging.WARNING)


class _WithoutTraceback(logging.Filter):
    """Drop the traceback of a log record and keep its one line.

    Scrapy's robots.txt middleware logs a robots.txt that cannot be fetched (a host that
    does not resolve or refuses) with the whole traceback of the download. It is an
    expected outcome on the open web, not a bug: the page's own download fails the same way
    and is recorded as a failure of the crawl."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = record.exc_text = None
        return True


logging.getLogger("scrapy.downloadermiddlewares.robotstxt").addFilter(_WithoutTraceback())
