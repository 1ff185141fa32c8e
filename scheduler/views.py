"""The JSON shapes of archive objects that the CLI prints and the API returns alike: one
field list each."""

from __future__ import annotations

from pydantic import BaseModel, Field

from archive.search import ArticleHit
from archive.snapshot import AnyCapture


class CaptureOut(BaseModel):
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

    @classmethod
    def from_capture(cls, c: AnyCapture, warc_file: str | None = None) -> CaptureOut:
        """``warc_file``: the file name when the query already has it (no lazy load)."""
        return cls(url=c.url, timestamp=c.timestamp, status=c.status, mime=c.mime,
                   digest=c.payload_digest, record_type=c.record_type, record_id=c.record_id,
                   warc_file=warc_file or c.warc_file.filename, offset=c.offset,
                   length=c.length, truncated=c.truncated, job_id=c.job_id)


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
