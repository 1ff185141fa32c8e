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
