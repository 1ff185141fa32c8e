"""The article history page of the web UI (``/ui/articles/{id}/history``): an article of the
local changing site crawled three times (headline and a figure edited, then a paragraph
swapped, a correction note and a second author), its versions, its headline history and the
inline diff of any two versions, as rendered HTML; SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from archive.history import versions_of
from archive.models import Article, Capture
from scheduler.web.ui.templating import timestamp, web_link
from tests.support.api import api_client
from tests.support.changing_site import PARAGRAPHS, ChangingSite
from tests.support.cli import Archive

FIRST_TITLE = "Harbour bridge reopens (bridge)"
NEW_TITLE = "Harbour bridge reopens after two years"
ADDED = "The ferry company said it would cut its crossings to two a day from December."
CORRECTION = "Correction: An earlier version of this article misstated the cost of the repairs."
HOSTILE = '<script>alert("owned")</script> & <b>bold</b>'
ESCAPED = "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"


@dataclass(frozen=True)
class Version:
    id: int
    number: int
    article_id: int
    timestamp: str
    url: str


@dataclass(frozen=True)
class Histories:
    bridge: list[Version]  # three versions
    ferry: list[Version]  # two versions, the second's headline made hostile in the catalog
    steady: list[Version]  # never changes: one version
    gone: list[Version]  # answers 410 from the second crawl on: version 2 is unpublished


def _versions(archive: Archive, url: str) -> list[Version]:
    with archive.catalog().session() as session:
        return [Version(v.id, v.number, v.article_id, v.capture.timestamp, v.capture.url)
                for v in versions_of(session, url)]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def archive(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
            ) -> Archive:
    data_dir = tmp_path_factory.mktemp("history") / "data"
    if request.param == "sqlite":
        return Archive(data_dir)
    database = request.getfixturevalue("postgres_databases")()  # a fresh, empty one
    return Archive(data_dir, env={"NEWSARCHIVE_DATABASE_URL": database})


@pytest.fixture(scope="module")
def histories(archive: Archive) -> Histories:
    with ChangingSite() as site:
        bridge, ferry = site.add("bridge", FIRST_TITLE), site.add("ferry", "Ferry timetable")
        steady = site.add("steady", "Tolls start in January")
        gone = site.add("gone", "Ferry strike called off")

        def crawl() -> None:
            crawled = archive.crawl(bridge, ferry, steady, gone, "--depth", "0",
                                    throttled=False)
            assert crawled["status"] == "succeeded"

        crawl()
        story = site.story(bridge)
        story.title = NEW_TITLE
        story.paragraphs[1] = PARAGRAPHS[1].replace("40 million", "45 million")
        site.story(ferry).paragraphs[0] = PARAGRAPHS[0].replace("Monday", "Tuesday")
        site.story(gone).status = 410
        crawl()
        del story.paragraphs[2]
        story.paragraphs += [ADDED, CORRECTION]
        story.authors = ["Ana Lima", "Ben Ortiz"]
        crawl()
    result = Histories(_versions(archive, bridge), _versions(archive, ferry),
                       _versions(archive, steady), _versions(archive, gone))
    assert [v.number for v in result.bridge] == [1, 2, 3]
    assert [v.number for v in result.ferry] == [1, 2]
    with archive.catalog().session() as session:
        session.get(Article, result.ferry[1].article_id).title = HOSTILE
    return result


@pytest.fixture(scope="module")
def client(archive: Archive) -> Iterator[TestClient]:
    database = archive.env.get("NEWSARCHIVE_DATABASE_URL")
    with api_client(archive.data_dir,
                    **({"database_url": database} if database else {})) as test_client:
        yield test_client


def page(client: TestClient, path: str, status: int = 200, **params: str | int) -> str:
    response = client.get(path, params=params or None)
    assert response.status_code == status, response.text[-2000:]
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return response.text


def history(client: TestClient, versions: list[Version], status: int = 200,
            **params: str | int) -> str:
    return page(client, f"/ui/articles/{versions[0].article_id}/history", status, **params)


def rows(text: str) -> dict[int, str]:
    """Version id → its row in the versions table."""
    return {int(i): row for i, row in
            re.findall(r'<tr id="version-\d+" data-version-id="(\d+)">(.*?)</tr>', text, re.S)}


def diff_of(text: str) -> str:
    found = re.search(r'<section aria-labelledby="diff-heading".*?</section>', text, re.S)
    assert found, text
    return found[0]


def test_history_lists_the_versions_oldest_first(client: TestClient,
                                                 histories: Histories) -> None:
    v1, v2, v3 = histories.bridge
    # The history is the same from any of its articles.
    text = history(client, [v3])
    assert text == history(client, [v1])
    assert "3 versions, oldest first" in text
    found = rows(text)
    assert list(found) == [v1.id, v2.id, v3.id]
    for version in histories.bridge:
        row = found[version.id]
        assert f'href="{html.escape(web_link(version.url, version.timestamp))}"' in row
        assert f'<a href="/ui/articles/{version.article_id}">{version.number}</a>' in row
    assert FIRST_TITLE in found[v1.id] and "first capture" in found[v1.id]
    assert NEW_TITLE in found[v2.id] and NEW_TITLE in found[v3.id]
    assert "<td>Ana Lima</td>" in found[v2.id]
    assert "<td>Ana Lima, Ben Ortiz</td>" in found[v3.id]
    kinds = {v: re.findall(r'<span class="change change-\w+">(\w+)</span>', row)
             for v, row in found.items()}
    assert kinds == {v1.id: [], v2.id: ["headline", "body_edited"],
                     v3.id: ["byline", "body_removed", "body_added", "correction"]}
    assert 'class="stealth"' in found[v2.id]  # no note, no new dateModified
    assert 'class="stealth"' not in found[v3.id]  # the correction note announces it
    assert '<td class="num">0.00</td>' in found[v1.id]
    assert f'href="?from={v1.id}&amp;to={v2.id}#diff"' in found[v2.id]


def test_headline_history_shows_each_headline_from_when_it_ran(client: TestClient,
                                                               histories: Histories) -> None:
    v1, v2, v3 = histories.bridge
    section = re.search(r'<ol class="headlines">(.*?)</ol>', history(client, [v1]), re.S)
    assert section, "no headline history"
    items = re.findall(r"<li>(.*?)</li>", section[1], re.S)
    assert len(items) == 2
    assert f"<q>{FIRST_TITLE}</q>" in items[0]
    assert f"{timestamp(v1.timestamp)} UTC</a> (version 1)" in items[0]
    assert "(version 1)" in items[0] and "still shown" not in items[0]
    assert f"<q>{NEW_TITLE}</q>" in items[1] and "(version 2)" in items[1]
    assert f"{timestamp(v2.timestamp)} UTC</a> (version 2)" in items[1]
    assert f"still shown in version 3 ({timestamp(v3.timestamp)} UTC)" in items[1]


def test_default_diff_is_the_previous_version_to_the_latest(client: TestClient,
                                                            histories: Histories) -> None:
    _, v2, v3 = histories.bridge
    diff = diff_of(history(client, [v2]))
    assert f'<option value="{v2.id}" selected>version 2' in diff
    assert f'<option value="{v3.id}" selected>version 3' in diff
    assert "<h3>From version 2 (" in diff and ") to version 3 (" in diff
    assert "Changes: byline, body_removed, body_added, correction" in diff
    assert '<dt>Byline</dt>\n    <dd class="diff"><del>Ana Lima</del> ' \
           "<ins>Ana Lima, Ben Ortiz</ins> </dd>" in diff
    assert f'<p class="diff-removed"><del>{PARAGRAPHS[2]}</del></p>' in diff
    assert f'<p class="diff-added"><ins>{ADDED}</ins></p>' in diff
    assert f'<p class="diff-added"><ins>{CORRECTION}</ins></p>' in diff
    assert "<dt>Headline</dt>" not in diff  # unchanged between 2 and 3
    assert "40 million" not in diff and "<del>40</del>" not in diff


def test_chosen_pair_marks_the_edited_figure_word_by_word(client: TestClient,
                                                          histories: Histories) -> None:
    v1, v2, _ = histories.bridge
    diff = diff_of(history(client, [v1], **{"from": v1.id, "to": v2.id}))
    assert f'<option value="{v1.id}" selected>version 1' in diff
    assert '<p class="diff-edited">The council said the repairs cost <del>40</del> ' \
           "<ins>45</ins> million dollars. Traffic resumed at noon, and the first buses " \
           "crossed an hour later.</p>" in diff
    assert '<dt>Headline</dt><dd class="diff">Harbour bridge reopens <del>(bridge)</del> ' \
           "<ins>after two years</ins></dd>" in diff
    assert "Changes: headline, body_edited" in diff and 'class="stealth"' in diff
    assert f'<p class="diff-equal">{PARAGRAPHS[0]}</p>' in diff


def test_non_adjacent_versions_diff_across_the_one_between(client: TestClient,
                                                           histories: Histories) -> None:
    v1, _, v3 = histories.bridge
    diff = diff_of(history(client, [v1], **{"from": v1.id, "to": v3.id}))
    assert "<h3>From version 1 (" in diff and ") to version 3 (" in diff
    assert "cost <del>40</del> <ins>45</ins> million" in diff
    assert "<del>(bridge)</del> <ins>after two years</ins>" in diff
    assert f'<p class="diff-removed"><del>{PARAGRAPHS[2]}</del></p>' in diff
    assert f'<p class="diff-added"><ins>{CORRECTION}</ins></p>' in diff
    assert "Changes: headline, byline, body_edited, body_removed, body_added, correction" \
        in diff
    # Reversed, the same pair reads the other way.
    back = diff_of(history(client, [v1], **{"from": v3.id, "to": v1.id}))
    assert "cost <del>45</del> <ins>40</ins> million" in back


def test_unpublished_version_is_listed_and_diffs_to_no_text(client: TestClient,
                                                            histories: Histories) -> None:
    v1, v2 = histories.gone
    assert v2.article_id is None
    text = history(client, [v1])
    found = rows(text)
    assert list(found) == [v1.id, v2.id]
    assert "<td>Ferry strike called off</td>" in found[v1.id]
    assert '<span class="meta">unpublished (HTTP 410)</span>' in found[v2.id]
    assert '<span class="change change-unpublished">unpublished</span>' in found[v2.id]
    assert '<th scope="row">2</th>' in found[v2.id]  # no article page to link
    assert f'href="{html.escape(web_link(v2.url, v2.timestamp))}"' in found[v2.id]
    assert len(re.findall(r"<li><q>", text)) == 1  # unpublished is no headline
    diff = diff_of(text)  # default: version 1 to the unpublished version 2
    assert ("Version 2 is the capture where the article was unpublished (HTTP 410): it has "
            "no text.") in diff
    assert '<dt>Headline</dt><dd class="diff"><del>Ferry strike called off</del></dd>' in diff
    assert all(f'<p class="diff-removed"><del>{p}</del></p>' in diff for p in PARAGRAPHS)


def test_unknown_article_is_a_404_page(client: TestClient, histories: Histories) -> None:
    for article_id in (999_999, 0):
        text = page(client, f"/ui/articles/{article_id}/history", 404)
        assert f"There is no article {article_id}." in text and "<h1>Not found</h1>" in text


def test_versions_of_another_article_or_no_id_are_a_clear_400(client: TestClient,
                                                              histories: Histories) -> None:
    v1, v2, v3 = histories.bridge
    other = histories.ferry[0].id
    text = history(client, [v1], 400, **{"from": other, "to": v3.id})
    ids = f"{v1.id}, {v2.id}, {v3.id}"
    assert (f"from: version {other} is not a version of this article; its versions are "
            f"{ids}. Choose two of them below.") in text
    assert 'role="alert"' in text and len(rows(text)) == 3  # the history is still shown
    text = history(client, [v1], 400, to="latest")
    assert f"to must be a version id (a number: {ids}); got “latest”." in text
    assert "version 99999999 is not a version" in history(client, [v1], 400, to=99999999)
    huge = "9" * 5000  # more digits than int() takes
    assert f"version {'9' * 40}… is not a version" in history(client, [v1], 400, to=huge)


def test_archived_text_is_escaped(client: TestClient, histories: Histories) -> None:
    text = history(client, histories.ferry)
    assert HOSTILE not in text and "<script>alert" not in text
    assert f"<td>{ESCAPED}</td>" in text  # the versions table
    assert f"<q>{ESCAPED}</q>" in text  # the headline history
    assert f"<ins>{ESCAPED}</ins>" in diff_of(text)  # the headline diff
    assert f"<h1>History of <q>{ESCAPED}</q></h1>" in text  # named after the latest
    assert f"<title>History of {ESCAPED} · newsarchive</title>" in text


def test_article_and_captures_pages_link_the_history(client: TestClient, archive: Archive,
                                                     histories: Histories) -> None:
    v1, _, v3 = histories.bridge
    text = page(client, f"/ui/articles/{v3.article_id}")
    assert (f'<a href="/ui/articles/{v3.article_id}/history">version history</a> '
            "(3 versions)") in text
    captures = page(client, "/ui/captures", url=v1.url)
    with archive.catalog().session() as session:
        articles = session.scalars(select(Article.id).join(Article.capture)
                                   .where(Capture.url == v1.url)).all()
    assert len(articles) == 3
    assert sorted(int(i) for i in re.findall(r'href="/ui/articles/(\d+)/history"', captures)) \
        == sorted(articles)


def test_an_article_with_one_version_has_nothing_to_compare(client: TestClient,
                                                            histories: Histories) -> None:
    text = history(client, histories.steady)
    assert "1 version, oldest first" in text and len(rows(text)) == 1
    assert "There is only one version: nothing to compare yet." in diff_of(text)
    assert "<ins>" not in text and "<del>" not in text
