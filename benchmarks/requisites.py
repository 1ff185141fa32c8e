#!/usr/bin/env python3
"""Page requisites: pages/s of a static crawl with requisites against without (issue 15).

Generates the Bench Courier site (``--pages`` article pages, as crawl_throughput.py's) where
every page shares one stylesheet, ``/static/site.css`` (which ``url()``s a web font and a
background image), and one logo, ``/static/logo.png``, and has three images of its own;
serves it with nginx (access log on) and crawls the page URLs, given explicitly, with
``newsarchive crawl URL... --depth 0 --no-extract`` (crawl_throughput.py's mode b, same
settings), so that only requisites add fetches; ``--extract`` crawls as shipped instead,
extracting each article in the extraction process (mode c). Modes, in alternating rounds:

  with     NEWSARCHIVE_REQUISITES=true (the default): each page's requisites are fetched,
           every URL once per crawl
  without  NEWSARCHIVE_REQUISITES=false: the pages only

Prints both side by side: pages/s and their ratio (issue 15's target: >= 0.8), requests
served per page and the fetches of each shared requisite per crawl (from nginx's access
log: 1 with, 0 without), what was archived, CPU, peak RSS. ``--profile`` adds one run of
each mode under py-spy and prints where the extra time goes.

Run from the repo root:  .venv/bin/python benchmarks/requisites.py [--pages 2000] [--extract]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from crawl_throughput import REPO, Bench
from support.newssite import Assets, figure_path, generate_site, write_sitemap_and_robots
from support.nginx import Nginx, check_gzip, ensure_nginx
from support.pyspy import PySpy, Samples, find_py_spy, read_samples
from support.runs import median, round_order, scratch_dir, snapshot_code
from support.servers import free_port

PACKAGES = ("archive", "crawler", "scheduler")
MODES = ("with", "without")
SETTING = {"with": "true", "without": "false"}  # NEWSARCHIVE_REQUISITES
STYLESHEET, LOGO = "/static/site.css", "/static/logo.png"
FONT, BACKGROUND = "/static/fonts/courier-serif.woff2", "/static/paper.png"
SHARED = {"stylesheet": STYLESHEET, "logo": LOGO, "font (stylesheet url())": FONT,
          "background (stylesheet url())": BACKGROUND}
FIGURES = 3  # images of each page's own
PY_SPY_RATE = 200  # Hz, support.pyspy.PySpy's
# What a sample of the crawl process was doing: the first phase one of whose functions is on
# the sample's stack (by name, or a name prefix ending in "." or "<").
PHASES = (
    ("Scrapy re-parsing the callback's source (warn_on_generator_with_return_value)",
     ("warn_on_generator_with_return_value",)),
    ("archiving: WarcArchiver's handlers (records, digests, catalog rows)", ("WarcArchiver.",)),
    ("the spider: NewsSpider (parse, page_links, requisites)", ("NewsSpider.",)),
    ("Scrapy: spider output to the scheduler (spider mw, dupefilter, engine.crawl)",
     ("Scraper._process_spidermw_output_async",)),
    ("Scrapy: CONCURRENT_ITEMS worker tasks made and run per response (_parallel_asyncio)",
     ("_parallel_asyncio", "_parallel_asyncio.<")),
    ("Scrapy: spider middlewares' input + calling the callback",
     ("SpiderMiddlewareManager.scrape_response_async",)),
    ("Scrapy: download path (downloader middlewares, handler, signals)",
     ("Downloader._download",)),
    ("network: Twisted TCP reads/writes, wire recording, HTTP parsing",
     ("Connection.doRead", "Connection.doWrite")),
    ("Scrapy: engine and scheduler", ("ExecutionEngine.", "Scheduler.")),
    ("asyncio's event loop itself (innermost frame)",
     ("BaseEventLoop.", "Handle.", "BaseSelectorEventLoop.", "EpollSelector.")),
)

SITE_CSS = f"""@font-face {{
  font-family: "Courier Serif";
  src: url("{FONT}") format("woff2");
  font-display: swap;
}}
body {{ margin: 0; background: #fbf8f1 url({BACKGROUND}) repeat; }}
.article {{ font-family: "Courier Serif", Georgia, serif; }}
.site-header .logo img {{ vertical-align: middle; }}
figure {{ margin: 1.5rem 0; }}
"""


def blob(rng: random.Random, magic: bytes, size: int) -> bytes:
    """``size`` bytes that start like a file of that type and are as incompressible as a
    real image or font (the archive stores such payloads without deflating them)."""
    return magic + rng.randbytes(max(0, size - len(magic)))


def write_site(root: Path, pages: int, seed: int, image_kb: int) -> tuple[list[str], int]:
    """The pages and their requisites; returns the page paths and the bytes of requisites."""
    paths = generate_site(root, pages, seed,
                          Assets(stylesheet=STYLESHEET, logo=LOGO, figures=FIGURES))
    rng = random.Random(seed)
    written = 0

    def write(path: str, body: bytes) -> None:
        # one file at a time: the crawls' ru_maxrss includes this process's peak RSS
        # (Linux keeps it across exec), so the site must not be held in memory here
        nonlocal written
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        written += len(body)

    write(STYLESHEET, SITE_CSS.encode())
    write(LOGO, blob(rng, b"\x89PNG\r\n\x1a\n", 4 * 1024))
    write(FONT, blob(rng, b"wOF2", 28 * 1024))
    write(BACKGROUND, blob(rng, b"\x89PNG\r\n\x1a\n", 9 * 1024))
    low, high = image_kb * 1024 // 2, image_kb * 1024 * 3 // 2  # mean image_kb
    for index in range(pages):
        for number in range(1, FIGURES + 1):
            write(figure_path(index, number),
                  blob(rng, b"\xff\xd8\xff\xe0\x00\x10JFIF", rng.randint(low, high)))
    return paths, written


def crawl(bench: Bench, server: Nginx, mode: str, **kwargs: Any) -> dict[str, Any]:
    """One crawl of ``mode`` (crawl_throughput.py's mode b, or c with ``--extract``; the
    setting as ``mode`` says), with what nginx served meanwhile."""
    position = server.log_position()
    result = bench.run("extract" if bench.args.extract else "archive",
                       env={"NEWSARCHIVE_REQUISITES": SETTING[mode]}, **kwargs)
    served = server.requests_since(position)
    result["mode"] = mode
    result["served"] = len(served)
    result["served_bytes"] = sum(r.bytes_sent for r in served)
    result["served_not_200"] = sum(r.status != 200 for r in served)
    result["fetches"] = Counter(r.path for r in served)
    result["figure_fetches"] = sum(n for path, n in result["fetches"].items()
                                   if path.startswith("/images/"))
    return result


def check(r: dict[str, Any], pages: int) -> list[str]:
    """What is not as it must be in run ``r``."""
    problems = []
    if r["pages"] != pages:
        problems.append(f"{r['pages']} pages parsed, expected {pages}")
    expected = 1 if r["mode"] == "with" else 0
    for name, path in SHARED.items():
        if r["fetches"][path] != expected:
            problems.append(f"{name} {path} fetched {r['fetches'][path]} times, expected "
                            f"{expected}")
    if r["figure_fetches"] != expected * FIGURES * pages:
        problems.append(f"{r['figure_fetches']} page images fetched, expected "
                        f"{expected * FIGURES * pages}")
    if r["served_not_200"]:
        problems.append(f"{r['served_not_200']} responses were not 200")
    requisites = r.get("summary", {}).get("requisites", {})
    if requisites.get("failed"):
        problems.append(f"{requisites['failed']} requisites failed")
    return problems


def row(label: str, values: dict[str, str], ratio: str = "") -> str:
    return f"{label:<46} {values['with']:>16} {values['without']:>16} {ratio:>10}"


def per_crawl(results: dict[str, list[dict[str, Any]]], value: Any) -> dict[str, str]:
    """Each mode's runs' ``value(run)``, joined: one figure per crawl."""
    return {m: ", ".join(str(value(r)) for r in runs) for m, runs in results.items()}


def report(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    print("\nPer run:")
    print(f"  {'mode':<8} {'pages':>6} {'crawl s':>8} {'pages/s':>8} {'steady/s':>8} "
          f"{'served':>7} {'archived':>8} {'req.':>6} {'CPU s':>6} {'nginx':>6} "
          f"{'other':>6} {'RSS MB':>7}")
    for mode, runs in results.items():
        for r in runs:
            requisites = r["summary"].get("requisites", {})
            print(f"  {mode:<8} {r['pages']:>6} {r['crawl_s']:>8.2f} "
                  f"{r['pages'] / r['crawl_s']:>8.1f} {r['pages'] / r['fetch_s']:>8.1f} "
                  f"{r['served']:>7} {r['summary']['pages']:>8} "
                  f"{requisites.get('archived', 0):>6} {r['cpu_tree_s']:>6.1f} "
                  f"{r['nginx_cpu_s']:>6.1f} {r['other_cpu_s']:>6.1f} "
                  f"{r['hwm_self_kb'] / 1024:>7.0f}")

    def med(mode: str, value: Any) -> float:
        return median([value(r) for r in results[mode]])

    def both(value: Any, fmt: str) -> tuple[dict[str, str], float]:
        figures = {m: med(m, value) for m in MODES}
        ratio = figures["with"] / figures["without"] if figures["without"] else float("nan")
        return {m: format(v, fmt) for m, v in figures.items()}, ratio

    rates = {m: [r["pages"] / r["crawl_s"] for r in results[m]] for m in MODES}
    same_round = [a / b for a, b in zip(rates["with"], rates["without"], strict=True)]
    print(f"\nSummary: {args.pages} pages x ({FIGURES} own images of ~{args.image_kb} KB + "
          f"a shared stylesheet (with a font and a background) and logo), {args.rounds} "
          f"round(s), concurrency {args.concurrency}, nginx workers {args.nginx_workers}, "
          f"{'articles extracted (as shipped)' if args.extract else '--no-extract'}; "
          "medians over rounds, ratio = with / without")
    header = row("", {"with": "with requisites", "without": "without"}, "ratio")
    print(header)
    print("-" * len(header))
    values, ratio = both(lambda r: r["pages"] / r["crawl_s"], ".1f")
    print(row("pages/s (pages / crawl s)", values, f"{ratio:.3f}"))
    print(f"{'  same-round ratios':<46} {', '.join(f'{x:.3f}' for x in same_round)}")
    values, ratio = both(lambda r: r["pages"] / r["fetch_s"], ".1f")
    print(row("steady pages/s (spider open -> last response)", values, f"{ratio:.3f}"))
    values, ratio = both(lambda r: r["crawl_s"], ".2f")
    print(row("crawl s", values, f"{ratio:.3f}"))
    values, ratio = both(lambda r: r["served"] / r["pages"], ".3f")
    print(row("requests served per page (nginx)", values, f"{ratio:.2f}"))
    values, ratio = both(lambda r: r["served_bytes"] / r["pages"] / 1024, ".1f")
    print(row("KB served per page (nginx, headers + bodies)", values, f"{ratio:.2f}"))
    for name, path in SHARED.items():
        print(row(f"fetches per crawl: {name}",
                  per_crawl(results, lambda r, p=path: r["fetches"][p])))
    print(row("fetches per crawl: the pages' own images",
              per_crawl(results, lambda r: r["figure_fetches"])))
    print(row("requisites archived/failed per crawl", per_crawl(results, lambda r: (
        f"{r['summary']['requisites'].get('archived', 0)}/"
        f"{r['summary']['requisites'].get('failed', 0)}"))))
    values, ratio = both(lambda r: r["summary"]["pages"], ".0f")
    print(row("responses archived per crawl", values, f"{ratio:.2f}"))
    values, ratio = both(lambda r: r["warc_bytes"] / 1e6, ".1f")
    print(row("WARC MB written per crawl", values, f"{ratio:.2f}"))
    values, ratio = both(lambda r: 1000 * r["cpu_tree_s"] / r["pages"], ".2f")
    print(row("CPU ms per page (crawl process + children, imports)", values, f"{ratio:.2f}"))
    values, ratio = both(lambda r: r["pages"] / r["cpu_tree_s"], ".1f")
    print(row("pages per CPU s (the ratio if CPU-bound)", values, f"{ratio:.3f}"))
    values, ratio = both(lambda r: 1000 * r["nginx_cpu_s"] / r["pages"], ".3f")
    print(row("nginx CPU ms per page", values, f"{ratio:.2f}"))
    print(row("peak RSS MB, crawl process (VmHWM; max of rounds)", {
        m: f"{max(r['hwm_self_kb'] for r in results[m]) / 1024:.0f}" for m in MODES}))
    print(row("other CPU s during a crawl (max; noise)", {
        m: f"{max(r['other_cpu_s'] for r in results[m]):.1f}" for m in MODES}))
    target = "meets" if median(rates["with"]) / median(rates["without"]) >= 0.8 else "misses"
    print(f"\nratio with/without of median pages/s: "
          f"{median(rates['with']) / median(rates['without']):.3f} ({target} the target of "
          f">= 0.8)")


def profiled_crawl(bench: Bench, server: Nginx, mode: str, py_spy: str,
                   out: Path) -> tuple[dict[str, Any], Samples]:
    """One crawl of ``mode`` with py-spy recording the crawl process into ``out``; the
    samples taken while the crawl ran (inside ``CrawlerProcess.start``: no imports, no
    catalog set-up before it)."""
    spies: list[PySpy] = []
    r = crawl(bench, server, mode,
              on_start=lambda pid: spies.append(PySpy(py_spy, pid, 3600, out)))
    if failed := spies[0].finish():
        raise SystemExit(f"py-spy recorded nothing: {failed}")
    return r, read_samples(out, within="CrawlerProcess.start")


def phase_samples(samples: Samples) -> Counter[str]:
    """Samples per PHASES label ("other" for the rest)."""
    counts: Counter[str] = Counter()
    for stack, n in samples.stacks.items():
        label = "other"
        for name, markers in PHASES:
            on_stack = any(f == m or (m[-1] in ".<" and f.startswith(m)) for f in stack
                           for m in markers)
            # the event loop counts only as the innermost frame (it is below everything)
            if name.startswith("asyncio") and stack:
                on_stack = stack[-1].startswith(markers)
            if on_stack:
                label = name
                break
        counts[label] += n
    return counts


def compare_profiles(samples: dict[str, Samples], runs: dict[str, dict[str, Any]],
                     pages: int, top: int) -> None:
    """Where the GIL-holding Python time of the crawl goes, ms per page, with vs without."""
    def ms(n: int) -> float:
        return 1000 * n / PY_SPY_RATE / pages

    with_, without = samples["with"], samples["without"]
    print(f"\npy-spy --gil at {PY_SPY_RATE} Hz, samples inside CrawlerProcess.start: Python "
          f"holding the GIL, ms per page: with {ms(with_.total):.2f}, without "
          f"{ms(without.total):.2f}, added {ms(with_.total - without.total):.2f}; held "
          + ", ".join(f"{100 * samples[m].total / PY_SPY_RATE / runs[m]['crawl_s']:.0f}% of "
                      f"the {m} crawl's wall time" for m in MODES))
    phases = {m: phase_samples(samples[m]) for m in MODES}
    print("  by phase (with / without / added):")
    for label in [label for label, _ in PHASES] + ["other"]:
        a, b = phases["with"][label], phases["without"][label]
        print(f"    {ms(a):7.3f} {ms(b):7.3f} {ms(a - b):+7.3f}  {label}")
    for title, counts in (("own", (with_.own, without.own)),
                          ("inclusive", (with_.inclusive, without.inclusive))):
        print(f"  top {top} functions by {title} time added (with / without / added)"
              + (", leaving out the frames on 90% of the stacks:" if title == "inclusive"
                 else ":"))
        added = Counter({k: counts[0][k] - counts[1][k] for k in counts[0] | counts[1]
                         if counts[0][k] < 0.9 * with_.total})
        for key, n in added.most_common(top):
            print(f"    {ms(counts[0][key]):7.3f} {ms(counts[1][key]):7.3f} {ms(n):+7.3f}  "
                  f"{key}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000, help="article pages (default 2000)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds, each one crawl with and one without (default 3)")
    parser.add_argument("--image-kb", type=int, default=50,
                        help="mean size of a page's own image, KB (default 50; 25-75)")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="CONCURRENT_REQUESTS and _PER_DOMAIN (default 16)")
    parser.add_argument("--nginx-workers", type=int, default=1, choices=(1, 2))
    parser.add_argument("--seed", type=int, default=20261103, help="site generator seed")
    parser.add_argument("--warmup-pages", type=int, default=200,
                        help="pages of an untimed crawl with requisites first (0: none)")
    parser.add_argument("--extract", action="store_true",
                        help="crawl as shipped, extracting articles (crawl_throughput.py's mode "
                             "c) instead of --no-extract (mode b)")
    parser.add_argument("--profile", action="store_true",
                        help="then one more crawl of each mode under py-spy (not counted)")
    parser.add_argument("--py-spy", help="path of py-spy (default: on PATH or beside python)")
    parser.add_argument("--live", action="store_true",
                        help="import the working tree in every run instead of a snapshot")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temp dir (site, WARCs, catalogs, access log)")
    args = parser.parse_args()
    args.extract_workers = 1  # read by crawl_throughput.Bench: as shipped (--extract)
    return args


def main() -> None:
    args = parse_args()
    py_spy = find_py_spy(args.py_spy) if args.profile else None
    if args.profile and py_spy is None:
        raise SystemExit("--profile needs py-spy: `.venv/bin/pip install py-spy` (or --py-spy)")
    nginx_bin = ensure_nginx()
    with scratch_dir("newsarchive-requisites-", keep=args.keep) as work:
        work.chmod(0o755)  # nginx workers run as another user when started by root
        site, prefix = work / "site", work / "nginx"
        site.mkdir()
        prefix.mkdir()
        port = free_port()
        site_url = f"http://127.0.0.1:{port}"
        server = Nginx(nginx_bin, prefix, site, port, args.nginx_workers, access_log=True)
        try:
            measure(args, work, site, site_url, server, py_spy)
        finally:
            server.stop()


def measure(args: argparse.Namespace, work: Path, site: Path, site_url: str, server: Nginx,
            py_spy: str | None) -> None:
    t0 = time.perf_counter()
    paths, requisite_bytes = write_site(site, args.pages, args.seed, args.image_kb)
    write_sitemap_and_robots(site, site_url, paths)
    sizes = [(site / p.lstrip("/")).stat().st_size for p in paths]
    print(f"site: {len(paths)} pages, mean {statistics.mean(sizes) / 1024:.1f} KB of HTML, "
          f"{len(paths) * FIGURES + len(SHARED)} requisites of {requisite_bytes / 1e6:.1f} MB "
          f"in {site} [{time.perf_counter() - t0:.1f} s]")
    code_dir = None
    if not args.live:
        code_dir = work / "code"
        print(f"code: snapshot of {', '.join(PACKAGES)} in {code_dir} "
              f"(sha256 {snapshot_code(REPO, PACKAGES, code_dir)})")
    url_file = work / "urls.txt"
    url_file.write_text("\n".join(site_url + p for p in paths) + "\n")
    server.start()
    check_gzip(site_url)
    print(f"nginx: {site_url}/ (conf {server.conf}, access log {server.access_log})")
    bench = Bench(args, work, site_url, url_file, code_dir, server)
    if args.warmup_pages:
        warm_file = work / "warmup-urls.txt"
        warm_file.write_text("\n".join(site_url + p for p in paths[:args.warmup_pages]))
        bench.url_file = warm_file
        crawl(bench, server, "with", pages_limit=args.warmup_pages)
        bench.url_file = url_file
        print(f"warm-up: crawl of {args.warmup_pages} pages with requisites done")

    results: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
    for rnd in range(args.rounds):
        for mode in round_order(MODES, rnd, reverse_odd=True):
            r = crawl(bench, server, mode)
            results[mode].append(r)
            print(f"round {rnd + 1}/{args.rounds} {mode:<7} {r['pages']} pages in "
                  f"{r['crawl_s']:.2f} s = {r['pages'] / r['crawl_s']:.1f} pages/s, "
                  f"{r['served']} requests served, stylesheet x{r['fetches'][STYLESHEET]}, "
                  f"logo x{r['fetches'][LOGO]}, peak RSS {r['hwm_self_kb'] / 1024:.0f} MB",
                  flush=True)
            for problem in check(r, args.pages):
                print(f"  WARNING: {problem}")
    report(results, args)
    if py_spy:
        samples, runs = {}, {}
        for mode in MODES:
            runs[mode], samples[mode] = profiled_crawl(bench, server, mode, py_spy,
                                                       work / f"py-spy-{mode}.txt")
            r = runs[mode]
            print(f"profiled {mode}: {r['pages']} pages in {r['crawl_s']:.2f} s under py-spy "
                  f"({r['pages'] / r['crawl_s']:.1f} pages/s)")
        compare_profiles(samples, runs, args.pages, top=25)


if __name__ == "__main__":
    main()
