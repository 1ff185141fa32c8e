"""GET /api/v1/crawls/{id}/wacz: a crawl job's WARCs as one WACZ, streamed."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from archive.wacz import MEDIA_TYPE, iter_wacz, select_job
from scheduler.web.deps import JobId, ServiceDep
from scheduler.web.errors import error_responses

router = APIRouter(prefix="/api/v1/crawls", tags=["crawls"])


@router.get("/{job_id}/wacz", response_class=StreamingResponse, responses={
    200: {"content": {MEDIA_TYPE: {}}, "description": "the WACZ file, streamed"},
    **error_responses(404, 409, 422)})
def export_job_wacz(job_id: JobId, service: ServiceDep) -> StreamingResponse:
    """The job's complete WARCs with a CDXJ index, pages and datapackage.json (WACZ 1.1.1),
    for ReplayWeb.page or pywb. Set SOURCE_DATE_EPOCH on the server for reproducible output."""
    with service.catalog.session() as session:
        selection = select_job(session, job_id)
    chunks = iter_wacz(service.catalog, service.storage, service.settings.spool_dir,
                       selection)
    filename = f"newsarchive-job-{job_id}.wacz"
    return StreamingResponse(chunks, media_type=MEDIA_TYPE,
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})
