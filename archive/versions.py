"""Article versions: normalise extracted content, compare two extractions, name the changes.

Pure functions, no catalog (:mod:`archive.history` stores what they compute)::

    old, new = normalise(article_v1), normalise(article_v2)   # dicts or Article rows
    if old.digest != new.digest:                              # else: not a new version
        comparison = compare(old, new)
        comparison.changes, comparison.significance, comparison.stealth
    diff_body(old, new)                                       # for display
    inline_paragraph(part)      # a diffed paragraph as pieces marked word by word

Normalising (:func:`normalise`): whitespace collapsed (also no-break and zero-width spaces),
authors compared without case or order, and paragraphs of page furniture dropped: clocks and
relative times ("Updated 5 minutes ago", "14:32 GMT"), counters ("12 comments"), ad labels
and related-links lines ("Read more: ...", "Related: ...", "Most read"). Changes of furniture
only therefore leave the digest as it is and make no version.

Changes (:func:`compare`), each a dict with a ``kind``:

- ``headline``, ``byline``, ``published``, ``modified``: ``before`` and ``after``;
- ``body_added`` / ``body_removed``: a paragraph (``paragraph``: its index in the new / old
  body, ``text``);
- ``body_edited``: a paragraph changed in place (``paragraph``: its index in the new body;
  ``before`` and ``after``: its sentences that changed, sentence-aligned);
- ``correction``: a correction, update, clarification or editor's note appeared (``text``);
  it is not also reported as ``body_added``;
- ``unpublished``: made by :mod:`archive.history` (the URL stopped serving the article);
- ``extractor``: made by :mod:`archive.history` (:func:`reread`): the article was read by
  another extractor than the version before and reads differently, so the differences are
  not named, as they may be the extractor's rather than the outlet's.

Paragraphs are aligned with :class:`difflib.SequenceMatcher`; in a replaced run, paragraphs
are paired with the most similar one (ratio ≥ 0.5 makes an edit, else a removal and an
addition). ``significance`` (0-1) is the share of body words changed plus half the share of
headline words changed plus 0.1 for a byline change, capped at 1: the headline weighs more
than its length. ``stealth`` is true when the headline, byline or body changed with neither a
correction note nor a new ``modified`` date.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

EXTRACTOR = "extractor"  # the kind of a version made by another extractor's reading
CHANGE_KINDS = ("headline", "byline", "published", "modified", "body_added", "body_removed",
                "body_edited", "correction", "unpublished", EXTRACTOR)
SUBSTANTIVE_KINDS = frozenset({"headline", "byline", "body_added", "body_removed",
                               "body_edited"})
FIELD_KINDS = ("byline", "published", "modified")  # a field's change: its before and after
HEADLINE_WEIGHT = 0.5
BYLINE_WEIGHT = 0.1
EDIT_SIMILARITY = 0.5  # paragraphs at least this similar are one paragraph edited

_SPACES = re.compile(r"[\s\u00a0\u2000-\u200b\u202f\u205f\u3000\ufeff]+")
_TIMEISH = (r"(?:\d{1,4}|[:/.,\-\u2013]|at|on|am|pm|a\.m\.|p\.m\.|utc|gmt|bst|cet|cest|"
            r"est|edt|pst|pdt|jan\w*|feb\w*|mar\w*|apr\w*|may|jun\w*|jul\w*|aug\w*|sep\w*|"
            r"oct\w*|nov\w*|dec\w*|mon\w*|tue\w*|wed\w*|thu\w*|fri\w*|sat\w*|sun\w*|today|"
            r"yesterday|\s)+")
_FURNITURE = re.compile("|".join((
    # relative times and clocks, alone or after "updated"/"published"
    r"(?:(?:last\s+)?(?:updated|published|posted|modified)\s*:?\s*)?"
    r"(?:(?:\d+|an?|one|a few)\s+(?:seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?)\s+ago"
    r"|just now)\.?",
    r"(?=.*\d)(?:(?:last\s+)?(?:updated|published|posted|modified)\s*:?\s*)?" + _TIMEISH,
    # counters
    r"\(?\d[\d,.]*\s*k?\)?\s*(?:comments?|shares?|views?|reads?|likes?|reactions?|replies)",
    r"(?:comments?|shares?|views?|replies)\s*[:(]?\s*\d[\d,.]*\s*k?\)?",
    # ads and related links
    r"(?:advertisement|advert|sponsored(?: content)?|ad|skip advertisement|share|"
    r"share this (?:article|story)|most (?:read|popular|viewed))",
    r"(?:related|read more|read also|also read|see also|more from [^:]{1,40}|recommended|"
    r"you (?:may|might) also like|more on this story)\s*[:\u203a\u00bb>|\u2013-].{0,200}",
)), re.IGNORECASE)
_CORRECTION = re.compile(
    r"^\W*(?:corrections?|clarifications?|updates?|updated|editor'?s note|amendment|"
    r"erratum)\b\s*(?:\([^)]{0,40}\)\s*)?[:.\-\u2013\u2014]"
    r"|\b(?:this|an earlier version of this|a previous version of this) "
    r"(?:article|story|report|piece)\b.{0,80}\b(?:corrected|updated|amended|misstated|"
    r"incorrectly|misidentified|clarified|stated)\b"
    r"|\bhas been (?:corrected|amended|updated) to\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?\u2026])[\"'\u201d\u2019)\]]*\s+"
                           r"(?=[\"'\u201c\u2018(\[]?[A-Z0-9\u00c0-\u00dd])")


def clean(text: str | None) -> str:
    """Whitespace collapsed to single spaces, stripped."""
    return _SPACES.sub(" ", text or "").strip()


def is_furniture(paragraph: str) -> bool:
    """A paragraph of page furniture only (clock, relative time, counter, ad label, related
    link): not part of the article."""
    return len(paragraph) <= 240 and _FURNITURE.fullmatch(paragraph) is not None


def is_correction(paragraph: str) -> bool:
    """A correction, update, clarification or editor's note."""
    return _CORRECTION.search(paragraph) is not None


def reread(before: str | None, after: str | None) -> dict[str, Any]:
    """The change of a version whose article another extractor read (``before`` and
    ``after``: the two extractor versions)."""
    return {"kind": EXTRACTOR, "before": before, "after": after}


def is_reread(changes: Sequence[Mapping[str, Any]] | None) -> bool:
    """A version made by another extractor's reading (:func:`reread`), not by the outlet."""
    return any(change.get("kind") == EXTRACTOR for change in changes or ())


def sentences(paragraph: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(paragraph) if s]


@dataclass(frozen=True)
class Content:
    """The normalised content of one extraction: what a version is made of."""

    title: str
    authors: tuple[str, ...]
    published: str | None
    modified: str | None
    paragraphs: tuple[str, ...]

    @property
    def digest(self) -> str:
        """SHA-256 over the content as compared: equal digests, same version."""
        key = [self.title.casefold(), sorted(a.casefold() for a in self.authors),
               self.published, self.modified, list(self.paragraphs)]
        return hashlib.sha256(json.dumps(key, ensure_ascii=False).encode("utf-8")).hexdigest()

    @property
    def words(self) -> int:
        return sum(len(p.split()) for p in self.paragraphs)


def normalise(article: Mapping[str, Any] | Any) -> Content:
    """The :class:`Content` of an extraction: a dict as :func:`crawler.extraction
    .extract_to_dict` returns, or anything with the same attributes (an ``Article`` row)."""
    def get(name: str) -> Any:
        return article.get(name) if isinstance(article, Mapping) else getattr(article, name)

    paragraphs = tuple(p for p in (clean(line) for line in (get("text") or "").splitlines())
                       if p and not is_furniture(p))
    authors = tuple(a for a in (clean(a) for a in get("authors") or ()) if a)
    return Content(title=clean(get("title")), authors=authors,
                   published=clean(get("published")) or None,
                   modified=clean(get("modified")) or None, paragraphs=paragraphs)


@dataclass(frozen=True)
class Comparison:
    changes: list[dict[str, Any]]
    significance: float
    stealth: bool


@dataclass(frozen=True)
class ParagraphDiff:
    """One aligned paragraph of a body diff: ``op`` is ``equal``, ``added``, ``removed`` or
    ``edited``; ``old_index``/``new_index`` its place in each body (None where absent);
    ``segments`` (for ``edited``) the sentence-aligned pieces as (op, old, new) with op
    ``equal``, ``added``, ``removed`` or ``edited``."""

    op: str
    old_index: int | None
    new_index: int | None
    old: str = ""
    new: str = ""
    segments: list[tuple[str, str, str]] = field(default_factory=list)


def diff_body(old: Content, new: Content) -> list[ParagraphDiff]:
    """The two bodies aligned paragraph by paragraph, edited paragraphs sentence by sentence."""
    out: list[ParagraphDiff] = []
    a, b = old.paragraphs, new.paragraphs
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.extend(ParagraphDiff("equal", i, j, a[i], b[j])
                       for i, j in zip(range(i1, i2), range(j1, j2), strict=True))
        elif tag == "delete":
            out.extend(ParagraphDiff("removed", i, None, a[i], "") for i in range(i1, i2))
        elif tag == "insert":
            out.extend(ParagraphDiff("added", None, j, "", b[j]) for j in range(j1, j2))
        else:
            out.extend(_pair_replaced(a, b, range(i1, i2), range(j1, j2)))
    return out


def _pair_replaced(a: Sequence[str], b: Sequence[str], olds: range, news: range,
                   ) -> list[ParagraphDiff]:
    """A replaced run: each new paragraph paired, in order, with the most similar old one
    still unpaired after the last pairing (edited), the rest removed or added."""
    out: list[ParagraphDiff] = []
    next_old = olds.start
    for j in news:
        best, best_ratio = None, EDIT_SIMILARITY
        for i in range(next_old, olds.stop):
            ratio = SequenceMatcher(None, a[i].split(), b[j].split(), autojunk=False).ratio()
            if ratio >= best_ratio:
                best, best_ratio = i, ratio
        if best is None:
            out.append(ParagraphDiff("added", None, j, "", b[j]))
            continue
        out.extend(ParagraphDiff("removed", i, None, a[i], "") for i in range(next_old, best))
        out.append(ParagraphDiff("edited", best, j, a[best], b[j],
                                 _sentence_segments(a[best], b[j])))
        next_old = best + 1
    out.extend(ParagraphDiff("removed", i, None, a[i], "") for i in range(next_old, olds.stop))
    return out


def _sentence_segments(old: str, new: str) -> list[tuple[str, str, str]]:
    sa, sb = sentences(old), sentences(new)
    segments: list[tuple[str, str, str]] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, sa, sb, autojunk=False).get_opcodes():
        before, after = " ".join(sa[i1:i2]), " ".join(sb[j1:j2])
        op = {"equal": "equal", "delete": "removed", "insert": "added"}.get(tag, "edited")
        segments.append((op, before, after))
    return segments


def inline_diff(old: str, new: str) -> list[tuple[str, str]]:
    """Two texts diffed word by word, in reading order: ``(op, text)`` pieces with op
    ``equal``, ``removed`` (only in ``old``) or ``added`` (only in ``new``); a replaced run
    gives its removed words, then its added words. Texts less than :data:`EDIT_SIMILARITY`
    alike are one removal and one addition (a rewrite, not a scatter of common words)."""
    a, b = old.split(), new.split()
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    if a and b and matcher.ratio() < EDIT_SIMILARITY:
        return [("removed", " ".join(a)), ("added", " ".join(b))]
    pieces: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pieces.append(("equal", " ".join(a[i1:i2])))
            continue
        if i2 > i1:
            pieces.append(("removed", " ".join(a[i1:i2])))
        if j2 > j1:
            pieces.append(("added", " ".join(b[j1:j2])))
    return pieces


def inline_paragraph(part: ParagraphDiff) -> list[tuple[str, str]]:
    """One paragraph of :func:`diff_body` as :func:`inline_diff` pieces: an added or removed
    paragraph whole, an edited one sentence by sentence, its edited sentences word by word."""
    if part.op != "edited":
        return [(part.op, part.old if part.op == "removed" else part.new)]
    pieces: list[tuple[str, str]] = []
    for op, before, after in part.segments:
        if op == "edited":
            pieces.extend(inline_diff(before, after))
        else:
            pieces.append((op, before if op == "removed" else after))
    return pieces


def _changed_share(old: Sequence[str], new: Sequence[str]) -> float:
    """Share (0-1) of words not kept between two word sequences."""
    longest = max(len(old), len(new))
    if not longest:
        return 0.0
    kept = sum(block.size for block in
               SequenceMatcher(None, old, new, autojunk=False).get_matching_blocks())
    return 1.0 - kept / longest


def compare(old: Content, new: Content) -> Comparison:
    """The named changes from ``old`` to ``new``, their significance and stealth (module doc)."""
    changes: list[dict[str, Any]] = []
    if old.title != new.title:
        changes.append({"kind": "headline", "before": old.title, "after": new.title})
    if sorted(a.casefold() for a in old.authors) != sorted(a.casefold() for a in new.authors):
        changes.append({"kind": "byline", "before": list(old.authors),
                        "after": list(new.authors)})
    for kind in ("published", "modified"):
        if getattr(old, kind) != getattr(new, kind):
            changes.append({"kind": kind, "before": getattr(old, kind),
                            "after": getattr(new, kind)})
    known_notes = {p for p in old.paragraphs if is_correction(p)}
    for part in diff_body(old, new):
        if part.op == "added":
            kind = ("correction" if is_correction(part.new) and part.new not in known_notes
                    else "body_added")
            changes.append({"kind": kind, "paragraph": part.new_index, "text": part.new}
                           if kind == "body_added" else {"kind": kind, "text": part.new})
        elif part.op == "removed":
            changes.append({"kind": "body_removed", "paragraph": part.old_index,
                            "text": part.old})
        elif part.op == "edited":
            changed = [s for s in part.segments if s[0] != "equal"]
            changes.append({"kind": "body_edited", "paragraph": part.new_index,
                            "before": " ".join(s[1] for s in changed if s[1]),
                            "after": " ".join(s[2] for s in changed if s[2])})
            if is_correction(part.new) and not is_correction(part.old):
                changes.append({"kind": "correction", "text": part.new})
    kinds = {c["kind"] for c in changes}
    body_share = _changed_share(" ".join(old.paragraphs).split(),
                                " ".join(new.paragraphs).split())
    significance = body_share + HEADLINE_WEIGHT * _changed_share(old.title.split(),
                                                                 new.title.split())
    if "byline" in kinds:
        significance += BYLINE_WEIGHT
    substantive = bool(kinds & SUBSTANTIVE_KINDS)
    announced = "correction" in kinds or ("modified" in kinds and new.modified is not None)
    return Comparison(changes, round(min(1.0, significance), 4), substantive and not announced)
