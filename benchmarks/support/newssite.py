"""Generated news content, deterministic for a seed.

The Bench Courier (``generate_site`` + ``write_sitemap_and_robots``): article pages of
~15-43 KB of HTML with navigation, cookie banner, inline CSS and JS, JSON-LD, OpenGraph,
byline, dateline, varied prose with sub-headings, figures and in-text links, related /
most-read lists, forms and a footer; plus ``sitemap.xml`` and ``robots.txt``. Served by
nginx for crawl_throughput.py and requisites.py. What a page loads besides itself (its
stylesheet, logo and figures) is its ``Assets``; the generator writes only the HTML.

Its script-built edition (``generate_app_site``, for browser_capture.py): each article page
is a shell whose body a shared script (``APP_SCRIPT``) builds from the article's JSON
(``article_json_path``), fetched when the page loads: headline, byline, paragraphs, one
figure and related links. The static HTML has no article text at all.

``make_urls``: distinct article-, section- and feed-like URLs over a few news hosts, for
the catalogs that api_load.py and replay.py fill.
"""

from __future__ import annotations

import html
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class Assets:
    """The requisites a page refers to: a stylesheet, a logo and figure images.

    ``figures`` None (the default, as crawl_throughput.py's site has always been): one
    figure every 9th paragraph, so 1-6 per page, ``figure_path(index, paragraph)``. A number
    n: exactly n figures, ``figure_path(index, 1..n)``, at paragraphs 2, 5, 8, ... (any
    left over after the last paragraph follow it).
    """

    stylesheet: str = "/assets/style.css"
    logo: str = "/assets/logo.png"
    figures: int | None = None


def figure_path(index: int, number: int) -> str:
    """The path of figure ``number`` of article ``index``."""
    return f"/images/{index}-{number}.jpg"


def _figure(path: str, rng: random.Random) -> str:
    esc = html.escape
    return (f'    <figure><img src="{path}" alt="" width="800" height="450"><figcaption>'
            f"{esc(_sentence(rng))} Photograph: {esc(rng.choice(FIRST))} "
            f"{esc(rng.choice(LAST))}</figcaption></figure>")


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


def _nav(section: str, logo: str) -> str:
    active = ' class="active"'
    items = "\n".join(
        f'    <li{active if s == section else ""}><a href="/{s}/">{s.capitalize()}</a></li>'
        for s in SECTIONS)
    topics = "\n".join(f'    <li><a href="/topics/{n}/">{n.capitalize()}</a></li>'
                       for n in NOUNS)
    return f"""<header class="site-header">
  <a class="logo" href="/"><img src="{logo}" alt="" width="32" height="32">
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
                   rng: random.Random, assets: Assets = Assets()) -> str:
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
    paragraph = figures = 0
    while n_chars < budget:
        paragraph += 1
        if paragraph % 6 == 0:
            body.append(f"    <h2>{esc(rng.choice(ADJECTIVES).capitalize())} questions over "
                        f"the {esc(rng.choice(NOUNS))}</h2>")
        if assets.figures is None and paragraph % 9 == 0:
            body.append(_figure(figure_path(art["index"], paragraph), rng))
        elif assets.figures is not None and paragraph % 3 == 2 and figures < assets.figures:
            figures += 1
            body.append(_figure(figure_path(art["index"], figures), rng))
        sentences = [_sentence(rng) for _ in range(rng.randint(2, 6))]
        text = esc(" ".join(sentences))
        if rng.random() < 0.25:
            target = articles[rng.choice(others)]
            text += (f' <a href="{target["path"]}">Read more: '
                     f'{esc(target["headline"])}</a>')
        line = f"    <p>{text}</p>"
        body.append(line)
        n_chars += len(line)
    while assets.figures is not None and figures < assets.figures:
        figures += 1
        body.append(_figure(figure_path(art["index"], figures), rng))
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
                      "logo": {"@type": "ImageObject", "url": assets.logo}},
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
<link rel="stylesheet" href="{assets.stylesheet}">
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
{_nav(art['section'], assets.logo)}
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


def generate_site(root: Path, pages: int, seed: int, assets: Assets = Assets()) -> list[str]:
    """Write the article pages (article ``i`` is the ``i``-th path; its assets are not
    written); returns their paths (sitemap/robots come once the port is known)."""
    rng = random.Random(seed)
    articles = _plan_articles(rng, pages)
    for art in articles:
        path = root / art["path"].lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_article(art, articles, rng, assets), encoding="utf-8")
    (root / "index.html").write_text("<!DOCTYPE html><title>The Bench Courier</title>\n")
    return [a["path"] for a in articles]


APP_SCRIPT_PATH = "/static/app.js"
# The shared script of the script-built edition: fetch the article's JSON (the shell's
# #app data-src), build the page from it with DOM calls (no innerHTML), report failure.
APP_SCRIPT = """(function () {
  var app = document.getElementById('app');
  function add(parent, tag, text, cls) {
    var el = document.createElement(tag);
    if (text) { el.textContent = text; }
    if (cls) { el.className = cls; }
    parent.appendChild(el);
    return el;
  }
  fetch(app.getAttribute('data-src')).then(function (response) {
    if (!response.ok) { throw new Error('HTTP ' + response.status); }
    return response.json();
  }).then(function (a) {
    var article = add(app, 'article', '', 'article');
    add(article, 'p', a.section, 'kicker');
    add(article, 'h1', a.headline, 'headline');
    add(article, 'p', a.standfirst, 'standfirst');
    add(article, 'p', 'By ' + a.byline, 'byline');
    var time = add(add(article, 'p', '', 'dateline'), 'time', a.date);
    time.setAttribute('datetime', a.published);
    var body = add(article, 'div', '', 'article-body');
    a.paragraphs.forEach(function (text, i) {
      if (i === a.figure_at) {
        var figure = add(body, 'figure');
        var img = add(figure, 'img');
        img.src = a.figure.src; img.alt = ''; img.width = 800; img.height = 450;
        add(figure, 'figcaption', a.figure.caption);
      }
      add(body, 'p', text);
    });
    var related = add(add(app, 'aside', '', 'related'), 'ul');
    a.related.forEach(function (link) {
      var anchor = add(add(related, 'li'), 'a', link.headline);
      anchor.href = link.path;
    });
    document.title = a.headline + ' | The Bench Courier';
    document.body.setAttribute('data-rendered', 'yes');
  }).catch(function (error) {
    add(app, 'p', 'The article could not be loaded (' + error.message + ').', 'error');
  });
})();
"""


def article_json_path(index: int) -> str:
    """Where the script-built edition keeps article ``index``'s content."""
    return f"/api/articles/{index}.json"


def _app_article(art: dict[str, Any], articles: list[dict[str, Any]],
                 rng: random.Random) -> dict[str, Any]:
    """The JSON the script builds article ``art``'s page from (400-800 words of prose)."""
    paragraphs = [" ".join(_sentence(rng) for _ in range(rng.randint(2, 5)))
                  for _ in range(rng.randint(10, 18))]
    related = [articles[rng.randrange(len(articles))] for _ in range(6)]
    return {
        "section": art["section"].capitalize(), "headline": art["headline"],
        "standfirst": _sentence(rng),
        "byline": " and ".join(f"{a}, {r}" for a, r in art["authors"]),
        "date": f"{art['date']} {art['time']} GMT",
        "published": f"{art['date']}T{art['time']}:00+00:00",
        "paragraphs": paragraphs, "figure_at": rng.randint(1, 3),
        "figure": {"src": figure_path(art["index"], 1),
                   "caption": f"{_sentence(rng)} Photograph: {rng.choice(FIRST)} "
                              f"{rng.choice(LAST)}"},
        "related": [{"path": r["path"], "headline": r["headline"]} for r in related],
    }


def _app_shell(art: dict[str, Any], assets: Assets) -> str:
    """The static HTML of a script-built page: head, header with the logo, an empty
    ``#app`` that the script fills, a ``<noscript>`` notice."""
    title = html.escape(art["headline"])
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} | The Bench Courier</title>
<link rel="stylesheet" href="{assets.stylesheet}">
<script src="{APP_SCRIPT_PATH}" defer></script>
</head>
<body class="article-page section-{art['section']}">
<header class="site-header">
  <a class="logo" href="/"><img src="{assets.logo}" alt="" width="32" height="32">
    The Bench Courier</a>
</header>
<main id="app" data-src="{article_json_path(art['index'])}"></main>
<noscript>This page needs JavaScript: please enable it.</noscript>
<footer class="site-footer"><p>&copy; 2026 The Bench Courier.</p></footer>
</body>
</html>
"""


def generate_app_site(root: Path, pages: int, seed: int, assets: Assets) -> list[str]:
    """Write the script-built edition: ``pages`` article shells, their JSON and the shared
    script (not the stylesheet, logo or figure, ``figure_path(i, 1)``: the caller's);
    returns the page paths."""
    rng = random.Random(seed)
    articles = _plan_articles(rng, pages)
    for art in articles:
        for path, text in ((art["path"], _app_shell(art, assets)),
                           (article_json_path(art["index"]),
                            json.dumps(_app_article(art, articles, rng),
                                       ensure_ascii=False))):
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    script = root / APP_SCRIPT_PATH.lstrip("/")
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(APP_SCRIPT, encoding="utf-8")
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


# -- news-like URLs for catalogs -----------------------------------------------------------

HOSTS = ("www.harbourgazette.example", "news.northbridge.example.org",
         "www.dailyledger.example.com", "eveningpost.example.net", "m.citytimes.example",
         "www.valleyherald.example")
URL_WORDS = ("council", "harbour", "budget", "flood", "tram", "election", "school",
             "hospital", "ferry", "strike", "wind-farm", "museum", "river", "housing",
             "airport", "festival", "court", "energy", "police", "market", "league", "bridge",
             "water", "inquiry", "museum", "union", "farmers", "report", "rates", "storm",
             "plan", "vote")


def make_urls(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct article-, section- and feed-like URLs over a few news hosts."""
    urls: list[str] = []
    seen: set[str] = set()
    for host in HOSTS:  # front pages and section fronts: captured in nearly every crawl
        for url in [f"https://{host}/"] + [f"https://{host}/{s}/" for s in SECTIONS[:4]]:
            seen.add(url)
            urls.append(url)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    n = 0
    while len(urls) < count:
        n += 1
        host, section = rng.choice(HOSTS), rng.choice(SECTIONS)
        day = start + timedelta(days=rng.randrange(400))
        slug = "-".join(rng.sample(URL_WORDS, rng.randint(3, 7)))
        url = f"https://{host}/{section}/{day:%Y/%m/%d}/{slug}-{n}"
        roll = rng.random()
        if roll < 0.06:
            url += f"?page={rng.randint(2, 4)}"
        elif roll < 0.09:
            url += "?utm_source=rss&utm_medium=feed"
        elif roll < 0.11:
            url = f"https://{host}/{section}/index.html?from={day:%Y%m%d}&n={n}"
        if url not in seen:
            seen.add(url)
            urls.append(url)
    return urls
