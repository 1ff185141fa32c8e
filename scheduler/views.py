"""The JSON shapes of archive objects that the CLI prints and the API returns alike: one
field list each."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from archive.capture_checks import MAX_PIXEL_DIFF, is_incomplete
from archive.models import ArticleVersion, CaptureCheck
from archive.search import ArticleHit
from archive.snapshot import AnyCapture
from crawler.discovery import format_duration
from crawler.refresh_learning import SiteRefresh


class FailedResource(BaseModel):
    url: str = Field(description="the resource's original URL")
    reason: str = Field(description="e.g. `not in the archive`, `left the archive (blocked)`, "
                        "`HTTP 500 in replay`")


class CaptureCheckOut(BaseModel):
    """The capture check: the archived view rendered in Chromium and compared with the
    live page."""

    pixel_diff: float | None = Field(
        description="share (0-1) of the pixels of the archived view's full-page screenshot "
        "that differ from the live page's; null when one of them did not render (`error`)")
    failed_resources: list[FailedResource] = Field(
        description="requests of the archived view that failed or would have left the "
        "archive")
    checked_at: datetime
    compared_with: Literal["capture", "live"] = Field(
        description="`capture`: the screenshot the crawl recorded (`urn:view:` record); "
        "`live`: the live page rendered at check time")
    error: str | None
    incomplete: bool = Field(description="a resource failed, or more than "
                             f"{MAX_PIXEL_DIFF:.0%} of the pixels differ")

    @classmethod
    def from_check(cls, check: CaptureCheck) -> CaptureCheckOut:
        return cls(pixel_diff=check.pixel_diff,
                   failed_resources=[FailedResource(**f) for f in check.failed_resources],
                   checked_at=check.checked_at.replace(tzinfo=check.checked_at.tzinfo or UTC),
                   compared_with=check.compared_with,  # type: ignore[arg-type]
                   error=check.error, incomplete=is_incomplete(check))


class CaptureOut(BaseModel):
    id: int
    url: str
    timestamp: str
    status: int
    mime: str
    digest: str | None
    record_type: str
    record_id: str
    warc_file: str
    offset: int
    length: int
    truncated: str | None
    job_id: int | None
    check: CaptureCheckOut | None = Field(
        None, description="the latest capture check of an HTML page; null: not checked")

    @classmethod
    def from_capture(cls, c: AnyCapture, warc_file: str | None = None,
                     check: CaptureCheck | None = None) -> CaptureOut:
        """``warc_file``: the file name when the query already has it (no lazy load);
        ``check``: the capture's check, if it has one."""
        return cls(id=c.id, url=c.url, timestamp=c.timestamp, status=c.status, mime=c.mime,
                   digest=c.payload_digest, record_type=c.record_type, record_id=c.record_id,
                   warc_file=warc_file or c.warc_file.filename, offset=c.offset,
                   length=c.length, truncated=c.truncated, job_id=c.job_id,
                   check=CaptureCheckOut.from_check(check) if check else None)


class ArticleSummary(BaseModel):
    id: int
    url: str
    canonical_url: str | None
    title: str | None
    authors: list[str]
    published: str | None
    date: str = Field(description="published, else the capture time (UTC); the sort key")
    language: str | None
    description: str | None
    site: str | None = Field(description="the configured site whose crawl captured it")
    site_name: str | None = Field(description="the site's name as the page states it")
    word_count: int
    extractor_version: str
    capture_id: int
    capture_timestamp: str

    @classmethod
    def from_hit(cls, hit: ArticleHit) -> ArticleSummary:
        a = hit.article
        return cls(id=a.id, url=a.url, canonical_url=a.canonical_url, title=a.title,
                   authors=a.authors, published=a.published, date=hit.date,
                   language=a.language, description=a.description, site=hit.site,
                   site_name=a.site_name, word_count=a.word_count,
                   extractor_version=a.extractor_version, capture_id=a.capture_id,
                   capture_timestamp=a.capture.timestamp)


class VersionOut(BaseModel):
    """One version of an article (archive.history): what the article said from this
    capture on, and what changed since the version before."""

    id: int
    number: int = Field(description="1 for the first capture of the article")
    timestamp: str = Field(description="the capture's 14-digit timestamp (UTC)")
    article_id: int | None = Field(description="the extraction; null when unpublished")
    title: str | None
    authors: list[str]
    published: str | None
    modified: str | None
    extractor_version: str | None
    capture: CaptureOut
    changes: list[dict[str, Any]] = Field(
        description="named changes from the version before, each with a `kind`: headline, "
        "byline, published, modified, body_added, body_removed, body_edited, correction, "
        "unpublished (404/410, a redirect to a hub, or a soft 404: an error page served with "
        "200, `soft_404: true`), extractor (`before` and `after`: another extractor read "
        "this version, and what it reads differently is not named as the outlet's change); "
        "empty for the first version")
    significance: float = Field(description="0-1: share of the text changed, headline "
                                "changes weighing more")
    stealth: bool = Field(description="a substantive change with neither a correction note "
                          "nor a new dateModified")

    @classmethod
    def from_version(cls, v: ArticleVersion) -> VersionOut:
        a = v.article
        return cls(id=v.id, number=v.number, timestamp=v.capture.timestamp,
                   article_id=v.article_id, title=a.title if a else None,
                   authors=a.authors if a else [], published=a.published if a else None,
                   modified=a.modified if a else None, extractor_version=v.extractor_version,
                   capture=CaptureOut.from_capture(v.capture), changes=v.changes,
                   significance=v.significance, stealth=v.stealth)


class ChangeOut(VersionOut):
    """A version after the first, as ``/api/v1/changes`` lists it and a site's webhook
    receives it."""

    site: str | None = Field(description="the configured site whose crawl captured it")

    @classmethod
    def from_change(cls, v: ArticleVersion, site: str | None) -> ChangeOut:
        return cls(**VersionOut.from_version(v).model_dump(), site=site)


class VersionsOut(BaseModel):
    url: str
    versions: list[VersionOut] = Field(description="oldest first")


class EditBucket(BaseModel):
    label: str = Field(examples=["1-3h"])
    from_seconds: float = Field(description="edits caught after this age…")
    to_seconds: float | None = Field(description="…and at or before this one (null: no end)")
    edits: int
    within: int = Field(description="of them, the edits known to have happened in this "
                        "bucket: the capture before the catching one was in it too")


class KindCount(BaseModel):
    kind: str
    edits: int = Field(description="edits that name this kind of change")


class RefreshOut(BaseModel):
    configured: list[str] = Field(description="the refresh ages the site gives (without "
                                  "`auto`)")
    learn: bool = Field(description="the site learns its refresh ages (`auto`)")
    learned: bool = Field(description="crawls use learned ages now (the site learns, and "
                          "enough edits have been observed)")
    ages: list[str] = Field(description="the ages crawls of the site use now")
    suggested: list[str] | None = Field(
        description="the ages learning chooses from the edits observed so far (the "
        "configured ones while there are too few); null when the site gives no ages")
    reason: str | None = Field(description="why the suggested ages are what they are")
    caught: int | None = Field(description="observed edits the suggested ages would record "
                               "as versions")
    caught_by_configured: int | None = Field(description="… and the configured ages")
    explore_share: float | None = Field(
        description="share of the articles that keep the configured ages while learned "
        "ones are in use (so what they skip is still observed)")


class SiteEditsOut(BaseModel):
    """When a site's articles are edited, by age since their first capture."""

    site: str
    articles: int = Field(description="articles with a history that the site's crawls "
                          "first captured")
    edited_articles: int = Field(description="of them, those edited at least once")
    edited_share: float | None = Field(description="edited_articles / articles")
    edits: int = Field(description="versions after the first that name a change other than "
                       "`unpublished`")
    edits_per_edited_article: float | None
    stealth: int = Field(description="edits flagged stealth")
    stealth_share: float | None
    unpublished: int = Field(description="unpublished versions: an article seen taken down "
                             "(404/410, a redirect to a hub, a soft 404), once each time; not "
                             "counted as edits")
    kinds: list[KindCount] = Field(description="kinds of change, most common first")
    histogram: list[EditBucket] = Field(
        description="edits by the age of the capture that caught them (the edit happened "
        "between the capture before it and that one: the age is an upper bound)")
    refresh: RefreshOut

    @classmethod
    def from_refresh(cls, site: str, refresh: SiteRefresh,
                     explore_share: float) -> SiteEditsOut:
        """The statistics of ``refresh`` as read with ``observe=True``
        (:func:`scheduler.sites.site_edits`)."""
        edits, shape = refresh.edits, refresh.shape
        assert edits is not None  # observe=True reads them

        def share(part: int, whole: int) -> float | None:
            return round(part / whole, 4) if whole else None

        return cls(
            site=site, articles=edits.articles, edited_articles=edits.edited_articles,
            edited_share=share(edits.edited_articles, edits.articles),
            edits=len(edits.edits),
            edits_per_edited_article=share(len(edits.edits), edits.edited_articles),
            stealth=edits.stealth, stealth_share=share(edits.stealth, len(edits.edits)),
            unpublished=edits.unpublished,
            kinds=[KindCount(kind=kind, edits=count) for kind, count in edits.kinds()],
            histogram=[EditBucket(label=b.label, from_seconds=b.from_seconds,
                                  to_seconds=b.to_seconds, edits=b.edits,
                                  within=b.within)
                       for b in edits.histogram()],
            refresh=RefreshOut(
                configured=[format_duration(age) for age in refresh.configured],
                learn=refresh.learn, learned=refresh.learned,
                ages=[format_duration(age) for age in refresh.ages],
                suggested=[format_duration(age) for age in shape.ages] if shape else None,
                reason=shape.reason if shape else None,
                caught=shape.caught if shape else None,
                caught_by_configured=shape.caught_by_configured if shape else None,
                explore_share=explore_share if refresh.learned else None))
