"""The web UI: every page in-process over a catalog holding the crawled demo site, and in
headless Chromium against a real ``newsarchive serve`` (no console errors, live progress)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from archive.models import Article, Capture, CrawlJob, JobStatus, Site, WarcFile
from scheduler.demo.server import FRENCH_ARTICLE, TWO_AUTHOR_ARTICLE, DemoSite
from scheduler.web.ui import pages
from scheduler.web.ui.templating import web_link, when
from tests.support.api import api_client
from tests.support.browser import chromium_page
from tests.support.cli import Archive
from tests.support.service import RunningService

ARTICLE = "/world/2026/11/03/harbour-bridge-reopens.html"
TITLE = "Harbour Bridge reopens to traffic after eighteen-month restoration"
HOSTILE = '<script>alert("owned")</script> & <b>bold</b>'
ESCAPED = "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"


class Crawled:
    """A data directory with the demo site crawled twice: as site ``gazette`` and by URL."""

    def __init__(self, archive: Archive, demo_site: DemoSite) -> None:
        self.archive = archive
        self.demo = demo_site
        archive.cli("sites", "add", "gazette", "--start-url", demo_site.url + "/",
                    "--every", "1h", "--depth", "1", "--max-pages", "40",
                    "--concurrency-per-domain", "4", "--no-autothrottle",
                    "--hub-refresh-max", "6h")
        self.site_job = archive.crawl("--site", "gazette")["job_id"]
        self.url_job = archive.crawl(demo_site.url + ARTICLE, "--depth", "0")["job_id"]
        self.catalog = archive.catalog()
        with self.catalog.session() as session:
            hostile = session.scalar(select(Article).where(
                Article.url == demo_site.url + TWO_AUTHOR_ARTICLE))
            assert hostile is not None, "the site crawl should reach every front-page article"
            hostile.title = HOSTILE
            self.hostile_id = hostile.id

    def session(self) -> Any:
        return self.catalog.session()


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory, demo_site: DemoSite
            ) -> Iterator[Crawled]:
    data = Crawled(Archive(tmp_path_factory.mktemp("ui") / "data"), demo_site)
    yield data
    data.catalog.dispose()


@pytest.fixture(scope="module")
def client(crawled: Crawled) -> Iterator[TestClient]:
    with api_client(crawled.archive.data_dir) as test_client:
        yield test_client


def page(client: TestClient, path: str, status: int = 200, **params: Any) -> str:
    response = client.get(path, params=params or None)  # {} would drop a query in path
    assert response.status_code == status, response.text[-2000:]
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    return response.text


def links(text: str) -> list[str]:
    return [html.unescape(href) for href in re.findall(r'href="([^"]*)"', text)]


# -- dashboard ------------------------------------------------------------------------------


def test_dashboard_shows_sites_schedules_jobs_and_articles(client: TestClient,
                                                           crawled: Crawled) -> None:
    text = page(client, "/")
    scheduled = client.app.state.service.scheduler.get_job("site:gazette")
    assert scheduled is not None
    row = re.search(r'<a href="/ui/sites/gazette">gazette</a>.*?</tr>', text, re.S)
    assert row, text
    assert "every 1 h" in row[0]
    assert when(scheduled.next_run_time) in row[0]  # next run: from the scheduler
    assert f'href="/ui/jobs/{crawled.site_job}"' in row[0] and "succeeded" in row[0]

    with crawled.session() as session:
        jobs = {j.id: j for j in session.scalars(select(CrawlJob))}
    for job_id in (crawled.site_job, crawled.url_job):
        job_row = re.search(rf'<tr data-job-id="{job_id}" data-status="succeeded">.*?</tr>',
                            text, re.S)
        assert job_row, f"job {job_id} not listed"
        assert f'data-field="pages">{jobs[job_id].stats["pages"]}<' in job_row[0]
    assert TITLE in text and "/ui/articles/" in text
    assert '<label for="search-heading-q">Words</label>' in text
    assert "No crawls yet" not in text


def test_dashboard_empty_states(tmp_path: Path) -> None:
    with api_client(tmp_path / "data") as empty:
        text = page(empty, "/")
    assert "No crawls yet \N{EN DASH} run <code>newsarchive crawl URL</code>" in text
    assert "No sites yet" in text and "No articles yet" in text


# -- sites and jobs -------------------------------------------------------------------------


def test_site_page_shows_settings_schedule_and_jobs(client: TestClient,
                                                    crawled: Crawled) -> None:
    text = page(client, "/ui/sites/gazette")
    assert "<h1>Site gazette</h1>" in text
    assert f'<li class="url">{crawled.demo.url}/</li>' in text
    assert "1 link hops" in text and "40 pages per crawl" in text
    assert "<dd>4 requests per domain</dd>" in text and "<dt>AutoThrottle</dt><dd>off</dd>" in text
    assert "<dt>Download delay</dt><dd>the crawl's</dd>" in text
    assert "<dd>the crawl's shortest to 6h</dd>" in text
    assert '<dd class="schedule">every 1 h</dd>' in text
    next_run = client.app.state.service.scheduler.get_job("site:gazette").next_run_time
    assert when(next_run) in text
    assert f'href="/ui/jobs/{crawled.site_job}"' in text
    assert f'href="/ui/jobs/{crawled.url_job}"' not in text  # not this site's job


def test_job_page_shows_progress_warcs_and_captures(client: TestClient,
                                                    crawled: Crawled) -> None:
    shown = pages.JOB_CAPTURES
    text = page(client, f"/ui/jobs/{crawled.site_job}")
    with crawled.session() as session:
        job = session.get(CrawlJob, crawled.site_job)
        warcs = list(session.scalars(select(WarcFile).where(WarcFile.job_id == job.id)))
        captures = session.execute(select(Capture, Article.id).outerjoin(Article)
                                   .where(Capture.job_id == job.id)).all()
    assert re.search(rf'data-job-id="{job.id}"\s+data-status="succeeded"', text)
    assert f'<dd data-field="pages">{job.stats["pages"]}</dd>' in text
    assert "site <a href=\"/ui/sites/gazette\">gazette</a>" in text
    assert warcs and 0 < len(captures) <= shown
    for warc in warcs:
        assert warc.filename in text and warc.sha256 in text
    hrefs = links(text)
    for capture, article_id in captures:
        assert f"/web/{capture.timestamp}/{capture.url}" in hrefs
        assert f"/web/{capture.timestamp}id_/{capture.url}" in hrefs
        if article_id:
            assert f"/ui/articles/{article_id}" in hrefs
            assert f"/ui/articles/{article_id}/history" in hrefs
    assert sum(1 for _, a in captures if a) == job.stats["articles"] > 0


def test_job_page_marks_revisits(client: TestClient, crawled: Crawled) -> None:
    with crawled.session() as session:
        kinds = set(session.scalars(select(Capture.record_type)
                                    .where(Capture.job_id == crawled.url_job)))
    text = page(client, f"/ui/jobs/{crawled.url_job}")
    assert f"{crawled.demo.url}{ARTICLE}" in text
    for kind in kinds - {"response"}:  # an unchanged page re-crawled is a revisit record
        assert f"({kind})" in text


def test_job_captures_are_paged(client: TestClient, crawled: Crawled,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "JOB_CAPTURES", 4)
    with crawled.session() as session:
        expected = [f"/web/{c.timestamp}id_/{c.url}" for c in session.scalars(
            select(Capture).where(Capture.job_id == crawled.site_job))]
    assert len(expected) > 4
    seen: list[str] = []
    path = f"/ui/jobs/{crawled.site_job}"
    while path:
        text = page(client, path)
        raw = [h for h in links(text) if re.match(r"^/web/\d{14}id_/", h)]
        seen += raw
        more = re.search(r'<a rel="next" href="([^"]+)"', text)
        path = html.unescape(more[1]) if more else ""
    assert sorted(seen) == sorted(expected)  # every capture once, four to a page


def test_running_job_is_marked_for_live_progress(client: TestClient, crawled: Crawled) -> None:
    with crawled.session() as session:
        job = CrawlJob(status=JobStatus.RUNNING, trigger="api", spec={"urls": ["http://x.test/"]},
                       stats={"pages": 7, "bytes": 123_456, "articles": 2, "errors": 1},
                       worker="elsewhere:1")
        session.add(job)
        session.flush()
        job_id = job.id
    try:
        text = page(client, f"/ui/jobs/{job_id}")
        assert re.search(rf'data-job-id="{job_id}"\s+data-status="running"\s+'
                         r"data-reload-when-done", text)
        assert '<dd data-field="bytes">123.5 kB</dd>' in text
        assert '<span class="status status-running" data-field="status">running</span>' in text
        assert f'<tr data-job-id="{job_id}" data-status="running">' in page(client, "/")
        assert '<script src="/ui/static/progress.js" defer></script>' in text
    finally:
        with crawled.session() as session:
            session.execute(update(CrawlJob).where(CrawlJob.id == job_id)
                            .values(status=JobStatus.FAILED))


def test_unknown_site_job_and_article_are_html_404s(client: TestClient) -> None:
    assert "There is no site named “nope”." in page(client, "/ui/sites/nope", 404)
    assert "There is no crawl job 99999." in page(client, "/ui/jobs/99999", 404)
    assert "There is no article 99999." in page(client, "/ui/articles/99999", 404)
    hostile = page(client, "/ui/sites/<img src=x>", 404)
    assert "&lt;img src=x&gt;" in hostile and "<img src=x>" not in hostile
    bad = client.get("/ui/jobs/latest")
    assert bad.status_code == 422 and "job_id" in bad.json()["error"]


# -- articles, search, captures -------------------------------------------------------------


def test_article_page_shows_metadata_text_and_archive_links(client: TestClient,
                                                            crawled: Crawled) -> None:
    with crawled.session() as session:
        article, capture, warc = session.execute(
            select(Article, Capture, WarcFile).join(Capture, Article.capture_id == Capture.id)
            .join(WarcFile).where(Article.url == crawled.demo.url + ARTICLE)).one()
    text = page(client, f"/ui/articles/{article.id}")
    assert f"<h1>{html.escape(article.title)}</h1>" in text
    assert article.title == TITLE
    assert html.escape(", ".join(article.authors)) in text and article.authors
    assert article.published and article.published in text
    assert f"<dd>{article.language}</dd>" in text
    assert "The first vehicle across, a municipal bus" in text
    assert f"{warc.filename}</span> at offset {capture.offset}, {capture.length} bytes" in text
    hrefs = links(text)
    assert f"/web/{capture.timestamp}/{capture.url}" in hrefs
    assert f"/web/{capture.timestamp}id_/{capture.url}" in hrefs
    assert f"/ui/captures?url={capture.url.replace(':', '%3A').replace('/', '%2F')}" in hrefs


def test_hostile_title_is_escaped_everywhere(client: TestClient, crawled: Crawled) -> None:
    for path, params in ((f"/ui/articles/{crawled.hostile_id}", {}), ("/", {}),
                         ("/ui/search", {"q": "port authority"})):
        text = page(client, path, **params)
        assert '<script>alert("owned")' not in text and "<b>bold</b>" not in text, path
        assert ESCAPED in text, path


def test_search_finds_filters_and_reports_bad_input(client: TestClient,
                                                    crawled: Crawled) -> None:
    text = page(client, "/ui/search", q="bridge restoration")
    assert TITLE in text
    french = page(client, "/ui/search", lang="fr")
    with crawled.session() as session:
        french_title = session.scalar(select(Article.title).where(
            Article.url == crawled.demo.url + FRENCH_ARTICLE))
        french_count = session.scalar(select(func.count(Article.id))
                                      .where(Article.language == "fr"))
    assert french_count >= 1 and html.escape(french_title) in french
    assert TITLE not in french
    on_site = page(client, "/ui/search", q="bridge", site="gazette")
    assert TITLE in on_site and '<option value="gazette" selected>' in on_site
    none = page(client, "/ui/search", q="zeppelinxq")
    assert "No articles match “zeppelinxq”." in none
    too_many = page(client, "/ui/search", 422, q="word " * 40)
    assert "q: 40 terms is more than the 32 allowed" in too_many
    assert "repeat the search without cursor" in page(client, "/ui/search", 422, q="bridge",
                                                      cursor="garbage")
    blank = page(client, "/ui/search")
    assert "Results" not in blank and '<label for="search-heading-q">' in blank


def test_search_pages_through_results(client: TestClient, crawled: Crawled,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "SEARCH_RESULTS", 2)
    with crawled.session() as session:
        total = session.scalar(select(func.count(Article.id))
                               .where(Article.language == "en"))
    titles: list[str] = []
    params: dict[str, str] = {"lang": "en"}
    while True:
        text = page(client, "/ui/search", **params)
        titles += re.findall(r'<h3><a href="/ui/articles/(\d+)">', text)
        more = re.search(r'<a rel="next" href="/ui/search\?([^"]+)"', text)
        if not more:
            break
        params = dict(parse_qsl(html.unescape(more[1])))
    assert len(titles) == len(set(titles)) == total


def test_capture_timeline_lists_every_capture_of_a_url(client: TestClient,
                                                       crawled: Crawled) -> None:
    url = crawled.demo.url + ARTICLE
    with crawled.session() as session:
        captures = list(session.scalars(select(Capture).where(Capture.url == url)
                                        .order_by(Capture.timestamp)))
    assert len(captures) >= 2  # by the site crawl and by the URL crawl
    text = page(client, "/ui/captures", url=url)
    year = captures[0].timestamp[:4]
    assert f"<h2 id=\"year-heading\">{year}: {len(captures)} captures</h2>" in text
    month = f"{year}-{captures[0].timestamp[4:6]}"
    assert f"<h3>{month} <span class=\"count\">" in text
    day = f"{month}-{captures[0].timestamp[6:8]}"
    assert f"<dt>{day}</dt>" in text
    hrefs = links(text)
    for capture in captures:
        assert f"/web/{capture.timestamp}/{url}" in hrefs
        assert f"/web/{capture.timestamp}id_/{url}" in hrefs


def test_capture_timeline_empty_and_bad_input(client: TestClient) -> None:
    assert "Enter a URL" in page(client, "/ui/captures")
    missing = page(client, "/ui/captures", url="https://never.example/story")
    assert "No captures of" in missing
    assert "<code>newsarchive crawl https://never.example/story</code>" in missing
    long = page(client, "/ui/captures", 422, url="https://x.example/" + "a" * 2100)
    assert "2118 characters long; at most 2048" in long
    assert "year must be four digits" in page(client, "/ui/captures", 422,
                                               url="https://x.example/", year="20x6")


def test_replay_links_escape_only_what_would_break_the_path() -> None:
    assert web_link("https://example.org/a b?q=1&x=é#top", "20261103140000", "id_") == \
        "/web/20261103140000id_/https://example.org/a%20b?q=1&x=%C3%A9%23top"
    assert web_link("http://example.org/%7Euser/", "2026") == "/web/2026/http://example.org/%7Euser/"


def test_static_files_are_served(client: TestClient) -> None:
    css = client.get("/ui/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    js = client.get("/ui/static/progress.js")
    assert js.status_code == 200 and "/api/v1/crawls/" in js.text


def test_pages_on_postgresql(postgres_databases: Any, tmp_path: Path) -> None:
    """The UI's queries (grouping by year, joins, keyset paging) on a PostgreSQL catalog."""
    with api_client(tmp_path / "data", database_url=postgres_databases()) as pg:
        with pg.app.state.service.catalog.session() as session:
            site = Site(name="pg-site", start_urls=["https://example.org/"],
                        schedule={"cron": "*/30 * * * *"})
            session.add(site)
            session.flush()
            job = CrawlJob(site_id=site.id, status=JobStatus.SUCCEEDED, trigger="schedule",
                           spec={"site": "pg-site", "urls": ["https://example.org/"]},
                           stats={"pages": 3, "bytes": 2048, "articles": 1, "errors": 0})
            session.add(job)
            session.flush()
            warc = WarcFile(job_id=job.id, filename="pg.warc.gz", state="uploaded", size=2048)
            session.add(warc)
            session.flush()
            url = "https://example.org/news/story"
            captures = [Capture(job_id=job.id, warc_file_id=warc.id, url=url,
                                surt="org,example)/news/story", timestamp=ts, status=200,
                                mime="text/html", record_id=f"<urn:uuid:{n}>", offset=n * 100,
                                length=100)
                        for n, ts in enumerate(("20251231235959", "20260101000001",
                                                "20260102120000"))]
            session.add_all(captures)
            session.flush()
            article = Article(capture_id=captures[-1].id, url=url, title=HOSTILE,
                              language="en", text="Tide tables\nFerry timetable",
                              extractor_version="test")
            session.add(article)
            session.flush()
            ids = {"job": job.id, "article": article.id}
        dashboard = page(pg, "/")
        assert "cron */30 * * * *" in dashboard and 'href="/ui/sites/pg-site"' in dashboard
        assert ESCAPED in dashboard and HOSTILE not in dashboard
        timeline = page(pg, "/ui/captures", url=url)
        assert '<h2 id="year-heading">2026: 2 captures</h2>' in timeline
        assert "2025</a>" in timeline and "<dt>2026-01-02</dt>" in timeline
        older = page(pg, "/ui/captures", url=url, year="2025")
        assert "/web/20251231235959/" + url in links(older)
        assert "Ferry timetable" in page(pg, f"/ui/articles/{ids['article']}")
        assert "pg.warc.gz" in page(pg, f"/ui/jobs/{ids['job']}")
        assert f"/ui/articles/{ids['article']}" in links(page(pg, "/ui/search", q="ferry"))
        assert f"/ui/jobs/{ids['job']}" in links(page(pg, "/ui/sites/pg-site"))


# -- in a browser, against a real server ----------------------------------------------------


@pytest.mark.slow
def test_pages_render_without_errors_and_progress_updates_live(service_factory: Any,
                                                               demo_site: DemoSite) -> None:
    service: RunningService = service_factory({"NEWSARCHIVE_MAX_CRAWLS": "1"})
    created = service.client.post("/api/v1/sites", json={
        "name": "gazette", "start_urls": [demo_site.url + ARTICLE], "max_depth": 0,
        "schedule": {"interval_seconds": 3600}})
    assert created.status_code == 201, created.text
    # One crawl slot: the first (slow) job holds it, so the watched job is surely queued
    # when its page loads, and every later change reaches the page by polling.
    blocker = service.crawl([f"{demo_site.url}/slow?delay=4&t=ui-block"], depth=0)["id"]
    watched = service.crawl([demo_site.url + ARTICLE, f"{demo_site.url}/slow?delay=6&t=ui"],
                            depth=0)["id"]
    service.wait_job(blocker, ("running",))

    with chromium_page() as (browser, errors):
        browser.goto(f"{service.url}/ui/jobs/{watched}")
        status = browser.locator('[data-job-id] [data-field="status"]')
        assert status.text_content() == "queued"
        browser.wait_for_function(
            """() => document.querySelector('[data-field="status"]').textContent
                     === "running"
                  && Number(document.querySelector('[data-field="pages"]').textContent) >= 1""",
            timeout=30_000)
        # done: the page reloads itself and shows the WARC files and captures
        browser.wait_for_selector("table.warcs", timeout=30_000)
        assert status.text_content() == "succeeded"
        assert browser.locator("table.captures tbody tr").count() >= 2
        assert errors == [], errors

        with service.archive.catalog().session() as session:
            article_id = session.scalar(select(Article.id).order_by(Article.id.desc()))
            assert session.scalar(select(Site.name)) == "gazette"
        for path in ("/", "/ui/sites/gazette", f"/ui/jobs/{blocker}",
                     "/ui/search?q=bridge", f"/ui/captures?url={demo_site.url}{ARTICLE}",
                     f"/ui/articles/{article_id}", f"/ui/articles/{article_id}/history"):
            response = browser.goto(service.url + path)
            assert response is not None and response.status == 200, path
            assert browser.locator("h1").count() == 1, path
            assert browser.evaluate(
                "getComputedStyle(document.querySelector('header.top')).display") == "flex", \
                f"{path}: style.css not applied"
            assert errors == [], f"{path}: {errors}"
        browser.goto(f"{service.url}/ui/search?q=bridge")
        assert TITLE in browser.locator("ol.results").text_content()
        browser.goto(f"{service.url}/ui/captures?url={demo_site.url}{ARTICLE}")
        href = browser.locator("a.raw").first.get_attribute("href")
        raw = browser.request.get(service.url + href)
        assert raw.status == 200 and TITLE in raw.text()  # the link reaches the replay route
