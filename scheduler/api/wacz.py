"""GET /api/v1/crawls/{id}/wacz: a crawl job's WARCs as one WACZ, streamed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from archive.wacz import MEDIA_TYPE, EmptySelection, SelectionNotFound, iter_wacz, select_job
from scheduler.api.crawls import service_of
from scheduler.api.errors import Conflict, NotFound

router = APIRouter(prefix="/api/v1/crawls", tags=["crawls"])


@router.get("/{job_id}/wacz", response_class=StreamingResponse, responses={
    200: {"content": {MEDIA_TYPE: {}}, "description": "the WACZ file, streamed"},
    404: {"description": "no such job"},
    409: {"description": "the job has no complete WARC file yet"}})
def export_job_wacz(job_id: int, request: Request) -> StreamingResponse:
    """The job's complete WARCs with a CDXJ index, pages and datapackage.json (WACZ 1.1.1),
    for ReplayWeb.page or pywb. Set SOURCE_DATE_EPOCH on the server for reproducible output."""
    service = service_of(request)
    with service.catalog.session() as session:
        try:
            selection = select_job(session, job_id)
        except SelectionNotFound as exc:
            raise NotFound(str(exc)) from None
        except EmptySelection as exc:
            raise Conflict(str(exc)) from None
    chunks = iter_wacz(service.catalog, service.storage, service.settings.spool_dir,
                       selection)
    filename = f"newsarchive-job-{job_id}.wacz"
    return StreamingResponse(chunks, media_type=MEDIA_TYPE,
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})
