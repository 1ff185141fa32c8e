"""``newsarchive serve`` over time: schedules firing, cancelling, a crash mid-crawl and the
recovery at the next start, and the CLI working against the same ledger."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archive.models import Capture, WarcFile, WarcState
from archive.snapshot import parse_record
from scheduler.demo.server import DemoSite
from tests.support.harness import kill_group, pid_running, wait_until
from tests.support.service import RunningService
from tests.support.warc import warcio_check

pytestmark = pytest.mark.slow

ARTICLE = "/world/2026/11/03/harbour-bridge-reopens.html"


def assert_job_warcs_stored(service: RunningService, job_id: int) -> list[WarcFile]:
    """Every WARC of the job is uploaded, passes ``warcio check``, and each catalog capture
    of the job frames exactly one readable record at its offset."""
    storage = service.data_dir / "storage" / "warcs"
    with service.archive.catalog().session() as session:
        files = list(session.scalars(select(WarcFile).where(WarcFile.job_id == job_id)))
        captures = list(session.scalars(select(Capture).where(Capture.job_id == job_id)))
        for capture in captures:
            capture.warc_file  # noqa: B018 - load before the session ends
    assert files, f"job {job_id} recorded no WARC file"
    for warc in files:
        assert warc.state == WarcState.UPLOADED, (warc.filename, warc.state)
        path = storage / warc.filename
        assert path.is_file() and path.stat().st_size == warc.size
        assert (service.data_dir / "storage" / "indexes" / f"{warc.filename}.cdxj").is_file()
        warcio_check(path)
    for capture in captures:
        with (storage / capture.warc_file.filename).open("rb") as f:
            f.seek(capture.offset)
            record = parse_record(f.read(capture.length))
        assert record.rec_headers.get_header("WARC-Record-ID") == capture.record_id
        assert record.rec_headers.get_header("WARC-Target-URI") == capture.url
    return files


def parallel(*calls: Callable[[], Any]) -> list[Any]:
    """Run independent CLI commands at once (each is a process start of ~0.6 s)."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return [f.result() for f in [pool.submit(call) for call in calls]]


def open_spool_files(service: RunningService) -> list[Path]:
    return sorted((service.data_dir / "spool").glob("*.open"))


# -- schedules ------------------------------------------------------------------------------


def test_interval_schedule_fires_and_can_be_switched_off(service: RunningService,
                                                         demo_site: DemoSite) -> None:
    start = f"{demo_site.url}/?t=scheduled"
    created = service.client.post("/api/v1/sites", json={
        "name": "gazette", "start_urls": [start], "max_depth": 0, "max_pages": 3,
        "schedule": {"interval_seconds": 2}})
    assert created.status_code == 201, created.text
    assert created.json()["schedule"] == {"interval_seconds": 2}
    assert created.json()["next_run"] is not None

    def scheduled(status: str | None = None) -> list[dict[str, Any]]:
        return [j for j in service.jobs(site="gazette") if j["trigger"] == "schedule"
                and (status is None or j["status"] == status)]

    wait_until(lambda: len(scheduled("succeeded")) >= 2, 30, interval=0.3,
               message=lambda: f"two scheduled crawls: {service.jobs()}\n{service.log()[-2000:]}")
    lines = service.archive.cli("captures", start, "--json").text.splitlines()
    captured_by = {json.loads(line)["job_id"] for line in lines}
    assert {j["id"] for j in scheduled("succeeded")} <= captured_by
    assert all(j["stats"]["pages"] >= 1 and j["warc_files"] for j in scheduled("succeeded"))
    assert all(j["site"] == "gazette" for j in scheduled())

    nightly = service.client.patch("/api/v1/sites/gazette",
                                   json={"schedule": {"cron": "15 3 * * *"}})
    assert nightly.status_code == 200, nightly.text
    assert nightly.json()["next_run"].endswith("T03:15:00Z"), nightly.json()
    off = service.client.patch("/api/v1/sites/gazette", json={"schedule": None})
    assert off.status_code == 200, off.text
    assert off.json()["schedule"] is None and off.json()["next_run"] is None
    switched_off = time.monotonic()
    known = {j["id"] for j in scheduled()}
    # an unscheduled site can still be crawled on demand (or joins a crawl still running)
    on_demand = service.client.post("/api/v1/sites/gazette/crawl", json={})
    assert on_demand.status_code in (200, 202), on_demand.text
    assert service.wait_job(on_demand.json()["id"])["status"] == "succeeded"
    # over two former intervals: nothing new may be scheduled
    time.sleep(max(0.0, switched_off + 4.5 - time.monotonic()))
    assert {j["id"] for j in scheduled()} == known
    assert service.client.get("/api/v1/sites/gazette").json()["next_run"] is None


# -- cancel ---------------------------------------------------------------------------------


def test_cancel_stops_a_running_crawl_and_keeps_its_warc(service_factory: Any) -> None:
    site = DemoSite().start()
    try:
        service: RunningService = service_factory({
            "NEWSARCHIVE_DOWNLOAD_TIMEOUT": "30", "NEWSARCHIVE_CANCEL_GRACE_SECONDS": "20"})
        urls = [f"{site.url}/slow?delay=3&n={n}" for n in range(2)]
        job = service.crawl(urls, depth=1)
        wait_until(lambda: any(p.startswith("/slow") for p in site.requests.paths()), 20,
                   message="the crawl to reach the slow pages")
        running = service.job(job["id"])
        assert running["status"] == "running" and running["pid"]
        cancel = service.client.post(f"/api/v1/crawls/{job['id']}/cancel", json={})
        assert cancel.status_code == 202, cancel.text
        assert cancel.json()["cancel_requested"] is True

        done = service.wait_job(job["id"], timeout=25)
        assert done["status"] == "cancelled", done
        # the crawl process closed and stored its WARC itself (SIGTERM, not SIGKILL) ...
        assert "shutdown" in (done["error"] or ""), done
        assert "ignored SIGTERM" not in service.log()
        assert done["warc_files"]
        assert_job_warcs_stored(service, job["id"])
        assert open_spool_files(service) == []
        # ... and followed no link after the cancel (depth 1 would have reached the home page)
        assert "/" not in site.requests.paths()
        assert site.requests.paths().count("/robots.txt") == 1
        wait_until(lambda: not pid_running(running["pid"]), 10, message="the crawl to exit")
        again = service.client.post(f"/api/v1/crawls/{job['id']}/cancel", json={})
        assert again.status_code == 409
    finally:
        site.stop()


# -- crash and recovery ---------------------------------------------------------------------


def test_killed_service_and_crawl_are_recovered_at_restart(service_factory: Any,
                                                           demo_site: DemoSite) -> None:
    service: RunningService = service_factory({
        "NEWSARCHIVE_DOWNLOAD_TIMEOUT": "30", "NEWSARCHIVE_CANCEL_GRACE_SECONDS": "2"})
    urls = [f"{demo_site.url}/slow?delay=4&t=crash{n}" for n in range(2)]
    created = service.client.post("/api/v1/sites", json={
        "name": "crashy", "start_urls": urls, "max_depth": 0,
        "schedule": {"interval_seconds": 1}})
    assert created.status_code == 201, created.text

    def running_scheduled_job() -> dict[str, Any] | None:
        for job in service.jobs(site="crashy"):
            if job["trigger"] == "schedule" and job["status"] == "running" and job["pid"]:
                return job
        return None

    job = wait_until(running_scheduled_job, 20, message="a scheduled crawl to run")
    service.child_pids.add(job["pid"])

    def captures_recorded() -> bool:
        with service.archive.catalog().session() as session:
            return session.scalar(select(Capture.id).where(Capture.job_id == job["id"])) \
                is not None

    wait_until(captures_recorded, 15, message="the crawl to archive something")
    # no new schedule fires after the restart: only the retry of the killed job runs
    assert service.client.patch("/api/v1/sites/crashy",
                                json={"schedule": None}).status_code == 200
    service.kill9()
    kill_group(job["pid"])  # its own session: the whole crawl, extraction workers included
    # init reaps orphans only every few seconds here, and a zombie still "exists" for
    # os.kill(pid, 0): wait until the process is really gone, as after a machine restart
    wait_until(lambda: not Path(f"/proc/{job['pid']}").exists(), 15,
               message=f"pid {job['pid']} to be reaped")
    left = open_spool_files(service)
    assert left and all(f"-{job['pid']}~" in p.name for p in left), left

    service.start()
    failed = service.job(job["id"])
    assert failed["status"] == "failed", failed
    assert "gone" in failed["error"] and str(job["pid"]) in failed["error"], failed
    assert failed["finished_at"]
    retries = [j for j in service.jobs(site="crashy") if j["trigger"] == "retry"]
    assert [j["retry_of"] for j in retries] == [job["id"]], service.jobs()
    assert retries[0]["spec"] == job["spec"]
    assert retries[0]["status"] in ("queued", "running", "succeeded"), retries
    assert not [p for p in open_spool_files(service) if f"-{job['pid']}~" in p.name]
    files = assert_job_warcs_stored(service, job["id"])
    assert sum(f.records or 0 for f in files) >= 2  # warcinfo + at least robots.txt

    retry = service.wait_job(retries[0]["id"], ("running", "succeeded"), timeout=20)
    assert retry["attempts"] == 1 and retry["site"] == "crashy"
    assert [j["id"] for j in service.jobs(site="crashy") if j["status"] == "queued"] == []


# -- CLI and sites.toml ---------------------------------------------------------------------

SITES_TOML = """
[[site]]
name = "alpha"
start_urls = ["{base}/world/"]
max_depth = 1
max_pages = 5

[[site]]
name = "beta"
feeds = ["{base}/feed.xml"]
max_depth = 0
schedule = {{ cron = "30 4 1 1 *" }}
"""


def test_cli_manages_sites_and_jobs_of_a_running_service(service_factory: Any,
                                                        demo_site: DemoSite,
                                                        tmp_path: Path) -> None:
    sites_file = tmp_path / "sites.toml"
    sites_file.write_text(SITES_TOML.format(base=demo_site.url))
    service: RunningService = service_factory({"NEWSARCHIVE_SITES_FILE": str(sites_file),
                                               "NEWSARCHIVE_MAX_CRAWLS": "1",
                                               "NEWSARCHIVE_DOWNLOAD_TIMEOUT": "30",
                                               "NEWSARCHIVE_CANCEL_GRACE_SECONDS": "1"})
    cli = service.archive.cli
    listed = {s["name"]: s for s in service.client.get("/api/v1/sites").json()}
    assert set(listed) == {"alpha", "beta"}
    assert listed["alpha"]["start_urls"] == [f"{demo_site.url}/world/"]
    assert listed["alpha"]["max_pages"] == 5 and listed["alpha"]["next_run"] is None
    assert listed["beta"]["schedule"] == {"cron": "30 4 1 1 *"}
    assert listed["beta"]["next_run"].endswith("-01-01T04:30:00Z")

    # sites add: --every takes a number and s/m/h/d (independent commands run in parallel)
    base = demo_site.url
    fast, bad_unit, bad_zero, _, _ = parallel(
        lambda: cli("sites", "add", "fast", "--start-url", f"{base}/", "--every", "2s",
                    "--disabled"),
        lambda: cli("sites", "add", "bad", "--start-url", f"{base}/", "--every", "2x",
                    expect=2),
        lambda: cli("sites", "add", "bad", "--start-url", f"{base}/", "--every", "0s",
                    expect=2),
        lambda: cli("sites", "add", "gazette", "--start-url", f"{base}{ARTICLE}", "--depth",
                    "0", "--max-pages", "2", "--every", "1h"),
        # a slow site keeps the only crawl slot busy for a minute or more (4 connections per
        # host, 24 pages that each time out after 5 s, 3 tries) until cancelled (SIGTERM,
        # SIGKILL after 1 s); 6 pages were done before the cancel on a loaded machine
        lambda: cli("sites", "add", "slowsite", "--depth", "0", *(
            arg for n in range(24) for arg in ("--start-url",
                                               f"{base}/slow?delay=10&t=cli{n}"))))
    assert "added site fast ({'interval_seconds': 2})" in fast.text
    assert "'--every'" in bad_unit.stderr and "use a number and s, m, h or d" in bad_unit.stderr
    assert "interval_seconds: Input should be greater than or equal to 1" in bad_zero.stderr
    shown, duplicate, names = parallel(
        lambda: json.loads(cli("sites", "show", "fast").text),
        lambda: cli("sites", "add", "fast", "--start-url", f"{base}/", expect=1),
        lambda: [json.loads(line)["name"] for line in cli("sites", "list", "--json").text
                 .splitlines()])
    assert shown["schedule"] == {"interval_seconds": 2} and shown["enabled"] is False
    assert shown["start_urls"] == [f"{base}/"]
    assert "already exists" in duplicate.stderr
    assert names == ["alpha", "beta", "fast", "gazette", "slowsite"]
    # the service picks the CLI's change up (schedule included) without a restart
    wait_until(lambda: service.client.get("/api/v1/sites/gazette").json()["next_run"], 10,
               message="the service to schedule the site added by the CLI")
    assert service.client.get("/api/v1/sites/fast").json()["next_run"] is None  # disabled

    busy = service.client.post("/api/v1/crawls", json={"site": "slowsite"}).json()
    service.wait_job(busy["id"], ("running",))
    queued = service.crawl([f"{base}/culture/"])
    assert service.job(queued["id"])["status"] == "queued"
    # crawl --site runs in the foreground (not limited by the service's slots), records a
    # ledger job the API shows, and refuses while the site has an active job
    summary, refused, unknown = parallel(
        lambda: service.archive.crawl("--site", "gazette"),
        lambda: cli("crawl", "--site", "slowsite", "--json", expect=1),
        lambda: cli("jobs", "show", "999", expect=1))
    assert summary["status"] == "succeeded" and summary["pages"] >= 1
    assert f"already has job {busy['id']}" in refused.stderr
    assert "no crawl job 999" in unknown.stderr
    api_job = service.job(summary["job_id"])
    assert api_job["site"] == "gazette" and api_job["status"] == "succeeded"
    assert api_job["trigger"] == "cli"

    # jobs list / show / cancel
    listed_jobs, shown_job, cancel_queued = parallel(
        lambda: [json.loads(line) for line in cli("jobs", "list", "--json").text
                 .splitlines()],
        lambda: json.loads(cli("jobs", "show", str(summary["job_id"])).text),
        lambda: cli("jobs", "cancel", str(queued["id"])))
    assert [j["id"] for j in listed_jobs] == sorted(
        (busy["id"], queued["id"], summary["job_id"]), reverse=True)
    by_id = {j["id"]: j for j in listed_jobs}
    assert by_id[busy["id"]]["status"] == "running"
    assert by_id[summary["job_id"]]["status"] == "succeeded"
    assert shown_job["site"] == "gazette" and shown_job["stats"]["pages"] >= 1
    assert f"job {queued['id']}: cancelled" in cancel_queued.text
    cancelled = service.job(queued["id"])
    assert cancelled["status"] == "cancelled" and cancelled["started_at"] is None
    again, cancel_busy, _ = parallel(
        lambda: cli("jobs", "cancel", str(queued["id"]), expect=1),
        lambda: cli("jobs", "cancel", str(busy["id"])),
        lambda: cli("sites", "remove", "gazette"))
    assert "already cancelled" in again.stderr
    assert "cancel requested" in cancel_busy.text
    assert service.wait_job(busy["id"], timeout=20)["status"] == "cancelled"
    assert service.job(queued["id"])["status"] == "cancelled"  # it never ran

    # sites remove
    assert service.client.get("/api/v1/sites/gazette").status_code == 404
    assert "no site named 'gazette'" in cli("sites", "remove", "gazette", expect=1).stderr
    assert service.job(summary["job_id"])["status"] == "succeeded"  # its jobs stay

    # a restart keeps the sites, their schedules and the ledger; sites.toml is synced again
    service.restart()
    after = {s["name"]: s for s in service.client.get("/api/v1/sites").json()}
    assert set(after) == {"alpha", "beta", "fast", "slowsite"}
    assert after["beta"]["next_run"] == listed["beta"]["next_run"]
    assert service.job(busy["id"])["status"] == "cancelled"


def test_a_bad_sites_file_stops_serve_with_a_clear_message(service_factory: Any,
                                                          tmp_path: Path) -> None:
    sites_file = tmp_path / "bad-sites.toml"
    sites_file.write_text('[[site]]\nname = "good"\nstart_urls = ["https://example.com/"]\n\n'
                          '[[site]]\nname = "broken"\nstart_urls = ["https://example.org/"]\n'
                          'max_depth = "deep"\n')
    service: RunningService = service_factory({"NEWSARCHIVE_SITES_FILE": str(sites_file)},
                                              start=False)
    proc = subprocess.run(
        [sys.executable, "-m", "scheduler.cli", "serve", "--port", str(service.port)],
        env=service.process_env(), cwd=service.root, capture_output=True, text=True,
        timeout=60, check=False)
    output = proc.stderr + proc.stdout
    assert proc.returncode != 0
    flat = " ".join(output.split())
    assert str(sites_file) in flat and "site broken" in flat and "max_depth" in flat, output
    assert "Traceback" not in output
    assert "Uvicorn running" not in output


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux procfs")
def test_a_zombie_crawl_process_counts_as_gone() -> None:
    """After a crash the crawl child is re-parented; until init reaps it, it is a zombie
    that ``kill(pid, 0)`` still finds. Recovery must not wait for it."""
    from archive.processes import pid_alive

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert pid_alive(proc.pid)
        proc.kill()
        wait_until(lambda: not pid_running(proc.pid), 10, message="a zombie")
        assert Path(f"/proc/{proc.pid}").exists()  # not reaped: still "exists"
        assert not pid_alive(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert not pid_alive(proc.pid)
