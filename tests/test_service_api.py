"""The HTTP API of ``newsarchive serve``, driven over HTTP against a real service process:
on-demand crawls, coalescing, auth, SSRF gate, validation, rate limit, health and metrics."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from archive.models import Capture, WarcFile, WarcState
from archive.snapshot import closest_capture, load_snapshot
from scheduler.demo.server import DemoSite
from tests.support.browser import require_chromium
from tests.support.harness import environ_without_settings, free_port, wait_until
from tests.support.service import RunningService, metric

pytestmark = pytest.mark.slow

ARTICLE = "/world/2026/11/03/harbour-bridge-reopens.html"


# -- on-demand crawls -----------------------------------------------------------------------


def test_on_demand_crawl_is_archived_and_readable(service: RunningService,
                                                  demo_site: DemoSite) -> None:
    url = demo_site.url + ARTICLE
    response = service.client.post("/api/v1/crawls",
                                   json={"urls": [url], "limits": {"depth": 0},
                                         "render": "static"})
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "queued" and job["trigger"] == "api"
    assert job["spec"]["urls"] == [url] and job["spec"]["depth"] == 0
    assert job["spec"]["render"] == "static"
    assert response.headers["location"] == f"/api/v1/crawls/{job['id']}"

    done = service.wait_job(job["id"], timeout=40)
    assert done["status"] == "succeeded", done
    assert done["error"] is None and done["attempts"] == 1
    assert done["stats"]["pages"] >= 1 and done["stats"]["articles"] >= 1
    assert done["stats"]["browser_pages"] == 0  # "render": "static"
    assert done["warc_files"], done
    assert all(done[k].endswith("Z") for k in ("created_at", "started_at", "finished_at"))
    stored = service.data_dir / "storage" / "warcs"
    assert all((stored / name).is_file() for name in done["warc_files"])

    raw = service.archive.cli("snapshot", url, "--raw").stdout
    assert raw == demo_site.served_bytes(ARTICLE)
    captures = [line for line in service.archive.cli("captures", url, "--json").text
                .splitlines() if line]
    assert [c["job_id"] for c in map(json.loads, captures)] == [job["id"]]

    # Replays are answered on their own origin: the API's redirects there
    path = f"/web/{json.loads(captures[0])['timestamp']}id_/{url}"
    moved = service.client.get(path)
    assert (moved.status_code, moved.headers["location"]) == (302, service.replay_url + path)
    # Through the real server, a replay carries the archived Date and Server, once each
    replay = httpx.get(service.replay_url + path)
    assert replay.status_code == 200 and replay.content == demo_site.served_bytes(ARTICLE)
    assert replay.headers.get_list("server") == ["HarbourGazetteDemo/1.0"]
    assert len(replay.headers.get_list("date")) == 1
    config = service.archive.config
    with service.archive.catalog().session() as session:
        archived = load_snapshot(closest_capture(session, url), config.open_storage(),
                                 config.spool_dir, session).http_headers
    assert replay.headers["date"] == archived.get_header("Date")
    assert "date" in service.client.get("/healthz").headers  # everything else is dated


def test_a_crawl_request_chooses_its_render_mode(service: RunningService,
                                                demo_site: DemoSite) -> None:
    """``"render": "browser"`` renders the page in Chromium although the service's mode is
    the default (auto, which keeps this static page static)."""
    require_chromium()
    url = demo_site.url + ARTICLE
    response = service.client.post("/api/v1/crawls", json={
        "urls": [url], "limits": {"depth": 0, "extract": False}, "render": "browser"})
    assert response.status_code == 202, response.text
    done = service.wait_job(response.json()["id"], timeout=90)
    assert done["status"] == "succeeded", done
    assert (done["spec"]["render"], done["stats"]["browser_pages"]) == ("browser", 1)


def test_duplicate_requests_coalesce(service: RunningService, demo_site: DemoSite) -> None:
    page = demo_site.url + "/culture/"
    keyed = service.client.post("/api/v1/crawls", json={"urls": [page]},
                                headers={"Idempotency-Key": "k-123"})
    assert keyed.status_code == 202, keyed.text
    keyed_id = keyed.json()["id"]

    slow = f"{demo_site.url}/slow?delay=1&t=coalesce"
    body = {"urls": [slow], "limits": {"depth": 0}}
    first = service.client.post("/api/v1/crawls", json=body)
    assert first.status_code == 202, first.text
    job_id = first.json()["id"]
    again = service.client.post("/api/v1/crawls", json=body)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == job_id
    assert again.headers["location"] == f"/api/v1/crawls/{job_id}"

    # a site: two requests (and the site's crawl endpoint) make one job, one crawl
    marker = f"{demo_site.url}/slow?delay=1&t=site-coalesce"
    site = service.client.post("/api/v1/sites", json={
        "name": "coalesced", "start_urls": [marker], "max_depth": 0, "max_pages": 5})
    assert site.status_code == 201, site.text
    a = service.client.post("/api/v1/crawls", json={"site": "coalesced"})
    b = service.client.post("/api/v1/crawls", json={"site": "coalesced"})
    c = service.client.post("/api/v1/sites/coalesced/crawl", json={})
    assert (a.status_code, b.status_code, c.status_code) == (202, 200, 200), \
        (a.text, b.text, c.text)
    assert a.json()["id"] == b.json()["id"] == c.json()["id"]
    assert a.json()["site"] == "coalesced"

    for job in (keyed_id, job_id, a.json()["id"]):
        assert service.wait_job(job, timeout=40)["status"] == "succeeded"
    site_jobs = service.jobs(site="coalesced")
    assert [j["id"] for j in site_jobs] == [a.json()["id"]]
    assert service.client.get("/api/v1/sites/coalesced").json()["last_job"] == a.json()["id"]
    requested = demo_site.requests.paths()
    for path in ("/slow?delay=1&t=coalesce", "/slow?delay=1&t=site-coalesce"):
        assert requested.count(path) == 1, (path, requested)
    assert len(service.jobs()) == 3

    # an Idempotency-Key returns its job even after the job finished ...
    replay = service.client.post("/api/v1/crawls", json={"urls": [page]},
                                 headers={"Idempotency-Key": "k-123"})
    assert replay.status_code == 200, replay.text
    assert replay.json()["id"] == keyed_id and replay.json()["status"] == "succeeded"
    # ... while without it, the same URLs are a new crawl once the first is over
    fresh = service.client.post("/api/v1/crawls", json={"urls": [page]})
    assert fresh.status_code == 202 and fresh.json()["id"] not in (keyed_id, job_id)


def test_identical_requests_racing_each_other_make_one_job(service_factory: Any,
                                                            demo_site: DemoSite) -> None:
    service: RunningService = service_factory({
        "NEWSARCHIVE_MAX_CRAWLS": "1", "NEWSARCHIVE_CRAWL_RATE_LIMIT": "1000",
        "NEWSARCHIVE_CANCEL_GRACE_SECONDS": "1"})
    busy = service.crawl([f"{demo_site.url}/slow?delay=10&t=race-busy"])
    service.wait_job(busy["id"], ("running",))  # the only slot: the raced jobs stay queued
    created: list[int] = []
    with ThreadPoolExecutor(8) as pool:
        for n in range(30):
            body = {"urls": [f"{demo_site.url}/?race={n}"]}
            responses = list(pool.map(
                lambda _, body=body: service.client.post("/api/v1/crawls", json=body),
                range(8)))
            ids = {r.json()["id"] for r in responses}
            assert len(ids) == 1, f"round {n}: {[r.text for r in responses]}"
            assert sorted(r.status_code for r in responses) == [200] * 7 + [202]
            created += ids
    queued = [j for j in service.jobs(status="queued")]
    assert sorted(j["id"] for j in queued) == sorted(created)
    assert service.client.post(f"/api/v1/crawls/{busy['id']}/cancel", json={}).status_code == 202


# -- auth -----------------------------------------------------------------------------------


def test_write_endpoints_need_the_bearer_token(service_factory: Any,
                                               demo_site: DemoSite) -> None:
    token = "s3cret-token"
    service: RunningService = service_factory({"NEWSARCHIVE_API_TOKEN": token})
    client = service.client
    good = {"Authorization": f"Bearer {token}"}
    bad_headers: list[dict[str, str]] = [
        {}, {"Authorization": "Bearer wrong"}, {"Authorization": token},
        {"Authorization": f"Basic {token}"}, {"Authorization": f"Bearer {token}x"},
    ]

    def refused(method: str, path: str, **kwargs: Any) -> None:
        for headers in bad_headers:
            response = client.request(method, path, headers=headers, **kwargs)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert "Bearer" in response.json()["error"]
            assert response.headers["www-authenticate"].startswith("Bearer")

    slow = f"{demo_site.url}/slow?delay=3&t=auth"
    crawl_body = {"urls": [slow], "limits": {"depth": 0}}
    refused("POST", "/api/v1/crawls", json=crawl_body)
    site_body = {"name": "authsite", "start_urls": [demo_site.url + "/"], "max_depth": 0}
    refused("POST", "/api/v1/sites", json=site_body)
    assert client.get("/api/v1/crawls").json()["items"] == []
    assert client.get("/api/v1/sites").json() == []

    created = client.post("/api/v1/crawls", json=crawl_body, headers=good)
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    site = client.post("/api/v1/sites", json=site_body, headers=good)
    assert site.status_code == 201, site.text

    refused("PATCH", "/api/v1/sites/authsite", json={"max_pages": 7})
    refused("POST", "/api/v1/sites/authsite/crawl")
    refused("POST", f"/api/v1/crawls/{job_id}/cancel")
    refused("DELETE", "/api/v1/sites/authsite")
    assert client.get("/api/v1/sites/authsite").json()["max_pages"] == 1000
    assert client.get(f"/api/v1/crawls/{job_id}").json()["cancel_requested"] is False

    for path in ("/healthz", "/metrics", "/api/v1/crawls", f"/api/v1/crawls/{job_id}",
                 "/api/v1/sites", "/api/v1/sites/authsite", "/openapi.json"):
        assert client.get(path).status_code == 200, path

    patched = client.patch("/api/v1/sites/authsite", json={"max_pages": 7}, headers=good)
    assert patched.status_code == 200 and patched.json()["max_pages"] == 7
    cancelled = client.post(f"/api/v1/crawls/{job_id}/cancel", json={}, headers=good)
    assert cancelled.status_code == 202, cancelled.text
    assert cancelled.json()["cancel_requested"] is True
    assert client.delete("/api/v1/sites/authsite", headers=good).status_code == 204
    assert client.get("/api/v1/sites/authsite").status_code == 404
    assert service.wait_job(job_id)["status"] == "cancelled"


def test_serve_refuses_a_public_bind_without_a_token(tmp_path: Any) -> None:
    port = free_port()
    env = environ_without_settings()
    env["NEWSARCHIVE_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.run(
        [sys.executable, "-m", "scheduler.cli", "serve", "--host", "0.0.0.0",
         "--port", str(port)], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=60, check=False)
    assert proc.returncode != 0
    assert "NEWSARCHIVE_API_TOKEN" in proc.stderr, proc.stderr
    assert "Uvicorn running" not in proc.stderr + proc.stdout
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # nothing was bound
    assert not (tmp_path / "data" / "catalog.sqlite").exists()


# -- SSRF -----------------------------------------------------------------------------------

SSRF_VECTORS = [
    "http://127.0.0.1/", "http://localhost/", "http://2130706433/", "http://0x7f000001/",
    "http://017700000001/", "http://127.1/", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
    "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://100.64.0.1/",
    "http://[fd00::1]/", "http://224.0.0.1/", "ftp://example.com/", "file:///etc/passwd",
    "http://example.com/" + "a" * (2049 - len("http://example.com/")),
]


def test_crawl_requests_for_internal_addresses_are_refused(service_factory: Any) -> None:
    service: RunningService = service_factory({"NEWSARCHIVE_ALLOWED_NETWORKS": None,
                                               "NEWSARCHIVE_CRAWL_RATE_LIMIT": "100"})
    assert len(SSRF_VECTORS[-1]) == 2049
    for index, url in enumerate(SSRF_VECTORS):
        urls = [url] if index % 2 == 0 else ["http://news.example.invalid/", url]  # also at urls.1
        position = len(urls) - 1
        response = service.client.post("/api/v1/crawls", json={"urls": urls})
        assert response.status_code == 422, (url, response.text)
        error = response.json()
        assert error["field"] == f"urls.{position}", (url, error)
        assert error["error"].startswith(f"urls.{position}: "), (url, error)
    refused = service.client.post("/api/v1/sites", json={
        "name": "internal", "start_urls": ["http://[::1]:8080/"]})
    assert refused.status_code == 422 and refused.json()["field"] == "start_urls.0"
    created = service.client.post("/api/v1/sites", json={
        "name": "external", "start_urls": ["http://news.example.invalid/"]})
    assert created.status_code == 201, created.text
    refused = service.client.patch("/api/v1/sites/external",
                                   json={"feeds": ["http://news.example.invalid/rss", "http://0x7f.1/"]})
    assert refused.status_code == 422 and refused.json()["field"] == "feeds.1"
    assert service.jobs() == []


def test_redirect_to_an_internal_address_is_refused_at_connect(service_factory: Any) -> None:
    try:
        outside = DemoSite(host="127.0.0.2").start()
    except OSError as exc:  # pragma: no cover - loopback aliases exist on Linux
        pytest.skip(f"cannot bind 127.0.0.2: {exc}")
    inside = DemoSite().start()
    try:
        service: RunningService = service_factory(
            {"NEWSARCHIVE_ALLOWED_NETWORKS": "127.0.0.2/32"})
        secret = f"{inside.url}/private/"
        start = f"{outside.url}/redirect?to={secret}"
        # a direct request for the inside address is refused at the API
        direct = service.client.post("/api/v1/crawls", json={"urls": [secret]})
        assert direct.status_code == 422 and direct.json()["field"] == "urls.0"
        job = service.crawl([start])
        done = service.wait_job(job["id"], timeout=40)
        assert done["status"] == "succeeded", done
        assert inside.requests.snapshot() == []
        assert "/redirect?to=" + secret in outside.requests.paths()
        failures = done["stats"]["failures"]
        assert any(f["error"] == "refused_address" and f["url"].startswith(inside.url)
                   for f in failures), failures
        assert done["stats"]["errors"] >= 1
        assert any("NEWSARCHIVE_ALLOWED_NETWORKS" in f["message"] for f in failures)
        with service.archive.catalog().session() as session:
            urls = set(session.scalars(select(Capture.url)
                                       .where(Capture.job_id == done["id"])))
        assert start in urls  # the redirect itself is archived with its real status
        assert not any(u.startswith(inside.url) for u in urls)
    finally:
        outside.stop()
        inside.stop()


# -- validation and errors ------------------------------------------------------------------


def fields_of(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"]
    return {f["field"] for f in body.get("fields", [])} | (
        {body["field"]} if "field" in body else set())


def test_bad_requests_get_clear_errors(service: RunningService, demo_site: DemoSite) -> None:
    client = service.client
    url = demo_site.url + ARTICLE
    broken = client.post("/api/v1/crawls", content=b'{"urls": [',
                         headers={"Content-Type": "application/json"})
    assert broken.status_code == 422
    assert "JSON" in broken.json()["error"]
    assert fields_of(broken) == {"body"}

    cases: list[tuple[str, str, dict[str, Any], set[str]]] = [
        ("POST", "/api/v1/crawls", {"urls": url}, {"urls"}),
        ("POST", "/api/v1/crawls", {"urls": [url], "depth": 1}, {"depth"}),
        ("POST", "/api/v1/crawls", {"urls": [url], "limits": {"depth": -1}}, {"limits.depth"}),
        ("POST", "/api/v1/crawls", {"urls": [url], "limits": {"max_pages": 0, "x": 1}},
         {"limits.max_pages", "limits.x"}),
        ("POST", "/api/v1/crawls", {"urls": [url], "priority": 99}, {"priority"}),
        ("POST", "/api/v1/crawls", {"urls": [url], "render": "fast"}, {"render"}),
        ("POST", "/api/v1/crawls", {}, {"body"}),
        ("POST", "/api/v1/crawls", {"urls": [url], "site": "x"}, {"body"}),
        ("POST", "/api/v1/sites", {"name": "my site", "start_urls": [url],
                                   "schedule": {"cron": "61 * * * *"}}, {"name", "schedule"}),
        ("POST", "/api/v1/sites", {"name": "s", "start_urls": [url],
                                   "schedule": {"interval_seconds": 0}},
         {"schedule.interval_seconds"}),
        ("POST", "/api/v1/sites", {"name": "noseeds"}, {"body"}),
        ("PATCH", "/api/v1/sites/x", {"max_depth": 99, "name": "y"}, {"max_depth", "name"}),
        ("POST", "/api/v1/sites", {"name": "x", "start_urls": [url], "allow": ["("]},
         {"allow"}),
    ]
    for method, path, body, expected in cases:
        response = client.request(method, path, json=body)
        assert fields_of(response) == expected, (body, response.text)
        message = response.json()["error"]
        for field in expected - {"body"}:
            assert field in message, (field, message)
    noseeds = client.post("/api/v1/sites", json={"name": "noseeds"}).json()["error"]
    assert "at least one of start_urls, feeds or sitemaps" in noseeds
    cron = client.post("/api/v1/sites", json={"name": "c", "start_urls": [url],
                                              "schedule": {"cron": "61 * * * *"}})
    assert "61 * * * *" in cron.json()["error"]

    created = client.post("/api/v1/sites", json={
        "name": "nulls", "start_urls": [url], "feeds": [url],
        "schedule": {"interval_seconds": 3600}})
    assert created.status_code == 201, created.text
    cleared = client.patch("/api/v1/sites/nulls", json={"feeds": None, "schedule": None})
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["feeds"], cleared.json()["schedule"]) == ([], None)
    for field in ("max_pages", "enabled"):
        refused = client.patch("/api/v1/sites/nulls", json={field: None})
        assert refused.status_code == 422, refused.text
        assert f"{field} may not be null" in refused.json()["error"]
    assert client.get("/api/v1/sites/nulls").json()["max_pages"] == 1000  # unchanged
    seedless = client.patch("/api/v1/sites/nulls", json={"start_urls": None})
    assert seedless.status_code == 422, seedless.text
    assert "would have no start_urls, feeds or sitemaps left" in seedless.json()["error"]
    assert client.get("/api/v1/sites/nulls").json()["start_urls"] == [url]  # rolled back

    assert client.get("/api/v1/crawls/424242").status_code == 404
    assert "424242" in client.get("/api/v1/crawls/424242").json()["error"]
    assert client.post("/api/v1/crawls/424242/cancel", json={}).status_code == 404
    assert client.get("/api/v1/sites/nope").status_code == 404
    assert client.patch("/api/v1/sites/nope", json={"max_pages": 2}).status_code == 404
    assert client.delete("/api/v1/sites/nope").status_code == 404
    missing = client.post("/api/v1/crawls", json={"site": "nope"})
    assert missing.status_code == 404 and "nope" in missing.json()["error"]
    assert client.get("/api/v1/crawls", params={"status": "bogus"}).status_code == 422

    site = {"name": "dup", "start_urls": [url]}
    assert client.post("/api/v1/sites", json=site).status_code == 201
    again = client.post("/api/v1/sites", json=site)
    assert again.status_code == 409 and "dup" in again.json()["error"]

    job = service.crawl([url])
    assert service.wait_job(job["id"])["status"] == "succeeded"
    finished = client.post(f"/api/v1/crawls/{job['id']}/cancel", json={})
    assert finished.status_code == 409, finished.text
    assert "succeeded" in finished.json()["error"]
    assert service.job(job["id"])["status"] == "succeeded"


def test_crawl_requests_are_rate_limited(service_factory: Any) -> None:
    service: RunningService = service_factory({"NEWSARCHIVE_CRAWL_RATE_LIMIT": "3"})
    refused_port = free_port()
    for n in range(3):
        response = service.client.post("/api/v1/crawls", json={
            "urls": [f"http://127.0.0.1:{refused_port}/{n}"]})
        assert response.status_code == 202, response.text
    assert service.client.get("/api/v1/crawls").status_code == 200  # reads are not limited
    limited = service.client.post("/api/v1/crawls", json={
        "urls": [f"http://127.0.0.1:{refused_port}/4"]})
    assert limited.status_code == 429, limited.text
    retry_after = limited.headers["retry-after"]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 60
    message = limited.json()["error"]
    assert "at most 3 crawl requests per 60 s" in message, message
    assert service.client.post("/api/v1/sites", json={
        "name": "rl", "start_urls": ["http://news.example.invalid/"]}).status_code == 201
    assert service.client.post("/api/v1/sites/rl/crawl", json={}).status_code == 429
    assert len(service.jobs()) == 3


# -- health and metrics ---------------------------------------------------------------------


def test_healthz_and_metrics_follow_the_ledger(service_factory: Any,
                                               demo_site: DemoSite) -> None:
    service: RunningService = service_factory({"NEWSARCHIVE_MAX_CRAWLS": "1"})
    health = service.client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["checks"] == {"database": "ok", "storage": "ok"}
    assert health.json()["status"] == "ok" and health.json()["running_crawls"] == 0
    before = service.client.get("/metrics")
    assert before.status_code == 200 and before.headers["content-type"].startswith("text/plain")
    assert metric(before.text, "newsarchive_jobs", '{status="succeeded"}') == 0
    assert metric(before.text, "newsarchive_queue_length") == 0

    slow = service.crawl([f"{demo_site.url}/slow?delay=1&t=metrics"])
    service.wait_job(slow["id"], ("running",))
    fast = service.crawl([demo_site.url + ARTICLE])
    dropped = service.crawl([demo_site.url + "/business/"])
    text = service.client.get("/metrics").text  # one crawl slot: two jobs wait
    assert metric(text, "newsarchive_queue_length") == 2
    assert metric(text, "newsarchive_jobs", '{status="queued"}') == 2
    assert metric(text, "newsarchive_jobs", '{status="running"}') == 1
    assert service.client.get("/healthz").json()["running_crawls"] == 1
    assert service.client.post(f"/api/v1/crawls/{dropped['id']}/cancel", json={}).status_code == 202
    assert metric(service.client.get("/metrics").text, "newsarchive_queue_length") == 1

    for job in (slow, fast):
        assert service.wait_job(job["id"], timeout=40)["status"] == "succeeded"
    text = service.client.get("/metrics").text
    assert metric(text, "newsarchive_jobs", '{status="succeeded"}') == 2
    assert metric(text, "newsarchive_jobs", '{status="cancelled"}') == 1
    assert metric(text, "newsarchive_jobs", '{status="failed"}') == 0
    assert metric(text, "newsarchive_jobs", '{status="running"}') == 0
    assert metric(text, "newsarchive_queue_length") == 0
    with service.archive.catalog().session() as session:
        captures = len(session.scalars(select(Capture.id)).all())
        stored = list(session.scalars(select(WarcFile)))
    assert metric(text, "newsarchive_pages_archived_total") == captures >= 3
    assert all(w.state == WarcState.UPLOADED for w in stored) and len(stored) == 2
    assert metric(text, "newsarchive_warc_bytes_total") == sum(w.size for w in stored)
    assert metric(text, "newsarchive_uploads_pending") == 0
    wait_until(lambda: service.client.get("/healthz").json()["running_crawls"] == 0, 10,
               message="the crawl children to exit")
