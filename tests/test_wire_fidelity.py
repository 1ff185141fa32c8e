"""Every exchange archived exactly as it crossed the wire: a raw-socket server sends header
names in odd case and order, interleaved repeats, a custom reason phrase, non-UTF-8 header
bytes, a 20 KB header line, chunked and content-coded bodies, 204 and 304 without
``Content-Length`` and ``Connection: close``; each response record's block is those bytes, each
request record's block the bytes the server received, and both digests check."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.encoding import remove_transfer_coding
from tests.support.cli import Archive
from tests.support.harness import missing
from tests.support.peers import running_pywb, wb_manager
from tests.support.warc import warcio_check
from tests.support.wire_site import (
    ARTICLE,
    CODINGS,
    EXCHANGES,
    WireSite,
    encoded_path,
    self_signed_context,
)

PATHS = ["/odd-headers", "/chunked", "/no-content", "/not-modified", "/close", "/long-header",
         *(encoded_path(coding) for coding in CODINGS)]


@dataclass(frozen=True)
class Record:
    type: str
    headers: dict[str, str]
    block: bytes


@dataclass
class Crawled:
    archive: Archive
    base: str
    requests: list[bytes]
    records: list[Record]

    def of(self, record_type: str, path: str) -> Record:
        [found] = [r for r in self.records if r.type == record_type
                   and r.headers["WARC-Target-URI"] == self.base + path]
        return found


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    with WireSite() as site:
        archive = Archive(tmp_path_factory.mktemp("wire") / "data")
        archive.crawl("--depth", "0", "--no-extract", *(site.url + path for path in PATHS))
        yield Crawled(archive, site.url, site.requests, _records(archive))


def sha1(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


@pytest.mark.parametrize("path", PATHS)
def test_the_response_record_holds_the_bytes_sent(crawled: Crawled, path: str) -> None:
    sent = EXCHANGES[path]
    record = crawled.of("response", path)
    assert record.block == sent.head + sent.body  # status line, header block and body
    assert record.headers["WARC-Block-Digest"] == sha1(record.block)
    entity = sent.entity if sent.entity is not None else sent.body  # chunking removed
    assert record.headers["WARC-Payload-Digest"] == sha1(entity)
    assert record.headers["WARC-IP-Address"] == "127.0.0.1"


@pytest.mark.parametrize("path", PATHS)
def test_the_request_record_holds_the_bytes_the_server_received(crawled: Crawled,
                                                                 path: str) -> None:
    record = crawled.of("request", path)
    received = [r for r in crawled.requests if r.split(b" ", 2)[1] == path.encode()]
    assert record.block in received
    assert record.headers["WARC-Block-Digest"] == sha1(record.block)
    assert record.headers["WARC-IP-Address"] == "127.0.0.1"
    response = crawled.of("response", path)
    assert record.headers["WARC-Concurrent-To"] == response.headers["WARC-Record-ID"]


def test_https_exchanges_are_recorded_after_tls(tmp_path: Path) -> None:
    """Over TLS the records hold the HTTP bytes inside it, as plain HTTP's."""
    paths = ["/odd-headers", "/chunked", encoded_path("br")]
    with WireSite(tls=self_signed_context("127.0.0.1", tmp_path)) as site:
        archive = Archive(tmp_path / "data")
        archive.crawl("--depth", "0", "--no-extract", *(site.url + path for path in paths))
        crawled = Crawled(archive, site.url, site.requests, _records(archive))
    assert crawled.base.startswith("https://")
    for path in paths:
        sent = EXCHANGES[path]
        assert crawled.of("response", path).block == sent.head + sent.body, path
        assert crawled.of("request", path).block in crawled.requests, path


def test_warcio_checks_every_digest(crawled: Crawled) -> None:
    for path in crawled.archive.warc_paths():
        warcio_check(path)


def test_replay_sends_the_archived_headers_in_order_and_the_entity_body(
        crawled: Crawled, service_factory: Any) -> None:
    """Over real HTTP (non-UTF-8 header bytes cannot cross Starlette's test client)."""
    service = service_factory(env={"NEWSARCHIVE_DATA_DIR": str(crawled.archive.data_dir)})
    raw = httpx.get(f"{service.replay_url}/web/2026id_/{crawled.base}/odd-headers",
                    follow_redirects=True)
    assert raw.status_code == 200
    assert raw.headers["x-archive-status-line"] == "HTTP/1.1 200 Everything Fine Here"
    names = [name.decode() for name, _ in raw.headers.raw]
    archived = ["x-lower-case", "etag", "x-archive-orig-set-cookie", "x-archive-orig-link",
                "x-archive-orig-set-cookie", "content-type", "x-cafe"]  # in the order sent
    assert [n for n in names if n in archived] == archived, names
    assert raw.headers.raw[names.index("x-cafe")][1] == b"caf\xe9 cr\xe8me"
    assert raw.content == EXCHANGES["/odd-headers"].body

    chunked = httpx.get(f"{service.replay_url}/web/2026id_/{crawled.base}/chunked",
                        follow_redirects=True)
    assert chunked.content == ARTICLE  # de-chunked; framed again by the archive's server


def test_the_entity_of_a_chunked_record_is_its_body_de_chunked(crawled: Crawled) -> None:
    record = crawled.of("response", "/chunked")
    _, _, body = record.block.partition(b"\r\n\r\n")
    assert remove_transfer_coding(body, "chunked") == ARTICLE


# -- failed exchanges: archived as far as they came -------------------------------------------

FAILED = {  # path -> (WARC-Truncated, the summary's error kind, attempts archived)
    "/long-header": ("length", "header_too_long", 1),  # over the 4 KiB limit set below
    "/short-body": ("disconnect", "short_body", 3),  # retried twice, as any lost download
    "/reset-body": ("disconnect", "short_body", 3),
    "/stall-body": ("time", "timeout", 3),
    "/bad-header-name": ("unspecified", "connection_lost", 3),  # a name Twisted refuses
}


@dataclass
class Failed:
    archive: Archive
    base: str
    summary: dict[str, Any]
    records: list[Record]


@pytest.fixture(scope="module")
def failed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Failed]:
    with WireSite() as site:
        archive = Archive(tmp_path_factory.mktemp("failed") / "data",
                          env={"NEWSARCHIVE_MAX_HEADER_LINE": "4096",
                               "NEWSARCHIVE_DOWNLOAD_TIMEOUT": "1"})
        summary = archive.crawl("--depth", "0", "--no-extract",
                                *(site.url + path for path in FAILED))
        yield Failed(archive, site.url, summary, _records(archive))


def test_failed_exchanges_are_reported_with_stable_kinds(failed: Failed) -> None:
    kinds = {f["url"].removeprefix(failed.base): f["error"] for f in failed.summary["failures"]}
    assert kinds == {path: kind for path, (_, kind, _) in FAILED.items()}


@pytest.mark.parametrize("path", FAILED)
def test_each_failed_attempt_is_archived_as_far_as_it_came(failed: Failed, path: str) -> None:
    truncated, _, attempts = FAILED[path]
    sent = EXCHANGES[path].head + EXCHANGES[path].body
    records = [r for r in failed.records if r.type == "response"
               and r.headers["WARC-Target-URI"] == failed.base + path]
    assert len(records) == attempts
    for record in records:
        assert record.headers["WARC-Truncated"] == truncated
        assert sent.startswith(record.block) and record.block.startswith(b"HTTP/1.1 200 OK\r\n")
        assert record.headers["WARC-Block-Digest"] == sha1(record.block)
        _, _, body = record.block.partition(b"\r\n\r\n")
        assert record.headers["WARC-Payload-Digest"] == sha1(body)
    for path_ in failed.archive.warc_paths():
        warcio_check(path_)


def test_a_failed_exchange_is_indexed_and_replayed_as_it_came(failed: Failed) -> None:
    url = failed.base + "/short-body"
    raw = failed.archive.cli("snapshot", url, "--raw")
    assert raw.stdout == EXCHANGES["/short-body"].body  # the half that arrived
    listed = [json.loads(line) for line in
              failed.archive.cli("captures", url, "--json").text.splitlines()]
    assert len(listed) == 3 and all(c["truncated"] == "disconnect" for c in listed)


def _records(archive: Archive) -> list[Record]:
    records = []
    for path in archive.warc_paths():
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream, no_record_parse=True):
                records.append(Record(record.rec_type, dict(record.rec_headers.headers),
                                      record.raw_stream.read()))
    return records


# -- wget, the recorder people trust, wrote the same blocks ---------------------------------------


def wget_response_blocks(urls: list[str], directory: Path) -> dict[str, bytes]:
    """Target URI -> block of the response record wget (``--warc-file``) writes for ``urls``."""
    wget = shutil.which("wget")
    if wget is None:
        missing("wget is not installed (apt-get install wget)")
    subprocess.run([wget, "--quiet", "--tries=1", "--timeout=3", "--no-warc-compression",
                    f"--warc-file={directory / 'wget'}", "--output-document=/dev/null", *urls],
                   check=False, timeout=120)  # exits 8 for the server errors it is sent
    blocks = {}
    with (directory / "wget.warc").open("rb") as stream:
        for record in ArchiveIterator(stream, no_record_parse=True):
            if record.rec_type == "response":
                blocks[record.rec_headers["WARC-Target-URI"]] = record.raw_stream.read()
    return blocks


def test_our_response_records_hold_the_blocks_wget_writes(crawled: Crawled, failed: Failed,
                                                          tmp_path: Path) -> None:
    """wget records a response with its chunks, headers and bytes as sent, and a body cut
    short as far as it came; ours are the same blocks, byte for byte (wget writes no record
    for the 204 and the 304, which ours keep)."""
    with WireSite() as site:  # the same bytes on another port
        paths = [*PATHS, "/short-body"]
        theirs = wget_response_blocks([site.url + path for path in paths], tmp_path)
    compared = []
    for path in paths:
        block = theirs.get(site.url + path)
        if block is None:
            continue
        ours = [r.block for r in (crawled.records if path in PATHS else failed.records)
                if r.type == "response" and r.headers["WARC-Target-URI"].endswith(path)]
        assert ours and all(b == block for b in ours), path
        compared.append(path)
    assert set(paths) - set(compared) == {"/no-content", "/not-modified"}


# -- pywb reads the same records alike ---------------------------------------------------------


@pytest.mark.slow
def test_pywb_replays_every_wire_record_with_our_status_headers_and_bytes(
        crawled: Crawled, tmp_path: Path, service_factory: Any) -> None:
    """pywb (indexing our WARCs itself) and our replay answer each archived exchange with the
    same status, the same archived headers in the same order (either may rename some
    ``X-Archive-Orig-…``) and the same body bytes: the chunked body de-chunked by both, the
    content-coded ones still coded, the non-UTF-8 header bytes as sent."""
    root = tmp_path / "pywb"
    root.mkdir()
    wb_manager(root, "init", "coll")
    wb_manager(root, "add", "coll", *map(str, crawled.archive.warc_paths()))
    ours = service_factory(env={"NEWSARCHIVE_DATA_DIR": str(crawled.archive.data_dir)})
    with running_pywb(root) as pywb:
        for path in PATHS:
            url = crawled.base + path
            theirs = pywb.get(f"/coll/2026id_/{url}", follow_redirects=True)
            mine = httpx.get(f"{ours.replay_url}/web/2026id_/{url}", follow_redirects=True)
            assert (mine.status_code, mine.content) == (theirs.status_code, theirs.content), path
            sent = {line.split(b":", 1)[0].decode().lower()
                    for line in EXCHANGES[path].head.split(b"\r\n")[1:] if line}
            compared = sent - _NOT_COMPARED
            assert [pair for pair in _pairs(mine) if pair[0] in compared] == [
                pair for pair in _pairs(theirs) if pair[0] in compared], path


# Framing and hop-by-hop headers (each server frames its own answer: pywb keeps Keep-Alive,
# we drop both), and Link, which both replace with their Memento links.
_NOT_COMPARED = {"content-length", "transfer-encoding", "connection", "keep-alive", "date",
                 "link"}
_RENAMED = "x-archive-orig-"  # pywb renames ETag, we Set-Cookie and Link (replay isolation)


def _pairs(response: httpx.Response) -> list[tuple[str, bytes]]:
    """(name, value) in order, names lower-cased and without the ``X-Archive-Orig-`` prefix
    either replay adds to the archived headers it must not act on."""
    return [(name.decode().lower().removeprefix(_RENAMED), value)
            for name, value in response.headers.raw]
