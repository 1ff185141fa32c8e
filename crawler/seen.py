"""Per-site seen-URL state for incremental crawls, kept in the catalog (``seen_urls``).

Loaded once when a site's crawl starts (one query), consulted in memory for every discovered
link, and written back in batches (every ``batch_size`` changes and at the end). One site never
has two crawls at once, so the crawl's copy is the truth while it runs.

- An article already archived — by its URL or by its canonical URL — is skipped, unless the
  site's refresh policy is due: with ages ``[1h, 1d]`` an article is re-captured once when it
  is an hour old and once when it is a day old (counted in ``refreshes``). With learned ages
  (:mod:`crawler.refresh_learning`), a share of the articles (by URL hash) keeps the ages
  the site gave (``explore``), so that what the learned ones skip can still be observed.
- Hubs (and feeds and sitemaps) are refetched when their refresh interval has passed: it
  starts at the shortest of ``hub_refresh`` (bounds), halves while each fetch finds new
  articles linked, doubles while none (:func:`crawler.discovery.next_hub_interval`). Without
  bounds every hub is refetched on every run.
- Every fetch updates kind, last capture and payload digest.
- URL families a crawl found to be articles (:mod:`crawler.frontier.traps`) are remembered
  (``url_families``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from archive.catalog import Catalog
from archive.models import SeenUrl, UrlFamily, utcnow
from crawler.discovery import (
    ARTICLE,
    HUB,
    as_utc,
    next_hub_interval,
    normalize_url,
    refresh_step,
    url_hash,
)


@dataclass
class SeenEntry:
    url: str
    kind: str
    first_seen_at: datetime
    refreshes: int = 0
    canonical_url: str | None = None
    id: int | None = None
    refresh_interval: timedelta | None = None  # hubs
    next_fetch_at: datetime | None = None


class SeenUrls:
    def __init__(self, catalog: Catalog, site_id: int, refresh: Sequence[timedelta] = (),
                 batch_size: int = 200,
                 hub_refresh: tuple[timedelta, timedelta] | None = None,
                 explore: Sequence[timedelta] = (), explore_share: float = 0.0) -> None:
        self.catalog = catalog
        self.site_id = site_id
        self.refresh = sorted(refresh)
        self.explore = sorted(explore)
        self._explore_below = int(explore_share * 0x10000)  # of the URL hash's first 4 digits
        self.batch_size = batch_size
        self.hub_refresh = hub_refresh
        self.article_families: set[str] = set()
        self._new_families: set[str] = set()
        self._by_url: dict[str, SeenEntry] = {}
        self._by_canonical: dict[str, SeenEntry] = {}
        self._changes: dict[str, dict[str, Any]] = {}  # url hash → column values
        self._touched: dict[int, datetime] = {}  # skipped articles' ids → seen again at

    def load(self) -> SeenUrls:
        columns = (SeenUrl.id, SeenUrl.url, SeenUrl.url_hash, SeenUrl.canonical_url,
                   SeenUrl.canonical_hash, SeenUrl.kind, SeenUrl.first_seen_at,
                   SeenUrl.refreshes, SeenUrl.refresh_interval, SeenUrl.next_fetch_at)
        with self.catalog.session() as session:
            self.article_families = set(session.scalars(select(UrlFamily.family).where(
                UrlFamily.site_id == self.site_id, UrlFamily.kind == ARTICLE)))
            rows = session.execute(select(*columns).where(SeenUrl.site_id == self.site_id))
            for row in rows:
                entry = SeenEntry(
                    row.url, row.kind, row.first_seen_at, row.refreshes, row.canonical_url,
                    row.id, timedelta(seconds=row.refresh_interval)
                    if row.refresh_interval is not None else None,
                    as_utc(row.next_fetch_at) if row.next_fetch_at else None)
                self._by_url[row.url_hash] = entry
                if row.canonical_hash:
                    self._by_canonical[row.canonical_hash] = entry
        return self

    def __len__(self) -> int:
        return len(self._by_url)

    # -- decisions -------------------------------------------------------------------------
    def archived_article(self, url: str) -> SeenEntry | None:
        """The seen article ``url`` is (by URL or canonical URL), if any."""
        key = url_hash(url)
        entry = self._by_url.get(key) or self._by_canonical.get(key)
        return entry if entry is not None and entry.kind == ARTICLE else None

    def refresh_ages(self, url: str) -> list[timedelta]:
        """The refresh ages of an article: the explored share's, or the crawl's."""
        if self.explore and int(url_hash(url)[:4], 16) < self._explore_below:
            return self.explore
        return self.refresh

    def refresh_due(self, entry: SeenEntry, now: datetime) -> bool:
        return refresh_step(entry.first_seen_at, self.refresh_ages(entry.url),
                            now) > entry.refreshes

    def skip(self, url: str, now: datetime) -> bool:
        """Whether to leave ``url`` out of this crawl: an archived article, no refresh due."""
        entry = self.archived_article(url)
        if entry is None or self.refresh_due(entry, now):
            return False
        if entry.id is not None:
            self._touched[entry.id] = now
        return True

    def hub_due(self, url: str, now: datetime) -> bool:
        """Whether a hub, feed or sitemap is to be fetched: unknown, no interval, or its
        next fetch time has come."""
        entry = self._by_url.get(url_hash(url))
        return (self.hub_refresh is None or entry is None or entry.kind != HUB
                or entry.next_fetch_at is None or now >= entry.next_fetch_at)

    def due_refreshes(self, now: datetime) -> Iterator[str]:
        """URLs of archived articles whose next refresh age has passed."""
        if not (self.refresh or self.explore):
            return
        for entry in list(self._by_url.values()):
            if entry.kind == ARTICLE and self.refresh_due(entry, now):
                yield entry.url

    # -- updates ---------------------------------------------------------------------------
    def fetched(self, url: str, *, kind: str, canonical_url: str | None, timestamp: str,
                digest: str | None, now: datetime | None = None,
                new_articles: int | None = None) -> None:
        """Record an archived page (``timestamp``/``digest``: its capture's); a hub's
        ``new_articles`` (links to articles not archived yet) set its next fetch."""
        now = now or utcnow()
        canonical = normalize_url(canonical_url) if canonical_url else None
        key = url_hash(url)
        # The same page under another URL (its canonical one, or one with that canonical)
        # updates the entry already there.
        entry = (self._by_url.get(key) or self._by_canonical.get(key)
                 or (self._by_canonical.get(url_hash(canonical)) if canonical else None))
        if entry is None:
            entry = SeenEntry(normalize_url(url), kind, now)
            self._by_url[key] = entry
        key = url_hash(entry.url)
        entry.kind = kind
        entry.canonical_url = canonical or entry.canonical_url
        if kind == ARTICLE:
            entry.refreshes = max(entry.refreshes, refresh_step(
                entry.first_seen_at, self.refresh_ages(entry.url), now))
        if entry.canonical_url:
            self._by_canonical[url_hash(entry.canonical_url)] = entry
        if kind == HUB and new_articles is not None and self.hub_refresh is not None:
            entry.refresh_interval = next_hub_interval(entry.refresh_interval, new_articles,
                                                       self.hub_refresh)
            entry.next_fetch_at = now + entry.refresh_interval
        self._changes[key] = {
            "url": entry.url, "url_hash": key, "kind": kind,
            "canonical_url": entry.canonical_url,
            "canonical_hash": url_hash(entry.canonical_url) if entry.canonical_url else None,
            "last_seen_at": now, "last_capture": timestamp, "last_payload_digest": digest,
            "refreshes": entry.refreshes, "first_seen_at": entry.first_seen_at,
            "refresh_interval": int(entry.refresh_interval.total_seconds())
            if entry.refresh_interval is not None else None,
            "next_fetch_at": entry.next_fetch_at,
        }
        if len(self._changes) >= self.batch_size:
            self.flush()

    def families_proven(self, families: set[str]) -> None:
        """URL families found to be articles, stored at the next flush."""
        self._new_families |= families - self.article_families
        self.article_families |= families

    def flush(self) -> None:
        """Write new and changed rows: one select, one insert and one bulk update a batch."""
        changes, self._changes = self._changes, {}
        touched, self._touched = self._touched, {}
        families, self._new_families = self._new_families, set()
        if not (changes or touched or families):
            return
        with self.catalog.session() as session:
            if families:
                session.execute(UrlFamily.__table__.insert(), [
                    {"site_id": self.site_id, "family": family, "kind": ARTICLE,
                     "proven_at": utcnow()} for family in sorted(families)])
            existing = dict(session.execute(select(SeenUrl.url_hash, SeenUrl.id).where(
                SeenUrl.site_id == self.site_id,
                SeenUrl.url_hash.in_(list(changes)))).all()) if changes else {}
            new = [{**values, "site_id": self.site_id}
                   for key, values in changes.items() if key not in existing]
            if new:
                session.execute(SeenUrl.__table__.insert(), new)
            changed = [{k: v for k, v in values.items() if k != "first_seen_at"}
                       | {"id": existing[key]}
                       for key, values in changes.items() if key in existing]
            fetched_ids = set(existing.values())
            changed += [{"id": row_id, "last_seen_at": seen_at}
                        for row_id, seen_at in touched.items() if row_id not in fetched_ids]
            if changed:  # ORM bulk UPDATE by primary key
                session.execute(update(SeenUrl), changed)
