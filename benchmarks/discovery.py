#!/usr/bin/env python3
"""Discovery quality (issue 16): how many of the pages a budgeted crawl fetches are articles,
and whether they are the newest ones.

Serves generated news sites (``tests/support/generated_site.py``: one per URL scheme, AMP
twins on some, paginated sections and tags, a feed, a news sitemap and a sitemap, calendar,
facet, session-id and repeating-path traps) and, for each budget, crawls each site in a
fresh process with the project's console script, in two modes:

  url    ``newsarchive crawl URL/ --max-pages B --no-extract --json``: the front page only
  site   ``newsarchive sites add bench --start-url URL/ --feed URL/feed.xml --sitemap
         URL/sitemap.xml`` then ``newsarchive crawl --site bench --max-pages B --no-extract
         --json``: feeds and sitemaps (and those robots.txt announces) are seeds

each with its own data directory (``NEWSARCHIVE_DATA_DIR``), 127.0.0.0/8 allowed and no
page requisites. What was fetched is read back from the catalog: the captures of HTML pages
(response, revisit and 304 records alike) are the pages fetched; the site's ground truth
says which are articles (an AMP twin or a session-id variant is its article) and which
belong to a trap. With ``--baseline REV`` every crawl runs a second time on the project's
code at git revision REV, printed beside it. ``--depth N`` passes ``--depth`` to every crawl
(default: the crawl's own, 2). ``--speed`` and ``--memory`` run the throughput and memory
measurements of ``support/speed.py`` instead.

Run from the repo root:  .venv/bin/python benchmarks/discovery.py [--budgets 200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from support.runs import scratch_dir, snapshot_code, snapshot_revision

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from archive.catalog import Catalog  # noqa: E402
from archive.config import ArchiveSettings  # noqa: E402
from archive.models import Capture  # noqa: E402
from tests.support.generated_site import SCHEMES, TRAPS, GeneratedSite  # noqa: E402

PACKAGES = ("archive", "crawler", "scheduler")
MODES = ("url", "site")
BUDGETS = (50, 200, 1000)
# the sites crawled by default: every scheme, and AMP twins on two of them
VARIANTS = (*SCHEMES, "date_slug+amp", "short_id+amp")
PATH_PAGINATION = ("long_slug", "category_slug", "short_id_story")  # /page/N, others ?page=N
TARGET = 0.90  # issue 16: at 200 pages, >= 90% of fetched pages are articles, the newest
TARGET_BUDGET = 200
SITE_NAME = "bench"


@dataclass
class Run:
    variant: str
    mode: str
    budget: int
    code: str  # "now" or "base"
    seconds: float = 0.0
    fetched: int = 0  # HTML pages archived
    articles: int = 0  # distinct articles among them
    recall: float | None = None  # share of the site's `articles` newest among them
    traps: dict[str, int] = field(default_factory=dict)  # pages fetched per trap
    trap_cap: int = 0  # URLs the crawl's trap cap refused (its JSON summary)
    over_budget: int = 0  # URLs left out by --max-pages (its JSON summary)
    error: str | None = None

    @property
    def per_page(self) -> float | None:
        return self.articles / self.fetched if self.fetched else None


def parse_variant(variant: str) -> tuple[str, bool]:
    """``"short_id+amp"`` → (scheme, AMP twins on); ValueError for anything else."""
    scheme, _, option = variant.partition("+")
    if scheme not in SCHEMES or option not in ("", "amp"):
        raise ValueError(f"unknown site {variant!r}: a URL scheme ({', '.join(SCHEMES)}), "
                         "optionally with +amp")
    return scheme, option == "amp"


def site_for(variant: str, articles: int) -> GeneratedSite:
    scheme, amp = parse_variant(variant)
    return GeneratedSite(scheme, articles=articles, amp=amp,
                         pagination="path" if scheme in PATH_PAGINATION else "query")


def crawl_env(data_dir: Path, code_dir: Path) -> dict[str, str]:
    """The environment of one crawl: no NEWSARCHIVE_* of the caller's, the code snapshot
    first on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSARCHIVE_")}
    env.update(NEWSARCHIVE_DATA_DIR=str(data_dir), NEWSARCHIVE_ALLOWED_NETWORKS="127.0.0.0/8",
               NEWSARCHIVE_REQUISITES="false", NEWSARCHIVE_LOG_LEVEL="WARNING",
               PYTHONPATH=os.pathsep.join(p for p in (str(code_dir), env.get("PYTHONPATH"))
                                          if p))
    return env


def run_crawl(site: GeneratedSite, run: Run, data_dir: Path, code_dir: Path,
              depth: int | None) -> None:
    """One crawl in a fresh process; fills ``run`` from its summary and the catalog."""
    newsarchive = str(Path(sys.executable).parent / "newsarchive")
    env = crawl_env(data_dir, code_dir)
    budget = ["--max-pages", str(run.budget), "--no-extract", "--json",
              *(["--depth", str(depth)] if depth is not None else [])]
    if run.mode == "site":
        subprocess.run([newsarchive, "sites", "add", SITE_NAME, "--start-url", f"{site.url}/",
                        "--feed", f"{site.url}/feed.xml", "--sitemap",
                        f"{site.url}/sitemap.xml"], env=env, check=True, capture_output=True)
        command = [newsarchive, "crawl", "--site", SITE_NAME, *budget]
    else:
        command = [newsarchive, "crawl", f"{site.url}/", *budget]
    site.take_log()
    started = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    run.seconds = time.perf_counter() - started
    (data_dir / "stderr.txt").write_text(proc.stderr)
    if proc.returncode != 0:
        run.error = f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
        return
    summary = json.loads(proc.stdout)
    run.trap_cap = summary["skipped"]["trap_cap"]
    run.over_budget = summary["skipped"]["over_max_pages"]
    score(site, run, fetched_pages(data_dir))


def fetched_pages(data_dir: Path) -> list[str]:
    """The URLs of the HTML pages archived in ``data_dir``'s catalog, one per capture."""
    catalog = Catalog(ArchiveSettings(data_dir=data_dir).database_url, upgrade=False)
    try:
        with catalog.session() as session:
            return [url for url, mime in session.query(Capture.url, Capture.mime)
                    if mime.startswith("text/html")]
    finally:
        catalog.dispose()


def score(site: GeneratedSite, run: Run, pages: list[str]) -> None:
    run.fetched = len(pages)
    found = {article.url for url in pages if (article := site.article_at(url))}
    run.articles = len(found)
    if found:
        newest = {article.url for article in site.articles[:len(found)]}
        run.recall = len(found & newest) / len(found)
    run.traps = dict(Counter(trap for url in pages for trap in site.traps(url)))


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def print_table(runs: list[Run]) -> None:
    traps = " | ".join(TRAPS)
    print(f"\n| site | mode | budget | code | pages fetched | articles | articles/page | "
          f"recall newest N | {traps} | trap_cap | s |")
    print("|---|---|---:|---|---:|---:|---:|---:|" + "---:|" * len(TRAPS) + "---:|---:|")
    for run in runs:
        if run.error:
            print(f"| {run.variant} | {run.mode} | {run.budget} | {run.code} | "
                  f"error: {run.error} |")
            continue
        trap_counts = " | ".join(str(run.traps.get(t, 0)) for t in TRAPS)
        print(f"| {run.variant} | {run.mode} | {run.budget} | {run.code} | {run.fetched} | "
              f"{run.articles} | {percent(run.per_page)} | {percent(run.recall)} | "
              f"{trap_counts} | {run.trap_cap} | {run.seconds:.1f} |")
    target = [r for r in runs if r.budget == TARGET_BUDGET and not r.error]
    if target:
        met = [r for r in target if (r.per_page or 0) >= TARGET and (r.recall or 0) >= TARGET]
        print(f"\ntarget at {TARGET_BUDGET} pages (>= {TARGET:.0%} of fetched pages are "
              f"articles, >= {TARGET:.0%} of them among the newest): met by {len(met)} of "
              f"{len(target)} crawls" + "".join(
                  f"\n  not met: {r.variant} {r.mode} ({r.code}): {percent(r.per_page)} "
                  f"articles, recall {percent(r.recall)}" for r in target if r not in met))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schemes", default=",".join(VARIANTS),
                        help="sites to crawl, comma-separated: a URL scheme "
                             f"({', '.join(SCHEMES)}), optionally +amp (default: %(default)s)")
    parser.add_argument("--budgets", default=",".join(map(str, BUDGETS)),
                        help="--max-pages of the crawls, comma-separated (default: "
                             "%(default)s)")
    parser.add_argument("--modes", default=",".join(MODES),
                        help="url (a start URL), site (a configured site with its feed and "
                             "sitemap); default: %(default)s")
    parser.add_argument("--depth", type=int,
                        help="--depth of the crawls (default: the crawl's own default, 2)")
    parser.add_argument("--articles", type=int, default=600,
                        help="articles per generated site (default: %(default)s)")
    parser.add_argument("--baseline", metavar="REV",
                        help="also run every crawl on the project's code at git revision REV")
    parser.add_argument("--keep", action="store_true",
                        help="keep the scratch directory (catalogs, WARCs, runs.json)")
    parser.add_argument("--speed", action="store_true",
                        help="instead: the throughput comparison (benchmarks/support/speed.py)")
    parser.add_argument("--memory", action="store_true",
                        help="instead: memory over a long crawl (benchmarks/support/speed.py)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if "--speed" in argv or "--memory" in argv:
        try:
            from support import speed  # only these runs need it
        except ImportError as error:
            parser.error(f"--speed and --memory need benchmarks/support/speed.py: {error}")
        speed.add_arguments(parser)
        args = parser.parse_args(argv)
        return speed.run_speed(args) if args.speed else speed.run_memory(args)
    args = parser.parse_args(argv)
    variants = [v for v in args.schemes.split(",") if v]
    modes = [m for m in args.modes.split(",") if m]
    try:
        budgets = [int(b) for b in args.budgets.split(",") if b]
    except ValueError:
        parser.error(f"--budgets takes whole numbers, comma-separated, not {args.budgets!r}")
    if unknown := set(modes) - set(MODES):
        parser.error(f"unknown mode(s) {', '.join(sorted(unknown))}: {', '.join(MODES)}")
    for variant in variants:
        try:
            parse_variant(variant)
        except ValueError as error:
            parser.error(str(error))
    with scratch_dir("discovery-", keep=args.keep) as work:
        codes = {"now": work / "code-now"}
        print(f"code: {', '.join(PACKAGES)} of {REPO} (sha256 "
              f"{snapshot_code(REPO, PACKAGES, codes['now'])})")
        if args.baseline:
            codes["base"] = work / "code-base"
            snapshot_revision(REPO, args.baseline, PACKAGES, codes["base"])
            print(f"baseline: {', '.join(PACKAGES)} at {args.baseline}")
        runs: list[Run] = []
        for variant in variants:
            with site_for(variant, args.articles) as site:
                for mode in modes:
                    for budget in budgets:
                        for code, code_dir in codes.items():
                            run = Run(variant, mode, budget, code)
                            data_dir = work / f"{variant}-{mode}-{budget}-{code}"
                            data_dir.mkdir()
                            run_crawl(site, run, data_dir, code_dir, args.depth)
                            runs.append(run)
                            print(f"  {variant} {mode} {budget} {code}: {run.fetched} pages, "
                                  f"{run.articles} articles, recall {percent(run.recall)}, "
                                  f"{run.seconds:.1f} s" + (f" ({run.error})" if run.error
                                                            else ""), flush=True)
        (work / "runs.json").write_text(json.dumps([asdict(r) for r in runs], indent=1))
        print_table(runs)
    return 1 if any(r.error for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
