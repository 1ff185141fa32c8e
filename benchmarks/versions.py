"""What article versions cost: CPU per capture, catalog bytes per version, time to diff.

    .venv/bin/python benchmarks/versions.py                  # 300 articles x 4 captures
    .venv/bin/python benchmarks/versions.py --articles 1000 --rounds 6 --edited 0.3

1. **Capture cost.** ``--articles`` generated articles (``--words`` words each) are captured
   ``--rounds`` times through :class:`archive.archiver.Archiver` as a crawl does (a real
   WARC writer, local storage, an SQLite catalog; ``archive`` + ``annotate`` with the
   extracted article, rows flushed in batches of 200). Before each round after the first,
   ``--edited`` of the articles change, in turn: a figure in a paragraph, a paragraph added,
   the headline, a correction note, a paragraph removed; every other article changes only
   its furniture (a clock line), which must make no version. Two modes run the same
   captures, alternating which goes first from repeat to repeat: **versions** as shipped,
   and **none** with ``archive.history.extend_histories`` replaced by a no-op (what
   archiving cost before versions). Printed: CPU ms per capture of each, their difference,
   and the CPU spent inside ``extend_histories`` itself, per capture.
2. **Storage.** Bytes of the ``article_versions`` table and its indexes (SQLite's
   ``dbstat``) per version, after the versions run.
3. **Diff time.** Two versions of a 2,000-word article (``--diff-words``) that differ by
   one figure, one sentence rewritten, a paragraph added, one removed and the headline:
   ``normalise`` both + ``compare`` + ``diff_body``, against a plain word diff of the two
   texts (``difflib.SequenceMatcher`` over the word lists: opcodes), medians of
   ``--diff-repeats``.

CPU time is ``time.process_time`` (steadier than wall time on a shared machine).
"""

from __future__ import annotations

import argparse
import difflib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import archive.history  # noqa: E402
from archive.archiver import Archiver  # noqa: E402
from archive.catalog import Catalog  # noqa: E402
from archive.storage import LocalStorage  # noqa: E402
from archive.versions import compare, diff_body, normalise  # noqa: E402
from archive.warc import HttpExchange, WarcWriter  # noqa: E402

WORDS = (
    "harbour", "council", "ferry", "bridge", "storm", "budget", "minister", "port", "city",
    "coast", "fishing", "quota", "museum", "festival", "shipyard", "order", "record", "quarter",
    "engineers", "residents", "officials", "report", "inspection", "traffic", "weekend",
    "lanes", "repairs", "contract", "workers", "statement", "opposition", "vote", "tuesday",
    "morning", "million", "percent", "families", "school", "hospital", "rail", "station",
    "market", "prices", "winter", "season", "plan", "review",
)
EDITS = ("figure", "added", "headline", "correction", "removed")


class SteppedWriter(WarcWriter):
    """A writer whose clock moves on a minute per record: captures of one URL in different
    rounds get different timestamps (versions are ordered by capture time)."""

    def __init__(self, spool_dir: Path) -> None:
        super().__init__(spool_dir)
        self.at = datetime(2026, 12, 1, tzinfo=UTC)

    def now(self) -> datetime:
        self.at += timedelta(minutes=1)
        return self.at


def sentence(rng: Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(10, 18))]
    words.insert(rng.randint(1, len(words) - 1), str(rng.randint(2, 990)))
    return " ".join(words).capitalize() + "."


def paragraphs(rng: Random, words: int) -> list[str]:
    out: list[str] = []
    while sum(len(p.split()) for p in out) < words:
        out.append(" ".join(sentence(rng) for _ in range(rng.randint(3, 6))))
    return out


def edited(article: dict[str, Any], kind: str, rng: Random) -> dict[str, Any]:
    body = list(article["body"])
    title = article["title"]
    if kind == "figure":
        at = rng.randrange(len(body))
        body[at] = body[at].replace(next(w for w in body[at].split() if w.isdigit()),
                                    str(rng.randint(1000, 9999)), 1)
    elif kind == "added":
        body.insert(rng.randrange(len(body) + 1), " ".join(sentence(rng) for _ in range(4)))
    elif kind == "headline":
        title = f"{title}: {rng.choice(WORDS)} {rng.choice(WORDS)} update"
    elif kind == "correction":
        body.append("Correction: an earlier version of this article misstated the "
                    f"{rng.choice(WORDS)} figure.")
    elif len(body) > 2:  # removed
        del body[rng.randrange(len(body))]
    return article | {"title": title, "body": body}


def page(article: dict[str, Any], clock: str) -> bytes:
    paras = "".join(f"<p>{p}</p>" for p in article["body"])
    return (f"<html><head><title>{article['title']}</title></head><body>"
            f"<p class=clock>{clock}</p><h1>{article['title']}</h1>{paras}</body></html>"
            ).encode()


def captures(args: argparse.Namespace) -> list[list[tuple[str, bytes, dict[str, Any]]]]:
    """Per round, each article's (URL, HTML, extracted article) as the crawler would have
    them; the clock line is furniture (extracted text keeps it, normalising drops it)."""
    rng = Random(args.seed)
    articles = [{"url": f"https://news.example.org/2026/12/01/story-{n}",
                 "title": f"Story {n}: " + " ".join(rng.choice(WORDS) for _ in range(6)),
                 "body": paragraphs(rng, args.words)} for n in range(args.articles)]
    rounds = []
    for r in range(args.rounds):
        if r:
            for n in rng.sample(range(len(articles)), int(len(articles) * args.edited)):
                articles[n] = edited(articles[n], EDITS[n % len(EDITS)], rng)
        clock = f"Updated {r + 1} minutes ago"
        rounds.append([(a["url"], page(a, clock), {
            "url": a["url"], "title": a["title"], "authors": ["Ana Lima"],
            "published": "2026-12-01T08:00:00+00:00", "modified": None,
            "text": "\n".join([clock, *a["body"]]),
            "word_count": sum(len(p.split()) for p in a["body"])}) for a in articles])
    return rounds


@contextmanager
def versions_replaced(by: Callable[..., int] | None) -> Iterator[None]:
    shipped = archive.history.extend_histories
    if by is not None:
        archive.history.extend_histories = by
    try:
        yield
    finally:
        archive.history.extend_histories = shipped


def run(mode: str, rounds: list[list[tuple[str, bytes, dict[str, Any]]]],
        work: Path) -> dict[str, float]:
    """Capture every round; returns CPU seconds in all and inside ``extend_histories``."""
    inside = [0.0]
    shipped = archive.history.extend_histories

    def timed(session: Any, keys: Any) -> int:
        t0 = time.process_time()
        try:
            return shipped(session, keys)
        finally:
            inside[0] += time.process_time() - t0

    catalog = Catalog(f"sqlite:///{work / 'catalog.sqlite'}")
    archiver = Archiver(catalog, LocalStorage((work / "storage").as_uri()),
                        SteppedWriter(work / "spool"))
    with versions_replaced(timed if mode == "versions" else lambda session, keys: 0):
        t0 = time.process_time()
        for captured in rounds:
            for url, body, article in captured:
                response = archiver.archive(HttpExchange(
                    url=url, method="GET", request_headers=[("Host", "news.example.org")],
                    status=200, reason="OK",
                    response_headers=[("Content-Type", "text/html; charset=utf-8"),
                                      ("Content-Length", str(len(body)))], body=body))
                archiver.annotate(response, {"outlinks": []}, article,
                                  extractor_version="bench")
            archiver.flush()
        archiver.close()
        cpu = time.process_time() - t0
    result = {"cpu": cpu, "inside": inside[0], "storage": 0.0, "versions": 0.0}
    if mode == "versions":
        with catalog.engine.connect() as conn:
            names = [row[0] for row in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE tbl_name = 'article_versions'")]
            result["storage"] = float(conn.exec_driver_sql(
                "SELECT SUM(pgsize) FROM dbstat WHERE name IN ({})".format(",".join(
                    "?" * len(names))), tuple(names)).scalar() or 0)
            result["versions"] = float(conn.exec_driver_sql(
                "SELECT COUNT(*) FROM article_versions").scalar() or 0)
    catalog.dispose()
    return result


def diff_times(args: argparse.Namespace) -> tuple[float, float, int]:
    """Median ms of (normalise + compare + diff_body) and of a plain word diff."""
    rng = Random(args.seed + 1)
    body = paragraphs(rng, args.diff_words)
    old = {"title": "Council approves harbour budget", "authors": ["Ana Lima"],
           "published": "2026-12-01T08:00:00+00:00", "modified": None, "text": "\n".join(body)}
    new_body = list(body)
    new_body[3] = new_body[3].replace(next(w for w in new_body[3].split() if w.isdigit()),
                                      "4242", 1)
    new_body[7] = sentence(rng) + " " + new_body[7]
    new_body.insert(10, " ".join(sentence(rng) for _ in range(4)))
    del new_body[15]
    new = old | {"title": "Council approves record harbour budget",
                 "text": "\n".join(new_body)}

    def ours() -> int:
        a, b = normalise(old), normalise(new)
        return len(compare(a, b).changes) + len(diff_body(a, b))

    def plain() -> int:
        matcher = difflib.SequenceMatcher(None, old["text"].split(), new["text"].split(),
                                          autojunk=False)
        return len(matcher.get_opcodes())

    times: dict[str, list[float]] = {"ours": [], "plain": []}
    for i in range(args.diff_repeats):
        for name, fn in (("ours", ours), ("plain", plain))[:: 1 if i % 2 else -1]:
            t0 = time.process_time()
            fn()
            times[name].append((time.process_time() - t0) * 1000)
    return (statistics.median(times["ours"]), statistics.median(times["plain"]),
            len(old["text"].split()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4, help="captures of each article")
    parser.add_argument("--edited", type=float, default=0.2,
                        help="share of the articles changed before each later round")
    parser.add_argument("--words", type=int, default=800, help="words of each article")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each mode")
    parser.add_argument("--diff-words", type=int, default=2000)
    parser.add_argument("--diff-repeats", type=int, default=21)
    parser.add_argument("--seed", type=int, default=20261207)
    args = parser.parse_args()

    rounds = captures(args)
    count = sum(len(r) for r in rounds)
    print(f"{args.articles} articles of ~{args.words} words x {args.rounds} captures = "
          f"{count} captures; {args.edited:.0%} edited before each later round "
          f"({', '.join(EDITS)} in turn), the rest furniture only")
    results: dict[str, list[dict[str, float]]] = {"versions": [], "none": []}
    for i in range(args.repeats):
        for mode in ("versions", "none")[:: 1 if i % 2 == 0 else -1]:
            with tempfile.TemporaryDirectory(prefix="newsarchive-versions-") as tmp:
                results[mode].append(run(mode, rounds, Path(tmp)))
            print(f"repeat {i + 1}/{args.repeats} {mode:<8} CPU "
                  f"{results[mode][-1]['cpu']:.2f} s", flush=True)

    def med(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in results[mode])

    per = {mode: med(mode, "cpu") / count * 1000 for mode in results}
    inside = med("versions", "inside") / count * 1000
    versions = results["versions"][0]["versions"]
    expected = args.articles + (args.rounds - 1) * int(args.articles * args.edited)
    print(f"\n| mode | CPU ms per capture (median of {args.repeats}) |\n|---|---:|")
    print(f"| none (extend_histories a no-op) | {per['none']:.3f} |")
    print(f"| versions (as shipped) | {per['versions']:.3f} |")
    print(f"\nversioning: {per['versions'] - per['none']:+.3f} ms CPU per capture by "
          f"difference ({per['versions'] / per['none']:.3f}x), {inside:.3f} ms inside "
          f"extend_histories")
    print(f"versions: {versions:.0f} (expected {expected}: one per article plus one per "
          f"edit; furniture-only captures make none)")
    storage = results["versions"][0]["storage"]
    if versions:
        print(f"storage: article_versions and its indexes {storage / 1024:.0f} KiB = "
              f"{storage / versions:.0f} bytes per version")
    ours, plain, words = diff_times(args)
    print(f"\ndiff of two {words}-word versions (median of {args.diff_repeats}): "
          f"normalise + compare + diff_body {ours:.2f} ms; plain word diff "
          f"(SequenceMatcher opcodes) {plain:.2f} ms; ratio {ours / plain:.2f}")


if __name__ == "__main__":
    main()
