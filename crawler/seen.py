"""Per-site seen-URL state for incremental crawls, kept in the catalog (``seen_urls``).

Loaded once when a site's crawl starts (one query), consulted in memory for every discovered
link, and written back in batches (every ``batch_size`` changes and at the end). One site never
has two crawls at once, so the crawl's copy is the truth while it runs.

- An article already archived — by its URL or by its canonical URL — is skipped, unless the
  site's refresh policy is due: with ages ``[1h, 1d]`` an article is re-captured once when it
  is an hour old and once when it is a day old (counted in ``refreshes``).
- Hubs are never skipped; every fetch updates kind, last capture and payload digest.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from archive.catalog import Catalog
from archive.models import SeenUrl, utcnow
from crawler.discovery import ARTICLE, normalize_url, refresh_step, url_hash


@dataclass
class SeenEntry:
    url: str
    kind: str
    first_seen_at: datetime
    refreshes: int = 0
    canonical_url: str | None = None
    id: int | None = None


class SeenUrls:
    def __init__(self, catalog: Catalog, site_id: int, refresh: Sequence[timedelta] = (),
                 batch_size: int = 200) -> None:
        self.catalog = catalog
        self.site_id = site_id
        self.refresh = sorted(refresh)
        self.batch_size = batch_size
        self._by_url: dict[str, SeenEntry] = {}
        self._by_canonical: dict[str, SeenEntry] = {}
        self._changes: dict[str, dict[str, Any]] = {}  # url hash → column values
        self._touched: dict[int, datetime] = {}  # skipped articles' ids → seen again at

    def load(self) -> SeenUrls:
        columns = (SeenUrl.id, SeenUrl.url, SeenUrl.url_hash, SeenUrl.canonical_url,
                   SeenUrl.canonical_hash, SeenUrl.kind, SeenUrl.first_seen_at,
                   SeenUrl.refreshes)
        with self.catalog.session() as session:
            rows = session.execute(select(*columns).where(SeenUrl.site_id == self.site_id))
            for row in rows:
                entry = SeenEntry(row.url, row.kind, row.first_seen_at, row.refreshes,
                                  row.canonical_url, row.id)
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

    def refresh_due(self, entry: SeenEntry, now: datetime) -> bool:
        return refresh_step(entry.first_seen_at, self.refresh, now) > entry.refreshes

    def skip(self, url: str, now: datetime) -> bool:
        """Whether to leave ``url`` out of this crawl: an archived article, no refresh due."""
        entry = self.archived_article(url)
        if entry is None or self.refresh_due(entry, now):
            return False
        if entry.id is not None:
            self._touched[entry.id] = now
        return True

    def due_refreshes(self, now: datetime) -> Iterator[str]:
        """URLs of archived articles whose next refresh age has passed."""
        if not self.refresh:
            return
        for entry in list(self._by_url.values()):
            if entry.kind == ARTICLE and self.refresh_due(entry, now):
                yield entry.url

    # -- updates ---------------------------------------------------------------------------
    def fetched(self, url: str, *, kind: str, canonical_url: str | None, timestamp: str,
                digest: str | None, now: datetime | None = None) -> None:
        """Record an archived page (``timestamp``/``digest``: its capture's)."""
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
            entry.refreshes = max(entry.refreshes,
                                  refresh_step(entry.first_seen_at, self.refresh, now))
        if entry.canonical_url:
            self._by_canonical[url_hash(entry.canonical_url)] = entry
        self._changes[key] = {
            "url": entry.url, "url_hash": key, "kind": kind,
            "canonical_url": entry.canonical_url,
            "canonical_hash": url_hash(entry.canonical_url) if entry.canonical_url else None,
            "last_seen_at": now, "last_capture": timestamp, "last_payload_digest": digest,
            "refreshes": entry.refreshes, "first_seen_at": entry.first_seen_at,
        }
        if len(self._changes) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Write new and changed rows: one select, one insert and one bulk update a batch."""
        changes, self._changes = self._changes, {}
        touched, self._touched = self._touched, {}
        if not (changes or touched):
            return
        with self.catalog.session() as session:
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
