"""GET /cdx (pywb CDX server API) over a catalog with known captures, in-process.

The catalog rows are inserted directly (every value known), the expected lines written out
by hand. The same rows are also written as CDXJ and queried with pywb's own CDX code (its
virtualenv in .cache/pywb-venv, installed when missing), and on PostgreSQL when reachable.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from warcio.timeutils import timestamp_to_sec

from archive import cdx_query
from archive.catalog import Catalog
from archive.cdx_query import FIRST_PAGE
from archive.cdxj import CdxjEntry
from archive.config import ArchiveSettings
from tests.support.api import api_client
from tests.support.captures import insert_captures, query_plan, statements_on_captures
from tests.support.peers import pywb_bin

# url, timestamp, status, mime, digest, record_type, warc file, offset, length
CAPTURES = [
    ("http://example.com/", "20261101000000", 200, "text/html", "sha1:AAAA", "response",
     "a.warc.gz", 0, 100),
    ("http://example.com/", "20261102120000", 200, "warc/revisit", "sha1:AAAA", "revisit",
     "b.warc.gz", 0, 90),
    ("http://example.com/", "20261103000000", 200, "text/html", "sha1:BBBB", "response",
     "b.warc.gz", 90, 110),
    ("http://example.com/news/a", "20261101060000", 200, "text/html", "sha1:CCCC", "response",
     "a.warc.gz", 100, 120),
    ("http://example.com/news/b", "20261102060000", 404, "text/html", "sha1:DDDD", "response",
     "a.warc.gz", 220, 130),
    ("http://example.com/news?page=2", "20261102070000", 200, "text/html", "sha1:EEEE",
     "response", "a.warc.gz", 350, 140),
    ("http://example.com/style.css", "20261102000000", 200, "text/css", "sha1:FFFF",
     "response", "a.warc.gz", 490, 150),
    ("http://www.example.com/about", "20261104000000", 200, "text/html", "sha1:GGGG",
     "response", "b.warc.gz", 200, 160),
    ("http://cdn.example.com/x.js", "20261101120000", 200, "application/javascript",
     "sha1:HHHH", "response", "b.warc.gz", 360, 170),
    ("http://examplex.com/", "20261101000000", 200, "text/html", "sha1:IIII", "response",
     "b.warc.gz", 530, 180),
    ("http://example.org/", "20261101000000", 301, "text/html", "sha1:JJJJ", "response",
     "b.warc.gz", 710, 190),
    ("http://localhost:8000/x", "20261101000000", 200, "text/plain", "sha1:KKKK",
     "response", "b.warc.gz", 900, 200),
]


def make_client(data_dir: Path, database_url: str | None = None) -> Iterator[TestClient]:
    catalog = Catalog(ArchiveSettings(data_dir=data_dir, database_url=database_url).database_url)
    insert_captures(catalog, CAPTURES)
    catalog.dispose()
    with api_client(data_dir, database_url=database_url) as client:
        yield client


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    yield from make_client(tmp_path / "data")


@pytest.fixture
def pg_client(tmp_path: Path, postgres_databases: Any) -> Iterator[TestClient]:
    """The same catalog in a fresh PostgreSQL database (dropped at the end of the session)."""
    yield from make_client(tmp_path / "pg-data", postgres_databases())


def cdx(client: TestClient, **params: Any) -> list[dict[str, str]]:
    response = client.get("/cdx", params={"output": "json", **params})
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


def keys(client: TestClient, **params: Any) -> list[tuple[str, str]]:
    return [(row["urlkey"], row["timestamp"]) for row in cdx(client, **params)]


def urls(client: TestClient, **params: Any) -> list[str]:
    return [row["url"] for row in cdx(client, **params)]


# -- URL matching ----------------------------------------------------------------------------

HOME = [("com,example)/", "20261101000000"), ("com,example)/", "20261102120000"),
        ("com,example)/", "20261103000000")]
HOST = [*HOME, ("com,example)/about", "20261104000000"),
        ("com,example)/news/a", "20261101060000"), ("com,example)/news/b", "20261102060000"),
        ("com,example)/news?page=2", "20261102070000"),
        ("com,example)/style.css", "20261102000000")]
DOMAIN = [*HOST, ("com,example,cdn)/x.js", "20261101120000")]


@pytest.mark.parametrize(("params", "expected"), [
    ({"url": "http://example.com/"}, HOME),
    ({"url": "example.com"}, HOME),
    ({"url": "https://www.example.com/", "matchType": "exact"}, HOME),
    ({"url": "example.com/news/", "matchType": "prefix"}, HOST[4:6]),
    ({"url": "example.com/news/*"}, HOST[4:6]),
    ({"url": "example.com/news*"}, HOST[4:7]),
    ({"url": "http://example.com/nothing/here", "matchType": "prefix"}, []),
    ({"url": "example.com/news/a", "matchType": "host"}, HOST),
    ({"url": "example.com", "matchType": "domain"}, DOMAIN),
    ({"url": "*.example.com"}, DOMAIN),
    ({"url": "*.com"}, [*DOMAIN, ("com,examplex)/", "20261101000000")]),
    ({"url": "cdn.example.com", "matchType": "host"}, DOMAIN[-1:]),
    ({"url": "localhost:8000/x"}, [("localhost:8000)/x", "20261101000000")]),  # no scheme
    ({"url": "localhost:8000", "matchType": "host"}, [("localhost:8000)/x", "20261101000000")]),
])
def test_match_types_and_wildcards(client, params, expected) -> None:
    assert keys(client, **params) == expected


def test_from_and_to_are_padded_like_pywb(client) -> None:
    assert keys(client, url="example.com", **{"from": "20261102"}) == HOME[1:]
    assert keys(client, url="example.com", to="20261102") == HOME[:2]
    assert keys(client, url="example.com", **{"from": "2026110212", "to": "2026110212"}) \
        == HOME[1:2]
    assert keys(client, url="example.com", to="2025") == []


# -- limit and order -----------------------------------------------------------------------


def test_limit_and_reverse(client) -> None:
    assert keys(client, url="*.example.com", limit=2) == DOMAIN[:2]
    assert keys(client, url="*.example.com", sort="reverse") == DOMAIN[::-1]
    assert keys(client, url="*.example.com", sort="reverse", limit=3) == DOMAIN[::-1][:3]


def test_closest_orders_by_distance(client) -> None:
    # 20261102 12:00 is 0 s away, 11-03 00:00 12 h, 11-01 00:00 36 h
    assert keys(client, url="example.com", sort="closest", closest="20261102120000") \
        == [HOME[1], HOME[2], HOME[0]]
    # a partial timestamp is padded up (warcio's timestamp_to_sec, as pywb): 11-01 23:59:59
    assert keys(client, url="example.com", closest="20261101", limit=2) == [HOME[1], HOME[0]]
    assert keys(client, url="example.com", closest="202611010000", limit=2) \
        == [HOME[0], HOME[1]]
    # equally far (12 h) before and after: the earlier first, as pywb's stable sort does
    assert keys(client, url="example.com", closest="20261102180000") \
        == [HOME[1], HOME[2], HOME[0]]
    assert keys(client, url="example.com", closest="2030")[0] == HOME[2]


def test_paging_through_many_rows_keeps_every_order(tmp_path: Path) -> None:
    """More rows than one SQL page (FIRST_PAGE): forward, reverse and closest stay exact."""
    count = FIRST_PAGE * 2 + 37
    stamps = [f"2026{1 + i // 600:02d}{1 + i // 24 % 25:02d}{i % 24:02d}0000"
              for i in range(count)]
    many = [("http://many.example/", ts, 200, "text/html", f"sha1:{i}", "response",
             "m.warc.gz", i * 10, 10) for i, ts in enumerate(stamps)]
    catalog = Catalog(f"sqlite:///{tmp_path / 'data' / 'catalog.sqlite'}")
    insert_captures(catalog, many)
    catalog.dispose()
    with api_client(tmp_path / "data") as client:
        forward = [r["timestamp"] for r in cdx(client, url="many.example")]
        assert forward == sorted(stamps)
        assert [r["timestamp"] for r in cdx(client, url="many.example", sort="reverse")] \
            == sorted(stamps, reverse=True)
        middle = sorted(stamps)[count // 2]
        nearest = [r["timestamp"] for r in cdx(client, url="many.example", closest=middle)]
        assert len(nearest) == count and nearest[0] == middle
        gaps = [abs(timestamp_to_sec(ts) - timestamp_to_sec(middle)) for ts in nearest]
        assert gaps == sorted(gaps)


def test_ranges_are_index_range_scans(client) -> None:
    """prefix/host/domain read a SURT key range of ix_captures_surt_timestamp, no LIKE."""
    engine = client.app.state.service.catalog.engine
    for params in ({"url": "example.com/news/*"}, {"url": "example.com", "matchType": "host"},
                   {"url": "*.example.com", "sort": "reverse"}):
        with statements_on_captures(engine) as statements:
            assert cdx(client, **params)
        (statement, parameters), = statements
        assert "LIKE" not in statement.upper()
        plan = query_plan(engine, statement, parameters)
        assert "USING INDEX ix_captures_surt_timestamp (surt>? AND surt<?)" in plan, plan
        assert "TEMP B-TREE" not in plan, plan  # the index gives the order too


def test_pages_are_found_on_the_index(client, small_blocks) -> None:
    """A page's bounds and the page count are index-only scans of the range (no row is read
    to skip the pages before it); the page itself is a range scan in index order."""
    engine = client.app.state.service.catalog.engine
    with statements_on_captures(engine) as statements:
        assert cdx(client, url="*.example.com", pageSize=1, page=2)
        assert client.get("/cdx", params={"url": "*.example.com", "pageSize": 1,
                                          "page": 9}).status_code == 400
    assert len(statements) == 2 + 1 + 1 + 1  # bounds, page; bound, then the count
    plans = [query_plan(engine, statement, parameters) for statement, parameters in statements]
    for plan in plans:
        assert "INDEX ix_captures_surt_timestamp (surt>? AND surt<?)" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
    assert sum("COVERING INDEX" in plan for plan in plans) == 4, plans


# -- filters -------------------------------------------------------------------------------


@pytest.mark.parametrize(("filters", "expected"), [
    (["=status:404"], ["http://example.com/news/b"]),
    (["!=status:200"], ["http://example.com/", "http://example.com/news/b"]),  # + revisit
    (["=status:"], ["http://example.com/"]),  # a revisit has no status: "" as in pywb
    (["status:"], ["http://example.com/"] * 3 + ["http://www.example.com/about",
                                               "http://example.com/news/a",
                                               "http://example.com/news/b",
                                               "http://example.com/news?page=2",
                                               "http://example.com/style.css",
                                               "http://cdn.example.com/x.js"]),
    (["=statuscode:404"], ["http://example.com/news/b"]),  # pywb's field aliases
    (["status:40"], ["http://example.com/news/b"]),  # contains
    (["=mime:text/css"], ["http://example.com/style.css"]),
    (["mime:java"], ["http://cdn.example.com/x.js"]),
    (["~url:.*\\.(css|js)$"], ["http://example.com/style.css", "http://cdn.example.com/x.js"]),
    (["~mime:html"], []),  # regex is anchored at the start (re.match), as in pywb
    (["~mime:text/"], ["http://example.com/"] * 2 + [
        "http://www.example.com/about", "http://example.com/news/a",
        "http://example.com/news/b", "http://example.com/news?page=2",
        "http://example.com/style.css"]),
    (["!~mime:text/", "!=mime:warc/revisit"], ["http://cdn.example.com/x.js"]),
    (["!mime:html", "!url:cdn"], ["http://example.com/", "http://example.com/style.css"]),
    (["=mime:warc/revisit"], ["http://example.com/"]),
    (["=digest:BBBB"], ["http://example.com/"]),
    (["=filename:b.warc.gz", "=status:200", "~urlkey:com,example\\)/"],
     ["http://example.com/", "http://www.example.com/about"]),  # not the revisit
    (["=timestamp:20261101060000"], ["http://example.com/news/a"]),
    (["=length:170"], ["http://cdn.example.com/x.js"]),
    (["=offset:0200"], []),  # compared as text, as pywb compares
    (["page=2"], ["http://example.com/news?page=2"]),  # no field: the whole line
])
def test_filters(client, filters, expected) -> None:
    assert urls(client, url="*.example.com", filter=filters) == expected


def test_revisits_show_as_warc_revisit_without_status(client) -> None:
    """As pywb's indexer writes them: the catalog keeps the status, the CDX line has none."""
    rows = cdx(client, url="example.com")
    assert [r["mime"] for r in rows] == ["text/html", "warc/revisit", "text/html"]
    assert rows[1]["digest"] == rows[0]["digest"] == "AAAA"
    assert [r.get("status") for r in rows] == ["200", None, "200"]
    assert urls(client, url="example.com", filter="=status:200") == ["http://example.com/"] * 2
    fields = {"url": "example.com", "fl": "timestamp,mime,status"}
    assert client.get("/cdx", params={**fields, "output": "text"}).text == (
        "20261101000000 text/html 200\n20261102120000 warc/revisit -\n"
        "20261103000000 text/html 200\n")
    assert client.get("/cdx", params={**fields, "output": "json"}).text.splitlines()[1] \
        == '{"timestamp": "20261102120000", "mime": "warc/revisit"}'
    assert client.get("/cdx", params={"url": "example.com", "limit": 2}).text.splitlines()[1] \
        == ('com,example)/ 20261102120000 {"url": "http://example.com/", '
            '"mime": "warc/revisit", "digest": "AAAA", "length": "90", "offset": "0", '
            '"filename": "b.warc.gz"}')


def test_filters_apply_before_the_limit(client) -> None:
    assert urls(client, url="*.example.com", filter="~url:.*news", limit=2) \
        == ["http://example.com/news/a", "http://example.com/news/b"]
    assert urls(client, url="*.example.com", filter="!=status:404", sort="reverse",
                limit=1) == ["http://cdn.example.com/x.js"]


# -- pages (pywb's ZipNum paging) and resume keys (the Internet Archive's) ------------------


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Blocks of 2 lines instead of 3000, so the 9 lines of *.example.com make 5 blocks."""
    monkeypatch.setattr(cdx_query, "BLOCK_LINES", 2)
    return 2


def lines_of(client: TestClient, **params: Any) -> list[str]:
    response = client.get("/cdx", params=params)
    assert response.status_code == 200, response.text
    return response.text.splitlines()


def test_num_pages_counts_blocks_of_the_range(client, small_blocks) -> None:
    def info(**params: Any) -> Any:
        return json.loads(client.get("/cdx", params={"showNumPages": "true", **params}).text)

    assert info(url="*.example.com") == {"pages": 1, "pageSize": 10, "blocks": 5}
    assert info(url="*.example.com", pageSize=2, output="json") \
        == {"pages": 3, "pageSize": 2, "blocks": 5}
    # from/to and filters apply to the lines of a page, not to the count (as pywb)
    assert info(url="*.example.com", pageSize=2, filter="=status:404", to="2025") \
        == {"pages": 3, "pageSize": 2, "blocks": 5}
    assert info(url="example.com/nothing") == {"pages": 0, "pageSize": 10, "blocks": 0}
    assert lines_of(client, url="example.com", showNumPages="false") \
        == lines_of(client, url="example.com")  # a switch reads as pywb's to_bool


def test_pages_split_the_answer_in_index_order(client, small_blocks) -> None:
    everything = keys(client, url="*.example.com")
    pages = [keys(client, url="*.example.com", pageSize=2, page=page) for page in range(3)]
    assert [len(page) for page in pages] == [4, 4, 1]
    assert [key for page in pages for key in page] == everything
    assert keys(client, url="*.example.com", pageSize=2) == pages[0]  # page 0 by default
    # the order, filters and limit apply within the page, as pywb applies them
    assert keys(client, url="*.example.com", pageSize=2, page=1, sort="reverse") \
        == pages[1][::-1]
    assert keys(client, url="*.example.com", pageSize=2, page=1, limit=1) == pages[1][:1]
    assert urls(client, url="*.example.com", pageSize=2, page=1, filter="~url:.*news") \
        == ["http://example.com/news/a", "http://example.com/news/b",
            "http://example.com/news?page=2"]


@pytest.mark.parametrize(("params", "message"), [
    ({"url": "*.example.com", "pageSize": "2", "page": "3"},
     "Page 3 invalid: First Page is 0, Last Page is 2"),
    ({"url": "*.example.com", "page": "1"}, "Page 1 invalid: First Page is 0, Last Page is 0"),
    ({"url": "example.com/nothing", "page": "1"},
     "Page 1 invalid: First Page is 0, Last Page is 0"),
])
def test_a_page_past_the_last_is_pywbs_error(client, small_blocks, params, message) -> None:
    response = client.get("/cdx", params=params)
    assert response.status_code == 400
    assert response.json()["error"] == message
    assert response.json()["field"] == "page"


def test_page_zero_of_an_empty_range_is_empty(client, small_blocks) -> None:
    assert lines_of(client, url="example.com/nothing", page=0) == []


def test_paged_index_lists_the_blocks_of_the_page(client, small_blocks) -> None:
    everything = keys(client, url="*.example.com")
    index = [json.loads(line) for line in lines_of(
        client, url="*.example.com", pageSize=2, page=2, showPagedIndex="true",
        output="json")]
    assert index == [{"urlkey": " ".join(everything[8]), "part": "catalog", "offset": 8,
                      "length": 1, "lineno": 4}]
    text = lines_of(client, url="*.example.com", pageSize=2, showPagedIndex="true")
    assert text == [f"{' '.join(everything[0])}\tcatalog\t0\t2\t0",
                    f"{' '.join(everything[2])}\tcatalog\t2\t2\t1"]


@pytest.mark.parametrize("params", [
    {"url": "*.example.com"},
    {"url": "*.example.com", "sort": "reverse"},
    {"url": "*.example.com", "filter": "~url:.*e"},
    {"url": "example.com", "output": "text"},
])
def test_resume_keys_continue_where_the_answer_stopped(client, params) -> None:
    everything = lines_of(client, **params)
    collected: list[str] = []
    extra: dict[str, str] = {}
    for _ in range(len(everything)):
        answer = lines_of(client, **params, **extra, limit=2, showResumeKey="true")
        if "" not in answer:  # the last part: no key
            collected += answer
            break
        assert answer[-2] == "" and answer[-1]  # the lines, an empty line, the key
        collected += answer[:-2]
        extra = {"resumeKey": answer[-1]}
    assert collected == everything
    # an answer that holds every line has no key; without limit there is nothing to resume
    assert lines_of(client, **params, limit=len(everything), showResumeKey="true") \
        == everything
    assert lines_of(client, **params, showResumeKey="true") == everything


def test_a_resume_key_stays_exact_when_captures_are_added(client) -> None:
    first = lines_of(client, url="*.example.com", limit=4, showResumeKey="true")
    insert_captures(Catalog(str(client.app.state.service.catalog.engine.url)), [
        ("http://example.com/aaa", "20261105000000", 200, "text/html", "sha1:NEW", "response",
         "c.warc.gz", 0, 10)])  # sorts before the key: a page number would shift
    rest = lines_of(client, url="*.example.com", resumeKey=first[-1])
    assert [json.loads(line.split(" ", 2)[2])["url"] for line in first[:-2] + rest] \
        == urls(client, url="*.example.com", filter="!=digest:NEW")


# -- output formats and fields -------------------------------------------------------------


def test_output_formats(client) -> None:
    params = {"url": "http://example.com/news/b"}
    response = client.get("/cdx", params=params)
    assert response.headers["content-type"].startswith("text/x-cdxj")
    assert response.text == (
        'com,example)/news/b 20261102060000 {"url": "http://example.com/news/b", '
        '"mime": "text/html", "status": "404", "digest": "DDDD", "length": "130", '
        '"offset": "220", "filename": "a.warc.gz"}\n')
    response = client.get("/cdx", params={**params, "output": "json"})
    assert response.headers["content-type"].startswith("text/x-ndjson")
    assert json.loads(response.text) == {
        "urlkey": "com,example)/news/b", "timestamp": "20261102060000",
        "url": "http://example.com/news/b", "mime": "text/html", "status": "404",
        "digest": "DDDD", "length": "130", "offset": "220", "filename": "a.warc.gz"}
    response = client.get("/cdx", params={**params, "output": "text"})
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == ("com,example)/news/b 20261102060000 http://example.com/news/b "
                             "text/html 404 DDDD - - 130 220 a.warc.gz\n")


def test_field_list(client) -> None:
    params = {"url": "example.com/news/*", "fl": "timestamp,status,url"}
    assert client.get("/cdx", params={**params, "output": "text"}).text == (
        "20261101060000 200 http://example.com/news/a\n"
        "20261102060000 404 http://example.com/news/b\n")
    first = client.get("/cdx", params={**params, "output": "json"}).text.splitlines()[0]
    assert first == ('{"timestamp": "20261101060000", "status": "200", '
                     '"url": "http://example.com/news/a"}')
    assert client.get("/cdx", params={**params, "output": "cdxj", "limit": 1}).text == (
        'com,example)/news/a 20261101060000 {"status": "200", '
        '"url": "http://example.com/news/a"}\n')


# -- bad parameters ------------------------------------------------------------------------


@pytest.mark.parametrize(("params", "param", "message"), [
    ({}, "url", "url is required"),
    ({"url": "a.com", "matchType": "fuzzy"}, "matchType",
     "matchType='fuzzy' is not supported; use exact, prefix, host, domain"),
    ({"url": "*.a.com", "matchType": "exact"}, "matchType",
     "the wildcard in url implies matchType=domain but matchType=exact was given"),
    ({"url": "a.com/*/b"}, "url", "'*' is only accepted"),
    ({"url": "a.com", "from": "2026-11"}, "from", "from='2026-11' is not a timestamp"),
    ({"url": "a.com", "to": "202611030000001"}, "to", "is not a timestamp: use 1 to 14"),
    ({"url": "a.com", "limit": "0"}, "limit", "limit='0' is not a positive integer"),
    ({"url": "a.com", "limit": "ten"}, "limit", "not a positive integer"),
    ({"url": "a.com", "sort": "random"}, "sort", "sort='random' is not supported"),
    ({"url": "a.com", "sort": "closest"}, "closest", "sort=closest needs closest="),
    ({"url": "a.com", "sort": "reverse", "closest": "2026"}, "sort", "contradict"),
    ({"url": "a.com", "closest": "soon"}, "closest", "closest='soon' is not a timestamp"),
    ({"url": "a.com", "filter": "=colour:red"}, "filter", "unknown field 'colour'; fields"),
    ({"url": "a.com", "filter": "~url:(unclosed"}, "filter", "not a valid regular expr"),
    ({"url": "a.com", "filter": ":x"}, "filter", "has no field name"),
    ({"url": "a.com", "fl": "url,size"}, "fl", "unknown field 'size'"),
    ({"url": "a.com", "output": "link"}, "output", "output='link' is not supported; use "
                                                   "cdxj, json, text"),
    ({"url": "a.com", "limit": "1", "index": "1"}, "index", "unsupported parameter 'index'"),
    ({"url": "a.com", "page": "-1"}, "page", "Invalid value for page= param: '-1'"),
    ({"url": "a.com", "pageSize": "0"}, "pageSize", "Invalid value for pageSize= param"),
    ({"url": "a.com", "resumeKey": "x"}, "resumeKey", "is not a key this server gave"),
    ({"url": "a.com", "showResumeKey": "true", "page": "0"}, "showResumeKey",
     "not both"),
    ({"url": "a.com", "resumeKey": "com%2Ca%29%2F+20261101000000+1", "closest": "2026"},
     "closest", "sort=closest has none to resume from"),
    ({"url": ["a.com", "b.com"]}, "url", "url is given more than once"),
])
def test_bad_parameters_are_400_naming_the_parameter(client, params, param, message) -> None:
    response = client.get("/cdx", params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["field"] == param
    assert message in body["error"]


# -- the same answers on PostgreSQL and from pywb ------------------------------------------

QUERIES = [
    {"url": "example.com"},
    {"url": "example.com/news*"},
    {"url": "example.com", "matchType": "host"},
    {"url": "*.example.com"},
    {"url": "*.com"},
    {"url": "*.example.com", "sort": "reverse", "limit": "4"},
    {"url": "*.example.com", "from": "20261102", "to": "202611030"},
    {"url": "example.com", "closest": "20261102180000"},
    {"url": "example.com", "sort": "closest", "closest": "20261101", "limit": "2"},
    {"url": "*.example.com", "filter": ["=status:200", "!~mime:text/"]},
    {"url": "*.example.com", "filter": ["mime:html", "!=filename:a.warc.gz"]},
    {"url": "*.example.com", "filter": "~url:.*news", "limit": "2"},
    {"url": "*.example.com", "filter": "=status:200"},
    {"url": "*.example.com", "filter": "!=status:200"},
    {"url": "*.example.com", "filter": ["status:2", "=digest:AAAA"]},
    {"url": "example.com", "filter": "=status:"},
    {"url": "example.com", "fl": "timestamp,status,mime"},
]


PAGED = [
    {"url": "*.example.com", "pageSize": "2", "page": str(page)} for page in range(3)] + [
    {"url": "*.example.com", "pageSize": "2", "page": "1", "sort": "reverse"},
    {"url": "*.example.com", "pageSize": "2", "showPagedIndex": "true"},
    {"url": "*.example.com", "limit": "3", "showResumeKey": "true"},
    {"url": "*.example.com", "limit": "3", "showResumeKey": "true", "sort": "reverse"},
]


def test_same_results_on_postgresql(client, pg_client, small_blocks) -> None:
    for query in QUERIES:
        assert cdx(pg_client, **query) == cdx(client, **query), query
    for query in PAGED:  # resume keys name capture ids: the same rows got the same ids
        assert lines_of(pg_client, **query) == lines_of(client, **query), query
    assert pg_client.get("/cdx", params={"url": "*.example.com", "showNumPages": "1"}).text \
        == '{"pages": 1, "pageSize": 10, "blocks": 5}'


PYWB_SCRIPT = """
import json, sys
from pywb.warcserver.index.aggregator import SimpleAggregator
from pywb.warcserver.index.indexsource import FileIndexSource
index = SimpleAggregator({"cdx": FileIndexSource(sys.argv[1])})  # as pywb's warcserver
answers = []
for params in json.loads(sys.stdin.read()):
    if isinstance(params.get("filter"), str):
        params["filter"] = [params["filter"]]
    fields = params["fl"].split(",") if params.get("fl") else None
    cdx_iter, errors = index(dict(params))
    assert not errors, errors
    answers.append([{k: v for k, v in json.loads(cdx.to_json(fields)).items()
                     if k not in ("source", "source-coll")} for cdx in cdx_iter])
print(json.dumps(answers))
"""


def test_same_results_as_pywb(client, tmp_path: Path) -> None:
    """pywb's own CDX code over the CDXJ of the same captures gives the same lines."""
    python = pywb_bin() / "python"  # installs pywb in .cache/pywb-venv when missing
    index = tmp_path / "index.cdxj"
    index.write_text("".join(sorted(CdxjEntry.build(
        url=url, timestamp=ts, mime=mime, status=status, digest=digest, length=length,
        offset=offset, filename=filename).to_line()
        for url, ts, status, mime, digest, _, filename, offset, length in CAPTURES)))
    proc = subprocess.run([str(python), "-c", PYWB_SCRIPT, str(index)],
                          input=json.dumps(QUERIES), capture_output=True, text=True,
                          timeout=120, check=True)
    for query, expected in zip(QUERIES, json.loads(proc.stdout), strict=True):
        assert cdx(client, **query) == expected, query
