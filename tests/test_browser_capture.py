"""Browser capture of script-built pages (crawler.render, crawler.browser), against a local
site whose story is written by scripts (tests.support.script_site): one ``auto`` crawl of
the story and of an ordinary article, in headless Chromium, then what it archived, what
was blocked, what was extracted and what replay shows; a site crawl in ``browser`` mode;
and a crawl without Chromium, which captures statically and says once how to install it.

Chromium and Playwright are required (skipped without them, a failure under
NEWSARCHIVE_REQUIRE_SERVICES=1), except for the crawl without Chromium and the escalation
rules, which need neither.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import HtmlResponse, Request
from sqlalchemy import delete, select

from archive.archiver import Archiver
from archive.catalog import Catalog
from archive.cdx_query import CdxQuery
from archive.cdx_query import lines as cdx_lines
from archive.models import Article, Capture, Site
from archive.recovery import catalogue_complete_records
from archive.replay import rendered_dom
from archive.storage import LocalStorage
from archive.wacz import select_job, write_wacz
from crawler.browser.chromium import Chromium, find_chromium
from crawler.render import needs_browser
from scheduler.site_definitions import SiteIn
from scheduler.sites import create_site
from tests.support.api import api_client
from tests.support.browser import require_chromium
from tests.support.cli import Archive
from tests.support.images import image_size, png
from tests.support.peers import wacz_tool
from tests.support.script_site import (
    ARTICLE_JSON_GZIP,
    BODY,
    EXTRA,
    LAZY_PNG,
    PLAIN_TEXT,
    REFUSED_URLS,
    STORY,
    ScriptSite,
)
from tests.support.warc import ClockedWriter, exchange, read_records, warcio_check

pytestmark = pytest.mark.slow

INSTALL_HINT = "apt-get install chromium"


@dataclass
class Crawl:
    archive: Archive
    site: ScriptSite
    summary: dict[str, Any]
    stderr: str
    records: list[Any]  # (rec_headers, http_headers, payload) of every record

    def of(self, record_type: str, uri: str) -> list[Any]:
        return [r for r in self.records if r[0].get_header("WARC-Type") == record_type
                and r[0].get_header("WARC-Target-URI") == uri]

    def one(self, record_type: str, uri: str) -> Any:
        found = self.of(record_type, uri)
        assert len(found) == 1, (record_type, uri, len(found))
        return found[0]

    def metadata(self, url: str) -> dict[str, Any]:
        return json.loads(self.one("metadata", f"urn:metadata:{url}")[2])


def crawl(archive: Archive, site: ScriptSite, *args: str,
          env: dict[str, str] | None = None) -> Crawl:
    result = archive.cli("crawl", "--json", *args, env=env)
    records = [r for path in archive.warc_paths() for r in read_records(path)]
    return Crawl(archive, site, result.json(), result.stderr, records)


@pytest.fixture(scope="module")
def site() -> Iterator[ScriptSite]:
    with ScriptSite() as served:
        yield served


@pytest.fixture(scope="module")
def auto(site: ScriptSite, tmp_path_factory: pytest.TempPathFactory) -> Crawl:
    """One crawl in the default mode (auto) of the script-built story and a plain article."""
    require_chromium()
    archive = Archive(tmp_path_factory.mktemp("auto") / "data")
    site.requests.clear()
    return crawl(archive, site, "--depth", "0", f"{site.url}/story.html",
                 f"{site.url}/plain.html")


# -- what is archived ------------------------------------------------------------------------


def test_script_fetches_are_archived_as_they_crossed_the_wire(auto: Crawl) -> None:
    url = f"{auto.site.url}/api/article.json"
    headers, http, payload = auto.one("response", url)
    assert http.statusline == "200 OK"
    assert http.get_header("Content-Encoding") == "gzip"
    assert payload == ARTICLE_JSON_GZIP  # the gzip bytes as sent, not decoded
    request_headers, request_http, _ = auto.one("request", url)
    assert request_headers.get_header("WARC-Concurrent-To") == headers.get_header(
        "WARC-Record-ID")
    assert request_http.protocol == "GET" and "/api/article.json" in request_http.statusline
    # a script fetch that redirects: both hops archived (Scrapy followed the redirect)
    _, moved, _ = auto.one("response", f"{auto.site.url}/api/moved")
    assert moved.statusline.startswith("302") and moved.get_header("Location") == \
        "/api/extra.json"
    assert auto.one("response", f"{auto.site.url}/api/extra.json")[2] == EXTRA.encode()
    auto.one("request", f"{auto.site.url}/api/extra.json")
    # the page itself was fetched once: the browser got the archived response
    assert auto.site.requests.count("/story.html") == 1
    warcio_check(*auto.archive.warc_paths())


def test_the_lazy_image_is_archived_once_scrolled_into_view(auto: Crawl) -> None:
    _, http, payload = auto.one("response", f"{auto.site.url}/img/lazy.png")
    assert http.get_header("Content-Type") == "image/png" and payload == LAZY_PNG


def test_requests_to_refused_addresses_are_blocked_logged_and_not_archived(
        auto: Crawl) -> None:
    for refused in REFUSED_URLS:
        host = refused.split("/")[2]
        assert not [r for r in auto.records
                    if host in (r[0].get_header("WARC-Target-URI") or "")], refused
        assert f"{refused}: blocked a request of the page {auto.site.url}/story.html" \
            in auto.stderr
    assert auto.summary["browser"]["blocked"] == 2
    render = auto.metadata(f"{auto.site.url}/story.html")["render"]
    assert sorted(render["blocked"]) == sorted(REFUSED_URLS)


def test_screenshot_and_rendered_dom_are_resource_records_of_the_page(auto: Crawl) -> None:
    page_url = f"{auto.site.url}/story.html"
    page_id = auto.one("response", page_url)[0].get_header("WARC-Record-ID")
    view, _, screenshot = auto.one("resource", f"urn:view:{page_url}")
    dom, _, rendered = auto.one("resource", f"urn:dom:{page_url}")
    assert view.get_header("WARC-Concurrent-To") == dom.get_header("WARC-Concurrent-To") \
        == page_id
    assert view.get_header("Content-Type") == "image/png"
    width, height = image_size(screenshot)
    assert width == 1280 and height > 3000  # the viewport's width, the whole page's height
    assert dom.get_header("Content-Type") == "text/html; charset=utf-8"
    text = rendered.decode("utf-8")
    assert BODY in text and EXTRA in text and 'src="/img/lazy.png"' in text
    with auto.archive.catalog().session() as session:
        rows = session.execute(select(Capture.url, Capture.record_type, Capture.mime)
                               .where(Capture.record_type == "resource")).all()
    assert sorted(rows) == [(f"urn:dom:{page_url}", "resource", "text/html"),
                            (f"urn:view:{page_url}", "resource", "image/png")]


def test_the_article_is_extracted_from_the_rendered_dom(auto: Crawl) -> None:
    with auto.archive.catalog().session() as session:
        texts = dict(session.execute(select(Capture.url, Article.text).join(Article)).all())
    assert BODY.split(". ")[0] in texts[f"{auto.site.url}/story.html"]
    assert "enable JavaScript" not in texts[f"{auto.site.url}/story.html"]
    assert PLAIN_TEXT.split(": ")[1][:40] in texts[f"{auto.site.url}/plain.html"]


def test_auto_escalates_the_script_built_page_and_not_the_plain_one(auto: Crawl) -> None:
    story = auto.metadata(f"{auto.site.url}/story.html")
    assert story["render"]["mode"] == "browser"
    assert story["render"]["reason"] == "app shell: #root is empty"
    assert "render" not in auto.metadata(f"{auto.site.url}/plain.html")
    browser = auto.summary["browser"]
    assert (browser["mode"], browser["escalated"], browser["pages"], browser["static"]) == (
        "auto", 1, 1, 0)
    assert browser["unavailable"] is None
    # responses: robots.txt, 2 pages, 4 the story fetched in the browser, and the plain
    # page's stylesheet (a static requisite; the story's own were all loaded by the browser)
    assert auto.summary["pages"] == 8
    assert auto.summary["requisites"]["archived"] == 1
    assert auto.site.requests.count("/plain.html") == 1


# -- replay and export --------------------------------------------------------------------


def test_replay_shows_the_rendered_page_and_id_the_response_as_captured(auto: Crawl) -> None:
    url = f"{auto.site.url}/story.html"
    with auto.archive.catalog().session() as session:
        timestamp = session.scalar(select(Capture.timestamp).where(
            Capture.url == url, Capture.record_type == "response"))
    with api_client(auto.archive.data_dir) as client:
        view = client.get(f"/web/{timestamp}/{url}")
        raw = client.get(f"/web/{timestamp}id_/{url}")
        metrics = client.get("/metrics").text
    assert view.status_code == 200
    assert BODY in view.text and EXTRA in view.text
    assert "enable JavaScript" not in view.text  # the live page ran its scripts
    assert f"/web/{timestamp}im_/{auto.site.url}/img/lazy.png" in view.text
    assert "script-src 'none'" in view.headers["content-security-policy"]
    assert raw.content == STORY
    assert "newsarchive_browser_pages_total 1.0" in metrics
    assert "newsarchive_browser_escalations_total 1.0" in metrics
    assert "newsarchive_browser_blocked_requests_total 2.0" in metrics


def test_wacz_holds_the_resource_records_which_are_not_pages(
        auto: Crawl, tmp_path: Path) -> None:
    catalog = auto.archive.catalog()
    with catalog.session() as session:
        selection = select_job(session, auto.summary["job_id"])
    config = auto.archive.config
    path = tmp_path / "job.wacz"
    write_wacz(path, catalog, config.open_storage(catalog), config.spool_dir, selection)
    with catalog.session() as session:  # the script's fetches and images are the page's
        fetched_for_pages = set(session.scalars(select(Capture.url).where(
            Capture.record_type != "resource", Capture.subresource)))
    catalog.dispose()
    assert {f"{auto.site.url}/api/article.json", f"{auto.site.url}/img/lazy.png"} \
        <= fetched_for_pages
    assert not fetched_for_pages & {f"{auto.site.url}/plain.html",
                                    f"{auto.site.url}/story.html"}
    with zipfile.ZipFile(path) as wacz:
        pages = [json.loads(line) for line in wacz.read("pages/pages.jsonl").splitlines()[1:]]
        index = gzip.decompress(wacz.read("indexes/index.cdx.gz")).decode()
    assert sorted(page["url"] for page in pages) == [f"{auto.site.url}/plain.html",
                                                    f"{auto.site.url}/story.html"]
    resources = [json.loads(line.split(" ", 2)[2]) for line in index.splitlines()
                 if line.startswith("urn:")]
    assert sorted((r["url"].split(":")[1], r["mime"], "status" in r) for r in resources) == [
        ("dom", "text/html", False), ("view", "image/png", False)]
    validated = subprocess.run([str(wacz_tool()), "validate", "-f", str(path)],
                               capture_output=True, text=True, timeout=300, check=False)
    assert "the passed WACZ is valid" in validated.stdout, validated.stdout + validated.stderr


def test_chromium_cannot_reach_the_network_by_itself(site: ScriptSite) -> None:
    """A request the interception lets through (as Playwright lets a redirect's follow-up
    through) goes nowhere: Chromium's only way out is a proxy that refuses."""
    require_chromium()

    async def fetch_past_the_interception() -> str:
        chromium = Chromium(find_chromium(os.environ.get("NEWSARCHIVE_CHROMIUM", "")))
        try:
            page = await (await chromium.browser()).new_page()

            async def let_through(route: Any) -> None:
                if route.request.is_navigation_request():
                    await route.fulfill(body="<html><body>blank</body></html>",
                                        content_type="text/html")
                else:
                    await route.continue_()

            await page.route("**/*", let_through)
            await page.goto(f"{site.url}/blank.html")
            return await page.evaluate(
                "fetch('/plain.html').then(() => 'reached', () => 'failed')")
        finally:
            await chromium.close()

    before = len(site.requests)
    assert asyncio.run(fetch_past_the_interception()) == "failed"
    assert site.requests[before:] == []


# -- modes and configuration ----------------------------------------------------------------


def test_a_site_in_browser_mode_renders_every_page(site: ScriptSite, tmp_path: Path) -> None:
    """Every page rendered; the stylesheet both pages use is fetched once, by the first."""
    require_chromium()
    archive = Archive(tmp_path / "data", env={"NEWSARCHIVE_BROWSER_PAGES": "1"})
    pages = [f"{site.url}/plain.html", f"{site.url}/plain2.html"]
    archive.cli("sites", "add", "plain", "--start-url", pages[0], "--start-url", pages[1],
                "--depth", "0", "--render", "browser")
    with archive.catalog().session() as session:
        assert session.scalar(select(Site.render).where(Site.name == "plain")) == "browser"
    result = crawl(archive, site, "--site", "plain")
    renders = [result.metadata(url)["render"] for url in pages]
    assert [(r["mode"], r["reason"]) for r in renders] == [("browser", "render mode browser")] * 2
    assert sorted(r["requests"] for r in renders) == [0, 1]
    assert len(result.of("response", f"{site.url}/style.css")) == 1
    assert (result.summary["browser"]["pages"], result.summary["browser"]["escalated"]) \
        == (2, 0)
    result.one("resource", f"urn:dom:{site.url}/plain.html")


def test_without_chromium_auto_captures_statically_and_says_how_to_install_it(
        site: ScriptSite, tmp_path: Path) -> None:
    """Also: ``--render`` wins over the site's render mode."""
    archive = Archive(tmp_path / "data")
    with archive.catalog().session() as session:
        create_site(session, SiteIn(name="script", start_urls=[
            f"{site.url}/story.html", f"{site.url}/plain.html"], max_depth=0, render="browser"))
    missing_file = str(tmp_path / "no-chromium")
    result = crawl(archive, site, "--site", "script", "--render", "auto",
                   env={"NEWSARCHIVE_CHROMIUM": missing_file})
    notices = [line for line in result.stderr.splitlines() if INSTALL_HINT in line]
    assert len(notices) == 1, result.stderr
    assert "browser capture is off for this crawl" in notices[0] and missing_file in notices[0]
    assert result.summary["status"] == "succeeded"
    browser = result.summary["browser"]
    assert (browser["mode"], browser["escalated"], browser["pages"], browser["static"]) == (
        "auto", 1, 0, 1)
    assert missing_file in browser["unavailable"]
    assert not [r for r in result.records if r[0].get_header("WARC-Type") == "resource"]
    render = result.metadata(f"{site.url}/story.html")["render"]
    assert render["mode"] == "static" and render["reason"] == "app shell: #root is empty"
    assert result.summary["articles"] >= 1  # the plain article, extracted as ever


def test_a_site_render_mode_is_set_cleared_and_validated(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "data")
    with api_client(archive.data_dir, allowed_networks="127.0.0.0/8") as client:
        created = client.post("/api/v1/sites", json={
            "name": "x", "start_urls": ["http://127.0.0.1:9/"], "render": "browser"})
        assert created.status_code == 201 and created.json()["render"] == "browser"
        cleared = client.patch("/api/v1/sites/x", json={"render": None})
        assert cleared.status_code == 200 and cleared.json()["render"] is None
        refused = client.patch("/api/v1/sites/x", json={"render": "fancy"})
        assert refused.status_code == 422 and "render" in refused.text


# -- which pages look script-built -------------------------------------------------------


def page(body: str, head: str = "") -> HtmlResponse:
    html = f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"
    return HtmlResponse("http://example.com/a", body=html.encode(), encoding="utf-8",
                        request=Request("http://example.com/a"))


WORDS = " ".join(["The harbour committee met again and residents asked questions."] * 12)


@pytest.mark.parametrize(("body", "reason"), [
    ('<div id="__next"></div><script src="/app.js"></script>', "app shell: #__next is empty"),
    ('<div id="app"><script>boot()</script></div><script src="/a.js"></script>',
     "app shell: #app is empty"),
    (f"<noscript>You need to enable JavaScript to run this app.</noscript><p>{WORDS}</p>"
     "<script>x()</script>", "noscript notice: 'You need to enable JavaScript to run this "
                             "app.'"),
    ('<p>Loading the story…</p><script type="module" src="/m.js"></script>',
     "little text (3 words) while 1 script(s) run"),
])
def test_pages_built_by_scripts_need_the_browser(body: str, reason: str) -> None:
    assert needs_browser(page(body)) == reason


@pytest.mark.parametrize("body", [
    "<p>Short page without any script.</p>",  # nothing would build it
    f"<article><p>{WORDS}</p></article><script src='/analytics.js'></script>",
    f'<div id="root"><p>{WORDS}</p></div><script>hydrate()</script>',  # rendered on the server
    # two roots of one id, one empty: the page's app root is the pair, and it has content
    f'<div id="root"></div><div id="root"><p>{WORDS}</p></div><script>x()</script>',
    f"<p>{WORDS}</p><noscript><img src='/pixel.gif'></noscript><script>t()</script>",
    '<p>Tiny.</p><script type="application/ld+json">{"@type": "NewsArticle"}</script>',
])
def test_complete_pages_stay_static(body: str) -> None:
    assert needs_browser(page(body)) is None


# -- the resource records, in the archive alone ----------------------------------------------


def test_resource_records_are_indexed_as_pywb_does_and_found_for_their_page_only(
        tmp_path: Path) -> None:
    """Written next to the page's response, indexed without a status under their ``urn:``
    key, catalogued again by recovery, and found by replay for the capture they are
    concurrent to, not for a later capture of the same URL."""
    url = "https://news.example.org/story"
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    storage = LocalStorage((tmp_path / "storage").as_uri())
    archiver = Archiver(catalog, storage, ClockedWriter(tmp_path / "spool",
                                                        step=timedelta(seconds=1)))
    page = archiver.archive(exchange(url, b"<html><body><div id=root></div></body></html>"))
    screenshot = png(4, 3, (0, 0, 0))
    view, dom = archiver.archive_rendering(page, screenshot, "<html><body>built</body></html>")
    later = archiver.archive(exchange(url, b"<html><body>changed</body></html>"))
    archiver.close()
    filename = page.filename
    index = (storage.root / "indexes" / f"{filename}.cdxj").read_text().splitlines()
    lines = {line.split(" ", 1)[0]: json.loads(line.split(" ", 2)[2]) for line in index}
    assert lines[f"urn:dom:{url}"]["mime"] == "text/html"
    assert lines[f"urn:view:{url}"]["mime"] == "image/png"
    assert "status" not in lines[f"urn:dom:{url}"] and "status" not in lines[f"urn:view:{url}"]
    for key in ("urn:dom:", "urn:view:"):  # the CDX API answers as the file's index says
        answer = "".join(cdx_lines(catalog.session, CdxQuery.build({"url": key + url})))
        assert [json.loads(line.split(" ", 2)[2]) for line in answer.splitlines()] \
            == [lines[key + url]]
        assert not "".join(cdx_lines(catalog.session, CdxQuery.build(
            {"url": key + url}, ["=status:200"])))
    with catalog.session() as session:
        rows = {c.record_id: c for c in session.scalars(select(Capture))}
        assert (rows[dom.record_id].url, rows[dom.record_id].record_type,
                rows[dom.record_id].status) == (f"urn:dom:{url}", "resource", 200)
        assert rendered_dom(session, rows[page.record_id], storage, tmp_path / "spool") \
            == b"<html><body>built</body></html>"
        assert rendered_dom(session, rows[later.record_id], storage, tmp_path / "spool") \
            is None
        session.execute(delete(Capture))
    warc = storage.root / "warcs" / filename
    assert catalogue_complete_records(catalog, warc, filename) == 4
    with catalog.session() as session:
        kinds = sorted(session.execute(select(Capture.record_type, Capture.mime)).all())
    assert kinds == [("resource", "image/png"), ("resource", "text/html"),
                     ("response", "text/html"), ("response", "text/html")]
    records = {r[0].get_header("WARC-Record-ID"): r for r in read_records(warc)}
    assert records[view.record_id][2] == screenshot
    assert records[view.record_id][0].get_header("WARC-Concurrent-To") == page.record_id
    warcio_check(warc)
    catalog.dispose()
