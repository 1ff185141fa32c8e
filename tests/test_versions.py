"""The versions diff engine (archive.versions): normalising, named changes, significance,
stealth, and furniture that makes no version."""

from __future__ import annotations

from typing import Any

import pytest

from archive.versions import (
    compare,
    diff_body,
    inline_diff,
    inline_paragraph,
    is_furniture,
    normalise,
)

BODY = [
    "The harbour bridge reopened on Monday after a two-year closure.",
    "The council said the repairs cost 40 million dollars. Traffic resumed at noon.",
    "Residents gathered on both banks to watch the first cars cross.",
    "The mayor thanked the engineers who worked through the winter.",
]


def article(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": "Harbour bridge reopens", "authors": ["Ana Lima"],
        "published": "2026-11-02T09:00:00+00:00", "modified": None, "text": "\n".join(BODY)}
    return values | overrides


def changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[dict[str, Any]], Any]:
    a, b = normalise(old), normalise(new)
    assert a.digest != b.digest, "expected a new version"
    comparison = compare(a, b)
    return comparison.changes, comparison


def kinds(found: list[dict[str, Any]]) -> list[str]:
    return [c["kind"] for c in found]


def test_headline_change_is_named_and_weighs_more_than_its_length() -> None:
    found, comparison = changes(article(), article(title="Harbour bridge reopens to traffic"))
    assert found == [{"kind": "headline", "before": "Harbour bridge reopens",
                      "after": "Harbour bridge reopens to traffic"}]
    assert comparison.significance == pytest.approx(0.5 * 2 / 5)  # 2 of 5 words
    assert comparison.stealth


def test_one_figure_changed_is_a_sentence_aligned_body_edit() -> None:
    body = [*BODY]
    body[1] = body[1].replace("40 million", "45 million")
    found, comparison = changes(article(), article(text="\n".join(body)))
    assert found == [{"kind": "body_edited", "paragraph": 1,
                      "before": "The council said the repairs cost 40 million dollars.",
                      "after": "The council said the repairs cost 45 million dollars."}]
    assert 0 < comparison.significance < 0.1
    assert comparison.stealth  # no note, no new dateModified


def test_paragraph_added_and_removed() -> None:
    body = [BODY[0], BODY[1], BODY[3], "Tolls will be collected from January."]
    found, _ = changes(article(), article(text="\n".join(body)))
    assert found == [
        {"kind": "body_removed", "paragraph": 2, "text": BODY[2]},
        {"kind": "body_added", "paragraph": 3, "text": "Tolls will be collected from January."},
    ]


def test_correction_note_is_named_and_the_change_is_not_stealth() -> None:
    note = "Correction: an earlier version of this article gave the cost as 40 million."
    body = [*BODY, note]
    body[1] = body[1].replace("40 million", "45 million")
    found, comparison = changes(article(), article(text="\n".join(body)))
    assert kinds(found) == ["body_edited", "correction"]
    assert found[1] == {"kind": "correction", "text": note}
    assert not comparison.stealth


def test_new_date_modified_announces_the_change() -> None:
    found, comparison = changes(article(), article(title="Bridge reopens",
                                                   modified="2026-11-02T15:00:00+00:00"))
    assert kinds(found) == ["headline", "modified"]
    assert found[1] == {"kind": "modified", "before": None, "after": "2026-11-02T15:00:00+00:00"}
    assert not comparison.stealth


def test_byline_and_published_dates() -> None:
    found, comparison = changes(article(), article(authors=["Ana Lima", "Ben Ortiz"],
                                                   published="2026-11-02T08:00:00+00:00"))
    assert found == [
        {"kind": "byline", "before": ["Ana Lima"], "after": ["Ana Lima", "Ben Ortiz"]},
        {"kind": "published", "before": "2026-11-02T09:00:00+00:00",
         "after": "2026-11-02T08:00:00+00:00"},
    ]
    assert comparison.significance == pytest.approx(0.1)
    assert comparison.stealth


def test_dates_only_change_is_a_version_of_no_significance() -> None:
    found, comparison = changes(article(), article(modified="2026-11-03T10:00:00Z"))
    assert kinds(found) == ["modified"]
    assert comparison.significance == 0
    assert not comparison.stealth  # nothing substantive changed


@pytest.mark.parametrize("furniture", [
    "Updated 5 minutes ago", "updated 2 hours ago", "14:32 GMT", "Last updated: 14:32",
    "3 Nov 2026, 14:32", "127 comments", "Comments (12)", "1.2k shares", "Advertisement",
    "Read more: Storm closes ferry routes", "Related: Council budget approved", "Most read",
    "Just now",
])
def test_furniture_only_changes_make_no_version(furniture: str) -> None:
    assert is_furniture(furniture)
    before = article(text="\n".join([BODY[0], "Updated 1 minute ago", *BODY[1:]]))
    after = article(text="\n".join([BODY[0], furniture, *BODY[1:], "  "]))
    assert normalise(before).digest == normalise(after).digest


def test_whitespace_and_author_order_make_no_version() -> None:
    spaced = "\n\n".join(" " + p.replace(" ", "\u00a0 ") + "  " for p in BODY)
    again = article(text=spaced, authors=["ana lima"], title=" Harbour  bridge reopens ")
    assert normalise(article()).digest == normalise(again).digest


@pytest.mark.parametrize("text", [
    "Update: the bridge closed again on Tuesday.", "The mayor spoke on Monday at noon.",
    "Share prices rose 3 percent.", "At 14:32 the first car crossed the bridge to cheers.",
])
def test_sentences_of_the_article_are_not_furniture(text: str) -> None:
    assert not is_furniture(text)


def test_diff_body_pairs_an_edited_paragraph_in_a_replaced_run() -> None:
    body = [BODY[0], "A wholly different paragraph about ferries and their timetables.",
            BODY[2].replace("both banks", "the north bank"), BODY[3]]
    ops = [(p.op, p.old_index, p.new_index)
           for p in diff_body(normalise(article()), normalise(article(text="\n".join(body))))]
    assert ops == [("equal", 0, 0), ("added", None, 1), ("removed", 1, None),
                   ("edited", 2, 2), ("equal", 3, 3)]


def test_rewrite_is_highly_significant() -> None:
    _, comparison = changes(article(), article(
        title="Storm shuts the city", text="Heavy rain flooded the streets.\nSchools closed."))
    assert comparison.significance == 1.0


def test_inline_diff_marks_the_changed_words() -> None:
    assert inline_diff("the repairs cost 40 million dollars",
                       "the repairs cost 45 million dollars so far") == [
        ("equal", "the repairs cost"), ("removed", "40"), ("added", "45"),
        ("equal", "million dollars"), ("added", "so far")]
    assert inline_diff("same words", "same  words") == [("equal", "same words")]
    assert inline_diff("", "new text") == [("added", "new text")]


def test_inline_diff_of_a_rewrite_is_one_removal_and_one_addition() -> None:
    assert inline_diff("The mayor opened the bridge.", "Storms closed the ferry line.") == [
        ("removed", "The mayor opened the bridge."), ("added", "Storms closed the ferry line.")]


def test_inline_paragraph_diffs_edited_sentences_word_by_word() -> None:
    body = [BODY[0], BODY[1].replace("40 million", "45 million") + " Tolls start in May.",
            BODY[3], "A new closing paragraph."]
    parts = diff_body(normalise(article()), normalise(article(text="\n".join(body))))
    assert [inline_paragraph(p) for p in parts] == [
        [("equal", BODY[0])],
        [("equal", "The council said the repairs cost"), ("removed", "40"), ("added", "45"),
         ("equal", "million dollars."), ("equal", "Traffic resumed at noon."),
         ("added", "Tolls start in May.")],
        [("removed", BODY[2])],
        [("equal", BODY[3])],
        [("added", "A new closing paragraph.")]]
