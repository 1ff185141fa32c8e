"""Service settings: environment variables ``NEWSARCHIVE_*`` and an optional TOML file.

The TOML file is ``NEWSARCHIVE_CONFIG`` (default ``newsarchive.toml`` if present); keys are
the lower-case names below. Environment variables win over the file. Every setting has a
safe default: loopback only, no token needed there, SQLite and local files.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from archive.config import ArchiveConfig
from crawler.network_policy import parse_networks

LOCAL_API_THREADS, NETWORK_API_THREADS = 4, 40


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSARCHIVE_", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str | None = None
    storage_url: str | None = None
    spool_dir: Path | None = None
    api_token: str | None = Field(default=None, repr=False)
    max_crawls: int = Field(default=2, ge=1, le=64)
    allowed_networks: str = ""
    sites_file: Path | None = None  # declarative sites.toml synced at start
    crawl_rate_limit: int = Field(default=30, ge=1)  # POST /api/v1/crawls per token per minute
    cancel_grace_seconds: float = Field(default=30.0, gt=0)
    misfire_grace_seconds: int = Field(default=300, ge=1)
    dispatch_interval: float = Field(default=1.0, gt=0)
    upload_retry_seconds: float = Field(default=60.0, gt=0)  # background retry of uploads
    s3_endpoint_url: str | None = None  # MinIO, Ceph, R2, Garage...
    s3_retries: int | None = Field(default=None, ge=0, le=100)  # unset: ArchiveConfig's 8
    # Scale-out (docs/deployment.md): jobs go through Dramatiq on Redis to ``newsarchive
    # worker`` processes instead of the embedded dispatcher.
    broker_url: str | None = None  # redis://host:6379/0
    broker_namespace: str = "newsarchive"  # prefix of every Redis key
    broker_queue: str = "crawls"
    # a worker silent (no Redis heartbeat) this long is dead: its messages are redelivered
    worker_heartbeat_timeout: float = Field(default=60.0, gt=0)
    # per million broker commands: how often one runs the dead-worker check (Redis KEYS)
    broker_maintenance_chance: int = Field(default=10_000, ge=1, le=1_000_000)
    redispatch_seconds: float = Field(default=600.0, gt=0)  # resend unclaimed queued jobs
    site_busy_delay: float = Field(default=5.0, gt=0)  # retry a job whose site is crawling
    leader_retry_seconds: float = Field(default=5.0, gt=0)  # standby scheduler's lock retry
    # Threads for blocking request work (catalog queries, storage reads). Unset: 4 when the
    # catalog is SQLite and storage local files (CPU-bound: more threads only queue on the
    # GIL and stretch tail latency), else 40, as anyio's default, for network waits.
    api_threads: int | None = Field(default=None, ge=1, le=256)

    @field_validator("broker_url")
    @classmethod
    def _broker_is_redis(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"NEWSARCHIVE_BROKER_URL must be a redis:// URL, got {value!r}; "
                             "unset it to dispatch crawls in this process")
        return value or None

    @field_validator("allowed_networks")
    @classmethod
    def _networks_parse(cls, value: str) -> str:
        parse_networks(value)
        return value

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = os.environ.get("NEWSARCHIVE_CONFIG", "newsarchive.toml")
        return (init_settings, env_settings,
                TomlConfigSettingsSource(settings_cls, toml_file=toml_file))

    @property
    def threads(self) -> int:
        if self.api_threads is not None:
            return self.api_threads
        archive = self.archive
        local = (archive.database_url.startswith("sqlite")
                 and archive.storage_url.startswith("file:"))
        return LOCAL_API_THREADS if local else NETWORK_API_THREADS

    @property
    def archive(self) -> ArchiveConfig:
        return ArchiveConfig.resolve(
            self.data_dir, self.database_url, self.storage_url, self.spool_dir,
            self.s3_endpoint_url, None if self.s3_retries is None else str(self.s3_retries))

    def crawl_environment(self) -> dict[str, str]:
        """Environment for crawl child processes: the same archive, the same policy."""
        archive = self.archive
        return {
            "NEWSARCHIVE_DATA_DIR": str(archive.data_dir),
            "NEWSARCHIVE_DATABASE_URL": archive.database_url,
            "NEWSARCHIVE_STORAGE_URL": archive.storage_url,
            "NEWSARCHIVE_SPOOL_DIR": str(archive.spool_dir),
            "NEWSARCHIVE_ALLOWED_NETWORKS": self.allowed_networks,
            "NEWSARCHIVE_S3_RETRIES": str(archive.s3_retries),
            **({"NEWSARCHIVE_S3_ENDPOINT_URL": archive.s3_endpoint_url}
               if archive.s3_endpoint_url else {}),
        }
