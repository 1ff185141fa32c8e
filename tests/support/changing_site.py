"""A local news site whose articles the test edits between crawls (article versions)."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.served import QuietHandler, ServedSite

PARAGRAPHS = [
    "The harbour bridge reopened to traffic on Monday after a two-year closure that cut "
    "the old town off from the ferry terminal.",
    "The council said the repairs cost 40 million dollars. Traffic resumed at noon, and "
    "the first buses crossed an hour later.",
    "Residents gathered on both banks to watch the first cars cross, some of them holding "
    "banners thanking the workers.",
    "The mayor thanked the engineers who worked through the winter storms to finish the "
    "deck ahead of the schedule agreed last spring.",
    "Tolls will not be charged until the new year, the transport office said in a "
    "statement published on its website.",
]


@dataclass
class Story:
    """One article as the site serves it now; the test changes its fields."""

    title: str
    authors: list[str] = field(default_factory=lambda: ["Ana Lima"])
    published: str = "2026-11-02T09:00:00+00:00"
    modified: str | None = None
    paragraphs: list[str] = field(default_factory=lambda: list(PARAGRAPHS))
    furniture: str = "Updated 3 minutes ago"  # a line the page shows next to the byline
    status: int = 200  # 404/410: unpublished; a 3xx redirects to the home page
    not_found: bool = False  # served as the site's error page, with status 200 (a soft 404)

    def page(self) -> str:
        data: dict[str, Any] = {"@context": "https://schema.org", "@type": "NewsArticle",
                                "headline": self.title, "datePublished": self.published,
                                "author": [{"@type": "Person", "name": a}
                                           for a in self.authors]}
        if self.modified:
            data["dateModified"] = self.modified
        body = "".join(f"<p>{html.escape(p)}</p>" for p in self.paragraphs)
        return ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
                f"<title>{html.escape(self.title)}</title>"
                f'<script type="application/ld+json">{json.dumps(data)}</script></head><body>'
                '<nav><a href="/">Home</a></nav><article>'
                f"<h1>{html.escape(self.title)}</h1>"
                f'<p class="byline">By {html.escape(" and ".join(self.authors))}</p>'
                f'<p class="updated">{html.escape(self.furniture)}</p>'
                f"{body}</article><footer>The Test Chronicle</footer></body></html>")


class ChangingSite(ServedSite):
    """``stories``: path → :class:`Story`, served as HTML articles; anything else is 404."""

    def __init__(self) -> None:
        self.stories: dict[str, Story] = {}
        super().__init__(self._handler())

    def add(self, slug: str, title: str) -> str:
        """Add a story at ``/news/2026/11/02/{slug}.html``; returns its URL."""
        path = f"/news/2026/11/02/{slug}.html"
        self.stories[path] = Story(title)
        return self.url + path

    def home(self) -> str:
        """The front page, a hub linking every story."""
        links = "".join(f'<li><a href="{path}">{html.escape(story.title)}</a></li>'
                        for path, story in sorted(self.stories.items()))
        return ('<!doctype html><html><head><title>The Test Chronicle</title>'
                '<meta property="og:type" content="website"></head><body>'
                f"<h1>The Test Chronicle</h1><ul>{links}</ul></body></html>")

    def not_found_page(self) -> str:
        """The error page some sites serve with status 200: a soft 404, with enough text
        (the latest stories) for an extractor to take it for an article."""
        latest = "".join(f"<p>{html.escape(story.title)}: {html.escape(story.paragraphs[0])}"
                         "</p>" for story in self.stories.values() if story.paragraphs)
        return ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
                "<title>Page not found | The Test Chronicle</title></head><body>"
                '<nav><a href="/">Home</a></nav><main>'
                "<h1>Sorry, this page could not be found</h1>"
                f"<p>It may have moved. Here is what we published lately.</p>{latest}</main>"
                "<footer>The Test Chronicle</footer></body></html>")

    def story(self, url: str) -> Story:
        return self.stories[url.removeprefix(self.url)]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                story = site.stories.get(self.path)
                headers = {"Content-Type": "text/html; charset=utf-8"}
                if self.path == "/":
                    status, body = 200, site.home().encode()
                elif story is None or story.status >= 400:
                    status, body = (story.status if story else 404), b"<p>Not found</p>"
                elif story.status != 200:
                    status, body, headers["Location"] = story.status, b"", "/"
                elif story.not_found:
                    status, body = 200, site.not_found_page().encode()
                else:
                    status, body = 200, story.page().encode()
                self.answer(status, body, headers.items())

        return Handler
