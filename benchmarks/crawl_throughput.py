#!/usr/bin/env python3
"""Crawl throughput: plain Scrapy vs ``newsarchive crawl`` (archiving, then + extraction).

Generates a deterministic local news site (``--pages`` article pages of ~15-40 KB HTML with
navigation, byline, JSON-LD and varied prose, plus ``sitemap.xml`` and ``robots.txt``), serves
it with nginx on 127.0.0.1 (gzip on), and crawls it in fresh subprocesses, in one invocation:

  plain    (a) the project's ``news`` spider in a bare CrawlerProcess with
               NEWSARCHIVE_ARCHIVE=False and NEWSARCHIVE_EXTRACT=False: no archiving at all
  archive  (b) ``newsarchive crawl --sitemap URL --depth 0 --no-extract``
  extract  (c) ``newsarchive crawl --sitemap URL --depth 0`` (extraction in the process pool)
  stock    (optional, ``--stock``) the real ``.venv/bin/newsarchive crawl --no-extract`` with
               the shipped settings (AutoThrottle on, 4 requests per domain)
  base     (optional, ``--baseline REV``) (b) on the project's code at git revision REV, in
               the same rounds: what a change costs (e.g. ``--baseline main``)

(a)-(c) use the same Scrapy settings (AUTOTHROTTLE_ENABLED=False, ROBOTSTXT_OBEY as shipped,
CONCURRENT_REQUESTS = CONCURRENT_REQUESTS_PER_DOMAIN = ``--concurrency``, LOG_LEVEL=WARNING)
and the same download handler and DNS resolver; the only difference is the archiving (and
extraction) extensions. ``newsarchive crawl`` has no option for Scrapy settings, so (b) and
(c) run the CLI in-process from this script (``scheduler.cli.app``, exactly what the console
script calls) with ``crawler.runner.run_crawl`` wrapped to merge those settings into the
overrides the CLI passes, and to time the call.

Timing, per run (see benchmarks/README.md): ``crawl`` is the wall time of the crawl call
(``run_crawl`` for the CLI modes, CrawlerProcess creation + ``start()`` for plain), i.e.
everything after the imports: job row, catalog migrations, reactor, fetching, draining the
extraction pool, closing and storing the WARC. Interpreter start-up and imports are
reported separately (``overhead`` = subprocess wall time - crawl). ``steady`` is
pages / (spider_opened -> last response), which leaves out fixed set-up and tear-down.

Run from the repo root:  .venv/bin/python benchmarks/crawl_throughput.py [--pages 2000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import resource
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.newssite import generate_site, write_sitemap_and_robots
from support.nginx import Nginx, check_gzip, ensure_nginx
from support.procstat import run_measured
from support.runs import median, round_order, scratch_dir, snapshot_code, snapshot_revision
from support.servers import free_port

REPO = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve()
PACKAGES = ("archive", "crawler", "scheduler")  # snapshot for the runs (--live: none)
MODES = ("plain", "archive", "extract")
LABELS = {
    "plain": "a plain Scrapy (no archiving)",
    "archive": "b newsarchive crawl --no-extract",
    "extract": "c newsarchive crawl (+extraction)",
    "stock": "s newsarchive crawl, shipped settings",
    "base": "r (b) at the --baseline revision",
}

# =====================================================================================
# Child side: one crawl in this (fresh) process
# =====================================================================================

TIMES: dict[str, Any] = {"responses": 0, "pages_parsed": 0}
GC: dict[str, Any] = {"s": 0.0, "collections": [0, 0, 0], "started": 0.0}


def _gc_clock(phase: str, info: dict[str, int]) -> None:
    """gc.callbacks hook: time spent in collections, per generation, during the crawl."""
    if phase == "start":
        GC["started"] = time.perf_counter()
    else:
        GC["s"] += time.perf_counter() - GC["started"]
        GC["collections"][info["generation"]] += 1


class BenchTimer:
    """Scrapy extension (added in every mode) recording when things happen."""

    def __init__(self, crawler: Any) -> None:
        from scrapy import signals

        from crawler import signals as na_signals

        self.crawler = crawler
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.response_received, signal=signals.response_received)
        crawler.signals.connect(self.page_parsed, signal=na_signals.page_parsed)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.engine_stopped, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Any) -> BenchTimer:
        return cls(crawler)

    def spider_opened(self, spider: Any) -> None:
        TIMES["spider_opened"] = time.perf_counter()

    def response_received(self, response: Any, request: Any, spider: Any) -> None:
        now = time.perf_counter()
        TIMES.setdefault("first_response", now)
        TIMES["last_response"] = now
        TIMES["responses"] += 1

    def page_parsed(self, response: Any, metadata: Any) -> None:
        TIMES["pages_parsed"] += 1

    def spider_closed(self, spider: Any) -> None:
        TIMES["spider_closed"] = time.perf_counter()

    def engine_stopped(self) -> None:
        TIMES["engine_stopped"] = time.perf_counter()
        TIMES["stats"] = {k: (v.isoformat() if hasattr(v, "isoformat") else v)
                          for k, v in self.crawler.stats.get_stats().items()}


def child_main(args: argparse.Namespace) -> None:
    t_start = time.perf_counter()
    # The heavy imports happen before the clock starts, in every mode alike. Not the
    # extensions: article_extractor imports twisted.internet.reactor, which would install
    # the default reactor before Scrapy installs the asyncio one.
    import crawler.extraction
    import crawler.runner
    import crawler.settings as project_settings
    import crawler.spiders.news
    from scheduler.cli import app

    assert "twisted.internet.reactor" not in sys.modules, "a reactor was installed too early"

    t_ready = time.perf_counter()
    code = str(Path(crawler.runner.__file__).resolve().parent.parent)
    if args.child == "noop":
        write_result(args, {"mode": "noop", "import_s": t_ready - t_start, "code": code})
        return
    urls = Path(args.url_file).read_text().split() if args.url_file else []
    sitemaps = [args.sitemap] if args.sitemap else []
    common = {
        "AUTOTHROTTLE_ENABLED": False,
        "CONCURRENT_REQUESTS": args.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
        "LOG_LEVEL": "WARNING",
        "EXTENSIONS": {**project_settings.EXTENSIONS, "__main__.BenchTimer": 900},
    }
    profiler = None
    if args.cprofile:
        import cProfile

        profiler = cProfile.Profile()
    result: dict[str, Any] = {"mode": args.child, "import_s": t_ready - t_start, "code": code}

    gc.callbacks.append(_gc_clock)
    if args.child == "plain":
        from scrapy.crawler import CrawlerProcess

        from crawler.spiders.news import NewsSpider

        t0 = time.perf_counter()
        if profiler:
            profiler.enable()
        settings = crawler.runner.crawl_settings(
            {**common, "NEWSARCHIVE_ARCHIVE": False, "NEWSARCHIVE_EXTRACT": False})
        process = CrawlerProcess(settings)
        process.crawl(process.create_crawler(NewsSpider), urls=urls, sitemaps=sitemaps,
                      depth=0, max_pages=args.max_pages)
        process.start()
        if profiler:
            profiler.disable()
        t1 = time.perf_counter()
    else:
        original = crawler.runner.run_crawl
        calls: dict[str, Any] = {}

        def timed_run_crawl(spec: Any, overrides: dict[str, Any] | None = None,
                            on_progress: Any = None, **kwargs: Any) -> Any:
            calls["t0"] = time.perf_counter()
            if profiler:
                profiler.enable()
            try:
                summary = original(spec, {**(overrides or {}), **common}, on_progress,
                                   **kwargs)
            finally:
                if profiler:
                    profiler.disable()
                calls["t1"] = time.perf_counter()
            calls["summary"] = summary
            return summary

        crawler.runner.run_crawl = timed_run_crawl
        cli_args = ["crawl", *urls, "--depth", "0", "--max-pages", str(args.max_pages),
                    "--json"]
        for sitemap in sitemaps:
            cli_args += ["--sitemap", sitemap]
        if args.child == "archive":
            cli_args.append("--no-extract")
        if args.render:
            cli_args += ["--render", args.render]
        code = app(args=cli_args, prog_name="newsarchive", standalone_mode=False)
        result["exit_code"] = code or 0
        t0, t1 = calls["t0"], calls["t1"]
        summary = calls["summary"]
        result["summary"] = {k: v for k, v in summary.to_dict().items()
                             if k not in ("stats", "failures")}
        result["failures"] = summary.failures[:10]

    if profiler:
        profiler.dump_stats(args.cprofile)
    self_ru = resource.getrusage(resource.RUSAGE_SELF)
    children_ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    stats = TIMES.get("stats", {})
    result.update({
        "crawl_s": t1 - t0,
        "setup_s": TIMES.get("spider_opened", t1) - t0,
        "fetch_s": TIMES.get("last_response", t1) - TIMES.get("spider_opened", t0),
        "drain_s": t1 - TIMES.get("last_response", t1),
        "scrapy_elapsed_s": stats.get("elapsed_time_seconds"),
        "responses": TIMES["responses"],
        "pages": TIMES["pages_parsed"],
        "status_200": stats.get("downloader/response_status_count/200", 0),
        "response_bytes": stats.get("downloader/response_bytes", 0),
        "warc_bytes": stats.get("warc/bytes_written", 0),
        "warc_responses": stats.get("warc/responses", 0),
        "articles": stats.get("extraction/articles", 0),
        "finish_reason": stats.get("finish_reason"),
        "cpu_user_s": self_ru.ru_utime, "cpu_sys_s": self_ru.ru_stime,
        "maxrss_self_kb": self_ru.ru_maxrss, "maxrss_children_kb": children_ru.ru_maxrss,
        "gc_s": GC["s"], "gc_collections": GC["collections"],
    })
    write_result(args, result)


def write_result(args: argparse.Namespace, result: dict[str, Any]) -> None:
    Path(args.result).write_text(json.dumps(result, indent=2, default=str))


# =====================================================================================
# Parent side
# =====================================================================================


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path, site_url: str,
                 url_file: Path | None, code_dir: Path | None, server: Nginx) -> None:
        self.args, self.work, self.site_url, self.url_file = args, work, site_url, url_file
        self.server = server
        self.code_dir = code_dir
        self.baseline_dir: Path | None = None
        self.serial = 0

    def run(self, mode: str, *, pages_limit: int | None = None,
            cprofile: Path | None = None, env: dict[str, str] | None = None,
            on_start: Callable[[int], None] | None = None, render: str | None = None,
            keep_data: bool = False, pss_every: int = 0) -> dict[str, Any]:
        """One crawl of ``mode`` in a fresh subprocess; ``env`` adds to its environment
        (e.g. a NEWSARCHIVE_* setting), ``on_start`` is called with its pid once started,
        ``render`` is the CLI modes' ``--render``. ``keep_data``: its data directory (catalog,
        WARCs) stays, as ``result["data_dir"]``, for what is run on it next. ``pss_every``:
        the tree's PSS too, every n-th sample (``TreeMemorySampler``)."""
        if mode == "base":  # (b) on the baseline revision's code
            code_dir, self.code_dir = self.code_dir, self.baseline_dir
            try:
                return {**self.run("archive", pages_limit=pages_limit, env=env,
                                   on_start=on_start, render=render, keep_data=keep_data,
                                   pss_every=pss_every),
                        "mode": "base"}
            finally:
                self.code_dir = code_dir
        self.serial += 1
        run_dir = self.work / f"run-{self.serial:02d}-{mode}"
        run_dir.mkdir()
        extra_env = env or {}
        # Requisites off unless ``env`` says otherwise: the pages refer to a stylesheet, a
        # logo and figures the site does not have (404s); requisites.py measures requisites.
        env = {**os.environ, "NEWSARCHIVE_DATA_DIR": str(run_dir / "data"),
               "NEWSARCHIVE_ALLOWED_NETWORKS": "127.0.0.0/8",
               "NEWSARCHIVE_EXTRACT_WORKERS": str(self.args.extract_workers),
               "NEWSARCHIVE_REQUISITES": "false", **extra_env}
        env.pop("NEWSARCHIVE_LOG_LEVEL", None)
        if self.code_dir:
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(self.code_dir), os.environ.get("PYTHONPATH")) if p)
        max_pages = (pages_limit or self.args.pages) + 10
        result_file = run_dir / "result.json"
        if mode == "stock":
            newsarchive = Path(sys.executable).with_name("newsarchive")
            cmd = [str(newsarchive), "crawl", "--depth", "0", "--max-pages", str(max_pages),
                   "--no-extract", "--json"]
            cmd += (["--sitemap", f"{self.site_url}/sitemap.xml"] if not self.url_file
                    else self.url_file.read_text().split())
            cmd += ["--render", render] if render else []
        else:
            cmd = [sys.executable, str(SCRIPT), "--child", mode, "--result", str(result_file),
                   "--concurrency", str(self.args.concurrency), "--max-pages", str(max_pages)]
            if self.url_file:
                cmd += ["--url-file", str(self.url_file)]
            else:
                cmd += ["--sitemap", f"{self.site_url}/sitemap.xml"]
            if cprofile:
                cmd += ["--cprofile", str(cprofile)]
            if render:
                cmd += ["--render", render]
        with (run_dir / "stdout").open("wb") as out, (run_dir / "stderr").open("wb") as errf:
            nginx0 = self.server.cpu_s()
            run = run_measured(cmd, cwd=REPO, env=env, stdout=out, stderr=errf,
                               on_start=on_start, pss_every=pss_every)
            nginx_cpu = self.server.cpu_s() - nginx0
        sampler, rusage, pid = run.sampler, run.rusage, run.sampler.pid
        if run.returncode != 0:
            tail = (run_dir / "stderr").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{mode} run failed (exit {run.returncode}):\n{tail}")
        if mode == "stock":
            summary = json.loads((run_dir / "stdout").read_text())
            extra = 1 if self.url_file else 2  # robots.txt (+ sitemap.xml)
            result = {"mode": mode, "summary": summary, "pages": summary["pages"] - extra,
                      "crawl_s": None, "maxrss_self_kb": rusage.ru_maxrss}
        else:
            result = json.loads(result_file.read_text())
        # ru_maxrss counts this process's peak RSS too (Linux keeps it across exec); the
        # crawl process's own peak is its VmHWM, as last sampled
        result.update(wall_s=run.wall_s, maxrss_wait4_kb=rusage.ru_maxrss,
                      hwm_self_kb=sampler.peak_hwm.get(pid, 0),
                      peak_tree_kb=sampler.peak_tree_kb, peak_other_kb=sampler.peak_other_kb,
                      peak_comm_kb=sampler.peak_comm_kb,
                      peak_tree_pss_kb=sampler.peak_tree_pss_kb,
                      peak_processes=sampler.peak_processes, cpu_total_s=run.cpu_s,
                      cpu_sampled_s=sampler.sampled_cpu_s,
                      cpu_sampled_by_comm=sampler.sampled_cpu_by_comm)
        # CPU of the run's process tree: the crawler (wait4) + descendants it did not reap
        # (the extraction worker belongs to the forkserver), as last sampled.
        result["cpu_tree_s"] = result["cpu_total_s"] + sampler.descendants_cpu_s
        result["nginx_cpu_s"] = nginx_cpu
        result["steal_s"] = run.steal_s
        # Everything else the machine did meanwhile (other users' jobs, this script's
        # sampler): a noise indicator.
        result["other_cpu_s"] = max(0.0, run.busy_s - result["cpu_tree_s"] - nginx_cpu)
        result["busy_cpu_s"] = run.busy_s  # the whole machine's, nginx and noise included
        result["data_dir"] = str(run_dir / "data")
        if not (self.args.keep or keep_data):
            shutil.rmtree(run_dir / "data", ignore_errors=True)
        return result


def report(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace,
           startup_s: float) -> None:
    print("\nPer run:")
    print(f"  {'mode':<8} {'pages':>6} {'archived':>8} {'crawl s':>8} {'pages/s':>8} "
          f"{'steady/s':>8} {'setup s':>7} {'drain s':>7} {'wall s':>7} {'CPU s':>6} "
          f"{'nginx':>6} {'other':>6} {'RSS MB':>7} {'tree MB':>7}")
    for mode, runs in results.items():
        for r in runs:
            archived = r.get("summary", {}).get("pages", "-")
            crawl = r["crawl_s"]
            rate = r["pages"] / crawl if crawl else float("nan")
            steady = r["pages"] / r["fetch_s"] if r.get("fetch_s") else float("nan")
            print(f"  {mode:<8} {r['pages']:>6} {archived!s:>8} "
                  f"{crawl if crawl is not None else float('nan'):>8.2f} {rate:>8.1f} "
                  f"{steady:>8.1f} {r.get('setup_s', float('nan')):>7.2f} "
                  f"{r.get('drain_s', float('nan')):>7.2f} {r['wall_s']:>7.2f} "
                  f"{r['cpu_tree_s']:>6.1f} {r['nginx_cpu_s']:>6.1f} {r['other_cpu_s']:>6.1f} "
                  f"{r['maxrss_self_kb'] / 1024:>7.0f} {r['peak_tree_kb'] / 1024:>7.0f}")

    rates = {m: [r["pages"] / r["crawl_s"] for r in runs if r["crawl_s"]]
             for m, runs in results.items()}
    print(f"\nSummary: {args.pages} pages, {args.rounds} round(s), concurrency "
          f"{args.concurrency}, nginx workers {args.nginx_workers}, extraction workers "
          f"{args.extract_workers}, seeds from {args.seed_mode}; medians "
          f"(interpreter start-up + imports ~{startup_s:.2f} s per run, not included)")
    header = (f"{'mode':<40} {'pages':>6} {'archived':>8} {'crawl s':>8} {'pages/s':>8} "
              f"{'steady/s':>8} {'vs a':>6} {'RSS MB':>7} {'tree MB':>7}")
    print(header)
    print("-" * len(header))
    base = median(rates.get("plain", []))
    for mode, runs in results.items():
        if not runs:
            continue
        crawl = median([r["crawl_s"] for r in runs if r["crawl_s"]])
        rate = median(rates[mode])
        steady = median([r["pages"] / r["fetch_s"] for r in runs if r.get("fetch_s")])
        archived = [r["summary"]["pages"] for r in runs if "summary" in r]
        arch = f"{int(median(archived))}" if archived else "-"
        ratio = rate / base if base and base == base and rate == rate else float("nan")
        print(f"{LABELS[mode]:<40} {int(median([r['pages'] for r in runs])):>6} {arch:>8} "
              f"{crawl:>8.2f} {rate:>8.1f} {steady:>8.1f} {ratio:>6.2f} "
              f"{median([r['maxrss_self_kb'] for r in runs]) / 1024:>7.0f} "
              f"{median([r['peak_tree_kb'] for r in runs]) / 1024:>7.0f}")
    if rates.get("base") and rates.get("archive"):
        per_round = [b / r for b, r in zip(rates["archive"], rates["base"], strict=False)]
        print(f"ratio b/r (archive/baseline {args.baseline}) median pages/s: "
              f"{median(rates['archive']) / median(rates['base']):.3f}  (same-round ratios: "
              f"{', '.join(f'{x:.3f}' for x in per_round)})")
    for mode in ("archive", "extract", "stock", "base"):
        if rates.get(mode) and base and base == base:
            rate = median(rates[mode])
            per_round = [m / p for m, p in zip(rates[mode], rates["plain"], strict=False)]
            print(f"ratio {LABELS[mode][0]}/a ({mode}/plain) median pages/s: {rate / base:.3f}"
                  f"  (same-round ratios: {', '.join(f'{x:.3f}' for x in per_round)})")


def print_profile(path: Path, roots: list[Path], limit: int = 25) -> None:
    """The profile's top entries: ours (the packages under any of ``roots``: the working
    tree, or the snapshots the runs import) by cumulative time, then all by own time."""
    import pstats

    stats = pstats.Stats(str(path))
    print(f"\ncProfile of one run ({path}); our code by cumulative time:")
    ours = "(" + "|".join(re.escape(str(root)) for root in roots) + ")/(" + "|".join(
        PACKAGES) + ")/"
    stats.sort_stats("cumulative").print_stats(ours, limit)
    print("All code by own (tottime) time:")
    stats.sort_stats("tottime").print_stats(limit)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000, help="article pages (default 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of a/b/c (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (site, WARCs)")
    parser.add_argument("--seed", type=int, default=20261103, help="site generator seed")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="CONCURRENT_REQUESTS and _PER_DOMAIN (default 16)")
    parser.add_argument("--modes", type=lambda v: v.split(","), default=list(MODES),
                        help="comma-separated subset of plain,archive,extract (default all)")
    parser.add_argument("--nginx-workers", type=int, default=1, choices=(1, 2))
    parser.add_argument("--extract-workers", type=int, default=1,
                        help="NEWSARCHIVE_EXTRACT_WORKERS for mode c (default 1, as shipped)")
    parser.add_argument("--seed-mode", choices=("sitemap", "urls"), default="sitemap",
                        help="give the pages as --sitemap (default) or as URL arguments")
    parser.add_argument("--stock", action="store_true",
                        help="also run the real newsarchive CLI with its shipped settings")
    parser.add_argument("--profile", choices=MODES, help="also run MODE once under cProfile")
    parser.add_argument("--live", action="store_true",
                        help="import the working tree in every run instead of a snapshot "
                             "taken at the start")
    parser.add_argument("--baseline", metavar="REV",
                        help="also run (b) on the code at git revision REV, same rounds")
    parser.add_argument("--port", type=int, default=0, help="nginx port (default: free port)")
    parser.add_argument("--warmup-pages", type=int, default=200,
                        help="pages crawled by an untimed plain warm-up run (0: none)")
    # internal: the crawl subprocess
    parser.add_argument("--child", choices=(*MODES, "noop"), help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--sitemap", help=argparse.SUPPRESS)
    parser.add_argument("--url-file", help=argparse.SUPPRESS)
    parser.add_argument("--max-pages", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cprofile", help=argparse.SUPPRESS)
    parser.add_argument("--render", help=argparse.SUPPRESS)  # newsarchive crawl --render
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    if args.child:
        child_main(args)
        return
    nginx_bin = ensure_nginx()
    with scratch_dir("newsarchive-bench-", keep=args.keep) as work:
        work.chmod(0o755)  # nginx workers run as another user when started by root
        site, prefix = work / "site", work / "nginx"
        site.mkdir()
        prefix.mkdir()
        port = args.port or free_port()
        site_url = f"http://127.0.0.1:{port}"
        server = Nginx(nginx_bin, prefix, site, port, args.nginx_workers)
        try:
            measure(args, work, site, site_url, server)
        finally:
            server.stop()


def measure(args: argparse.Namespace, work: Path, site: Path, site_url: str,
            server: Nginx) -> None:
    """Generate and serve the site, then the start-up baseline, warm-up, rounds, report."""
    t0 = time.perf_counter()
    paths = generate_site(site, args.pages, args.seed)
    write_sitemap_and_robots(site, site_url, paths)
    sizes = [(site / p.lstrip("/")).stat().st_size for p in paths]
    print(f"site: {len(paths)} article pages, {min(sizes) / 1024:.1f}-"
          f"{max(sizes) / 1024:.1f} KB (mean {statistics.mean(sizes) / 1024:.1f} KB, "
          f"{sum(sizes) / 1e6:.1f} MB) in {work} [{time.perf_counter() - t0:.1f} s]")
    code_dir = None
    if not args.live:
        code_dir = work / "code"
        print(f"code: snapshot of {', '.join(PACKAGES)} in {code_dir} "
              f"(sha256 {snapshot_code(REPO, PACKAGES, code_dir)}; --live to use the "
              "working tree)")
    url_file = None
    if args.seed_mode == "urls":
        url_file = work / "urls.txt"
        url_file.write_text("\n".join(site_url + p for p in paths) + "\n")
    server.start()
    check_gzip(site_url)
    print(f"nginx: {site_url}/ (conf {server.conf}, {args.nginx_workers} worker(s), gzip on)")
    bench = Bench(args, work, site_url, url_file, code_dir, server)
    if args.baseline:
        bench.baseline_dir = work / "code-baseline"
        snapshot_revision(REPO, args.baseline, PACKAGES, bench.baseline_dir)
        print(f"baseline: {', '.join(PACKAGES)} at {args.baseline} in {bench.baseline_dir}")

    startup = []
    for _ in range(3):
        noop = bench.run("noop")
        startup.append(noop["wall_s"])
    startup_s = median(startup)
    print(f"runs import the project from {noop['code']}")
    print(f"start-up baseline (python + imports, no crawl): {startup_s:.2f} s")
    if args.warmup_pages:
        warm_file = work / "warmup-urls.txt"
        warm_file.write_text("\n".join(site_url + p for p in paths[:args.warmup_pages]))
        bench.url_file, saved = warm_file, bench.url_file
        bench.run("plain", pages_limit=args.warmup_pages)
        bench.url_file = saved
        print(f"warm-up: plain crawl of {args.warmup_pages} pages done")

    modes = ([m for m in MODES if m in args.modes] + (["stock"] if args.stock else [])
             + (["base"] if args.baseline else []))
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    for rnd in range(args.rounds):
        for mode in round_order(modes, rnd, rotate=True, reverse_odd=True):
            r = bench.run(mode)
            if mode == "stock":  # no in-process clock: wall time - start-up baseline
                r["crawl_s"] = r["wall_s"] - startup_s
            results[mode].append(r)
            rate = r["pages"] / r["crawl_s"]
            print(f"round {rnd + 1}/{args.rounds} {mode:<8} {r['pages']} pages in "
                  f"{r['crawl_s']:.2f} s = {rate:.1f} pages/s (wall {r['wall_s']:.2f} s, "
                  f"peak RSS {r['maxrss_self_kb'] / 1024:.0f} MB, GC "
                  + (f"{r['gc_s']:.2f} s in {r['gc_collections']} collections)"
                     if "gc_s" in r else "n/a)"), flush=True)
            expected = args.pages
            extra = 1 if url_file else 2  # robots.txt (+ sitemap.xml)
            if r["pages"] != expected:
                print(f"  WARNING: {mode} parsed {r['pages']} pages, expected {expected}")
            archived = r.get("summary", {}).get("pages")
            if archived is not None and archived != expected + extra:
                print(f"  WARNING: {mode} archived {archived} responses, expected "
                      f"{expected + extra} (pages + robots.txt [+ sitemap.xml])")
    report(results, args, startup_s)
    if args.profile:
        profile_path = work / f"profile-{args.profile}.pstats"
        r = bench.run(args.profile, cprofile=profile_path)
        print(f"\nprofiled {args.profile} run: {r['pages']} pages in {r['crawl_s']:.2f} s "
              f"under cProfile ({r['pages'] / r['crawl_s']:.1f} pages/s)")
        print_profile(profile_path, [root for root in (REPO, code_dir, bench.baseline_dir)
                                     if root is not None])

if __name__ == "__main__":
    main()
