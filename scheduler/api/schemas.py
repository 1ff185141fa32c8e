"""Request and response bodies of the HTTP API (kept apart from the ORM models)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from crawler.discovery import parse_duration

NAME_RE = r"^[a-z0-9][a-z0-9_.-]{0,99}$"

# The catalog stores UTC; SQLite hands datetimes back naive. Answer them as UTC.
UtcDatetime = Annotated[datetime, AfterValidator(
    lambda value: value if value.tzinfo else value.replace(tzinfo=UTC))]


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cron: str | None = Field(default=None, examples=["*/30 * * * *"])
    interval_seconds: int | None = Field(default=None, ge=1, le=366 * 86400)

    @model_validator(mode="after")
    def _exactly_one(self) -> Schedule:
        if (self.cron is None) == (self.interval_seconds is None):
            raise ValueError('give exactly one of "cron" or "interval_seconds"')
        if self.cron is not None:
            try:
                CronTrigger.from_crontab(self.cron)
            except ValueError as exc:
                raise ValueError(f"invalid cron expression {self.cron!r}: {exc}") from None
        return self

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


def check_durations(value: list[str] | str | None) -> list[str] | str | None:
    """Durations such as ``1h`` or ``2d``; ValueError names the bad one."""
    for item in [value] if isinstance(value, str) else value or []:
        parse_duration(item)
    return value


class SiteFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_urls: list[str] = Field(default_factory=list, max_length=100)
    feeds: list[str] = Field(default_factory=list, max_length=100)
    sitemaps: list[str] = Field(default_factory=list, max_length=100)
    allow: list[str] = Field(default_factory=list, max_length=100)
    deny: list[str] = Field(default_factory=list, max_length=100)
    max_depth: int = Field(default=2, ge=0, le=20)
    max_pages: int = Field(default=1000, ge=1, le=1_000_000)
    schedule: Schedule | None = None
    enabled: bool = True
    refresh: list[str] = Field(default_factory=list, max_length=10, examples=[["1h", "1d"]],
                               description="Ages at which archived articles are re-captured.")
    horizon: str | None = Field(default=None, examples=["2d"], description=(
        "Skip sitemap entries and feed items older than this (default "
        "NEWSARCHIVE_SITEMAP_HORIZON, 2d)."))
    article_patterns: list[str] = Field(default_factory=list, max_length=100)
    hub_patterns: list[str] = Field(default_factory=list, max_length=100)

    @field_validator("refresh", "horizon")
    @classmethod
    def _durations(cls, value: list[str] | str | None) -> list[str] | str | None:
        return check_durations(value)

    @field_validator("allow", "deny", "article_patterns", "hub_patterns")
    @classmethod
    def _regexes(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        return patterns


class SiteIn(SiteFields):
    name: str = Field(pattern=NAME_RE, examples=["harbour-gazette"])

    @model_validator(mode="after")
    def _has_seeds(self) -> SiteIn:
        if not (self.start_urls or self.feeds or self.sitemaps):
            raise ValueError("a site needs at least one of start_urls, feeds or sitemaps")
        return self


_REQUIRED_SCALARS = frozenset({"max_depth", "max_pages", "enabled"})


class SitePatch(BaseModel):
    """Partial update: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    start_urls: list[str] | None = None
    feeds: list[str] | None = None
    sitemaps: list[str] | None = None
    allow: list[str] | None = None
    deny: list[str] | None = None
    max_depth: int | None = Field(default=None, ge=0, le=20)
    max_pages: int | None = Field(default=None, ge=1, le=1_000_000)
    schedule: Schedule | None = None
    enabled: bool | None = None
    refresh: list[str] | None = Field(default=None, max_length=10)
    horizon: str | None = None
    article_patterns: list[str] | None = None
    hub_patterns: list[str] | None = None

    @field_validator("refresh", "horizon")
    @classmethod
    def _durations(cls, value: list[str] | str | None) -> list[str] | str | None:
        return check_durations(value)

    @field_validator("article_patterns", "hub_patterns")
    @classmethod
    def _regexes(cls, patterns: list[str] | None) -> list[str] | None:
        return SiteFields._regexes(patterns) if patterns else patterns

    @model_validator(mode="after")
    def _nulls(self) -> SitePatch:
        """``null`` clears a list and removes a schedule or horizon; a number or a switch
        cannot be cleared."""
        for name in self.model_fields_set:
            if getattr(self, name) is not None:
                continue
            if name in _REQUIRED_SCALARS:
                raise ValueError(f"{name} may not be null: give a value, or leave the field "
                                 "out to keep the current one")
            if name not in ("schedule", "horizon"):
                setattr(self, name, [])
        return self


class SiteOut(SiteFields):
    model_config = ConfigDict(from_attributes=True)

    name: str
    schedule: dict[str, Any] | None = None  # type: ignore[assignment]
    next_run: datetime | None = None
    last_job: int | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime


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
