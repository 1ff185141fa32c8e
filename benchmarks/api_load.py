#!/usr/bin/env python3
"""API load: requests/s and latency of the read endpoints of ``newsarchive serve``.

Fills a fresh data directory's SQLite catalog (the real models, bulk inserts: some 200 crawl
jobs, their WARC files and 10,000 captures of ~2,000 URLs), starts ``newsarchive serve`` on
a free loopback port with ``NEWSARCHIVE_DATA_DIR`` pointing there, and drives it from a
separate process (wrk with a Lua script that rotates paths; an asyncio + httpx loop when wrk
is missing) at ``--connections`` concurrent keep-alive connections for ``--duration`` s:

  GET /healthz                    baseline: a trivial endpoint of the same server
  GET /api/v1/crawls/{id}         ids rotate over every job
  GET /api/v1/captures?url=...    URLs rotate over every captured URL; when the route does
                                  not exist (404 and absent from /openapi.json) it is
                                  reported as "not implemented" and not loaded

Prints, per endpoint: requests/s, that as a ratio of /healthz, p50 and p99 latency, non-2xx
responses, socket errors, and the CPU the server and the load generator used meanwhile.
``--profile`` adds one run per endpoint with py-spy sampling the server (not counted in the
table) and prints where its time goes. The server is stopped at the end, the temp directory
removed unless ``--keep``. Run from the repo root:

  .venv/bin/python benchmarks/api_load.py [--connections 16] [--duration 10] [--profile]

This is a benchmark script, not a test; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import platform
import random
import socket
import statistics
import sys
import time
import urllib.parse
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from support.load import LoadGenerator, find_wrk
from support.newssite import HOSTS, make_urls
from support.procstat import busy_cpu_s, children_cpu_s, rss_kb, threads
from support.pyspy import PySpy, find_py_spy, summarise
from support.runs import round_order, scratch_dir
from support.servers import ServerProcess, free_port, http_get, newsarchive_serve

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# =====================================================================================
# Catalog data
# =====================================================================================

def sha1_digest(rng: random.Random) -> str:
    return "sha1:" + base64.b32encode(rng.randbytes(20)).decode()


def populate(data_dir: Path, *, jobs: int, urls: int, captures: int,
             seed: int) -> dict[str, Any]:
    """Create the catalog (migrations) and bulk-insert jobs, WARC files and captures."""
    from sqlalchemy import func, insert, select

    from archive.catalog import Catalog
    from archive.cdxj import surt_key
    from archive.config import ArchiveSettings
    from archive.models import Capture, CrawlJob, JobStatus, WarcFile, WarcState

    t0 = time.perf_counter()
    rng = random.Random(seed)
    config = ArchiveSettings(data_dir=data_dir)
    catalog = Catalog(config.database_url)
    url_list = make_urls(rng, urls)
    hostname = socket.gethostname()

    # Captures per URL: every URL at least once, the rest skewed towards front pages.
    weights = [1.0 / (rank + 8) for rank in range(len(url_list))]
    picks = url_list + rng.choices(url_list, weights=weights, k=captures - len(url_list))
    rng.shuffle(picks)
    # Split into jobs of varied size (empty-ish jobs too: a failed crawl archives little).
    cuts = sorted(rng.sample(range(1, captures), jobs - 1))
    chunks = [picks[a:b] for a, b in zip([0, *cuts], [*cuts, captures], strict=True)]

    job_rows: list[dict[str, Any]] = []
    file_rows: list[dict[str, Any]] = []
    capture_rows: list[dict[str, Any]] = []
    last_digest: dict[str, str] = {}
    started = datetime.now(UTC) - timedelta(hours=12 * jobs + 24)
    serial = 0
    for job_id, chunk in enumerate(chunks, start=1):
        start = started + timedelta(hours=12 * job_id, minutes=rng.randrange(60))
        roll = rng.random()
        status = (JobStatus.SUCCEEDED if roll < 0.9 else
                  JobStatus.FAILED if roll < 0.97 else JobStatus.CANCELLED)
        seed_host = rng.choice(HOSTS)
        spec = {"urls": [f"https://{seed_host}/"], "feeds": [f"https://{seed_host}/rss.xml"],
                "sitemaps": [], "allow": [], "deny": [], "depth": 2, "max_pages": 1000,
                "extract": True}
        n_files = 1 + len(chunk) // 40 if chunk else 0
        files_of_job = []
        for k in range(n_files):
            serial += 1
            opened = start + timedelta(seconds=5 + 120 * k)
            name = (f"newsarchive-{opened:%Y%m%d%H%M%S%f}"[:29] +
                    f"-{serial:05d}-{40000 + job_id}~{hostname}.warc.gz")
            files_of_job.append({"id": serial, "job_id": job_id, "filename": name,
                                 "storage_key": "warcs/" + name, "state": WarcState.UPLOADED,
                                 "sha256": hashlib.sha256(name.encode()).hexdigest(),
                                 "created_at": opened, "closed_at": opened,
                                 "uploaded_at": opened, "size": 0, "records": 1})
        offsets = {f["id"]: rng.randint(400, 600) for f in files_of_job}  # after warcinfo
        when = start + timedelta(seconds=3)
        total_bytes = 0
        for i, url in enumerate(chunk):
            wf = files_of_job[min(i * n_files // len(chunk), n_files - 1)]
            when += timedelta(milliseconds=rng.randint(150, 4000))
            previous = last_digest.get(url)
            revisit = previous is not None and rng.random() < 0.35
            digest = previous if revisit else sha1_digest(rng)
            last_digest[url] = digest  # type: ignore[assignment]
            status_code = 200 if rng.random() < 0.95 else rng.choice((301, 404, 410, 503))
            mime = "text/html" if "rss" not in url else "application/rss+xml"
            length = rng.randint(520, 760) if revisit else int(rng.lognormvariate(9.6, 0.5))
            capture_rows.append({
                "job_id": job_id, "warc_file_id": wf["id"], "url": url,
                "surt": surt_key(url), "timestamp": when.strftime("%Y%m%d%H%M%S"),
                "status": status_code, "mime": mime, "payload_digest": digest,
                "record_type": "revisit" if revisit else "response",
                "record_id": f"<urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}>",
                "offset": offsets[wf["id"]], "length": length, "truncated": None,
            })
            offsets[wf["id"]] += length + rng.randint(300, 700)  # + its request record
            wf["records"] += 2
            total_bytes += length
        for wf in files_of_job:
            wf["size"] = offsets[wf["id"]]
        file_rows += files_of_job
        finished = when + timedelta(seconds=rng.randint(2, 30))
        job_rows.append({
            "id": job_id, "status": status, "trigger": rng.choice(("schedule", "api", "cli")),
            "priority": 0, "dedupe_key": "urls:" + hashlib.sha256(seed_host.encode())
            .hexdigest(), "idempotency_key": None, "spec": spec,
            "stats": {"pages": len(chunk), "bytes": total_bytes,
                      "articles": int(len(chunk) * 0.8), "errors": 0 if status ==
                      JobStatus.SUCCEEDED else rng.randint(1, 5),
                      "warc_files": n_files, "failures": []},
            "attempts": 1, "error": None if status == JobStatus.SUCCEEDED else
            ("crawl ended: shutdown" if status == JobStatus.FAILED else "cancelled"),
            "pid": None, "worker": f"{hostname}:{30000 + job_id}",
            "cancel_requested": status == JobStatus.CANCELLED, "retry_of": None,
            "created_at": start, "started_at": start + timedelta(seconds=1),
            "finished_at": finished, "heartbeat_at": finished,
        })

    with catalog.session() as session:
        session.execute(insert(CrawlJob), job_rows)
        session.execute(insert(WarcFile), file_rows)
        for i in range(0, len(capture_rows), 2000):
            session.execute(insert(Capture), capture_rows[i:i + 2000])
    with catalog.session() as session:
        counts = {m.__tablename__: session.scalar(select(func.count()).select_from(m))
                  for m in (CrawlJob, WarcFile, Capture)}
        distinct = session.scalar(select(func.count(func.distinct(Capture.surt))))
    catalog.dispose()
    per_url = Counter(row["url"] for row in capture_rows)
    return {"counts": counts, "distinct_surts": distinct, "urls": url_list,
            "job_ids": [row["id"] for row in job_rows], "seconds": time.perf_counter() - t0,
            "max_per_url": max(per_url.values()), "db": config.database_url,
            "storage_url": config.storage_url, "warc_names": [f["filename"] for f in file_rows]}


def fill_storage(storage_url: str, warc_names: list[str]) -> int:
    """What the catalog's uploaded WARCs leave in file:// storage (empty stand-ins): each
    WARC under warcs/ and its CDXJ under indexes/, as archive.archiver stores them."""
    root = Path(urllib.parse.unquote(urllib.parse.urlparse(storage_url).path))
    for sub in ("warcs", "indexes"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for name in warc_names:
        (root / "warcs" / name).touch()
        (root / "indexes" / (name + ".cdxj")).touch()
    return 2 * len(warc_names)


# =====================================================================================
# Endpoints, runs, profile
# =====================================================================================


def endpoints(job_ids: list[int], urls: list[str]) -> list[dict[str, Any]]:
    return [
        {"name": "GET /healthz", "paths": ["/healthz"]},
        {"name": "GET /api/v1/crawls/{id}",
         "paths": [f"/api/v1/crawls/{i}" for i in job_ids]},
        {"name": "GET /api/v1/captures?url=",
         "paths": ["/api/v1/captures?" + urllib.parse.urlencode({"url": u}) for u in urls],
         "route": "/api/v1/captures"},
    ]


def probe(server: ServerProcess, endpoint: dict[str, Any], openapi: dict[str, Any]) -> str | None:
    """None when the endpoint answers 2xx for a sample of its paths, else why not."""
    sample = endpoint["paths"][:: max(1, len(endpoint["paths"]) // 20)]
    statuses = Counter(http_get(server.url + p)[0] for p in sample)
    route = endpoint.get("route")
    if route and statuses.get(404) == len(sample) and route not in openapi.get("paths", {}):
        return "not implemented (404; no such route in /openapi.json)"
    bad = {s: n for s, n in statuses.items() if not 200 <= s < 300}
    if bad:
        print(f"warning: {endpoint['name']}: {sum(bad.values())} of {len(sample)} probe "
              f"requests answered {bad}", flush=True)
    return None


def measure(load: Any, server: ServerProcess, endpoint: dict[str, Any], duration: float,
            name: str) -> dict[str, Any]:
    cpu0, kids0, busy0 = server.cpu_s(), children_cpu_s(), busy_cpu_s()
    t0 = time.perf_counter()
    result = load(endpoint["paths"], name, duration)
    wall = time.perf_counter() - t0
    result["server_cpu_s"] = server.cpu_s() - cpu0
    result["loader_cpu_s"] = children_cpu_s() - kids0
    # everything else the machine did meanwhile (other jobs, this script): a noise indicator
    result["other_cpu_s"] = max(0.0, busy_cpu_s() - busy0 - result["server_cpu_s"]
                                - result["loader_cpu_s"])
    result["wall_s"] = wall
    return result


def profile_endpoint(py_spy: str, load: Any, server: ServerProcess,
                     endpoint: dict[str, Any], duration: float, work: Path, name: str,
                     top: int) -> list[str]:
    """One extra load run with py-spy sampling the server's GIL holder; a summary."""
    out = work / f"{name}.pyspy.txt"
    spy = PySpy(py_spy, server.pid, duration, out)
    result = measure(load, server, endpoint, duration, name + "-profiled")
    failed = spy.finish()
    if failed is not None:
        return [f"\n{endpoint['name']}: py-spy produced nothing: {failed}"]
    total, lines = summarise(out, top)
    return [f"\n{endpoint['name']}: {total} GIL-holding samples at 200 Hz over "
            f"{result['wall_s']:.1f} s while serving {result['rps']:.0f} req/s under py-spy "
            f"(raw stacks: {out})", *lines]


# =====================================================================================
# Report
# =====================================================================================


def report(rows: list[tuple[dict[str, Any], list[dict[str, Any]] | str]],
           args: argparse.Namespace) -> None:
    def med(runs: list[dict[str, Any]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    busy_gen = False
    base_runs = rows[0][1] if isinstance(rows[0][1], list) else []
    header = (f"{'endpoint':<28} {'req/s':>7} {'vs healthz':>16} {'p50 ms':>7} {'p99 ms':>7} "
              f"{'non-2xx':>8} {'sock err':>8} {'srv CPU':>8} {'CPU ms/req':>10} "
              f"{'gen CPU':>8} {'other':>6}")
    print(f"\nconcurrency {args.connections}, {args.duration:g} s per run, "
          f"{args.rounds} round(s) (medians), load generator: {args.loader_used}")
    print(header)
    print("-" * len(header))
    for endpoint, runs in rows:
        if isinstance(runs, str):
            print(f"{endpoint['name']:<28} {runs}")
            continue
        rps = med(runs, "rps")
        srv = statistics.median(r["server_cpu_s"] / r["wall_s"] for r in runs)
        gen = statistics.median(r["loader_cpu_s"] / r["wall_s"] for r in runs)
        other = max(r["other_cpu_s"] / r["wall_s"] for r in runs)
        per_req = statistics.median(1e3 * r["server_cpu_s"] / max(1, r["requests"])
                                    for r in runs)
        busy_gen = busy_gen or gen > 0.5
        # paired by round: each run against the /healthz run of the same round
        ratios = [r["rps"] / b["rps"] for r, b in zip(runs, base_runs, strict=False)]
        ratio = (f"{statistics.median(ratios):.2f}x" if ratios else "-") + (
            f" ({min(ratios):.2f}-{max(ratios):.2f})" if len(ratios) > 1 else "")
        print(f"{endpoint['name']:<28} {rps:>7.0f} {ratio:>16} "
              f"{med(runs, 'p50_ms'):>7.1f} {med(runs, 'p99_ms'):>7.1f} "
              f"{sum(r['non2xx'] for r in runs):>8} {sum(r['errors'] for r in runs):>8} "
              f"{100 * srv:>7.0f}% {per_req:>10.2f} {100 * gen:>7.0f}% {100 * other:>5.0f}%")
    print("\nvs healthz: req/s / req/s of the GET /healthz run of the same round, median "
          "(min-max) over rounds. srv CPU: CPU time of "
          "the server process / wall time (100% = one core); CPU ms/req: server CPU per "
          "request; gen CPU: the load generator's CPU / wall time; other: CPU the rest of "
          f"the machine used meanwhile (worst round; {os.cpu_count()} cores = "
          f"{100 * (os.cpu_count() or 1)}%), well above ~5% means the figures are disturbed. "
          "non-2xx and sock err are totals over all rounds.")
    if busy_gen:
        print("warning: the load generator used more than half a core: it competes with the "
              "server for the CPUs and may be the bottleneck (the httpx fallback is; wrk "
              "should not be)")


# =====================================================================================
# Main
# =====================================================================================


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--connections", type=int, default=16, help="concurrent connections (16)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per run (10)")
    p.add_argument("--rounds", type=int, default=1,
                   help="runs per endpoint, endpoint order rotating; medians are printed (1)")
    p.add_argument("--warmup", type=float, default=2.0,
                   help="untimed seconds of load per endpoint first (2; 0: none)")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    p.add_argument("--loader", choices=("auto", "wrk", "httpx"), default="auto",
                   help="load generator: wrk if present (installed when root), else httpx")
    p.add_argument("--jobs", type=int, default=200, help="crawl jobs in the catalog (200)")
    p.add_argument("--urls", type=int, default=2000, help="distinct captured URLs (2,000)")
    p.add_argument("--captures", type=int, default=10000, help="captures (10,000)")
    p.add_argument("--seed", type=int, default=1, help="seed of the generated catalog")
    p.add_argument("--storage-files", action="store_true",
                   help="after the runs above, put an empty stand-in for each catalogued WARC "
                        "and its CDXJ into storage and measure /healthz again (it lists the "
                        "storage on every call); the baseline stays the empty-storage run")
    p.add_argument("--profile", action="store_true",
                   help="after the measured runs, one more run per endpoint under py-spy")
    p.add_argument("--py-spy", help="path of py-spy (default: on PATH or beside python)")
    p.add_argument("--top", type=int, default=12, help="lines per profile list (12)")
    p.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = p.parse_args(argv)
    if args.captures < args.urls or args.jobs < 1 or args.captures < args.jobs:
        p.error("need captures >= urls and captures >= jobs >= 1")
    return args


def main() -> None:
    args = parse_args()
    wrk = find_wrk(args.loader)
    args.loader_used = (f"wrk ({min(args.threads, args.connections)} thread(s), Lua path "
                        "rotation)" if wrk else "httpx AsyncClient in a child process")
    with scratch_dir("newsarchive-apiload-", keep=args.keep) as work:
        data_dir = work / "data"
        server = newsarchive_serve(work, data_dir, free_port())
        try:
            run(args, work, LoadGenerator(wrk, work, connections=args.connections,
                                          threads=args.threads), server)
        finally:
            if server.proc is not None:
                code = server.stop()
                print(f"\nserver stopped (exit {code})")


def run(args: argparse.Namespace, work: Path, generator: LoadGenerator,
        server: ServerProcess) -> None:
    """Fill the catalog, start the server, probe, warm up, the rounds, the report."""
    info = populate(work / "data", jobs=args.jobs, urls=args.urls, captures=args.captures,
                    seed=args.seed)
    c = info["counts"]
    print(f"catalog: {c['crawl_jobs']} jobs, {c['warc_files']} WARC files, "
          f"{c['captures']} captures of {info['distinct_surts']} distinct SURTs "
          f"(<= {info['max_per_url']} per URL) in {info['db']} "
          f"[{info['seconds']:.1f} s]; storage empty")
    t0 = time.perf_counter()
    server.start()
    print(f"server: {' '.join(server.command[1:])} (pid {server.pid}, up in "
          f"{time.perf_counter() - t0:.1f} s, log {server.log})")
    mods = {m: "yes" if _importable(m) else "no" for m in ("uvloop", "httptools")}
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs; uvloop: "
          f"{mods['uvloop']}, httptools: {mods['httptools']}; load generator: "
          f"{args.loader_used}, {args.connections} connections")

    def load(paths: list[str], name: str, duration: float) -> dict[str, Any]:
        return generator.run(server.url, paths, name, duration)

    _, body = http_get(server.url + "/openapi.json")
    openapi = json.loads(body)
    eps = endpoints(info["job_ids"], info["urls"])
    active: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    for ep in eps:
        why = probe(server, ep, openapi)
        if why:
            skipped[ep["name"]] = why
            print(f"{ep['name']}: {why}")
        else:
            active.append(ep)
    if args.warmup > 0:
        for i, ep in enumerate(active):
            load(ep["paths"], f"warmup{i}", args.warmup)
        print(f"warm-up: {args.warmup:g} s per endpoint")

    results: dict[str, list[dict[str, Any]]] = {ep["name"]: [] for ep in active}
    for rnd in range(args.rounds):
        for ep in round_order(active, rnd, rotate=True):
            r = measure(load, server, ep, args.duration, f"r{rnd}-{eps.index(ep)}")
            results[ep["name"]].append(r)
            print(f"  round {rnd + 1} {ep['name']:<28} {r['rps']:8.0f} req/s  p50 "
                  f"{r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms  non-2xx "
                  f"{r['non2xx']}  server CPU {r['server_cpu_s']:.1f} s  other CPU "
                  f"{r['other_cpu_s']:.1f} s", flush=True)
    rows = [(ep, results.get(ep["name"]) or skipped[ep["name"]]) for ep in eps]
    profile: list[str] = []
    py_spy = find_py_spy(args.py_spy) if args.profile else None
    if args.profile and py_spy is None:
        profile.append("\n--profile: py-spy not found (`pip install py-spy`, or "
                       "--py-spy PATH)")
    elif py_spy:
        profile.append(f"\nprofile: one more run per endpoint with {py_spy} sampling "
                       "the server (--gil: only the thread holding the GIL, i.e. where "
                       "Python time goes; these runs are not in the table)")
        for i, ep in enumerate(active):
            profile += profile_endpoint(py_spy, load, server, ep, args.duration, work,
                                        f"profile{i}", args.top)
    if args.storage_files:
        n = fill_storage(info["storage_url"], info["warc_names"])
        extra = {"name": f"GET /healthz, {n} stored", "paths": ["/healthz"]}
        runs = []
        for rnd in range(args.rounds):
            r = measure(load, server, extra, args.duration, f"r{rnd}-storage")
            runs.append(r)
            print(f"  round {rnd + 1} {extra['name']:<28} {r['rps']:8.0f} req/s  p50 "
                  f"{r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms  (storage now holds "
                  f"{n} files: each uploaded WARC and its CDXJ)", flush=True)
        rows.append((extra, runs))
        if py_spy:
            profile += profile_endpoint(py_spy, load, server, extra, args.duration, work,
                                        "profile-storage", args.top)
    print(f"server after the runs: RSS {rss_kb(server.pid) / 1024:.0f} MB, "
          f"{threads(server.pid)} threads")
    report(rows, args)
    print("\n".join(profile))

def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    main()
