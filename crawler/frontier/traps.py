"""Crawler traps, bounded without capping real articles.

A discovered URL that is not article-shaped and belongs to a family
(:func:`crawler.discovery.trap_family`: a calendar, a paginated listing, a faceted filter)
is admitted while its family has had fewer than ``limit`` members this crawl; past that it
is held back, not dropped. Once ``PROOF`` fetched members of a family turn out to be
articles (JSON-LD, ``og:type``: :func:`crawler.discovery.page_kind`), the family is proven:
it is never capped again (this crawl, and, as the spider stores it, the site's later ones)
and the URLs held back are released. A URL whose path repeats itself is refused. Start URLs
and feed and sitemap entries never come here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from crawler.discovery import pathological_path, trap_family, url_family

PROOF = 2  # fetched articles that prove a family
HELD_PER_FAMILY = 1000  # URLs kept back per capped family, released when it is proven


class TrapGuard:
    def __init__(self, limit: int, proven: Iterable[str] = ()) -> None:
        self.limit = limit
        self.proven = set(proven)
        self.newly_proven: set[str] = set()
        self.admitted: Counter[str] = Counter()
        self.articles: Counter[str] = Counter()
        self.held: dict[str, list[Any]] = {}
        self.refused = 0  # pathological paths, and URLs past HELD_PER_FAMILY

    def admit(self, url: str, request: Any) -> bool:
        """Whether ``request`` (for ``url``, normalized: a session id is no new family) may
        be scheduled now; if not, it is refused or held back until its family is proven."""
        if pathological_path(url):
            self.refused += 1
            return False
        family = trap_family(url)
        if family is None or family in self.proven:
            return True
        if self.admitted[family] < self.limit:
            self.admitted[family] += 1
            return True
        held = self.held.setdefault(family, [])
        if len(held) < HELD_PER_FAMILY:
            held.append(request)
        else:
            self.refused += 1
        return False

    def is_proven(self, url: str) -> bool:
        family = url_family(url)
        return family is not None and family in self.proven

    def article_fetched(self, url: str) -> list[Any]:
        """An article was fetched at ``url``: the requests its family releases (when this
        proves it), else []."""
        family = url_family(url)
        if family is None or family in self.proven:
            return []
        self.articles[family] += 1
        if self.articles[family] < PROOF:
            return []
        self.proven.add(family)
        self.newly_proven.add(family)
        return self.held.pop(family, [])

    @property
    def capped(self) -> int:
        """URLs left out: refused, or held back and never released."""
        return self.refused + sum(map(len, self.held.values()))
