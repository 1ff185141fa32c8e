"""Memento (RFC 7089) in-process: the TimeGate /web/{url} with Accept-Datetime, TimeMaps in
link format (parsed) and JSON, and their errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.support.api import api_client
from tests.support.replay_archive import SITE, STORY, T1, T2, T3, build_archive, parse_links

BASE = "http://testserver"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data_dir = tmp_path_factory.mktemp("memento") / "data"
    build_archive(data_dir)
    with api_client(data_dir) as test_client:
        yield test_client


def get(client: TestClient, path: str, **headers: str):  # type: ignore[no-untyped-def]
    return client.get(path, headers=headers, follow_redirects=False)


@pytest.mark.parametrize(("accept", "expected"), [
    ("Tue, 03 Nov 2026 10:30:00 GMT", T1),
    ("Tue, 03 Nov 2026 11:30:00 GMT", T2),
    ("Tue, 03 Nov 2026 13:30:00 +0200", T2),  # 11:30 UTC
    ("Thu, 01 Jan 2026 00:00:00 GMT", T1),
    ("Fri, 01 Jan 2027 00:00:00 GMT", T3),
    (None, T3),  # no Accept-Datetime: the latest
])
def test_timegate_redirects_to_the_closest_memento(client: TestClient, accept: str | None,
                                                   expected: str) -> None:
    response = get(client, f"/web/{STORY}",
                   **({"Accept-Datetime": accept} if accept else {}))
    assert response.status_code == 302
    assert response.headers["location"] == f"{BASE}/web/{expected}/{STORY}"
    assert response.headers["vary"] == "accept-datetime"
    parsed = parse_links(response.headers["link"])
    mementos = {target: params for target, params in parsed if "memento" in params["rel"]}
    assert mementos[f"{BASE}/web/{expected}/{STORY}"]["datetime"].endswith("GMT")
    links = {rel: (target, params) for target, params in parsed
             for rel in params["rel"].split() if rel != "memento"}  # one link per memento
    assert links["original"][0] == STORY
    assert links["timemap"][0] == f"{BASE}/timemap/link/{STORY}"
    # and the neighbours, as the Wayback Machine's TimeGate names them
    assert links["first"][0] == f"{BASE}/web/{T1}/{STORY}"
    assert links["last"][0] == f"{BASE}/web/{T3}/{STORY}"
    order = [T1, T2, T3]
    here = order.index(expected)
    assert ("prev" in links) == (here > 0) and ("next" in links) == (here < 2)
    if here > 0:
        assert links["prev"][0] == f"{BASE}/web/{order[here - 1]}/{STORY}"
    if here < 2:
        assert links["next"][0] == f"{BASE}/web/{order[here + 1]}/{STORY}"


def test_timegate_accepts_urls_without_scheme_and_escaped(client: TestClient) -> None:
    bare = STORY.removeprefix("http://")
    assert get(client, f"/web/{bare}").headers["location"] == f"{BASE}/web/{T3}/{STORY}"
    escaped = "http%3A%2F%2Fnews.example.org%2Fstory%3Fid%3D7"
    assert get(client, f"/web/{escaped}").headers["location"] == f"{BASE}/web/{T3}/{STORY}"


def test_timegate_errors(client: TestClient) -> None:
    bad = get(client, f"/web/{STORY}", **{"Accept-Datetime": "last tuesday"})
    assert bad.status_code == 400
    assert bad.json()["error"].startswith("Accept-Datetime 'last tuesday' is not an RFC 1123")
    unknown = get(client, f"/web/{SITE}/never")
    assert unknown.status_code == 404 and "no capture of" in unknown.json()["error"]


def test_timemap_link_format(client: TestClient) -> None:
    response = get(client, f"/timemap/link/{STORY}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/link-format"
    links = parse_links(response.text)
    assert links[0] == (STORY, {"rel": "original"})
    assert links[1] == (f"{BASE}/timemap/link/{STORY}", {
        "rel": "self", "type": "application/link-format",
        "from": "Tue, 03 Nov 2026 10:00:00 GMT", "until": "Thu, 05 Nov 2026 12:00:00 GMT"})
    assert links[2] == (f"{BASE}/web/{STORY}", {"rel": "timegate"})
    assert links[3:] == [
        (f"{BASE}/web/{T1}/{STORY}", {"rel": "first memento",
                                      "datetime": "Tue, 03 Nov 2026 10:00:00 GMT"}),
        (f"{BASE}/web/{T2}/{STORY}", {"rel": "memento",
                                      "datetime": "Tue, 03 Nov 2026 12:00:00 GMT"}),
        (f"{BASE}/web/{T3}/{STORY}", {"rel": "last memento",
                                      "datetime": "Thu, 05 Nov 2026 12:00:00 GMT"}),
    ]
    # every memento it lists replays
    for target, _ in links[3:]:
        assert get(client, target.removeprefix(BASE)).status_code == 200


def test_timemap_of_a_single_capture_is_first_and_last(client: TestClient) -> None:
    links = parse_links(get(client, f"/timemap/link/{SITE}/latin").text)
    assert [p["rel"] for _, p in links[3:]] == ["first last memento"]


def test_timemap_json(client: TestClient) -> None:
    data = get(client, f"/timemap/json/{STORY}").json()
    assert data["original_uri"] == STORY
    assert data["timegate_uri"] == f"{BASE}/web/{STORY}"
    assert data["timemap_uri"] == {"link_format": f"{BASE}/timemap/link/{STORY}",
                                   "json_format": f"{BASE}/timemap/json/{STORY}"}
    listed = data["mementos"]["list"]
    assert [m["timestamp"] for m in listed] == [T1, T2, T3]
    assert listed[0]["datetime"] == "2026-11-03T10:00:00Z"
    assert listed[1]["uri"] == f"{BASE}/web/{T2}/{STORY}"
    assert data["mementos"]["first"] == listed[0] and data["mementos"]["last"] == listed[-1]


@pytest.mark.parametrize("kind", ["link", "json"])
def test_timemap_of_an_unknown_url_is_404(client: TestClient, kind: str) -> None:
    response = get(client, f"/timemap/{kind}/{SITE}/never")
    assert response.status_code == 404
    assert response.json()["error"] == (
        f"no capture of {SITE}/never in the archive; nothing to list")


def test_memento_headers_point_at_each_other(client: TestClient) -> None:
    """Link of a memento → its TimeMap lists it; its TimeGate redirects to a listed one."""
    memento = get(client, f"/web/{T2}/{STORY}")
    links = {p["rel"]: t for t, p in parse_links(memento.headers["link"])}
    timemap = get(client, links["timemap"].removeprefix(BASE)).text
    assert f"<{links['memento']}>" in timemap
    gate = get(client, links["timegate"].removeprefix(BASE),
               **{"Accept-Datetime": memento.headers["memento-datetime"]})
    assert gate.headers["location"] == links["memento"]
