"""Wayback replay in-process: /web/{ts}id_/{url} byte-exact, /web/{ts}/{url} rewritten,
closest-capture redirects, archived redirects, revisits (records written here with warcio),
article views, errors; one catalog query and one ranged GET per replay from S3 (moto
server); PostgreSQL; and over real HTTP, in Chromium, under the Content-Security-Policy."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import html as lxml_html
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import iso_date_to_timestamp
from warcio.warcwriter import WARCWriter

from archive.archiver import Archiver
from archive.catalog import Catalog
from archive.cdxj import surt_key
from archive.config import ArchiveSettings
from archive.models import Capture, WarcFile, WarcState
from archive.replay import HOP_BY_HOP, ORIGIN_BOUND_HEADERS
from archive.snapshot import SnapshotNotFound, closest_capture, load_snapshot
from archive.warc import payload_digest
from tests.support.api import api_client
from tests.support.captures import statements_on_captures
from tests.support.replay_archive import (
    CSS,
    PNG,
    SITE,
    STORY,
    T1,
    T2,
    T3,
    build_archive,
    parse_links,
    story_html,
    ts_datetime,
)
from tests.support.warc import ClockedWriter, exchange

# what every replay adds to the archived headers: its sandbox and CORS
REPLAY_HEADERS = ("content-security-policy", "x-content-type-options",
                  "access-control-allow-origin")


@dataclass
class Replay:
    client: TestClient
    catalog: Catalog
    config: ArchiveSettings

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, follow_redirects=False, **kwargs)

    def raw(self, path: str, **kwargs: Any) -> tuple[Any, bytes]:
        """The response and its body bytes as sent (no Content-Encoding decoding)."""
        with self.client.stream("GET", path, follow_redirects=False, **kwargs) as response:
            return response, b"".join(response.iter_raw())


@pytest.fixture
def replay(tmp_path: Path) -> Iterator[Replay]:
    with start_replay(tmp_path) as started:
        yield started


@contextmanager
def start_replay(tmp_path: Path, database_url: str | None = None) -> Iterator[Replay]:
    build_archive(tmp_path / "data", database_url=database_url)
    with api_client(tmp_path / "data", database_url=database_url) as client:
        settings = client.app.state.service.settings
        catalog = Catalog(settings.database_url)
        yield Replay(client, catalog, settings)
    catalog.dispose()


def rels(value: str) -> dict[str, str]:
    return {params["rel"]: target for target, params in parse_links(value)}


# -- id_: as captured ---------------------------------------------------------------------


def test_raw_replay_is_byte_exact_with_every_header(replay: Replay) -> None:
    response, body = replay.raw(f"/web/{T2}id_/{STORY}")
    assert response.status_code == 200
    assert body == gzip.compress(story_html("v2"), mtime=0)
    items = response.headers.multi_items()
    archived = [(k, v) for k, v in items
                if k not in ("memento-datetime", "link", *REPLAY_HEADERS)]
    assert archived == [
        ("content-type", "text/html; charset=utf-8"), ("content-encoding", "gzip"),
        ("x-archive-orig-set-cookie", "session=1; Path=/"),
        ("x-archive-orig-set-cookie", "tracking=2; Path=/"),
        ("x-version", "v2"), ("content-length", str(len(body))),
    ]  # order and repeats kept; hop-by-hop gone; cookies inert (never set on the archive's
    #   origin); Content-Length is the payload's
    assert response.headers["content-security-policy"].startswith("sandbox; ")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["memento-datetime"] == "Tue, 03 Nov 2026 12:00:00 GMT"
    links = parse_links(response.headers["link"])
    by_rel = {params["rel"]: (target, params) for target, params in links}
    assert by_rel["original"][0] == STORY
    assert by_rel["timegate"][0] == f"http://testserver/web/{STORY}"
    assert by_rel["timemap"] == (f"http://testserver/timemap/link/{STORY}",
                                 {"rel": "timemap", "type": "application/link-format"})
    assert by_rel["memento"] == (f"http://testserver/web/{T2}id_/{STORY}",
                                 {"rel": "memento",
                                  "datetime": "Tue, 03 Nov 2026 12:00:00 GMT"})
    head = replay.client.head(f"/web/{T2}id_/{STORY}")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len(body))


def test_raw_replay_sends_every_response_as_warcio_reads_it(revisits: Replay) -> None:
    """The id_ route (catalog row, ranged read, one zlib call) against warcio's
    ArchiveIterator reading each stored WARC from its start: for every response record the
    same status, the same headers (hop-by-hop dropped, Content-Length the payload's; an
    archived Location is rewritten, see below) and the same bytes."""
    warcs = sorted((revisits.config.data_dir / "storage" / "warcs").glob("*.warc.gz"))
    responses = 0
    for warc in warcs:
        with warc.open("rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type != "response":
                    continue
                responses += 1
                url = record.rec_headers.get_header("WARC-Target-URI")
                ts = iso_date_to_timestamp(record.rec_headers.get_header("WARC-Date"))
                payload = record.raw_stream.read()
                response, body = revisits.raw(f"/web/{ts}id_/{url}")
                assert (response.status_code, body) == (
                    int(record.http_headers.get_statuscode()), payload), url
                expected = [
                    (f"x-archive-orig-{k.lower()}" if k.lower() in ORIGIN_BOUND_HEADERS
                     else k.lower(), v) for k, v in record.http_headers.headers
                    if k.lower() not in HOP_BY_HOP | {"content-length", "location"}]
                sent = [(k, v) for k, v in response.headers.multi_items()
                        if k not in ("memento-datetime", "link", "location",
                                     "x-archive-status-line", *REPLAY_HEADERS)]
                assert sent == [*expected, ("content-length", str(len(payload)))], url
    assert responses == 9 + 3


def test_raw_replay_keeps_a_nonstandard_reason_phrase_visible(replay: Replay) -> None:
    response, body = replay.raw(f"/web/{T3}id_/{STORY}")
    assert response.status_code == 200 and body == gzip.compress(story_html("v3"), mtime=0)
    assert response.headers["x-archive-status-line"] == "HTTP/1.1 200 Everything Fine"
    assert "x-archive-status-line" not in replay.get(f"/web/{T2}id_/{STORY}").headers


def test_the_query_string_is_part_of_the_url(replay: Replay) -> None:
    assert replay.get(f"/web/{T2}id_/{STORY}").status_code == 200
    response = replay.get(f"/web/{T2}id_/{SITE}/story?id=8")
    assert response.status_code == 404
    assert "no capture of http://news.example.org/story?id=8" in response.json()["error"]


def test_raw_binary_and_uncompressed_payloads(replay: Replay) -> None:
    response, body = replay.raw(f"/web/{T2}id_/{SITE}/img/a.png")
    assert body == gzip.compress(PNG, mtime=0)
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-length"] == str(len(body))
    response, body = replay.raw(f"/web/{T2}id_/{SITE}/assets/site.css")
    assert body == CSS and response.headers["content-type"] == "text/css"


@pytest.mark.parametrize(("asked", "resolved"), [
    ("2026", T3),  # a partial timestamp is the end of the period (as pywb): latest of 2026
    ("202611", T3),
    ("20261103", T2),  # end of 3 November
    ("2026110310", T1),  # 10:59:59 is nearer 10:00 than 12:00
    ("20261103110001", T2),  # between T1 and T2, nearer T2
    ("20261103110000", T1),  # halfway: the earlier
    ("2025", T1),  # before every capture
    ("20300101", T3),  # after every capture
])
def test_inexact_timestamps_redirect_to_the_closest_capture(replay: Replay, asked: str,
                                                            resolved: str) -> None:
    for modifier in ("id_", ""):
        response = replay.get(f"/web/{asked}{modifier}/{STORY}")
        assert response.status_code == 302
        assert response.headers["location"] == (
            f"http://testserver/web/{resolved}{modifier}/{STORY}")
    assert replay.get(f"/web/{resolved}id_/{STORY}").status_code == 200


def test_archived_redirect_is_replayed_into_the_archive(replay: Replay) -> None:
    response, body = replay.raw(f"/web/{T2}id_/{SITE}/old")
    assert response.status_code == 301 and body == b"moved"
    assert response.headers["location"] == f"http://testserver/web/{T2}id_/{STORY}"
    view = replay.get(f"/web/{T2}/{SITE}/old")
    assert view.status_code == 301
    assert view.headers["location"] == f"/web/{T2}/{STORY}"
    landed = replay.get(view.headers["location"])
    assert landed.status_code == 200 and "Version v2" in landed.text


def test_archived_404_is_replayed_but_unknown_urls_are_json_404(replay: Replay) -> None:
    response, body = replay.raw(f"/web/{T2}id_/{SITE}/missing")
    assert (response.status_code, body) == (404, b"<html><body>Not here</body></html>")
    assert "memento-datetime" in response.headers
    unknown = replay.get(f"/web/{T2}id_/{SITE}/never")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/json"
    assert unknown.json()["error"] == (
        f"no capture of {SITE}/never in the archive (SURT key org,example,news)/never)")


def test_a_missing_warc_is_503_naming_the_file(replay: Replay) -> None:
    [warc] = (replay.config.data_dir / "storage" / "warcs").glob("*.warc.gz")
    warc.unlink()
    response = replay.get(f"/web/{T2}id_/{STORY}")
    assert response.status_code == 503
    assert response.json()["error"] == (
        f"the record of this capture cannot be read: 'warcs/{warc.name}' not found in "
        f"{(replay.config.data_dir / 'storage').as_uri()}")
    assert response.json()["url"] == STORY


@pytest.mark.parametrize(("path", "message"), [
    (f"/web/123456789012345id_/{STORY}", "has 15 digits; use at most 14"),
    (f"/web/20261399/{STORY}", "is not a date"),
    (f"/web/20261103250000/{STORY}", "is not a date"),
    (f"/web/2026xx_/{STORY}", "unknown modifier 'xx_'"),
    (f"/web/2026-11-03/{STORY}", "is neither a timestamp"),
    (f"/web/{T2}id_/", "no URL given"),
])
def test_bad_timestamps_and_modifiers_are_400(replay: Replay, path: str, message: str) -> None:
    response = replay.get(path)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


# -- the rewritten view -------------------------------------------------------------------


def test_view_rewrites_every_kind_of_link_into_the_archive(replay: Replay) -> None:
    response = replay.get(f"/web/{T2}/{STORY}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'none'" in csp
    assert response.headers["memento-datetime"] == "Tue, 03 Nov 2026 12:00:00 GMT"
    assert len(response.headers.get_list("date")) == 1  # a response of this service: dated
    page = response.text  # gzip decoded by the service, not by the client
    assert "Version v2 café" in page
    doc = lxml_html.fromstring(page)
    web = f"/web/{T2}"
    assert doc.find(".//base").get("href") == f"{web}/{SITE}/news/"
    assert doc.find(".//meta").get("content") == f"300; url={web}/{SITE}/story?id=7&fresh=1"
    stylesheet = doc.find(".//link[@rel='stylesheet']")
    assert stylesheet.get("href") == f"{web}cs_/{SITE}/assets/site.css"
    assert stylesheet.get("integrity") is None  # the rewritten CSS would not match it
    assert doc.find(".//link[@rel='icon']").get("href") == f"{web}im_/{SITE}/news/favicon.ico"
    assert doc.find(".//script").get("src") == f"{web}js_/https://cdn.example.net/app.js"
    style = doc.find(".//style").text
    assert f"url('{web}im_/{SITE}/news/img/bg.png')" in style
    assert f'@import "{web}cs_/{SITE}/news/print.css"' in style
    assert f"url(\"{web}im_/{SITE}/img/p.png\")" in doc.find(".//p").get("style")
    hrefs = [a.get("href") for a in doc.iterfind(".//body//a") if
             a.getparent().get("id") != "newsarchive-banner"]
    assert hrefs == [f"{web}/{SITE}/news/other.html#top",
                     f"{web}/https://elsewhere.example.com/x?a=1", "#frag",
                     "mailto:desk@example.org"]
    img = doc.find(".//img")
    assert img.get("src") == f"{web}im_/{SITE}/img/a.png"
    assert img.get("srcset") == f"{web}im_/{SITE}/img/a1.png 1x, {web}im_/{SITE}/img/a2.png 2x"
    assert doc.find(".//source").get("srcset") == f"{web}im_/{SITE}/img/w.webp"
    assert doc.find(".//video").get("poster") == f"{web}im_/{SITE}/img/poster.jpg"
    assert doc.find(".//iframe").get("src") == f"{web}if_/{SITE}/embed.html"
    assert doc.find(".//form").get("action") == f"{web}/{SITE}/search"


def test_view_banner_links_previous_next_and_timemap(replay: Replay) -> None:
    doc = lxml_html.fromstring(replay.get(f"/web/{T2}/{STORY}").text)
    banner = doc.get_element_by_id("newsarchive-banner")
    assert banner.getparent().tag == "body" and banner.getparent().index(banner) == 0
    text = banner.text_content()
    assert "Tue, 03 Nov 2026 12:00:00 GMT" in text and STORY in text
    links = {a.text_content().split(":")[0]: a.get("href") for a in banner.iterfind(".//a")}
    assert links["← previous"] == f"http://testserver/web/{T1}/{STORY}"
    assert links["next →"] == f"http://testserver/web/{T3}/{STORY}"
    assert links["all captures"] == f"http://testserver/timemap/link/{STORY}"
    first = lxml_html.fromstring(replay.get(f"/web/{T1}/{STORY}").text)
    assert "← previous: none" in first.get_element_by_id("newsarchive-banner").text_content()
    # resources and frames get no banner
    framed = replay.get(f"/web/{T2}if_/{STORY}").text
    assert "newsarchive-banner" not in framed and "Version v2" in framed


def test_view_decodes_the_declared_charset(replay: Replay) -> None:
    response = replay.get(f"/web/{T2}/{SITE}/latin")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "Français été" in response.content.decode("utf-8")


def archive_pages(replay: Replay, *pages: tuple[str, bytes, str]) -> None:
    """(URL, body, Content-Type) of each page, archived at T2 into one more WARC."""
    writer = ClockedWriter(replay.config.spool_dir, at=ts_datetime(T2))
    archiver = Archiver(replay.catalog, replay.config.open_storage(), writer)
    for url, page, content_type in pages:
        archiver.archive(exchange(url, page, headers=[("Content-Type", content_type)]))
    archiver.close()


def test_view_of_a_page_declaring_no_charset_leaves_the_decoding_to_the_browser(
        replay: Replay) -> None:
    """UTF-8 text with no charset in the headers or the page: the replay keeps the page's
    bytes and declares no charset either, so a browser decodes it as it decoded the live
    page (Chromium as windows-1252: the reader saw "CafÃ©"). Links are rewritten to the
    URLs the crawler read (and archived), non-ASCII ones included, and the banner is ASCII,
    readable in any encoding."""
    page = ('<html><head><title>Caf\u00e9</title></head><body><p>Caf\u00e9 bets \u20ac12m'
            '</p><a href="/story?id=7">story</a><a href="/caf\u00e9/men\u00fc">menu</a>'
            '</body></html>').encode("utf-8")
    archive_pages(replay, (f"{SITE}/undeclared", page, "text/html"))
    response = replay.get(f"/web/{T2}/{SITE}/undeclared")
    assert response.status_code == 200 and response.headers["content-type"] == "text/html"
    content = response.content
    assert "<p>Caf\u00e9 bets \u20ac12m</p>".encode() in content
    assert f'<a href="/web/{T2}/{SITE}/story?id=7">story</a>'.encode() in content
    assert f'<a href="/web/{T2}/{SITE}/caf%C3%A9/men%C3%BC">menu</a>'.encode() in content
    banner = content[content.index(b'<div id="newsarchive-banner"'):]
    banner = banner[:banner.index(b"</div>")]
    assert banner.isascii() and b"&#183;" in banner and b"&#8592; previous" in banner
    seen = content.decode("windows-1252", errors="replace")
    assert "Caf\u00c3\u00a9" in seen and "\u2190" not in seen


def test_view_of_xhtml_or_a_page_with_a_bom_is_served_as_declared_utf8(
        replay: Replay) -> None:
    """XHTML is XML (UTF-8 unless it says otherwise), and a BOM declares the encoding:
    both are decoded and served as declared UTF-8 HTML, as every declared page is."""
    xhtml = ('<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head>'
             '<link rel="stylesheet" href="/s.css"/></head><body><p>Caf\u00e9</p><br/>'
             '</body></html>').encode("utf-8")
    bom = "\ufeff<html><body><p>Caf\u00e9</p></body></html>".encode("utf-16-le")
    archive_pages(replay, (f"{SITE}/xhtml", xhtml, "application/xhtml+xml"),
                  (f"{SITE}/bom", bom, "text/html"))
    for path in ("xhtml", "bom"):
        response = replay.get(f"/web/{T2}/{SITE}/{path}")
        assert response.headers["content-type"] == "text/html; charset=utf-8", path
        assert "<p>Caf\u00e9</p>" in response.content.decode("utf-8"), path


def test_view_rewrites_archived_css_and_serves_other_types_decoded(replay: Replay) -> None:
    css = replay.get(f"/web/{T2}cs_/{SITE}/assets/site.css")
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert css.text == (
        f'@import url("/web/{T2}cs_/{SITE}/assets/fonts.css");\n'
        f"@import '/web/{T2}cs_/{SITE}/assets/more.css';\n"
        f"body {{ background: url(/web/{T2}im_/{SITE}/img/bg.png) }}\n"
        f'.logo {{ background: url("/web/{T2}im_/{SITE}/assets/logo.svg") }}\n')
    image, body = replay.raw(f"/web/{T2}im_/{SITE}/img/a.png")
    assert image.status_code == 200 and body == PNG  # Content-Encoding removed
    assert image.headers["content-type"] == "image/png"
    assert "content-encoding" not in image.headers
    assert "script-src 'none'" in image.headers["content-security-policy"]


# -- article views ------------------------------------------------------------------------


def test_text_and_json_views_of_the_extracted_article(replay: Replay) -> None:
    text = replay.get(f"/web/{T2}text_/{SITE}/article")
    assert text.status_code == 200
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == "The bridge reopened."
    assert len(text.headers.get_list("date")) == 1
    data = replay.get(f"/web/{T2}json_/{SITE}/article").json()
    assert data["article"]["title"] == "Harbour bridge reopens"
    assert data["article"]["authors"] == ["A. Writer"]
    assert data["capture"]["timestamp"] == T2 and data["capture"]["url"] == f"{SITE}/article"
    assert replay.get(f"/web/2026json_/{SITE}/article").headers["location"].endswith(
        f"/web/{T2}json_/{SITE}/article")
    missing = replay.get(f"/web/{T2}text_/{STORY}")
    assert missing.status_code == 404
    assert "no article was extracted" in missing.json()["error"]


# -- revisits -----------------------------------------------------------------------------


REVISIT_PAYLOAD = gzip.compress(b"<html><body>same every time</body></html>", mtime=0)
PAGE = f"{SITE}/same"


def write_revisit_warc(path: Path) -> list[dict[str, Any]]:
    """response@R0, response@R1 (same payload, other headers), response@R2 (other payload),
    revisit@R3 with HTTP headers, revisit@R4 without; returns catalog rows (no warc id)."""
    digest = payload_digest(REVISIT_PAYLOAD)
    rows: list[dict[str, Any]] = []
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True, warc_version="WARC/1.1")

        def add(record: Any, ts: str, status: int, body_digest: str | None) -> None:
            offset = out.tell()
            writer.write_record(record)
            rows.append({"url": PAGE, "surt": surt_key(PAGE), "timestamp": ts,
                         "status": status, "mime": "text/html",
                         "payload_digest": body_digest,
                         "record_type": record.rec_headers.get_header("WARC-Type"),
                         "record_id": record.rec_headers.get_header("WARC-Record-ID"),
                         "offset": offset, "length": out.tell() - offset})

        def response(ts: str, body: bytes, version: str) -> Any:
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html"),
                                                  ("Content-Encoding", "gzip"),
                                                  ("X-Version", version)],
                                       protocol="HTTP/1.1")
            record = writer.create_warc_record(
                PAGE, "response", payload=io.BytesIO(body), length=len(body),
                http_headers=headers,
                warc_headers_dict={"WARC-Date": f"{ts_datetime(ts):%Y-%m-%dT%H:%M:%SZ}"})
            add(record, ts, 200, payload_digest(body))

        response("20261101000000", REVISIT_PAYLOAD, "r0")
        response("20261102000000", REVISIT_PAYLOAD, "r1")
        response("20261103000000", gzip.compress(b"changed", mtime=0), "r2")
        for ts, http in (("20261104000000", True), ("20261105000000", False)):
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html"),
                                                  ("Content-Encoding", "gzip"),
                                                  ("X-Version", "revisit")],
                                       protocol="HTTP/1.1") if http else None
            record = writer.create_revisit_record(
                PAGE, digest, PAGE, "2026-11-02T00:00:00Z", http_headers=headers,
                warc_headers_dict={"WARC-Date": f"{ts_datetime(ts):%Y-%m-%dT%H:%M:%SZ}"})
            add(record, ts, 200, digest)
    return rows


@pytest.fixture(name="revisits")
def revisits_fixture(replay: Replay) -> Replay:
    return revisits(replay)


def revisits(replay: Replay) -> Replay:
    """Add the WARC of :func:`write_revisit_warc` to the archive, as if uploaded."""
    name = "revisits-test.warc.gz"
    storage_dir = replay.config.data_dir / "storage" / "warcs"
    rows = write_revisit_warc(storage_dir / name)
    with replay.catalog.session() as session:
        warc = WarcFile(filename=name, storage_key=f"warcs/{name}", state=WarcState.UPLOADED)
        session.add(warc)
        session.flush()
        session.add_all(Capture(warc_file_id=warc.id, **row) for row in rows)
    return replay


def test_revisit_with_headers_replays_its_headers_and_the_original_payload(
        revisits: Replay) -> None:
    response, body = revisits.raw(f"/web/20261104000000id_/{PAGE}")
    assert response.status_code == 200
    assert body == REVISIT_PAYLOAD
    assert response.headers["x-version"] == "revisit"
    assert response.headers["content-length"] == str(len(REVISIT_PAYLOAD))
    assert response.headers["memento-datetime"] == "Wed, 04 Nov 2026 00:00:00 GMT"
    view = revisits.get(f"/web/20261104000000/{PAGE}")
    assert "same every time" in view.text


def test_revisit_without_headers_takes_the_latest_earlier_original(revisits: Replay) -> None:
    response, body = revisits.raw(f"/web/20261105000000id_/{PAGE}")
    assert response.status_code == 200 and body == REVISIT_PAYLOAD
    # the latest response with that digest at or before the revisit is r1 (r2 differs)
    assert response.headers["x-version"] == "r1"


def test_load_snapshot_of_a_revisit_reads_the_original_payload(revisits: Replay) -> None:
    """What ``newsarchive snapshot`` uses: the lookup's session finds the original."""
    storage = revisits.config.open_storage()
    with revisits.catalog.session() as session:
        revisit = closest_capture(session, PAGE, "20261104000000")
        assert revisit.record_type == "revisit"
        with pytest.raises(SnapshotNotFound, match="needs a catalog session"):
            load_snapshot(revisit, storage, revisits.config.spool_dir)  # a row, no session
        snapshot = load_snapshot(revisit, storage, revisits.config.spool_dir, session)
    assert snapshot.warc_headers.get_header("WARC-Type") == "revisit"
    assert snapshot.http_headers.get_header("X-Version") == "revisit"
    assert snapshot.raw_body == REVISIT_PAYLOAD
    assert snapshot.body == gzip.decompress(REVISIT_PAYLOAD)


def test_revisit_whose_original_is_missing_is_a_clear_404(revisits: Replay) -> None:
    with revisits.catalog.session() as session:
        for capture in session.query(Capture).filter(Capture.surt == surt_key(PAGE),
                                                     Capture.record_type == "response"):
            capture.payload_digest = "sha1:GONE"
    response = revisits.get(f"/web/20261104000000id_/{PAGE}")
    assert response.status_code == 404
    assert "no earlier response capture holds" in response.json()["error"]


# -- PostgreSQL: the same lookups ---------------------------------------------------------


def test_closest_capture_and_revisits_on_postgresql(tmp_path: Path) -> None:
    from tests.support.databases import temporary_database

    with temporary_database("postgresql", tmp_path) as url, start_replay(tmp_path, url) as pg:
        assert pg.catalog.engine.dialect.name == "postgresql"
        assert pg.get(f"/web/20261103110001id_/{STORY}").headers["location"].endswith(
            f"/web/{T2}id_/{STORY}")
        _, body = pg.raw(f"/web/{T2}id_/{STORY}")
        assert body == gzip.compress(story_html("v2"), mtime=0)
        revisits(pg)
        response, body = pg.raw(f"/web/20261105000000id_/{PAGE}")
        assert body == REVISIT_PAYLOAD and response.headers["x-version"] == "r1"


# -- S3: one ranged GET per replay ---------------------------------------------------------


def test_raw_replay_from_s3_is_one_ranged_get(tmp_path: Path, s3_server: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.s3 import RequestLog

    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    storage_url = "s3://newsarchive-test/replay"
    build_archive(tmp_path / "data", storage_url)
    assert not (tmp_path / "data" / "storage").exists()  # everything went to the bucket
    with api_client(tmp_path / "data", storage_url=storage_url,
                    s3_endpoint_url=s3_server.endpoint_url) as client:
        app = client.app
        sent = RequestLog(app.state.service.storage.client)
        # (the service's own loops, the dispatcher's and the scheduler's, may query the
        # catalog meanwhile: only the statements reading captures are the replay's)
        with statements_on_captures(app.state.service.catalog.engine) as statements, \
                client.stream("GET", f"/web/{T2}id_/{STORY}") as response:
            body = b"".join(response.iter_raw())
        assert response.status_code == 200
        assert body == gzip.compress(story_html("v2"), mtime=0)
        assert sent.ops() == ["GetObject"]
        assert sent.requests[0][1]["Range"].startswith("bytes=")
        assert len(statements) == 1 and "UNION ALL" in statements[0][0]  # one catalog query


# -- over real HTTP: uvicorn on the wire, and Chromium under the CSP -------------------------


def leaky_page(live: str) -> bytes:
    """Everything here would reach the live site ``live`` if replayed unrewritten or without
    the Content-Security-Policy (image-set() is not rewritten; the scripts would run)."""
    return f"""<html><head><title>Leaky</title>
<link rel="stylesheet" href="/assets/site.css"></head><body>
<p id="text">Archived words</p>
<img src="{live}/leak/img.png">
<div style='width:10px;height:10px;background-image: image-set("{live}/leak/css.png" 1x)'></div>
<script src="{live}/leak/script.js"></script>
<script>fetch("{live}/leak/fetch"); new Image().src = "{live}/leak/inline.png";</script>
</body></html>""".encode()


@pytest.mark.slow
def test_replay_over_http_and_in_a_browser_never_reaches_the_live_web(
        service_factory: Any, demo_site: Any) -> None:
    import http.client

    from tests.support.browser import chromium_page

    service = service_factory(start=False)
    build_archive(service.data_dir)
    config = ArchiveSettings(data_dir=service.data_dir)
    catalog = Catalog(config.database_url)
    writer = ClockedWriter(config.spool_dir, at=ts_datetime(T2))
    archiver = Archiver(catalog, config.open_storage(), writer)
    archiver.archive(exchange(f"{SITE}/leaky", leaky_page(demo_site.url)))
    archiver.close()
    catalog.dispose()
    service.start()

    # on the wire: repeated headers, exact length and bytes, the raw path with "//" and "?"
    host, port = service.replay_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", f"/web/{T2}id_/{STORY}")
    wire = conn.getresponse()
    body = wire.read()
    conn.close()
    assert wire.status == 200 and body == gzip.compress(story_html("v2"), mtime=0)
    headers = wire.getheaders()
    assert [v for k, v in headers if k.lower() == "x-archive-orig-set-cookie"] == [
        "session=1; Path=/", "tracking=2; Path=/"]  # visible, never set on the archive
    assert not [k for k, _ in headers if k.lower() == "set-cookie"]
    assert [v for k, v in headers if k.lower() == "content-length"] == [str(len(body))]
    assert ("x-version", "v2") in [(k.lower(), v) for k, v in headers]
    assert not [k for k, _ in headers if k.lower() == "keep-alive"]  # archived hop-by-hop

    demo_site.requests.clear()
    with chromium_page() as (page, _errors):
        seen: list[str] = []
        blocked: dict[str, str | None] = {}
        page.on("request", lambda request: seen.append(request.url))
        page.on("requestfailed", lambda request: blocked.update({request.url: request.failure}))
        response = page.goto(f"{service.url}/web/{T2}/{SITE}/leaky")  # to the replay origin
        assert response is not None and response.status == 200
        assert page.url == f"{service.replay_url}/web/{T2}/{SITE}/leaky"
        page.wait_for_load_state("networkidle")
        assert page.text_content("#text") == "Archived words"
        assert page.is_visible("#newsarchive-banner")
    # every URL the rewriter saw points into the archive; the one it cannot see (CSS
    # image-set) was attempted and stopped by the CSP; the scripts never ran
    outside = [url for url in seen[1:] if not url.startswith(service.replay_url + "/web/")]
    assert outside == [f"{demo_site.url}/leak/css.png"]
    assert blocked[outside[0]] == "csp"
    assert f"{service.replay_url}/web/{T2}im_/{demo_site.url}/leak/img.png" in seen
    assert not [p for p in demo_site.requests.paths() if p.startswith("/leak/")]
