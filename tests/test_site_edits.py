"""Per-site edit statistics and learned refresh ages end to end: a local site whose articles
change between real crawls (CLI subprocesses), ``GET /api/v1/sites/{name}/edits`` and the
site page reporting the edits, and a site with ``refresh = ["auto", …]`` crawled with the
ages learned from them; SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from archive.models import Capture, SeenUrl
from tests.support.api import api_client
from tests.support.changing_site import PARAGRAPHS, ChangingSite
from tests.support.cli import Archive

LEARNING = {"NEWSARCHIVE_REFRESH_LEARN_MIN_EDITS": "2",
            "NEWSARCHIVE_REFRESH_EXPLORE_SHARE": "0"}


def earlier(archive: Archive, delta: timedelta) -> None:
    """Move everything archived so far ``delta`` into the past: captures and the times the
    site's articles were first seen (the refresh clock)."""
    with archive.catalog().session() as session:
        for capture_id, timestamp in session.execute(select(Capture.id, Capture.timestamp)):
            moved = datetime.strptime(timestamp, "%Y%m%d%H%M%S") - delta
            session.execute(update(Capture).where(Capture.id == capture_id)
                            .values(timestamp=moved.strftime("%Y%m%d%H%M%S")))
        for seen_id, first_seen in session.execute(select(SeenUrl.id, SeenUrl.first_seen_at)):
            session.execute(update(SeenUrl).where(SeenUrl.id == seen_id)
                            .values(first_seen_at=first_seen - delta))


def captures_of(archive: Archive, url: str) -> int:
    with archive.catalog().session() as session:
        return session.scalar(select(func.count()).where(Capture.url == url)) or 0


def crawled(archive: Archive, env: dict[str, str] | None = None) -> str:
    """The status of a crawl of the site ``chronicle`` (unthrottled: a local site)."""
    return str(archive.crawl("--site", "chronicle", env=env, throttled=False)["status"])


def test_edits_are_reported_and_learned_ages_used(catalog_url: str, tmp_path: Path) -> None:
    archive = Archive(tmp_path / "data", env={"NEWSARCHIVE_DATABASE_URL": catalog_url,
                                              **LEARNING})
    with ChangingSite() as site:
        urls = {slug: site.add(f"harbour-{slug}", f"Harbour story ({slug})")
                for slug in ("headline", "figure", "removed", "unchanged")}
        archive.cli_in_process("sites", "add", "chronicle", "--start-url", f"{site.url}/",
                               "--depth", "2", "--refresh", "auto", "--refresh", "1h",
                               "--refresh", "1d")
        assert crawled(archive) == "succeeded"
        site.story(urls["headline"]).title = "Harbour bridge reopens after two years"
        site.story(urls["figure"]).paragraphs[1] = PARAGRAPHS[1].replace("40", "45")
        site.story(urls["removed"]).status = 410
        earlier(archive, timedelta(hours=2))  # the 1h refresh age has passed
        fresh = site.add("ferry-timetable", "Ferry timetable changes")  # new: no edit yet
        assert crawled(archive) == "succeeded"

        with api_client(archive.data_dir, database_url=catalog_url,
                        refresh_learn_min_edits=2, refresh_explore_share=0) as client:
            stats = client.get("/api/v1/sites/chronicle/edits").json()
            page = client.get("/ui/sites/chronicle").text
            assert client.get("/api/v1/sites/nowhere/edits").status_code == 404
        assert (stats["site"], stats["articles"], stats["edited_articles"], stats["edits"],
                stats["unpublished"]) == ("chronicle", 5, 2, 2, 1)
        assert stats["edited_share"] == 0.4 and stats["edits_per_edited_article"] == 1.0
        assert {k["kind"] for k in stats["kinds"]} >= {"headline", "body_edited"}
        # caught at 2 hours, after the first capture: known to be in (0, 2h] only
        assert [(b["label"], b["edits"], b["within"]) for b in stats["histogram"]
                if b["edits"]] == [("1-3h", 2, 0)]
        # two edits caught at 2 hours, one refetch at 2 hours would have caught both
        assert stats["refresh"] | {"reason": None} == {
            "configured": ["1h", "1d"], "learn": True, "learned": True, "ages": ["2h"],
            "suggested": ["2h"], "reason": None, "caught": 2, "caught_by_configured": 2,
            "explore_share": 0.0}
        assert stats["refresh"]["reason"] == ("learned from 2 edits: 1 of 2 refetches would "
                                              "record 2 as versions")
        assert '<dd class="articles">5</dd>' in page
        assert '<th scope="row">1-3h</th><td class="num">2</td>' in page
        assert '<meter min="0" max="2" value="2">' in page
        assert '<dd class="refresh-ages">2h (learned)</dd>' in page and "auto, 1h, 1d" in page

        # The new story, 90 minutes old: past the configured 1h, not the learned 2h.
        earlier(archive, timedelta(minutes=90))
        assert crawled(archive) == "succeeded"
        assert captures_of(archive, fresh) == 1
        # the explored share keeps the configured ages: with all of it, the 1h age is due
        explore_all = {"NEWSARCHIVE_REFRESH_EXPLORE_SHARE": "1"}
        assert crawled(archive, explore_all) == "succeeded"
        assert captures_of(archive, fresh) == 2


def test_site_edits_of_a_site_without_learning(archive: Archive) -> None:
    """A site that does not learn: its configured ages are used, and the statistics still
    say what learning would suggest; no history yet is said plainly."""
    archive.cli_in_process("sites", "add", "quiet", "--start-url", "http://127.0.0.1:9/",
                           "--refresh", "1h", "--refresh", "1d")
    archive.cli_in_process("sites", "add", "never", "--start-url", "http://127.0.0.1:9/")
    with api_client(archive.data_dir) as client:
        quiet = client.get("/api/v1/sites/quiet/edits").json()
        never = client.get("/api/v1/sites/never/edits").json()
        page = client.get("/ui/sites/quiet").text
    assert (quiet["articles"], quiet["edits"], quiet["edited_share"]) == (0, 0, None)
    assert quiet["refresh"] == {
        "configured": ["1h", "1d"], "learn": False, "learned": False, "ages": ["1h", "1d"],
        "suggested": ["1h", "1d"], "reason": "0 edits observed, fewer than 30: the "
        "configured ages", "caught": 0, "caught_by_configured": 0, "explore_share": None}
    assert never["refresh"]["ages"] == [] and never["refresh"]["suggested"] is None
    assert "No article of this site has a history yet" in page
    assert '<dd class="refresh-ages">1h, 1d</dd>' in page


def test_auto_refresh_without_ages_is_refused(archive: Archive) -> None:
    result = archive.cli_in_process("sites", "add", "chronicle", "--start-url",
                                    "http://127.0.0.1:9/", "--refresh", "auto", expect=2)
    assert 'error: refresh: "auto" needs the ages to start from' in result.stderr
    with api_client(archive.data_dir, allowed_networks="127.0.0.0/8") as client:
        answer = client.post("/api/v1/sites", json={
            "name": "chronicle", "start_urls": ["http://127.0.0.1:9/"],
            "refresh": ["auto", "auto", "1h"]})
        assert answer.status_code == 422
        assert answer.json()["fields"] == [{"field": "refresh",
                                            "message": '"auto" may appear once'}]
        created = client.post("/api/v1/sites", json={
            "name": "chronicle", "start_urls": ["http://127.0.0.1:9/"],
            "refresh": ["auto", "6h"]})
        assert created.status_code == 201 and created.json()["refresh"] == ["auto", "6h"]
        edits = client.get("/api/v1/sites/chronicle/edits").json()
        assert edits["refresh"]["learn"] is True and edits["refresh"]["ages"] == ["6h"]
