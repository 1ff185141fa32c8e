"""Article search (archive/search.py) on SQLite and PostgreSQL, GET /api/v1/articles[/{id}]
in-process, and ``newsarchive articles``.

The catalog is filled through the real Archiver (WARC records in local storage, capture and
article rows); PostgreSQL runs in a fresh schema per test, dropped afterwards.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, text, update
from warcio.archiveiterator import ArchiveIterator

from archive.archiver import Archiver
from archive.catalog import Catalog, alembic_config
from archive.config import ArchiveSettings
from archive.models import Article, CrawlJob, Site
from archive.search import SearchError, get_article, search_articles
from tests.support.api import api_client
from tests.support.cli import Archive
from tests.support.databases import temporary_database
from tests.support.warc import ClockedWriter, exchange

# key: (site, url path, title, text, authors, published, language, capture time)
ARTICLES: dict[str, tuple[Any, ...]] = {
    "bridge": ("gazette", "/world/harbour-bridge-reopens", "Harbour Bridge reopens",
               "The harbour bridge reopened at dawn after an eighteen-month restoration.",
               ["Jane Doe"], "2026-11-03T07:30:00+00:00", "en", datetime(2026, 11, 3, 8)),
    "spans": ("gazette", "/world/new-crossing", "A new crossing",
              "The new bridge spans the harbour from Quay Street to the old fort.",
              ["Marcus Okafor", "Jane Doe"], "2026-11-02", "en", datetime(2026, 11, 2, 9)),
    "festival": ("courier", "/culture/festival", "Le Festival des Lumières",
                 "La fête illumine le vieux port pour sa dixième édition.",
                 ["Élodie Martin"], "2026-11-02T21:00:00+01:00", "fr",
                 datetime(2026, 11, 2, 22)),
    "quota": ("courier", "/world/quota", "Fishing quota talks stall",
              "Northern fleets walked out of the quota talks on Monday evening.",
              ["Peter Lindqvist"], None, "en", datetime(2026, 11, 4, 9)),
    "storm": (None, "/world/storm", "Storm surge pact",
              "Twelve coastal cities agreed to share storm-surge defences.",
              [], "2026-10-30T11:00:00+00:00", "en", datetime(2026, 10, 30, 12)),
}
NEWEST_FIRST = ["quota", "bridge", "festival", "spans", "storm"]
HOSTILE_QUERIES = [
    'AND', 'OR', 'NOT', 'NEAR(', 'harbour OR', '"', '""', '"unclosed harbour', 'title:harbour',
    'harbour*', '^harbour', '-harbour', '+harbour', '(harbour', 'harbour)', "'", "\\",
    "'; DROP TABLE articles; --", "harbour' OR '1'='1", 'x"y"z', '{harbour}', 'a & b | !c',
    'harbour <-> bridge', ':*', '\x00harbour', '\x1b[0m', 'ﬁsh', '港',
]


def populate(catalog: Catalog, config: ArchiveSettings) -> dict[str, int]:
    """Archive one HTML exchange plus an article per ARTICLES entry; return key → article id."""
    with catalog.session() as session:
        jobs: dict[str | None, int] = {}
        for name in ("gazette", "courier", None):
            site = Site(name=name) if name else None
            if site:
                session.add(site)
                session.flush()
            job = CrawlJob(site_id=site.id if site else None)
            session.add(job)
            session.flush()
            jobs[name] = job.id
    records = {}
    for name, job_id in jobs.items():
        writer = ClockedWriter(config.spool_dir, prefix=f"test-{name or 'none'}")
        archiver = Archiver(catalog, config.open_storage(), writer, job_id=job_id)
        for key, (site, path, title, body, authors, published, lang, captured) in \
                ARTICLES.items():
            if site != name:
                continue
            writer.at = captured.replace(tzinfo=UTC)  # capture times are known
            url = f"https://{site or 'example'}.test{path}"
            html = f"<html><head><title>{title}</title></head><body><p>{body}</p></body></html>"
            record = archiver.archive(exchange(
                url, html.encode(), headers=[("Content-Type", "text/html; charset=utf-8")],
                request_headers=[]))
            archiver.annotate(record, {"outlinks": []}, {
                "url": url, "canonical_url": url, "title": title, "authors": authors,
                "published": published, "modified": None, "language": lang,
                "description": None, "site_name": site, "text": body,
                "word_count": len(body.split())}, "test-extractor/1")
            records[key] = record.record_id
        archiver.close()
    with catalog.session() as session:
        return {key: session.scalar(select(Article.id).join(Article.capture)
                                    .where(text("captures.record_id = :r"))
                                    .params(r=record_id))
                for key, record_id in records.items()}


@contextmanager
def populated_catalog(kind: str, directory: Path) -> Iterator[tuple[Catalog, dict[str, int]]]:
    with temporary_database(kind, directory) as url:
        catalog = Catalog(url)
        try:
            config = ArchiveSettings(data_dir=directory / "data", database_url=url)
            yield catalog, populate(catalog, config)
        finally:
            catalog.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[tuple[Catalog, dict[str, int]]]:
    """One populated catalog per dialect for the tests that only read."""
    with populated_catalog(request.param, tmp_path_factory.mktemp(request.param)) as made:
        yield made


@pytest.fixture(params=["sqlite", "postgresql"])
def own_catalog(request: pytest.FixtureRequest, tmp_path: Path,
                ) -> Iterator[tuple[Catalog, dict[str, int]]]:
    """A populated catalog of its own, for tests that write."""
    with populated_catalog(request.param, tmp_path) as made:
        yield made


def keys(ids: dict[str, int], page: Any) -> list[str]:
    by_id = {v: k for k, v in ids.items()}
    return [by_id[hit.article.id] for hit in page.items]


def search(catalog: tuple[Catalog, dict[str, int]], **params: Any) -> list[str]:
    db, ids = catalog
    with db.session() as session:
        return keys(ids, search_articles(session, **params))


def test_newest_first_by_published_else_capture_time(shared) -> None:
    db, ids = shared
    with db.session() as session:
        page = search_articles(session)
        assert keys(ids, page) == NEWEST_FIRST and page.next_cursor is None
        quota, bridge = page.items[0], page.items[1]
    assert quota.date == "2026-11-04T09:00:00"  # no published date: the capture time
    assert bridge.date == "2026-11-03T07:30:00+00:00"
    assert (quota.site, bridge.site, page.items[-1].site) == ("courier", "gazette", None)
    assert quota.article.capture.url == "https://courier.test/world/quota"


def test_cursor_pages_once_through_everything_even_while_articles_arrive(own_catalog,
                                                                         tmp_path) -> None:
    db, ids = own_catalog
    seen: list[str] = []
    cursor = None
    for number in range(10):
        with db.session() as session:
            page = search_articles(session, limit=2, cursor=cursor)
        seen += keys(ids, page)
        if number == 0:  # a newer article archived between two page requests
            writer_config = ArchiveSettings(data_dir=tmp_path / "more", database_url=db.url)
            writer = ClockedWriter(writer_config.spool_dir,
                                   at=datetime(2026, 11, 4, 9, 0, tzinfo=UTC))
            archiver = Archiver(db, writer_config.open_storage(), writer)
            record = archiver.archive(exchange("https://late.test/", b"<p>late</p>", headers=[],
                                               request_headers=[]))
            archiver.annotate(record, {}, {"url": "https://late.test/", "title": "Late",
                                           "authors": [], "published": "2026-12-01",
                                           "text": "late harbour news", "word_count": 3})
            archiver.close()
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == NEWEST_FIRST


@pytest.mark.parametrize(("q", "expected"), [
    ("harbour", ["bridge", "spans"]),
    ("HARBOUR Bridge", ["bridge", "spans"]),  # words ANDed, any order, any case
    ('"harbour bridge"', ["bridge"]),  # a phrase: adjacent and in order
    ('"bridge harbour"', []),
    ('harbour "quay street"', ["spans"]),
    ("lumières", ["festival"]),  # title words are searched too
    ("harbour quota", []),
    ('"unclosed phrase harbour', []),  # an unclosed quote runs to the end
    ("storm-surge", ["storm"]),  # punctuation inside a term is a phrase of its tokens
])
def test_full_text_words_and_phrases(shared, q, expected) -> None:
    assert search(shared, q=q) == expected


def test_accents_are_folded_on_sqlite(shared) -> None:
    db, _ = shared
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's 'simple' configuration keeps accents (documented)")
    assert search(shared, q="lumieres fete") == ["festival"]


def test_no_query_text_is_a_syntax_error(shared) -> None:
    db, _ = shared
    for q in HOSTILE_QUERIES:
        try:
            found = search(shared, q=q)
        except SearchError as exc:  # only "nothing to search for", never a database error
            assert exc.field == "q" and "no words to search for" in str(exc), q
        else:
            assert set(found) <= {"bridge", "spans"}, q  # every hit contains "harbour"
    with db.session() as session:  # and nothing was dropped
        assert len(search_articles(session).items) == len(ARTICLES)


def test_filters(shared) -> None:
    assert search(shared, site="gazette") == ["bridge", "spans"]
    assert search(shared, site="nowhere") == []
    assert search(shared, lang="FR") == ["festival"]
    assert search(shared, author="jane doe") == ["bridge", "spans"]
    assert search(shared, author="ÉLODIE martin") == ["festival"]
    assert search(shared, author="Jane") == []  # a whole name, not a substring
    assert search(shared, site="gazette", q="quay", author="Marcus Okafor") == ["spans"]


@pytest.mark.parametrize(("since", "until", "expected"), [
    ("2026-11-02", "2026-11-02", ["festival", "spans"]),  # inclusive, the whole day
    ("2026-11", None, ["quota", "bridge", "festival", "spans"]),
    (None, "2026-10", ["storm"]),
    ("2026-11-04", None, ["quota"]),  # capture time when nothing was published
    ("2026-11-03T07:30:00", "2026-11-03T07:30:00", ["bridge"]),
    ("2026-11-03T08:30:00+01:00", None, ["quota", "bridge"]),  # converted to UTC
])
def test_since_and_until(shared, since, until, expected) -> None:
    assert search(shared, since=since, until=until) == expected


@pytest.mark.parametrize(("params", "field", "fragment"), [
    ({"limit": 101}, "limit", "101 is out of range; ask for 1 to 100"),
    ({"limit": 0}, "limit", "0 is out of range"),
    ({"since": "yesterday"}, "since", "'yesterday' is not a date; use YYYY-MM-DD"),
    ({"until": "2026-02-30"}, "until", "'2026-02-30' is not a date"),
    ({"cursor": "not-a-cursor"}, "cursor", "not a next_cursor value"),
    ({"cursor": "WyJ4Il0="}, "cursor", "not a next_cursor value"),  # valid base64 JSON
    ({"q": '"" ***'}, "q", "no words to search for"),
])
def test_bad_input_is_a_clear_error(shared, params, field, fragment) -> None:
    with pytest.raises(SearchError) as raised:
        search(shared, **params)
    assert raised.value.field == field and fragment in str(raised.value)


def test_index_follows_inserts_updates_and_deletes(own_catalog) -> None:
    db, ids = own_catalog
    with db.session() as session:
        session.execute(update(Article).where(Article.id == ids["storm"])
                        .values(title="Tide barrier deal", text="Cities agree on barriers."))
    assert search(own_catalog, q="storm") == []
    assert search(own_catalog, q="tide barriers") == ["storm"]
    with db.session() as session:
        session.execute(delete(Article).where(Article.id == ids["storm"]))
    assert search(own_catalog, q="tide") == []


FTS_PROBE = {  # the migration's own index, queried without archive/search.py
    "sqlite": "SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'trawlers'",
    "postgresql": "SELECT id FROM articles WHERE to_tsvector('simple', coalesce(title, '') "
                  "|| ' ' || coalesce(text, '')) @@ to_tsquery('simple', 'trawlers')",
}
FTS_OBJECTS = {
    "sqlite": "SELECT count(*) FROM sqlite_master WHERE name LIKE 'articles_fts%'",
    "postgresql": "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_articles_fulltext' "
                  "AND schemaname = current_schema()",
}


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migration_0004_backfills_and_downgrades(kind, tmp_path) -> None:
    with temporary_database(kind, tmp_path) as url:
        engine = Catalog(url, upgrade=False).engine
        config = alembic_config(engine)
        command.upgrade(config, "0003")
        with engine.begin() as conn:  # an article archived before full-text search existed
            conn.execute(text("INSERT INTO warc_files (id, filename, state, created_at) "
                              "VALUES (1, 'a.warc.gz', 'uploaded', CURRENT_TIMESTAMP)"))
            conn.execute(text(
                "INSERT INTO captures (id, warc_file_id, url, surt, timestamp, status, mime, "
                "record_type, record_id, \"offset\", length) VALUES (1, 1, 'https://x.test/', "
                "'test,x)/', '20261103120000', 200, 'text/html', 'response', '<urn:1>', 0, 1)"))
            conn.execute(text(
                "INSERT INTO articles (id, capture_id, url, title, authors, text, word_count, "
                "extractor_version, created_at) VALUES (1, 1, 'https://x.test/', 'Quota', "
                "'[]', 'Trawlers walked out.', 3, 'v1', CURRENT_TIMESTAMP)"))
        command.upgrade(config, "0004")
        with engine.connect() as conn:
            assert conn.execute(text(FTS_PROBE[kind])).scalars().all() == [1]
        command.downgrade(config, "0003")
        with engine.connect() as conn:
            assert conn.execute(text(FTS_OBJECTS[kind])).scalar() == 0
        command.upgrade(config, "head")
        engine.dispose()
        catalog = Catalog(url)
        with catalog.session() as session:
            assert [h.article.id for h in search_articles(session, q="TRAWLERS").items] == [1]
        catalog.dispose()


def test_postgresql_query_uses_the_gin_index(shared) -> None:
    db, _ = shared
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    from archive.search import PG_DOCUMENT

    with db.session() as session:
        session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(session.scalars(text(
            f"EXPLAIN SELECT id FROM articles WHERE {PG_DOCUMENT} "
            "@@ phraseto_tsquery('simple', 'harbour')")))
    assert "ix_articles_fulltext" in plan


def test_get_article_loads_capture_and_warc_file(shared) -> None:
    db, ids = shared
    with db.session() as session:
        hit = get_article(session, ids["bridge"])
    assert hit.site == "gazette"
    assert hit.article.capture.warc_file.filename.startswith("test-gazette-")


# -- HTTP API (SQLite, in-process) ----------------------------------------------------------


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, int], ArchiveSettings]]:
    config = ArchiveSettings(data_dir=tmp_path / "data")
    catalog = Catalog(config.database_url)
    ids = populate(catalog, config)
    catalog.dispose()
    with api_client(tmp_path / "data") as test_client:
        yield test_client, ids, config


def test_api_lists_filters_and_pages(client) -> None:
    http, ids, _ = client
    response = http.get("/api/v1/articles", params={"q": "harbour", "site": "gazette",
                                                    "limit": 1})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["id"] for item in body["items"]] == [ids["bridge"]]
    first = body["items"][0]
    assert first["title"] == "Harbour Bridge reopens" and first["site"] == "gazette"
    assert first["capture_timestamp"] == "20261103080000" and "text" not in first
    body = http.get("/api/v1/articles", params={"q": "harbour", "site": "gazette", "limit": 1,
                                                "cursor": body["next_cursor"]}).json()
    assert [item["id"] for item in body["items"]] == [ids["spans"]]
    assert body["next_cursor"] is None
    french = http.get("/api/v1/articles", params={"author": "élodie martin",
                                                  "since": "2026-11-02"}).json()
    assert [item["language"] for item in french["items"]] == ["fr"]


@pytest.mark.parametrize(("params", "message"), [
    ({"limit": 500}, "limit: 500 is out of range; ask for 1 to 100"),
    ({"since": "last week"}, "since: 'last week' is not a date"),
    ({"cursor": "garbage"}, "cursor: not a next_cursor value"),
    ({"q": "!!!"}, "q: '!!!' has no words to search for"),
])
def test_api_bad_parameters_are_422_with_the_reason(client, params, message) -> None:
    response = client[0].get("/api/v1/articles", params=params)
    assert response.status_code == 422
    assert response.json()["error"].startswith(message)
    assert response.json()["field"] == next(iter(params))


def test_api_article_detail_points_at_its_warc_record(client) -> None:
    http, ids, config = client
    response = http.get(f"/api/v1/articles/{ids['festival']}")
    assert response.status_code == 200, response.text
    detail = response.json()
    url = "https://courier.test/culture/festival"
    assert detail["text"] == ARTICLES["festival"][3]
    assert detail["authors"] == ["Élodie Martin"] and detail["site"] == "courier"
    assert detail["capture"] == {"url": url, "timestamp": "20261102220000", "status": 200,
                                 "mime": "text/html", "digest": detail["capture"]["digest"]}
    assert detail["capture"]["digest"].startswith("sha1:")
    assert detail["replay"] == {"view": f"/web/20261102220000/{url}",
                                "raw": f"/web/20261102220000id_/{url}"}
    record = detail["warc_record"]
    assert record["storage_key"] == f"warcs/{record['warc_file']}"
    data = config.open_storage().read_range(record["storage_key"], record["offset"],
                                            record["length"])
    warc = next(iter(ArchiveIterator(io.BytesIO(data))))
    assert warc.rec_headers.get_header("WARC-Record-ID") == record["record_id"]
    assert warc.rec_headers.get_header("WARC-Target-URI") == url
    assert b"La f\xc3\xaate illumine" in warc.content_stream().read()
    assert record["metadata_record_id"].startswith("<urn:uuid:")
    replayed = http.get(detail["replay"]["raw"])  # the replay routes know the link
    assert replayed.status_code == 200 and "La fête illumine" in replayed.text


def test_api_unknown_article_is_404(client) -> None:
    response = client[0].get("/api/v1/articles/999999")
    assert response.status_code == 404
    assert response.json() == {"error": "no article with id 999999"}
    assert client[0].get("/api/v1/articles/abc").status_code == 422


# -- CLI --------------------------------------------------------------------------------------


def test_cli_articles_table_json_and_errors(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "data")
    catalog = archive.catalog()
    ids = populate(catalog, archive.config)
    catalog.dispose()
    cli = archive.cli_in_process  # reads only: no subprocess needed
    lines = cli("articles", "harbour", "--json").text.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [ids["bridge"], ids["spans"]]
    paged = cli("articles", "--site", "courier", "--limit", "1", "--json")
    assert [json.loads(paged.text)["id"]] == [ids["quota"]]
    cursor = paged.stderr.split("--cursor ")[1].split()[0]
    rest = cli("articles", "--site", "courier", "--json", "--cursor", cursor)
    assert [json.loads(line)["id"] for line in rest.text.splitlines()] == [ids["festival"]]
    table = cli("articles", "--lang", "fr", "--author", "élodie martin",
                env={"COLUMNS": "200"}).text
    assert "Le Festival des Lumières" in table and "Élodie Martin" in table
    bad = cli("articles", "--limit", "1000", expect=2)
    assert "limit: 1000 is out of range; ask for 1 to 100" in bad.stderr
    assert "no articles match" in cli("articles", "zeppelin").stderr


def test_control_characters_in_filters_are_dropped_not_sent_to_the_database(shared) -> None:
    assert search(shared, site="gazette\x00", author="Jane\x00 Doe", lang="e\x00n") \
        == ["bridge", "spans"]
