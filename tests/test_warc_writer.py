"""WarcWriter: record contents, offsets, file lifecycle, rollover and CDXJ.

Record ids and dates come from a deterministic subclass so the output is reproducible
byte for byte; everything is checked by parsing the written files back with warcio.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import itertools
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from random import Random
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from archive.warc import (
    INDEX_BLOCK,
    ClosedWarc,
    HttpExchange,
    WarcWriter,
    WrittenRecord,
    sha1_digest,
    warc_date,
)
from tests.support.warc import ClockedWriter, read_records, warcio_check

START = datetime(2026, 11, 3, 14, 0, 0, tzinfo=UTC)
HTML = b"<!doctype html><title>Teapot</title><p>Short and stout.</p>\n" * 20
GZIPPED_HTML = gzip.compress(HTML, mtime=0)


def deterministic_writer(spool_dir: Path, *, start: datetime = START,
                         **options: Any) -> ClockedWriter:
    """Counter-based record ids, a clock advancing 1 s per call, fixed pid/host in names."""
    return ClockedWriter(spool_dir, at=start, step=timedelta(seconds=1), reproducible=True,
                         **options)


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def teapot() -> HttpExchange:
    return HttpExchange(
        url="http://example.com/path?q=a%20b&x=1",
        method="GET",
        request_headers=[("User-Agent", "newsarchive-test"), ("Accept", "*/*")],
        status=418,
        reason="I'm a teapot",
        response_headers=[
            ("Content-Type", "text/html; charset=utf-8"),
            ("Set-Cookie", "first=1; Path=/"),
            ("Transfer-Encoding", "chunked"),
            ("Set-Cookie", "second=2; Path=/"),
            ("Content-Encoding", "gzip"),
        ],
        body=GZIPPED_HTML,
        ip_address="93.184.216.34",
    )


def plain(url: str = "https://news.example.org/a/1", status: int = 200,
          body: bytes = b"<html>article one</html>", **kwargs: object) -> HttpExchange:
    return HttpExchange(
        url=url, method="GET", request_headers=[("Host", "news.example.org")],
        status=status, reason="OK" if status == 200 else "Not Found",
        response_headers=[("Content-Type", "text/html"), ("Content-Length", str(len(body)))],
        body=body, **kwargs,  # type: ignore[arg-type]
    )


def posted() -> HttpExchange:
    return HttpExchange(
        url="https://news.example.org/search", method="POST",
        request_headers=[("Content-Type", "application/x-www-form-urlencoded")],
        status=200, reason="OK", response_headers=[("Content-Type", "application/json")],
        body=b'{"hits": []}', request_body=b"q=strike",
    )


def by_type(path: Path, record_type: str) -> list:
    return [r for r in read_records(path) if r[0].get_header("WARC-Type") == record_type]


def write_sample(spool: Path) -> tuple[ClockedWriter, list[WrittenRecord], ClosedWarc]:
    writer = deterministic_writer(spool)
    written: list[WrittenRecord] = []
    for exchange in (teapot(), plain(), posted(), plain("https://news.example.org/gone", 404)):
        response, request = writer.write_exchange(exchange)
        written += [response, request]
    written.append(writer.write_metadata(written[0], {"title": "Teapot", "words": 4}))
    closed = writer.close()
    assert closed is not None
    return writer, written, closed


# -- determinism and round trip -------------------------------------------------------------


def test_same_exchanges_give_byte_identical_files(tmp_path: Path) -> None:
    _, written_a, closed_a = write_sample(tmp_path / "a")
    _, written_b, closed_b = write_sample(tmp_path / "b")

    assert closed_a.filename == closed_b.filename
    assert closed_a.path.read_bytes() == closed_b.path.read_bytes()
    assert closed_a.sha256 == closed_b.sha256
    assert closed_a.cdxj_path.read_bytes() == closed_b.cdxj_path.read_bytes()
    assert written_a == written_b


def test_golden_response_headers(tmp_path: Path) -> None:
    _, written, closed = write_sample(tmp_path)
    rec_headers, _, _ = by_type(closed.path, "response")[0]
    http_block = (
        b"HTTP/1.1 418 I'm a teapot\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n"
        b"Set-Cookie: first=1; Path=/\r\n"
        b"Set-Cookie: second=2; Path=/\r\n"
        b"Content-Encoding: gzip\r\n\r\n"
    ) + GZIPPED_HTML
    # the warcinfo record takes id 1 and 14:00:00, the response id 2 and 14:00:01
    assert dict(rec_headers.headers) == {
        "WARC-Record-ID": "<urn:uuid:00000000-0000-0000-0000-000000000002>",
        "WARC-Date": "2026-11-03T14:00:01Z",
        "WARC-IP-Address": "93.184.216.34",
        "WARC-Type": "response",
        "WARC-Target-URI": "http://example.com/path?q=a%20b&x=1",
        "WARC-Payload-Digest": sha1_b32(GZIPPED_HTML),
        "WARC-Block-Digest": sha1_b32(http_block),
        "Content-Type": "application/http; msgtype=response",
        "Content-Length": str(len(http_block)),
    }
    assert rec_headers.protocol == "WARC/1.1"
    assert written[0].filename == "newsarchive-20261103140000000-00001-4242~testhost.warc.gz"


def test_write_parse_rewrite_parse_is_lossless(tmp_path: Path) -> None:
    _, _, closed = write_sample(tmp_path)
    original = read_records(closed.path)

    buffer = io.BytesIO()
    rewriter = WARCWriter(buffer, gzip=True, warc_version="WARC/1.1")
    with closed.path.open("rb") as f:
        for record in ArchiveIterator(f):
            rewriter.write_record(record)
    rewritten = read_records(buffer.getvalue())

    assert len(rewritten) == len(original) == 10
    for (rec_a, http_a, body_a), (rec_b, http_b, body_b) in zip(original, rewritten,
                                                                 strict=True):
        assert rec_b.protocol == rec_a.protocol
        assert rec_b.headers == rec_a.headers
        assert body_b == body_a
        if http_a is None:
            assert http_b is None
        else:
            assert (http_b.protocol, http_b.statusline) == (http_a.protocol, http_a.statusline)
            assert http_b.headers == http_a.headers


def test_warcio_check_passes(tmp_path: Path) -> None:
    _, written, closed = write_sample(tmp_path)
    report = warcio_check(closed.path)
    # one warcinfo + every written record, each with its digest verified
    assert report.count("digest pass") == len(written) + 1 == closed.records


# -- response, request and metadata records -------------------------------------------------


def test_response_record_keeps_http_as_received(tmp_path: Path) -> None:
    _, written, closed = write_sample(tmp_path)
    rec_headers, http, raw = by_type(closed.path, "response")[0]

    assert http.protocol == "HTTP/1.1"
    assert http.statusline == "418 I'm a teapot"
    assert http.get_statuscode() == "418"
    assert http.headers == [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Set-Cookie", "first=1; Path=/"),
        ("Set-Cookie", "second=2; Path=/"),
        ("Content-Encoding", "gzip"),
    ]
    assert http.get_header("Transfer-Encoding") is None
    assert raw == GZIPPED_HTML  # stored still content-encoded
    assert rec_headers.get_header("WARC-IP-Address") == "93.184.216.34"
    assert rec_headers.get_header("WARC-Payload-Digest") == sha1_b32(GZIPPED_HTML)
    assert written[0].payload_digest == sha1_b32(GZIPPED_HTML)
    assert rec_headers.get_header("WARC-Truncated") is None


def test_content_stream_decodes_content_encoding(tmp_path: Path) -> None:
    _, _, closed = write_sample(tmp_path)
    with closed.path.open("rb") as f:
        response = next(r for r in ArchiveIterator(f) if r.rec_type == "response")
        assert response.content_stream().read() == HTML


def test_truncated_exchange_is_marked(tmp_path: Path) -> None:
    writer = deterministic_writer(tmp_path)
    writer.write_exchange(plain(body=b"partial", truncated="length"))
    writer.write_exchange(plain("https://news.example.org/a/2"))
    closed = writer.close()
    assert closed is not None
    responses = by_type(closed.path, "response")
    assert responses[0][0].get_header("WARC-Truncated") == "length"
    assert responses[0][2] == b"partial"
    assert responses[1][0].get_header("WARC-Truncated") is None


def test_request_record(tmp_path: Path) -> None:
    _, written, closed = write_sample(tmp_path)
    response_rec, _, _ = by_type(closed.path, "response")[0]
    requests = by_type(closed.path, "request")
    rec_headers, http, payload = requests[0]

    assert (http.protocol, http.statusline) == ("GET", "/path?q=a%20b&x=1 HTTP/1.1")
    assert http.headers[0] == ("Host", "example.com")
    assert http.headers[1:] == [("User-Agent", "newsarchive-test"), ("Accept", "*/*")]
    assert payload == b""
    assert rec_headers.get_header("WARC-Concurrent-To") == written[0].record_id
    assert rec_headers.get_header("WARC-Concurrent-To") == response_rec.get_header(
        "WARC-Record-ID")
    assert rec_headers.get_header("WARC-Date") == response_rec.get_header("WARC-Date")
    assert rec_headers.get_header("WARC-Target-URI") == "http://example.com/path?q=a%20b&x=1"
    assert written[1].record_type == "request"
    assert written[1].date == written[0].date

    # an explicit Host header is not duplicated; a request body is stored
    _, plain_http, _ = requests[1]
    assert [v for k, v in plain_http.headers if k.lower() == "host"] == ["news.example.org"]
    post_rec, post_http, post_body = requests[2]
    assert (post_http.protocol, post_http.statusline) == ("POST", "/search HTTP/1.1")
    assert post_body == b"q=strike"
    assert post_rec.get_header("WARC-Concurrent-To") == written[4].record_id


def test_request_line_bytes_on_disk(tmp_path: Path) -> None:
    _, written, closed = write_sample(tmp_path)
    request = written[1]
    chunk = closed.path.read_bytes()[request.offset:request.offset + request.length]
    block = gzip.decompress(chunk)
    assert b"\r\n\r\nGET /path?q=a%20b&x=1 HTTP/1.1\r\nHost: example.com\r\n" in block


def test_metadata_record(tmp_path: Path) -> None:
    _, written, closed = write_sample(tmp_path)
    rec_headers, http, payload = by_type(closed.path, "metadata")[0]
    assert http is None
    assert json.loads(payload) == {"title": "Teapot", "words": 4}
    assert rec_headers.get_header("WARC-Refers-To") == written[0].record_id
    assert rec_headers.get_header("Content-Type") == "application/json"
    assert rec_headers.get_header("WARC-Target-URI") == "urn:metadata:" + written[0].target_uri
    assert written[-1].record_type == "metadata"


def test_warc_date_has_microseconds_in_utc() -> None:
    local = timezone(timedelta(hours=2))
    assert warc_date(datetime(2026, 11, 3, 16, 0, 0, 123456, tzinfo=local)) == (
        "2026-11-03T14:00:00.123456Z")


def test_written_timestamp_matches_warc_date_for_non_utc_clock(tmp_path: Path) -> None:
    writer = deterministic_writer(
        tmp_path, start=datetime(2026, 11, 3, 16, 0, 0, tzinfo=timezone(timedelta(hours=2))))
    response, _ = writer.write_exchange(plain())
    closed = writer.close()
    assert closed is not None
    rec_headers = by_type(closed.path, "response")[0][0]
    assert rec_headers.get_header("WARC-Date") == "2026-11-03T14:00:01Z"
    assert response.timestamp == "20261103140001"


# -- offsets --------------------------------------------------------------------------------


def test_every_written_record_reads_back_from_its_offset(tmp_path: Path) -> None:
    _, written, closed = write_sample(tmp_path)
    data = closed.path.read_bytes()
    offsets = sorted(r.offset for r in written)
    assert offsets[0] > 0  # the warcinfo record comes first
    for record in written:
        chunk = data[record.offset:record.offset + record.length]
        parsed = read_records(chunk)
        assert len(parsed) == 1
        rec_headers = parsed[0][0]
        assert rec_headers.get_header("WARC-Record-ID") == record.record_id
        assert rec_headers.get_header("WARC-Type") == record.record_type
        assert rec_headers.get_header("WARC-Target-URI") == record.target_uri
        assert rec_headers.get_header("WARC-Payload-Digest") == record.payload_digest
        assert rec_headers.get_header("WARC-Date") == warc_date(record.date)
    # records are contiguous and the last one ends the file
    ordered = sorted(written, key=lambda r: r.offset)
    for a, b in itertools.pairwise(ordered):
        assert a.offset + a.length == b.offset
    assert ordered[-1].offset + ordered[-1].length == len(data) == closed.size


# -- lifecycle ------------------------------------------------------------------------------


def test_open_file_is_renamed_on_close(tmp_path: Path) -> None:
    writer = deterministic_writer(tmp_path)
    assert writer.close() is None  # nothing open yet
    response, _ = writer.write_exchange(plain())
    name = response.filename
    assert writer.current_filename == name
    assert sorted(p.name for p in tmp_path.iterdir()) == [name + ".open"]

    closed = writer.close()
    assert closed is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, name + ".cdxj"])
    assert closed.path == tmp_path / name
    assert closed.cdxj_path == tmp_path / (name + ".cdxj")
    data = closed.path.read_bytes()
    assert closed.sha256 == hashlib.sha256(data).hexdigest()
    assert closed.size == len(data) == closed.path.stat().st_size
    assert closed.records == 3  # warcinfo, response, request
    assert writer.current_filename is None
    assert writer.close() is None


def test_on_open_and_on_close_callbacks(tmp_path: Path) -> None:
    opened: list[str] = []
    closed_files: list[ClosedWarc] = []
    writer = deterministic_writer(tmp_path, on_open=opened.append, on_close=closed_files.append)
    response, _ = writer.write_exchange(plain())
    assert opened == [response.filename]
    assert closed_files == []
    closed = writer.close()
    assert closed_files == [closed]


def test_warcinfo_record(tmp_path: Path) -> None:
    writer = deterministic_writer(tmp_path, warcinfo={"software": "newsarchive-test",
                                                     "operator": "tests"})
    writer.write_exchange(plain())
    closed = writer.close()
    assert closed is not None
    rec_headers, _, payload = read_records(closed.path)[0]
    assert rec_headers.get_header("WARC-Type") == "warcinfo"
    assert rec_headers.get_header("WARC-Filename") == closed.filename
    assert rec_headers.get_header("WARC-Record-ID") == (
        "<urn:uuid:00000000-0000-0000-0000-000000000001>")
    assert b"software: newsarchive-test\r\n" in payload
    assert b"operator: tests\r\n" in payload


# -- rollover -------------------------------------------------------------------------------


def name_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(prefix)}-\d{{17}}-(\d{{5}})-\d+~.+\.warc\.gz$")


def check_rolled_files(spool: Path, closed: list[ClosedWarc], prefix: str,
                       exchanges: int) -> None:
    pattern = name_pattern(prefix)
    serials = []
    seen_urls = []
    for warc in closed:
        match = pattern.match(warc.filename)
        assert match, warc.filename
        serials.append(int(match.group(1)))
        parsed = read_records(warc.path)
        assert parsed[0][0].get_header("WARC-Type") == "warcinfo"
        assert parsed[0][0].get_header("WARC-Filename") == warc.filename
        assert [r[0].get_header("WARC-Type") for r in parsed].count("warcinfo") == 1
        seen_urls += [r[0].get_header("WARC-Target-URI") for r in parsed
                      if r[0].get_header("WARC-Type") == "response"]
        assert warc.sha256 == hashlib.sha256(warc.path.read_bytes()).hexdigest()
    assert serials == sorted(set(serials))
    assert serials == list(range(1, len(closed) + 1))
    assert seen_urls == [f"https://news.example.org/a/{i}" for i in range(exchanges)]
    assert not list(spool.glob("*.open"))


def test_rollover_by_size(tmp_path: Path) -> None:
    closed: list[ClosedWarc] = []
    writer = WarcWriter(tmp_path, prefix="sized", max_size=1, on_close=closed.append)
    filenames = []
    for i in range(4):
        response, _ = writer.write_exchange(plain(f"https://news.example.org/a/{i}"))
        filenames.append(response.filename)
    writer.close()
    assert len(closed) == 4
    assert filenames == [c.filename for c in closed]
    check_rolled_files(tmp_path, closed, "sized", 4)


def test_rollover_by_size_keeps_small_records_together(tmp_path: Path) -> None:
    closed: list[ClosedWarc] = []
    writer = deterministic_writer(tmp_path, prefix="mid", on_close=closed.append)
    first, _ = writer.write_exchange(plain("https://news.example.org/a/0"))
    one_file = first.offset + first.length
    writer.max_size = one_file * 2  # roughly two exchanges per file
    for i in range(1, 6):
        writer.write_exchange(plain(f"https://news.example.org/a/{i}"))
    writer.close()
    assert 1 < len(closed) < 6
    for warc in closed:
        # a file is only closed once it reached the limit (the last one by close())
        assert warc.size >= writer.max_size or warc is closed[-1]
    check_rolled_files(tmp_path, closed, "mid", 6)


def test_rollover_by_age(tmp_path: Path) -> None:
    closed: list[ClosedWarc] = []
    writer = WarcWriter(tmp_path, prefix="aged", max_age=0, on_close=closed.append)
    for i in range(3):
        writer.write_exchange(plain(f"https://news.example.org/a/{i}"))
    assert len(closed) == 2  # the third file is still open
    assert writer.roll_if_due() == closed[-1]
    assert len(closed) == 3
    assert writer.roll_if_due() is None  # nothing open
    check_rolled_files(tmp_path, closed, "aged", 3)


def test_no_rollover_below_limits(tmp_path: Path) -> None:
    writer = deterministic_writer(tmp_path)
    for i in range(5):
        writer.write_exchange(plain(f"https://news.example.org/a/{i}"))
    assert writer.roll_if_due() is None
    closed = writer.close()
    assert closed is not None
    assert closed.records == 11


def test_default_filename_format(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, prefix="news-site")
    response, _ = writer.write_exchange(plain())
    match = name_pattern("news-site").match(response.filename)
    assert match, response.filename
    assert match.group(1) == "00001"
    writer.close()


# -- CDXJ -----------------------------------------------------------------------------------


def parse_cdxj(path: Path) -> list[tuple[str, str, dict[str, str]]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        surt, timestamp, fields = line.split(" ", 2)
        out.append((surt, timestamp, json.loads(fields)))
    return out


def test_cdxj_has_one_sorted_line_per_response(tmp_path: Path) -> None:
    _, written, closed = write_sample(tmp_path)
    lines = closed.cdxj_path.read_text(encoding="utf-8").splitlines()
    assert lines == sorted(lines)
    entries = parse_cdxj(closed.cdxj_path)
    responses = [r for r in written if r.record_type == "response"]
    assert len(entries) == len(responses) == 4

    by_url = {fields["url"]: (surt, ts, fields) for surt, ts, fields in entries}
    expected_meta = {
        "http://example.com/path?q=a%20b&x=1": ("text/html", "418"),
        "https://news.example.org/a/1": ("text/html", "200"),
        "https://news.example.org/search": ("application/json", "200"),
        "https://news.example.org/gone": ("text/html", "404"),
    }
    for record in responses:
        _surt, timestamp, fields = by_url[record.target_uri]
        mime, status = expected_meta[record.target_uri]
        assert fields == {
            "url": record.target_uri, "mime": mime, "status": status,
            "digest": record.payload_digest.removeprefix("sha1:"),
            "length": str(record.length), "offset": str(record.offset),
            "filename": closed.filename,
        }
        assert timestamp == record.timestamp == record.date.strftime("%Y%m%d%H%M%S")
    assert by_url["http://example.com/path?q=a%20b&x=1"][0] == "com,example)/path?q=a%20b&x=1"
    assert by_url["https://news.example.org/a/1"][0] == "org,example,news)/a/1"


def test_cdxj_of_a_file_with_several_index_blocks_is_whole_and_sorted(tmp_path: Path) -> None:
    # more lines than INDEX_BLOCK, so most are deflated in blocks before the file closes
    count = INDEX_BLOCK * 2 + 345
    urls = [f"https://news.example.org/{n:05d}/caf%C3%A9" for n in range(count)]
    Random(7).shuffle(urls)
    writer = deterministic_writer(tmp_path)
    written = [writer.write_exchange(plain(url))[0] for url in urls]
    closed = writer.close()
    assert closed is not None

    lines = closed.cdxj_path.read_text(encoding="utf-8").splitlines()
    assert lines == sorted(lines)
    assert len(lines) == count
    offsets = {fields["url"]: int(fields["offset"]) for _, _, fields in parse_cdxj(
        closed.cdxj_path)}
    assert offsets == {record.target_uri: record.offset for record in written}


@pytest.mark.parametrize("data", [b"", b"a", GZIPPED_HTML, bytes(range(256)) * 40])
def test_sha1_digest_is_warcios_base32(data: bytes) -> None:
    expected = "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")
    assert sha1_digest(data) == expected
    assert sha1_digest(data[:7], data[7:]) == expected


def test_compressed_payloads_are_stored_and_text_is_deflated(tmp_path: Path) -> None:
    """Deflate cannot shrink a gzip/JPEG payload: its record is written in stored blocks,
    never larger than the record plus gzip framing; a text record is still compressed."""
    random = Random(7)
    noise = gzip.compress(bytes(random.getrandbits(8) for _ in range(40_000)), mtime=0)
    text = b"".join(b"<p>%d council meeting minutes</p>\n" % i for i in range(2_000))
    writer = deterministic_writer(tmp_path)
    encoded, _ = writer.write_exchange(replace(plain(body=noise), response_headers=[
        ("Content-Type", "text/html"), ("Content-Encoding", "gzip")]))
    jpeg, _ = writer.write_exchange(replace(plain(body=noise), response_headers=[
        ("Content-Type", "image/jpeg")]))
    html, _ = writer.write_exchange(plain(body=text))
    closed = writer.close()
    assert closed is not None
    data = closed.path.read_bytes()
    for record in (encoded, jpeg, html):
        member = data[record.offset:record.offset + record.length]
        raw = gzip.decompress(member)
        if record is html:
            assert len(member) < len(raw) / 5
        else:  # 18 bytes of gzip header and trailer, 5 per stored block (<= 64 KiB each)
            assert len(member) <= len(raw) + 18 + 5 * (len(raw) // 65_535 + 2)
            assert member[3] == 0  # no optional gzip fields: deflate data starts at byte 10
            assert (member[10] >> 1) & 3 == 0, "first deflate block is not stored (BTYPE 00)"
            assert read_records(member)[0][2] == noise
