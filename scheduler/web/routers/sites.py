"""/api/v1/sites: site CRUD and "crawl this site now"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import ledger
from archive.models import CrawlJob, Site
from scheduler.schedules import next_run
from scheduler.service import Service
from scheduler.site_definitions import SiteIn, SitePatch
from scheduler.sites import create_site, get_site, site_edits, update_site
from scheduler.urlcheck import check_crawl_urls, check_webhook_address
from scheduler.views import SiteEditsOut
from scheduler.web.deps import CrawlRateLimit, ServiceDep, Writer, queue_job
from scheduler.web.errors import WRITE_ERRORS, error_responses
from scheduler.web.schemas import JobOut, NoOptions, SiteOut

router = APIRouter(prefix="/api/v1/sites", tags=["sites"])


def site_out(service: Service, session: Session, site: Site) -> SiteOut:
    out = SiteOut.model_validate(site)
    out.next_run = next_run(service.scheduler, site.name)
    out.last_job = session.scalar(select(func.max(CrawlJob.id))
                                  .where(CrawlJob.site_id == site.id))
    return out


@router.get("", response_model=list[SiteOut])
def list_sites(service: ServiceDep) -> list[SiteOut]:
    with service.catalog.session() as session:
        return [site_out(service, session, s)
                for s in session.scalars(select(Site).order_by(Site.name))]


@router.post("", status_code=201, response_model=SiteOut,
             responses=error_responses(*WRITE_ERRORS, 409))
def add_site(body: SiteIn, response: Response, service: ServiceDep, _: Writer) -> SiteOut:
    check_crawl_urls({"start_urls": body.start_urls, "feeds": body.feeds,
                               "sitemaps": body.sitemaps}, service.policy)
    check_webhook_address(body.webhook_url, service.policy)
    with service.catalog.session() as session:
        create_site(session, body)
    service.sync_schedules()
    response.headers["Location"] = f"/api/v1/sites/{body.name}"
    with service.catalog.session() as session:
        return site_out(service, session, get_site(session, body.name))


@router.get("/{name}", response_model=SiteOut, responses=error_responses(404))
def show_site(name: str, service: ServiceDep) -> SiteOut:
    with service.catalog.session() as session:
        return site_out(service, session, get_site(session, name))


@router.get("/{name}/edits", response_model=SiteEditsOut, responses=error_responses(404))
def site_edit_statistics(name: str, service: ServiceDep) -> SiteEditsOut:
    """When the site's articles are edited, by age since their first capture, and the
    refresh ages its crawls use (learned from these edits when its refresh includes
    `auto`)."""
    with service.catalog.session() as session:
        return site_edits(session, get_site(session, name), service.settings)


@router.patch("/{name}", response_model=SiteOut,
              responses=error_responses(*WRITE_ERRORS, 404))
def change_site(name: str, body: SitePatch, service: ServiceDep, _: Writer) -> SiteOut:
    """Change some fields; a new schedule takes effect at once."""
    check_crawl_urls({"start_urls": body.start_urls, "feeds": body.feeds,
                               "sitemaps": body.sitemaps}, service.policy)
    check_webhook_address(body.webhook_url, service.policy)
    with service.catalog.session() as session:
        update_site(session, name, body)
    service.sync_schedules()
    with service.catalog.session() as session:
        return site_out(service, session, get_site(session, name))


@router.delete("/{name}", status_code=204, responses=error_responses(401, 403, 404))
def remove_site(name: str, service: ServiceDep, _: Writer) -> Response:
    """Remove a site and its schedule; its archived captures and jobs stay."""
    with service.catalog.session() as session:
        session.delete(get_site(session, name))
    service.sync_schedules()
    return Response(status_code=204)


@router.post("/{name}/crawl", status_code=202, response_model=JobOut,
             responses={200: {"description": "the site's crawl is already queued or running"},
                        **error_responses(*WRITE_ERRORS, 404, 429)})
def crawl_site(name: str, request: Request, response: Response, service: ServiceDep,
               identity: Writer, limiter: CrawlRateLimit,
               body: Annotated[NoOptions | None, Body()] = None) -> JobOut:
    """Queue a crawl of the site now (the answer is its active job if it has one)."""
    limiter.check(identity)
    with ledger.enqueue_session(service.catalog) as session:
        site = get_site(session, name)
        out = queue_job(response, ledger.site_spec(site), site=site, priority=0,
                        idempotency_key=request.headers.get("idempotency-key"),
                        session=session)
    if response.status_code == 202:
        service.job_queued()
    return out
