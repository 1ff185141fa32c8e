#!/usr/bin/env python3
"""Browser capture: pages per minute and peak memory with Chromium at 1, 2 and 4 pages at
once, against a static crawl of the same pages; and what the capture check costs a page
(issue 15).

Generates the script-built edition of the Bench Courier (``--pages`` article shells whose
body a shared script builds from a JSON fetch; a shared stylesheet and logo, one image each:
``support.newssite.generate_app_site``), serves it with nginx (access log on) and crawls the
page URLs, given explicitly, with ``newsarchive crawl URL... --depth 0 --render MODE``
(crawl_throughput.py's mode c, extraction included as the CLI ships, or b with
``--no-extract``; same Scrapy settings), page requisites on as shipped. In each round, for
each ``--parallel`` setting P, in alternating order:

  browser-P  ``--render browser`` with NEWSARCHIVE_BROWSER_PAGES=P: every page rendered in
             Chromium (what its script fetches, a screenshot, the rendered DOM)
  static     ``--render static``: the HTTP responses (and the requisites in the HTML) only

so every browser figure has a static crawl of the same round to compare with. Then the
capture check of one browser crawl's job (``newsarchive check --job ID --json``, every HTML
page of it: ``NEWSARCHIVE_CAPTURE_CHECK_MAX_PAGES`` = pages) is timed.

Prints side by side (not a pass/fail test): pages per minute, the ratio to static, the peak
of the summed RSS of the crawl's process tree (the crawl, its extraction worker, Playwright's
driver and every Chromium process, from /proc) and how many pages the browser rendered and
whose script fetched its article; for the check, seconds per page (wall, and CPU of the
check's process tree) and what it found.

Run from the repo root:  .venv/bin/python benchmarks/browser_capture.py [--pages 60]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import statistics
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from crawl_throughput import REPO, Bench
from PIL import Image, ImageDraw, ImageFilter
from support.newssite import (
    APP_SCRIPT_PATH,
    Assets,
    article_json_path,
    figure_path,
    generate_app_site,
)
from support.nginx import Nginx, check_gzip, ensure_nginx
from support.procstat import Measured, run_measured
from support.runs import median, round_order, scratch_dir, snapshot_code
from support.servers import environ_without_settings, free_port

PACKAGES = ("archive", "crawler", "scheduler")
STYLESHEET, LOGO = "/static/site.css", "/static/logo.png"
ASSETS = Assets(stylesheet=STYLESHEET, logo=LOGO, figures=1)
STATIC = "static"
SHARED = {"stylesheet": STYLESHEET, "script": APP_SCRIPT_PATH, "logo": LOGO}
PSS_EVERY = 4  # samples (of 0.25 s): the tree's PSS once a second
SITE_CSS = """body { margin: 0; font: 17px/1.6 Georgia, serif; color: #222; background: #fbf8f1; }
.site-header { display: flex; gap: 1rem; align-items: center; padding: .6rem 1rem;
               border-bottom: 3px solid #1d3557; font: 700 1.3rem system-ui, sans-serif; }
.site-header a { color: #1d3557; text-decoration: none; }
.article { max-width: 42rem; margin: 2rem auto; }
.kicker { color: #c1121f; text-transform: uppercase; font: 700 .8rem system-ui, sans-serif; }
.headline { font: 700 2.3rem/1.15 system-ui, sans-serif; margin: .3rem 0; }
.standfirst { font-size: 1.15rem; color: #444; }
.byline, .dateline { color: #666; font-size: .9rem; margin: .2rem 0; }
figure { margin: 1.5rem 0; } figure img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: .85rem; color: #666; }
.related { max-width: 42rem; margin: 0 auto 2rem; border-top: 1px solid #ccc; }
.site-footer { padding: 1rem; background: #1d3557; color: #fff; }
"""


def photo(rng: random.Random, width: int = 800, height: int = 450) -> bytes:
    """A JPEG that decodes (the browser paints it; the check compares pixels): soft shapes
    on a coloured ground, ~15-30 KB."""
    image = Image.new("RGB", (width, height), tuple(rng.randrange(60, 200) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(14):
        x, y = rng.randrange(width), rng.randrange(height)
        w, h = rng.randrange(40, 300), rng.randrange(30, 200)
        draw.ellipse((x, y, x + w, y + h), fill=tuple(rng.randrange(256) for _ in range(3)))
    out = io.BytesIO()
    image.filter(ImageFilter.GaussianBlur(3)).save(out, format="JPEG", quality=80)
    return out.getvalue()


def write_site(root: Path, pages: int, seed: int) -> list[str]:
    """The pages, their JSON, the script, the stylesheet, the logo and the figures; returns
    the page paths."""
    paths = generate_app_site(root, pages, seed, ASSETS)
    rng = random.Random(seed)
    (root / STYLESHEET.lstrip("/")).write_text(SITE_CSS)
    logo = io.BytesIO()
    Image.new("RGB", (64, 64), (29, 53, 87)).save(logo, format="PNG")
    (root / LOGO.lstrip("/")).write_bytes(logo.getvalue())
    for index in range(pages):
        target = root / figure_path(index, 1).lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(photo(rng))
    (root / "index.html").write_text("<!DOCTYPE html><title>The Bench Courier</title>\n")
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    return paths


def mode_name(parallel: int | None) -> str:
    return STATIC if parallel is None else f"browser-{parallel}"


def crawl(bench: Bench, server: Nginx, args: argparse.Namespace, parallel: int | None, *,
          keep_data: bool = False) -> dict[str, Any]:
    """One ``newsarchive crawl`` of the page URLs: ``--render static`` (``parallel`` None)
    or ``--render browser`` with NEWSARCHIVE_BROWSER_PAGES=``parallel``; with what nginx
    served meanwhile."""
    env = {"NEWSARCHIVE_REQUISITES": "true",  # as shipped (crawl_throughput.py turns it off)
           "NEWSARCHIVE_CAPTURE_CHECK": "false",  # timed on its own, below
           "NEWSARCHIVE_CHROMIUM": args.chromium}
    if parallel is not None:
        env["NEWSARCHIVE_BROWSER_PAGES"] = str(parallel)
    position = server.log_position()
    result = bench.run("extract" if args.extract else "archive", env=env,
                       render=STATIC if parallel is None else "browser", keep_data=keep_data,
                       pss_every=PSS_EVERY)
    served = server.requests_since(position)
    paths = Counter(r.path for r in served)
    result.update(mode=mode_name(parallel), parallel=parallel, served=len(served),
                  served_not_200=sum(r.status != 200 for r in served),
                  json_fetches=sum(n for p, n in paths.items() if p.startswith("/api/")),
                  figure_fetches=sum(n for p, n in paths.items() if p.startswith("/images/")),
                  shared_fetches={name: paths[path] for name, path in SHARED.items()})
    return result


def check_crawl(r: dict[str, Any], pages: int) -> list[str]:
    """What is not as it must be in crawl ``r``."""
    problems = []
    summary = r["summary"]
    browser = summary.get("browser", {})
    if r["pages"] != pages:
        problems.append(f"{r['pages']} pages parsed, expected {pages}")
    if summary.get("errors"):
        problems.append(f"{summary['errors']} errors: "
                        + "; ".join(f"{f.get('error')} {f.get('url')}"
                                    for f in r.get("failures", [])[:3]))
    if r["served_not_200"]:
        problems.append(f"nginx answered {r['served_not_200']} requests with an error")
    for name, fetched in r["shared_fetches"].items():
        if fetched != 1:
            problems.append(f"the shared {name} was fetched {fetched} times (once per crawl "
                            "is meant)")
    if r["parallel"] is None:
        if browser.get("pages") or r["json_fetches"]:
            problems.append(f"a static crawl rendered {browser.get('pages')} pages and "
                            f"fetched {r['json_fetches']} article JSONs")
        return problems
    if browser.get("unavailable"):
        problems.append(f"browser unavailable: {browser['unavailable']}")
    if browser.get("pages") != pages:
        problems.append(f"{browser.get('pages')} of {pages} pages rendered in Chromium, "
                        f"{browser.get('static')} captured statically instead")
    if r["json_fetches"] != pages:
        problems.append(f"{r['json_fetches']} article JSONs fetched, expected {pages} (one "
                        "per page whose script ran)")
    if r["figure_fetches"] != pages:
        problems.append(f"{r['figure_fetches']} figures fetched, expected {pages}")
    if browser.get("blocked"):
        problems.append(f"{browser['blocked']} requests blocked by the address guard")
    return problems


def run_check(args: argparse.Namespace, bench: Bench, work: Path,
              r: dict[str, Any]) -> tuple[Measured, list[dict[str, Any]]]:
    """``newsarchive check --job ID --json`` on browser crawl ``r``'s data, every page."""
    exe = Path(sys.executable).with_name("newsarchive")
    env = environ_without_settings()
    env.update(NEWSARCHIVE_DATA_DIR=r["data_dir"], NEWSARCHIVE_ALLOWED_NETWORKS="127.0.0.0/8",
               NEWSARCHIVE_CAPTURE_CHECK_MAX_PAGES=str(args.pages),
               NEWSARCHIVE_CHROMIUM=args.chromium,
               NEWSARCHIVE_CONFIG=str(work / "no-such-newsarchive.toml"))
    if bench.code_dir:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(bench.code_dir), os.environ.get("PYTHONPATH")) if p)
    out_path, err_path = work / "check.stdout", work / "check.stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        run = run_measured([str(exe), "check", "--job", str(r["summary"]["job_id"]), "--json"],
                           cwd=REPO, env=env, stdout=out, stderr=err, pss_every=PSS_EVERY)
    if run.returncode != 0:
        raise RuntimeError(f"newsarchive check failed (exit {run.returncode}):\n"
                           + err_path.read_text(errors="replace")[-3000:])
    return run, json.loads(out_path.read_text())


def mb(kb: float) -> str:
    return f"{kb / 1024:.0f}"


def chromium_kb(peak_comm_kb: dict[str, int]) -> int:
    """The peak summed RSS of the Chromium processes (their command names)."""
    return sum(kb for name, kb in peak_comm_kb.items() if "chrom" in name.lower())


def groups(by_comm: dict[str, float]) -> dict[str, float]:
    """Figures by command name summed into the processes of a browser crawl: Chromium,
    Playwright's driver (node), Python (the crawl, its extraction worker) and the rest."""
    out = dict.fromkeys(("chromium", "node", "python", "other"), 0.0)
    for name, value in by_comm.items():
        key = ("chromium" if "chrom" in name.lower() else "node" if name.startswith("node")
               else "python" if name.startswith(("python", "newsarchive")) else "other")
        out[key] += value
    return out


def cpu_bounds(r: dict[str, Any]) -> tuple[float, float]:
    """CPU seconds of a crawl: (its process tree, each process as last sampled: a lower
    bound; the whole machine's less nginx's, noise included: an upper bound)."""
    return r["cpu_sampled_s"], r["busy_cpu_s"] - r["nginx_cpu_s"]


def report(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    print("\nPer run:")
    print(f"  {'mode':<10} {'pages':>5} {'rendered':>8} {'JSON':>5} {'shared':>6} "
          f"{'crawl s':>8} {'wall s':>7} {'pages/min':>9} {'archived':>8} {'tree MB':>7} "
          f"{'chromium':>8} {'PSS MB':>6} {'procs':>5} {'CPU s':>11} {'other':>6}")
    for mode, runs in results.items():
        for r in runs:
            low, high = cpu_bounds(r)
            shared = "/".join(str(n) for n in r["shared_fetches"].values())
            print(f"  {mode:<10} {r['pages']:>5} {r['summary']['browser'].get('pages', 0):>8} "
                  f"{r['json_fetches']:>5} {shared:>6} {r['crawl_s']:>8.2f} "
                  f"{r['wall_s']:>7.2f} {60 * r['pages'] / r['crawl_s']:>9.1f} "
                  f"{r['summary']['pages']:>8} {mb(r['peak_tree_kb']):>7} "
                  f"{mb(chromium_kb(r['peak_comm_kb'])):>8} {mb(r['peak_tree_pss_kb']):>6} "
                  f"{r['peak_processes']:>5} {f'{low:.1f}-{high:.1f}':>11} "
                  f"{high - low:>6.1f}")
    print("  (JSON: article JSONs nginx served, one per page whose script ran; shared: "
          "fetches of the stylesheet/script/logo; CPU s: the crawl's tree as sampled - the "
          "machine's less nginx; other: the difference, mostly other people's work)")
    print("  CPU s per page by process (as sampled): " + "; ".join(
        f"{mode} " + ", ".join(f"{k} {v / r['pages']:.2f}" for k, v in
                               groups(r["cpu_sampled_by_comm"]).items() if v)
        for mode, runs in results.items() for r in runs[:1]))

    print(f"\nSummary: {args.pages} script-built pages (JSON body, shared stylesheet, script "
          f"and logo, one image each), {args.rounds} round(s), extraction "
          f"{'on' if args.extract else 'off'}, concurrency {args.concurrency}; medians over "
          "rounds; ratio = browser / static pages per minute of the same round")
    header = (f"{'':<27} {'pages/min':>9} {'(wall)':>7} {'static':>7} {'ratio':>6} "
              f"{'peak RSS MB':>11} {'chromium':>8} {'rest':>5} {'PSS MB':>6} "
              f"{'CPU s/page':>10} {'rendered':>8}")
    print(header)
    print("-" * len(header))
    statics = results[STATIC]
    for mode, runs in results.items():
        rates = [60 * r["pages"] / r["crawl_s"] for r in runs]
        walls = [60 * r["pages"] / r["wall_s"] for r in runs]
        peak = max(r["peak_tree_kb"] for r in runs)
        chromium = max(chromium_kb(r["peak_comm_kb"]) for r in runs)
        pss = max(r["peak_tree_pss_kb"] for r in runs)
        low = median([cpu_bounds(r)[0] / r["pages"] for r in runs])
        high = median([cpu_bounds(r)[1] / r["pages"] for r in runs])
        rendered = f"{min(r['summary']['browser'].get('pages', 0) for r in runs)}/{args.pages}"
        if mode == STATIC:
            label, paired, ratio, same = "static (--render static)", "", "", []
        else:
            label = f"browser, {runs[0]['parallel']} page(s) at once"
            pairs = [(r, s) for r in runs for s in statics
                     if s["round"] == r["round"] and s["pair"] == r["parallel"]]
            same = [(r["pages"] / r["crawl_s"]) / (s["pages"] / s["crawl_s"])
                    for r, s in pairs]
            paired = f"{median([60 * s['pages'] / s['crawl_s'] for _, s in pairs]):.0f}"
            ratio = f"{median(same):.3f}"
        print(f"{label:<27} {median(rates):>9.1f} {median(walls):>7.1f} {paired:>7} "
              f"{ratio:>6} {mb(peak):>11} {mb(chromium):>8} {mb(peak - chromium):>5} "
              f"{mb(pss):>6} {f'{low:.2f}-{high:.2f}':>10} {rendered:>8}"
              + (f"  (rounds {', '.join(f'{x:.3f}' for x in same)})" if len(same) > 1 else ""))
    print("pages/min = pages / crawl s (run_crawl: catalog, reactor, Chromium's start, every "
          "page, closing the WARC); (wall) = the whole command, interpreter start-up and "
          "imports included; static = the paired static crawls'. peak RSS MB = peak of the "
          "summed RSS of the crawl's process tree, sampled every 0.25 s (pages shared between "
          "Chromium's processes counted in each); chromium = the peak of its processes' sum, "
          "rest = peak - chromium; PSS MB = peak of the tree's summed PSS (shared pages split, "
          "sampled every 1 s): the memory the crawl takes. CPU s/page: lower - upper bound "
          "(per run above).")


def report_check(run: Measured, reports: list[dict[str, Any]], r: dict[str, Any]) -> None:
    n = len(reports)
    stamps = sorted(datetime.fromisoformat(x["check"]["checked_at"]) for x in reports)
    steady = ((stamps[-1] - stamps[0]).total_seconds() / (n - 1)) if n > 1 else float("nan")
    diffs = [x["check"]["pixel_diff"] for x in reports if x["check"]["pixel_diff"] is not None]
    against = Counter(x["check"]["compared_with"] for x in reports)
    failed = Counter(f["reason"] for x in reports for f in x["check"]["failed_resources"])
    errors = Counter(x["check"]["error"] for x in reports if x["check"]["error"])
    incomplete = sum(x["check"]["incomplete"] for x in reports)
    per = max(n, 1)
    print(f"\nCapture check: `newsarchive check --job {r['summary']['job_id']} --json` on the "
          f"{r['mode']} crawl of round {r['round'] + 1}, {n} page(s) checked")
    rows = (
        ("wall s, whole command", f"{run.wall_s:.1f}"),
        ("wall s per page (whole command / pages)", f"{run.wall_s / per:.2f}"),
        ("wall s per page, steady (first to last check stored)", f"{steady:.2f}"),
        ("CPU s per page: the check's process tree as sampled - the whole machine",
         f"{run.sampler.sampled_cpu_s / per:.2f} - {run.busy_s / per:.2f}"),
        ("  of the sampled: by process", ", ".join(
            f"{k} {v / per:.2f}" for k, v in groups(run.sampler.sampled_cpu_by_comm).items()
            if v)),
        ("  (wait4's figure, which misses the Chromium processes not reaped in the tree)",
         f"{run.cpu_s / per:.2f}"),
        ("peak RSS MB of the tree (of it Chromium); peak PSS MB",
         f"{mb(run.sampler.peak_tree_kb)} ({mb(chromium_kb(run.sampler.peak_comm_kb))}); "
         f"{mb(run.sampler.peak_tree_pss_kb)}"),
        ("compared with", ", ".join(f"{k} {v}" for k, v in against.items())),
        ("pixel difference median / max",
         f"{statistics.median(diffs):.2%} / {max(diffs):.2%}" if diffs else "-"),
        ("pages incomplete (the check's verdict: failed resources or pixels)",
         f"{incomplete}"),
        ("failed resources by reason", ", ".join(f"{k}: {v}" for k, v in failed.items())
         or "none"),
        ("errors", "; ".join(f"{k} (x{v})" for k, v in errors.items()) or "none"),
    )
    for label, value in rows:
        print(f"  {label:<72} {value}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=60, help="article pages (default 60)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds, each a browser and a static crawl per --parallel "
                        "setting (default 1)")
    parser.add_argument("--parallel", type=lambda v: [int(x) for x in v.split(",")],
                        default=[1, 2, 4],
                        help="NEWSARCHIVE_BROWSER_PAGES settings (default 1,2,4)")
    parser.add_argument("--check-parallel", type=int, default=2,
                        help="check the browser crawl of this setting in the last round "
                        "(default 2, as shipped; 0: no check)")
    parser.add_argument("--no-extract", dest="extract", action="store_false",
                        help="crawl with --no-extract (default: extraction on, as the CLI)")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="CONCURRENT_REQUESTS and _PER_DOMAIN (default 16)")
    parser.add_argument("--nginx-workers", type=int, default=1, choices=(1, 2))
    parser.add_argument("--chromium", default=os.environ.get("NEWSARCHIVE_CHROMIUM")
                        or shutil.which("chromium") or "/usr/bin/chromium",
                        help="Chromium executable (default: NEWSARCHIVE_CHROMIUM, chromium)")
    parser.add_argument("--seed", type=int, default=20261103, help="site generator seed")
    parser.add_argument("--warmup-pages", type=int, default=4,
                        help="pages of an untimed browser crawl first (0: none)")
    parser.add_argument("--live", action="store_true",
                        help="import the working tree in every run instead of a snapshot")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temp dir (site, WARCs, catalogs, access log)")
    args = parser.parse_args()
    args.extract_workers = 1  # read by crawl_throughput.Bench: as shipped
    if args.check_parallel and args.check_parallel not in args.parallel:
        parser.error(f"--check-parallel {args.check_parallel} is not in --parallel")
    return args


def main() -> None:
    args = parse_args()
    nginx_bin = ensure_nginx()
    with scratch_dir("newsarchive-browser-", keep=args.keep) as work:
        work.chmod(0o755)  # nginx workers run as another user when started by root
        site, prefix = work / "site", work / "nginx"
        site.mkdir()
        prefix.mkdir()
        port = free_port()
        server = Nginx(nginx_bin, prefix, site, port, args.nginx_workers, access_log=True)
        try:
            measure(args, work, site, f"http://127.0.0.1:{port}", server)
        finally:
            server.stop()


def measure(args: argparse.Namespace, work: Path, site: Path, site_url: str,
            server: Nginx) -> None:
    t0 = time.perf_counter()
    paths = write_site(site, args.pages, args.seed)
    shell = statistics.mean((site / p.lstrip("/")).stat().st_size for p in paths)
    body = statistics.mean((site / article_json_path(i).lstrip("/")).stat().st_size
                           for i in range(args.pages))
    print(f"load average at the start: {os.getloadavg()[0]:.2f} (1 min), "
          f"{os.cpu_count()} cores")
    print(f"site: {len(paths)} script-built pages (shell {shell / 1024:.1f} KB, article JSON "
          f"{body / 1024:.1f} KB mean) in {site} [{time.perf_counter() - t0:.1f} s]; "
          f"Chromium {args.chromium}")
    code_dir = None
    if not args.live:
        code_dir = work / "code"
        print(f"code: snapshot of {', '.join(PACKAGES)} in {code_dir} "
              f"(sha256 {snapshot_code(REPO, PACKAGES, code_dir)})")
    url_file = work / "urls.txt"
    url_file.write_text("\n".join(site_url + p for p in paths) + "\n")
    (site / "sitemap.xml").write_text("<?xml version=\"1.0\"?><urlset/>\n")  # for check_gzip
    server.start()
    check_gzip(site_url)
    print(f"nginx: {site_url}/ (conf {server.conf}, access log {server.access_log})")
    bench = Bench(args, work, site_url, url_file, code_dir, server)
    if args.warmup_pages:
        warm_file = work / "warmup-urls.txt"
        warm_file.write_text("\n".join(site_url + p for p in paths[:args.warmup_pages]))
        bench.url_file = warm_file
        bench.args.pages, pages = args.warmup_pages, args.pages
        try:
            crawl(bench, server, args, 1)
        finally:
            bench.url_file, bench.args.pages = url_file, pages
        print(f"warm-up: browser crawl of {args.warmup_pages} pages done")

    results: dict[str, list[dict[str, Any]]] = {mode_name(p): [] for p in args.parallel}
    results[STATIC] = []
    checked: dict[str, Any] | None = None
    step = 0
    for rnd in range(args.rounds):
        for parallel in round_order(args.parallel, rnd, rotate=True):
            for mode in round_order([parallel, None], step, reverse_odd=True):
                step += 1
                keep = (rnd == args.rounds - 1 and mode is not None
                        and mode == args.check_parallel)
                r = crawl(bench, server, args, mode, keep_data=keep)
                r["round"], r["pair"] = rnd, parallel
                results[mode_name(mode)].append(r)
                if keep:
                    checked = r
                print(f"round {rnd + 1}/{args.rounds} {r['mode']:<10} {r['pages']} pages in "
                      f"{r['crawl_s']:.1f} s = {60 * r['pages'] / r['crawl_s']:.0f} pages/min, "
                      f"{r['summary']['browser'].get('pages', 0)} rendered, "
                      f"{r['json_fetches']} article JSONs fetched, peak tree RSS "
                      f"{mb(r['peak_tree_kb'])} MB", flush=True)
                for problem in check_crawl(r, args.pages):
                    print(f"  WARNING: {problem}")
    report(results, args)
    if checked is not None:
        run, reports = run_check(args, bench, work, checked)
        report_check(run, reports, checked)
        if not args.keep:
            shutil.rmtree(checked["data_dir"], ignore_errors=True)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (1 min); whole run "
          f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
