"""The service at run time: scheduler configuration, OpenAPI, metrics names, live job
progress and the number of crawl slots."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anyio import to_thread
from fastapi.testclient import TestClient
from sqlalchemy import text

from scheduler.config import LOCAL_API_THREADS, NETWORK_API_THREADS, ServiceSettings
from tests.support.api import api_client
from tests.support.harness import wait_until

DOCS = Path(__file__).resolve().parent.parent / "docs"
PUBLIC = "http://93.184.216.34/"  # a public literal: passes the SSRF gate without DNS


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with api_client(tmp_path / "data", misfire_grace_seconds=120) as test_client:
        yield test_client


def stored_schedule_ids(client: TestClient) -> list[str]:
    engine = client.app.state.service.catalog.engine
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(text("SELECT id FROM apscheduler_jobs"))]


def limiter_tokens(client: TestClient) -> float:
    """Threads the app's event loop lends to blocking (sync) request handlers."""
    assert client.portal is not None

    async def tokens() -> float:
        return to_thread.current_default_thread_limiter().total_tokens

    return client.portal.call(tokens)


def test_request_threads_follow_the_archive_kind(tmp_path: Path) -> None:
    local = ServiceSettings(data_dir=tmp_path / "data")
    assert local.threads == LOCAL_API_THREADS  # SQLite and files: CPU-bound, few threads
    with api_client(tmp_path / "data") as test_client:
        assert limiter_tokens(test_client) == LOCAL_API_THREADS
    s3 = ServiceSettings(data_dir=tmp_path / "data", storage_url="s3://bucket/news")
    assert s3.threads == NETWORK_API_THREADS  # network waits: many
    chosen = ServiceSettings(data_dir=tmp_path / "data", api_threads=12)
    assert chosen.threads == 12
    with api_client(tmp_path / "data", api_threads=12) as test_client:
        assert limiter_tokens(test_client) == 12


def test_schedules_live_in_the_catalog_with_coalescing_and_a_misfire_grace(client) -> None:
    created = client.post("/api/v1/sites", json={
        "name": "gazette", "start_urls": [PUBLIC], "schedule": {"cron": "*/30 * * * *"}})
    assert created.status_code == 201, created.text
    assert created.json()["next_run"] is not None
    job = client.app.state.service.scheduler.get_job("site:gazette")
    assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 120)
    assert stored_schedule_ids(client) == ["site:gazette"]

    changed = client.patch("/api/v1/sites/gazette", json={"schedule": {"interval_seconds": 90}})
    assert changed.status_code == 200
    job = client.app.state.service.scheduler.get_job("site:gazette")
    assert job.trigger.interval.total_seconds() == 90

    assert client.delete("/api/v1/sites/gazette").status_code == 204
    assert stored_schedule_ids(client) == []


def test_openapi_docs_and_every_documented_metric(client) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/crawls", "/api/v1/crawls/{job_id}/cancel", "/api/v1/sites",
            "/api/v1/captures", "/healthz", "/metrics"} <= set(paths)
    metrics = client.get("/metrics").text
    documented = re.findall(r"^\| `(newsarchive_\w+)", (DOCS / "api.md").read_text(), re.M)
    assert len(documented) >= 14
    for name in documented:  # a histogram is documented by its name, exposed by its parts
        assert re.search(rf"^{name}(_count)?[{{ ]", metrics, re.M), name
    assert 'newsarchive_archive_failures_total{reason="disk_full"} 0.0' in metrics


@pytest.mark.slow
def test_running_jobs_report_progress_and_slots_are_respected(service_factory: Any,
                                                               demo_site: Any) -> None:
    service = service_factory({"NEWSARCHIVE_MAX_CRAWLS": "2"})
    jobs = [service.crawl([f"{demo_site.url}/", f"{demo_site.url}/slow?delay=4&t={i}"],
                          depth=0)["id"] for i in range(3)]

    def live_progress() -> dict[str, Any] | None:
        for job_id in jobs:
            job = service.job(job_id)
            if job["status"] == "running" and job["heartbeat_at"] and job["stats"].get("pages"):
                return job
        return None

    live = wait_until(live_progress, 15)
    assert live["stats"]["pages"] >= 1 and live["finished_at"] is None

    seen_running: list[int] = []

    def all_done() -> list[str] | None:
        statuses = [service.job(job_id)["status"] for job_id in jobs]
        seen_running.append(statuses.count("running"))
        return statuses if all(s in ("succeeded", "failed", "cancelled")
                               for s in statuses) else None

    assert wait_until(all_done, 40) == ["succeeded"] * 3
    most_running = max(seen_running)
    assert most_running == 2, "two slots: two crawls at once, never three"
