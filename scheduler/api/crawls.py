"""/api/v1/crawls: on-demand crawl requests and the job ledger."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import ledger
from archive.models import CrawlJob, Site, WarcFile
from scheduler.api.auth import require_token
from scheduler.api.errors import Conflict, NotFound, Unprocessable
from scheduler.api.schemas import CrawlLimits, CrawlRequest, JobList, JobOut
from scheduler.service import Service
from scheduler.sites import SiteNotFound, get_site
from scheduler.urlcheck import check_crawl_url

router = APIRouter(prefix="/api/v1/crawls", tags=["crawls"])


def service_of(request: Request) -> Service:
    return request.app.state.service


def job_out(session: Session, job: CrawlJob) -> JobOut:
    columns = {c.key: getattr(job, c.key) for c in CrawlJob.__table__.columns}
    files = session.scalars(select(WarcFile.filename).where(WarcFile.job_id == job.id)
                            .order_by(WarcFile.id))
    return JobOut.model_validate(columns | {"site": job.spec.get("site"),
                                            "warc_files": list(files)})


def queue_job(service: Service, response: Response, spec: dict, *, site: Site | None,
              priority: int, idempotency_key: str | None, session: Session) -> JobOut:
    job, created = ledger.enqueue(session, spec, site=site, trigger="api", priority=priority,
                                  idempotency_key=idempotency_key)
    response.status_code = 202 if created else 200
    response.headers["Location"] = f"/api/v1/crawls/{job.id}"
    return job_out(session, job)


@router.post("", status_code=202, response_model=JobOut,
             responses={200: {"description": "an identical job is already queued or running"}})
def create_crawl(
    body: CrawlRequest, request: Request, response: Response,
    identity: Annotated[str, Depends(require_token)],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JobOut:
    """Queue a crawl of URLs or of a site; returns the job (or the identical active one)."""
    service = service_of(request)
    service.rate_limiter.check(identity)
    limits = body.limits
    for index, url in enumerate(body.urls or []):
        try:
            check_crawl_url(url, service.policy)
        except ValueError as exc:
            raise Unprocessable(f"urls.{index}: {exc}", field=f"urls.{index}") from None
    with ledger.enqueue_session(service.catalog) as session:
        site = None
        if body.site is not None:
            try:
                site = get_site(session, body.site)
            except SiteNotFound as exc:
                raise NotFound(str(exc)) from None
            spec = ledger.site_spec(site)
            if limits is not None:
                spec.update(depth=limits.depth, max_pages=limits.max_pages,
                            extract=limits.extract)
        else:
            limits = limits or CrawlLimits()
            spec = {"urls": list(dict.fromkeys(body.urls or [])), "depth": limits.depth,
                    "max_pages": limits.max_pages, "extract": limits.extract}
        out = queue_job(service, response, spec, site=site, priority=body.priority,
                        idempotency_key=idempotency_key, session=session)
    if response.status_code == 202:
        service.job_queued()
    return out


@router.get("", response_model=JobList)
def list_crawls(
    request: Request,
    status: Annotated[str | None, Query(pattern="^(queued|running|succeeded|failed|cancelled)$")]
    = None,
    site: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[int | None, Query(ge=1, description="next_cursor of the previous page")]
    = None,
) -> JobList:
    service = service_of(request)
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


@router.get("/{job_id}", response_model=JobOut)
def get_crawl(job_id: int, request: Request) -> JobOut:
    with service_of(request).catalog.session() as session:
        try:
            return job_out(session, ledger.get_job(session, job_id))
        except ledger.JobNotFound as exc:
            raise NotFound(str(exc)) from None


@router.post("/{job_id}/cancel", status_code=202, response_model=JobOut,
             dependencies=[Depends(require_token)])
def cancel_crawl(job_id: int, request: Request) -> JobOut:
    """Cancel a queued job, or stop a running one (SIGTERM, then SIGKILL after a grace)."""
    service = service_of(request)
    with service.catalog.session() as session:
        try:
            job = ledger.request_cancel(session, job_id)
        except ledger.JobNotFound as exc:
            raise NotFound(str(exc)) from None
        except ledger.JobStateError as exc:
            raise Conflict(str(exc)) from None
        out = job_out(session, job)
    service.dispatcher.wake()
    return out
