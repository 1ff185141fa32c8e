"""Interop: pywb indexes our WARCs, answers CDX queries and replays them as we do.

The demo site is crawled twice into our archive (the second crawl writes revisits of the
unchanged pages); ``wb-manager init/add`` puts the WARCs into a pywb collection and
``wayback`` serves it. For every capture, ``/coll/{ts}id_/{url}`` from pywb and
``/web/{ts}id_/{url}`` from us must agree on status, payload bytes (gzip-encoded pages
included) and the key headers; ``/coll/cdx`` and our ``/cdx`` must give the same lines for
the same queries. Paging is compared with a second collection, ``zip``: the lines of pywb's
own index packed as a ZipNum cluster (pywb pages only those) in blocks of
``ZIP_BLOCK_LINES``, the block size our /cdx is given for the comparison.

pywb runs from its own virtualenv in ``.cache/pywb-venv`` (created with pip when missing,
reused after; pywb's pins clash with ours). pywb replays from the index its own indexer
built from our WARC (compared with our CDXJ first); our JSON ``metadata`` records carry a
``urn:metadata:`` target URI, so they never shadow the page they describe.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from fastapi.testclient import TestClient

from archive import cdx_query
from archive.models import Capture
from tests.support.api import api_client
from tests.support.cli import Archive
from tests.support.peers import running_pywb, wb_manager

pytestmark = pytest.mark.slow

ARTICLE = "/world/2026/11/03/harbour-bridge-reopens.html"
PATHS = ["/", ARTICLE, "/culture/2026/11/02/festival-des-lumieres.html", "/assets/style.css",
         "/assets/logo.png", "/missing", "/old/harbour-bridge"]


ZIP_BLOCK_LINES = 3


@dataclass
class Replayers:
    pywb: httpx.Client
    ours: TestClient
    captures: list[tuple[str, str, int, str]]  # url, timestamp, status, record type
    pywb_index: list[str]  # lines of pywb's index of our WARCs
    our_index: list[str]  # lines of our per-WARC CDXJ files


def write_zipnum(lines: list[str], indexes: Path, block_lines: int) -> None:
    """A ZipNum cluster of sorted CDXJ ``lines``: one gzip member per block in
    ``index.cdx.gz``, the secondary index ``index.idx`` (first key and time of each block,
    part, offset, length, block number) and ``index.loc`` naming the part."""
    blocks, idx, offset = [], [], 0
    for number, start in enumerate(range(0, len(lines), block_lines)):
        chunk = lines[start:start + block_lines]
        packer = zlib.compressobj(6, zlib.DEFLATED, 31)
        data = packer.compress("".join(line + "\n" for line in chunk).encode()) + packer.flush()
        key, timestamp, _ = chunk[0].split(" ", 2)
        idx.append(f"{key} {timestamp}\tindex\t{offset}\t{len(data)}\t{number}\n")
        blocks.append(data)
        offset += len(data)
    (indexes / "index.cdx.gz").write_bytes(b"".join(blocks))
    (indexes / "index.idx").write_text("".join(idx))
    (indexes / "index.loc").write_text(f"index\t{indexes / 'index.cdx.gz'}\n")


@pytest.fixture(scope="module")
def replayers(tmp_path_factory: pytest.TempPathFactory, demo_site: Any) -> Iterator[Replayers]:
    root = tmp_path_factory.mktemp("pywb")
    archive = Archive(root / "data")
    for _ in range(2):  # the second crawl finds most pages unchanged: revisits
        archive.crawl(*(demo_site.url + path for path in PATHS), "--depth", "0")
    warcs = archive.warc_paths()
    assert len(warcs) == 2
    wb_manager(root, "init", "coll")
    wb_manager(root, "add", "coll", *map(str, warcs))
    wb_manager(root, "init", "zip")
    pywb_index = (root / "collections" / "coll" / "indexes" / "index.cdxj").read_text(
        encoding="utf-8").splitlines()
    write_zipnum(pywb_index, root / "collections" / "zip" / "indexes", ZIP_BLOCK_LINES)
    our_index = sorted(line for warc in warcs for line in (
        root / "data" / "storage" / "indexes" / f"{warc.name}.cdxj").read_text(
        encoding="utf-8").splitlines())
    with running_pywb(root) as pywb:
        with archive.catalog().session() as session:
            captures = [(c.url, c.timestamp, c.status, c.record_type)
                        for c in session.query(Capture)]
        with api_client(root / "data") as ours:
            yield Replayers(pywb, ours, captures, pywb_index, our_index)


def fetch(client: Any, path: str) -> tuple[int, Any, bytes]:
    """Status, headers and body bytes as sent (no Content-Encoding decoding)."""
    with client.stream("GET", path, follow_redirects=False) as response:
        return response.status_code, response.headers, b"".join(response.iter_raw())


def test_pywb_indexes_our_responses_and_revisits_as_our_cdxj_does(replayers: Replayers
                                                                   ) -> None:
    """Line for line, revisits included (no status); pywb also indexes our metadata
    records, under their ``urn:metadata:`` URIs, which are not captures."""
    theirs = [line for line in replayers.pywb_index if not line.startswith("urn:")]
    assert theirs == replayers.our_index
    assert len(theirs) == len(replayers.captures)
    kinds = [kind for *_, kind in replayers.captures]
    assert kinds.count("revisit") >= 3 and kinds.count("response") > kinds.count("revisit")


def test_every_capture_replays_identically_in_pywb_and_here(replayers: Replayers,
                                                            demo_site: Any) -> None:
    by_path = {url.removeprefix(demo_site.url): (url, ts, status)
               for url, ts, status, _ in replayers.captures}
    assert set(PATHS) <= set(by_path)
    kinds: set[str] = set()
    for url, timestamp, status, record_type in replayers.captures:
        pywb_status, pywb_headers, pywb_body = fetch(replayers.pywb,
                                                     f"/coll/{timestamp}id_/{url}")
        our_status, our_headers, our_body = fetch(replayers.ours, f"/web/{timestamp}id_/{url}")
        assert (our_status, our_body) == (pywb_status, pywb_body), url
        assert our_status == status
        for name in ("content-type", "content-encoding", "memento-datetime"):
            assert our_headers.get(name) == pywb_headers.get(name), (url, name)
        # pywb's id_ sets archived cookies on its own origin; ours keeps them inert
        assert our_headers.get_list("x-archive-orig-set-cookie") \
            == pywb_headers.get_list("set-cookie")
        assert our_headers.get_list("set-cookie") == []
        assert our_headers["content-length"] == str(len(our_body))
        if 300 <= status < 400:  # pywb's id_ keeps Location; ours points into the archive
            target = urljoin(url, pywb_headers["location"])
            assert our_headers["location"] == f"http://testserver/web/{timestamp}id_/{target}"
            kinds.add("redirect")
        kinds.add(f"{status}-{our_headers.get('content-encoding', 'identity')}")
        kinds.add(record_type)
    assert {"200-gzip", "redirect", "revisit"} <= kinds
    assert any(k.startswith("404-") for k in kinds)


def test_the_demo_article_is_gzip_encoded_in_both(replayers: Replayers, demo_site: Any) -> None:
    url, timestamp, *_ = next(c for c in replayers.captures if c[0] == demo_site.url + ARTICLE)
    _, headers, body = fetch(replayers.pywb, f"/coll/{timestamp}id_/{url}")
    assert headers["content-encoding"] == "gzip"
    _, our_headers, our_body = fetch(replayers.ours, f"/web/{timestamp}id_/{url}")
    assert our_headers["content-encoding"] == "gzip"
    assert our_body == body
    assert gzip.decompress(our_body) == demo_site.served_bytes(ARTICLE)


# -- /cdx: the same lines as pywb's CDX server over the same WARCs ---------------------------


def cdx_queries(site: str) -> list[dict[str, Any]]:
    """Queries over the demo site's captures; ``site`` is its URL without the scheme."""
    return [
        {"url": f"http://{site}/"},
        {"url": f"{site}/old/harbour-bridge"},  # no scheme
        {"url": f"{site}{ARTICLE}", "output": "json"},
        {"url": f"{site}/*"},
        {"url": f"{site}/*", "output": "json"},
        {"url": f"{site}/assets/", "matchType": "prefix", "output": "json"},
        {"url": f"{site}/x", "matchType": "host", "sort": "reverse", "limit": "5"},
        {"url": f"{site}/*", "filter": "=status:200"},
        {"url": f"{site}/*", "filter": "!=status:200", "output": "json"},
        {"url": f"{site}/*", "filter": "=mime:warc/revisit"},
        {"url": f"{site}/*", "filter": ["!=mime:warc/revisit", "~url:.*\\.(css|png)$"]},
        {"url": f"{site}/*", "filter": "status:30"},
        {"url": f"{site}/*", "filter": "=status:", "output": "json"},
        {"url": f"{site}/*", "fl": "urlkey,timestamp,mime,status", "output": "json"},
        {"url": f"{site}/*", "fl": "timestamp,status,digest", "output": "text"},
        {"url": f"{site}/*", "fl": "url,status"},
        {"url": f"{site}/", "closest": "20300101", "output": "json"},
        {"url": f"{site}/nothing/here"},
    ]


def paged_queries(site: str) -> list[dict[str, Any]]:
    """Queries over the ZipNum collection: the site's range starts its index, where pywb's
    blocks and ours (counted from the range's first line) fall on the same lines."""
    every = {"url": f"{site}/*", "output": "json"}
    return [
        {**every, "showNumPages": "true"},
        {"url": f"{site}/*", "showNumPages": "true", "pageSize": "2"},
        *({**every, "pageSize": "2", "page": str(page)} for page in range(3)),
        {**every, "pageSize": "1", "page": "1", "filter": "=status:200"},
        {**every, "pageSize": "2", "page": "1", "sort": "reverse"},
        {**every, "page": "0"},
    ]


def without_access(line: str) -> str:
    """pywb's line without the ``access`` field its access checker adds to each capture
    (``allow``: the collections have no access rules)."""
    head, brace, rest = line.partition("{")
    if not brace:
        return line
    fields = json.loads(brace + rest)
    assert fields.pop("access", "allow") == "allow", line
    return head + json.dumps(fields)


def pywb_cdx(replayers: Replayers, coll: str, params: dict[str, Any]) -> tuple[int, list[str]]:
    """pywb's answer; ``nosource`` leaves out the source fields its aggregator adds."""
    response = replayers.pywb.get(f"/{coll}/cdx", params={**params, "nosource": "true"})
    if response.status_code != 200:  # an error: {"message": ...}
        return response.status_code, [response.json()["message"]]
    return response.status_code, [without_access(line) for line in response.text.splitlines()]


def our_cdx(replayers: Replayers, params: dict[str, Any]) -> tuple[int, list[str]]:
    response = replayers.ours.get("/cdx", params=params)
    if response.status_code != 200:  # an error: {"error": ..., "field": ...}
        return response.status_code, [response.json()["error"]]
    return response.status_code, response.text.splitlines()


def test_cdx_answers_as_pywbs(replayers: Replayers, demo_site: Any) -> None:
    site = demo_site.url.removeprefix("http://")
    answered = 0
    for params in cdx_queries(site):
        assert our_cdx(replayers, params) == pywb_cdx(replayers, "coll", params), params
        answered += bool(our_cdx(replayers, params)[1])
    assert answered == len(cdx_queries(site)) - 1


def test_cdx_pages_as_pywbs_zipnum(replayers: Replayers, demo_site: Any,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cdx_query, "BLOCK_LINES", ZIP_BLOCK_LINES)
    site = demo_site.url.removeprefix("http://")
    pages = json.loads(our_cdx(replayers, {"url": f"{site}/*", "showNumPages": "true",
                                           "pageSize": "2"})[1][0])["pages"]
    assert pages >= 3
    for params in [*paged_queries(site),  # and the page past the last: the same error
                   {"url": f"{site}/*", "pageSize": "2", "page": str(pages)}]:
        assert our_cdx(replayers, params) == pywb_cdx(replayers, "zip", params), params
    lines = [line for page in range(pages) for line in our_cdx(
        replayers, {"url": f"{site}/*", "pageSize": "2", "page": str(page)})[1]]
    assert lines == our_cdx(replayers, {"url": f"{site}/*"})[1]  # the pages are the whole
