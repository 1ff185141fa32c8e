"""The capture check: the archived view of a page, rendered in Chromium from the replay app,
against the live page (a local site with a stylesheet and an image).

A page archived with its stylesheet and image (and the 404 of a missing one, as the site
answered it) replays with every request answered from the archive (Chromium's network log)
and at most 2% of its pixels differing from the live page; the same page whose stylesheet
and image were not archived lists both as failed and differs widely. The figures are stored
on the capture and shown by ``newsarchive check``, the API (with a thumbnail) and the UI.
With NEWSARCHIVE_CAPTURE_CHECK on, the service checks a crawl job's pages after it, and a
foreground crawl without Chromium says so in one line.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from warcio.warcwriter import WARCWriter

from archive.archiver import Archiver
from archive.capture_checks import MAX_PIXEL_DIFF, VIEW_SCHEME
from archive.catalog import Catalog
from archive.cdxj import surt_key
from archive.config import ArchiveSettings
from archive.layout import warc_key
from archive.models import Capture, CaptureCheck, WarcFile, WarcState
from archive.warc import WrittenRecord
from scheduler.capture_check.browser import Chromium
from scheduler.capture_check.checker import CaptureChecker
from scheduler.config import ServiceSettings
from tests.support.api import api_client
from tests.support.browser import chromium_executable
from tests.support.cli import Archive
from tests.support.harness import missing, wait_until
from tests.support.images import image_size, png
from tests.support.pages import LocalPages
from tests.support.warc import ClockedWriter, exchange, sha256

STORY, INCOMPLETE, VIEWED = "/story.html", "/incomplete.html", "/viewed.html"
CSS, IMAGE = "/assets/site.css", "/assets/photo.png"
OTHER_CSS, OTHER_IMAGE = "/assets/other.css", "/assets/other.png"  # live, never archived
GONE = "/assets/gone.png"  # a 404 on the live site, archived as one
STYLESHEET = (b"body { margin: 0; background: #12355b; color: #fbfaf7; font: 20px/1.6 serif }\n"
              b"header { background: #f59e0b; color: #1b1f24; padding: 48px 32px }\n"
              b"main { padding: 24px 32px } img { display: block; border: 6px solid #fff }\n")


def page(css: str, image: str) -> str:
    text = " ".join(f"Paragraph {n}: the harbour committee met again and residents asked "
                    "about the ferry timetable." for n in range(12))
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Harbour'
            f'</title><link rel="stylesheet" href="{css}"></head><body><header><h1>The '
            f'Harbour Gazette</h1></header><main><img src="{image}" alt="the harbour" '
            f'width="480" height="270"><img src="{GONE}" alt="" width="16" height="16">'
            f'<p>{text}</p></main></body></html>')


PHOTO = png(480, 270, (200, 40, 40))
SITE_PAGES: dict[str, str | tuple[str, bytes]] = {
    STORY: page(CSS, IMAGE), VIEWED: page(CSS, IMAGE),
    INCOMPLETE: page(OTHER_CSS, OTHER_IMAGE),
    CSS: ("text/css", STYLESHEET), OTHER_CSS: ("text/css", STYLESHEET),
    IMAGE: ("image/png", PHOTO), OTHER_IMAGE: ("image/png", PHOTO),
}


@pytest.fixture
def site() -> Iterator[LocalPages]:
    with LocalPages(SITE_PAGES) as pages:
        yield pages


def chromium() -> str:
    executable = chromium_executable()
    if executable is None:
        missing("chromium is not installed (apt-get install chromium)")
    return executable


def archive_pages(data_dir: Path, site: LocalPages, paths: list[str]) -> dict[str, WrittenRecord]:
    """Archive what ``site`` serves at ``paths`` (as a crawl would: same bytes)."""
    config = ArchiveSettings(data_dir=data_dir)
    catalog = Catalog(config.database_url)
    archiver = Archiver(catalog, config.open_storage(), ClockedWriter(config.spool_dir))
    written = {}
    for path in paths:
        served = SITE_PAGES.get(path, ("text/html", b"not found"))
        mime, body = ("text/html; charset=utf-8", served.encode()) if isinstance(served, str) \
            else served
        written[path] = archiver.archive(exchange(site.url + path, body,
                                                  status=200 if path in SITE_PAGES else 404,
                                                  headers=[("Content-Type", mime)]))
    archiver.close()
    catalog.dispose()
    return written


def add_view_screenshot(data_dir: Path, page_record: WrittenRecord, screenshot: bytes) -> None:
    """What browser capture writes with a page: a ``resource`` record
    ``urn:view:{page URL}`` (image/png) concurrent with its response record, stored and
    catalogued (here in a WARC of its own)."""
    config = ArchiveSettings(data_dir=data_dir)
    path = data_dir / "view.warc.gz"
    view_url = VIEW_SCHEME + page_record.target_uri
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True, warc_version="WARC/1.1")
        writer.write_record(writer.create_warc_record(
            view_url, "resource", payload=io.BytesIO(screenshot), length=len(screenshot),
            warc_content_type="image/png",
            warc_headers_dict={"WARC-Concurrent-To": page_record.record_id}))
    config.open_storage().put_file(warc_key(path.name), path, sha256=sha256(path.read_bytes()))
    catalog = Catalog(config.database_url)
    with catalog.session() as session:
        warc = WarcFile(filename=path.name, storage_key=warc_key(path.name),
                        state=WarcState.UPLOADED, size=path.stat().st_size)
        session.add(warc)
        session.flush()
        session.add(Capture(warc_file_id=warc.id, url=view_url, surt=surt_key(view_url),
                            timestamp=page_record.timestamp, status=200, mime="image/png",
                            record_type="resource", record_id="<urn:uuid:view-1>", offset=0,
                            length=path.stat().st_size))
    catalog.dispose()


def settings(data_dir: Path, **values: Any) -> ServiceSettings:
    return ServiceSettings(data_dir=data_dir, allowed_networks="127.0.0.0/8",
                           chromium=chromium(), **values)


def test_a_complete_capture_replays_as_the_live_page_and_an_incomplete_one_says_why(
        tmp_path: Path, site: LocalPages) -> None:
    data = tmp_path / "data"
    records = archive_pages(data, site, [STORY, CSS, IMAGE, GONE, INCOMPLETE, VIEWED])
    recorded = png(1280, 800, (255, 0, 255))  # not what the page looks like: a marker
    add_view_screenshot(data, records[VIEWED], recorded)
    with CaptureChecker(settings(data)) as checker:
        complete = checker.check(checker.closest(site.url + STORY, None))
        incomplete = checker.check(checker.closest(site.url + INCOMPLETE, None))
        site.requests.clear()
        viewed = checker.check(checker.closest(site.url + VIEWED, None))

    # every request of the archived view went to the replay origin, and was answered
    view, *requisites = complete.replay_requests
    origin = urlsplit(view).netloc
    assert view.endswith(f"/web/{records[STORY].timestamp}if_/{site.url}{STORY}")
    assert {urlsplit(url).netloc for url in complete.replay_requests} == {origin}
    assert sorted(url.split("/", 5)[-1] for url in requisites) == [
        site.url + GONE, site.url + IMAGE, site.url + CSS]
    assert complete.check.failed_resources == []  # the 404 is the site's, archived as such
    assert complete.check.compared_with == "live"
    assert complete.check.pixel_diff is not None
    assert complete.check.pixel_diff <= MAX_PIXEL_DIFF
    assert image_size(complete.thumbnail or b"") == (320, 200)

    assert sorted(incomplete.check.failed_resources, key=lambda f: f["url"]) == [
        {"url": site.url + OTHER_CSS, "reason": "not in the archive"},
        {"url": site.url + OTHER_IMAGE, "reason": "not in the archive"}]
    assert {urlsplit(url).netloc for url in incomplete.replay_requests} == {origin}
    assert incomplete.check.pixel_diff is not None and incomplete.check.pixel_diff > 0.3

    # the crawl's own screenshot of the live page is the reference: the live site is not asked
    assert viewed.check.compared_with == "capture"
    assert site.requests == []
    assert viewed.check.pixel_diff is not None and viewed.check.pixel_diff > 0.9
    assert viewed.check.failed_resources == []

    catalog = Catalog(ArchiveSettings(data_dir=data).database_url)
    with catalog.session() as session:
        stored = {c.url: (check.pixel_diff, check.failed_resources) for c, check in
                  session.execute(select(Capture, CaptureCheck).join(CaptureCheck))}
    catalog.dispose()
    assert stored == {site.url + STORY: (complete.check.pixel_diff, []),
                      site.url + INCOMPLETE: (incomplete.check.pixel_diff,
                                              incomplete.check.failed_resources),
                      site.url + VIEWED: (viewed.check.pixel_diff, [])}
    print(f"pixel diff: complete {complete.check.pixel_diff:.4f}, "
          f"incomplete {incomplete.check.pixel_diff:.4f}")


def test_a_request_the_gate_refuses_is_aborted_before_it_leaves(tmp_path: Path) -> None:
    with LocalPages({"/x.png": ("image/png", PHOTO)}, host="127.0.0.2") as elsewhere:
        outside = elsewhere.url + "/x.png"
        with LocalPages({"/": f'<img src="{outside}"><p>page</p>'}) as here, \
                Chromium(chromium(), 10, {"width": 1280, "height": 800}) as browser:
            rendering = browser.render(here.url + "/", lambda url: None if url.startswith(
                here.url) else "left the archive (blocked)")
        assert elsewhere.requests == []
    assert rendering.failures == {outside: "left the archive (blocked)"}
    assert rendering.requests == [here.url + "/", outside]
    assert rendering.screenshot is not None and image_size(rendering.screenshot)[0] == 1280


def test_check_command_stores_what_the_api_and_the_ui_show(tmp_path: Path,
                                                            site: LocalPages) -> None:
    data = tmp_path / "data"
    archive_pages(data, site, [STORY, CSS, IMAGE, GONE, INCOMPLETE])
    archive = Archive(data, env={"NEWSARCHIVE_CHROMIUM": chromium()})
    thumbnail = tmp_path / "view.png"
    report = archive.cli("check", site.url + INCOMPLETE, "--json",
                         "--thumbnail", str(thumbnail)).json()
    check = report["check"]
    assert check["incomplete"] is True
    assert check["pixel_diff"] > 0.3
    assert sorted(f["url"] for f in check["failed_resources"]) == [site.url + OTHER_CSS,
                                                                  site.url + OTHER_IMAGE]
    assert report["thumbnail"] == str(thumbnail)
    assert image_size(thumbnail.read_bytes()) == (320, 200)

    with api_client(data) as client:
        items = client.get("/api/v1/captures", params={"url": site.url, "match": "prefix"}
                           ).json()["items"]
        by_url = {item["url"]: item for item in items}
        checked = by_url[site.url + INCOMPLETE]
        assert checked["check"] == check
        assert by_url[site.url + STORY]["check"] is None
        shown = client.get(f"/api/v1/captures/{checked['id']}/thumbnail")
        assert shown.status_code == 200
        assert shown.headers["content-type"] == "image/png"
        assert shown.content == thumbnail.read_bytes()
        unchecked = client.get(f"/api/v1/captures/{by_url[site.url + STORY]['id']}/thumbnail")
        assert unchecked.status_code == 404
        assert "has no thumbnail" in unchecked.json()["error"]
        ui = client.get("/ui/captures", params={"url": site.url + INCOMPLETE}).text
    assert f'src="/api/v1/captures/{checked["id"]}/thumbnail"' in ui
    assert "Incomplete replay" in ui and "2 resources failed to load" in ui


def test_a_crawl_with_the_check_on_says_once_without_chromium_and_check_job_does_it(
        tmp_path: Path, site: LocalPages) -> None:
    absent = str(tmp_path / "no-chromium")
    archive = Archive(tmp_path / "data", env={"NEWSARCHIVE_CAPTURE_CHECK": "true",
                                              "NEWSARCHIVE_CHROMIUM": absent})
    result = archive.cli("crawl", "--json", "--depth", "0", site.url + STORY,
                         site.url + CSS, site.url + IMAGE, site.url + GONE)
    job_id = json.loads(result.stdout)["job_id"]
    notices = [line for line in result.stderr.splitlines() if "capture check" in line]
    assert notices == [f"notice: capture check skipped: NEWSARCHIVE_CHROMIUM={absent} is "
                       "not an executable file; install it with `apt-get install chromium`, "
                       "or point NEWSARCHIVE_CHROMIUM at it"]
    failed = archive.cli("check", site.url + STORY, expect=2)
    assert failed.stderr.startswith("error: the capture check needs Chromium: ")

    reports = archive.cli("check", "--job", str(job_id), "--json",
                          env={"NEWSARCHIVE_CHROMIUM": chromium()}).json()
    assert [r["url"] for r in reports] == [site.url + STORY]  # not its stylesheet or image
    assert reports[0]["check"]["failed_resources"] == []
    assert reports[0]["check"]["pixel_diff"] <= MAX_PIXEL_DIFF
    with archive.catalog().session() as session:
        stored = session.scalars(select(CaptureCheck)).all()
    assert [(c.capture_id, c.pixel_diff) for c in stored] == [
        (reports[0]["capture_id"], reports[0]["check"]["pixel_diff"])]


def test_the_service_checks_a_crawl_jobs_pages_after_it(service_factory: Any,
                                                        site: LocalPages) -> None:
    service = service_factory({"NEWSARCHIVE_CAPTURE_CHECK": "true",
                               "NEWSARCHIVE_CHROMIUM": chromium(),
                               "NEWSARCHIVE_REQUISITES": "false"})  # the page alone
    job = service.crawl([site.url + INCOMPLETE])
    assert service.wait_job(job["id"])["status"] == "succeeded"

    def checked() -> dict[str, Any] | None:
        items = service.client.get("/api/v1/captures",
                                   params={"url": site.url + INCOMPLETE}).json()["items"]
        return items[0]["check"] if items and items[0]["check"] else None

    check = wait_until(checked, 60, interval=0.3, message=lambda: "the capture check\n"
                       + (service.data_dir / "logs" / f"job-{job['id']}.log").read_text())
    assert check["incomplete"] is True  # the page alone: none of its resources archived
    assert sorted(f["url"] for f in check["failed_resources"]) == [
        site.url + GONE, site.url + OTHER_CSS, site.url + OTHER_IMAGE]
