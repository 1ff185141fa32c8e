"""Issue 16's throughput and memory targets, measured end to end (``discovery.py --speed``,
``--memory``).

``run_speed``: the same list of article pages of the generated Bench Courier (nginx, gzip
on), the same Scrapy settings (``--speed-concurrency`` requests at once, as many per domain,
no AutoThrottle, robots.txt not fetched, the asyncio reactor), three crawlers, each a whole
subprocess timed from its start to its exit (interpreter start and imports included):

  newsarchive  ``newsarchive crawl --depth 0 --no-extract --json URL...``, the console
               script of this virtualenv, with NEWSARCHIVE_REQUISITES=false and
               NEWSARCHIVE_RENDER=static (HTML fetching and archiving only)
  webarchive   scrapy-webarchive 0.5.3 (its ``WaczExporter`` extension writes every
               exchange to a WARC and packs a WACZ at the end) on a spider fetching the
               list, in its own virtualenv ``.cache/scrapy-webarchive-venv`` (Scrapy 2.11)
  noop         the same spider without the extension, in this virtualenv: Scrapy alone
  noop-peer    (``--speed-modes ...,noop-peer``) the same spider without the extension in
               scrapy-webarchive's virtualenv: its Scrapy alone, so that the peer's lead
               splits into what its framework costs and what its archiving costs
  base         (``--speed-baseline REV``) newsarchive on the project's code at git REV

The Scrapy settings reach ``newsarchive crawl`` through ``-s NAME=VALUE`` when the CLI has
it; otherwise through a thin wrapper of the console script (the same ``scheduler.cli.app``
call) that merges them into ``crawler.runner.crawl_settings``. Which one is printed.

``run_memory``: ``newsarchive crawl --sitemap INDEX --depth 0 --no-extract`` over a
``--memory-pages`` site (``/sitemap.xml``, an index of sitemaps of up to 50,000 URLs each)
at the same settings, its RSS sampled every second and printed every ``--memory-every``
pages, with the peak. Every article URL is served by nginx from one of 100 generated article pages
(chosen by the URL's last two digits) with the request URI written into its ``<title>``
(``sub_filter``): each body is distinct, ~30 KB, and the site takes 3 MB of disk, not 3 GB.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .newssite import SECTIONS, generate_site, write_sitemap_and_robots
from .nginx import Nginx, check_gzip, ensure_nginx
from .procstat import busy_cpu_s, rss_kb, run_measured, tree_rss_kb
from .runs import median, round_order, scratch_dir, snapshot_code, snapshot_revision
from .servers import environ_without_settings, free_port
from .tools import REPO, peer_venv

SPIDER = Path(__file__).resolve().with_name("url_list_spider.py")
PACKAGES = ("archive", "crawler", "scheduler")
WEBARCHIVE_REQUIREMENTS = ("scrapy-webarchive==0.5.3", "w3lib<2.2", "twisted<24")
SPEED_MODES = ("newsarchive", "webarchive", "noop")
EXTRA_MODES = ("noop-peer",)  # only when --speed-modes names them
LABELS = {
    "newsarchive": "newsarchive crawl --no-extract",
    "webarchive": "scrapy-webarchive 0.5.3 (WACZ)",
    "noop": "no-op Scrapy spider",
    "noop-peer": "no-op spider, the peer's Scrapy",
    "base": "newsarchive at --speed-baseline",
}
TARGETS = {"webarchive": 1.0, "noop": 0.8}  # newsarchive / mode, pages/s (issue 16)
ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
# The settings of a crawl of the project that are not Scrapy settings: HTML fetching and
# archiving only, loopback allowed, nothing read from a config file.
NEWSARCHIVE_ENV = {"NEWSARCHIVE_REQUISITES": "false", "NEWSARCHIVE_RENDER": "static",
                   "NEWSARCHIVE_ALLOWED_NETWORKS": "127.0.0.0/8"}
# The console script with Scrapy settings (JSON in BENCH_SCRAPY_SETTINGS) merged into every
# crawl's, for a CLI without -s.
CLI_WRAPPER = """\
import json, os, sys
import crawler.runner as runner
extra = json.loads(os.environ["BENCH_SCRAPY_SETTINGS"])
crawl_settings = runner.crawl_settings
runner.crawl_settings = lambda overrides=None: crawl_settings({**(overrides or {}), **extra})
from scheduler.cli import app
sys.argv[0] = "newsarchive"
sys.exit(app())
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``run_speed`` and ``run_memory`` (``--speed-*``, ``--memory-*``), and
    ``--speed`` / ``--memory`` themselves unless the parser has them already. They read
    ``args.seed`` and ``args.keep`` when the parser defines them."""
    group = parser.add_argument_group("throughput (--speed) and memory (--memory)")
    have = parser._option_string_actions  # (argparse has no public lookup)
    if "--speed" not in have:
        group.add_argument("--speed", action="store_true",
                           help="crawl throughput: newsarchive vs scrapy-webarchive vs no-op")
    if "--memory" not in have:
        group.add_argument("--memory", action="store_true",
                           help="peak RSS and RSS curve of a --memory-pages crawl")
    group.add_argument("--speed-pages", type=int, default=2000,
                       help="URLs in the list (default 2000)")
    group.add_argument("--speed-rounds", type=int, default=3, help="rounds (default 3)")
    group.add_argument("--speed-concurrency", type=int, default=32,
                       help="CONCURRENT_REQUESTS and _PER_DOMAIN (default 32)")
    group.add_argument("--speed-modes", type=lambda v: v.split(","), default=list(SPEED_MODES),
                       help="comma-separated subset of newsarchive,webarchive,noop (and "
                       "noop-peer: the no-op spider on scrapy-webarchive's Scrapy)")
    group.add_argument("--speed-baseline", metavar="REV",
                       help="also crawl with the project's code at git revision REV")
    group.add_argument("--speed-fresh-catalog", action="store_true",
                       help="time each newsarchive crawl from an empty data directory (the "
                       "first crawl of a new install: catalog created and migrated); by "
                       "default the catalog exists, made untimed by `newsarchive jobs list`")
    group.add_argument("--speed-profile", metavar="FILE",
                       help="also one newsarchive run under cProfile, its stats to FILE")
    group.add_argument("--memory-pages", type=int, default=100_000,
                       help="pages of the --memory crawl (default 100000)")
    group.add_argument("--memory-every", type=int, default=10_000,
                       help="print the RSS every this many pages (default 10000)")
    group.add_argument("--memory-sitemap-size", type=int, default=50_000,
                       help="URLs per sitemap of the index (default 50000, the protocol's "
                            "limit)")
    group.add_argument("--memory-env", action="append", default=[], metavar="NAME=VALUE",
                       help="an environment variable of the --memory crawl (repeatable)")


def scrapy_settings(concurrency: int) -> dict[str, Any]:
    """The Scrapy settings every crawler of the comparison runs with."""
    return {"CONCURRENT_REQUESTS": concurrency, "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
            "AUTOTHROTTLE_ENABLED": False, "ROBOTSTXT_OBEY": False, "LOG_LEVEL": "WARNING",
            "TWISTED_REACTOR": ASYNCIO_REACTOR}


def newsarchive_binary() -> Path:
    binary = Path(sys.executable).with_name("newsarchive")
    if not binary.exists():
        sys.exit("`newsarchive` is not beside this interpreter: run the benchmark with the "
                 "project's virtualenv (.venv/bin/python benchmarks/...)")
    return binary


def cli_has_set_option(binary: Path) -> bool:
    """Whether ``newsarchive crawl`` takes ``-s NAME=VALUE``."""
    shown = subprocess.run([str(binary), "crawl", "--help"], capture_output=True, text=True,
                           env={**os.environ, "COLUMNS": "200"}).stdout
    return re.search(r"(^|[\s,│])-s[\s,]", shown, re.MULTILINE) is not None


@dataclass
class Run:
    """One measured crawl."""

    mode: str
    wall_s: float
    cpu_s: float  # user + system of the process and the children it reaped
    maxrss_kb: int  # wait4's ru_maxrss: the largest process's peak RSS
    tree_kb: int  # peak summed RSS of the process tree, sampled every 0.25 s
    pages: int  # 200 responses (newsarchive: captures in the catalog)
    nginx_cpu_s: float
    other_cpu_s: float  # the rest of the machine meanwhile
    output_bytes: int  # WARC / WACZ bytes written
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.pages / self.wall_s


class Crawlers:
    """Runs one crawl of a mode on a URL list, each in a fresh subprocess in its own
    directory under ``work``."""

    def __init__(self, work: Path, server: Nginx, concurrency: int, code_dir: Path | None,
                 baseline_dir: Path | None = None, fresh_catalog: bool = False) -> None:
        self.work, self.server, self.concurrency = work, server, concurrency
        self.code_dir, self.baseline_dir = code_dir, baseline_dir
        self.fresh_catalog = fresh_catalog
        self.binary = newsarchive_binary()
        self.via_set_option = cli_has_set_option(self.binary)
        self.settings = scrapy_settings(concurrency)
        self.webarchive_python: Path | None = None
        self.serial = 0

    def how_settings_pass(self) -> str:
        return ("`newsarchive crawl -s NAME=VALUE`" if self.via_set_option else
                "a wrapper of the console script merging them into "
                "crawler.runner.crawl_settings (the CLI has no -s yet)")

    def webarchive(self) -> Path:
        if self.webarchive_python is None:
            venv = peer_venv("scrapy-webarchive", *WEBARCHIVE_REQUIREMENTS, program="scrapy")
            self.webarchive_python = venv / "bin" / "python"
        return self.webarchive_python

    def newsarchive_command(self, crawl_args: list[str], settings: dict[str, Any],
                            env: dict[str, str]) -> list[str]:
        if self.via_set_option:
            sets = [a for name, value in settings.items() for a in ("-s", f"{name}={value}")]
            return [str(self.binary), "crawl", *sets, *crawl_args]
        env["BENCH_SCRAPY_SETTINGS"] = json.dumps(settings)
        return [sys.executable, str(self.wrapper()), "crawl", *crawl_args]

    def wrapper(self) -> Path:
        """The console script with the Scrapy settings of BENCH_SCRAPY_SETTINGS merged in."""
        path = self.work / "newsarchive_with_settings.py"
        if not path.exists():
            path.write_text(CLI_WRAPPER)
        return path

    def run(self, mode: str, url_file: Path | None, *, crawl_args: list[str] | None = None,
            extra_env: dict[str, str] | None = None, profile: Path | None = None,
            on_start: Any = None) -> Run:
        """One crawl of ``mode`` over the URLs of ``url_file`` (newsarchive: or with
        ``crawl_args`` instead of URLs)."""
        self.serial += 1
        run_dir = self.work / f"run-{self.serial:03d}-{mode}"
        run_dir.mkdir()
        env = environ_without_settings()
        env["NEWSARCHIVE_CONFIG"] = str(run_dir / "no-such-newsarchive.toml")
        code = self.baseline_dir if mode == "base" else self.code_dir
        urls = url_file.read_text().split() if url_file else []
        if mode in ("newsarchive", "base"):
            env.update(NEWSARCHIVE_ENV)
            env["NEWSARCHIVE_DATA_DIR"] = str(run_dir / "data")
            env.update(extra_env or {})
            if code:
                env["PYTHONPATH"] = str(code)
            args = crawl_args or ["--depth", "0", "--max-pages", str(len(urls) + 10), *urls]
            crawl = ["--no-extract", "--json", *args]
            if profile:  # the wrapper (whatever the CLI has) under cProfile
                env["BENCH_SCRAPY_SETTINGS"] = json.dumps(self.settings)
                cmd = [sys.executable, "-m", "cProfile", "-o", str(profile),
                       str(self.wrapper()), "crawl", *crawl]
            else:
                cmd = self.newsarchive_command(crawl, self.settings, env)
            if not self.fresh_catalog:  # as every crawl after a deployment's first finds it
                subprocess.run([str(self.binary), "jobs", "list"], cwd=run_dir, env=env,
                               check=True, capture_output=True)
        else:
            settings = dict(self.settings)
            python = sys.executable
            if mode in ("webarchive", "noop-peer"):
                python = str(self.webarchive())
            if mode == "webarchive":
                settings["EXTENSIONS"] = {"scrapy_webarchive.extensions.WaczExporter": 543}
                settings["SW_EXPORT_URI"] = f"file://{run_dir / 'wacz'}/"
            (run_dir / "settings.json").write_text(json.dumps(settings))
            cmd = [python, str(SPIDER), str(url_file), str(run_dir / "result.json"),
                   str(run_dir / "settings.json")]
        with (run_dir / "stdout").open("wb") as out, (run_dir / "stderr").open("wb") as err:
            nginx0 = self.server.cpu_s()
            measured = run_measured(cmd, cwd=run_dir, env=env, stdout=out, stderr=err,
                                    on_start=on_start)
            nginx_cpu = self.server.cpu_s() - nginx0
        if measured.returncode != 0:
            tail = (run_dir / "stderr").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{mode} run failed (exit {measured.returncode}) in {run_dir}:"
                               f"\n{tail}")
        detail: dict[str, Any]
        if mode in ("newsarchive", "base"):
            detail = json.loads((run_dir / "stdout").read_text())
            pages = detail["pages"]
            output = sum(p.stat().st_size for p in (run_dir / "data").rglob("*.warc.gz"))
        else:
            detail = json.loads((run_dir / "result.json").read_text())["stats"]
            pages = detail.get("downloader/response_status_count/200", 0)
            output = sum(p.stat().st_size for p in run_dir.rglob("*.wacz"))
        other = measured.busy_s - measured.cpu_s - nginx_cpu
        return Run(mode, measured.wall_s, measured.cpu_s, measured.rusage.ru_maxrss,
                   measured.sampler.peak_tree_kb, pages, nginx_cpu, other, output, detail)


def start_up_s(crawlers: Crawlers, mode: str, rounds: int = 3) -> float:
    """Median wall time of a process of ``mode`` that imports what a crawl imports and stops
    (newsarchive: ``newsarchive crawl --help``; the spiders: the script's imports)."""
    times = []
    for _ in range(rounds):
        if mode in ("newsarchive", "base"):
            cmd = [str(crawlers.binary), "crawl", "--help"]
        else:
            python = (crawlers.webarchive() if mode in ("webarchive", "noop-peer") else
                      Path(sys.executable))
            cmd = [str(python), str(SPIDER), "--imports-only"]
        env = environ_without_settings()
        code = crawlers.baseline_dir if mode == "base" else crawlers.code_dir
        if code and mode in ("newsarchive", "base"):
            env["PYTHONPATH"] = str(code)
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return median(times)


# ----------------------------------------------------------------------------------------
# --speed
# ----------------------------------------------------------------------------------------


def run_speed(args: argparse.Namespace) -> None:
    """Generate and serve the site, then the rounds, the table and the ratios."""
    modes = [m for m in SPEED_MODES + EXTRA_MODES if m in args.speed_modes]
    if args.speed_baseline:
        modes.append("base")
    with _served_site(args, "newsarchive-speed-") as (work, server, site_url):
        paths = generate_site(work / "site", args.speed_pages, getattr(args, "seed", 20261103))
        write_sitemap_and_robots(work / "site", site_url, paths)
        url_file = work / "urls.txt"
        url_file.write_text("\n".join(site_url + p for p in paths) + "\n")
        sizes = [(work / "site" / p.lstrip("/")).stat().st_size for p in paths]
        print(f"site: {len(paths)} article pages, mean {sum(sizes) / len(sizes) / 1024:.1f} KB "
              f"of HTML, served gzip'd by nginx at {site_url}/")
        crawlers = _crawlers(args, work, server)
        print(f"Scrapy settings for all: {json.dumps(crawlers.settings)}; newsarchive also "
              f"{' '.join(f'{k}={v}' for k, v in NEWSARCHIVE_ENV.items())}; they reach "
              f"newsarchive through {crawlers.how_settings_pass()}")
        warm_file = work / "warmup-urls.txt"
        warm_file.write_text("\n".join(site_url + p for p in paths[:100]) + "\n")
        for mode in modes:  # untimed: each crawler works, the files are in the page cache
            crawlers.run(mode, warm_file)
        startup = {mode: start_up_s(crawlers, mode) for mode in modes}
        print("start-up (imports, no crawl): " + ", ".join(
            f"{mode} {seconds:.2f} s" for mode, seconds in startup.items()))
        results: dict[str, list[Run]] = {m: [] for m in modes}
        for rnd in range(args.speed_rounds):
            for mode in round_order(modes, rnd, rotate=True, reverse_odd=True):
                run = crawlers.run(mode, url_file)
                results[mode].append(run)
                print(f"round {rnd + 1}/{args.speed_rounds} {mode:<11} {run.pages} pages in "
                      f"{run.wall_s:6.2f} s = {run.rate:6.1f} pages/s, CPU {run.cpu_s:5.1f} s, "
                      f"peak RSS {run.maxrss_kb / 1024:4.0f} MB, nginx {run.nginx_cpu_s:.1f} s,"
                      f" other {run.other_cpu_s:.1f} s", flush=True)
                if run.pages != len(paths):
                    print(f"  WARNING: {mode} fetched {run.pages} pages, expected {len(paths)}")
        _report_speed(results, len(paths), startup)
        if args.speed_profile:
            profile = Path(args.speed_profile).resolve()
            run = crawlers.run("newsarchive", url_file, profile=profile)
            print(f"\nprofiled newsarchive run: {run.pages} pages in {run.wall_s:.2f} s under "
                  f"cProfile; stats in {profile}")
            _print_profile(profile)


def _report_speed(results: dict[str, list[Run]], pages: int,
                  startup: dict[str, float]) -> None:
    print(f"\n{pages} pages, medians of {len(next(iter(results.values())))} rounds:")
    print(f"{'crawler':<34} {'wall s':>7} {'pages/s':>8} {'CPU s':>6} {'CPU ms/page':>11} "
          f"{'peak RSS MB':>11} {'start-up s':>10} {'output MB':>9}")
    for mode, runs in results.items():
        print(f"{LABELS[mode]:<34} {median([r.wall_s for r in runs]):>7.2f} "
              f"{median([r.rate for r in runs]):>8.1f} {median([r.cpu_s for r in runs]):>6.1f} "
              f"{1000 * median([r.cpu_s for r in runs]) / pages:>11.2f} "
              f"{median([r.maxrss_kb for r in runs]) / 1024:>11.0f} {startup[mode]:>10.2f} "
              f"{median([r.output_bytes for r in runs]) / 1e6:>9.1f}")
    ours = results.get("newsarchive")
    for mode in ("webarchive", "noop", "noop-peer", "base"):
        if not ours or mode not in results:
            continue
        ratio = median([r.rate for r in ours]) / median([r.rate for r in results[mode]])
        per_round = [a.rate / b.rate for a, b in zip(ours, results[mode], strict=False)]
        target = f" (target >= {TARGETS[mode]})" if mode in TARGETS else ""
        print(f"ratio newsarchive/{mode} pages/s: {ratio:.2f}{target}; same-round ratios "
              f"{', '.join(f'{x:.2f}' for x in per_round)}")
        cpu = median([r.cpu_s for r in results[mode]]) / median([r.cpu_s for r in ours])
        print(f"  pages per CPU second, newsarchive/{mode}: {cpu:.2f} (steadier than wall "
              "time when other work shares the machine)")
    print(f"other: CPU the rest of the machine used during a run (noise), max "
          f"{max(r.other_cpu_s for runs in results.values() for r in runs):.1f} s")


def _print_profile(path: Path, limit: int = 30) -> None:
    import pstats

    stats = pstats.Stats(str(path))
    print("\nour code by cumulative time:")
    stats.sort_stats("cumulative").print_stats(r"/(archive|crawler|scheduler)/", limit)
    print("all code by own time:")
    stats.sort_stats("tottime").print_stats(limit)


# ----------------------------------------------------------------------------------------
# --memory
# ----------------------------------------------------------------------------------------

TEMPLATES = 100  # article pages the --memory site's URLs are served from
MEMORY_LOCATION = """\
        location ~ "^/[a-z]+/story-[0-9]*([0-9][0-9])\\.html$" {{
            try_files /templates/$1.html =404;
            sub_filter "<title>" "<title>$request_uri ";
            sub_filter_once on;
        }}
"""


def memory_site(root: Path, base: str, pages: int, per_sitemap: int,
                seed: int) -> str:
    """The --memory site under ``root``: the article templates, the sitemaps and their index;
    returns the index's URL."""
    templates = root / "templates"
    source = root / "generated"
    for index, path in enumerate(generate_site(source, TEMPLATES, seed)):
        templates.mkdir(exist_ok=True)
        (source / path.lstrip("/")).rename(templates / f"{index:02d}.html")
    shutil.rmtree(source)
    sitemaps = []
    for first in range(0, pages, per_sitemap):
        name = f"sitemap-{first // per_sitemap + 1:03d}.xml"
        entries = "".join(
            f"<url><loc>{base}/{SECTIONS[n % len(SECTIONS)]}/story-{n:06d}.html</loc>"
            f"<lastmod>2026-12-07</lastmod></url>\n"
            for n in range(first, min(first + per_sitemap, pages)))
        (root / name).write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/'
            f'schemas/sitemap/0.9">\n{entries}</urlset>\n')
        sitemaps.append(name)
    index = "".join(f"<sitemap><loc>{base}/{name}</loc></sitemap>\n" for name in sitemaps)
    (root / "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/'
        f'schemas/sitemap/0.9">\n{index}</sitemapindex>\n')
    return f"{base}/sitemap.xml"


class ServedCounter:
    """Counts the article requests nginx has logged (one line each, written when the
    response has been sent), reading only what the log gained since the last call."""

    def __init__(self, log: Path) -> None:
        self.log, self.position, self.count = log, 0, 0

    def update(self) -> int:
        if not self.log.exists():
            return self.count
        with self.log.open("rb") as f:
            f.seek(self.position)
            data = f.read()
        complete = data[:data.rfind(b"\n") + 1]
        self.position += len(complete)
        self.count += complete.count(b"/story-")
        return self.count


class RssCurve(threading.Thread):
    """Every second: the crawl's RSS (process and tree) and the articles served so far."""

    def __init__(self, pid: int, counter: ServedCounter, every: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.counter, self.every = pid, counter, every
        self.t0 = time.perf_counter()
        self.samples: list[tuple[float, int, int, int]] = []  # (s, pages, RSS kB, tree kB)
        self._stop_event = threading.Event()

    def run(self) -> None:
        next_print = self.every
        peak = 0
        while not self._stop_event.wait(1.0):
            pages, rss, tree = self.counter.update(), rss_kb(self.pid), tree_rss_kb(self.pid)
            if not rss:
                continue
            peak = max(peak, rss)
            self.samples.append((time.perf_counter() - self.t0, pages, rss, tree))
            if pages >= next_print:
                print(f"  {pages:>7} pages  {self.samples[-1][0]:6.0f} s  RSS {rss / 1024:5.0f}"
                      f" MB  (tree {tree / 1024:5.0f} MB)  peak so far {peak / 1024:5.0f} MB",
                      flush=True)
                while next_print <= pages:
                    next_print += self.every

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def run_memory(args: argparse.Namespace) -> None:
    """Serve the --memory site, crawl it once, print the RSS curve and the peak."""
    pages = args.memory_pages
    with _served_site(args, "newsarchive-memory-", access_log=True,
                      locations=MEMORY_LOCATION.format()) as (work, server, site_url):
        index = memory_site(work / "site", site_url, pages, args.memory_sitemap_size,
                            getattr(args, "seed", 20261103))
        sitemaps = -(-pages // args.memory_sitemap_size)
        print(f"site: {pages} article URLs in {sitemaps} sitemap(s) of up to "
              f"{args.memory_sitemap_size}, under the index {index}; each served from one of "
              f"{TEMPLATES} generated pages with its URI in the title")
        crawlers = _crawlers(args, work, server)
        extra_env = dict(item.split("=", 1) for item in args.memory_env)
        print(f"crawl: newsarchive crawl --sitemap {index} --depth 0 --no-extract, "
              f"settings {json.dumps(crawlers.settings)}, "
              f"{' '.join(f'{k}={v}' for k, v in {**NEWSARCHIVE_ENV, **extra_env}.items())}; "
              f"through {crawlers.how_settings_pass()}")
        counter = ServedCounter(server.access_log)  # type: ignore[arg-type]
        curve: list[RssCurve] = []

        def sample(pid: int) -> None:
            curve.append(RssCurve(pid, counter, args.memory_every))
            curve[0].start()

        busy0 = busy_cpu_s()
        run = crawlers.run("newsarchive", None, extra_env=extra_env, on_start=sample,
                           crawl_args=["--sitemap", index, "--depth", "0",
                                       "--max-pages", str(pages + 10)])
        curve[0].stop()
        samples = curve[0].samples
        print(f"{run.pages} pages archived in {run.wall_s:.0f} s ({run.rate:.0f} pages/s), "
              f"CPU {run.cpu_s:.0f} s, machine busy {busy_cpu_s() - busy0:.0f} s")
        print(f"peak RSS {run.maxrss_kb / 1024:.0f} MB (wait4's ru_maxrss; target <= 300), "
              f"sampled peak {max(s[2] for s in samples) / 1024:.0f} MB, tree "
              f"{run.tree_kb / 1024:.0f} MB")
        if run.pages != pages + sitemaps + 1:  # the articles, the sitemaps, the index
            print(f"WARNING: archived {run.pages} responses, expected {pages + sitemaps + 1} "
                  "(articles, sitemaps and their index)")
        if run.detail.get("skipped", {}).get("over_max_pages"):
            print(f"WARNING: {run.detail['skipped']['over_max_pages']} URLs over --max-pages")


# ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def _served_site(args: argparse.Namespace, prefix: str, *, access_log: bool = False,
                 locations: str = "") -> Iterator[tuple[Path, Nginx, str]]:
    """The scratch directory (``args.keep``), a ``site`` directory in it, nginx serving it."""
    nginx_bin = ensure_nginx()
    with scratch_dir(prefix, keep=getattr(args, "keep", False)) as work:
        work.chmod(0o755)  # nginx workers run as another user when started by root
        (work / "site").mkdir()
        (work / "nginx").mkdir()
        port = free_port()
        server = Nginx(nginx_bin, work / "nginx", work / "site", port, 1,
                       access_log=access_log, locations=locations)
        server.start()
        try:
            yield work, server, f"http://127.0.0.1:{port}"
        finally:
            server.stop()


def _crawlers(args: argparse.Namespace, work: Path, server: Nginx) -> Crawlers:
    """The crawlers on a snapshot of the project's code (and of ``--speed-baseline``)."""
    code_dir = work / "code"
    digest = snapshot_code(REPO, PACKAGES, code_dir)
    print(f"code: snapshot of {', '.join(PACKAGES)} (sha256 {digest}) first on PYTHONPATH")
    baseline_dir = None
    if getattr(args, "speed_baseline", None):
        baseline_dir = work / "code-baseline"
        snapshot_revision(REPO, args.speed_baseline, PACKAGES, baseline_dir)
        print(f"baseline: {', '.join(PACKAGES)} at {args.speed_baseline}")
    check_gzip(f"http://127.0.0.1:{server.port}")  # (the site has its sitemap.xml)
    fresh = getattr(args, "speed_fresh_catalog", False)
    print("newsarchive catalog: " + ("created by each timed crawl (--speed-fresh-catalog)"
                                     if fresh else "created before each crawl, untimed"))
    return Crawlers(work, server, args.speed_concurrency, code_dir, baseline_dir, fresh)
