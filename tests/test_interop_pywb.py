"""Interop: pywb indexes our WARCs and replays them with the same bytes we do.

The demo site is crawled into our archive; ``wb-manager init/add`` puts the WARC into a pywb
collection and ``wayback`` serves it. For every capture, ``/coll/{ts}id_/{url}`` from pywb and
``/web/{ts}id_/{url}`` from us must agree on status, payload bytes (gzip-encoded pages
included) and the key headers.

pywb runs from its own virtualenv in ``.cache/pywb-venv`` (created with pip when missing,
reused after; pywb's pins clash with ours). pywb replays from the index its own indexer
built from our WARC (compared with our CDXJ first); our JSON ``metadata`` records carry a
``urn:metadata:`` target URI, so they never shadow the page they describe.
"""

from __future__ import annotations

import gzip
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from fastapi.testclient import TestClient

from archive.models import Capture
from tests.support.api import api_client
from tests.support.cli import Archive
from tests.support.harness import free_port, wait_until
from tests.support.peers import pywb_bin

pytestmark = pytest.mark.slow

ARTICLE = "/world/2026/11/03/harbour-bridge-reopens.html"
PATHS = ["/", ARTICLE, "/culture/2026/11/02/festival-des-lumieres.html", "/assets/style.css",
         "/assets/logo.png", "/missing", "/old/harbour-bridge"]


@dataclass
class Replayers:
    pywb: httpx.Client
    ours: TestClient
    captures: list[tuple[str, str, int]]  # url, timestamp, status
    pywb_index: list[dict[str, Any]]
    our_index: list[dict[str, Any]]


def read_cdxj(path: Path) -> list[dict[str, Any]]:
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        key, timestamp, fields = line.split(" ", 2)
        entries.append({"urlkey": key, "timestamp": timestamp, **json.loads(fields)})
    return entries


@pytest.fixture(scope="module")
def replayers(tmp_path_factory: pytest.TempPathFactory, demo_site: Any) -> Iterator[Replayers]:
    bin_dir = pywb_bin()
    root = tmp_path_factory.mktemp("pywb")
    archive = Archive(root / "data")
    archive.crawl(*(demo_site.url + path for path in PATHS), "--depth", "0")
    [warc] = archive.warc_paths()
    for command in (["wb-manager", "init", "coll"], ["wb-manager", "add", "coll", str(warc)]):
        subprocess.run([str(bin_dir / command[0]), *command[1:]], cwd=root, check=True,
                       capture_output=True, timeout=120)
    index = root / "collections" / "coll" / "indexes" / "index.cdxj"
    pywb_index = read_cdxj(index)
    our_index = root / "data" / "storage" / "indexes" / f"{warc.name}.cdxj"

    port = free_port()
    log = (root / "wayback.log").open("wb")
    proc = subprocess.Popen([str(bin_dir / "wayback"), "-p", str(port), "-b", "127.0.0.1"],
                            cwd=root, stdout=log, stderr=subprocess.STDOUT)
    pywb = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)

    def answers() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"wayback exited {proc.returncode}: "
                                 f"{(root / 'wayback.log').read_text()[-2000:]}")
        try:
            return pywb.get("/").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(answers, 60, message=f"pywb wayback on port {port}")
        with archive.catalog().session() as session:
            captures = [(c.url, c.timestamp, c.status) for c in session.query(Capture)]
        with api_client(root / "data") as ours:
            yield Replayers(pywb, ours, captures, pywb_index, read_cdxj(our_index))
    finally:
        pywb.close()
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def fetch(client: Any, path: str) -> tuple[int, Any, bytes]:
    """Status, headers and body bytes as sent (no Content-Encoding decoding)."""
    with client.stream("GET", path, follow_redirects=False) as response:
        return response.status_code, response.headers, b"".join(response.iter_raw())


def test_pywb_indexes_our_responses_as_our_cdxj_does(replayers: Replayers) -> None:
    fields = ("urlkey", "timestamp", "url", "mime", "status", "digest", "offset", "length",
              "filename")
    theirs = sorted(tuple(e.get(f) for f in fields) for e in replayers.pywb_index
                    if "status" in e)  # response records; metadata records have no status
    ours = sorted(tuple(e.get(f) for f in fields) for e in replayers.our_index)
    assert theirs == ours
    assert len(ours) == len(replayers.captures)


def test_every_capture_replays_identically_in_pywb_and_here(replayers: Replayers,
                                                            demo_site: Any) -> None:
    by_path = {url.removeprefix(demo_site.url): (url, ts, status)
               for url, ts, status in replayers.captures}
    assert set(PATHS) <= set(by_path)
    kinds: set[str] = set()
    for url, timestamp, status in replayers.captures:
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
    assert {"200-gzip", "redirect"} <= kinds and any(k.startswith("404-") for k in kinds)


def test_the_demo_article_is_gzip_encoded_in_both(replayers: Replayers, demo_site: Any) -> None:
    url, timestamp, _ = next(c for c in replayers.captures if c[0] == demo_site.url + ARTICLE)
    _, headers, body = fetch(replayers.pywb, f"/coll/{timestamp}id_/{url}")
    assert headers["content-encoding"] == "gzip"
    _, our_headers, our_body = fetch(replayers.ours, f"/web/{timestamp}id_/{url}")
    assert our_headers["content-encoding"] == "gzip"
    assert our_body == body
    assert gzip.decompress(our_body) == demo_site.served_bytes(ARTICLE)
