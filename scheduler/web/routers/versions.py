"""Article versions: an article's history, a version's diff, the changes across the archive
(cursor-paged), and the same changes as an Atom feed at ``/feeds/changes.atom``."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Path, Query, Request, Response

from archive.history import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    content_of,
    list_changes,
    version_and_previous,
    versions_of_article,
)
from archive.models import MAX_ID, ArticleVersion
from archive.versions import CHANGE_KINDS, diff_body
from scheduler.views import ChangeOut, VersionOut
from scheduler.web.deps import ServiceDep
from scheduler.web.errors import error_responses
from scheduler.web.schemas import BodyDiffPart, ChangeList, VersionDiff, VersionList

router = APIRouter(tags=["versions"])
ATOM = "http://www.w3.org/2005/Atom"
ATOM_MIME = "application/atom+xml"
Site = Annotated[str | None, Query(max_length=100, description="configured site name")]
Kind = Annotated[str | None, Query(max_length=20, description="a kind of change: "
                                   + ", ".join(CHANGE_KINDS) + " (versions made by another "
                                   "extractor's reading are listed only for kind=extractor)")]
Since = Annotated[str | None, Query(max_length=40, description="captured at or after: "
                                    "YYYYMMDDhhmmss (any prefix) or ISO 8601")]
MinSignificance = Annotated[float | None, Query(ge=0, le=1, description="0 to 1")]
Stealth = Annotated[bool | None, Query(description="only stealth (true) or announced (false) "
                                       "changes")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"1 to {MAX_LIMIT}")]


@router.get("/api/v1/articles/{article_id}/versions", response_model=VersionList,
            responses=error_responses(404, 422))
def article_versions(article_id: Annotated[int, Path(ge=1, le=MAX_ID)],
                     service: ServiceDep) -> VersionList:
    """The versions of the article's history, oldest first, each with its named changes."""
    with service.catalog.session() as session:
        return VersionList(article_id=article_id, versions=[
            VersionOut.from_version(v) for v in versions_of_article(session, article_id)])


@router.get("/api/v1/versions/{version_id}/diff", response_model=VersionDiff,
            responses=error_responses(404, 422))
def version_diff(version_id: Annotated[int, Path(ge=1, le=MAX_ID)],
                 service: ServiceDep) -> VersionDiff:
    """The version, the one before it, and their bodies aligned paragraph by paragraph
    (edited paragraphs sentence by sentence)."""
    with service.catalog.session() as session:
        version, previous = version_and_previous(session, version_id)
        parts = diff_body(content_of(previous), content_of(version))
        return VersionDiff(
            version=VersionOut.from_version(version),
            previous=VersionOut.from_version(previous) if previous else None,
            body=[BodyDiffPart(**asdict(part)) for part in parts])


@router.get("/api/v1/changes", response_model=ChangeList, responses=error_responses(422))
def changes(service: ServiceDep, site: Site = None, kind: Kind = None, since: Since = None,
            min_significance: MinSignificance = None, stealth: Stealth = None,
            limit: Limit = DEFAULT_LIMIT, cursor: Annotated[str | None, Query(
                max_length=200, description="next_cursor of the previous page")] = None,
            ) -> ChangeList:
    """Versions after the first, newest capture first; ``next_cursor`` pages."""
    with service.catalog.session() as session:
        page = list_changes(session, site=site, kind=kind, since=since,
                            min_significance=min_significance, stealth=stealth, limit=limit,
                            cursor=cursor)
        return ChangeList(items=[ChangeOut.from_change(v, s)
                                 for v, s in page.items], next_cursor=page.next_cursor)


@router.get("/feeds/changes.atom", response_class=Response, responses={
    200: {"content": {ATOM_MIME: {}}, "description": "an Atom 1.0 feed"},
    **error_responses(422)})
def changes_feed(request: Request, service: ServiceDep, site: Site = None, kind: Kind = None,
                 since: Since = None, min_significance: MinSignificance = None,
                 stealth: Stealth = None, limit: Limit = 50) -> Response:
    """The latest changes (filters as ``/api/v1/changes``) as Atom: one entry per changed
    version, linking the archived article and the version's diff."""
    base = str(request.base_url).rstrip("/")
    with service.catalog.session() as session:
        page = list_changes(session, site=site, kind=kind, since=since,
                            min_significance=min_significance, stealth=stealth, limit=limit)
        feed = ET.Element("feed", xmlns=ATOM)
        ET.SubElement(feed, "title").text = "newsarchive: article changes"
        ET.SubElement(feed, "id").text = f"{base}/feeds/changes.atom"
        ET.SubElement(feed, "link", rel="self", href=str(request.url))
        ET.SubElement(ET.SubElement(feed, "author"), "name").text = "newsarchive"
        ET.SubElement(feed, "updated").text = (
            _rfc3339(page.items[0][0].capture.timestamp) if page.items
            else datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        for version, _site in page.items:
            feed.append(_entry(base, version))
    return Response(b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, "utf-8"),
                    media_type=ATOM_MIME)


def _entry(base: str, version: ArticleVersion) -> ET.Element:
    capture, article = version.capture, version.article
    kinds = ", ".join(dict.fromkeys(c["kind"] for c in version.changes))
    entry = ET.Element("entry")
    title = (article.title if article else None) or capture.url
    ET.SubElement(entry, "title").text = f"{title} ({kinds})"
    ET.SubElement(entry, "id").text = f"{base}/api/v1/versions/{version.id}"
    ET.SubElement(entry, "updated").text = _rfc3339(capture.timestamp)
    ET.SubElement(entry, "link", rel="alternate", type="text/html",
                  href=f"{base}/web/{capture.timestamp}/{capture.url}")
    ET.SubElement(entry, "link", rel="related", type="application/json",
                  href=f"{base}/api/v1/versions/{version.id}/diff")
    lines = [f"version {version.number}, significance {version.significance:.2f}"
             + (", stealth" if version.stealth else "")]
    for change in version.changes:
        detail = change.get("after", change.get("text")) or ""
        lines.append(f"{change['kind']}: "
                     + (", ".join(detail) if isinstance(detail, list) else str(detail)))
    ET.SubElement(entry, "summary").text = "\n".join(lines)
    return entry


def _rfc3339(timestamp: str) -> str:
    t = timestamp
    return f"{t[:4]}-{t[4:6]}-{t[6:8]}T{t[8:10]}:{t[10:12]}:{t[12:14]}Z"
