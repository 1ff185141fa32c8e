"""Settings users expect: ``newsarchive crawl -s NAME=VALUE`` reaches the crawl and a bad one
stops it before it starts; a site's politeness (concurrency per domain, download delay,
AutoThrottle) and hub refresh bounds in the API, the CLI and sites.toml, applied to its
crawls below ``-s``; an explicit page budget that cuts the URLs given is said before the
crawl starts. The effects are seen by a local server (:mod:`tests.support.gated_site`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import scrapy
from alembic import command
from fastapi.testclient import TestClient
from scrapy.settings import Settings
from sqlalchemy import create_engine, inspect, select

from archive.catalog import Catalog, alembic_config
from archive.models import CrawlJob, Site
from crawler.overrides import SCRAPY_READS_AS, OverrideError, _kind, parse_overrides
from crawler.runner import CrawlSpec, crawl_settings, hub_refresh_bounds, site_discovery
from scheduler.cli.crawl import expected_pages
from scheduler.sites import load_sites_file
from tests.support.api import api_client
from tests.support.cli import Archive, CliResult
from tests.support.gated_site import GatedSite

FAST = ("--depth", "0", "--no-extract")  # only the URLs given, no extraction processes


def error_line(result: CliResult) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- crawl -s NAME=VALUE --------------------------------------------------------------------


def test_s_sets_the_concurrency_the_server_sees(archive: Archive) -> None:
    """-s values reach Scrapy (per-domain concurrency above and below the project's 4) and
    the crawl settings (the SSRF guard lets 127.0.0.1 through only because of -s)."""
    with GatedSite(release_at=6, timeout=20) as site:
        summary = archive.crawl(*site.page_urls(8), *FAST,
                                "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=6",
                                "-s", "AUTOTHROTTLE_ENABLED=false",
                                "-s", "NEWSARCHIVE_ALLOWED_NETWORKS=127.0.0.0/8",
                                env={"NEWSARCHIVE_ALLOWED_NETWORKS": ""})
        assert summary["status"] == "succeeded" and len(site.paths) == 8
        assert (site.max_in_flight, site.opened_by) == (6, "count")
    with GatedSite(release_at=2, timeout=2) as site:  # a second request never comes
        archive.crawl(*site.page_urls(4), *FAST, "--set", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
                      "-s", "AUTOTHROTTLE_ENABLED=0")
        assert len(site.paths) == 4
        assert (site.max_in_flight, site.opened_by) == (1, "timeout")


def test_a_bad_s_is_one_line_and_exit_2_before_anything_starts(archive: Archive) -> None:
    with GatedSite(release_at=1, timeout=5) as site:
        result = archive.cli("crawl", site.url + "/p/0.html", "-s", "DOWNLOAD_DELAY=1",
                             "-s", "CONCURRENT_REQUESTS=abc", expect=2)
        assert site.paths == []
    assert error_line(result) == "error: -s CONCURRENT_REQUESTS=abc: not an integer"
    assert not archive.data_dir.exists()  # no catalog, no job, no WARC


@pytest.mark.parametrize(("item", "message"), [
    ("DOWNLOAD_DELAY=soon", "-s DOWNLOAD_DELAY=soon: not a number"),
    ("AUTOTHROTTLE_ENABLED=yes",
     "-s AUTOTHROTTLE_ENABLED=yes: not a boolean (true, false, 1 or 0)"),
    ("FEEDS=[1]", "-s FEEDS=[1]: not a JSON object"),
    ("CONCURRENT_REQUESTS", "-s CONCURRENT_REQUESTS: give NAME=VALUE, e.g. "
     "-s DOWNLOAD_DELAY=0.5"),
    ("=1", "-s =1: give NAME=VALUE, e.g. -s DOWNLOAD_DELAY=0.5"),
    ("CONCURENT_REQUESTS_PER_DOMAIN=2", "-s CONCURENT_REQUESTS_PER_DOMAIN=2: unknown "
     "setting (did you mean CONCURRENT_REQUESTS_PER_DOMAIN?)"),
    ("download_delay=1", "-s download_delay=1: unknown setting (did you mean "
     "DOWNLOAD_DELAY?)"),
    ("NO_SUCH_THING_AT_ALL=1", "-s NO_SUCH_THING_AT_ALL=1: unknown setting (see "
     "docs/configuration.md and Scrapy's settings reference)"),
    ("NEWSARCHIVE_WARC_GZIP_LEVEL=11", "-s NEWSARCHIVE_WARC_GZIP_LEVEL=11: Input should be "
     "less than or equal to 9 (a whole number from 0 to 9; default 6)"),
    ("DOWNLOAD_TIMEOUT=0", "-s DOWNLOAD_TIMEOUT=0: Input should be greater than 0 (a number "
     "above 0; default 30.0)"),
    ("NEWSARCHIVE_RENDER=fancy", "-s NEWSARCHIVE_RENDER=fancy: use one of static, browser, "
     "auto"),
    ("NEWSARCHIVE_HUB_REFRESH_MAX=10m", "-s NEWSARCHIVE_HUB_REFRESH_MAX=10m: shorter than "
     "NEWSARCHIVE_HUB_REFRESH_MIN (15m): the longest interval must be at least the shortest"),
    ("NEWSARCHIVE_HUB_REFRESH_MIN=2d", "-s NEWSARCHIVE_HUB_REFRESH_MIN=2d: with it, "
     "NEWSARCHIVE_HUB_REFRESH_MAX='1d' is shorter than NEWSARCHIVE_HUB_REFRESH_MIN (2d): the "
     "longest interval must be at least the shortest"),
])
def test_a_bad_s_says_what_is_wrong(item: str, message: str) -> None:
    with pytest.raises(OverrideError) as raised:
        parse_overrides([item])
    assert str(raised.value) == message


def test_a_bad_s_of_a_site_crawl_leaves_no_job(archive: Archive) -> None:
    archive.cli_in_process("sites", "add", "quiet", "--start-url", "http://93.184.216.34/")
    result = archive.cli_in_process("crawl", "--site", "quiet", "-s", "RETRY_TIMES=twice",
                                    expect=2)
    assert error_line(result) == "error: -s RETRY_TIMES=twice: not an integer"
    with archive.catalog().session() as session:
        assert session.scalars(select(CrawlJob)).all() == []


def test_typed_values_follow_scrapys_getters() -> None:
    overrides = parse_overrides(["DOWNLOAD_DELAY=0.25", "AUTOTHROTTLE_ENABLED=False",
                                 "RETRY_HTTP_CODES=500,503", "FEEDS={}", "RETRY_TIMES=5",
                                 "NEWSARCHIVE_USER_AGENT=probe/2", "LOG_LEVEL=DEBUG",
                                 "RETRY_TIMES=6", "BOT_NAME=", "DNS_TIMEOUT=2.5"])
    assert overrides == {"DOWNLOAD_DELAY": 0.25, "AUTOTHROTTLE_ENABLED": False,
                         "RETRY_HTTP_CODES": ["500", "503"], "FEEDS": {}, "RETRY_TIMES": 6,
                         "USER_AGENT": "probe/2", "LOG_LEVEL": "DEBUG", "BOT_NAME": "",
                         "DNS_TIMEOUT": 2.5}
    with pytest.raises(OverrideError, match="-s NEWSARCHIVE_JOB_ID=1: set by the crawl"):
        parse_overrides(["NEWSARCHIVE_JOB_ID=1"],
                        reserved={"NEWSARCHIVE_JOB_ID": "set by the crawl itself"})


def test_settings_read_with_another_type_than_their_default_are_known() -> None:
    """SCRAPY_READS_AS lists every Scrapy setting that Scrapy's own code reads with getint,
    getfloat or getbool although its default is of another type (DOWNLOAD_DELAY = 0)."""
    getters = {"getint": int, "getfloat": float, "getbool": bool}
    source = "".join(path.read_text(encoding="utf-8")
                     for path in Path(scrapy.__file__).parent.rglob("*.py"))
    defaults = Settings()
    read_as = {}
    for getter, kind in getters.items():
        for name in re.findall(getter + r'\(\s*"([A-Z0-9_]+)"', source):
            default = defaults.get(name)
            if default is not None and _kind(default) is not kind:
                read_as[name] = kind
    assert read_as == SCRAPY_READS_AS


# -- per-site politeness --------------------------------------------------------------------


def test_a_sites_politeness_reaches_its_crawls_and_s_wins(archive: Archive) -> None:
    with GatedSite(release_at=6, timeout=20) as site:
        archive.cli_in_process("sites", "add", "wide", "--concurrency-per-domain", "6",
                               "--no-autothrottle", *(a for u in site.page_urls(8) for a in
                                                      ("--start-url", u)))
        shown = json.loads(archive.cli_in_process("sites", "show", "wide").text)
        assert (shown["concurrency_per_domain"], shown["autothrottle"],
                shown["download_delay"]) == (6, False, None)
        archive.crawl("--site", "wide", *FAST)
        assert len(site.paths) == 8
        assert (site.max_in_flight, site.opened_by) == (6, "count")
    with GatedSite(release_at=3, timeout=2) as site:
        archive.cli_in_process("sites", "add", "narrowed", "--concurrency-per-domain", "6",
                               "--no-autothrottle", *(a for u in site.page_urls(4) for a in
                                                      ("--start-url", u)))
        archive.crawl("--site", "narrowed", *FAST, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2")
        assert (site.max_in_flight, site.opened_by) == (2, "timeout")


def test_a_sites_download_delay_spaces_its_requests(archive: Archive) -> None:
    """Scrapy waits 0.5 to 1.5 times DOWNLOAD_DELAY between two requests to a domain; the
    project's AutoThrottle alone starts at 0.5 s, so gaps of 1 s and more are the site's."""
    with GatedSite(release_at=1, timeout=5) as site:
        archive.cli_in_process("sites", "add", "slowly", "--download-delay", "2",
                               "--no-autothrottle",
                               *(a for u in site.page_urls(3) for a in ("--start-url", u)))
        archive.crawl("--site", "slowly", *FAST)
        gaps = [b - a for a, b in zip(site.arrivals, site.arrivals[1:], strict=False)]
        assert len(gaps) == 2 and min(gaps) >= 1.0, gaps


def test_sites_cli_sets_checks_and_resets_politeness(archive: Archive) -> None:
    cli = archive.cli_in_process  # configuration only: no crawl, no subprocess needed
    cli("sites", "add", "tribune", "--start-url", "http://93.184.216.34/",
        "--download-delay", "1.5", "--autothrottle", "--hub-refresh-min", "10m")
    cli("sites", "update", "tribune", "--hub-refresh-max", "6h", "--concurrency-per-domain",
        "2")
    shown = json.loads(cli("sites", "show", "tribune").text)
    assert {k: shown[k] for k in ("concurrency_per_domain", "download_delay", "autothrottle",
                                  "hub_refresh_min", "hub_refresh_max")} == {
        "concurrency_per_domain": 2, "download_delay": 1.5, "autothrottle": True,
        "hub_refresh_min": "10m", "hub_refresh_max": "6h"}
    refused = [
        (("sites", "update", "tribune", "--hub-refresh-max", "5m"),
         "error: site 'tribune': hub_refresh_min (10m) is longer than hub_refresh_max (5m): "
         "the shortest interval must not exceed the longest"),
        (("sites", "add", "x", "--start-url", "http://93.184.216.34/", "--hub-refresh-min",
          "2d", "--hub-refresh-max", "1h"),
         "error: hub_refresh_max: hub_refresh_min (2d) is longer than hub_refresh_max (1h): "
         "the shortest interval must not exceed the longest"),
        (("sites", "add", "x", "--start-url", "http://93.184.216.34/", "--hub-refresh-min",
          "soon"),
         "error: hub_refresh_min: invalid duration 'soon': use a positive number and s, m, "
         "h, d or w, e.g. 1h or 2d"),
        (("sites", "update", "tribune", "--reset", "max_pages"),
         "error: --reset max_pages: not a field that can be reset; use one of horizon, "
         "render, concurrency_per_domain, download_delay, autothrottle, hub_refresh_min, "
         "hub_refresh_max"),
    ]
    for args, message in refused:
        assert error_line(cli(*args, expect=2)) == message
    for option, value in (("--concurrency-per-domain", "0"), ("--download-delay", "-1")):
        usage = cli("sites", "add", "x", "--start-url", "http://93.184.216.34/", option,
                    value, expect=2)
        assert f"Invalid value for '{option}'" in usage.stderr
    cli("sites", "update", "tribune", "--reset", "download_delay", "--reset", "autothrottle",
        "--reset", "hub_refresh_min")
    shown = json.loads(cli("sites", "show", "tribune").text)
    assert (shown["download_delay"], shown["autothrottle"], shown["hub_refresh_min"],
            shown["concurrency_per_domain"]) == (None, None, None, 2)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with api_client(tmp_path / "data") as test_client:
        yield test_client


def test_api_sets_checks_and_clears_politeness(client: TestClient) -> None:
    site = {"name": "gazette", "start_urls": ["http://93.184.216.34/"],
            "concurrency_per_domain": 3, "download_delay": 0.5, "autothrottle": False,
            "hub_refresh_min": "30m", "hub_refresh_max": "6h"}
    created = client.post("/api/v1/sites", json=site)
    assert created.status_code == 201, created.text
    assert {k: created.json()[k] for k in site} == site
    for body, field, says in [
        ({"concurrency_per_domain": 0}, "concurrency_per_domain", "greater than or equal to 1"),
        ({"download_delay": -0.5}, "download_delay", "greater than or equal to 0"),
        ({"autothrottle": "sometimes"}, "autothrottle", "valid boolean"),
        ({"hub_refresh_max": "1x"}, "hub_refresh_max", "invalid duration '1x'"),
        ({"hub_refresh_min": "2d", "hub_refresh_max": "1d"}, "hub_refresh_max",
         "hub_refresh_min (2d) is longer than hub_refresh_max (1d)"),
        ({"hub_refresh_min": "7h"}, "hub_refresh_min",  # against the stored maximum
         "site 'gazette': hub_refresh_min (7h) is longer than hub_refresh_max (6h)"),
    ]:
        response = client.patch("/api/v1/sites/gazette", json=body)
        assert response.status_code == 422, response.text
        answer = response.json()
        assert says in answer["error"], answer
        assert field in {answer.get("field"), *(f["field"] for f in answer.get("fields", []))}
    assert client.get("/api/v1/sites/gazette").json()["hub_refresh_min"] == "30m"  # unchanged
    cleared = client.patch("/api/v1/sites/gazette", json={"download_delay": None,
                                                          "autothrottle": None,
                                                          "hub_refresh_max": None})
    assert cleared.status_code == 200, cleared.text
    assert {k: cleared.json()[k] for k in ("concurrency_per_domain", "download_delay",
                                           "autothrottle", "hub_refresh_min",
                                           "hub_refresh_max")} == {
        "concurrency_per_domain": 3, "download_delay": None, "autothrottle": None,
        "hub_refresh_min": "30m", "hub_refresh_max": None}
    bad = client.post("/api/v1/sites", json={**site, "name": "other",
                                             "concurrency_per_domain": 1000})
    assert bad.status_code == 422 and "concurrency_per_domain" in bad.json()["error"]


SITES_TOML = """
[[site]]
name = "polite"
start_urls = ["https://example.com/"]
concurrency_per_domain = 1
download_delay = 2.5
autothrottle = false
hub_refresh_min = "1h"
hub_refresh_max = "2d"
"""


def test_sites_toml_takes_politeness_and_a_bad_value_stops_serve(archive: Archive,
                                                                  tmp_path: Path) -> None:
    good = tmp_path / "sites.toml"
    good.write_text(SITES_TOML)
    [site] = load_sites_file(good)
    assert (site.concurrency_per_domain, site.download_delay, site.autothrottle,
            site.hub_refresh_min, site.hub_refresh_max) == (1, 2.5, False, "1h", "2d")
    bad = tmp_path / "bad.toml"
    bad.write_text(SITES_TOML.replace('"2d"', '"30m"').replace("= 1\n", "= 0\n"))
    result = archive.cli("serve", "--port", "0", env={"NEWSARCHIVE_SITES_FILE": str(bad)},
                         expect=2)
    assert error_line(result) == (
        f"error: bad NEWSARCHIVE_SITES_FILE: {bad}: site polite: concurrency_per_domain: "
        "Input should be greater than or equal to 1; hub_refresh_max: hub_refresh_min (1h) "
        "is longer than hub_refresh_max (30m): the shortest interval must not exceed the "
        "longest")


def test_hub_refresh_bounds_are_the_sites_else_the_crawls() -> None:
    settings = crawl_settings({"NEWSARCHIVE_HUB_REFRESH_MIN": "20m",
                               "NEWSARCHIVE_HUB_REFRESH_MAX": "12h"})
    cases = [((None, None), (20, 12 * 60)), (("1h", "2d"), (60, 2 * 1440)),
             (("2d", None), (2 * 1440, 2 * 1440)),  # a shortest past the crawl's longest
             ((None, "5m"), (5, 5)), (("30m", None), (30, 12 * 60))]
    for (shortest, longest), minutes in cases:
        site = Site(hub_refresh_min=shortest, hub_refresh_max=longest)
        assert hub_refresh_bounds(site, settings) == tuple(
            timedelta(minutes=m) for m in minutes), (shortest, longest)


def test_site_discovery_hands_the_bounds_to_the_seen_urls(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    with catalog.session() as session:
        session.add(Site(name="s", start_urls=["https://example.com/"], hub_refresh_max="2h"))
    with catalog.session() as session:
        site = session.scalar(select(Site))
    arguments = site_discovery(catalog, crawl_settings(), site)
    assert arguments["seen"].hub_refresh == (timedelta(minutes=15), timedelta(hours=2))
    catalog.dispose()


def test_migration_0010_goes_down_and_up(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    config = alembic_config(engine)
    politeness = {"concurrency_per_domain", "download_delay", "autothrottle",
                  "hub_refresh_min", "hub_refresh_max"}
    command.upgrade(config, "head")
    assert politeness <= {c["name"] for c in inspect(engine).get_columns("sites")}
    command.downgrade(config, "0009")
    assert not politeness & {c["name"] for c in inspect(engine).get_columns("sites")}
    command.upgrade(config, "0010")
    assert politeness <= {c["name"] for c in inspect(engine).get_columns("sites")}
    engine.dispose()


# -- given URLs are never cut silently --------------------------------------------------------


def test_a_max_pages_that_cuts_the_given_urls_says_so_before_the_crawl(archive: Archive
                                                                       ) -> None:
    """The server holds every request until the test has read the notice (or 30 s): had the
    crawl started first, its first request would wait the 30 s out."""
    notice = "notice: --max-pages 2 cuts the 5 given URLs: only the first 2 are fetched"
    with GatedSite(release_at=100, timeout=30) as site:
        proc = subprocess.Popen(
            [sys.executable, "-m", "scheduler.cli", "crawl", *site.page_urls(5), *FAST,
             "--max-pages", "2", "--json"],
            env={**os.environ, **archive.env}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        stderr: list[str] = []

        def read_stderr() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                stderr.append(line.rstrip("\n"))
                if line.startswith(notice):
                    site.open()

        reader = threading.Thread(target=read_stderr)
        reader.start()
        assert proc.stdout is not None
        stdout = proc.stdout.read()
        assert proc.wait(timeout=120) == 0, stderr
        reader.join()
        assert stderr.count(notice) == 1, stderr
        assert site.opened_by == "test"
        assert sorted(site.paths) == ["/p/0.html", "/p/1.html"]
    assert json.loads(stdout)["skipped"]["over_max_pages"] == 3


def test_the_progress_bar_total_is_what_the_crawl_can_fetch_at_most() -> None:
    urls = ["https://example.com/a", "https://example.com/b", "https://example.com/a"]
    assert expected_pages(CrawlSpec(urls=urls, depth=0)) == 2  # given URLs, not the budget
    assert expected_pages(CrawlSpec(urls=urls, depth=0, max_pages=1)) == 1
    assert expected_pages(CrawlSpec(urls=urls, depth=0, max_pages=50)) == 2
    assert expected_pages(CrawlSpec(urls=urls, depth=1, max_pages=50)) == 50
    assert expected_pages(CrawlSpec(urls=urls)) is None  # discovery decides
    assert expected_pages(CrawlSpec(urls=urls, depth=0, feeds=["https://example.com/f"])) \
        is None
