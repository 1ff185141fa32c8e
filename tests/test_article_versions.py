"""Article versions end to end: a local site whose articles change between two real crawls
(CLI subprocesses), the versions recorded at capture time, ``newsarchive versions`` and
``diff``, and re-extraction rebuilding the same versions; SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive.history import versions_of
from scheduler.views import VersionOut
from tests.support.changing_site import PARAGRAPHS, ChangingSite
from tests.support.cli import Archive

CORRECTION = "Correction: An earlier version of this article misstated the cost of the repairs."
ADDED = "The ferry company said it would cut its crossings to two a day from December."
SLUGS = ("headline", "figure", "paragraphs", "correction", "byline", "dates", "furniture",
         "unchanged")


@pytest.fixture
def archive_db(tmp_path: Path, catalog_url: str) -> Archive:
    return Archive(tmp_path / "data", env={"NEWSARCHIVE_DATABASE_URL": catalog_url})


@pytest.fixture
def site() -> Iterator[ChangingSite]:
    with ChangingSite() as served:
        for slug in SLUGS:
            served.add(f"bridge-story-{slug}", f"Harbour bridge reopens ({slug})")
        yield served


def urls(site: ChangingSite) -> dict[str, str]:
    return {slug: f"{site.url}/news/2026/11/02/bridge-story-{slug}.html" for slug in SLUGS}


def edit(site: ChangingSite) -> None:
    """Each story changes in its own way (furniture only, or not at all, for the last two)."""
    url = urls(site)
    site.story(url["headline"]).title = "Harbour bridge reopens after two years"
    site.story(url["figure"]).paragraphs[1] = PARAGRAPHS[1].replace("40 million", "45 million")
    paragraphs = site.story(url["paragraphs"]).paragraphs
    del paragraphs[2]
    paragraphs.append(ADDED)
    corrected = site.story(url["correction"])
    corrected.paragraphs[1] = PARAGRAPHS[1].replace("40 million", "45 million")
    corrected.paragraphs.append(CORRECTION)
    site.story(url["byline"]).authors = ["Ana Lima", "Ben Ortiz"]
    dated = site.story(url["dates"])
    dated.published, dated.modified = "2026-11-02T08:30:00+00:00", "2026-11-03T10:00:00+00:00"
    site.story(url["furniture"]).furniture = "Updated 47 minutes ago"


def history(archive: Archive, url: str) -> list[dict[str, Any]]:
    with archive.catalog().session() as session:
        return [VersionOut.from_version(v).model_dump() for v in versions_of(session, url)]


def test_versions_name_each_change_and_survive_reextraction(archive_db: Archive,
                                                            site: ChangingSite) -> None:
    url = urls(site)
    first = archive_db.crawl(*url.values(), "--depth", "0")
    assert first["status"] == "succeeded", first
    edit(site)
    second = archive_db.crawl(*url.values(), "--depth", "0")
    assert second["status"] == "succeeded", second

    histories = {slug: history(archive_db, url[slug]) for slug in SLUGS}
    for slug in ("furniture", "unchanged"):
        assert [v["number"] for v in histories[slug]] == [1], slug
    for slug in SLUGS:
        assert histories[slug][0]["changes"] == [], slug
        assert histories[slug][0]["capture"]["url"] == url[slug]
    changes = {slug: histories[slug][1]["changes"] for slug in SLUGS[:6]}
    assert changes["headline"] == [{
        "kind": "headline", "before": "Harbour bridge reopens (headline)",
        "after": "Harbour bridge reopens after two years"}]
    assert changes["figure"] == [{
        "kind": "body_edited", "paragraph": 1,
        "before": "The council said the repairs cost 40 million dollars.",
        "after": "The council said the repairs cost 45 million dollars."}]
    assert changes["paragraphs"] == [
        {"kind": "body_removed", "paragraph": 2, "text": PARAGRAPHS[2]},
        {"kind": "body_added", "paragraph": 4, "text": ADDED}]
    assert [c["kind"] for c in changes["correction"]] == ["body_edited", "correction"]
    assert changes["correction"][1]["text"] == CORRECTION
    assert changes["byline"] == [{"kind": "byline", "before": ["Ana Lima"],
                                  "after": ["Ana Lima", "Ben Ortiz"]}]
    assert changes["dates"] == [
        {"kind": "published", "before": "2026-11-02T09:00:00+00:00",
         "after": "2026-11-02T08:30:00+00:00"},
        {"kind": "modified", "before": None, "after": "2026-11-03T10:00:00+00:00"}]
    stealth = {slug: histories[slug][1]["stealth"] for slug in changes}
    assert stealth == {"headline": True, "figure": True, "paragraphs": True,
                       "correction": False, "byline": True, "dates": False}
    significance = {slug: histories[slug][1]["significance"] for slug in changes}
    assert significance["dates"] == 0
    assert 0 < significance["figure"] < significance["paragraphs"] < 0.5
    assert significance["headline"] > significance["figure"]
    second_version = histories["headline"][1]
    assert second_version["title"] == "Harbour bridge reopens after two years"
    assert second_version["timestamp"] == second_version["capture"]["timestamp"] \
        > histories["headline"][0]["timestamp"]

    # The CLI prints the same history; a furniture-only or unchanged article has one version.
    printed = archive_db.cli("versions", url["headline"], "--json").json()
    assert printed == {"url": url["headline"], "versions": histories["headline"]}
    text = archive_db.cli("diff", url["figure"]).text
    assert "[-The council said the repairs cost 40 million dollars.-]" in text
    assert "{+The council said the repairs cost 45 million dollars.+}" in text

    # Re-extraction rebuilds the versions of what it touches: the same versions, twice.
    for _ in range(2):
        archive_db.cli("reextract", "--force", "--json")
        assert {slug: history(archive_db, url[slug]) for slug in SLUGS} == histories


def test_versions_and_diff_refuse_bad_input(archive: Archive) -> None:
    missing = archive.cli("versions", "http://127.0.0.1:9/nothing.html", expect=1)
    assert "no versions of http://127.0.0.1:9/nothing.html" in missing.stderr
    bad = archive.cli("diff", "http://127.0.0.1:9/a.html", "--from", "2026-13", expect=2)
    assert "--from:" in bad.stderr
