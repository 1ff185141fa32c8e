"""What defines a site: seeds, URL patterns, limits, schedule, discovery options, politeness,
change webhook.

:class:`SiteIn` is a whole definition (the API's POST, ``sites add``, ``sites.toml``);
:class:`SitePatch` a partial update (the API's PATCH, ``sites update``). Both validate
everything a crawl will need (regexes, cron expressions, durations), with messages that
name the field.
"""

from __future__ import annotations

import re
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from crawler.discovery import parse_duration, parse_refresh
from crawler.render import RenderMode
from scheduler.urlcheck import split_url

NAME_RE = r"^[a-z0-9][a-z0-9_.-]{0,99}$"
RENDER_DOC = ("How pages are captured: static (the HTTP response), browser (every page also "
              "rendered in Chromium), auto (in Chromium when a page looks script-built). "
              "Default (null): NEWSARCHIVE_RENDER, auto.")
CONCURRENCY_DOC = ("Concurrent requests per domain in this site's crawls (Scrapy's "
                   "CONCURRENT_REQUESTS_PER_DOMAIN). Default (null): the crawl's, 4.")
DELAY_DOC = ("Seconds between requests to one domain in this site's crawls (Scrapy's "
             "DOWNLOAD_DELAY; with AutoThrottle on, the least delay). Default (null): the "
             "crawl's, 0.")
AUTOTHROTTLE_DOC = ("AutoThrottle in this site's crawls: adapt the delay to the server's "
                    "latency (Scrapy's AUTOTHROTTLE_ENABLED). Default (null): the crawl's, "
                    "on.")
REFRESH_DOC = ("Ages at which archived articles are re-captured. With \"auto\" among them, "
               "the ages are learned from the site's observed edits, as many and no later "
               "than those given (which apply until enough edits are observed).")
HUB_REFRESH_MIN_DOC = ("Shortest interval at which each hub of the site is refetched (its "
                       "interval adapts between the two bounds). Default (null): "
                       "NEWSARCHIVE_HUB_REFRESH_MIN, 15m.")
HUB_REFRESH_MAX_DOC = ("Longest interval at which each hub of the site is refetched. "
                       "Default (null): NEWSARCHIVE_HUB_REFRESH_MAX, 1d.")
WEBHOOK_URL_DOC = ("http(s) URL that receives a signed JSON POST for each change of one of "
                   "the site's articles (docs/api.md, Change webhooks); needs webhook_secret. "
                   "Default (null): none.")
WEBHOOK_SECRET_DOC = ("Key of the HMAC-SHA256 signature of each webhook body "
                      "(X-Newsarchive-Signature), 16 to 256 characters. Write-only: answers "
                      "say only whether one is set (webhook_secret_set).")
WEBHOOK_MIN_SIGNIFICANCE_DOC = ("The least significance (0-1) of a change the webhook "
                                "receives; 0 (the default): every change.")
MIN_SECRET_LENGTH, MAX_SECRET_LENGTH = 16, 256
MAX_WEBHOOK_URL_LENGTH = 2048
# the fields that may be null (the crawl-wide value, or none for the webhook's) and be reset
NULLABLE_FIELDS = ("schedule", "horizon", "render", "concurrency_per_domain",
                   "download_delay", "autothrottle", "hub_refresh_min", "hub_refresh_max",
                   "webhook_url", "webhook_secret")


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


def check_refresh(value: list[str] | None) -> list[str] | None:
    """Refresh ages, ``"auto"`` at most once and with ages (ValueError otherwise)."""
    if value is not None:
        parse_refresh(value)
    return value


def check_hub_refresh(shortest: str | None, longest: str | None) -> None:
    """A site's hub refresh bounds, when it sets both, in order (ValueError otherwise)."""
    if shortest and longest and parse_duration(shortest) > parse_duration(longest):
        raise ValueError(f"hub_refresh_min ({shortest}) is longer than hub_refresh_max "
                         f"({longest}): the shortest interval must not exceed the longest")


def check_webhook_url(url: str | None) -> str | None:
    """An absolute http(s) URL with a host (ValueError otherwise); whether its address may
    be reached is the network policy's (``scheduler.urlcheck``)."""
    if url is None:
        return None
    parts = split_url(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"{url!r}: give an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError(f"{url!r} has no host")
    return url


def check_webhook(url: str | None, secret: str | None) -> None:
    """A site's webhook, when it has a URL, has a secret to sign with (ValueError
    otherwise)."""
    if url and not secret:
        raise ValueError("a webhook_url needs a webhook_secret (16 to 256 characters) to "
                         "sign its bodies with")


class SiteFields(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=True)

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
                               description=REFRESH_DOC)
    horizon: str | None = Field(default=None, examples=["2d"], description=(
        "Skip sitemap entries and feed items older than this (default "
        "NEWSARCHIVE_SITEMAP_HORIZON, 2d)."))
    article_patterns: list[str] = Field(default_factory=list, max_length=100)
    hub_patterns: list[str] = Field(default_factory=list, max_length=100)
    render: RenderMode | None = Field(default=None, description=RENDER_DOC)
    concurrency_per_domain: int | None = Field(default=None, ge=1, le=256, examples=[2],
                                               description=CONCURRENCY_DOC)
    download_delay: float | None = Field(default=None, ge=0, le=3600, examples=[1.5],
                                         description=DELAY_DOC)
    autothrottle: bool | None = Field(default=None, description=AUTOTHROTTLE_DOC)
    hub_refresh_min: str | None = Field(default=None, examples=["15m"],
                                        description=HUB_REFRESH_MIN_DOC)
    hub_refresh_max: str | None = Field(default=None, examples=["1d"],
                                        description=HUB_REFRESH_MAX_DOC)
    webhook_url: str | None = Field(default=None, max_length=MAX_WEBHOOK_URL_LENGTH,
                                    examples=["https://hooks.example.org/newsarchive"],
                                    description=WEBHOOK_URL_DOC)
    webhook_secret: str | None = Field(default=None, min_length=MIN_SECRET_LENGTH,
                                       max_length=MAX_SECRET_LENGTH, repr=False,
                                       description=WEBHOOK_SECRET_DOC)
    webhook_min_significance: float = Field(default=0.0, ge=0, le=1, examples=[0.05],
                                            description=WEBHOOK_MIN_SIGNIFICANCE_DOC)

    @field_validator("horizon", "hub_refresh_min", "hub_refresh_max")
    @classmethod
    def _durations(cls, value: list[str] | str | None) -> list[str] | str | None:
        return check_durations(value)

    @field_validator("refresh")
    @classmethod
    def _refresh(cls, value: list[str] | None) -> list[str] | None:
        return check_refresh(value)

    @field_validator("hub_refresh_max")
    @classmethod
    def _hub_refresh_in_order(cls, value: str | None, info: ValidationInfo) -> str | None:
        check_hub_refresh(info.data.get("hub_refresh_min"), value)
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        return check_webhook_url(value)

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
        check_webhook(self.webhook_url, self.webhook_secret)
        return self


def _not_null(schema: dict[str, Any]) -> None:
    """JSON schema of an optional field that may be left out but not sent as null."""
    branches = [b for b in schema.pop("anyOf", []) if b.get("type") != "null"]
    if branches:
        schema.update(branches[0])
    schema.pop("default", None)


_REQUIRED_SCALARS = frozenset({"max_depth", "max_pages", "enabled",
                               "webhook_min_significance"})


class SitePatch(BaseModel):
    """Partial update: only the fields given change."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True)

    start_urls: list[str] | None = None
    feeds: list[str] | None = None
    sitemaps: list[str] | None = None
    allow: list[str] | None = None
    deny: list[str] | None = None
    # numbers and switches cannot be cleared: the schema says so (no null), _nulls checks
    max_depth: int | None = Field(default=None, ge=0, le=20, json_schema_extra=_not_null)
    max_pages: int | None = Field(default=None, ge=1, le=1_000_000,
                                  json_schema_extra=_not_null)
    schedule: Schedule | None = None
    enabled: bool | None = Field(default=None, json_schema_extra=_not_null)
    refresh: list[str] | None = Field(default=None, max_length=10, description=REFRESH_DOC)
    horizon: str | None = None
    article_patterns: list[str] | None = None
    hub_patterns: list[str] | None = None
    render: RenderMode | None = Field(default=None, description=RENDER_DOC)
    concurrency_per_domain: int | None = Field(default=None, ge=1, le=256,
                                               description=CONCURRENCY_DOC)
    download_delay: float | None = Field(default=None, ge=0, le=3600, description=DELAY_DOC)
    autothrottle: bool | None = Field(default=None, description=AUTOTHROTTLE_DOC)
    hub_refresh_min: str | None = Field(default=None, description=HUB_REFRESH_MIN_DOC)
    hub_refresh_max: str | None = Field(default=None, description=HUB_REFRESH_MAX_DOC)
    webhook_url: str | None = Field(default=None, max_length=MAX_WEBHOOK_URL_LENGTH,
                                    description=WEBHOOK_URL_DOC)
    webhook_secret: str | None = Field(default=None, min_length=MIN_SECRET_LENGTH,
                                       max_length=MAX_SECRET_LENGTH, repr=False,
                                       description=WEBHOOK_SECRET_DOC)
    webhook_min_significance: float | None = Field(default=None, ge=0, le=1,
                                                   json_schema_extra=_not_null,
                                                   description=WEBHOOK_MIN_SIGNIFICANCE_DOC)

    @field_validator("horizon", "hub_refresh_min", "hub_refresh_max")
    @classmethod
    def _durations(cls, value: list[str] | str | None) -> list[str] | str | None:
        return check_durations(value)

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        return check_webhook_url(value)

    @field_validator("refresh")
    @classmethod
    def _refresh(cls, value: list[str] | None) -> list[str] | None:
        return check_refresh(value)

    @field_validator("article_patterns", "hub_patterns")
    @classmethod
    def _regexes(cls, patterns: list[str] | None) -> list[str] | None:
        return SiteFields._regexes(patterns) if patterns else patterns

    @field_validator("hub_refresh_max")
    @classmethod
    def _hub_refresh_in_order(cls, value: str | None, info: ValidationInfo) -> str | None:
        check_hub_refresh(info.data.get("hub_refresh_min"), value)
        return value

    @model_validator(mode="after")
    def _nulls(self) -> SitePatch:
        """``null`` clears a list and resets a schedule, horizon, render mode, politeness
        or hub refresh bound to the crawl-wide value, and a webhook URL or secret to none; a
        limit, ``enabled`` or the webhook's least significance cannot be cleared."""
        for name in self.model_fields_set:
            if getattr(self, name) is not None:
                continue
            if name in _REQUIRED_SCALARS:
                raise ValueError(f"{name} may not be null: give a value, or leave the field "
                                 "out to keep the current one")
            if name not in NULLABLE_FIELDS:
                setattr(self, name, [])
        return self
