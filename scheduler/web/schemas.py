"""Request and response bodies of the HTTP API (kept apart from the ORM models).

The shapes the CLI prints too (a capture, an article in a list) are in
:mod:`scheduler.views`; a site's definition is :mod:`scheduler.site_definitions`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    computed_field,
    model_validator,
)

from archive.search import ArticleHit
from crawler.render import RenderMode
from scheduler.site_definitions import SiteFields
from scheduler.views import ArticleSummary, CaptureOut, ChangeOut, VersionOut

# The catalog stores UTC; SQLite hands datetimes back naive. Answer them as UTC.
UtcDatetime = Annotated[datetime, AfterValidator(
    lambda value: value if value.tzinfo else value.replace(tzinfo=UTC))]


class SiteOut(SiteFields):
    model_config = ConfigDict(from_attributes=True)

    name: str
    # write-only: never in an answer, which says whether one is set
    webhook_secret: str | None = Field(default=None, exclude=True, repr=False)
    schedule: dict[str, Any] | None = None  # type: ignore[assignment]
    next_run: datetime | None = None
    last_job: int | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime

    @computed_field(description="whether the site has a webhook_secret (never shown)")
    def webhook_secret_set(self) -> bool:
        return self.webhook_secret is not None


class NoOptions(BaseModel):
    """The body of a write that takes nothing: ``{}`` (writes carry JSON)."""

    model_config = ConfigDict(extra="forbid", title="NoOptions")


class CrawlLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    depth: int = Field(default=0, ge=0, le=5)
    max_pages: int = Field(default=100, ge=1, le=10_000)
    extract: bool = True


class CrawlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    urls: list[str] | None = Field(default=None, min_length=1, max_length=1000)
    site: str | None = None
    limits: CrawlLimits | None = None
    render: RenderMode | None = Field(default=None, description=(
        "static, browser or auto, for this crawl (with site: instead of the site's). Default "
        "(null): the site's, else NEWSARCHIVE_RENDER, auto."))
    priority: int = Field(default=0, ge=-10, le=10)

    @model_validator(mode="after")
    def _urls_or_site(self) -> CrawlRequest:
        if (self.urls is None) == (self.site is None):
            raise ValueError('give either "urls" or "site"')
        return self


class JobOut(BaseModel):
    id: int
    status: str
    site: str | None = None
    trigger: str
    priority: int
    spec: dict[str, Any]
    stats: dict[str, Any]
    attempts: int
    error: str | None
    cancel_requested: bool
    retry_of: int | None
    pid: int | None = None
    worker: str | None = None
    warc_files: list[str] = Field(default_factory=list)
    created_at: UtcDatetime
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    heartbeat_at: UtcDatetime | None


class JobList(BaseModel):
    items: list[JobOut]
    next_cursor: int | None = None


class CaptureList(BaseModel):
    items: list[CaptureOut]
    next_cursor: str | None = None


class ArticleList(BaseModel):
    items: list[ArticleSummary]
    next_cursor: str | None = None


class CaptureRef(BaseModel):
    url: str
    timestamp: str
    status: int
    mime: str
    digest: str | None


class WarcRecordRef(BaseModel):
    warc_file: str
    storage_key: str | None = Field(description="None while the file waits in the spool")
    offset: int
    length: int
    record_id: str = Field(description="WARC-Record-ID of the response record")
    metadata_record_id: str | None = Field(
        description="WARC-Record-ID of the crawl's metadata record holding the extraction")


class ReplayLinks(BaseModel):
    view: str = Field(description="/web/{timestamp}/{url}: the page, links rewritten")
    raw: str = Field(description="/web/{timestamp}id_/{url}: the original payload")


class ArticleDetail(ArticleSummary):
    modified: str | None
    text: str
    capture: CaptureRef
    warc_record: WarcRecordRef
    replay: ReplayLinks

    @classmethod
    def from_hit(cls, hit: ArticleHit) -> ArticleDetail:
        a, c = hit.article, hit.article.capture
        return cls(
            **ArticleSummary.from_hit(hit).model_dump(), modified=a.modified, text=a.text,
            capture=CaptureRef(url=c.url, timestamp=c.timestamp, status=c.status, mime=c.mime,
                               digest=c.payload_digest),
            warc_record=WarcRecordRef(warc_file=c.warc_file.filename,
                                      storage_key=c.warc_file.storage_key, offset=c.offset,
                                      length=c.length, record_id=c.record_id,
                                      metadata_record_id=a.metadata_record_id),
            replay=ReplayLinks(view=f"/web/{c.timestamp}/{c.url}",
                               raw=f"/web/{c.timestamp}id_/{c.url}"),
        )


class ArticleOut(BaseModel):
    url: str
    canonical_url: str | None
    title: str | None
    authors: list[str]
    published: str | None
    modified: str | None
    language: str | None
    description: str | None
    site_name: str | None
    word_count: int
    extractor_version: str
    text: str


class ArticleView(BaseModel):
    capture: CaptureOut
    article: ArticleOut


class VersionList(BaseModel):
    article_id: int
    versions: list[VersionOut] = Field(description="oldest first; the first has no changes")


class ChangeList(BaseModel):
    items: list[ChangeOut] = Field(description="newest capture first")
    next_cursor: str | None = None


class BodyDiffPart(BaseModel):
    op: Literal["equal", "added", "removed", "edited"]
    old_index: int | None
    new_index: int | None
    old: str
    new: str
    segments: list[tuple[str, str, str]] = Field(
        description="for `edited`: the paragraph's sentences aligned, each (op, old, new) "
        "with op equal, added, removed or edited")


class VersionDiff(BaseModel):
    version: VersionOut
    previous: VersionOut | None = Field(description="null for a first version")
    body: list[BodyDiffPart] = Field(description="the bodies aligned paragraph by paragraph")
