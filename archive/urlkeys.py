"""URL keys: the one form in which URLs are compared, by the crawler (seen URLs, the
frontier) and by the catalog (which captures are one article, see :mod:`archive.history`).

:func:`normalize_url` is the w3lib canonical form without tracking parameters and session
ids; :func:`url_hash` its SHA-1, the key of indexed columns whatever the URL's length.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit

from w3lib.url import canonicalize_url, url_query_cleaner

TRACKING_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
                   "utm_id", "fbclid", "gclid", "mc_cid", "mc_eid", "ocid", "cmpid")
# Session ids servers put in links, which make one page look like many. As Heritrix's
# StripSessionIDs canonicalization rule, a parameter is dropped only when both its name and
# its value look like a session id (a ?sid=12 section id stays).
_SESSION_PARAM = re.compile(
    r"(?:(?<=[?&;])|^)(?:jsessionid|phpsessid|aspsessionid[a-z]*|sid|sessionid|session_id|"
    r"session|zenid|oscsid)=[0-9a-z_-]{16,}(?:&|$)", re.IGNORECASE)
_PATH_SESSION = re.compile(r";(?:jsessionid|phpsessid|sid)=[^/?#]*", re.IGNORECASE)


def normalize_url(url: str) -> str:
    """The form URLs are compared in: w3lib canonical form without tracking parameters and
    session ids (query parameters, and ``;jsessionid=`` path parameters)."""
    if ";" in url:
        url = _PATH_SESSION.sub("", url)
    if "?" in url:
        base, _, query = url.partition("?")
        query = query.partition("#")[0]
        while (match := _SESSION_PARAM.search(query)) is not None:
            query = query[:match.start()] + query[match.end():]
        url = f"{base}?{query.rstrip('&')}" if query.strip("&") else base
    return canonicalize_url(url_query_cleaner(url, TRACKING_PARAMS, remove=True,
                                              keep_fragments=False))


def url_hash(url: str) -> str:
    """SHA-1 (hex) of the normalized URL: the key of ``seen_urls`` and of article histories."""
    return hashlib.sha1(normalize_url(url).encode("utf-8")).hexdigest()


def article_url(url: str, canonical_url: str | None) -> str:
    """The URL an article's history is kept under: its ``<link rel="canonical">`` when that
    names a page of the same host (``www.`` aside) other than the home page, else the URL it
    was captured at. A canonical pointing elsewhere or at the front page (a common template
    mistake) would merge unrelated articles."""
    if canonical_url:
        page, canonical = urlsplit(url), urlsplit(canonical_url)
        if (canonical.scheme in ("http", "https")
                and _bare_host(canonical.hostname) == _bare_host(page.hostname)
                and canonical.path.strip("/")):
            return normalize_url(canonical_url)
    return normalize_url(url)


def _bare_host(host: str | None) -> str:
    host = (host or "").lower()
    return host[4:] if host.startswith("www.") else host
