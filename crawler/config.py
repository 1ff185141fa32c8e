"""Crawl settings: the typed definition of every ``NEWSARCHIVE_*`` crawl setting, and the
one place where a crawl's Scrapy settings are derived from it.

A field ``name`` is the environment variable ``NEWSARCHIVE_NAME`` and, in a crawl, the Scrapy
setting of the same name, except the few marked ``scrapy`` that set one of Scrapy's own
(``NEWSARCHIVE_USER_AGENT`` sets ``USER_AGENT``). ``crawler/settings.py`` takes them from the
environment when Scrapy loads it, so ``scrapy crawl news`` and ``newsarchive crawl`` agree;
``-s NAME=VALUE`` overrides win. Components read them from ``crawler.settings`` as any
Scrapy setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator
from scrapy.settings import BaseSettings

from archive.config import ArchiveSettings, env_name
from crawler.discovery import parse_duration
from crawler.network_policy import NetworkPolicy, parse_networks
from crawler.render import RENDER_MODES

DEFAULT_USER_AGENT = ("newsarchive/0.1 (+https://github.com/newsarchive/newsarchive; "
                      "news archiving crawler)")


def _scrapy(name: str) -> dict[str, str]:
    return {"scrapy": name}


class CrawlSettings(ArchiveSettings):
    user_agent: str = Field(DEFAULT_USER_AGENT, description="User-Agent of every request.",
                            json_schema_extra=_scrapy("USER_AGENT"))
    download_timeout: float = Field(30.0, gt=0, description="Seconds a download may take.",
                                    json_schema_extra=_scrapy("DOWNLOAD_TIMEOUT"))
    download_maxsize: int = Field(
        32 * 1024 * 1024, ge=0, json_schema_extra=_scrapy("DOWNLOAD_MAXSIZE"),
        description="Bytes; a larger body is archived cut at this size, with "
        "`WARC-Truncated: length`.")
    max_header_line: int = Field(
        256 * 1024, ge=1024, description="Bytes a response's status line or one header line "
        "may take (browsers accept 256 KiB; Twisted alone 16 KiB). A longer line ends the "
        "exchange, archived as far as it came with `WARC-Truncated: unspecified`.")
    log_level: str = Field("INFO", description="Scrapy log level of crawl processes.",
                           json_schema_extra=_scrapy("LOG_LEVEL"))
    allowed_networks: str = Field(
        "", description="Comma-separated CIDR networks that may be crawled although not "
        "public (the SSRF guard refuses loopback, private and link-local addresses), e.g. "
        "`127.0.0.0/8`.")
    warc_prefix: str = Field("newsarchive", description="First part of WARC file names.")
    warc_max_size: int = Field(1024**3, ge=1, description="Bytes after which a WARC file is "
                               "closed and a new one started.")
    warc_max_age: float = Field(900.0, gt=0, description="Seconds after which an open WARC "
                                "file is closed and stored, so news reaches storage promptly.")
    warc_gzip_level: int = Field(
        6, ge=0, le=9, description="Deflate level of each record's gzip member (records "
        "whose payload is already compressed use stored blocks).")
    catalog_flush_interval: float = Field(1.0, gt=0, description="Seconds between catalog "
                                          "commits during a crawl.")
    min_free_space: int = Field(
        100_000_000, ge=0, description="Bytes that must stay free on the spool's disk "
        "(and an SQLite catalog's): a crawl stops (failed: `disk_full`) before going below, "
        "with room left to close its WARC and record the outcome (as Heritrix's disk space "
        "monitor). 0: no check.")
    catalog_retry_seconds: float = Field(
        60.0, ge=0, description="Seconds a crawl keeps retrying a catalog that fails to "
        "record what was written (a lock, a restarting server) before it stops, failed "
        "(`catalog_unavailable`). A full or read-only disk stops it at once.")
    progress_interval: float = Field(2.0, gt=0, description="Seconds between live stats "
                                     "updates of the job's ledger row.")
    extract_workers: int = Field(1, ge=1, description="Extraction processes per crawl.")
    extract_backlog: int = Field(200, ge=2, description="Pages waiting for extraction before "
                                 "the crawl pauses.")
    incremental: bool = Field(
        True, description="Site crawls skip articles the site's earlier crawls archived; "
        "start pages are fetched on every run, other hubs (sections, feeds, sitemaps) when "
        "their adaptive refresh interval has passed.")
    sitemap_horizon: str = Field(
        "2d", description="Site crawls skip sitemap entries and feed items older than this "
        "(a site's own horizon wins; empty: none). URL crawls use none.")
    hub_refresh_min: str = Field(
        "15m", description="Site crawls: the shortest interval at which a hub (start page, "
        "section, feed, sitemap) is refetched; each hub's interval adapts between this and "
        "`NEWSARCHIVE_HUB_REFRESH_MAX`, shorter while new articles keep appearing on it. A "
        "site's own bounds win.")
    hub_refresh_max: str = Field(
        "1d", description="Site crawls: the longest interval at which a hub is refetched "
        "(at least `NEWSARCHIVE_HUB_REFRESH_MIN`).")
    refresh_learn_min_edits: int = Field(
        30, ge=1, description="Site crawls of a site whose refresh ages include `auto`: the "
        "edits of its articles that must have been observed before its refresh ages are "
        "learned from them (before that, the ages it gives are used as they are).")
    refresh_explore_share: float = Field(
        0.1, ge=0, le=1, description="Site crawls of a site whose refresh ages are learned: "
        "the share of its articles (chosen by URL hash) that keep the ages it gives, so "
        "that edits the learned ages would miss can still be observed.")
    trap_max_per_pattern: int = Field(
        10, ge=0, description="At most this many URLs per crawl of one calendar, pagination "
        "or filter family (non-article URLs that differ only in the digits of their path "
        "and in their query), until fetched members of the family turn out to "
        "be articles: then none (remembered for the site).")
    hub_share: float = Field(
        0.08, gt=0, le=1, description="The share of a crawl's page budget that hubs (section "
        "pages, pagination, tag and calendar pages, as their URLs say) may take; the rest "
        "goes to articles, which are fetched first. Start URLs are not counted.")
    requisites: bool = Field(
        True, description="Fetch and archive what each archived HTML page needs to render "
        "(stylesheets and what they import, fonts, images, icons, scripts, media, same-site "
        "frames), on any host, each URL once per crawl. They do not count against the page "
        "budget.")
    requisites_per_page: int = Field(200, ge=0, description="At most this many requisites "
                                     "of one page (stylesheets first).")
    requisites_max: int = Field(20_000, ge=0, description="At most this many requisites per "
                                "crawl.")
    requisites_obey_robots: bool = Field(
        False, description="Apply robots.txt to requisites too, those a page's browser requests "
        "included. Off by default, as "
        "Browsertrix-crawler and Brozzler (robots.txt decides which pages are crawled, not "
        "what a page needs to render); on is Heritrix's and wget's default.")
    revisits: bool = Field(True, description="Write an unchanged payload as a revisit record "
                           "instead of a second copy.")
    conditional_requests: bool = Field(
        True, description="Refetch page requisites, feeds, sitemaps, hubs and start pages with "
        "`If-None-Match` / `If-Modified-Since` from their last capture; a `304 Not Modified` "
        "costs no body and is archived as a server-not-modified revisit (needs "
        "`NEWSARCHIVE_REVISITS`).")
    gc_freeze: bool = Field(True, description="Freeze the start-up heap when the engine "
                            "starts (fewer, shorter garbage collections).")
    render: str = Field(
        "auto", description="How pages are captured when neither the crawl (`--render`) "
        "nor its site says: `static` (the HTTP response only), `browser` (every page also "
        "rendered in Chromium: what its scripts fetch, a screenshot, the rendered DOM), "
        "`auto` (static, and in Chromium when the page looks script-built).")
    chromium: str = Field(
        "", description="Chromium executable for browser capture and the capture check; "
        "empty: `chromium` on the PATH (Debian's `chromium` package works; no browser is "
        "downloaded). Without one, pages are captured statically (`apt-get install "
        "chromium`).")
    browser_timeout: float = Field(30.0, gt=0, description="Seconds Chromium may spend on "
                                   "one page (load, network quiet, scrolling, screenshot).")
    browser_pages: int = Field(2, ge=1, description="Pages rendered in Chromium at once.")
    browser_viewport: str = Field(
        "1280x800", pattern=r"^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$",
        description="Chromium's window size, WIDTHxHEIGHT in CSS pixels (the screenshot "
        "is as wide, and as tall as the page).")

    @field_validator("render")
    @classmethod
    def _render_mode(cls, value: str) -> str:
        if value not in RENDER_MODES:
            raise ValueError(f"use one of {', '.join(RENDER_MODES)}")
        return value

    @field_validator("hub_refresh_min", "hub_refresh_max")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("hub_refresh_max")
    @classmethod
    def _bounds_in_order(cls, value: str, info: ValidationInfo) -> str:
        shortest = info.data.get("hub_refresh_min")  # absent when it was invalid itself
        if shortest is not None and parse_duration(value) < parse_duration(shortest):
            raise ValueError(f"shorter than NEWSARCHIVE_HUB_REFRESH_MIN ({shortest}): the "
                             "longest interval must be at least the shortest")
        return value

    @field_validator("allowed_networks")
    @classmethod
    def _networks_parse(cls, value: str) -> str:
        parse_networks(value)
        return value

    def network_policy(self) -> NetworkPolicy:
        """The SSRF guard's policy with these settings' allowed networks."""
        return NetworkPolicy(parse_networks(self.allowed_networks))

    def scrapy_settings(self) -> dict[str, Any]:
        """The Scrapy settings these values give a crawl. Locations the data directory
        implies stay unset, so that a crawl's own ``NEWSARCHIVE_DATA_DIR`` moves them too."""
        derived = self.derived_locations()
        settings = {}
        for name in CrawlSettings.model_fields:
            value = getattr(self, name)
            if derived.get(name) == value:
                value = None
            settings[scrapy_name(name)] = str(value) if isinstance(value, Path) else value
        return settings


def scrapy_name(field: str) -> str:
    extra = CrawlSettings.model_fields[field].json_schema_extra
    return extra["scrapy"] if isinstance(extra, dict) else env_name(field)  # type: ignore[return-value]


def archive_settings(settings: BaseSettings) -> ArchiveSettings:
    """The archive locations of a crawl, from its Scrapy settings."""
    given = {name: settings.get(scrapy_name(name)) for name in ArchiveSettings.model_fields}
    return ArchiveSettings.load(**{k: v for k, v in given.items() if v is not None})
