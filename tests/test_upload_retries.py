"""Failed uploads are retried: at the start of the next crawl and in the background by the
service (and counted in /metrics). Also the S3 client settings non-AWS stores need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from archive.config import ArchiveSettings, SettingsError
from archive.models import WarcFile
from archive.s3 import S3Storage
from scheduler.config import ServiceSettings
from tests.support.cli import Archive
from tests.support.harness import wait_until
from tests.support.service import metric

ARTICLE = "/world/2026/11/03/harbour-bridge-reopens.html"


def block_storage(data_dir: Path) -> Path:
    """A regular file where ``storage/warcs/`` must be created: every upload fails."""
    blocker = data_dir / "storage" / "warcs"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_bytes(b"not a directory")
    return blocker


def states(archive: Archive) -> dict[str, str]:
    with archive.catalog().session() as session:
        return dict(session.execute(select(WarcFile.filename, WarcFile.state)).all())


def test_s3_client_uses_path_style_standard_retries_and_optional_checksums() -> None:
    storage = S3Storage("s3://bucket/prefix", endpoint_url="http://127.0.0.1:9",
                        aws_access_key_id="id", aws_secret_access_key="secret")
    config = storage.client.meta.config
    assert config.s3["addressing_style"] == "path"
    # botocore stores max_attempts=8 retries as 9 attempts in all, with exponential backoff
    assert config.retries == {"mode": "standard", "total_max_attempts": 9}
    assert config.request_checksum_calculation == "when_required"
    assert config.response_checksum_validation == "when_required"


def test_s3_retries_are_configurable_and_checked(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"NEWSARCHIVE_DATA_DIR": str(tmp_path), "NEWSARCHIVE_STORAGE_URL": "s3://b/p",
           "NEWSARCHIVE_S3_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "id",
           "AWS_SECRET_ACCESS_KEY": "secret", "NEWSARCHIVE_S3_RETRIES": "2"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    storage = ArchiveSettings.load().open_storage()
    assert storage.client.meta.config.retries["total_max_attempts"] == 3
    for bad in ("-1", "many", "1000"):
        monkeypatch.setenv("NEWSARCHIVE_S3_RETRIES", bad)
        with pytest.raises(SettingsError, match=f"NEWSARCHIVE_S3_RETRIES='{bad}'.*0 to 100"):
            ArchiveSettings.load()


def test_service_passes_s3_retries_to_its_archive_and_crawls(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.delenv("NEWSARCHIVE_S3_RETRIES", raising=False)
    config = tmp_path / "newsarchive.toml"
    config.write_text(f"data_dir = '{tmp_path}'\ns3_retries = 3\n")
    monkeypatch.setenv("NEWSARCHIVE_CONFIG", str(config))
    settings = ServiceSettings()
    assert settings.s3_retries == 3
    assert settings.crawl_environment()["NEWSARCHIVE_S3_RETRIES"] == "3"
    monkeypatch.setenv("NEWSARCHIVE_CONFIG", str(tmp_path / "none.toml"))
    assert ServiceSettings(data_dir=tmp_path).s3_retries == 8
    with pytest.raises(ValidationError, match="s3_retries"):
        ServiceSettings(data_dir=tmp_path, s3_retries=101)


@pytest.mark.slow
def test_the_next_crawl_stores_what_an_earlier_one_could_not(tmp_path: Path,
                                                             demo_site: Any) -> None:
    archive = Archive(tmp_path / "data")
    blocker = block_storage(archive.data_dir)
    first = archive.crawl(demo_site.url + ARTICLE, "--depth", "0", "--no-extract")
    assert states(archive) == {first["warc_files"][0]: "closed"}

    blocker.unlink()
    second = archive.crawl(demo_site.url + "/", "--depth", "0", "--no-extract")
    assert states(archive) == {first["warc_files"][0]: "uploaded",
                               second["warc_files"][0]: "uploaded"}
    assert list(archive.config.spool_dir.iterdir()) == []
    raw = archive.cli("snapshot", demo_site.url + ARTICLE, "--raw").stdout
    assert raw == demo_site.served_bytes(ARTICLE)


@pytest.mark.slow
def test_the_service_retries_uploads_in_the_background(service_factory: Any,
                                                       demo_site: Any) -> None:
    service = service_factory({"NEWSARCHIVE_UPLOAD_RETRY_SECONDS": "0.5"}, start=False)
    blocker = block_storage(service.data_dir)
    service.start()
    job = service.wait_job(service.crawl([demo_site.url + ARTICLE], depth=0)["id"])
    assert job["status"] == "succeeded"
    (name,) = job["warc_files"]
    assert states(service.archive) == {name: "closed"}
    wait_until(lambda: metric(service.client.get("/metrics").text,
                              "newsarchive_upload_failures_total") >= 1, 10)
    assert metric(service.client.get("/metrics").text, "newsarchive_uploads_pending") == 1

    blocker.unlink()  # storage is back: no command, the service stores it by itself
    wait_until(lambda: states(service.archive) == {name: "uploaded"}, 15)
    metrics = service.client.get("/metrics").text
    assert metric(metrics, "newsarchive_upload_retries_stored_total") >= 1
    assert metric(metrics, "newsarchive_uploads_pending") == 0
    assert (service.data_dir / "storage" / "warcs" / name).is_file()
