#!/usr/bin/env python3
"""Replay at a million captures: closest-capture lookups, and ``GET /web/{ts}id_/{url}`` of
``newsarchive serve`` against pywb's ``wayback`` serving the same WARCs and the same index.

1. Data. Real WARCs: ``--real-urls`` news-like URLs, each captured ``--real-captures`` times
   at seeded times over 2025-2026, archived through ``archive.archiver.Archiver`` (the real
   writer, catalog rows and file://storage uploads), HTML bodies of log-normal size
   (median ~16 KB), a different body per capture. Then the catalog is filled up to
   ``--captures`` rows (default 1,000,000) with synthetic URLs whose rows point at real
   response records (bulk inserts of 50,000 rows), and the whole captures table is written
   as one sorted CDXJ for pywb (``archive.cdxj.CdxjEntry``), beside links to the WARCs in a
   pywb collection. ``--workdir DIR`` keeps all this and reuses it in the next run.
2. Lookups. ``--lookups`` calls of ``archive.snapshot.closest_capture`` (one session, as a
   request uses) at random URLs of the whole catalog and random 14-digit times; the same
   (url, time) pairs through pywb's own index code (``SimpleAggregator`` over
   ``FileIndexSource``, ``closest=``, ``limit=1``) in its virtualenv as the baseline.
3. HTTP. ``newsarchive serve`` (uvicorn, one process) and pywb's ``wayback`` (gevent, one
   process; ``.cache/pywb-venv``, created with ``pip install pywb`` when missing) on free
   loopback ports. Paths: ``--paths`` random real captures at their own timestamps, the same
   for both; a sample is fetched from both first and each body must be the archived
   payload. Load: wrk (Lua script rotating paths; ``apt-get install -y wrk`` when missing
   and root, else an httpx loop), ``--connections`` keep-alive connections,
   ``--warmup`` then ``--rounds`` runs of ``--duration`` s per server, order alternating.

Prints p50/p99 of the lookups, req/s, p50/p99 latency and CPU per request of both servers,
the ratios ours/pywb and the machine's load average at the start and the end (the machine
may be shared: compare ratios from one run). When ``/web/{ts}id_/{url}`` is not served (404
and not in ``/openapi.json``) our row is reported as not run. Run from the repository root:

  .venv/bin/python benchmarks/replay.py [--captures 1000000] [--workdir DIR] [--keep]

This is a benchmark script, not a test; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from support.load import LoadGenerator, find_wrk
from support.newssite import make_urls
from support.procstat import busy_cpu_s
from support.runs import percentile, round_order, scratch_dir
from support.servers import ServerProcess, free_port, http_get, newsarchive_serve
from support.tools import peer_venv

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

COLLECTION = "bench"
START = datetime(2025, 1, 1, tzinfo=UTC)
SPAN_S = 2 * 365 * 86400
WORDS = ("council", "harbour", "budget", "flood", "tram", "election", "school", "hospital",
         "ferry", "strike", "museum", "river", "housing", "airport", "festival", "court",
         "energy", "police", "market", "league", "bridge", "water", "inquiry", "storm")

# =====================================================================================
# Data
# =====================================================================================


def ts14(when: datetime) -> str:
    return when.strftime("%Y%m%d%H%M%S")


def random_ts(rng: random.Random) -> str:
    return ts14(START + timedelta(seconds=rng.randrange(SPAN_S)))


def page_body(rng: random.Random, url: str, stamp: str) -> bytes:
    size = min(120_000, int(rng.lognormvariate(9.7, 0.6)))  # median ~16 KB
    words = " ".join(rng.choice(WORDS) for _ in range(size // 7))
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{url}</title></head>"
            f"<body><p class=stamp>{stamp}</p><article><p>{words}</p></article></body>"
            "</html>").encode()


def archive_real(data_dir: Path, urls: list[str], per_url: int,
                 rng: random.Random) -> dict[str, list[tuple[str, str]]]:
    """Archive ``per_url`` captures of each URL through the Archiver; returns, per URL, its
    (timestamp, sha1 of the body) pairs sorted by time."""
    from archive.archiver import Archiver
    from archive.catalog import Catalog
    from archive.config import ArchiveSettings
    from archive.warc import HttpExchange, WarcWriter

    class SeededClockWriter(WarcWriter):
        at = START

        def now(self) -> datetime:
            return self.at

    config = ArchiveSettings(data_dir=data_dir)
    catalog = Catalog(config.database_url)
    writer = SeededClockWriter(config.spool_dir, max_size=8 * 1024**2)
    archiver = Archiver(catalog, config.open_storage(catalog), writer)
    plan = [(url, START + timedelta(seconds=rng.randrange(SPAN_S)))
            for url in urls for _ in range(per_url)]
    plan.sort(key=lambda item: item[1])  # a crawl writes in time order
    bodies: dict[str, list[tuple[str, str]]] = {url: [] for url in urls}
    for url, when in plan:
        writer.at = when
        body = page_body(rng, url, ts14(when))
        archiver.archive(HttpExchange(
            url=url, method="GET", request_headers=[("User-Agent", "bench")], status=200,
            reason="OK", response_headers=[("Content-Type", "text/html; charset=utf-8"),
                                           ("Content-Length", str(len(body)))],
            body=body))
        bodies[url].append((ts14(when), hashlib.sha1(body).hexdigest()))
    archiver.close()
    catalog.dispose()
    return bodies


def fill_catalog(data_dir: Path, total: int, urls: list[str], rng: random.Random) -> float:
    """Bulk-insert synthetic captures up to ``total`` rows, each pointing at a real response
    record; returns the seconds spent inserting."""
    from sqlalchemy import func, insert, select

    from archive.catalog import Catalog
    from archive.cdxj import surt_key
    from archive.config import ArchiveSettings
    from archive.models import Capture

    catalog = Catalog(ArchiveSettings(data_dir=data_dir).database_url)
    with catalog.session() as session:
        real = session.execute(select(
            Capture.warc_file_id, Capture.offset, Capture.length, Capture.payload_digest,
            Capture.mime, Capture.status)).all()
        have = session.scalar(select(func.count()).select_from(Capture)) or 0
    keys = {url: surt_key(url) for url in urls}
    t0 = time.perf_counter()
    batch: list[dict[str, Any]] = []
    with catalog.engine.begin() as conn:
        for n in range(total - have):
            url = urls[n] if n < len(urls) else urls[rng.randrange(len(urls))]  # each once
            file_id, offset, length, digest, mime, status = real[n % len(real)]
            batch.append({"warc_file_id": file_id, "url": url, "surt": keys[url],
                          "timestamp": random_ts(rng), "status": status, "mime": mime,
                          "payload_digest": digest, "record_type": "response",
                          "record_id": f"<urn:newsarchive-bench:{n}>", "offset": offset,
                          "length": length})
            if len(batch) == 50_000:
                conn.execute(insert(Capture), batch)
                batch = []
        if batch:
            conn.execute(insert(Capture), batch)
    seconds = time.perf_counter() - t0
    catalog.dispose()
    return seconds


def write_pywb_collection(data_dir: Path, root: Path) -> int:
    """A pywb collection: links to the stored WARCs, the catalog as one sorted CDXJ."""
    from sqlalchemy import select

    from archive.catalog import Catalog
    from archive.cdxj import CdxjEntry
    from archive.config import ArchiveSettings
    from archive.models import Capture, WarcFile

    archive_dir = root / "collections" / COLLECTION / "archive"
    index_dir = root / "collections" / COLLECTION / "indexes"
    archive_dir.mkdir(parents=True, exist_ok=True)
    index_dir.mkdir(parents=True, exist_ok=True)
    for warc in (data_dir / "storage" / "warcs").glob("*.warc.gz"):
        with contextlib.suppress(FileExistsError):
            (archive_dir / warc.name).symlink_to(warc)
    catalog = Catalog(ArchiveSettings(data_dir=data_dir).database_url)
    query = (select(Capture.url, Capture.surt, Capture.timestamp, Capture.mime, Capture.status,
                    Capture.payload_digest, Capture.length, Capture.offset, WarcFile.filename)
             .join(WarcFile, Capture.warc_file_id == WarcFile.id)
             .order_by(Capture.surt, Capture.timestamp, Capture.id)
             .execution_options(yield_per=20_000))
    lines = 0
    with catalog.session() as session, (index_dir / "index.cdxj").open("w") as out:
        for row in session.execute(query):
            out.write(CdxjEntry(
                surt=row.surt, timestamp=row.timestamp, url=row.url, mime=row.mime,
                status=row.status, digest=(row.payload_digest or "").removeprefix("sha1:"),
                length=row.length, offset=row.offset, filename=row.filename).to_line())
            lines += 1
    catalog.dispose()
    return lines


def build_dataset(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Generate (or reuse, when ``work/dataset.json`` exists) the catalog, WARCs and index."""
    manifest = work / "dataset.json"
    if manifest.exists():
        info = json.loads(manifest.read_text())
        print(f"data: reusing {work} ({info['captures']:,} captures; generated with "
              f"{info['args']})")
        return info
    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    all_urls = make_urls(rng, args.real_urls + args.synthetic_urls)
    real_urls, synthetic = all_urls[:args.real_urls], all_urls[args.real_urls:]
    bodies = archive_real(work / "data", real_urls, args.real_captures, rng)
    t1 = time.perf_counter()
    insert_s = fill_catalog(work / "data", args.captures, synthetic, rng)
    t2 = time.perf_counter()
    lines = write_pywb_collection(work / "data", work / "pywb")
    t3 = time.perf_counter()
    warcs = sorted((work / "data" / "storage" / "warcs").glob("*.warc.gz"))
    info = {"captures": lines, "real_urls": real_urls, "synthetic_urls": synthetic,
            "bodies": bodies, "warcs": [w.name for w in warcs],
            "warc_bytes": sum(w.stat().st_size for w in warcs),
            "seconds": {"warcs": t1 - t0, "insert": insert_s, "fill": t2 - t1,
                        "cdxj": t3 - t2},
            "args": {k: getattr(args, k) for k in ("captures", "real_urls", "real_captures",
                                                   "synthetic_urls", "seed")}}
    manifest.write_text(json.dumps(info))
    s = info["seconds"]
    print(f"data: {len(real_urls) * args.real_captures:,} real captures of "
          f"{len(real_urls):,} URLs in {len(warcs)} WARCs ({info['warc_bytes'] / 1e6:.0f} MB) "
          f"[{s['warcs']:.1f} s]; catalog filled to {lines:,} captures with "
          f"{len(synthetic):,} synthetic URLs [{s['insert']:.1f} s of inserts, "
          f"{(lines - len(real_urls) * args.real_captures) / s['insert']:,.0f} rows/s]; "
          f"pywb CDXJ written [{s['cdxj']:.1f} s]")
    return info


# =====================================================================================
# Lookups
# =====================================================================================

PYWB_LOOKUPS = """
import json, sys, time
from pywb.warcserver.index.aggregator import SimpleAggregator
from pywb.warcserver.index.indexsource import FileIndexSource
index = SimpleAggregator({"bench": FileIndexSource(sys.argv[1])})
warmup = int(sys.argv[2])  # the first pairs only warm the page cache
times, found = [], 0
for i, (url, at) in enumerate(json.loads(sys.stdin.read())):
    t0 = time.perf_counter()
    cdx_iter, errors = index({"url": url, "closest": at, "limit": "1"})
    first = next(iter(cdx_iter), None)
    if i >= warmup:
        times.append(time.perf_counter() - t0)
        found += first is not None
print(json.dumps({"times": times, "found": found}))
"""


def lookups(work: Path, info: dict[str, Any], args: argparse.Namespace,
            pywb_venv: Path) -> dict[str, Any]:
    from archive.catalog import Catalog
    from archive.config import ArchiveSettings
    from archive.snapshot import closest_capture

    rng = random.Random(args.seed + 1)
    urls = info["real_urls"] + info["synthetic_urls"]
    pairs = [(urls[rng.randrange(len(urls))], random_ts(rng)) for _ in range(args.lookups)]
    catalog = Catalog(ArchiveSettings(data_dir=work / "data").database_url)
    ours: list[float] = []
    with catalog.session() as session:
        for url, at in pairs[:50]:  # warm the connection and the page cache
            closest_capture(session, url, at)
        for url, at in pairs:
            t0 = time.perf_counter()
            closest_capture(session, url, at)
            ours.append(time.perf_counter() - t0)
    catalog.dispose()
    index = work / "pywb" / "collections" / COLLECTION / "indexes" / "index.cdxj"
    proc = subprocess.run([str(pywb_venv / "bin" / "python"), "-c", PYWB_LOOKUPS, str(index),
                           "50"], input=json.dumps(pairs[:50] + pairs), capture_output=True,
                          text=True, check=True)
    theirs = json.loads(proc.stdout)
    return {"ours": ours, "pywb": theirs["times"], "pywb_found": theirs["found"],
            "cdxj_mb": index.stat().st_size / 1e6}


# =====================================================================================
# Servers
# =====================================================================================


def pywb_server(venv: Path, work: Path, root: Path, port: int) -> ServerProcess:
    """pywb's ``wayback -b 127.0.0.1 -p PORT`` in the collection directory ``root``."""
    command = [str(venv / "bin" / "wayback"), "-b", "127.0.0.1", "-p", str(port)]
    return ServerProcess("wayback", command, port=port, cwd=root, log=work / "pywb.log",
                         ready_path=f"/{COLLECTION}/")


def replay_paths(info: dict[str, Any], count: int, seed: int) -> list[tuple[str, str, str]]:
    """(url, timestamp, sha1 of its payload) of random real captures. The timestamps are the
    captures' own: at any other time our id_ route redirects to the capture's timestamp (a
    302 that wrk would count instead of the replay)."""
    rng = random.Random(seed + 2)
    out = []
    for _ in range(count):
        url = info["real_urls"][rng.randrange(len(info["real_urls"]))]
        ts, sha1 = rng.choice(info["bodies"][url])
        out.append((url, ts, sha1))
    return out


def check_bodies(base: str, prefix: str, sample: list[tuple[str, str, str]]) -> str | None:
    """None when every sampled path answers 200 with the archived payload; else why not."""
    for url, at, sha1 in sample:
        status, body = http_get(f"{base}{prefix}/{at}id_/{url}", timeout=30)
        if status != 200:
            return f"{prefix}/{at}id_/{url} answered {status}: {body[:200]!r}"
        if hashlib.sha1(body).hexdigest() != sha1:
            return (f"{prefix}/{at}id_/{url}: the body ({len(body)} bytes) is not the payload "
                    "of that capture")
    return None


def route_missing(server: ServerProcess) -> bool:
    status, body = http_get(server.url + "/openapi.json")
    return status != 200 or "/web/" not in body.decode("utf-8", "replace")


def measure(server: ServerProcess, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``run()`` (one load run against ``server``) with the CPU it and the machine used."""
    cpu0, busy0 = server.cpu_s(), busy_cpu_s()
    result = run()
    result["server_cpu_s"] = server.cpu_s() - cpu0
    result["other_cpu_s"] = max(0.0, busy_cpu_s() - busy0 - result["server_cpu_s"])
    return result


# =====================================================================================
# Report
# =====================================================================================


def format_load(load: tuple[float, float, float]) -> str:
    return "/".join(f"{value:.2f}" for value in load)


def report_lookups(found: dict[str, Any], captures: int) -> None:
    ours, theirs = found["ours"], found["pywb"]
    print(f"\nclosest-capture lookups over {captures:,} captures ({len(ours):,} random "
          "(url, time) pairs, same pairs for both)")
    print(f"  {'':<44} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    rows = [("ours: archive.snapshot.closest_capture (SQLite)", ours),
            (f"pywb: {found['cdxj_mb']:.0f} MB CDXJ, closest=, limit=1", theirs)]
    for label, values in rows:
        print(f"  {label:<44} {percentile(values, 50) * 1e3:8.3f} "
              f"{percentile(values, 99) * 1e3:8.3f} {statistics.fmean(values) * 1e3:8.3f}")
    if found["pywb_found"] != len(theirs):
        print(f"  pywb found a capture for only {found['pywb_found']:,} of the pairs")
    print(f"  ours/pywb: p50 {percentile(ours, 50) / percentile(theirs, 50):.2f}, "
          f"p99 {percentile(ours, 99) / percentile(theirs, 99):.2f} (lower is faster)")


def report_http(results: dict[str, list[dict[str, Any]]], skipped: dict[str, str],
                args: argparse.Namespace) -> None:
    print(f"\nGET {{ts}}id_/{{url}}: {args.paths:,} rotating paths, {args.connections} "
          f"connections, {args.duration:g} s x {args.rounds} round(s), medians")
    print(f"  {'server':<34} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} "
          f"{'sock err':>8} {'srv CPU':>8} {'CPU ms/req':>10} {'other':>6}")

    def med(runs: list[dict[str, Any]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    for name, runs in results.items():
        requests = sum(r["requests"] for r in runs)
        server_cpu = sum(r["server_cpu_s"] for r in runs)
        wall = sum(r["seconds"] for r in runs)
        print(f"  {name:<34} {med(runs, 'rps'):8.0f} {med(runs, 'p50_ms'):8.1f} "
              f"{med(runs, 'p99_ms'):8.1f} {sum(r['non2xx'] for r in runs):8d} "
              f"{sum(r['errors'] for r in runs):8d} {server_cpu / wall:8.0%} "
              f"{server_cpu / max(requests, 1) * 1e3:10.2f} "
              f"{max(r['other_cpu_s'] / r['seconds'] for r in runs):6.0%}")
    for name, why in skipped.items():
        print(f"  {name:<34} not run: {why}")
    if len(results) == 2:
        ours, theirs = results.values()
        ratios = [a["rps"] / b["rps"] for a, b in zip(ours, theirs, strict=True)]
        print(f"  ours/pywb: req/s {statistics.median(ratios):.2f} "
              f"(rounds {min(ratios):.2f}-{max(ratios):.2f}), p50 latency "
              f"{med(ours, 'p50_ms') / med(theirs, 'p50_ms'):.2f}, p99 latency "
              f"{med(ours, 'p99_ms') / med(theirs, 'p99_ms'):.2f}")


# =====================================================================================
# Main
# =====================================================================================


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--captures", type=int, default=1_000_000,
                   help="captures in the catalog and the pywb index (1,000,000)")
    p.add_argument("--real-urls", type=int, default=2000,
                   help="URLs archived into real WARC records (2,000)")
    p.add_argument("--real-captures", type=int, default=3, help="captures per real URL (3)")
    p.add_argument("--synthetic-urls", type=int, default=200_000,
                   help="URLs of the synthetic rows (200,000)")
    p.add_argument("--lookups", type=int, default=5000, help="closest-capture lookups (5,000)")
    p.add_argument("--paths", type=int, default=2000, help="replay paths rotated by wrk")
    p.add_argument("--connections", type=int, default=16, help="concurrent connections (16)")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per run (10)")
    p.add_argument("--warmup", type=float, default=2.0, help="untimed seconds per server (2)")
    p.add_argument("--rounds", type=int, default=2, help="runs per server, order alternating")
    p.add_argument("--loader", choices=("auto", "wrk", "httpx"), default="auto",
                   help="load generator: wrk if present (installed when root), else httpx")
    p.add_argument("--seed", type=int, default=1, help="seed of the generated data")
    p.add_argument("--workdir", type=Path,
                   help="keep the generated data here and reuse it when present")
    p.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = p.parse_args(argv)
    if args.captures < args.real_urls * args.real_captures + args.synthetic_urls:
        p.error("--captures must be at least --real-urls x --real-captures + "
                "--synthetic-urls (every URL has a capture)")
    return args


def main() -> None:
    args = parse_args()
    wrk = find_wrk(args.loader)
    pywb_venv = peer_venv("pywb", "pywb", program="wayback")
    with scratch_dir("newsarchive-replay-", keep=args.keep, path=args.workdir) as work:
        servers: list[ServerProcess] = []
        try:
            run(args, work, LoadGenerator(wrk, work, connections=args.connections,
                                          threads=args.threads), pywb_venv, servers)
        finally:
            for server in servers:
                server.stop()


def run(args: argparse.Namespace, work: Path, generator: LoadGenerator, pywb_venv: Path,
        servers: list[ServerProcess]) -> None:
    """Everything between the set-up and the clean-up; ``servers`` gets each server started."""
    load_at_start = os.getloadavg()
    info = build_dataset(work, args)
    found = lookups(work, info, args, pywb_venv)

    replay_port = free_port()  # replays have their own origin; /web/ on the API redirects
    ours = newsarchive_serve(work, work / "data", free_port(), replay_port=replay_port)
    pywb = pywb_server(pywb_venv, work, work / "pywb", free_port())
    for server in (ours, pywb):
        t0 = time.perf_counter()
        server.start()
        servers.append(server)
        print(f"server: {' '.join(server.command)} (pid {server.pid}, up in "
              f"{time.perf_counter() - t0:.1f} s)")
    targets = replay_paths(info, args.paths, args.seed)
    bases = {ours: f"http://127.0.0.1:{replay_port}", pywb: pywb.url}
    prefixes = {"newsarchive serve  /web/": (ours, "/web"),
                f"pywb wayback  /{COLLECTION}/": (pywb, f"/{COLLECTION}")}
    skipped: dict[str, str] = {}
    for name, (server, prefix) in list(prefixes.items()):
        why = check_bodies(bases[server], prefix, targets[:20])
        if why and server is ours and route_missing(ours):
            why = "GET /web/{ts}id_/{url} is not implemented (not in /openapi.json)"
        if why:
            skipped[name] = why
            del prefixes[name]
            print(f"{name}: {why}")

    def load(server: ServerProcess, paths: list[str], name: str, duration: float) -> Any:
        return generator.run(bases[server], paths, name, duration)

    paths = {name: [f"{prefix}/{at}id_/{url}" for url, at, _ in targets]
             for name, (_, prefix) in prefixes.items()}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in prefixes}
    if args.warmup > 0:
        for i, (name, (server, _)) in enumerate(prefixes.items()):
            load(server, paths[name], f"warmup{i}", args.warmup)
    names = list(prefixes)
    for rnd in range(args.rounds):
        for name in round_order(names, rnd, reverse_odd=True):
            server = prefixes[name][0]
            r = measure(server, partial(load, server, paths[name],
                                        f"r{rnd}-{names.index(name)}", args.duration))
            results[name].append(r)
            print(f"  round {rnd + 1} {name:<30} {r['rps']:8.0f} req/s  p50 "
                  f"{r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms  non-2xx "
                  f"{r['non2xx']}  other CPU {r['other_cpu_s']:.1f} s", flush=True)
    loader = (f"wrk, {generator.threads} thread(s)" if generator.wrk
              else "httpx in a child process")
    print(f"\nload generator: {loader}; machine: {os.cpu_count()} CPUs; load average "
          f"(1, 5, 15 min) {format_load(load_at_start)} at the start, "
          f"{format_load(os.getloadavg())} at the end")
    report_lookups(found, info["captures"])
    report_http(results, skipped, args)

if __name__ == "__main__":
    main()
