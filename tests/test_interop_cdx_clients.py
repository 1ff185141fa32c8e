"""Interop: real CDX clients page through our /cdx over HTTP.

cdx_toolkit (``CDXFetcher(source=.../cdx)``) reads pywb's paging API: ``iter()`` asks for
page 0, 1, ... until a 400, and ``get_size_estimate()`` reads ``blocks`` of
``showNumPages`` as blocks of 3000 lines. EDGI's ``wayback`` client follows the Internet
Archive's resume keys. Both run against ``newsarchive serve`` over a catalog of 7000
captures (more than two blocks), inserted directly.
"""

from __future__ import annotations

from typing import Any

import cdx_toolkit
import pytest
from cdx_toolkit import myrequests
from wayback import WaybackClient, WaybackSession
from wayback import _client as wayback_client

from archive.catalog import Catalog
from archive.cdx_query import BLOCK_LINES
from archive.config import ArchiveSettings
from tests.support.captures import insert_captures
from tests.support.service import RunningService

pytestmark = pytest.mark.slow

COUNT = 7000
CAPTURES = [(f"http://many.example/{i // 3}", f"2026{1 + i % 12:02d}{1 + i % 28:02d}000000",
             200 if i % 5 else 404, "text/html", f"sha1:{i:032d}", "response", "m.warc.gz",
             i * 100, 100) for i in range(COUNT)]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Any:
    service = RunningService(tmp_path_factory.mktemp("cdx-clients"))
    catalog = Catalog(ArchiveSettings(data_dir=service.data_dir).database_url)
    insert_captures(catalog, CAPTURES)
    catalog.dispose()
    try:
        yield service.start().url
    finally:
        service.close()


@pytest.fixture
def fetcher(base_url: str, monkeypatch: pytest.MonkeyPatch) -> cdx_toolkit.CDXFetcher:
    # cdx_toolkit waits 3 s between requests to a host it does not know: not to this one
    monkeypatch.setitem(myrequests.retry_info, "127.0.0.1",
                        {"next_fetch": 0, "minimum_interval": 0.0})
    return cdx_toolkit.CDXFetcher(source=base_url + "/cdx", wb=base_url + "/web")


@pytest.mark.parametrize("page_size", [None, 1])
def test_cdx_toolkit_iter_lists_every_capture(fetcher, page_size) -> None:
    """One page of 10 blocks, or three pages of one block: every capture, once."""
    params = {} if page_size is None else {"pageSize": page_size}
    seen = [(c["url"], c["timestamp"]) for c in fetcher.iter("many.example/*", **params)]
    assert len(seen) == COUNT
    assert sorted(seen) == sorted((url, ts) for url, ts, *_ in CAPTURES)
    assert [c["status"] for c in fetcher.iter("many.example/*", pageSize=1,
                                              filter="=status:404")].count("404") == COUNT // 5


def test_cdx_toolkit_size_estimate(fetcher) -> None:
    """3 blocks of 3000 lines: cdx_toolkit counts the first and last as partial,
    (3 - 1) x 3000; the true count is within a block of it."""
    estimate = fetcher.get_size_estimate("many.example/*")
    assert estimate == (-(-COUNT // BLOCK_LINES) - 1) * BLOCK_LINES == 6000
    assert estimate <= COUNT < estimate + BLOCK_LINES
    assert fetcher.get_size_estimate("many.example/*", as_pages=True) == 3  # its "pages"
    assert fetcher.get_size_estimate("nothing.example/*") == 0


def test_wayback_search_follows_resume_keys(base_url, monkeypatch) -> None:
    """The client asks for the Internet Archive's 7 text fields (our default is CDXJ, as
    pywb's) and follows resume keys 3000 lines at a time."""
    monkeypatch.setattr(wayback_client, "CDX_SEARCH_URL", base_url + "/cdx?output=text&fl="
                        "urlkey,timestamp,url,mime,status,digest,length")
    with WaybackClient(WaybackSession(search_calls_per_second=0)) as client:
        records = list(client.search("many.example/*", limit=3000,
                                     resolve_revisits=None))  # pywb's resolveRevisits: no
    assert len(records) == COUNT
    assert sorted((r.original, r.timestamp.strftime("%Y%m%d%H%M%S")) for r in records) \
        == sorted((url, ts) for url, ts, *_ in CAPTURES)
    assert {r.statuscode for r in records} == {200, 404}
