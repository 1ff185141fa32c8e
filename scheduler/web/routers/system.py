"""/healthz and /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from archive.storage import StorageError
from scheduler.web.deps import ServiceDep

router = APIRouter(tags=["system"])


@router.get("/healthz", responses={503: {"description": "the catalog or the storage does "
                                                     "not answer; `checks` says which"}})
def healthz(service: ServiceDep) -> JSONResponse:
    """200 when the catalog and the storage answer; 503 naming what does not."""
    checks: dict[str, str] = {}
    try:
        with service.catalog.session() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        checks["database"] = f"error: {exc.__class__.__name__}: {exc}"
    try:
        service.storage.stat(".newsarchive-healthz")  # one HEAD/stat: reachable, not listed
        checks["storage"] = "ok"
    except (StorageError, OSError) as exc:
        checks["storage"] = f"error: {exc}"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if healthy else "unavailable", "checks": checks,
                         "running_crawls": len(service.dispatcher.running),
                         "leader": service.is_leader},
                        status_code=200 if healthy else 503)


@router.get("/metrics", response_class=Response, responses={
    200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}})
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry),
                    media_type=CONTENT_TYPE_LATEST)
