"""Extraction quality and speed: trafilatura 2.x defaults vs newsarchive's extractor.

Reads the evaluation set described in ``../shared/datasets/extraction/README.md`` (never
copied into the repository) and scores both extractors exactly as that README says:
article-extraction-benchmark shingle F1/P/R, trafilatura-eval snippet F1/P/R, date accuracy
(dates.jsonl and metadata.jsonl), title and author exact match (and case-insensitive).
Every page is run through both extractors one after the other, the order alternating from
page to page, so the pages/s ratio is measured under the same machine load.

    .venv/bin/python benchmarks/extraction_quality.py [--data DIR] [--limit N] [--json OUT]
                                                      [--misses OUT]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import trafilatura

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.extraction import EXTRACTOR_VERSION, extract_article  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "extraction"
WARMUP_PAGES = 100  # untimed first: dateparser (inside htmldate) compiles each language's
# patterns on first use, about a second each, which would otherwise land on whichever
# extractor meets that language first


@dataclass
class Prediction:
    text: str = ""
    title: str = ""
    author: str = ""  # several joined by "; ", as in the ground truth
    date: str = ""  # YYYY-MM-DD


@dataclass
class Run:
    name: str
    extract: Callable[[bytes, str], Prediction]
    seconds: float = 0.0  # wall time
    cpu_seconds: float = 0.0  # this process's CPU time: steadier on a shared machine
    crashes: int = 0
    out: dict[str, Prediction] = field(default_factory=dict)


def trafilatura_defaults(body: bytes, url: str) -> Prediction:
    """trafilatura 2.x with its defaults; text as ``extract()`` prints it (body + comments)."""
    doc = trafilatura.bare_extraction(body, url=url, with_metadata=True)
    if doc is None:
        return Prediction()
    text = "\n".join(filter(None, (doc.text, doc.comments)))
    return Prediction(text, doc.title or "", doc.author or "", (doc.date or "")[:10])


def newsarchive(body: bytes, url: str) -> Prediction:
    article = extract_article(body, url)
    if article is None:
        return Prediction()
    return Prediction(article.text, article.title or "", "; ".join(article.authors),
                      (article.published or "")[:10])


# --- scoring (the dataset README's definitions) ---------------------------------------------


def _shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = re.findall(r"\w+", text)
    return Counter(tuple(tokens[i:i + n]) for i in range(max(1, len(tokens) - n + 1)))


def shingle_scores(golds: Iterable[str], preds: Iterable[str]) -> tuple[float, float, float]:
    """Article-extraction-benchmark F1, P, R over pages."""
    precisions, recalls = [], []
    for gold, pred in zip(golds, preds, strict=True):
        g, p = _shingles(gold), _shingles(pred)
        tp = sum((g & p).values())
        fp, fn = sum((p - g).values()), sum((g - p).values())
        total = tp + fp + fn or 1
        tp, fp, fn = tp / total, fp / total, fn / total
        if tp + fp > 0:
            precisions.append(1.0 if fp == fn == 0 else tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(1.0 if fp == fn == 0 else tp / (tp + fn))
    p = sum(precisions) / len(precisions) if precisions else 0.0
    r = sum(recalls) / len(recalls) if recalls else 0.0
    return (2 * p * r / (p + r) if p + r else 0.0), p, r


def snippet_scores(rows: list[dict], preds: list[str]) -> tuple[float, float, float]:
    """trafilatura-eval F1, P, R: `with` snippets found, `without` snippets found."""
    tp = fp = fn = 0
    for row, pred in zip(rows, preds, strict=True):
        text = " ".join(pred.split())
        found = sum(s in text for s in row.get("with", []))
        tp, fn = tp + found, fn + len(row.get("with", [])) - found
        fp += sum(s in text for s in row.get("without", []))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return (2 * tp / (2 * tp + fp + fn) if tp else 0.0), p, r


def exact(golds: list, preds: list[str], fold: bool = False) -> float:
    """Share of exact matches after whitespace normalisation (a list of gold authors is
    joined by "; "; a missing gold value, JSON NaN in one row of dates.jsonl, is "")."""

    def norm(s: object) -> str:
        s = "; ".join(s) if isinstance(s, list) else s if isinstance(s, str) else ""
        s = " ".join(s.split())
        return s.casefold() if fold else s

    return sum(norm(g) == norm(p) for g, p in zip(golds, preds, strict=True)) / len(golds)


# --- running --------------------------------------------------------------------------------


def load_rows(data: Path, limit: int | None) -> dict[str, list[dict]]:
    sets = {}
    for name in ("text", "metadata", "dates"):
        path = data / f"{name}.jsonl"
        if not path.is_file():
            sys.exit(f"{path} not found: give --data the directory of the extraction "
                     "evaluation set (text.jsonl, metadata.jsonl, dates.jsonl, html/)")
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip()]
        sets[name] = rows[:limit] if limit else rows
    return sets


def run_all(data: Path, pages: dict[str, str], runs: list[Run]) -> None:
    """Run every page through every extractor, alternating the order page by page."""
    items = sorted(pages.items())
    for file, url in items[::max(1, len(items) // WARMUP_PAGES)]:  # spread over the languages
        body = gzip.decompress((data / file).read_bytes())
        for run in runs:
            _call(run, body, url)
    for run in runs:
        run.seconds = run.cpu_seconds = run.crashes = 0
    for i, (file, url) in enumerate(items):
        body = gzip.decompress((data / file).read_bytes())
        for run in runs if i % 2 == 0 else runs[::-1]:
            run.out[file] = _call(run, body, url)


def _call(run: Run, body: bytes, url: str) -> Prediction:
    start, cpu = time.perf_counter(), time.process_time()
    try:
        pred = run.extract(body, url)
    except Exception:  # noqa: BLE001 - the README scores a crash as empty output
        pred, run.crashes = Prediction(), run.crashes + 1
    run.seconds += time.perf_counter() - start
    run.cpu_seconds += time.process_time() - cpu
    return pred


def score(sets: dict[str, list[dict]], run: Run) -> dict[str, float]:
    aeb = [r for r in sets["text"] if r["source"] == "article-extraction-benchmark"]
    tev = [r for r in sets["text"] if r["source"] == "trafilatura-eval"]
    meta, dates = sets["metadata"], sets["dates"]

    def preds(rows: list[dict], attr: str) -> list[str]:
        return [getattr(run.out[r["file"]], attr) for r in rows]

    f1, p, r = shingle_scores((r["body"] for r in aeb), preds(aeb, "text"))
    tf1, tp, tr = snippet_scores(tev, preds(tev, "text"))
    return {
        "aeb F1": f1, "aeb P": p, "aeb R": r,
        "trafilatura-eval F1": tf1, "trafilatura-eval P": tp, "trafilatura-eval R": tr,
        "date accuracy (dates.jsonl)": exact([r["date"] for r in dates], preds(dates, "date")),
        "date accuracy (metadata.jsonl)": exact([r["date"] for r in meta], preds(meta, "date")),
        "title exact": exact([r["title"] for r in meta], preds(meta, "title")),
        "title exact, case-insensitive": exact([r["title"] for r in meta],
                                               preds(meta, "title"), fold=True),
        "author exact": exact([r["author"] for r in meta], preds(meta, "author")),
        "author exact, case-insensitive": exact([r["author"] for r in meta],
                                                preds(meta, "author"), fold=True),
        "pages/s (CPU time)": len(run.out) / run.cpu_seconds if run.cpu_seconds else 0.0,
        "pages/s (wall time)": len(run.out) / run.seconds if run.seconds else 0.0,
    }


def write_misses(sets: dict[str, list[dict]], run: Run, path: Path) -> None:
    """One JSON line per metadata.jsonl / dates.jsonl row whose author or date ``run`` got
    wrong (after the same normalisation as :func:`exact`): what to study next. The rows stay
    outside the repository; give a path outside it."""

    def norm(value: object) -> str:
        value = "; ".join(value) if isinstance(value, list) else value
        return " ".join(value.split()) if isinstance(value, str) else ""

    with path.open("w", encoding="utf-8") as out:
        for name, fields in (("metadata", ("author", "date")), ("dates", ("date",))):
            for row in sets[name]:
                pred = run.out[row["file"]]
                for field in fields:
                    if norm(row[field]) != norm(getattr(pred, field)):
                        out.write(json.dumps({"file": name, "id": row["id"], "url": row["url"],
                                              "field": field, "gold": norm(row[field]),
                                              "ours": getattr(pred, field)},
                                             ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="evaluation set directory (default: ../shared/datasets/extraction)")
    parser.add_argument("--limit", type=int, help="first N rows of each file (quick runs)")
    parser.add_argument("--json", type=Path, help="also write the scores here as JSON")
    parser.add_argument("--misses", type=Path,
                        help="write our wrong authors and dates here, one JSON line per row")
    args = parser.parse_args()

    sets = load_rows(args.data, args.limit)
    pages = {r["file"]: r["url"] for rows in sets.values() for r in rows}
    runs = [Run(f"trafilatura {trafilatura.__version__}", trafilatura_defaults),
            Run("newsarchive", newsarchive)]
    print(f"{len(pages)} pages from {args.data}; ours: {EXTRACTOR_VERSION}", file=sys.stderr)
    run_all(args.data, pages, runs)

    scores = {run.name: score(sets, run) for run in runs}
    base, ours = (scores[run.name] for run in runs)
    counts = {"aeb": sum(r["source"] == "article-extraction-benchmark" for r in sets["text"]),
              "trafilatura-eval": sum(r["source"] == "trafilatura-eval" for r in sets["text"])}
    print(f"\narticle-extraction-benchmark: {counts['aeb']} pages, trafilatura-eval: "
          f"{counts['trafilatura-eval']} pages, metadata.jsonl: {len(sets['metadata'])}, "
          f"dates.jsonl: {len(sets['dates'])}; {len(pages)} distinct pages timed\n")
    width = max(map(len, base))
    print(f"| {'metric':<{width}} | {runs[0].name:>17} | {'newsarchive':>11} | ours/base |")
    print(f"|{'-' * (width + 2)}|{'-' * 19}:|{'-' * 12}:|{'-' * 10}:|")
    for key in base:
        ratio = ours[key] / base[key] if base[key] else float("nan")
        fmt = ".1f" if key.startswith("pages/s") else ".3f"
        print(f"| {key:<{width}} | {base[key]:>17{fmt}} | {ours[key]:>11{fmt}} | {ratio:>9.2f} |")
    print(f"\ncrashes: {runs[0].name} {runs[0].crashes}, newsarchive {runs[1].crashes}; "
          f"CPU s: {runs[0].cpu_seconds:.1f} vs {runs[1].cpu_seconds:.1f}; "
          f"wall s: {runs[0].seconds:.1f} vs {runs[1].seconds:.1f}")
    if args.json:
        args.json.write_text(json.dumps(scores, indent=2) + "\n", encoding="utf-8")
    if args.misses:
        write_misses(sets, runs[1], args.misses)


if __name__ == "__main__":
    main()
