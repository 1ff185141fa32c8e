"""Which links a crawl follows: those on its sites (the hosts of its start URLs, feeds and
sitemaps, ``www.`` ignored, and of the entries its feeds and sitemaps list), that match one
of the ``allow`` patterns when there are any, and none of the ``deny`` patterns."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit


def site_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


class SiteScope:
    def __init__(self, seeds: Iterable[str] = (), allow: Iterable[str] = (),
                 deny: Iterable[str] = ()) -> None:
        self.sites = {site_of(url) for url in seeds}
        self.allow = [re.compile(pattern) for pattern in allow]
        self.deny = [re.compile(pattern) for pattern in deny]

    def add(self, url: str) -> None:
        """A feed or sitemap entry's site becomes one of the crawl's."""
        self.sites.add(site_of(url))

    def on_site(self, url: str) -> bool:
        return site_of(url) in self.sites

    def follows(self, url: str) -> bool:
        if site_of(url) not in self.sites:
            return False
        if self.allow and not any(p.search(url) for p in self.allow):
            return False
        return not any(p.search(url) for p in self.deny)
