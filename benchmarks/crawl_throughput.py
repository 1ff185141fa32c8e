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
import contextlib
import gc
import hashlib
import html
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve()
MODES = ("plain", "archive", "extract")
LABELS = {
    "plain": "a plain Scrapy (no archiving)",
    "archive": "b newsarchive crawl --no-extract",
    "extract": "c newsarchive crawl (+extraction)",
    "stock": "s newsarchive crawl, shipped settings",
}

# =====================================================================================
# Site generation
# =====================================================================================

SECTIONS = ("world", "business", "politics", "science", "technology", "health",
            "environment", "culture", "sport", "opinion")
FIRST = ("Jane", "Tomás", "Aisha", "Henrik", "Mei", "Oluwaseun", "Claire", "Rafael", "Ingrid",
         "Samuel", "Priya", "Lukas", "Fatima", "Daniel", "Ewa", "Kenji", "Nadia", "Patrick",
         "Sofia", "Gareth", "Amara", "Jonas", "Leila", "Marcus")
LAST = ("Doe", "Okafor", "Lindqvist", "Chen", "Moreau", "Castillo", "Brennan", "Nakamura",
        "Haddad", "Kowalski", "Fischer", "Mensah", "O'Neill", "Varga", "Sørensen", "Patel",
        "Rahman", "Whitfield", "Albescu", "Duarte", "Ferreira", "Quinn", "Abara", "Holm")
ROLES = ("Senior Correspondent", "Staff Reporter", "Political Editor", "Science Writer",
         "Business Reporter", "Culture Critic", "Data Journalist", "Foreign Correspondent")
SUBJECTS = ("The city council", "The port authority", "A coalition of residents",
            "The regional health board", "Engineers at the university", "The finance ministry",
            "Local traders", "The transport union", "A parliamentary committee",
            "The national weather service", "Researchers in the north", "The energy regulator",
            "Opposition leaders", "The museum's trustees", "Independent auditors",
            "The water company", "Hospital managers", "Farmers in the valley",
            "The league's board", "A group of teachers", "The housing association",
            "Investigators", "The airport operator", "Environmental campaigners")
VERBS = ("announced", "rejected", "defended", "postponed", "approved", "questioned",
         "published", "criticised", "welcomed", "revised", "confirmed", "challenged",
         "extended", "scrapped", "unveiled", "reviewed", "endorsed", "delayed")
OBJECTS = ("a plan to rebuild the harbour wall", "new figures on hospital waiting times",
           "the budget for next year", "a proposal to close the night ferry",
           "an inquiry into the flooding", "the contract for the tram extension",
           "a report on air quality near schools", "plans for a wind farm off the coast",
           "the decision to raise parking fees", "a study of falling river levels",
           "changes to the planning rules", "a bid to host the championship",
           "the sale of the old brewery site", "a review of emergency response times",
           "the new curriculum for secondary schools", "a scheme to insulate older homes",
           "an agreement with the neighbouring county", "a survey of small businesses")
ADVERBIALS = ("on Tuesday", "after months of negotiation", "despite strong objections",
              "in a statement released late on Friday", "at a packed public meeting",
              "for the second time this year", "without a formal vote",
              "under pressure from local councillors", "ahead of the winter season",
              "following a legal challenge", "amid growing concern over costs",
              "in a move that surprised observers", "after an independent review")
CLAUSES = ("which critics say will cost more than expected",
           "a decision that could affect thousands of households",
           "although details remain unclear", "but few expect a quick resolution",
           "while officials insisted the timetable was realistic",
           "as the number of complaints continued to rise",
           "even though similar plans failed a decade ago",
           "according to documents seen by this newspaper")
QUOTES = ("We have listened carefully and we believe this is the right course",
          "Nobody asked the people who actually live here",
          "The numbers simply do not add up, and everyone knows it",
          "This is a good day for the region, but the hard work starts now",
          "We were promised answers and we are still waiting",
          "It is too early to say what the long-term effect will be",
          "There is no question that mistakes were made along the way",
          "Our priority has always been the safety of the public")
NOUNS = ("harbour", "budget", "council", "river", "market", "station", "school", "festival",
         "election", "bridge", "hospital", "stadium", "museum", "ferry", "airport", "forest")
ADJECTIVES = ("new", "delayed", "controversial", "ambitious", "revised", "disputed",
              "long-awaited", "costly", "modest", "sweeping", "unexpected", "quiet")
HEAD_VERBS = ("faces fresh delays", "wins backing", "splits opinion", "draws record crowds",
              "under review", "set to expand", "hit by shortages", "cleared for approval",
              "sparks protest", "reopens after repairs", "misses target", "gets funding boost")


def _sentence(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.55:
        text = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} " \
               f"{rng.choice(ADVERBIALS)}"
        if rng.random() < 0.5:
            text += f", {rng.choice(CLAUSES)}"
        return text + "."
    if kind < 0.75:
        who = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        return (f"\u201c{rng.choice(QUOTES)},\u201d said {who}, who has followed the "
                f"{rng.choice(NOUNS)} for {rng.randint(2, 30)} years.")
    if kind < 0.9:
        return (f"Figures published in {rng.choice(('March', 'June', 'September', 'November'))}"
                f" show that {rng.randint(3, 97)} per cent of respondents were "
                f"{rng.choice(('satisfied', 'worried', 'undecided', 'opposed'))}, up from "
                f"{rng.randint(3, 97)} per cent {rng.randint(2, 9)} years earlier.")
    return (f"The {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} project is expected to cost "
            f"\u00a3{rng.randint(2, 950)}m and to be finished by {rng.randint(2027, 2034)}.")


def _plan_articles(rng: random.Random, count: int) -> list[dict[str, Any]]:
    articles = []
    for i in range(count):
        section = rng.choice(SECTIONS)
        headline = (f"{rng.choice(ADJECTIVES).capitalize()} {rng.choice(NOUNS)} "
                    f"{rng.choice(HEAD_VERBS)}")
        year, month, day = rng.choice((2025, 2026)), rng.randint(1, 12), rng.randint(1, 28)
        slug = headline.lower().replace("'", "").replace(" ", "-") + f"-{i:05d}"
        n_authors = 1 if rng.random() < 0.8 else 2
        authors = [(f"{rng.choice(FIRST)} {rng.choice(LAST)}", rng.choice(ROLES))
                   for _ in range(n_authors)]
        articles.append({
            "index": i, "section": section, "headline": headline, "authors": authors,
            "date": f"{year:04d}-{month:02d}-{day:02d}",
            "time": f"{rng.randint(5, 22):02d}:{rng.choice((0, 15, 30, 45)):02d}",
            "path": f"/{section}/{year:04d}/{month:02d}/{day:02d}/{slug}.html",
            "target": rng.randint(15_000, 40_000),  # bytes of HTML
        })
    return articles


def _nav(section: str) -> str:
    active = ' class="active"'
    items = "\n".join(
        f'    <li{active if s == section else ""}><a href="/{s}/">{s.capitalize()}</a></li>'
        for s in SECTIONS)
    topics = "\n".join(f'    <li><a href="/topics/{n}/">{n.capitalize()}</a></li>'
                       for n in NOUNS)
    return f"""<header class="site-header">
  <a class="logo" href="/"><img src="/assets/logo.png" alt="" width="32" height="32">
    The Bench Courier</a>
  <nav class="main-nav" aria-label="Sections">
   <ul>
    <li><a href="/">Home</a></li>
{items}
   </ul>
  </nav>
  <nav class="topics" aria-label="Topics"><ul>
{topics}
  </ul></nav>
  <form class="search-form" action="/search" method="get" role="search">
    <input type="search" name="q" placeholder="Search the Courier" aria-label="Search">
    <button type="submit">Search</button>
  </form>
</header>"""


FOOTER_LINKS = "\n".join(
    f'      <li><a href="/{p}/">{p.replace("-", " ").capitalize()}</a></li>'
    for p in ("about", "contact", "careers", "advertise", "corrections", "privacy",
              "cookies", "terms", "accessibility", "newsletters", "podcasts", "archive",
              "syndication", "ethics", "help", "subscribe"))

INLINE_STYLE = """<style>
  .site-header{display:flex;gap:1rem;align-items:center;border-bottom:1px solid #ddd}
  .main-nav ul,.topics ul{list-style:none;display:flex;flex-wrap:wrap;gap:.6rem;margin:0}
  .article{max-width:42rem;margin:2rem auto;font:1.05rem/1.6 Georgia,serif;color:#222}
  .headline{font:700 2.2rem/1.15 system-ui,sans-serif}.byline{color:#555}
  .related li{margin:.3rem 0}.cookie-banner{position:fixed;bottom:0;background:#fffbe6}
  figure img{max-width:100%;height:auto}figcaption{font-size:.85rem;color:#666}
</style>"""

INLINE_SCRIPT = """<script>
  window.dataLayer = window.dataLayer || [];
  function track(name, props) { window.dataLayer.push({event: name, props: props || {}}); }
  document.addEventListener('DOMContentLoaded', function () {
    var banner = document.getElementById('cookie-banner');
    var accept = banner && banner.querySelector('.cookie-accept');
    if (accept) { accept.addEventListener('click', function () {
      document.cookie = 'consent=1; max-age=31536000; path=/'; banner.remove();
      track('consent', {value: 'all'}); }); }
    var depth = 0; window.addEventListener('scroll', function () {
      var d = Math.round(100 * window.scrollY / document.body.scrollHeight);
      if (d > depth + 24) { depth = d; track('scroll', {depth: depth}); } });
  });
</script>"""


def render_article(art: dict[str, Any], articles: list[dict[str, Any]],
                   rng: random.Random) -> str:
    esc = html.escape
    authors = art["authors"]
    author_names = ", ".join(a for a, _ in authors)
    published = f"{art['date']}T{art['time']}:00+00:00"
    standfirst = _sentence(rng)
    body: list[str] = []
    # Links to other articles in the body and the asides; the crawl runs at depth 0 so
    # they are extracted but not followed.
    others = [rng.randrange(len(articles)) for _ in range(24)]
    n_chars = 0
    budget = art["target"] - 9_000  # boilerplate around the body is ~9 KB
    paragraph = 0
    while n_chars < budget:
        paragraph += 1
        if paragraph % 6 == 0:
            body.append(f"    <h2>{esc(rng.choice(ADJECTIVES).capitalize())} questions over "
                        f"the {esc(rng.choice(NOUNS))}</h2>")
        if paragraph % 9 == 0:
            body.append(f'    <figure><img src="/images/{art["index"]}-{paragraph}.jpg" '
                        f'alt="" width="800" height="450"><figcaption>'
                        f"{esc(_sentence(rng))} Photograph: {esc(rng.choice(FIRST))} "
                        f"{esc(rng.choice(LAST))}</figcaption></figure>")
        sentences = [_sentence(rng) for _ in range(rng.randint(2, 6))]
        text = esc(" ".join(sentences))
        if rng.random() < 0.25:
            target = articles[rng.choice(others)]
            text += (f' <a href="{target["path"]}">Read more: '
                     f'{esc(target["headline"])}</a>')
        line = f"    <p>{text}</p>"
        body.append(line)
        n_chars += len(line)
    related = "\n".join(
        f'    <li><a href="{articles[i]["path"]}">{esc(articles[i]["headline"])}</a></li>'
        for i in others[:8])
    most_read = "\n".join(
        f'    <li><a href="{articles[i]["path"]}">{esc(articles[i]["headline"])}</a></li>'
        for i in others[8:18])
    jsonld = json.dumps({
        "@context": "https://schema.org", "@type": "NewsArticle",
        "headline": art["headline"], "description": standfirst, "inLanguage": "en",
        "articleSection": art["section"].capitalize(), "datePublished": published,
        "dateModified": published,
        "author": [{"@type": "Person", "name": a, "jobTitle": r} for a, r in authors],
        "publisher": {"@type": "NewsMediaOrganization", "name": "The Bench Courier",
                      "logo": {"@type": "ImageObject", "url": "/assets/logo.png"}},
        "mainEntityOfPage": art["path"], "isAccessibleForFree": True,
    }, indent=2, ensure_ascii=False)
    byline = " and ".join(f'<span class="author">{esc(a)}</span>, {esc(r)}'
                          for a, r in authors)
    title = esc(art["headline"])
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} | The Bench Courier</title>
<link rel="stylesheet" href="/assets/style.css">
<meta name="description" content="{esc(standfirst)}">
<meta name="author" content="{esc(author_names)}">
<meta property="og:title" content="{title}">
<meta property="og:type" content="article">
<meta property="og:site_name" content="The Bench Courier">
<meta property="og:description" content="{esc(standfirst)}">
<meta property="article:published_time" content="{published}">
<meta property="article:section" content="{art['section'].capitalize()}">
<link rel="canonical" href="{art['path']}">
<script type="application/ld+json">
{jsonld}
</script>
{INLINE_STYLE}
</head>
<body class="article-page section-{art['section']}">
<div class="cookie-banner" id="cookie-banner" role="dialog" aria-label="Cookie consent">
  <p>We use cookies to improve your experience. Some are essential to make this site work;
  others help us understand how you use it.</p>
  <button type="button" class="cookie-accept">Accept all cookies</button>
  <button type="button" class="cookie-manage">Manage preferences</button>
</div>
{_nav(art['section'])}
<main id="content">
<article class="article">
  <p class="kicker"><a href="/{art['section']}/">{art['section'].capitalize()}</a></p>
  <h1 class="headline">{title}</h1>
  <p class="standfirst">{esc(standfirst)}</p>
  <p class="byline">By {byline}</p>
  <p class="dateline"><time datetime="{published}">{art['date']} {art['time']} GMT</time></p>
  <div class="article-body">
{chr(10).join(body)}
  </div>
  <aside class="share"><a href="/share?u={art['path']}">Share</a>
    <a href="/print{art['path']}">Print</a></aside>
</article>
<aside class="related" aria-label="Related stories">
  <h2>Related stories</h2>
  <ul>
{related}
  </ul>
</aside>
<aside class="most-read" aria-label="Most read">
  <h2>Most read</h2>
  <ol>
{most_read}
  </ol>
</aside>
<section class="comments"><h2>Comments</h2><p>Leave a comment: sign in to join the discussion.</p>
<form action="/comments" method="post"><textarea name="c"></textarea>
<button>Post comment</button></form></section>
<section class="newsletter"><p>Sign up for our free newsletter: the day's stories every morning.</p>
<form action="/newsletter" method="post"><input type="email" name="e">
<button>Sign up</button></form></section>
</main>
<footer class="site-footer">
  <nav aria-label="Footer"><ul>
{FOOTER_LINKS}
  </ul></nav>
  <p>&copy; 2026 The Bench Courier. All rights reserved.</p>
</footer>
{INLINE_SCRIPT}
</body>
</html>
"""


def generate_site(root: Path, pages: int, seed: int) -> list[str]:
    """Write the article pages; returns their paths (sitemap/robots come once the port is known)."""
    rng = random.Random(seed)
    articles = _plan_articles(rng, pages)
    for art in articles:
        path = root / art["path"].lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_article(art, articles, rng), encoding="utf-8")
    (root / "index.html").write_text("<!DOCTYPE html><title>The Bench Courier</title>\n")
    return [a["path"] for a in articles]


def write_sitemap_and_robots(root: Path, base: str, paths: list[str]) -> None:
    entries = "\n".join(f"  <url><loc>{base}{p}</loc><lastmod>{p.split('/')[2]}-"
                        f"{p.split('/')[3]}-{p.split('/')[4]}</lastmod></url>" for p in paths)
    (root / "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{entries}\n</urlset>\n", encoding="utf-8")
    (root / "robots.txt").write_text(
        f"User-agent: *\nDisallow: /private/\nDisallow: /search\n\nSitemap: {base}/sitemap.xml\n")


# =====================================================================================
# nginx
# =====================================================================================

NGINX_CONF = """# generated by benchmarks/crawl_throughput.py
worker_processes {workers};
daemon on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    types {{ text/html html; application/xml xml; text/plain txt; text/css css; }}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    gzip on;
    gzip_types application/xml text/plain text/css;   # text/html is always compressed
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ try_files $uri $uri/ =404; }}
    }}
}}
"""


def ensure_nginx() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None)
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit("nginx is not installed: run `apt-get install -y nginx` (as root) first")
    print("nginx not found: running `apt-get update && apt-get install -y nginx`", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "nginx"], check=True, env=env)
    return shutil.which("nginx") or "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    def __init__(self, binary: str, prefix: Path, root: Path, port: int, workers: int) -> None:
        self.binary, self.prefix, self.root, self.port = binary, prefix, root, port
        self.conf = prefix / "nginx.conf"
        for sub in ("tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
            (prefix / sub).mkdir(parents=True, exist_ok=True)
        self.conf.write_text(NGINX_CONF.format(workers=workers, prefix=prefix, port=port,
                                               root=root))
        self.running = False

    def _cmd(self, *extra: str) -> list[str]:
        return [self.binary, "-c", str(self.conf), "-p", f"{self.prefix}/",
                "-e", str(self.prefix / "error.log"), *extra]

    def start(self) -> None:
        subprocess.run(self._cmd("-t", "-q"), check=True)
        subprocess.run(self._cmd(), check=True)
        self.running = True
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.port), timeout=0.5):
                return
            time.sleep(0.05)
        raise RuntimeError(f"nginx did not start listening on {self.port}; see "
                           f"{self.prefix / 'error.log'}")

    def cpu_s(self) -> float:
        """CPU seconds used so far by the nginx master and its workers."""
        pid_file = self.prefix / "nginx.pid"
        if not pid_file.exists():
            return 0.0
        return sum(_cpu_s(pid) for pid in _proc_tree(int(pid_file.read_text())))

    def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        pid_file = self.prefix / "nginx.pid"
        pid = int(pid_file.read_text()) if pid_file.exists() else None
        subprocess.run(self._cmd("-s", "quit"), check=False)
        deadline = time.monotonic() + 10
        while pid and time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        if pid:  # still there: the master we started, by its pid
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


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

    def page_parsed(self, response: Any, outlinks: Any) -> None:
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


def _proc_tree(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, ()))
    return tree


CLK_TCK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _system_cpu() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle, iowait, steal = values[3], values[4], values[7]
    return (sum(values[:8]) - idle - iowait - steal) / CLK_TCK, steal / CLK_TCK


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeMemorySampler(threading.Thread):
    """Samples the RSS of a process and its descendants (extraction workers) from /proc."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_tree_kb = 0
        self.peak_hwm: dict[int, int] = {}
        self.cpu: dict[int, float] = {}  # last seen CPU seconds of each process of the tree
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            total = 0
            for pid in _proc_tree(self.pid):
                total += _status_kb(pid, "VmRSS:")
                hwm = _status_kb(pid, "VmHWM:")
                self.cpu[pid] = max(self.cpu.get(pid, 0.0), _cpu_s(pid))
                self.peak_hwm[pid] = max(self.peak_hwm.get(pid, 0), hwm)
            self.peak_tree_kb = max(self.peak_tree_kb, total)
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    @property
    def descendants_cpu_s(self) -> float:
        """CPU seconds of the descendants (extraction worker etc.), as last sampled."""
        return sum(v for pid, v in self.cpu.items() if pid != self.pid)

    @property
    def peak_other_kb(self) -> int:
        """Largest peak RSS of any descendant (extraction worker, forkserver)."""
        return max((v for pid, v in self.peak_hwm.items() if pid != self.pid), default=0)


PACKAGES = ("archive", "crawler", "scheduler")


def snapshot_code(dest: Path) -> str:
    """Copy the project's packages to ``dest`` (put first on PYTHONPATH for every run).

    Other people edit the working tree while the benchmark runs; the snapshot keeps all
    runs of one invocation on the same code. Returns a short hash of what was copied.
    """
    digest = hashlib.sha256()
    for package in PACKAGES:
        shutil.copytree(REPO / package, dest / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for path in sorted(dest.rglob("*.py")):
        digest.update(path.relative_to(dest).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path, site_url: str,
                 url_file: Path | None, code_dir: Path | None, server: Nginx) -> None:
        self.args, self.work, self.site_url, self.url_file = args, work, site_url, url_file
        self.server = server
        self.code_dir = code_dir
        self.serial = 0

    def run(self, mode: str, *, pages_limit: int | None = None,
            cprofile: Path | None = None) -> dict[str, Any]:
        self.serial += 1
        run_dir = self.work / f"run-{self.serial:02d}-{mode}"
        run_dir.mkdir()
        env = {**os.environ, "NEWSARCHIVE_DATA_DIR": str(run_dir / "data"),
               "NEWSARCHIVE_ALLOWED_NETWORKS": "127.0.0.0/8",
               "NEWSARCHIVE_EXTRACT_WORKERS": str(self.args.extract_workers)}
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
        else:
            cmd = [sys.executable, str(SCRIPT), "--child", mode, "--result", str(result_file),
                   "--concurrency", str(self.args.concurrency), "--max-pages", str(max_pages)]
            if self.url_file:
                cmd += ["--url-file", str(self.url_file)]
            else:
                cmd += ["--sitemap", f"{self.site_url}/sitemap.xml"]
            if cprofile:
                cmd += ["--cprofile", str(cprofile)]
        with (run_dir / "stdout").open("wb") as out, (run_dir / "stderr").open("wb") as errf:
            nginx0, (busy0, steal0) = self.server.cpu_s(), _system_cpu()
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=errf)
            sampler = TreeMemorySampler(proc.pid)
            sampler.start()
            _, status, rusage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status)
            sampler.stop()
            busy1, steal1 = _system_cpu()
            nginx_cpu = self.server.cpu_s() - nginx0
        if proc.returncode != 0:
            tail = (run_dir / "stderr").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{mode} run failed (exit {proc.returncode}):\n{tail}")
        if mode == "stock":
            summary = json.loads((run_dir / "stdout").read_text())
            extra = 1 if self.url_file else 2  # robots.txt (+ sitemap.xml)
            result = {"mode": mode, "summary": summary, "pages": summary["pages"] - extra,
                      "crawl_s": None, "maxrss_self_kb": rusage.ru_maxrss}
        else:
            result = json.loads(result_file.read_text())
        result.update(wall_s=wall, maxrss_wait4_kb=rusage.ru_maxrss,
                      peak_tree_kb=sampler.peak_tree_kb, peak_other_kb=sampler.peak_other_kb,
                      cpu_total_s=rusage.ru_utime + rusage.ru_stime)
        # CPU of the run's process tree: the crawler (wait4) + descendants it did not reap
        # (the extraction worker belongs to the forkserver), as last sampled.
        result["cpu_tree_s"] = result["cpu_total_s"] + sampler.descendants_cpu_s
        result["nginx_cpu_s"] = nginx_cpu
        result["steal_s"] = steal1 - steal0
        # Everything else the machine did meanwhile (other users' jobs, this script's
        # sampler): a noise indicator.
        result["other_cpu_s"] = max(0.0, busy1 - busy0 - result["cpu_tree_s"] - nginx_cpu)
        if not self.args.keep:
            shutil.rmtree(run_dir / "data", ignore_errors=True)
        return result


def check_site(site_url: str) -> None:
    request = urllib.request.Request(f"{site_url}/sitemap.xml",
                                     headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.headers.get("Content-Encoding") != "gzip":
            raise RuntimeError("nginx does not gzip the sitemap: check the generated config")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


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
    for mode in ("archive", "extract", "stock"):
        if rates.get(mode) and base and base == base:
            rate = median(rates[mode])
            per_round = [m / p for m, p in zip(rates[mode], rates["plain"], strict=False)]
            print(f"ratio {LABELS[mode][0]}/a ({mode}/plain) median pages/s: {rate / base:.3f}"
                  f"  (same-round ratios: {', '.join(f'{x:.3f}' for x in per_round)})")


def print_profile(path: Path, limit: int = 25) -> None:
    import pstats

    stats = pstats.Stats(str(path))
    print(f"\ncProfile of one run ({path}); our code by cumulative time:")
    stats.sort_stats("cumulative").print_stats(f"{REPO}/(archive|crawler|scheduler)/", limit)
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
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    if args.child:
        child_main(args)
        return
    nginx_bin = ensure_nginx()
    work = Path(tempfile.mkdtemp(prefix="newsarchive-bench-"))
    work.chmod(0o755)  # nginx workers run as another user when started by root
    site, prefix = work / "site", work / "nginx"
    site.mkdir()
    prefix.mkdir()
    port = args.port or free_port()
    site_url = f"http://127.0.0.1:{port}"
    server = Nginx(nginx_bin, prefix, site, port, args.nginx_workers)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
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
                  f"(sha256 {snapshot_code(code_dir)}; --live to use the working tree)")
        url_file = None
        if args.seed_mode == "urls":
            url_file = work / "urls.txt"
            url_file.write_text("\n".join(site_url + p for p in paths) + "\n")
        server.start()
        check_site(site_url)
        print(f"nginx: {site_url}/ (conf {server.conf}, {args.nginx_workers} worker(s), gzip on)")
        bench = Bench(args, work, site_url, url_file, code_dir, server)

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

        modes = [m for m in MODES if m in args.modes] + (["stock"] if args.stock else [])
        results: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
        for rnd in range(args.rounds):
            order = modes[rnd % len(modes):] + modes[:rnd % len(modes)]
            if rnd % 2:
                order.reverse()
            for mode in order:
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
            print_profile(profile_path)
    finally:
        server.stop()
        if args.keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
