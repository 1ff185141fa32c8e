"""Interop: ReplayWeb.page (the static app from npm) opens our WACZ in headless Chromium,
shows the archived article with its stylesheet and logo, and lists the pages of a crawl that
extracted nothing.

ReplayWeb.page 2.5.3 is fetched with ``npm pack`` into ``.cache/replaywebpage`` (reused when
present; ``npm install`` fails on a missing dependency version, the packed app is complete).
The app and the WACZ are served by one 127.0.0.1 server that honours ``Range:``, as
ReplayWeb.page reads a WACZ with ranged requests (the ZIP directory with ``bytes=-N``).
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import zipfile
from collections.abc import Iterator
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.browser import chromium_page
from tests.support.cli import Archive
from tests.support.peers import replaywebpage_app

pytestmark = pytest.mark.slow

ARTICLE = "/world/2026/11/03/harbour-bridge-reopens.html"
HEADLINE = "Harbour Bridge reopens to traffic after eighteen-month restoration"
RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class RangeHandler(SimpleHTTPRequestHandler):
    """Static files with single-range ``Range:`` support (``a-b``, ``a-``, ``-N``)."""

    def log_message(self, *args: Any) -> None:  # keep the test output quiet
        pass

    def send_head(self) -> Any:
        spec = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if spec is None or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        match = RANGE.match(spec.strip())
        if match is None or match.groups() == ("", ""):
            self.send_error(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            return None
        first, last = match.groups()
        if first:
            start, end = int(first), min(int(last) if last else size - 1, size - 1)
        else:
            start, end = max(size - int(last), 0), size - 1
        if start > end:
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return None
        f = path.open("rb")
        f.seek(start)
        self.send_response(HTTPStatus.PARTIAL_CONTENT)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self._remaining = end - start + 1
        return f

    def copyfile(self, source: Any, outputfile: Any) -> None:
        remaining = getattr(self, "_remaining", None)
        if remaining is None:
            return super().copyfile(source, outputfile)
        while remaining > 0 and (chunk := source.read(min(remaining, 1 << 16))):
            outputfile.write(chunk)
            remaining -= len(chunk)
        return None


@pytest.fixture
def range_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Serves a directory (ReplayWeb.page plus our WACZ) on 127.0.0.1; yields (url, dir)."""
    root = tmp_path / "www"
    shutil.copytree(replaywebpage_app(), root)

    def handler(*args: Any) -> RangeHandler:
        return RangeHandler(*args, directory=str(root))

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_range_server_honours_suffix_ranges(range_server) -> None:
    url, root = range_server
    (root / "data.bin").write_bytes(bytes(range(256)) * 4)
    tail = httpx.get(f"{url}/data.bin", headers={"Range": "bytes=-22"})
    assert tail.status_code == 206 and tail.content == (bytes(range(256)) * 4)[-22:]
    assert tail.headers["Content-Range"] == "bytes 1002-1023/1024"
    middle = httpx.get(f"{url}/data.bin", headers={"Range": "bytes=10-19"})
    assert middle.status_code == 206 and middle.content == bytes(range(10, 20))


def test_replaywebpage_shows_the_archived_article(archive: Archive, demo_site, range_server,
                                                  tmp_path: Path) -> None:
    summary = archive.crawl(demo_site.url + ARTICLE, "--depth", "0")
    url, root = range_server
    wacz = root / "news.wacz"
    archive.cli("export-wacz", "--job", str(summary["job_id"]), "-o", str(wacz))
    with zipfile.ZipFile(wacz) as package:
        pages = [json.loads(line) for line in package.read("pages/pages.jsonl").splitlines()]
    archived = demo_site.url + ARTICLE
    assert [(p["url"], p["title"]) for p in pages[1:]] == [(archived, HEADLINE)]

    viewer = f"{url}/index.html?source={url}/news.wacz#view=pages&url={archived}"
    screenshot = tmp_path / "replaywebpage.png"
    with chromium_page(viewport={"width": 1280, "height": 900}) as (page, errors):
        page.goto(viewer)
        headline = page.frame_locator("iframe").locator("h1", has_text=HEADLINE)
        try:
            headline.wait_for(timeout=60_000)  # the app loads the WACZ, then the frame
        finally:
            page.screenshot(path=str(screenshot))
        assert headline.is_visible()
        # its requisites were archived with it: the stylesheet applies, the logo loads
        frame = page.frame_locator("iframe")
        assert frame.locator(".site-header").evaluate(
            "e => getComputedStyle(e).backgroundColor") == "rgb(18, 53, 91)"
        logo = frame.locator(".logo img")
        logo.evaluate("img => img.complete || new Promise(r => img.onload = r)")
        assert logo.evaluate("img => img.naturalWidth") == 32
        replay_frames = [f.url for f in page.frames if f.url.endswith(archived)]
        assert replay_frames and f"{url}/w/" in replay_frames[0], (page.frames, errors)
    assert screenshot.read_bytes().startswith(b"\x89PNG")


def test_replaywebpage_lists_the_pages_of_an_unextracted_crawl(archive: Archive, demo_site,
                                                               range_server) -> None:
    """A --no-extract crawl has no articles; its WACZ still lists its HTML pages, which
    ReplayWeb.page shows by title (instead of "No Pages are defined in this archive"), and a
    page opened from the list replays."""
    summary = archive.crawl("--no-extract", "--depth", "1", demo_site.url + "/")
    url, root = range_server
    wacz = root / "unextracted.wacz"
    archive.cli("export-wacz", "--job", str(summary["job_id"]), "-o", str(wacz))
    with zipfile.ZipFile(wacz) as package:
        pages = [json.loads(line) for line in package.read("pages/pages.jsonl").splitlines()]
    titles = sorted(p["title"] for p in pages[1:])
    assert len(titles) == 12 and "World | The Harbour Gazette" in titles

    with chromium_page(viewport={"width": 1280, "height": 900}) as (page, errors):
        page.goto(f"{url}/index.html?source={url}/unextracted.wacz#view=pages")
        entries = page.locator("wr-page-entry")
        entries.nth(len(titles) - 1).wait_for(timeout=60_000)  # the app loads the pages
        assert entries.count() == len(titles)
        assert [t for t in titles if entries.filter(has_text=t).count() != 1] == []
        assert page.get_by_text("No Pages are defined").count() == 0
        entries.filter(has_text="World | The Harbour Gazette").get_by_role("link").first.click()
        world = page.frame_locator("iframe").locator("h1", has_text="World")
        world.wait_for(timeout=60_000)
        assert world.is_visible(), errors
