#!/usr/bin/env python3
"""Storage throughput: S3 upload MB/s and ranged-read latency against moto over real HTTP.

Starts ``moto_server`` (``pip install 'moto[server]'``) on a free loopback port as a separate
process, writes one WARC of ``--size-mb`` MB (default 1024) with the project's WarcWriter
(real gzip-per-record WARC/1.1: warcinfo, then response + request records of news-like
pages whose bodies are stored gzip-encoded as served), and then:

1. uploads it ``--rounds`` times (default 2) through ``archive.s3.S3Storage.put_file``
   (multipart in ``--part-size-mb`` parts, default 64 as shipped, Content-MD5 per part,
   size + SHA-256 verified by a HEAD afterwards) and through plain boto3
   ``client.upload_file`` (``TransferConfig()`` defaults: 8 MB parts, 10 threads), to the
   same endpoint and bucket, alternating which goes first; each object is deleted after
   its upload (not timed) so moto holds one copy at a time;
2. reads ``--reads`` (default 1,000) single records with ``S3Storage.read_range`` (one
   ``Range:`` GET each), at random offsets/lengths taken from the file's real response
   record boundaries (``--fixed-range-kb N``: N KB at random offsets instead), every read
   checked byte for byte against the local file; the same ranges with a bare boto3
   ``get_object(Range=...)`` are timed as a reference.

Prints MB/s per upload, the median of each and the ratio ours/boto3 (median of per-round
ratios), p50/p90/p99 of the ranged reads, and moto's RSS. moto keeps objects in the server
process (memory, spilling large values to temp files), so its RSS grows with what is
stored; use a smaller ``--size-mb`` if memory is short. The machine's other load shows up
in the figures: the server, the client and the file generation share the same cores.

  .venv/bin/python benchmarks/storage_throughput.py [--size-mb 1024] [--rounds 2]

This is a benchmark script, not a test; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from support.procstat import tree_rss_kb
from support.runs import percentile, round_order, scratch_dir
from support.servers import ServerProcess, free_port

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import boto3  # noqa: E402
from boto3.s3.transfer import TransferConfig  # noqa: E402
from botocore.config import Config  # noqa: E402

from archive.s3 import S3Storage  # noqa: E402
from archive.storage import file_sha256  # noqa: E402
from archive.warc import HttpExchange, WarcWriter  # noqa: E402

MB = 1_000_000
MiB = 1024 * 1024
BUCKET = "bench"
PREFIX = "newsarchive"
KEY_ID, SECRET = "bench-key", "bench-secret"
WORDS = ("council", "harbour", "budget", "flood", "tram", "election", "school", "hospital",
         "ferry", "strike", "wind-farm", "museum", "river", "housing", "airport", "festival",
         "court", "energy", "police", "market", "league", "bridge", "water", "inquiry",
         "union", "farmers", "report", "rates", "storm", "plan", "vote", "the", "of", "and",
         "a", "to", "in", "said", "on", "for", "with", "after", "was", "new", "year")


# -- moto -----------------------------------------------------------------------------------


def moto_server(work: Path) -> ServerProcess:
    """``moto_server -H 127.0.0.1 -p FREE`` (the one beside this interpreter, else on PATH),
    ready when ``GET /`` answers 200."""
    beside = Path(sys.executable).with_name("moto_server")
    found = str(beside) if beside.exists() else shutil.which("moto_server")
    if not found:
        sys.exit("moto_server not found: pip install 'moto[server]' into this virtualenv")
    port = free_port()
    return ServerProcess("moto_server", [found, "-H", "127.0.0.1", "-p", str(port)],
                         port=port, cwd=work, log=work / "moto.log", ready_path="/")


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` and its descendants (moto_server may fork a reloader)."""
    return tree_rss_kb(pid) * 1024 / MB


# -- the WARC -------------------------------------------------------------------------------


@dataclass
class Warc:
    path: Path
    size: int
    sha256: str
    records: list[tuple[int, int]]  # (offset, length) of every response record
    seconds: float


def news_bodies(rng: random.Random, count: int) -> list[bytes]:
    """Gzip-encoded HTML pages of 8-80 KB (as a server sends them, as the WARC keeps them)."""
    bodies = []
    for _ in range(count):
        paragraphs = []
        target = int(rng.lognormvariate(10.2, 0.5))  # median ~27 KB of HTML
        size = 0
        while size < target:
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 120)))
            paragraph = f"<p>{words.capitalize()}.</p>\n"
            paragraphs.append(paragraph)
            size += len(paragraph)
        html = ("<!doctype html><html><head><title>Story</title></head><body><article>"
                + "".join(paragraphs) + "</article></body></html>")
        bodies.append(gzip.compress(html.encode(), compresslevel=6, mtime=0))
    return bodies


def write_warc(directory: Path, size: int, seed: int) -> Warc:
    rng = random.Random(seed)
    bodies = news_bodies(rng, 400)
    writer = WarcWriter(directory, max_size=size * 4, max_age=float("inf"), gzip_level=6)
    records: list[tuple[int, int]] = []
    started = time.perf_counter()
    n = 0
    while writer._current is None or writer._current.out.size < size:
        n += 1
        body = rng.choice(bodies)
        exchange = HttpExchange(
            url=f"https://news.example.org/{rng.choice(WORDS)}/2026/11/{n % 28 + 1:02d}/"
                f"story-{n}.html",
            method="GET", request_headers=[("User-Agent", "newsarchive-bench"),
                                           ("Accept-Encoding", "gzip")],
            status=200, reason="OK",
            response_headers=[("Content-Type", "text/html; charset=utf-8"),
                              ("Content-Encoding", "gzip"),
                              ("Content-Length", str(len(body))),
                              ("Cache-Control", "max-age=60")],
            body=body, ip_address="93.184.216.34")
        response, _request = writer.write_exchange(exchange)
        records.append((response.offset, response.length))
    closed = writer.close()
    assert closed is not None
    return Warc(closed.path, closed.size, closed.sha256, records,
                time.perf_counter() - started)


# -- measurements ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size-mb", type=int, default=1024, help="WARC size in MB (default 1024)")
    p.add_argument("--rounds", type=int, default=2, help="upload rounds (default 2)")
    p.add_argument("--reads", type=int, default=1000, help="ranged reads (default 1000)")
    p.add_argument("--part-size-mb", type=int, default=64,
                   help="S3Storage part size in MiB (default 64, as shipped)")
    p.add_argument("--fixed-range-kb", type=int, default=0,
                   help="read N KB at random offsets instead of real records")
    p.add_argument("--read-object-mb", type=int, default=32,
                   help="size of the WARC prefix the ranged reads go to (default 32)")
    p.add_argument("--full-object-reads", type=int, default=20,
                   help="extra reads of the full-size object, to show moto's cost (20)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = p.parse_args(argv)

    with scratch_dir("storage-bench-", keep=args.keep) as work:
        moto = moto_server(work)
        try:
            moto.start(timeout=30.0)
            run(args, work, moto)
        finally:
            moto.kill()


def run(args: argparse.Namespace, work: Path, moto: ServerProcess) -> None:
    endpoint = moto.url
    print(f"moto_server pid {moto.pid} at {endpoint} (RSS {rss_mb(moto.pid):.0f} MB)")
    print("note: moto keeps what is stored inside its server process; its RSS grows with "
          "the objects (large values spill to temp files). Use --size-mb to shrink.")
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
                          config=Config(s3={"addressing_style": "path"}))
    client.create_bucket(Bucket=BUCKET)
    storage = S3Storage(f"s3://{BUCKET}/{PREFIX}", endpoint_url=endpoint,
                        aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
                        part_size=args.part_size_mb * MiB)

    warc = write_warc(work / "spool", args.size_mb * MB, args.seed)
    print(f"\nWARC: {warc.path.name}: {warc.size / MB:.0f} MB, {len(warc.records):,} "
          f"response records (+ as many request records), written in {warc.seconds:.1f} s "
          f"({warc.size / MB / warc.seconds:.0f} MB/s, gzip level 6 per record)")
    parts = -(-warc.size // storage.part_size)
    print(f"\nuploads ({args.rounds} rounds, order alternating): ours = S3Storage.put_file "
          f"({args.part_size_mb} MiB parts x {parts}, sequential, Content-MD5, HEAD-verified);"
          f" boto3 = upload_file with TransferConfig() defaults (8 MiB parts, 10 threads)")
    print(f"{'round':>5}  {'ours MB/s':>10}  {'boto3 MB/s':>10}  {'ours/boto3':>10}  "
          f"{'moto RSS MB':>11}")

    def ours(key: str) -> None:
        stored = storage.put_file(key, warc.path, sha256=warc.sha256)
        assert stored.size == warc.size and stored.sha256 == warc.sha256

    def plain(key: str) -> None:
        client.upload_file(str(warc.path), BUCKET, f"{PREFIX}/{key}", Config=TransferConfig())
        head = client.head_object(Bucket=BUCKET, Key=f"{PREFIX}/{key}")
        assert head["ContentLength"] == warc.size

    rates: dict[str, list[float]] = {"ours": [], "boto3": []}
    ratios: list[float] = []
    for n in range(args.rounds):
        got: dict[str, float] = {}
        for name, upload in round_order([("ours", ours), ("boto3", plain)], n,
                                        reverse_odd=True):
            key = f"warcs/bench-{name}-{n}.warc.gz"
            started = time.perf_counter()
            upload(key)
            got[name] = warc.size / MB / (time.perf_counter() - started)
            rates[name].append(got[name])
            rss = rss_mb(moto.pid)
            client.delete_object(Bucket=BUCKET, Key=f"{PREFIX}/{key}")
        ratios.append(got["ours"] / got["boto3"])
        print(f"{n + 1:>5}  {got['ours']:>10.1f}  {got['boto3']:>10.1f}  {ratios[-1]:>10.2f}  "
              f"{rss:>11.0f}")
    print(f"{'median':>5}  {statistics.median(rates['ours']):>10.1f}  "
          f"{statistics.median(rates['boto3']):>10.1f}  {statistics.median(ratios):>10.2f}"
          f"   (ratio min..max {min(ratios):.2f}..{max(ratios):.2f})")

    # -- ranged reads of single records ---------------------------------------------------
    # moto answers a Range GET by copying the whole stored value and slicing it, so its
    # latency grows with the object (S3, MinIO, Ceph seek). The 1,000 reads therefore go to
    # a --read-object-mb prefix of the WARC (cut at a record boundary: a valid WARC); a few
    # reads of the full-size object show the moto effect.
    limit = min(args.read_object_mb * MB, warc.size)
    cut = max(offset for offset, _ in warc.records if offset <= limit) if limit < warc.size \
        else warc.size
    records = [(o, n) for o, n in warc.records if o + n <= cut]
    read_path = work / "read-object.warc.gz"
    with warc.path.open("rb") as src, read_path.open("wb") as dst:
        dst.write(src.read(cut))
    key = "warcs/bench-reads.warc.gz"
    storage.put_file(key, read_path, sha256=file_sha256(read_path))
    rng = random.Random(args.seed + 1)
    if args.fixed_range_kb:
        length = args.fixed_range_kb * 1000
        ranges = [(rng.randrange(0, cut - length), length) for _ in range(args.reads)]
        what = f"{args.fixed_range_kb} KB at random offsets"
    else:
        ranges = [rng.choice(records) for _ in range(args.reads)]
        what = "one response record each, at real record boundaries"
    lengths = [length for _, length in ranges]
    print(f"\n{args.reads:,} ranged reads of a {cut / MB:.0f} MB WARC ({what}; length median "
          f"{statistics.median(lengths) / 1000:.1f} KB, max {max(lengths) / 1000:.1f} KB), "
          "every one compared with the local bytes")
    with read_path.open("rb") as local:
        def check(offset: int, length: int, data: bytes) -> None:
            local.seek(offset)
            if data != local.read(length):
                raise SystemExit(f"ranged read ({offset}, {length}) returned other bytes")

        def ours_read(offset: int, length: int) -> bytes:
            return storage.read_range(key, offset, length)

        def bare_read(offset: int, length: int) -> bytes:
            return client.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{key}",
                                     Range=f"bytes={offset}-{offset + length - 1}")[
                                         "Body"].read()

        latencies: dict[str, list[float]] = {}
        for name, read in (("S3Storage.read_range", ours_read),
                           ("boto3 get_object Range", bare_read)):
            latencies[name] = []
            for offset, length in ranges:
                started = time.perf_counter()
                data = read(offset, length)
                latencies[name].append((time.perf_counter() - started) * 1000)
                check(offset, length, data)
    print(f"{'':>22}  {'p50 ms':>7}  {'p90 ms':>7}  {'p99 ms':>7}  {'max ms':>7}  "
          f"{'mean ms':>7}")
    for name, values in latencies.items():
        print(f"{name:>22}  {percentile(values, 50):>7.2f}  {percentile(values, 90):>7.2f}  "
              f"{percentile(values, 99):>7.2f}  {max(values):>7.2f}  "
              f"{statistics.fmean(values):>7.2f}")
    if args.full_object_reads and cut < warc.size:
        full_key = "warcs/bench-full.warc.gz"
        storage.put_file(full_key, warc.path, sha256=warc.sha256)
        full = []
        for offset, length in (rng.choice(warc.records) for _ in range(args.full_object_reads)):
            started = time.perf_counter()
            storage.read_range(full_key, offset, length)
            full.append((time.perf_counter() - started) * 1000)
        print(f"{'(full-size object)':>22}  {percentile(full, 50):>7.2f}  "
              f"{percentile(full, 90):>7.2f}  {percentile(full, 99):>7.2f}  {max(full):>7.2f}  "
              f"{statistics.fmean(full):>7.2f}   <- {args.full_object_reads} reads of the "
              f"{warc.size / MB:.0f} MB object: moto copies it for every Range GET")
    print(f"\nmoto RSS at the end: {rss_mb(moto.pid):.0f} MB")
    print(f"machine: {os.cpu_count()} CPUs; client and moto share them")


if __name__ == "__main__":
    main()
