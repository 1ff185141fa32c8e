"""Service settings: environment variables ``NEWSARCHIVE_*`` and an optional TOML file.

:class:`ServiceSettings` extends the crawl settings (``crawler.config``), which extend the
archive settings (``archive.config``): each setting is declared once, in the lowest layer
that needs it. The TOML file is ``NEWSARCHIVE_CONFIG`` (default ``newsarchive.toml`` if
present); its keys are the lower-case field names. Environment variables win over the file.
Every setting has a safe default: loopback only, no token needed there, SQLite and local
files. ``docs/configuration.md`` is generated from these models
(``python -m scheduler.config_reference``).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Self

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    TomlConfigSettingsSource,
)

from archive.config import ArchiveSettings, SettingsError, env_name
from crawler.config import CrawlSettings

LOCAL_API_THREADS, NETWORK_API_THREADS = 4, 40


def config_file() -> str:
    """The TOML file ``serve`` and ``worker`` read (``NEWSARCHIVE_CONFIG``)."""
    return os.environ.get("NEWSARCHIVE_CONFIG") or "newsarchive.toml"


class ServiceSettings(CrawlSettings):
    api_token: str | None = Field(
        None, repr=False, description="Bearer token required by every write endpoint. "
        "Without one, `serve` only binds a loopback address.")
    max_crawls: int = Field(2, ge=1, le=64, description="Crawls run at once by `serve` "
                            "(and the default slots of `worker`).")
    sites_file: Path | None = Field(None, description="A declarative `sites.toml` "
                                    "(`[[site]]` tables) synced into the catalog at start.")
    crawl_rate_limit: int = Field(30, ge=1, description="Crawl requests per token (or "
                                  "client address) per minute.")
    cancel_grace_seconds: float = Field(30.0, gt=0, description="Seconds a cancelled or "
                                        "stopped crawl gets to close its WARC before SIGKILL.")
    misfire_grace_seconds: int = Field(300, ge=1, description="Seconds a schedule that fell "
                                       "due while the service was down may still fire.")
    dispatch_interval: float = Field(1.0, gt=0, description="Seconds between dispatcher "
                                     "ticks (and the workers' idle poll).")
    upload_retry_seconds: float = Field(60.0, gt=0, description="Seconds between background "
                                        "retries of WARCs waiting in the spool.")
    broker_url: str | None = Field(
        None, description="`redis://host:6379/0`: crawl jobs go through Dramatiq to "
        "`newsarchive worker` processes instead of the embedded dispatcher "
        "(docs/deployment.md).")
    broker_namespace: str = Field("newsarchive", description="Prefix of every Redis key.")
    broker_queue: str = Field("crawls", description="Dramatiq queue of crawl jobs.")
    worker_heartbeat_timeout: float = Field(
        60.0, gt=0, description="Seconds without a Redis heartbeat after which a worker is "
        "dead and its messages are redelivered.")
    broker_maintenance_chance: int = Field(
        10_000, ge=1, le=1_000_000, description="Per million broker commands: how often one "
        "runs the dead-worker check (Redis KEYS).")
    redispatch_seconds: float = Field(600.0, gt=0, description="Seconds after which a queued "
                                      "job's unclaimed message is sent again.")
    site_busy_delay: float = Field(5.0, gt=0, description="Seconds before a worker retries "
                                   "a job whose site is being crawled.")
    leader_retry_seconds: float = Field(5.0, gt=0, description="Seconds between a standby "
                                        "scheduler's tries of the leader lock.")
    replay_port: int | None = Field(
        None, ge=0, le=65535, description="Port of the replay origin: `serve` answers "
        "`/web/` replays there, on their own origin, and redirects them from the API's. "
        "Unset: `--port` + 1. 0: replays on the API's origin (still sandboxed).")
    replay_url: str | None = Field(
        None, description="Public base URL of the replay origin when a proxy puts it "
        "elsewhere (`https://replay.example.org/`); unset: the request's host name on "
        "the replay port.")
    capture_check: bool = Field(
        False, description="After each crawl job, render the archived view of the HTML "
        "pages it captured in Chromium and compare it with the live page: the share of "
        "differing pixels and the resources that failed to load in replay are stored on "
        "each capture (`newsarchive check`; docs/operations.md). Needs Chromium "
        "(`NEWSARCHIVE_CHROMIUM`). Also read by `newsarchive crawl`; `newsarchive demo` "
        "turns it on.")
    capture_check_max_pages: int = Field(
        20, ge=1, le=10_000, description="HTML pages of one crawl job that the capture "
        "check renders (the first ones archived); each costs two page loads in Chromium.")
    capture_check_timeout: float = Field(
        30.0, gt=0, description="Seconds the capture check gives one page load (the archived "
        "view or the live page) before it counts the page as not rendered.")
    webhook_interval: float = Field(
        10.0, gt=0, description="Seconds between the service's looks for change webhook "
        "deliveries that are due (docs/api.md, Change webhooks).")
    webhook_timeout: float = Field(
        10.0, gt=0, le=300, description="Seconds a webhook receiver gets to answer one POST "
        "before the attempt counts as failed.")
    webhook_max_attempts: int = Field(
        8, ge=1, le=100, description="POSTs of one change to a webhook before it is given up "
        "(counted in `newsarchive_webhook_deliveries_total{outcome=\"gave_up\"}`).")
    webhook_retry_seconds: float = Field(
        60.0, gt=0, description="Seconds before the second attempt of a failed webhook "
        "delivery; each further retry waits twice as long as the one before, up to "
        "`webhook_retry_max_seconds`.")
    webhook_retry_max_seconds: float = Field(
        3600.0, gt=0, description="The longest wait between two attempts of a webhook "
        "delivery.")
    api_threads: int | None = Field(
        None, ge=1, le=256, description="Threads for blocking request work (catalog "
        f"queries, storage reads). Unset: {LOCAL_API_THREADS} with SQLite and local files "
        f"(CPU-bound), else {NETWORK_API_THREADS} (network waits).")

    @field_validator("broker_url")
    @classmethod
    def _broker_is_redis(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("give a redis:// URL, or unset it to dispatch crawls in this "
                             "process")
        return value or None

    @classmethod
    def load(cls, **values: Any) -> Self:
        try:
            return super().load(**values)
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{config_file()}: {exc}") from None

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings,
                TomlConfigSettingsSource(settings_cls, toml_file=config_file()))

    @property
    def threads(self) -> int:
        if self.api_threads is not None:
            return self.api_threads
        local = (str(self.database_url).startswith("sqlite")
                 and str(self.storage_url).startswith("file:"))
        return LOCAL_API_THREADS if local else NETWORK_API_THREADS

    def crawl_environment(self) -> dict[str, str]:
        """Environment for crawl child processes: the same archive, the same policy (every
        crawl setting given to the service, from its environment or its TOML file)."""
        given = set(ArchiveSettings.model_fields) | (
            self.model_fields_set & set(CrawlSettings.model_fields))
        return {env_name(name): str(getattr(self, name)) for name in sorted(given)
                if getattr(self, name) is not None}
