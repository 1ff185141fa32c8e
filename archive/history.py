"""Article histories in the catalog: the versions of each article and their changes.

An article's history is keyed by ``Article.url_key`` (:func:`article_key`: its canonical URL
when usable, else its URL, in :mod:`archive.urlkeys` form). Its versions
(``article_versions``) are the captures in which its normalised content
(:func:`archive.versions.normalise`) differs from the version before, oldest first; the
first capture makes version 1 with no changes; a capture with the same content (a revisit
has no article at all) makes none.

Two ways to write them, both within the caller's transaction:

- :func:`extend_histories` (at capture time, by :class:`archive.archiver.Archiver` through
  :func:`record_captures`, which takes a batch's captures in capture order): the
  articles just captured (those after their history's latest version) are compared with it,
  in capture order;
- :func:`record_unpublished` (at capture time): a 404/410 or a redirect to a hub where an
  article with versions was makes an ``unpublished`` version (significance 1); an article
  that comes back after it is a new version even if it says the same;
- :func:`rebuild_histories` (by re-extraction): the whole history is computed again from
  every article of the key (and the ``unpublished`` versions recorded) and reconciled with
  the stored rows by capture, so a capture that is still a version keeps its row (its id
  and webhook delivery), and running it twice changes nothing.

An article read by another extractor than the version before it (the extractor was
upgraded) makes a version with one ``extractor`` change and nothing else named
(:func:`_versions_after`): it is left out of the change listing unless asked for by kind,
and of webhooks and edit statistics.

At capture time (the first two), the changes a site's webhook wants are queued in the same
transaction (:func:`archive.webhook_outbox.enqueue_changes`); re-extraction queues none.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Text, and_, cast, delete, func, select, tuple_
from sqlalchemy.orm import Session, joinedload

from archive.cdxj import surt_key
from archive.models import MAX_ID, Article, ArticleVersion, Capture, CrawlJob, Site
from archive.snapshot import normalize_timestamp
from archive.urlkeys import article_url, url_hash
from archive.versions import (
    CHANGE_KINDS,
    EXTRACTOR,
    Content,
    clean,
    compare,
    normalise,
    reread,
)
from archive.webhook_outbox import enqueue_changes


def article_key(url: str, canonical_url: str | None) -> str:
    """The ``url_key`` of an article captured at ``url`` with that canonical URL."""
    return url_hash(article_url(url, canonical_url))


@dataclass(frozen=True)
class _Version:
    """A version as computed, before it is stored."""

    capture_id: int
    article_id: int | None
    extractor_version: str | None
    content_digest: str | None
    changes: list[dict[str, Any]]
    significance: float
    stealth: bool


UNPUBLISHED_SIGNIFICANCE = 1.0


def _versions_after(previous: Content | None, readers: Sequence[str | None],
                    events: Sequence[Article | ArticleVersion], gone: bool = False,
                    ) -> list[_Version]:
    """The versions that ``events`` (in capture order: articles, and the ``unpublished``
    versions already recorded) make after ``previous`` (``readers``: the extractors that read
    it as it is, the last one last; ``gone``: the latest version is an ``unpublished`` one,
    so the next article is a version even if it says the same).

    An article read by an extractor not among ``readers`` that reads differently is a
    version whose only change is :func:`archive.versions.reread` (significance 0, not
    stealth): two extractors' readings differ by what the newer one finds (a co-author, a
    cleaner byline) as much as by the outlet's edits, and naming those as edits would
    report every article again after each extractor upgrade. That version is the baseline
    the next captures are compared with; re-extraction (:func:`rebuild_histories`) reads
    the older captures with one extractor and names what really changed."""
    made = []
    readers = list(readers)
    for event in events:
        if isinstance(event, ArticleVersion):  # unpublished: kept as it was recorded
            if not gone:
                made.append(_Version(event.capture_id, None, None, None, event.changes,
                                     event.significance, event.stealth))
                gone = True
            continue
        content = normalise(event)
        if previous is not None and content.digest == previous.digest and not gone:
            _read_alike(readers, event.extractor_version)
            continue
        if previous is None:
            changes, significance, stealth = [], 0.0, False
        elif event.extractor_version not in readers and content.digest != previous.digest:
            changes = [reread(readers[-1] if readers else None, event.extractor_version)]
            significance, stealth = 0.0, False
        else:
            comparison = compare(previous, content)
            changes = comparison.changes
            significance, stealth = comparison.significance, comparison.stealth
        made.append(_Version(event.capture_id, event.id, event.extractor_version,
                             content.digest, changes, significance, stealth))
        previous, readers, gone = content, [event.extractor_version], False
    return made


def _read_alike(readers: list[str | None], extractor: str | None) -> None:
    """``extractor`` read the version as it is: one of ``readers``, and the last."""
    if extractor in readers:
        readers.remove(extractor)
    readers.append(extractor)


def _events_of(session: Session, key: str) -> list[Article | ArticleVersion]:
    """The key's articles and recorded ``unpublished`` versions, in capture order; an article
    of a capture that made an ``unpublished`` version is left out."""
    articles = session.execute(
        select(Article, Capture.timestamp, Capture.id).join(Article.capture)
        .where(Article.url_key == key)).all()
    gone = session.execute(
        select(ArticleVersion, Capture.timestamp, Capture.id).join(ArticleVersion.capture)
        .where(ArticleVersion.url_key == key, ArticleVersion.article_id.is_(None))).all()
    unpublishing = {row[2] for row in gone}  # a soft 404 that re-extraction read an article in
    return [row[0] for row in sorted([*(a for a in articles if a[2] not in unpublishing), *gone],
                                     key=lambda row: (row[1], row[2]))]


def _base(session: Session, latest: ArticleVersion | None) -> ArticleVersion | None:
    """The latest version that has an article (the one before an ``unpublished`` latest
    version), its article and capture loaded; what a new article is compared with."""
    if latest is None or latest.article_id is not None:
        return latest
    return session.scalars(
        select(ArticleVersion).where(ArticleVersion.url_key == latest.url_key,
                                     ArticleVersion.number < latest.number,
                                     ArticleVersion.article_id.is_not(None))
        .options(joinedload(ArticleVersion.article), joinedload(ArticleVersion.capture))
        .order_by(ArticleVersion.number.desc()).limit(1)).first()


def _last_reader(session: Session, base: ArticleVersion, until: tuple[str, int],
                 by: str | None = None) -> str | None:
    """The extractor of the history's newest article (read ``by`` that extractor, when
    given) captured after ``base`` and before ``until`` (timestamp, capture id), if it read
    ``base``'s content as it is (a capture of an earlier batch that made no version)."""
    query = (select(Article).join(Article.capture)
             .where(Article.url_key == base.url_key,
                    tuple_(Capture.timestamp, Capture.id)
                    > tuple_(base.capture.timestamp, base.capture_id),
                    tuple_(Capture.timestamp, Capture.id) < tuple_(*until)))
    if by is not None:
        query = query.where(Article.extractor_version == by)
    between = session.scalars(
        query.order_by(Capture.timestamp.desc(), Capture.id.desc()).limit(1)).first()
    if between is not None and normalise(between).digest == base.content_digest:
        return between.extractor_version
    return None


def _add(session: Session, key: str, number: int, version: _Version) -> ArticleVersion:
    row = ArticleVersion(
        url_key=key, number=number, capture_id=version.capture_id,
        article_id=version.article_id, extractor_version=version.extractor_version,
        content_digest=version.content_digest, changes=version.changes,
        significance=version.significance, stealth=version.stealth)
    session.add(row)
    return row


def _latest(session: Session, key: str) -> ArticleVersion | None:
    return session.scalars(
        select(ArticleVersion).where(ArticleVersion.url_key == key)
        .options(joinedload(ArticleVersion.capture), joinedload(ArticleVersion.article))
        .order_by(ArticleVersion.number.desc()).limit(1)).first()


def _latest_versions(session: Session, keys: Collection[str]) -> dict[str, ArticleVersion]:
    """The latest version of each history of ``keys`` (its capture loaded), in one query."""
    if not keys:
        return {}
    numbers = (select(ArticleVersion.url_key, func.max(ArticleVersion.number).label("number"))
               .where(ArticleVersion.url_key.in_(keys)).group_by(ArticleVersion.url_key)
               .subquery())
    return {v.url_key: v for v in session.scalars(
        select(ArticleVersion).join(numbers, and_(
            ArticleVersion.url_key == numbers.c.url_key,
            ArticleVersion.number == numbers.c.number))
        .options(joinedload(ArticleVersion.capture)))}


def extend_histories(session: Session, capture_ids: Iterable[int]) -> int:
    """Add the versions made by the articles of ``capture_ids`` (captured just now), each
    history's in capture order after its latest version (and their webhook deliveries);
    returns how many were added.

    Only these articles are read, not every capture since the latest version: an article
    captured unchanged a hundred times costs one comparison a capture, not a hundred. An
    article that says what the latest version says is recognised by the stored digest
    alone; the latest version's article is read only when something changed (and, when
    another extractor read the change, whether it read the version alike before). An article
    captured before its history's latest version (a concurrent crawl's newer capture was
    recorded first) is left out; re-extraction (:func:`rebuild_histories`) places it."""
    rows = session.execute(
        select(Article, Capture.timestamp).join(Article.capture)
        .where(Article.capture_id.in_(set(capture_ids)), Article.url_key.is_not(None))
    ).all()
    by_key: dict[str, list[tuple[str, Article]]] = {}
    for article, timestamp in rows:
        by_key.setdefault(article.url_key, []).append((timestamp, article))
    latest_of = _latest_versions(session, by_key.keys())
    added: list[ArticleVersion] = []
    for key in sorted(by_key):
        latest = latest_of.get(key)
        after = (latest.capture.timestamp, latest.capture_id) if latest else None
        timed = [(ts, a) for ts, a in sorted(by_key[key], key=lambda r: (r[0], r[1].capture_id))
                 if after is None or (ts, a.capture_id) > after]
        alike = []  # extractors of this batch's articles that say what the latest version says
        if latest is not None and latest.article_id is not None:
            while timed and normalise(timed[0][1]).digest == latest.content_digest:
                alike.append(timed.pop(0)[1].extractor_version)
        if not timed:
            continue
        base = _base(session, latest)
        previous = normalise(base.article) if base is not None and base.article else None
        readers = [base.article.extractor_version] if previous is not None else []
        first_stamp, first = timed[0]
        if (base is not None and latest is not None and previous is not None
                and first.extractor_version not in readers + alike):
            # Did earlier batches read the version alike, by this extractor or the last one?
            until = ((first_stamp, first.capture_id) if latest.article_id is not None
                     else (latest.capture.timestamp, latest.capture_id))  # the unpublishing
            last = _last_reader(session, base, until)
            if last is not None and last not in readers:
                readers.append(last)
            if (first.extractor_version != last and _last_reader(
                    session, base, until, by=first.extractor_version) is not None):
                readers.insert(0, first.extractor_version)  # not the last: `before` stays
        for extractor in alike:
            _read_alike(readers, extractor)
        made = _versions_after(previous, readers, [a for _, a in timed],
                               gone=latest is not None and latest.article_id is None)
        start = latest.number if latest is not None else 0
        added.extend(_add(session, key, start + offset, version)
                     for offset, version in enumerate(made, 1))
    enqueue_changes(session, added)
    session.flush()
    return len(added)


def record_unpublished(session: Session, captures: Iterable[tuple[int, str, str, int]]) -> int:
    """Record an ``unpublished`` version for each capture (``(capture_id, url, timestamp,
    status)``: a 404/410, a redirect to a hub, or a soft 404: an error page served with
    status 200, marked ``"soft_404": true``) of a URL whose article has versions and whose
    latest version is not already ``unpublished`` (and its webhook delivery); returns how
    many were added."""
    added: list[ArticleVersion] = []
    for capture_id, url, timestamp, status in captures:
        for key in history_keys(session, url):
            latest = _latest(session, key)
            if (latest is None or latest.article_id is None
                    or (latest.capture.timestamp, latest.capture_id) > (timestamp, capture_id)):
                continue
            change: dict[str, Any] = {"kind": "unpublished", "status": status}
            if status == 200:
                change["soft_404"] = True
            added.append(_add(session, key, latest.number + 1, _Version(
                capture_id, None, None, None, [change], UNPUBLISHED_SIGNIFICANCE, False)))
    enqueue_changes(session, added)
    session.flush()
    return len(added)


def record_captures(session: Session, article_captures: Iterable[int],
                    gone: Sequence[tuple[int, str, str, int]]) -> int:
    """The versions a batch of captures makes, in capture order: the articles of
    ``article_captures`` (:func:`extend_histories`) and the captures that may unpublish one
    (``gone``, as :func:`record_unpublished` takes them); returns how many were added. In
    capture order, an edit captured before a 404 of the same batch is a version before the
    ``unpublished`` one, and an article back after a 404 is a version after it."""
    article_ids = set(article_captures)
    if not gone:
        return extend_histories(session, article_ids)
    if not article_ids:
        return record_unpublished(session, gone)
    stamps = dict(session.execute(select(Capture.id, Capture.timestamp)
                                  .where(Capture.id.in_(article_ids))).all())
    events = sorted([(stamps[i], i, None) for i in article_ids]
                    + [(g[2], g[0], g) for g in gone], key=lambda e: (e[0], e[1]))
    added = 0
    for is_gone, run in itertools.groupby(events, key=lambda e: e[2] is not None):
        taken = list(run)
        added += (record_unpublished(session, [e[2] for e in taken if e[2]]) if is_gone
                  else extend_histories(session, [e[1] for e in taken]))
    return added


def rebuild_histories(session: Session, keys: Iterable[str | None]) -> int:
    """Compute each history again from all its articles and store it; returns how many rows
    were written or deleted.

    Stored rows are matched to the computed versions by capture: a capture that is still a
    version keeps its row (its id, and the webhook delivery that points at it), renumbered
    when versions before it came or went (an ``extractor`` version that re-extraction
    dissolves); rows of captures that are no longer versions are deleted."""
    written = 0
    for key in sorted({k for k in keys if k}):
        wanted = _versions_after(None, [], _events_of(session, key))
        stored = list(session.scalars(
            select(ArticleVersion).where(ArticleVersion.url_key == key)
            .order_by(ArticleVersion.number)))
        row_of = {row.capture_id: row for row in reversed(stored)}  # the first if doubled
        wanted_captures = {version.capture_id for version in wanted}
        dropped = [row for row in stored
                   if row.capture_id not in wanted_captures or row_of[row.capture_id] is not row]
        if dropped:
            session.execute(delete(ArticleVersion).where(
                ArticleVersion.id.in_([row.id for row in dropped])))
            written += len(dropped)
        moving = [row for number, version in enumerate(wanted, 1)
                  if (row := row_of.get(version.capture_id)) is not None and row.number != number]
        for row in moving:  # out of the way of the (url_key, number) unique key first
            row.number = -row.number
        session.flush()
        for number, version in enumerate(wanted, 1):
            row = row_of.get(version.capture_id)
            if row is None:
                _add(session, key, number, version)
                written += 1
                continue
            values = {"number": number, "article_id": version.article_id,
                      "extractor_version": version.extractor_version,
                      "content_digest": version.content_digest, "changes": version.changes,
                      "significance": version.significance, "stealth": version.stealth}
            if any(getattr(row, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(row, name, value)
                written += 1
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


# -- reading ------------------------------------------------------------------------------
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TIMESTAMP = re.compile(r"\d{14}")


class VersionNotFound(LookupError):
    """No version (or article) with that id."""


class ChangesError(ValueError):
    """Bad input to :func:`list_changes`; the message names the parameter and the fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class ChangesPage:
    items: list[tuple[ArticleVersion, str | None]]  # a version and its capturing site's name
    next_cursor: str | None


def _loaded() -> Select[Any]:
    return select(ArticleVersion).options(
        joinedload(ArticleVersion.capture).joinedload(Capture.warc_file),
        joinedload(ArticleVersion.article))


def content_of(version: ArticleVersion | None) -> Content:
    """What a version says, to diff it (its article loaded); empty for an ``unpublished``
    version (the article is gone) or none at all (before the first)."""
    if version is None or version.article is None:
        return Content("", (), None, None, ())
    return normalise(version.article)


def readers(old: ArticleVersion, new: ArticleVersion) -> tuple[str, str] | None:
    """The extractor versions that read two versions' articles, when they differ (a diff
    of the two then shows the newer extractor's reading as well as the outlet's edits);
    None when one extractor read both, or one of them has no article."""
    if old.article is None or new.article is None:
        return None
    pair = (old.article.extractor_version, new.article.extractor_version)
    return pair if pair[0] != pair[1] else None


@dataclass(frozen=True)
class HeadlineRun:
    """A headline and the versions it ran from (``first``) to (``last``), in a history."""

    title: str
    first: ArticleVersion
    last: ArticleVersion


def headline_history(versions: Sequence[ArticleVersion]) -> list[HeadlineRun]:
    """The headlines of a history (oldest first) in the order they ran; ``unpublished``
    versions have none and do not end a run, a headline that comes back starts a new one."""
    runs: list[HeadlineRun] = []
    for version in versions:
        if version.article is None:
            continue
        title = clean(version.article.title)
        if runs and runs[-1].title == title:
            runs[-1] = HeadlineRun(title, runs[-1].first, version)
        else:
            runs.append(HeadlineRun(title, version, version))
    return runs


def versions_of_article(session: Session, article_id: int) -> list[ArticleVersion]:
    """The versions of the history the article belongs to, oldest first (empty when its
    history has not been built: an article from before migration 0012 not yet re-extracted);
    :class:`VersionNotFound` if there is no such article."""
    article = session.get(Article, article_id)
    if article is None:
        raise VersionNotFound(f"no article with id {article_id}")
    if article.url_key is None:
        return []
    return list(session.scalars(_loaded().where(ArticleVersion.url_key == article.url_key)
                                .order_by(ArticleVersion.number)))


def version_and_previous(session: Session, version_id: int,
                         ) -> tuple[ArticleVersion, ArticleVersion | None]:
    """A version and the one before it (None for a first version)."""
    version = session.scalars(_loaded().where(ArticleVersion.id == version_id)).first()
    if version is None:
        raise VersionNotFound(f"no version with id {version_id}")
    previous = session.scalars(_loaded().where(
        ArticleVersion.url_key == version.url_key,
        ArticleVersion.number == version.number - 1)).first()
    return version, previous


def list_changes(session: Session, *, site: str | None = None, kind: str | None = None,
                 since: str | None = None, min_significance: float | None = None,
                 stealth: bool | None = None, limit: int = DEFAULT_LIMIT,
                 cursor: str | None = None) -> ChangesPage:
    """Versions after the first (changes), newest capture first, keyset-paged; those made by
    another extractor's reading only when ``kind`` asks for them.

    ``kind``: one of :data:`archive.versions.CHANGE_KINDS` among the version's changes;
    ``since``: captured at or after (1-14 digits or ISO 8601); ``site``: the configured site
    whose crawl captured it. Raises :class:`ChangesError` for bad input.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ChangesError("limit", f"{limit} is out of range; ask for 1 to {MAX_LIMIT} "
                           "and follow next_cursor for more")
    query = (_loaded().add_columns(Site.name)
             .join(ArticleVersion.capture)
             .outerjoin(CrawlJob, CrawlJob.id == Capture.job_id)
             .outerjoin(Site, Site.id == CrawlJob.site_id)
             .where(ArticleVersion.number > 1)
             .order_by(Capture.timestamp.desc(), ArticleVersion.id.desc())
             .limit(limit + 1))
    site = _CONTROL.sub("", site).strip() if site else None  # NUL breaks PostgreSQL text
    if site:
        query = query.where(Site.name == site)
    if kind and kind not in CHANGE_KINDS:
        raise ChangesError("kind", f"{kind!r} is not a kind of change; use one of "
                           + ", ".join(CHANGE_KINDS))
    # The stored JSON as SQLAlchemy writes it ("kind": "x"), on SQLite and PostgreSQL alike;
    # a quote inside a value is escaped, so only a kind matches.
    changes = cast(ArticleVersion.changes, Text)
    if kind:
        query = query.where(changes.contains(f'"kind": "{kind}"'))
    if kind != EXTRACTOR:
        query = query.where(~changes.contains(f'"kind": "{EXTRACTOR}"'))
    if since:
        try:
            bound = normalize_timestamp(since)
        except ValueError as exc:
            raise ChangesError("since", str(exc)) from None
        stripped = since.strip()
        query = query.where(Capture.timestamp >= (stripped.ljust(14, "0")
                                                  if stripped.isdigit() else bound))
    if min_significance is not None:
        if not 0 <= min_significance <= 1:
            raise ChangesError("min_significance", f"{min_significance} is not between 0 "
                               "and 1")
        query = query.where(ArticleVersion.significance >= min_significance)
    if stealth is not None:
        query = query.where(ArticleVersion.stealth.is_(stealth))
    if cursor:
        query = query.where(tuple_(Capture.timestamp, ArticleVersion.id)
                            < tuple_(*_decode_cursor(cursor)))
    rows = session.execute(query).unique().all()
    items = [(version, site_name) for version, site_name in rows[:limit]]
    last = items[-1][0] if len(rows) > limit else None
    return ChangesPage(items, _encode_cursor(last.capture.timestamp, last.id) if last else None)


def _encode_cursor(timestamp: str, version_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([timestamp, version_id]).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        timestamp, version_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if isinstance(timestamp, str) and _TIMESTAMP.fullmatch(timestamp) \
                and isinstance(version_id, int) and 0 <= version_id <= MAX_ID:
            return timestamp, version_id
    except (ValueError, TypeError):
        pass
    raise ChangesError("cursor", "not a next_cursor value returned by this listing; "
                       "repeat the request without cursor")
