"""The app factory: one FastAPI app owning the service (settings, catalog, dispatcher), its
routers, the web UI and the error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from fastapi import FastAPI

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
    wacz,
)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
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

    app = FastAPI(title="newsarchive", version="0.1.0", lifespan=lifespan,
                  description="Archive news sites to WARC; schedule and request crawls.")
    app.state.service = service
    app.state.metrics = metrics
    app.state.rate_limiter = RateLimiter(settings.crawl_rate_limit)
    install_error_handlers(app)
    app.add_middleware(DateHeader)
    for module in (crawls, sites, captures, articles, cdx, replay, memento, wacz, system):
        app.include_router(module.router)
    app.include_router(ui.router)
    app.mount(ui.STATIC_URL, ui.static_files(), name="ui-static")
    return app
