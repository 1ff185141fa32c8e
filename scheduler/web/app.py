"""The app factories: the service's app (API, UI, replay unless it has an origin of its
own), and the replay app that answers ``/web/`` on that origin.

Replay on its own origin (``NEWSARCHIVE_REPLAY_PORT``, as pywb and the Wayback Machine keep
archived content off the archive's own origin): the service's app redirects ``/web/`` there,
and the replay app, sharing the one service, has no API and no UI to reach.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from scheduler.config import ServiceSettings
from scheduler.metrics import ServiceMetrics
from scheduler.service import Service
from scheduler.web import ui
from scheduler.web.date_header import DateHeader
from scheduler.web.deps import RateLimiter
from scheduler.web.errors import install_error_handlers
from scheduler.web.routers import (
    articles,
    captures,
    cdx,
    crawls,
    memento,
    replay,
    sites,
    system,
    versions,
    wacz,
)
from scheduler.web.wayback import replay_base

TITLE, VERSION = "newsarchive", "0.1.0"


def create_app(settings: ServiceSettings | None = None, *,
               replay_port: int | None = None) -> FastAPI:
    """The service's app; with ``replay_port``, ``/web/`` redirects to that origin."""
    settings = settings or ServiceSettings.load()
    service = Service.create(settings)
    metrics = ServiceMetrics(service.catalog, service.recovery)

    def on_submitted(event: JobSubmissionEvent) -> None:
        if event.scheduled_run_times:
            metrics.observe_lag(max(event.scheduled_run_times))

    service.scheduler.add_listener(on_submitted, EVENT_JOB_SUBMITTED)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # sync routes run in anyio's threadpool, sized per event loop (ServiceSettings.threads)
        to_thread.current_default_thread_limiter().total_tokens = settings.threads
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(title=TITLE, version=VERSION, lifespan=lifespan,
                  description="Archive news sites to WARC; schedule and request crawls.")
    _share(app, service, replay_port)
    app.state.metrics = metrics
    app.state.rate_limiter = RateLimiter(settings.crawl_rate_limit)
    if replay_port:
        app.add_middleware(ReplayElsewhere)
    for module in (crawls, sites, captures, articles, versions, cdx, replay, memento, wacz,
                   system):
        app.include_router(module.router)
    app.include_router(ui.router)
    app.mount(ui.STATIC_URL, ui.static_files(), name="ui-static")
    return app


def create_replay_app(service: Service, replay_port: int) -> FastAPI:
    """The app of the replay origin: ``/web/`` and the TimeMaps its banner links to."""
    app = FastAPI(title=f"{TITLE} replay", version=VERSION, openapi_url=None, docs_url=None,
                  redoc_url=None)
    _share(app, service, replay_port)
    for module in (replay, memento):
        app.include_router(module.router)
    return app


def _share(app: FastAPI, service: Service, replay_port: int | None) -> None:
    app.state.service = service
    app.state.replay_port = replay_port
    app.state.replay_url = service.settings.replay_url
    install_error_handlers(app)
    app.add_middleware(DateHeader)


class ReplayElsewhere:
    """ASGI middleware of the service's app: ``/web/…`` is answered on the replay origin
    (a 302 there, path and query kept)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/web/"):
            request = Request(scope)
            raw = scope.get("raw_path") or scope["path"].encode()
            target = replay_base(request) + raw.decode("latin-1").lstrip("/")
            query = scope.get("query_string", b"").decode("latin-1")
            response = RedirectResponse(target + (f"?{query}" if query else ""),
                                        status_code=302)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class ByPort:
    """One ASGI app per listening port (``serve`` listens on the service's and the replay
    origin's); lifespan events go to the service's app."""

    def __init__(self, main: ASGIApp, by_port: dict[int, ASGIApp]) -> None:
        self.main = main
        self.by_port = by_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        app = self.by_port.get(server[1], self.main) if server else self.main
        await app(scope, receive, send)
