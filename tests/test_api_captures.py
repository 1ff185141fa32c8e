"""GET /api/v1/captures in-process: match types, time range, cursor pagination, errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from archive.archiver import Archiver
from archive.catalog import Catalog
from archive.config import ArchiveSettings
from tests.support.api import api_client
from tests.support.captures import query_plan, statements_on_captures
from tests.support.warc import ClockedWriter, exchange

URLS = ["http://example.com/", "http://example.com/news/a", "http://example.com/news/b",
        "http://www.example.com/about", "http://cdn.example.com/x.css", "http://other.org/"]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    config = ArchiveSettings(data_dir=tmp_path / "data")
    catalog = Catalog(config.database_url)
    writer = ClockedWriter(config.spool_dir, at=datetime(2026, 11, 3, 13, 0, tzinfo=UTC),
                           step=timedelta(hours=1))
    archiver = Archiver(catalog, config.open_storage(), writer)
    for url in URLS + URLS[:2]:  # the first two are captured twice
        archiver.archive(exchange(url, b"<html>" + url.encode() + b"</html>",
                                  request_headers=[]))
    archiver.close()
    with api_client(tmp_path / "data") as test_client:
        yield test_client


def urls_of(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["url"] for item in response.json()["items"]]


@pytest.mark.parametrize(("match", "expected"), [
    ("exact", ["http://example.com/news/a"] * 2),
    ("prefix", ["http://example.com/news/a"] * 2 + ["http://example.com/news/b"]),
])
def test_match_types_on_a_path(client, match, expected) -> None:
    url = "http://example.com/news/a" if match == "exact" else "http://example.com/news/"
    assert urls_of(client.get("/api/v1/captures", params={"url": url, "match": match})) \
        == expected


def test_host_and_domain(client) -> None:
    host = set(urls_of(client.get("/api/v1/captures",
                                  params={"url": "example.com", "match": "host"})))
    assert host == {"http://example.com/", "http://example.com/news/a",
                    "http://example.com/news/b", "http://www.example.com/about"}
    domain = set(urls_of(client.get("/api/v1/captures",
                                    params={"url": "example.com", "match": "domain"})))
    assert domain == host | {"http://cdn.example.com/x.css"}


def test_prefix_is_an_index_range_scan(client) -> None:
    engine = client.app.state.service.catalog.engine
    with statements_on_captures(engine) as seen:
        assert len(urls_of(client.get("/api/v1/captures", params={
            "url": "example.com", "match": "domain"}))) == 7
    (statement, parameters), = seen
    plan = query_plan(engine, statement, parameters)
    assert "USING INDEX ix_captures_surt_timestamp (surt>? AND surt<?)" in plan, plan


def test_time_range_and_record_location(client) -> None:
    every = client.get("/api/v1/captures", params={"url": "http://example.com/"}).json()
    first, second = every["items"]
    assert first["timestamp"] < second["timestamp"]
    assert first["warc_file"].endswith(".warc.gz") and first["length"] > 0
    later = client.get("/api/v1/captures", params={"url": "http://example.com/",
                                                   "from": second["timestamp"]}).json()
    assert [i["record_id"] for i in later["items"]] == [second["record_id"]]
    earlier = client.get("/api/v1/captures", params={"url": "http://example.com/",
                                                     "to": first["timestamp"]}).json()
    assert [i["record_id"] for i in earlier["items"]] == [first["record_id"]]


def test_cursor_pages_through_everything_once(client) -> None:
    whole = client.get("/api/v1/captures", params={"url": "example.com", "match": "domain"})
    assert whole.json()["next_cursor"] is None
    seen, sizes, cursor = [], [], None
    while True:
        params = {"url": "example.com", "match": "domain", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/captures", params=params).json()
        seen += [item["record_id"] for item in page["items"]]
        sizes.append(len(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 7
    assert sizes == [2, 2, 2, 1]
    assert seen == [item["record_id"] for item in whole.json()["items"]]  # same stable order


def test_cursor_keeps_the_time_range(client) -> None:
    params = {"url": "http://example.com/news/", "match": "prefix"}
    every = client.get("/api/v1/captures", params=params).json()["items"]
    since = sorted(item["timestamp"] for item in every)[1]
    expected = [item["record_id"] for item in every if item["timestamp"] >= since]
    seen, cursor = [], None
    while True:
        page = client.get("/api/v1/captures", params={
            **params, "from": since, "limit": 1, **({"cursor": cursor} if cursor else {})}).json()
        seen += [item["record_id"] for item in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == expected and len(expected) == 2


def test_bad_parameters_name_the_field(client) -> None:
    response = client.get("/api/v1/captures", params={"url": "x", "match": "fuzzy"})
    assert response.status_code == 422 and "match" in response.json()["error"]
    response = client.get("/api/v1/captures", params={"url": "x", "cursor": "garbage"})
    assert response.status_code == 422 and response.json()["error"].startswith("cursor:")
    response = client.get("/api/v1/captures")
    assert response.status_code == 422 and "url" in response.json()["error"]
