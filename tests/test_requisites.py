"""Page requisites: found in one pass over the page, archived once per crawl on any host,
listed in the page's metadata record, replayed from the archive."""

from __future__ import annotations

import gzip
import json
import re
import zipfile
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import lxml.html
import pytest
from sqlalchemy import select

from archive.models import Article, Capture
from crawler.links import FRAME, ICON, IMAGE, MEDIA, SCRIPT, STYLESHEET, css_requisites, page_links
from tests.support.api import api_client
from tests.support.browser import require_chromium
from tests.support.cli import Archive
from tests.support.pages import LocalPages
from tests.support.peers import running_pywb, wb_manager
from tests.support.requisites_site import ARTICLE, SECOND, RequisitesSite
from tests.support.warc import read_records, resource_types, warcio_check


def links_of(html: str, url: str = "http://example.com/a/page.html"):
    return page_links(lxml.html.document_fromstring(html), url)


# -- one pass over the page ------------------------------------------------------------------
def test_page_links_finds_every_kind_of_requisite_once_in_document_order():
    found = links_of("""<html><head>
        <base href="http://example.com/base/">
        <link rel="stylesheet" href="s.css"><link rel="stylesheet" href="s.css#again">
        <link rel="shortcut icon" href="/fav.ico"><link rel="apple-touch-icon" href="t.png">
        <link rel="preload" as="font" href="f.woff2"><link rel="modulepreload" href="m.js">
        <link rel="preload" as="image" imagesrcset="p1.png 1x, p2.png 2x">
        <link rel="canonical" href="/canonical"><link rel="alternate" href="/feed.xml"
              type="application/rss+xml; charset=utf-8">
        <meta property="og:image" content="//cdn.example.net/og.jpg">
        <meta property="og:type" content="article">
        <script src="app.js"></script><script type="application/ld+json">{"@type": "X"}</script>
        <style>@import "imp.css"; .a { background: url(bg.png) }</style></head>
        <body background="body.png">
        <img src="i.png" srcset="i-1x.png 1x,i-2x.png 2x" data-src="lazy.png"
             data-srcset="l1.png 1x, l2.png 2x" data-lazy-src="ll.png" data-original="lo.png">
        <picture><source srcset="pic.webp"><img src="pic.png"></picture>
        <video poster="poster.png" src="v.mp4"><source src="v.webm"><track src="t.vtt">
        </video><input type="image" src="button.png"><input type="text" src="no.png">
        <iframe src="frame.html"></iframe><embed src="e.swf"><object data="o.svg"></object>
        <div style="background-image:url('div.png')"></div>
        <a href="next.html#top">next</a><a href="next.html">again</a><a href="big.jpg">jpg</a>
        <a href="mailto:x@example.com">mail</a><a href="javascript:void(0)">js</a>
        <area href="/area">
        <img src="data:image/png;base64,AAAA"></body></html>""")
    base = "http://example.com/base/"
    by_kind: dict[str, list[str]] = {}
    for requisite in found.requisites:
        by_kind.setdefault(requisite.kind, []).append(requisite.url.removeprefix(base))
    assert by_kind[STYLESHEET] == ["s.css", "imp.css"]
    assert by_kind[ICON] == ["http://example.com/fav.ico", "t.png"]
    assert by_kind[SCRIPT] == ["m.js", "app.js"]
    assert by_kind[IMAGE] == [
        "p1.png", "p2.png", "http://cdn.example.net/og.jpg", "bg.png", "body.png", "i.png",
        "i-1x.png", "i-2x.png", "lazy.png", "ll.png", "lo.png", "l1.png", "l2.png",
        "pic.webp", "pic.png", "poster.png", "button.png", "div.png"]
    assert by_kind[MEDIA] == ["f.woff2", "v.mp4", "v.webm", "t.vtt", "e.swf", "o.svg"]
    assert by_kind[FRAME] == ["frame.html"]
    assert found.outlinks == [base + "next.html", "http://example.com/area"]
    assert found.canonical == "http://example.com/canonical"
    assert found.feeds == [("http://example.com/feed.xml", "application/rss+xml")]
    assert found.og_type == "article"
    assert json.loads(found.jsonld[0]) == {"@type": "X"}


def test_links_are_joined_as_urljoin_joins_them_against_each_pages_own_url():
    # links joined once per origin and reused by later pages (crawler.links._resolved) must
    # give what urljoin gives against the page at hand, whatever page of the site came first
    links = ["/a/b.html", "/a/../c/./d.html?x=1#f", "/?q", "/;p?q", "//cdn.example.net/x",
             "///triple", "https://example.com:8443/s", "https://example.com", "http:rel",
             "https:///no-host", "http://@example.com/", "/tab\tin/path", "/new\nline", "x/y",
             "../up", "?only=query", "#frag", "HTTP://EXAMPLE.com/Up", "http://[::1]:80/v6",
             "http://[bad/", "/é/ü?ß=1"]
    pages = ["https://example.com/2026/story.html?page=2", "https://example.com/",
             "http://example.com/a/b/", "https://user@example.com:8443/x;y?z"]
    for page in pages:  # twice: the second time every origin-only link comes from the cache
        for _ in range(2):
            html = "".join(f'<a href="{link}">l</a>' for link in links)
            expected = []
            for link in links:
                if link.startswith("#"):  # the page itself: not an outlink
                    continue
                try:
                    url = urljoin(page, link)
                    parts = urlsplit(url)
                except ValueError:
                    continue
                if parts.scheme in ("http", "https") and parts.netloc:
                    url = url.partition("#")[0]
                    if url not in expected:
                        expected.append(url)
            found = page_links(lxml.html.fragment_fromstring(html, create_parent="div"), page)
            assert found.outlinks == expected, page


def test_css_requisites_are_imports_and_urls_resolved_against_the_stylesheet():
    found = css_requisites('@import "a.css"; @import url(b.css) screen;\n'
                           '@font-face { src: url("../f/x.woff2") format("woff2") }\n'
                           "body { background: url( 'img/p.png' ) } .x { background: "
                           "url(data:image/gif;base64,R0lG) }",
                           "http://cdn.example.net/css/site.css")
    assert [(r.url, r.kind) for r in found] == [
        ("http://cdn.example.net/css/b.css", STYLESHEET),
        ("http://cdn.example.net/f/x.woff2", IMAGE),
        ("http://cdn.example.net/css/img/p.png", IMAGE),
        ("http://cdn.example.net/css/a.css", STYLESHEET)]


# -- a crawl ----------------------------------------------------------------------------------
# The page has a script and little text: `auto` would render it in the browser (see
# tests/test_browser_capture.py); these tests are about what a static capture fetches.
STATIC = ("--render", "static")

@pytest.fixture(scope="module")
def site():
    with RequisitesSite() as served:
        yield served


@pytest.fixture(scope="module")
def crawled(site, tmp_path_factory):
    """Both articles crawled at depth 0 (so only requisites add to them), with a page budget
    of 2: requisites do not count against it."""
    archive = Archive(tmp_path_factory.mktemp("requisites"))
    summary = archive.crawl(site.url + ARTICLE, site.url + SECOND, "--depth", "0",
                            "--max-pages", "2", *STATIC)
    return archive, summary


def responses(archive: Archive) -> dict[str, list[tuple]]:
    found: dict[str, list[tuple]] = {}
    for path in archive.warc_paths():
        for headers, http, payload in read_records(path):
            if headers.get_header("WARC-Type") in ("response", "revisit"):
                found.setdefault(headers.get_header("WARC-Target-URI"), []).append(
                    (headers, http, payload))
    return found


def test_each_requisite_is_archived_once_on_either_host(site, crawled):
    archive, summary = crawled
    wanted = site.article_requisites() | site.second_requisites()
    archived = responses(archive)
    urls = {host + path for host, path in wanted}
    assert urls <= set(archived), sorted(urls - set(archived))
    assert all(len(archived[url]) == 1 for url in urls)
    # fetched once although both pages (and the stylesheet) use them; nothing else fetched
    served = Counter({(site.url, p): n for p, n in site.site.requests.items()}) + Counter(
        {(site.cdn_url, p): n for p, n in site.cdn.requests.items()})
    assert {key: n for key, n in served.items() if n != 1} == {}
    pages = {(site.url, ARTICLE), (site.url, SECOND), (site.url, "/robots.txt")}
    assert set(served) == wanted | pages  # the CDN's frame, its robots.txt: not fetched
    assert summary["requisites"]["archived"] == len(wanted)
    assert summary["requisites"]["failed"] == 0
    assert summary["skipped"]["over_max_pages"] == 0
    warcio_check(*archive.warc_paths())


def test_a_requisite_is_archived_as_it_crossed_the_wire(site, crawled):
    archive, _ = crawled
    headers, http, payload = responses(archive)[site.cdn_url + "/css/typography.css"][0]
    assert http.get_header("Content-Encoding") == "gzip"
    assert payload == site.cdn.routes["/css/typography.css"][1]  # the gzip bytes as sent
    assert gzip.decompress(payload).startswith(b"h1 {")
    assert headers.get_header("WARC-IP-Address") == "127.0.0.2"


def test_the_metadata_record_lists_the_pages_requisites(site, crawled):
    archive, _ = crawled
    for path in archive.warc_paths():
        for headers, _, payload in read_records(path):
            if headers.get_header("WARC-Type") == "metadata" and \
                    headers.get_header("WARC-Target-URI").endswith(ARTICLE):
                listed = json.loads(gzip.decompress(payload) if payload[:2] == b"\x1f\x8b"
                                    else payload)["requisites"]
                break
        else:
            continue
        break
    else:
        pytest.fail("no metadata record for the article")
    urls = {(f"{urlsplit(r['url']).scheme}://{urlsplit(r['url']).netloc}",
             urlsplit(r["url"]).path) for r in listed}
    # the page's own requisites (its stylesheet's imports and fonts are the stylesheet's)
    assert urls == site.article_requisites() - {
        (site.cdn_url, "/css/typography.css"), (site.cdn_url, "/fonts/serif.woff2"),
        (site.cdn_url, "/img/paper.png"), (site.url, "/img/map.png")} | {
        (site.cdn_url, "/ad.html")}
    assert {"url": f"{site.url}/img/logo.png", "kind": "image"} in listed


def test_the_replay_of_a_page_finds_every_requisite_in_the_archive(site, crawled):
    archive, _ = crawled
    archived = responses(archive)
    page = archived[site.url + ARTICLE][0][0]
    timestamp = re.sub(r"\D", "", page.get_header("WARC-Date"))[:14]
    with api_client(archive.data_dir) as client:
        view = client.get(f"/web/{timestamp}/{site.url}{ARTICLE}")
        assert view.status_code == 200
        assert f"/web/{timestamp}cs_/{site.cdn_url}/css/site.css" in view.text
        # the frame may be framed by the sandboxed view (an opaque origin), inert all the same
        frame = client.get(f"/web/{timestamp}if_/{site.url}/embed/map.html")
        policy = frame.headers["Content-Security-Policy"]
        assert "frame-ancestors" not in policy
        assert "sandbox" in policy and "script-src 'none'" in policy
        assert "frame-ancestors 'self'" in view.headers["Content-Security-Policy"]
        for host, path in site.article_requisites():
            raw = client.get(f"/web/{timestamp}id_/{host}{path}")
            assert raw.status_code == 200, (host, path)
            _, http, payload = archived[host + path][0]
            coding = http.get_header("Content-Encoding")
            assert raw.headers.get("Content-Encoding") == coding  # sent as archived
            # (the client decodes what it receives)
            assert raw.content == (gzip.decompress(payload) if coding else payload)


def test_requisites_can_be_turned_off_and_limited(site, tmp_path):
    site.site.requests.clear()
    site.cdn.requests.clear()
    archive = Archive(tmp_path)
    summary = archive.crawl(site.url + ARTICLE, "--depth", "0", *STATIC,
                            env={"NEWSARCHIVE_REQUISITES_PER_PAGE": "3",
                                 "NEWSARCHIVE_REQUISITES_OBEY_ROBOTS": "true"})
    # stylesheets, then images (in document order); the CDN's robots.txt, obeyed now,
    # refuses its stylesheet and og:image
    nested = 4  # the stylesheet's import, font and background, the frame's image
    assert summary["requisites"]["over_page_limit"] == \
        len(site.article_requisites()) - nested - 3
    assert summary["requisites"]["failed"] == 2
    assert set(site.cdn.requests) == {"/robots.txt"}
    assert set(site.site.requests) == {ARTICLE, "/robots.txt", "/img/style-bg.png"}
    off = Archive(tmp_path / "off")
    site.site.requests.clear()
    summary = off.crawl(site.url + ARTICLE, "--depth", "0", *STATIC,
                        env={"NEWSARCHIVE_REQUISITES": "false"})
    assert summary["requisites"]["archived"] == 0
    assert set(site.site.requests) == {ARTICLE, "/robots.txt"}



def test_pywb_replays_every_requisite_byte_identically(site, crawled, tmp_path):
    archive, _ = crawled
    archived = responses(archive)
    wb_manager(tmp_path, "init", "coll")
    wb_manager(tmp_path, "add", "coll", *map(str, archive.warc_paths()))
    with running_pywb(tmp_path) as pywb:
        for host, path in site.article_requisites() | site.second_requisites():
            headers, http, payload = archived[host + path][0]
            timestamp = re.sub(r"\D", "", headers.get_header("WARC-Date"))[:14]
            with pywb.stream("GET", f"/coll/{timestamp}id_/{host}{path}") as answer:
                body = b"".join(answer.iter_raw())
                assert answer.status_code == 200, (host, path)
                assert answer.headers.get("Content-Encoding") == \
                    http.get_header("Content-Encoding"), (host, path)
            assert body == payload, (host, path)


def test_a_later_crawl_revalidates_requisites_and_writes_revisits(site, tmp_path):
    archive = Archive(tmp_path)
    archive.crawl(site.url + ARTICLE, "--depth", "0", *STATIC)
    site.site.conditional.clear()
    site.cdn.conditional.clear()
    again = archive.crawl(site.url + ARTICLE, "--depth", "0", *STATIC)
    wanted = site.article_requisites()
    asked = {(site.url, p) for p in site.site.conditional} | {
        (site.cdn_url, p) for p in site.cdn.conditional}
    assert wanted <= asked  # every requisite asked with If-None-Match: each answered 304
    assert again["not_modified"] >= len(wanted)
    second = max(archive.warc_paths(), key=lambda p: p.stat().st_mtime)
    profiles = {headers.get_header("WARC-Target-URI"): headers.get_header("WARC-Profile")
                for headers, _, _ in read_records(second)
                if headers.get_header("WARC-Type") == "revisit"}
    assert all(profiles.get(host + path, "").endswith("/revisit/server-not-modified")
               for host, path in wanted), profiles


def test_the_replay_looks_like_the_live_page_with_nothing_missing(site, crawled):
    """The capture check: the archived view, rendered in Chromium, against the live page."""
    archive, _ = crawled
    require_chromium()
    check = archive.cli("check", site.url + ARTICLE, "--json").json()["check"]
    # every request was answered from the archive, but for the frame on another site, which
    # is not a requisite (frames are fetched on the crawl's own sites only)
    assert check["failed_resources"] == [
        {"url": f"{site.cdn_url}/ad.html", "reason": "not in the archive"}]
    assert check["pixel_diff"] <= 0.02, check


def test_requisites_are_catalogued_as_subresources_and_are_not_wacz_pages(
        site, crawled, tmp_path):
    """An HTML frame looks like a page in every column but one: the WACZ lists the two pages
    the crawl was given, not the frame it fetched for one of them."""
    archive, summary = crawled
    with archive.catalog().session() as session:
        rows = session.execute(select(Capture.url, Capture.mime, Capture.subresource)).all()
    pages = {url for url, _, subresource in rows if not subresource}
    assert pages == {site.url + ARTICLE, site.url + SECOND, site.url + "/robots.txt"}
    assert (site.url + "/embed/map.html", "text/html", True) in rows
    assert {url for url, _, subresource in rows if subresource} == {
        host + path for host, path in site.article_requisites() | site.second_requisites()}
    # the records say it too (Browsertrix's WARC-Resource-Type), in Chrome's names
    types = resource_types(*archive.warc_paths())
    assert {url: kind for url, kind in types.items() if kind is None} == {
        url: None for url in pages}
    assert (types[site.url + "/embed/map.html"], types[site.cdn_url + "/css/typography.css"],
            types[site.cdn_url + "/fonts/serif.woff2"], types[site.url + "/img/logo.png"]) \
        == ("document", "stylesheet", "font", "image")

    wacz = tmp_path / "requisites.wacz"
    archive.cli_in_process("export-wacz", "--job", str(summary["job_id"]), "-o", str(wacz))
    with zipfile.ZipFile(wacz) as package:
        listed = [json.loads(line) for line in package.read("pages/pages.jsonl").splitlines()[1:]]
        index = gzip.decompress(package.read("indexes/index.cdx.gz")).decode()
    assert sorted(page["url"] for page in listed) == sorted([site.url + ARTICLE,
                                                             site.url + SECOND])
    assert f"{site.url}/embed/map.html" in index  # archived and replayable all the same


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migration_0014_counts_earlier_captures_as_fetched_for_themselves(kind, tmp_path):
    from alembic import command
    from sqlalchemy import inspect, text

    from archive.catalog import Catalog, alembic_config
    from archive.models import WarcFile
    from tests.support.databases import temporary_database

    with temporary_database(kind, tmp_path) as url:
        catalog = Catalog(url)
        config = alembic_config(catalog.engine)
        command.downgrade(config, "0013")
        assert "subresource" not in {c["name"] for c in inspect(catalog.engine)
                                     .get_columns("captures")}
        with catalog.engine.begin() as conn:
            warc_id = conn.execute(WarcFile.__table__.insert().values(
                filename="old.warc.gz", state="closed", created_at=datetime.now(UTC))
            ).inserted_primary_key[0]
            conn.execute(text(  # as 0013 knew captures: no subresource column
                "INSERT INTO captures (warc_file_id, url, surt, timestamp, status, mime, "
                "record_type, record_id, \"offset\", length) VALUES (:warc, "
                "'http://example.com/frame.html', 'com,example)/frame.html', "
                "'20261201000000', 200, 'text/html', 'response', '<urn:uuid:1>', 0, 100)"),
                {"warc": warc_id})
        command.upgrade(config, "head")
        with catalog.session() as session:
            assert session.scalars(select(Capture.subresource)).all() == [False]
        command.downgrade(config, "0013")
        command.upgrade(config, "head")
        catalog.dispose()


def test_a_browser_capture_treats_robots_txt_as_static_requisites_do(site, tmp_path):
    """The CDN's robots.txt disallows everything: its stylesheet, fonts and images are
    requisites all the same when a browser loads them (NEWSARCHIVE_REQUISITES_OBEY_ROBOTS,
    off by default, decides for both), and are catalogued as the page's subresources."""
    require_chromium()
    archive = Archive(tmp_path / "browser")
    archive.crawl(site.url + ARTICLE, "--depth", "0", "--render", "browser")
    with archive.catalog().session() as session:
        rows = dict(session.execute(select(Capture.url, Capture.subresource).where(
            Capture.record_type == "response")).all())
    cdn = {f"{site.cdn_url}/css/typography.css", f"{site.cdn_url}/img/paper.png"}
    assert cdn <= set(rows), sorted(rows)
    assert all(rows[url] for url in cdn) and not rows[site.url + ARTICLE]
    types = resource_types(*archive.warc_paths())
    assert types[f"{site.cdn_url}/css/typography.css"] == "stylesheet"  # as Chromium says
    assert types[site.url + ARTICLE] is None


@pytest.mark.parametrize("render", ["static", "browser"])
def test_a_frame_the_page_also_links_to_is_archived_as_a_page_too(render, tmp_path):
    """A live blog embedded in an article and linked from it: fetched first as the article's
    frame (a subresource: a static requisite, or by the page's browser), then, its link
    followed, as a page of its own, extracted and listed in the WACZ, as Browsertrix would
    navigate to it."""
    if render == "browser":
        require_chromium()

    live = "/live/2026/12/03/storm-updates.html"
    article = "/news/2026/12/03/storm-closes-the-coast-road.html"
    paragraph = "<p>Crews worked through the night to clear the coast road of fallen trees.</p>"
    with LocalPages({
        article: f'<!doctype html><title>Storm closes the coast road</title><h1>Storm</h1>'
                 f'{paragraph * 8}<iframe src="{live}"></iframe>'
                 f'<p><a href="{live}">Follow the live blog</a></p>',
        live: f"<!doctype html><title>Storm: live updates</title><h1>Live updates</h1>"
              f"{paragraph * 8}"}, host="127.0.0.1") as host:
        archive = Archive(tmp_path / "frames")
        summary = archive.crawl(host.url + article, "--depth", "1", "--render", render)
        assert host.requests.count(live) == 2
    with archive.catalog().session() as session:
        captures = session.execute(select(Capture.subresource, Capture.record_type).where(
            Capture.url == host.url + live, Capture.record_type != "resource")
            .order_by(Capture.id)).all()
        titles = session.scalars(select(Article.title)).all()
    assert [subresource for subresource, _ in captures] == [True, False], captures
    assert "Live updates" in titles, (captures, titles)
    wacz = tmp_path / "frames.wacz"
    archive.cli_in_process("export-wacz", "--job", str(summary["job_id"]), "-o", str(wacz))
    with zipfile.ZipFile(wacz) as package:
        listed = [json.loads(line) for line in package.read("pages/pages.jsonl").splitlines()[1:]]
    assert sorted(page["url"] for page in listed) == [host.url + live, host.url + article]
