"""The web UI at ``/``: server-rendered pages (Jinja2) over the catalog, plus static files.

``router`` holds the pages; :func:`static_files` is mounted at :data:`STATIC_URL`.
"""

from __future__ import annotations

from starlette.staticfiles import StaticFiles

from scheduler.web.ui.pages import router
from scheduler.web.ui.templating import STATIC_DIR, STATIC_URL

__all__ = ["STATIC_URL", "router", "static_files"]


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)
