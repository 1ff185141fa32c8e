"""Tests for the bundled Harbour Gazette demo site and its local HTTP server."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.demo.server import (
    ARTICLE_PATHS,
    BIG_SIZE,
    FRENCH_ARTICLE,
    MALFORMED_ARTICLE,
    NO_CHARSET_ARTICLE,
    TWO_AUTHOR_ARTICLE,
    WRONG_CHARSET_ARTICLE,
    DemoSite,
)
from tests.support.browser import require_chromium
from tests.support.cli import Archive

JSONLD_RE = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.S)


@pytest.fixture(scope="module")
def site() -> Iterator[DemoSite]:
    with DemoSite() as demo:
        yield demo


@pytest.fixture
def conn(site: DemoSite) -> Iterator[http.client.HTTPConnection]:
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=5)
    yield connection
    connection.close()


def fetch(
    conn: http.client.HTTPConnection,
    path: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> tuple[http.client.HTTPResponse, bytes]:
    conn.request(method, path, headers=headers or {})
    resp = conn.getresponse()
    return resp, resp.read()


def test_url_and_port(site: DemoSite) -> None:
    assert site.url == f"http://127.0.0.1:{site.port}"
    assert site.port > 0
    assert (site.site_dir / "index.html").is_file()


def test_home_page(site: DemoSite) -> None:
    with urllib.request.urlopen(site.url + "/", timeout=5) as resp:
        body = resp.read()
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
        assert resp.headers["X-Served-By"] == "demo"
        assert int(resp.headers["Content-Length"]) == len(body)
    assert body == site.served_bytes("/")
    assert body == (site.site_dir / "index.html").read_bytes()
    text = body.decode()
    assert 'class="cookie-banner"' in text
    assert "© 2026 The Harbour Gazette. All rights reserved." in text
    assert '<link rel="alternate" type="application/rss+xml" href="/feed.xml"' in text
    for path in ARTICLE_PATHS:
        assert f'href="{path}"' in text


def test_gzip_decodes_to_served_bytes(site: DemoSite, conn: http.client.HTTPConnection) -> None:
    for path in ("/", "/world/", "/feed.xml", "/assets/style.css", WRONG_CHARSET_ARTICLE):
        resp, body = fetch(conn, path, headers={"Accept-Encoding": "gzip, deflate"})
        assert resp.status == 200
        assert resp.getheader("Content-Encoding") == "gzip"
        assert "Accept-Encoding" in resp.getheader("Vary", "")
        assert int(resp.getheader("Content-Length")) == len(body)
        assert gzip.decompress(body) == site.served_bytes(path)


def test_no_gzip_without_accept_encoding(site: DemoSite, conn: http.client.HTTPConnection) -> None:
    resp, body = fetch(conn, "/")
    assert resp.getheader("Content-Encoding") is None
    assert body == site.served_bytes("/")
    resp, body = fetch(conn, "/", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert resp.getheader("Content-Encoding") is None
    # binary files are never compressed
    resp, body = fetch(conn, "/assets/logo.png", headers={"Accept-Encoding": "gzip"})
    assert resp.getheader("Content-Encoding") is None
    assert body.startswith(b"\x89PNG\r\n\x1a\n")


def test_two_set_cookie_headers(site: DemoSite) -> None:
    with urllib.request.urlopen(site.url + ARTICLE_PATHS[0], timeout=5) as resp:
        cookies = resp.headers.get_all("Set-Cookie")
    assert len(cookies) == 2
    assert {c.split("=", 1)[0] for c in cookies} == {"session", "consent"}


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/missing", 404, "Not Found"),
        ("/no/such/page.html", 404, "Not Found"),
        ("/error", 500, "Internal Server Error"),
        ("/teapot", 418, "I'm a teapot"),
    ],
)
def test_error_statuses(
    conn: http.client.HTTPConnection, path: str, status: int, reason: str
) -> None:
    resp, body = fetch(conn, path)
    assert resp.status == status
    assert resp.reason == reason
    assert resp.getheader("Content-Type") == "text/html; charset=utf-8"
    assert int(resp.getheader("Content-Length")) == len(body)
    assert body.startswith(b"<!DOCTYPE html>") and str(status).encode() in body


def test_urllib_raises_http_error(site: DemoSite) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(site.url + "/error", timeout=5)
    assert info.value.code == 500
    info.value.close()


@pytest.mark.parametrize(
    ("path", "status", "location"),
    [
        ("/redirect-to-home", 301, "/"),
        ("/old/harbour-bridge", 302, "/world/2026/11/03/harbour-bridge-reopens.html"),
        ("/world", 301, "/world/"),
    ],
)
def test_redirects(conn: http.client.HTTPConnection, path: str, status: int, location: str) -> None:
    resp, _ = fetch(conn, path)
    assert resp.status == status
    assert resp.getheader("Location") == location


@pytest.mark.parametrize(
    ("query", "status", "location"),
    [
        ("to=http%3A%2F%2F127.0.0.2%3A8080%2Fx%3Fa%3D1", 302, "http://127.0.0.2:8080/x?a=1"),
        ("to=http://example.com/&status=301", 301, "http://example.com/"),
        ("to=/world/&status=307", 307, "/world/"),
        ("to=/&status=200", 302, "/"),
    ],
)
def test_redirect_to_any_url(
    conn: http.client.HTTPConnection, query: str, status: int, location: str
) -> None:
    resp, body = fetch(conn, "/redirect?" + query)
    assert resp.status == status
    assert resp.getheader("Location") == location
    assert b"has moved" in body


@pytest.mark.parametrize("query", ["", "to=", "to=http://a/%0d%0aSet-Cookie:%20x=1"])
def test_redirect_without_valid_target_is_400(
    conn: http.client.HTTPConnection, query: str
) -> None:
    resp, _ = fetch(conn, "/redirect?" + query)
    assert resp.status == 400
    assert resp.getheader("Location") is None


def test_urllib_follows_redirect(site: DemoSite) -> None:
    with urllib.request.urlopen(site.url + "/old/harbour-bridge", timeout=5) as resp:
        assert resp.status == 200
        assert resp.url == site.url + "/world/2026/11/03/harbour-bridge-reopens.html"
        assert b"Harbour Bridge reopens" in resp.read()


def test_chunked(site: DemoSite, conn: http.client.HTTPConnection) -> None:
    resp, body = fetch(conn, "/chunked")
    assert resp.status == 200
    assert resp.chunked
    assert resp.getheader("Transfer-Encoding") == "chunked"
    assert resp.getheader("Content-Length") is None
    assert body == site.served_bytes("/chunked")
    assert body.rstrip().endswith(b"</html>")
    # the connection is still usable afterwards (chunk framing was correct)
    resp, body = fetch(conn, "/")
    assert resp.status == 200 and body == site.served_bytes("/")


def test_robots_and_sitemap_use_real_port(site: DemoSite) -> None:
    with urllib.request.urlopen(site.url + "/robots.txt", timeout=5) as resp:
        assert resp.headers["Content-Type"] == "text/plain"
        robots = resp.read().decode()
    assert f"Sitemap: http://127.0.0.1:{site.port}/sitemap.xml" in robots
    assert "Disallow: /private/" in robots
    assert "{base}" not in robots
    sitemap = site.served_bytes("/sitemap.xml").decode()
    for path in ARTICLE_PATHS:
        assert f"<loc>{site.url}{path}</loc>" in sitemap
    assert "/private/" not in sitemap


def test_request_log_records_query(site: DemoSite) -> None:
    url = site.url + "/search?q=harbour+bridge&page=2"
    with urllib.request.urlopen(url, timeout=5) as resp:
        body = resp.read().decode()
    assert "harbour bridge" in body
    assert ("GET", "/search?q=harbour+bridge&page=2") in site.requests
    assert "/search?q=harbour+bridge&page=2" in site.requests.paths("GET")


def test_search_escapes_query(conn: http.client.HTTPConnection) -> None:
    _, body = fetch(conn, "/search?q=%3Cscript%3E")
    assert b"&lt;script&gt;" in body and b"<script>" not in body


def test_head(site: DemoSite, conn: http.client.HTTPConnection) -> None:
    resp, body = fetch(conn, "/", method="HEAD")
    assert resp.status == 200
    assert body == b""
    assert int(resp.getheader("Content-Length")) == len(site.served_bytes("/"))
    assert ("HEAD", "/") in site.requests


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/", "text/html; charset=utf-8"),
        ("/feed.xml", "application/rss+xml"),
        ("/atom.xml", "application/atom+xml"),
        ("/sitemap.xml", "application/xml"),
        ("/assets/style.css", "text/css"),
        ("/assets/logo.png", "image/png"),
        ("/files/report.pdf", "application/pdf"),
        ("/robots.txt", "text/plain"),
        ("/private/secret.html", "text/html; charset=utf-8"),
        (NO_CHARSET_ARTICLE, "text/html"),
        (WRONG_CHARSET_ARTICLE, "text/html; charset=iso-8859-1"),
    ],
)
def test_content_types(conn: http.client.HTTPConnection, path: str, content_type: str) -> None:
    resp, _ = fetch(conn, path, method="HEAD")
    assert resp.status == 200
    assert resp.getheader("Content-Type") == content_type


def test_charset_pages(site: DemoSite) -> None:
    no_charset = site.served_bytes(NO_CHARSET_ARTICLE)
    assert b"charset" not in no_charset.lower()
    text = no_charset.decode("utf-8")
    assert "café" in text and "naïve" in text and "€" in text
    wrong = site.served_bytes(WRONG_CHARSET_ARTICLE)
    assert wrong.decode("utf-8") != wrong.decode("iso-8859-1")


def test_big_response(site: DemoSite, conn: http.client.HTTPConnection) -> None:
    resp, body = fetch(conn, "/big")
    assert resp.getheader("Content-Type") == "text/html; charset=utf-8"
    assert int(resp.getheader("Content-Length")) == BIG_SIZE == len(body)
    assert body == site.served_bytes("/big")


def test_keep_alive_and_not_modified(conn: http.client.HTTPConnection) -> None:
    resp, _ = fetch(conn, "/world/")
    etag = resp.getheader("ETag")
    assert etag
    resp, body = fetch(conn, "/world/", headers={"If-None-Match": etag})
    assert resp.status == 304 and body == b""
    resp, _ = fetch(conn, "/missing")
    assert resp.status == 404


def test_post_is_rejected(conn: http.client.HTTPConnection) -> None:
    conn.request("POST", "/comments", body=b"name=a&comment=b")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 405
    assert resp.getheader("Allow") == "GET, HEAD"


def test_articles_metadata(site: DemoSite) -> None:
    assert len(ARTICLE_PATHS) == 8
    for path in ARTICLE_PATHS:
        text = site.served_bytes(path).decode("utf-8")
        data = json.loads(JSONLD_RE.search(text).group(1))
        assert data["@type"] == "NewsArticle"
        assert f"<title>{data['headline']} | The Harbour Gazette</title>" in text
        assert re.search(r"[+-]\d\d:\d\d$", data["datePublished"])
        assert '<meta property="og:type" content="article">' in text
        assert 'class="comment-form"' in text and "Post comment" in text
        assert "Support independent journalism — Donate" in text
        assert "© 2026 The Harbour Gazette. All rights reserved." in text
        body = re.sub(r"<[^>]+>", " ", re.split(r'class="?article-body"?', text)[1])
        body = body.split("Support independent journalism")[0]
        assert len(body.split()) >= 250, path
        authors = data["author"] if isinstance(data["author"], list) else [data["author"]]
        assert len(authors) == (2 if path == TWO_AUTHOR_ARTICLE else 1)
        assert all(a["@type"] == "Person" for a in authors)
        assert f'<html lang="{"fr" if path == FRENCH_ARTICLE else "en"}">' in text
    malformed = site.served_bytes(MALFORMED_ARTICLE).decode()
    assert "</html>" not in malformed and "</div></div>" in malformed


def test_binary_assets(site: DemoSite) -> None:
    pdf = site.served_bytes("/files/report.pdf")
    assert pdf.startswith(b"%PDF-1.") and pdf.rstrip().endswith(b"%%EOF")
    total = sum(f.stat().st_size for f in site.site_dir.rglob("*") if f.is_file())
    assert total < 300 * 1024


def test_slow_returns_early_on_stop() -> None:
    demo = DemoSite().start()
    result: dict[str, int] = {}

    def request() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", demo.port, timeout=10)
        connection.request("GET", "/slow")
        result["status"] = connection.getresponse().status
        connection.close()

    thread = threading.Thread(target=request)
    thread.start()
    deadline = time.monotonic() + 2
    while ("GET", "/slow") not in demo.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    demo.stop()
    thread.join(timeout=5)
    assert time.monotonic() - started < 2
    assert result["status"] == 503
    assert not demo.running


def test_slow_with_delay(conn: http.client.HTTPConnection) -> None:
    started = time.monotonic()
    resp, _ = fetch(conn, "/slow?delay=0.2")
    assert resp.status == 200
    assert 0.2 <= time.monotonic() - started < 2


@pytest.mark.slow
def test_make_demo_archives_the_site_and_every_page_replays_as_it_looked(
        tmp_path: Path) -> None:
    """What the README promises ``make demo`` prints: the crawl, its one expected 404, the
    shared requisites archived once, and a capture check finding no page whose replay
    differs from the live page (the article served without a charset included)."""
    require_chromium()
    result = Archive(tmp_path / "data").cli("demo", timeout=600)
    lines = result.text.splitlines()
    assert re.fullmatch(r"job \d+ succeeded: 19 responses archived, [\d.]+ MB, 1 WARC file\(s\), "
                        r"8 articles, 1 errors", lines[0]), result.text
    assert "  page requisites: 2 archived, 0 failed" in lines
    assert "capture check: 12 page(s) rendered from the archive, 0 incomplete" in lines
