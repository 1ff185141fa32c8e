"""/api/v1/crawls: on-demand crawl requests and the job ledger."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Response
from sqlalchemy import select

from archive import ledger
from archive.models import MAX_ID, CrawlJob, JobStatus, Site
from scheduler.sites import get_site
from scheduler.urlcheck import check_crawl_urls
from scheduler.web.deps import (
    CrawlRateLimit,
    JobId,
    ServiceDep,
    Writer,
    job_out,
    queue_job,
)
from scheduler.web.errors import WRITE_ERRORS, error_responses
from scheduler.web.schemas import CrawlLimits, CrawlRequest, JobList, JobOut, NoOptions

router = APIRouter(prefix="/api/v1/crawls", tags=["crawls"])


@router.post("", status_code=202, response_model=JobOut,
             responses={200: {"description": "an identical job is already queued or running"},
                        **error_responses(*WRITE_ERRORS, 404, 429)})
def create_crawl(
    body: CrawlRequest, response: Response, service: ServiceDep, identity: Writer,
    limiter: CrawlRateLimit,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JobOut:
    """Queue a crawl of URLs or of a site; returns the job (or the identical active one)."""
    limiter.check(identity)
    limits = body.limits
    check_crawl_urls({"urls": body.urls}, service.policy)
    with ledger.enqueue_session(service.catalog) as session:
        site = None
        if body.site is not None:
            site = get_site(session, body.site)
            spec = ledger.site_spec(site)
            if limits is not None:
                spec.update(depth=limits.depth, max_pages=limits.max_pages,
                            extract=limits.extract)
        else:
            limits = limits or CrawlLimits()
            spec = {"urls": list(dict.fromkeys(body.urls or [])), "depth": limits.depth,
                    "max_pages": limits.max_pages, "extract": limits.extract}
        if body.render is not None:
            spec["render"] = body.render.value
        out = queue_job(response, spec, site=site, priority=body.priority,
                        idempotency_key=idempotency_key, session=session)
    if response.status_code == 202:
        service.job_queued()
    return out


@router.get("", response_model=JobList, responses=error_responses(422))
def list_crawls(
    service: ServiceDep,
    status: JobStatus | None = None,
    site: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[int | None, Query(ge=1, le=MAX_ID,
                                        description="next_cursor of the previous page")]
    = None,
) -> JobList:
    query = select(CrawlJob).order_by(CrawlJob.id.desc()).limit(limit + 1)
    if status:
        query = query.where(CrawlJob.status == status)
    if site:
        query = query.join(Site, CrawlJob.site_id == Site.id).where(Site.name == site)
    if cursor:
        query = query.where(CrawlJob.id < cursor)
    with service.catalog.session() as session:
        jobs = list(session.scalars(query))
        items = [job_out(session, job) for job in jobs[:limit]]
    return JobList(items=items, next_cursor=items[-1].id if len(jobs) > limit else None)


@router.get("/{job_id}", response_model=JobOut, responses=error_responses(404, 422))
def get_crawl(job_id: JobId, service: ServiceDep) -> JobOut:
    with service.catalog.session() as session:
        return job_out(session, ledger.get_job(session, job_id))


@router.post("/{job_id}/cancel", status_code=202, response_model=JobOut,
             responses=error_responses(*WRITE_ERRORS, 404, 409))
def cancel_crawl(job_id: JobId, service: ServiceDep, _: Writer,
                 body: Annotated[NoOptions | None, Body()] = None) -> JobOut:
    """Cancel a queued job, or stop a running one (SIGTERM, then SIGKILL after a grace)."""
    with service.catalog.session() as session:
        out = job_out(session, ledger.request_cancel(session, job_id))
    service.dispatcher.wake()
    return out
