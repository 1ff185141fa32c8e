"""Bad input gets one line: every way an operator can misconfigure or misuse the CLI ends in
one ``error:`` line naming what is wrong (or the usage error Typer prints), exit 2, never a
traceback, and changes nothing; ``NEWSARCHIVE_DEBUG=1`` shows the traceback. And
``demo --keep-serving`` stops on Ctrl-C and SIGTERM."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from archive.models import CrawlJob, Site
from tests.support.cli import Archive
from tests.support.harness import environ_without_settings, wait_until

HUGE = "99999999999999999999"


def error_line(result: object) -> str:
    stderr = result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize(("url", "says"), [
    ("garbage", "cannot open the catalog garbage: Could not parse SQLAlchemy URL"),
    ("nosuchdb://x/y", "cannot open the catalog nosuchdb://x/y: Can't load plugin"),
    ("postgresql+psycopg://user:secret@127.0.0.1:1/db",
     "cannot open the catalog postgresql+psycopg://user:***@127.0.0.1:1/db: connection failed"),
    ("sqlite:////proc/no/such/dir/catalog.sqlite",
     "cannot open the catalog sqlite:////proc/no/such/dir/catalog.sqlite:"),
    ("mysql://user@127.0.0.1/db",  # a driver that is not installed
     "cannot open the catalog mysql://user@127.0.0.1/db: No module named 'MySQLdb'"),
])
@pytest.mark.parametrize("command", [("jobs", "list"), ("captures", "http://x.example/"),
                                     ("sites", "list"), ("storage", "status")])
def test_a_catalog_that_cannot_be_opened_is_one_line(archive: Archive, url: str, says: str,
                                                     command: tuple[str, ...]) -> None:
    result = archive.cli(*command, env={"NEWSARCHIVE_DATABASE_URL": url}, expect=2)
    line = error_line(result)
    assert says in line and "NEWSARCHIVE_DATABASE_URL" in line
    assert "secret" not in result.stderr


def test_a_malformed_catalog_file_is_one_line(archive: Archive, tmp_path: Path) -> None:
    archive.data_dir.mkdir(parents=True)
    (archive.data_dir / "catalog.sqlite").write_bytes(b"not a database\x00\xff" * 100)
    for command in (("jobs", "list"), ("snapshot", "http://x.example/"), ("reextract",),
                    ("crawl", "http://93.184.216.34/")):
        line = error_line(archive.cli(*command, expect=2))
        assert "catalog.sqlite: file is not a database" in line, command


def test_a_catalog_of_a_newer_version_is_one_line(archive: Archive) -> None:
    archive.cli("jobs", "list")
    catalog = archive.catalog()
    with catalog.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
    catalog.dispose()
    line = error_line(archive.cli("jobs", "list", expect=2))
    assert line.endswith("Can't locate revision identified by 'f00dfeed'; was it made by a "
                         "newer newsarchive?"), line


CRAWLS = [("crawl", "http://93.184.216.34/"), ("serve", "--port", "0")]  # read crawl settings


@pytest.mark.parametrize(("variable", "value", "says", "command"), [
    *[("NEWSARCHIVE_S3_RETRIES", "many", "NEWSARCHIVE_S3_RETRIES='many': Input should be a "
       "valid integer", command) for command in [*CRAWLS, ("jobs", "list")]],
    *[(variable, value, says, command) for command in CRAWLS for variable, value, says in [
        ("NEWSARCHIVE_WARC_MAX_SIZE", "1GB", "NEWSARCHIVE_WARC_MAX_SIZE='1GB'"),
        ("NEWSARCHIVE_DOWNLOAD_TIMEOUT", "soon", "NEWSARCHIVE_DOWNLOAD_TIMEOUT='soon'"),
        ("NEWSARCHIVE_ALLOWED_NETWORKS", "lan", "'lan' is not an IP network")]],
])
def test_a_setting_with_a_bad_value_is_one_line(archive: Archive, variable: str, value: str,
                                                says: str, command: tuple[str, ...]) -> None:
    assert says in error_line(archive.cli(*command, env={variable: value}, expect=2))


def test_a_data_dir_that_is_a_file_is_one_line(archive: Archive, tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for command in (("jobs", "list"), ("crawl", "http://93.184.216.34/")):
        line = error_line(archive.cli(*command, env={"NEWSARCHIVE_DATA_DIR": str(a_file)},
                                      expect=2))
        assert f"NEWSARCHIVE_DATA_DIR='{a_file}': {a_file} is a file; give a directory" in line


@pytest.mark.parametrize("command", [
    ("jobs", "show", HUGE), ("jobs", "cancel", HUGE), ("export-wacz", "--job", HUGE, "-o", "x"),
    ("reextract", "--job", HUGE), ("jobs", "list", "--status", "bogus"),
    ("jobs", "list", "--limit", HUGE),
])
def test_out_of_range_and_unknown_values_are_usage_errors(archive: Archive,
                                                          command: tuple[str, ...]) -> None:
    result = archive.cli(*command, expect=2)
    assert "Traceback" not in result.stderr
    assert "Invalid value for" in result.stderr, result.stderr


def test_a_batch_file_that_is_not_text_is_one_line(archive: Archive, tmp_path: Path) -> None:
    binary = tmp_path / "list.jsonl"
    binary.write_bytes(bytes(range(256)))
    line = error_line(archive.cli("extract", "--batch", str(binary), expect=2))
    assert line == (f"error: --batch {binary} is not a UTF-8 text file: give JSON lines "
                    '({"file": PATH, "url": URL} on each line)')


@pytest.mark.parametrize(("url", "says"), [
    ("file:///etc/passwd", "only http and https URLs can be crawled"),
    ("ftp://127.0.0.1/file.txt", "only http and https URLs can be crawled, not 'ftp'"),
    ("http://127.0.0.1/", "refused to connect: loopback address 127.0.0.1"),
    ("http://2130706433/", "refused to connect: 2130706433 resolves to loopback"),
    ("http://[::1", "not a valid URL: Invalid IPv6 URL"),
])
def test_crawl_and_sites_add_check_urls_as_the_api_does(tmp_path: Path, url: str,
                                                        says: str) -> None:
    strict = Archive(tmp_path / "data", env={"NEWSARCHIVE_ALLOWED_NETWORKS": ""})
    added = error_line(strict.cli("sites", "add", "x", "--start-url", url, expect=2))
    assert added.startswith(f"error: start_urls.0: {says}"), added
    crawled = error_line(strict.cli("crawl", url, expect=2))
    assert crawled.startswith(f"error: urls.0: {says}"), crawled
    with strict.catalog().session() as session:  # nothing was added, nothing started
        assert session.scalars(select(Site)).all() == []
        assert session.scalars(select(CrawlJob)).all() == []


def test_debug_shows_the_traceback(archive: Archive) -> None:
    result = archive.cli("jobs", "list", env={"NEWSARCHIVE_DATABASE_URL": "garbage",
                                              "NEWSARCHIVE_DEBUG": "1"}, expect=1)
    assert "Traceback" in result.stderr and "CatalogError" in result.stderr


@pytest.mark.parametrize(("options", "says"), [
    (("--port", "70000"), "Invalid value for '--port'"),
    (("--port", "65535"), "error: --port 65535 leaves no next port for replay: give "
                          "--replay-port"),
    (("--port", "0", "--replay-port", "65536"), "Invalid value for '--replay-port'"),
    (("--host", "nonexistent.invalid", "--port", "0"),
     "error: cannot listen on nonexistent.invalid: "),
    (("--host", "127.0.0.1", "--port", "{busy}"), "error: cannot listen on 127.0.0.1:{busy}: "
                                                  "Address already in use; choose another"),
])
def test_serve_refuses_ports_and_hosts_it_cannot_use(archive: Archive, options: tuple[str, ...],
                                                      says: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        options = tuple(option.replace("{busy}", port) for option in options)
        result = archive.cli("serve", *options, expect=2, env={"NEWSARCHIVE_API_TOKEN": "t"})
    assert "Traceback" not in result.stderr
    assert says.replace("{busy}", port) in result.stderr, result.stderr


def test_serve_on_any_free_port_says_where_it_listens(tmp_path: Path) -> None:
    env = {**environ_without_settings(), "NEWSARCHIVE_DATA_DIR": str(tmp_path / "data")}
    serve = subprocess.Popen([sys.executable, "-m", "scheduler.cli", "serve", "--port", "0"],
                             env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        first = serve.stderr.readline() if serve.stderr else ""
        found = re.fullmatch(r"newsarchive: API, docs and UI on http://127\.0\.0\.1:(\d+)/, "
                             r"replay on http://127\.0\.0\.1:(\d+)/web/\n", first)
        assert found, first
        api, replay = (f"http://127.0.0.1:{port}" for port in found.groups())
        assert found[1] != found[2] and "0" not in (found[1], found[2])
        assert httpx.get(f"{api}/healthz", timeout=30).status_code == 200
        missing = httpx.get(f"{replay}/web/2026/http://nowhere.example/", timeout=30)
        assert missing.status_code == 404
    finally:
        serve.terminate()
        serve.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_demo_keep_serving_stops_on_ctrl_c_and_sigterm(tmp_path: Path, signum: int) -> None:
    env = {**environ_without_settings(), "NEWSARCHIVE_DATA_DIR": str(tmp_path / "data"),
           "NEWSARCHIVE_CAPTURE_CHECK": "false"}  # its Chromium time is not this test's
    demo = subprocess.Popen([sys.executable, "-m", "scheduler.cli", "demo", "--keep-serving"],
                            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        lines: list[str] = []

        def serving() -> bool:
            line = demo.stderr.readline() if demo.stderr else ""
            lines.append(line)
            return "until Ctrl-C" in line or demo.poll() is not None

        wait_until(serving, 120, interval=0, message=lambda: "".join(lines))
        assert demo.poll() is None, "".join(lines)
        demo.send_signal(signum)
        assert demo.wait(timeout=15) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
