"""Catalog tables (SQLAlchemy 2 ORM). Schema changes go through Alembic migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Select,
    String,
    Text,
    UniqueConstraint,
    false,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True)}


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class WarcState:
    OPEN = "open"
    CLOSED = "closed"
    UPLOADED = "uploaded"
    DAMAGED = "damaged"  # the stored object failed verification; its intact records still read


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
# Ids are INTEGER columns: 32-bit on PostgreSQL. A larger id names no row.
MAX_ID = 2**31 - 1
FINISHED_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
ALL_STATUSES = ACTIVE_STATUSES + FINISHED_STATUSES


class Site(Base):
    """A news site to crawl: seeds, URL patterns, limits and an optional schedule."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    start_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    feeds: Mapped[list[str]] = mapped_column(JSON, default=list)
    sitemaps: Mapped[list[str]] = mapped_column(JSON, default=list)
    allow: Mapped[list[str]] = mapped_column(JSON, default=list)
    deny: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_depth: Mapped[int] = mapped_column(Integer, default=2)
    max_pages: Mapped[int] = mapped_column(Integer, default=1000)
    # {"cron": "*/30 * * * *"} or {"interval_seconds": 1800}; None: on demand only
    schedule: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Discovery (migration 0005): re-capture ages ("1h", "1d"), sitemap horizon ("2d";
    # None: NEWSARCHIVE_SITEMAP_HORIZON), URL regexes that override article detection.
    refresh: Mapped[list[str]] = mapped_column(JSON, default=list)
    horizon: Mapped[str | None] = mapped_column(String(16))
    article_patterns: Mapped[list[str]] = mapped_column(JSON, default=list)
    hub_patterns: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Capture (migration 0008): static|browser|auto; None: NEWSARCHIVE_RENDER (auto)
    render: Mapped[str | None] = mapped_column(String(16))
    # Politeness (migration 0010); None: the crawl-wide setting. Per-domain concurrency,
    # seconds between requests, AutoThrottle on/off; the bounds ("15m", "1d") within which
    # each hub's refresh interval adapts.
    concurrency_per_domain: Mapped[int | None] = mapped_column(Integer)
    download_delay: Mapped[float | None] = mapped_column(Float)
    autothrottle: Mapped[bool | None] = mapped_column(Boolean)
    hub_refresh_min: Mapped[str | None] = mapped_column(String(16))
    hub_refresh_max: Mapped[str | None] = mapped_column(String(16))
    # Change webhook (migration 0013, archive.webhook_outbox); None: no webhook. Each change
    # of significance >= webhook_min_significance is POSTed, signed with the secret.
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret: Mapped[str | None] = mapped_column(String(256))
    webhook_min_significance: Mapped[float] = mapped_column(Float, default=0.0,
                                                            server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CrawlJob(Base):
    """The ledger row of one crawl job, scheduled or on demand."""

    __tablename__ = "crawl_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED, index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"),
                                                index=True)
    trigger: Mapped[str] = mapped_column(String(16), default="cli")  # cli|api|schedule|retry
    priority: Mapped[int] = mapped_column(Integer, default=0)
    dedupe_key: Mapped[str | None] = mapped_column(String(80), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int | None] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(String(255))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    retry_of: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    # scale-out (migration 0006): when its broker message was last sent; None = not yet
    dispatched_at: Mapped[datetime | None]

    site: Mapped[Site | None] = relationship()

    warc_files: Mapped[list[WarcFile]] = relationship(back_populates="job")


class WarcFile(Base):
    __tablename__ = "warc_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_jobs.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255), unique=True)
    storage_key: Mapped[str | None] = mapped_column(String(512))
    state: Mapped[str] = mapped_column(String(16), default=WarcState.OPEN)
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    records: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    uploaded_at: Mapped[datetime | None]

    job: Mapped[CrawlJob | None] = relationship(back_populates="warc_files")


class Capture(Base):
    """One archived response (or revisit) and where its record is; also the ``resource``
    records of a page rendered in a browser (its screenshot and DOM, under ``urn:view:`` and
    ``urn:dom:`` URIs, status 200), which are not pages."""

    __tablename__ = "captures"
    __table_args__ = (Index("ix_captures_surt_timestamp", "surt", "timestamp"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_jobs.id"), index=True)
    warc_file_id: Mapped[int] = mapped_column(ForeignKey("warc_files.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    surt: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[str] = mapped_column(String(14))
    status: Mapped[int] = mapped_column(Integer)
    mime: Mapped[str] = mapped_column(String(255))
    payload_digest: Mapped[str | None] = mapped_column(String(128))
    record_type: Mapped[str] = mapped_column(String(16), default="response")
    record_id: Mapped[str] = mapped_column(String(64), unique=True)
    offset: Mapped[int] = mapped_column(BigInteger)
    length: Mapped[int] = mapped_column(BigInteger)
    truncated: Mapped[str | None] = mapped_column(String(32))
    # The response's validators as sent (migration 0007), for conditional re-fetches
    # (archive.revalidation); a 304's revisit keeps its original's where it sent none.
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    # fetched for a page, not as one (migration 0014): its requisites, its browser's requests
    subresource: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    warc_file: Mapped[WarcFile] = relationship()
    article: Mapped[Article | None] = relationship(back_populates="capture")

    @classmethod
    def revisit_original(cls, surt: Any, digest: Any, at: Any) -> Select[tuple[Capture]]:
        """The ``response`` capture holding a revisit's payload: the latest one with the
        revisit's SURT key and payload digest at or before its timestamp (values or bind
        parameters)."""
        return (select(cls).where(cls.surt == surt, cls.payload_digest == digest,
                                  cls.record_type == "response", cls.timestamp <= at)
                .order_by(cls.timestamp.desc(), cls.id.desc()).limit(1))


class CaptureCheck(Base):
    """The capture check of one HTML capture (migration 0009): its archived view rendered
    in Chromium and compared with the live page (``scheduler.capture_check``).

    ``pixel_diff`` is the share (0-1) of pixels that differ between the two full-page
    screenshots (None when the live page could not be rendered: ``error`` says why);
    ``failed_resources`` the requests of the archived view that failed, each
    ``{"url": original URL, "reason": ...}``; ``compared_with`` where the live screenshot
    came from: ``"capture"`` (the capture's own ``urn:view:`` screenshot record) or ``"live"``
    (the live page, rendered at check time). ``thumbnail`` is a small PNG of the archived
    view, loaded only when asked for."""

    __tablename__ = "capture_checks"

    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id", ondelete="CASCADE"),
                                            primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    pixel_diff: Mapped[float | None] = mapped_column(Float)
    failed_resources: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    compared_with: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    thumbnail: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)


class Article(Base):
    """Extraction result for one capture."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id"), unique=True)
    url: Mapped[str] = mapped_column(Text)
    canonical_url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    published: Mapped[str | None] = mapped_column(String(40), index=True)
    modified: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str | None] = mapped_column(String(16), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    site_name: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text, default="")
    word_count: Mapped[int] = mapped_column(Integer, default=0)
    extractor_version: Mapped[str] = mapped_column(String(128))
    metadata_record_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The history the article belongs to (migration 0012): archive.urlkeys.url_hash of
    # archive.urlkeys.article_url (its canonical URL, else its URL); None before 0012 until
    # re-extracted.
    url_key: Mapped[str | None] = mapped_column(String(40), index=True)

    capture: Mapped[Capture] = relationship(back_populates="article")


class ArticleVersion(Base):
    """One version of an article (migration 0012, :mod:`archive.history`): the capture in
    which the article's normalised content (:mod:`archive.versions`) was first seen as it is.

    ``url_key`` is the history's key (``Article.url_key``), ``number`` counts from 1 (the
    first capture, no changes). ``article_id`` is the extraction it was seen in; None for an
    ``unpublished`` version, whose capture is the 404/410 or redirect. ``changes`` is the
    list of named changes from the previous version (each a dict with a ``kind``): stored as
    JSON because they are always read and written with their version, a handful at a time.
    """

    __tablename__ = "article_versions"
    __table_args__ = (
        UniqueConstraint("url_key", "number", name="uq_article_versions_key_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url_key: Mapped[str] = mapped_column(String(40))
    number: Mapped[int] = mapped_column(Integer)
    # Deleting an article or a capture deletes the versions seen in it.
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id", ondelete="CASCADE"),
                                            index=True)
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    extractor_version: Mapped[str | None] = mapped_column(String(128))
    content_digest: Mapped[str | None] = mapped_column(String(64))
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    significance: Mapped[float] = mapped_column(Float, default=0.0)
    stealth: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    capture: Mapped[Capture] = relationship()
    article: Mapped[Article | None] = relationship()


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # to send at next_attempt_at
    DELIVERED = "delivered"  # a 2xx answered
    FAILED = "failed"  # given up after the last attempt
    CANCELLED = "cancelled"  # the site's webhook was removed before it was delivered


class WebhookDelivery(Base):
    """One change to POST to its site's webhook (migration 0013): the outbox row written in
    the transaction that records the version; :mod:`archive.webhook_outbox` owns its
    transitions. ``attempts`` counts the POSTs made; ``next_attempt_at`` is when a
    ``pending`` one is due (also pushed on while a sender holds it)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("version_id", name="uq_webhook_deliveries_version"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Deleting a version (re-extraction) or a site deletes its deliveries.
    version_id: Mapped[int] = mapped_column(
        ForeignKey("article_versions.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"),
                                         index=True)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    version: Mapped[ArticleVersion] = relationship()
    site: Mapped[Site] = relationship()


class MultipartUpload(Base):
    """An S3 multipart upload in progress: survives a crash so the upload can resume."""

    __tablename__ = "multipart_uploads"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    upload_id: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str] = mapped_column(String(64))
    parts: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # "n" → ETag
    started_at: Mapped[datetime] = mapped_column(default=utcnow)


class SeenUrl(Base):
    """A URL a crawl of a site has fetched: what incremental crawls skip or refetch.

    ``url`` is the normalized URL (w3lib canonical form, tracking parameters dropped) and
    ``url_hash`` its SHA-1, so that the unique index stays small whatever the URL length;
    ``canonical_url`` is the page's ``<link rel="canonical">`` (same normalization).
    Articles already archived are not fetched again (unless the site's refresh policy says
    so, counted in ``refreshes``). Hubs (and feeds and sitemaps) are refetched once
    ``next_fetch_at`` has passed; their ``refresh_interval`` (seconds) adapts to whether
    they keep linking to new articles (migration 0011).
    """

    __tablename__ = "seen_urls"
    __table_args__ = (
        UniqueConstraint("site_id", "url_hash", name="uq_seen_urls_site_url"),
        Index("ix_seen_urls_site_canonical", "site_id", "canonical_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    url_hash: Mapped[str] = mapped_column(String(40))
    canonical_url: Mapped[str | None] = mapped_column(Text)
    canonical_hash: Mapped[str | None] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(8))  # "article" | "hub"
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_capture: Mapped[str | None] = mapped_column(String(14))  # captures.timestamp
    last_payload_digest: Mapped[str | None] = mapped_column(String(128))
    refreshes: Mapped[int] = mapped_column(Integer, default=0)
    refresh_interval: Mapped[int | None] = mapped_column(Integer)
    next_fetch_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UrlFamily(Base):
    """A family of a site's URLs (:func:`crawler.discovery.url_family`: equal up to the
    digits of the path and the values of the query) that crawls found to be articles: the
    trap cap never applies to it again (migration 0011)."""

    __tablename__ = "url_families"
    __table_args__ = (UniqueConstraint("site_id", "family", name="uq_url_families_site"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    family: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(8))  # "article"
    proven_at: Mapped[datetime] = mapped_column(default=utcnow)
