"""Every Content-Encoding the crawler advertises replays: gzip, deflate, br and zstd pages from a
raw-socket server are archived as sent, and the replay view, ``snapshot --raw/--text``,
``reextract`` and the WACZ page text all read them; a body that is not in its named coding
is reported by every reader in one line and never stops a batch."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from archive.encoding import ACCEPT_ENCODING, UndecodableBody, content_codings, decode_body
from archive.models import Capture
from tests.support.api import api_client
from tests.support.cli import Archive
from tests.support.wire_site import ARTICLE, CODINGS, EXCHANGES, WireSite, encoded_path

TITLE = "Harbour Bridge reopens to traffic after eighteen-month restoration"
MISLABELLED = "/news/mislabelled-br.html"  # says br, holds plain HTML


@dataclass
class Crawled:
    archive: Archive
    urls: dict[str, str]  # coding -> URL
    mislabelled: str
    requests: list[bytes]

    def timestamp(self, url: str) -> str:
        with self.archive.catalog().session() as session:
            return session.scalar(select(Capture.timestamp).where(Capture.url == url))


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    EXCHANGES[MISLABELLED] = EXCHANGES["/odd-headers"].__class__(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: br\r\n"
        b"Content-Length: %d\r\n\r\n" % len(ARTICLE), ARTICLE)
    try:
        with WireSite() as site:
            archive = Archive(tmp_path_factory.mktemp("encodings") / "data")
            urls = {coding: site.url + encoded_path(coding) for coding in CODINGS}
            archive.crawl("--depth", "0", *urls.values(), site.url + MISLABELLED)
            yield Crawled(archive, urls, site.url + MISLABELLED, site.requests)
    finally:
        del EXCHANGES[MISLABELLED]


def test_the_crawler_asks_only_for_encodings_the_readers_decode(crawled: Crawled) -> None:
    sent = {line.split(b":", 1)[1].strip().decode() for request in crawled.requests
            for line in request.split(b"\r\n") if line.lower().startswith(b"accept-encoding:")}
    assert sent == {ACCEPT_ENCODING}
    for coding in content_codings(ACCEPT_ENCODING):
        assert decode_body(EXCHANGES[encoded_path(coding)].body, coding) == ARTICLE


def test_each_encoding_is_archived_as_sent_and_replayed_byte_exact(crawled: Crawled) -> None:
    payloads = _payloads(crawled.archive)
    with api_client(crawled.archive.data_dir) as client:
        for coding, url in crawled.urls.items():
            sent = EXCHANGES[encoded_path(coding)].body
            assert payloads[url] == sent, coding
            with client.stream("GET", f"/web/{crawled.timestamp(url)}id_/{url}") as raw:
                assert raw.headers["content-encoding"] == coding
                assert b"".join(raw.iter_raw()) == sent, coding


def test_the_replay_view_decodes_every_encoding(crawled: Crawled) -> None:
    with api_client(crawled.archive.data_dir) as client:
        for coding, url in crawled.urls.items():
            view = client.get(f"/web/{crawled.timestamp(url)}/{url}")
            assert view.status_code == 200, (coding, view.text[:200])
            assert "content-encoding" not in view.headers
            assert f"<title>{TITLE}" in view.text, coding


def test_snapshot_raw_and_text_read_every_encoding(crawled: Crawled) -> None:
    for coding, url in crawled.urls.items():
        raw = crawled.archive.cli_in_process("snapshot", url, "--raw")
        assert raw.stdout == ARTICLE, coding
    for coding in ("br", "zstd"):  # the two --text failed on (it read the body first)
        text = crawled.archive.cli_in_process("snapshot", crawled.urls[coding], "--text").text
        assert "Quay Street" in text, coding


def test_reextract_reads_every_encoding_and_reports_the_undecodable_one(
        crawled: Crawled) -> None:
    result = crawled.archive.cli("reextract", "--force", "--json", expect=1)
    report = result.json()
    # the same articles as the crawl extracted from Scrapy's own decoding
    assert (report["scanned"], report["unchanged"]) == (len(CODINGS) + 1, len(CODINGS)), report
    [failed] = report["failed"]
    assert failed["url"] == crawled.mislabelled
    assert failed["error"].startswith("cannot read the record: the body is not valid br")
    assert "Traceback" not in result.stderr


def test_an_undecodable_body_is_one_line_for_snapshot_and_passed_through_by_replay(
        crawled: Crawled) -> None:
    url = crawled.mislabelled
    result = crawled.archive.cli("snapshot", url, "--raw", expect=1)
    assert result.stdout == b""
    [line] = result.stderr.strip().splitlines()
    assert "cannot be decoded: the body is not valid br" in line
    with (api_client(crawled.archive.data_dir) as client,
          client.stream("GET", f"/web/{crawled.timestamp(url)}/{url}") as view):
        assert view.status_code == 200
        assert view.headers["content-encoding"] == "br"  # as archived, for the browser
        assert b"".join(view.iter_raw()) == ARTICLE


def test_wacz_pages_hold_the_text_of_every_encoding(crawled: Crawled, tmp_path: Path) -> None:
    out = tmp_path / "enc.wacz"
    crawled.archive.cli_in_process("export-wacz", "--job", "1", "--output", str(out))
    with zipfile.ZipFile(out) as wacz:
        pages = [json.loads(line) for line in wacz.read("pages/pages.jsonl").splitlines()[1:]]
    texts = {page["url"]: page.get("text") or "" for page in pages}
    for coding, url in crawled.urls.items():
        assert "Quay Street" in texts[url], coding


def test_decoding_is_strict_about_bytes_and_lenient_about_truncation() -> None:
    gz = EXCHANGES[encoded_path("gzip")].body
    assert decode_body(gz + gz, "gzip") == ARTICLE + ARTICLE  # two members
    partial = decode_body(gz[:len(gz) // 2], "gzip")
    assert partial and ARTICLE.startswith(partial)  # a truncated capture, as far as it goes
    assert decode_body(ARTICLE, "identity") == ARTICLE
    with pytest.raises(UndecodableBody, match="unknown Content-Encoding 'compress'"):
        decode_body(ARTICLE, "compress")
    for coding in CODINGS:
        with pytest.raises(UndecodableBody, match=f"not valid {coding}"):
            decode_body(b"plain bytes, not " + coding.encode(), coding)


def _payloads(archive: Archive) -> dict[str, bytes]:
    """Target URI -> payload as archived, of every response record (read with warcio)."""
    payloads = {}
    for path in archive.warc_paths():
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type == "response":
                    payloads[record.rec_headers["WARC-Target-URI"]] = record.raw_stream.read()
    return payloads
