"""Response bodies of /api/v1/articles (kept apart from the ORM models)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from archive.search import ArticleHit


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
