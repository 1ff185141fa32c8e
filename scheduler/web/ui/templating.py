"""Jinja2 environment of the web UI (autoescaped) and the filters its templates use."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
STATIC_URL = "/ui/static"
POLL_MS = 2000  # how often the pages poll the JSON API for a queued or running job

# Archived pages are hostile input: nothing but our own files may run or load on UI pages.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# Wayback URLs carry the archived URL verbatim after the timestamp; only what would end or
# break the path is escaped (space, quote, fragment mark, non-ASCII).
URL_SAFE = ":/?&=;+,$@!*'()[]~%"


def size(value: int | None) -> str:
    """Bytes in decimal units, as progress.js shows them: ``999 B``, ``1.2 kB``, ``3.4 MB``."""
    number = float(value or 0)
    for unit in ("B", "kB", "MB", "GB"):
        if number < 1000:
            return f"{int(number)} {unit}" if unit == "B" else f"{number:.1f} {unit}"
        number /= 1000
    return f"{number:.1f} TB"


def _utc(value: datetime) -> datetime:
    """The catalog stores UTC; SQLite hands it back naive."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def when(value: datetime) -> str:
    return _utc(value).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(value: datetime) -> str:
    return _utc(value).isoformat()


def timestamp(value: str) -> str:
    """``20261103140005`` → ``2026-11-03 14:00:05``."""
    v = value.ljust(14, "0")
    return f"{v[:4]}-{v[4:6]}-{v[6:8]} {v[8:10]}:{v[10:12]}:{v[12:14]}"


def web_link(url: str, ts: str, modifier: str = "") -> str:
    """The replay URL ``/web/{ts}{modifier}/{url}`` (``id_``: the original bytes)."""
    return f"/web/{ts}{modifier}/{quote(url, safe=URL_SAFE)}"


def schedule_text(schedule: dict[str, Any] | None) -> str:
    if not schedule:
        return "on demand only"
    if "cron" in schedule:
        return f"cron {schedule['cron']}"
    seconds = int(schedule["interval_seconds"])
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % length == 0:
            return f"every {seconds // length} {unit}"
    return f"every {seconds} s"


def query(**params: Any) -> str:
    """A query string of the non-empty parameters (for links that keep the filters)."""
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(size=size, when=when, iso=iso, timestamp=timestamp,
                       schedule_text=schedule_text)
    env.globals.update(web_link=web_link, query=query, poll_ms=POLL_MS,
                       static=lambda path: f"{STATIC_URL}/{path}")
    return env


templates = Jinja2Templates(env=_environment())


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status,
                                      headers=SECURITY_HEADERS)
