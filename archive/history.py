"""Article histories in the catalog: the versions of each article and their changes.

An article's history is keyed by ``Article.url_key`` (:func:`article_key`: its canonical URL
when usable, else its URL, in :mod:`archive.urlkeys` form). Its versions
(``article_versions``) are the captures in which its normalised content
(:func:`archive.versions.normalise`) differs from the version before, oldest first; the
first capture makes version 1 with no changes; a capture with the same content (a revisit
has no article at all) makes none.

Two ways to write them, both within the caller's transaction:

- :func:`extend_histories` (at capture time, by :class:`archive.archiver.Archiver`): the
  articles captured after a history's latest version are compared with it, in capture order;
- :func:`rebuild_histories` (by re-extraction): the whole history is computed again from
  every article of the key and reconciled with the stored rows by version number, so a
  version that is still the same keeps its row (and id), and running it twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session, joinedload

from archive.cdxj import surt_key
from archive.models import Article, ArticleVersion, Capture
from archive.urlkeys import article_url, url_hash
from archive.versions import Content, compare, normalise


def article_key(url: str, canonical_url: str | None) -> str:
    """The ``url_key`` of an article captured at ``url`` with that canonical URL."""
    return url_hash(article_url(url, canonical_url))


@dataclass(frozen=True)
class _Version:
    """A version as computed, before it is stored."""

    capture_id: int
    article_id: int
    extractor_version: str
    content_digest: str
    changes: list[dict[str, Any]]
    significance: float
    stealth: bool


def _versions_after(previous: Content | None, articles: Sequence[Article]) -> list[_Version]:
    """The versions that ``articles`` (in capture order) make after ``previous``."""
    made = []
    for article in articles:
        content = normalise(article)
        if previous is not None and content.digest == previous.digest:
            continue
        comparison = compare(previous, content) if previous is not None else None
        made.append(_Version(
            article.capture_id, article.id, article.extractor_version, content.digest,
            comparison.changes if comparison else [],
            comparison.significance if comparison else 0.0,
            comparison.stealth if comparison else False))
        previous = content
    return made


def _articles_of(session: Session, key: str, after: Capture | None = None) -> list[Article]:
    query = (select(Article).join(Article.capture).where(Article.url_key == key)
             .order_by(Capture.timestamp, Capture.id))
    if after is not None:
        query = query.where(tuple_(Capture.timestamp, Capture.id)
                            > tuple_(after.timestamp, after.id))
    return list(session.scalars(query))


def _add(session: Session, key: str, number: int, version: _Version) -> None:
    session.add(ArticleVersion(
        url_key=key, number=number, capture_id=version.capture_id,
        article_id=version.article_id, extractor_version=version.extractor_version,
        content_digest=version.content_digest, changes=version.changes,
        significance=version.significance, stealth=version.stealth))


def extend_histories(session: Session, keys: Iterable[str | None]) -> int:
    """Add the versions made by articles captured after each history's latest version;
    returns how many were added."""
    added = 0
    for key in sorted({k for k in keys if k}):
        latest = session.scalars(
            select(ArticleVersion).where(ArticleVersion.url_key == key)
            .options(joinedload(ArticleVersion.capture), joinedload(ArticleVersion.article))
            .order_by(ArticleVersion.number.desc()).limit(1)).first()
        previous = (normalise(latest.article) if latest is not None and latest.article
                    else None)
        made = _versions_after(previous, _articles_of(
            session, key, latest.capture if latest is not None else None))
        start = latest.number if latest is not None else 0
        for offset, version in enumerate(made, 1):
            _add(session, key, start + offset, version)
        added += len(made)
    session.flush()
    return added


def rebuild_histories(session: Session, keys: Iterable[str | None]) -> int:
    """Compute each history again from all its articles and store it, keeping the rows of
    versions that did not change; returns how many rows were written or deleted."""
    written = 0
    for key in sorted({k for k in keys if k}):
        wanted = _versions_after(None, _articles_of(session, key))
        stored = {v.number: v for v in session.scalars(
            select(ArticleVersion).where(ArticleVersion.url_key == key))}
        for number, version in enumerate(wanted, 1):
            row = stored.pop(number, None)
            if row is None:
                _add(session, key, number, version)
                written += 1
                continue
            values = {"capture_id": version.capture_id, "article_id": version.article_id,
                      "extractor_version": version.extractor_version,
                      "content_digest": version.content_digest, "changes": version.changes,
                      "significance": version.significance, "stealth": version.stealth}
            if any(getattr(row, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(row, name, value)
                written += 1
        if stored:
            session.execute(delete(ArticleVersion).where(
                ArticleVersion.id.in_([row.id for row in stored.values()])))
            written += len(stored)
    session.flush()
    return written


def history_keys(session: Session, url: str) -> list[str]:
    """The history keys a URL the user gave can name: its own key and those of the
    articles captured at that URL (whose canonical URL may differ)."""
    keys = {url_hash(url)}
    keys.update(k for k in session.scalars(
        select(Article.url_key).join(Article.capture)
        .where(Capture.surt == surt_key(url), Article.url_key.is_not(None)).distinct()) if k)
    return sorted(keys)


def versions_of(session: Session, url: str) -> list[ArticleVersion]:
    """The versions of the article at ``url``, oldest first, their capture (with its WARC
    file) and article loaded. When the URL names several histories (its canonical URL
    changed), the one with the latest version."""
    keys = history_keys(session, url)
    rows = list(session.scalars(
        select(ArticleVersion).where(ArticleVersion.url_key.in_(keys))
        .options(joinedload(ArticleVersion.capture).joinedload(Capture.warc_file),
                 joinedload(ArticleVersion.article))
        .order_by(ArticleVersion.url_key, ArticleVersion.number)))
    if not rows:
        return []
    newest = max(rows, key=lambda v: (v.capture.timestamp, v.id)).url_key
    return [v for v in rows if v.url_key == newest]
