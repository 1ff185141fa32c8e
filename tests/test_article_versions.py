"""Article versions end to end: a local site whose articles change between two real crawls
(CLI subprocesses), the versions recorded at capture time, ``newsarchive versions`` and
``diff``, and re-extraction rebuilding the same versions; SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from alembic import command
from sqlalchemy import func, inspect, select, update

from archive.archiver import Archiver
from archive.catalog import Catalog, alembic_config
from archive.history import list_changes, rebuild_histories, versions_of
from archive.models import Article, Capture, SeenUrl, utcnow
from archive.storage import LocalStorage
from crawler.extraction import EXTRACTOR_VERSION
from scheduler.views import VersionOut
from tests.support.api import api_client
from tests.support.changing_site import PARAGRAPHS, ChangingSite
from tests.support.cli import Archive
from tests.support.databases import temporary_database
from tests.support.warc import ClockedWriter, exchange

CORRECTION = "Correction: An earlier version of this article misstated the cost of the repairs."
ADDED = "The ferry company said it would cut its crossings to two a day from December."
SLUGS = ("headline", "figure", "paragraphs", "correction", "byline", "dates", "furniture",
         "unchanged", "removed", "redirected", "soft404")


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
    site.story(url["removed"]).status = 410
    site.story(url["redirected"]).status = 301  # to the home page
    site.story(url["soft404"]).not_found = True  # the error page, with status 200


def history(archive: Archive, url: str) -> list[dict[str, Any]]:
    with archive.catalog().session() as session:
        return [VersionOut.from_version(v).model_dump() for v in versions_of(session, url)]


def test_versions_name_each_change_and_survive_reextraction(archive_db: Archive,
                                                            site: ChangingSite) -> None:
    url = urls(site)
    first = archive_db.crawl(*url.values(), "--depth", "0", throttled=False)
    assert first["status"] == "succeeded", first
    edit(site)
    second = archive_db.crawl(*url.values(), "--depth", "0", throttled=False)
    assert second["status"] == "succeeded", second

    histories = {slug: history(archive_db, url[slug]) for slug in SLUGS}
    for slug in ("furniture", "unchanged"):
        assert [v["number"] for v in histories[slug]] == [1], slug
    for slug in SLUGS:
        assert histories[slug][0]["changes"] == [], slug
    for slug, status in (("removed", 410), ("redirected", 301), ("soft404", 200)):
        gone = histories[slug][1]
        soft = {"soft_404": True} if status == 200 else {}
        assert gone["changes"] == [{"kind": "unpublished", "status": status, **soft}], slug
        assert (gone["article_id"], gone["title"], gone["capture"]["status"]) \
            == (None, None, status)
        assert gone["significance"] == 1.0 and len(histories[slug]) == 2
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
    printed = archive_db.cli_in_process("versions", url["headline"], "--json").json()
    assert printed == {"url": url["headline"], "versions": histories["headline"]}
    text = archive_db.cli_in_process("diff", url["figure"]).text
    assert "The council said the repairs cost [-40-] {+45+} million dollars." in text

    # Re-extraction rebuilds the versions of what it touches: the same versions, twice.
    for _ in range(2):
        archive_db.cli_in_process("reextract", "--force", "--json")
        assert {slug: history(archive_db, url[slug]) for slug in SLUGS} == histories

    check_api(archive_db, histories)


def check_api(archive: Archive, histories: dict[str, list[dict[str, Any]]]) -> None:
    """The same histories through the HTTP API and the Atom feed (read by feedparser)."""
    database = archive.env["NEWSARCHIVE_DATABASE_URL"]
    with api_client(archive.data_dir, database_url=database) as client:
        article_id = histories["headline"][1]["article_id"]
        answer = client.get(f"/api/v1/articles/{article_id}/versions")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"article_id": article_id,
                                 "versions": json.loads(json.dumps(histories["headline"]))}

        figure = histories["figure"][1]
        diff = client.get(f"/api/v1/versions/{figure['id']}/diff").json()
        assert diff["previous"]["id"] == histories["figure"][0]["id"]
        edited = [part for part in diff["body"] if part["op"] != "equal"]
        assert len(edited) == 1 and edited[0]["op"] == "edited"
        assert ["edited", "The council said the repairs cost 40 million dollars.",
                "The council said the repairs cost 45 million dollars."] in edited[0]["segments"]

        def changed(**params: Any) -> list[int]:
            items, cursor = [], None
            while True:
                page = client.get("/api/v1/changes", params={
                    **params, "limit": 2, **({"cursor": cursor} if cursor else {})})
                assert page.status_code == 200, page.text
                items += [item["id"] for item in page.json()["items"]]
                if not (cursor := page.json()["next_cursor"]):
                    return items

        second = {slug: versions[1]["id"] for slug, versions in histories.items()
                  if len(versions) > 1}
        assert sorted(changed(kind="unpublished")) == sorted([
            second["removed"], second["redirected"], second["soft404"]])
        assert sorted(changed()) == sorted(second.values())  # paged, no repeats
        assert changed(kind="headline") == [second["headline"]]
        assert changed(kind="correction") == [second["correction"]]
        assert sorted(changed(stealth="false")) == sorted([
            second["correction"], second["dates"], second["removed"], second["redirected"],
            second["soft404"]])
        significant = {versions[1]["id"] for versions in histories.values()
                       if len(versions) > 1 and versions[1]["significance"] >= 0.15}
        assert significant and len(significant) < len(second)
        assert set(changed(min_significance=0.15)) == significant
        assert changed(site="no-such-site") == []
        bad = client.get("/api/v1/changes", params={"kind": "weather"})
        assert bad.status_code == 422 and "kind" in bad.json()["error"]
        assert client.get("/api/v1/versions/999999/diff").status_code == 404

        feed_answer = client.get("/feeds/changes.atom", params={"stealth": "true"})
        assert feed_answer.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(feed_answer.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    entries = {entry.id.rsplit("/", 1)[1]: entry for entry in feed.entries}
    assert sorted(map(int, entries)) == sorted([second["headline"], second["figure"],
                                                second["paragraphs"], second["byline"]])
    headline = entries[str(second["headline"])]
    assert headline.title == "Harbour bridge reopens after two years (headline)"
    links = {link.rel: link.href for link in headline.links}
    assert links["related"].endswith(f"/api/v1/versions/{second['headline']}/diff")
    assert "/web/" in links["alternate"] and links["alternate"].endswith(
        "bridge-story-headline.html")


OLD_EXTRACTOR = "newsarchive-extract/0 trafilatura/0.0"


def read_by_an_older_extractor(archive: Archive, url: str) -> None:
    """Make the article at ``url`` look as an older extractor read it: the same page, but
    its second author not found, and its history rebuilt from that reading."""
    with archive.catalog().session() as session:
        articles = list(session.scalars(select(Article).where(Article.url == url)))
        for article in articles:
            article.extractor_version = OLD_EXTRACTOR
            article.authors = article.authors[:1]
        session.flush()
        rebuild_histories(session, {a.url_key for a in articles})


def test_an_extractor_upgrade_is_not_the_outlets_edit(archive_db: Archive,
                                                       site: ChangingSite) -> None:
    """Captures read by a newer extractor than their history's make an ``extractor`` version
    (no named change, not listed, no feed entry, no edit statistics) instead of reporting the
    new reading as the outlet's edit; later captures are compared with that reading, and a
    full re-extraction names what really changed."""
    coauthored = site.add("bridge-story-coauthored", "Harbour bridge reopens")
    site.story(coauthored).authors = ["Ana Lima", "Ben Ortiz"]
    edited = site.add("bridge-story-edited", "Harbour bridge reopens")
    site.story(edited).authors = ["Ana Lima", "Ben Ortiz"]
    assert archive_db.crawl(coauthored, edited, "--depth", "0",
                            throttled=False)["status"] == "succeeded"
    for url in (coauthored, edited):
        read_by_an_older_extractor(archive_db, url)
    # The page changes (an unchanged one is a revisit, read by no extractor): furniture
    # only on one, and on the other an edit, at the very crawl the new extractor reads it.
    site.story(coauthored).furniture = "Updated 40 minutes ago"
    site.story(edited).paragraphs[1] = PARAGRAPHS[1].replace("40 million", "45 million")
    upgraded = archive_db.crawl(coauthored, edited, "--depth", "0", throttled=False)
    assert upgraded["status"] == "succeeded"

    reread = {"kind": "extractor", "before": OLD_EXTRACTOR, "after": EXTRACTOR_VERSION}
    for url in (coauthored, edited):
        versions = history(archive_db, url)
        assert [(v["changes"], v["significance"], v["stealth"]) for v in versions] == [
            ([], 0.0, False), ([reread], 0.0, False)], url
        assert versions[1]["authors"] == ["Ana Lima", "Ben Ortiz"]
    text = archive_db.cli_in_process("diff", coauthored).text
    assert "read by two extractors" in text and "Ben Ortiz" in text
    rereads = sorted(history(archive_db, url)[1]["id"] for url in (coauthored, edited))
    database = archive_db.env["NEWSARCHIVE_DATABASE_URL"]
    with api_client(archive_db.data_dir, database_url=database) as client:
        assert client.get("/api/v1/changes").json()["items"] == []
        listed = client.get("/api/v1/changes", params={"kind": "extractor"}).json()["items"]
        assert sorted(item["id"] for item in listed) == rereads
        feed = feedparser.parse(client.get("/feeds/changes.atom").content)
        assert not feed.bozo and feed.entries == []
        first, second = history(archive_db, edited)
        page = client.get(f"/ui/articles/{second['article_id']}/history",
                          params={"from": first["id"], "to": second["id"]}).text
        assert f"Version 1 was read by {OLD_EXTRACTOR} and version 2 by" in page

    # The next edit is compared with the new extractor's reading: only the edit is named.
    second_edit = "The ferry company said it would cut its crossings to two a day."
    site.story(edited).paragraphs.append(second_edit)
    archive_db.crawl(coauthored, edited, "--depth", "0", throttled=False)
    assert [v["number"] for v in history(archive_db, coauthored)] == [1, 2]
    assert history(archive_db, edited)[2]["changes"] == [
        {"kind": "body_added", "paragraph": 5, "text": second_edit}]

    # Re-extracting the upgraded crawl reads the older captures of its articles too; one
    # that cannot be read keeps the older reading, so its history is left as it was (two
    # extractors' readings are still not compared), and the run says what failed.
    before = {url: history(archive_db, url) for url in (coauthored, edited)}
    first_warc = archive_db.warc_paths()[0]
    hidden = first_warc.rename(first_warc.with_suffix(".hidden"))
    failed = archive_db.cli_in_process("reextract", "--force", "--job",
                                       str(upgraded["job_id"]), "--json", expect=1).json()
    assert (failed["scanned"], failed["unchanged"], len(failed["failed"])) == (4, 2, 2)
    assert all("cannot read the record" in f["error"] for f in failed["failed"])
    assert {url: history(archive_db, url) for url in (coauthored, edited)} == before
    hidden.rename(first_warc)

    # Once it can be read, each history is read by one extractor (the selected captures are
    # current, and skipped; their histories' older captures are read): the co-author was
    # always there (one version), and the edit made at the upgrade is named.
    repaired = archive_db.cli_in_process("reextract", "--job", str(upgraded["job_id"]),
                                         "--json").json()
    assert (repaired["scanned"], repaired["unchanged"], repaired["updated"]) == (4, 2, 2)
    assert [v["changes"] for v in history(archive_db, coauthored)] == [[]]
    assert [[c["kind"] for c in v["changes"]] for v in history(archive_db, edited)] == [
        [], ["body_edited"], ["body_added"]]
    assert history(archive_db, edited)[1]["changes"][0]["after"] == (
        "The council said the repairs cost 45 million dollars.")
    assert [v["id"] for v in history(archive_db, edited)][2] == before[edited][2]["id"]
    with archive_db.catalog().session() as session:
        assert list_changes(session, kind="extractor").items == []
        assert {a.extractor_version for a in session.scalars(select(Article))} == {
            EXTRACTOR_VERSION}


def crawled(archive: Archive) -> str:
    """The status of a crawl of the site ``chronicle`` (unthrottled: a local site)."""
    return str(archive.crawl("--site", "chronicle", throttled=False)["status"])


def test_site_crawls_with_refresh_ages_record_versions(archive: Archive) -> None:
    """The incremental path: a site crawl re-captures an article once its refresh age has
    passed, and the edit becomes version 2; a crawl with nothing due makes none."""
    with ChangingSite() as site:
        url = site.add("council-budget-approved", "Council approves budget")
        archive.cli_in_process("sites", "add", "chronicle", "--start-url", f"{site.url}/",
                               "--refresh", "1h", "--depth", "2")
        assert crawled(archive) == "succeeded"
        site.story(url).paragraphs[0] = PARAGRAPHS[0].replace("Monday", "Tuesday")
        site.story(url).modified = "2026-11-02T21:00:00+00:00"
        with archive.catalog().session() as session:  # an hour and a bit later
            session.execute(update(SeenUrl).values(first_seen_at=utcnow() - timedelta(hours=2)))
        assert crawled(archive) == "succeeded"
        assert crawled(archive) == "succeeded"  # nothing due: the article is not fetched
    with archive.catalog().session() as session:
        assert session.scalar(select(func.count()).where(Capture.url == url)) == 2
    versions = archive.cli_in_process("versions", url, "--json").json()["versions"]
    assert [v["number"] for v in versions] == [1, 2]
    assert [c["kind"] for c in versions[1]["changes"]] == ["modified", "body_edited"]
    assert versions[1]["stealth"] is False  # announced by the new dateModified
    table = archive.cli_in_process("versions", url, env={"COLUMNS": "200"}).text
    assert "modified, body_edited" in table and "first capture" in table
    first, second = (v["timestamp"] for v in versions)
    text = archive.cli_in_process("diff", url, "--from", first, "--to", second).text
    assert PARAGRAPHS[0].replace("Monday", "[-Monday-] {+Tuesday+}") in text
    assert "modified" in text and "+ 2026-11-02T21:00:00+00:00" in text
    early = archive.cli_in_process("diff", url, "--to", "2001", expect=2)
    assert "--to: no version at or before 2001-12-31 23:59:59" in early.stderr
    with api_client(archive.data_dir) as client:
        items = client.get("/api/v1/changes", params={"site": "chronicle"}).json()["items"]
        assert [(i["id"], i["site"]) for i in items] == [(versions[1]["id"], "chronicle")]
        for since, count in ((first, 1), (second, 1), ("2999", 0)):
            page = client.get("/api/v1/changes", params={"since": since}).json()
            assert len(page["items"]) == count, since


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migration_0012_upgrades_and_downgrades(kind: str, tmp_path: Path) -> None:
    with temporary_database(kind, tmp_path) as url:
        engine = Catalog(url).engine
        config = alembic_config(engine)
        command.downgrade(config, "0011")
        assert "article_versions" not in inspect(engine).get_table_names()
        assert "url_key" not in {c["name"] for c in inspect(engine).get_columns("articles")}
        command.upgrade(config, "head")
        assert "article_versions" in inspect(engine).get_table_names()
        engine.dispose()


def test_versions_and_diff_refuse_bad_input(archive: Archive) -> None:
    missing = archive.cli_in_process("versions", "http://127.0.0.1:9/nothing.html", expect=1)
    assert "no versions of http://127.0.0.1:9/nothing.html" in missing.stderr
    bad = archive.cli_in_process("diff", "http://127.0.0.1:9/a.html", "--from", "2026-13",
                                 expect=2)
    assert "--from:" in bad.stderr


@pytest.mark.parametrize("order", ["edit then 410", "410 then back",
                                   "410 then back, same reading", "410 then back, new reading"])
def test_one_flush_records_versions_in_capture_order(tmp_path: Path, order: str) -> None:
    """An edit and a 410 of the same article in one batch of rows: the versions follow the
    captures' order, whichever the archiver buffered first. An article back after a 410 is a
    version even if it says the same, also when a newer extractor read it (which names no
    change of the outlet's when it reads differently)."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    writer = ClockedWriter(tmp_path / "spool", step=timedelta(minutes=1))
    archiver = Archiver(catalog, LocalStorage((tmp_path / "storage").as_uri()), writer)
    url = "https://news.example.org/2026/12/07/harbour-bridge.html"
    first = {"url": url, "title": "Harbour bridge reopens", "authors": ["Ana Lima"],
             "text": "\n".join(PARAGRAPHS)}
    edited = first | {"title": "Harbour bridge reopens after two years"}

    def capture(article: dict[str, Any] | None, extractor: str = "test/1") -> None:
        response = archiver.archive(exchange(url, status=200 if article else 410))
        archiver.annotate(response, {"outlinks": []}, article, extractor_version=extractor)

    capture(first)
    archiver.flush()
    if order == "edit then 410":
        capture(edited)
        capture(None)
    elif order == "410 then back":
        capture(None)
        capture(first)
    else:  # back, read by a newer extractor: the same, or read differently
        capture(None)
        capture(first if order == "410 then back, same reading" else edited, "test/2")
    archiver.flush()
    archiver.close()
    with catalog.session() as session:
        kinds = [[change["kind"] for change in v.changes] for v in versions_of(session, url)]
    catalog.dispose()
    assert kinds == {"edit then 410": [[], ["headline"], ["unpublished"]],
                     "410 then back": [[], ["unpublished"], []],
                     "410 then back, same reading": [[], ["unpublished"], []],
                     "410 then back, new reading": [[], ["unpublished"], ["extractor"]]}[order]


@pytest.mark.parametrize("upgrades", ["one way", "two extractors at once"])
def test_capture_time_and_rebuild_give_the_same_history(tmp_path: Path, upgrades: str) -> None:
    """Random captures of one article (edits, bylines, 410s, extractor upgrades or two
    extractors alternating, flushed at random points) recorded at capture time, then rebuilt
    from the same articles: the same versions, seed after seed."""
    url = "https://news.example.org/2026/12/07/harbour-bridge.html"
    bodies = ["The bridge reopened.", "The bridge reopened on Monday.", "Ferries stop."]
    for seed in range(40):
        rnd = random.Random(seed)
        catalog = Catalog(f"sqlite:///{tmp_path / f'{seed}.sqlite'}")
        writer = ClockedWriter(tmp_path / f"spool{seed}", step=timedelta(minutes=1))
        archiver = Archiver(catalog, LocalStorage((tmp_path / f"storage{seed}").as_uri()),
                            writer)
        level = 1
        for _ in range(rnd.randint(2, 10)):
            if rnd.random() < 0.15:
                archiver.annotate(archiver.archive(exchange(url, status=410)),
                                  {"outlinks": []}, None)
            else:
                level = (min(level + (rnd.random() < 0.3), 3) if upgrades == "one way"
                         else rnd.choice([1, 2]))
                article = {"url": url, "title": rnd.choice(["Bridge", "Bridge reopens"]),
                           "authors": rnd.choice([["Ana Lima"], ["Ana Lima", "Ben Ortiz"]]),
                           "text": rnd.choice(bodies)}
                archiver.annotate(archiver.archive(exchange(url)), {"outlinks": []}, article,
                                  extractor_version=f"test/{level}")
            if rnd.random() < 0.6:
                archiver.flush()
        archiver.close()

        def history() -> list[tuple[Any, ...]]:
            with catalog.session() as session:  # noqa: B023 - used in this iteration only
                return [(v.number, v.capture_id, v.changes, v.significance, v.stealth,
                         v.content_digest) for v in versions_of(session, url)]

        recorded = history()
        with catalog.session() as session:
            rebuild_histories(session, {versions_of(session, url)[0].url_key})
        assert history() == recorded, f"seed {seed}"
        catalog.dispose()

