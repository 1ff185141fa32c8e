"""/api/v1/sites: site CRUD and "crawl this site now"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import ledger
from archive.models import CrawlJob, Site
from scheduler.api.auth import require_token
from scheduler.api.crawls import queue_job, service_of
from scheduler.api.errors import Conflict, NotFound, Unprocessable
from scheduler.api.schemas import JobOut, SiteIn, SiteOut, SitePatch
from scheduler.schedules import next_run
from scheduler.service import Service
from scheduler.sites import (
    SiteExists,
    SiteNotFound,
    SiteWithoutSeeds,
    create_site,
    get_site,
    update_site,
)
from scheduler.urlcheck import check_crawl_url

router = APIRouter(prefix="/api/v1/sites", tags=["sites"])
Writer = Annotated[str, Depends(require_token)]


def site_out(service: Service, session: Session, site: Site) -> SiteOut:
    out = SiteOut.model_validate(site)
    out.next_run = next_run(service.scheduler, site.name)
    out.last_job = session.scalar(select(func.max(CrawlJob.id))
                                  .where(CrawlJob.site_id == site.id))
    return out


def check_urls(service: Service, fields: dict[str, list[str] | None]) -> None:
    for field, urls in fields.items():
        for index, url in enumerate(urls or []):
            try:
                check_crawl_url(url, service.policy)
            except ValueError as exc:
                raise Unprocessable(f"{field}.{index}: {exc}", field=f"{field}.{index}") \
                    from None


def lookup(session: Session, name: str) -> Site:
    try:
        return get_site(session, name)
    except SiteNotFound as exc:
        raise NotFound(str(exc)) from None


@router.get("", response_model=list[SiteOut])
def list_sites(request: Request) -> list[SiteOut]:
    service = service_of(request)
    with service.catalog.session() as session:
        return [site_out(service, session, s)
                for s in session.scalars(select(Site).order_by(Site.name))]


@router.post("", status_code=201, response_model=SiteOut)
def add_site(body: SiteIn, request: Request, response: Response, _: Writer) -> SiteOut:
    service = service_of(request)
    check_urls(service, {"start_urls": body.start_urls, "feeds": body.feeds,
                         "sitemaps": body.sitemaps})
    with service.catalog.session() as session:
        try:
            create_site(session, body)
        except SiteExists as exc:
            raise Conflict(str(exc)) from None
    service.sync_schedules()
    response.headers["Location"] = f"/api/v1/sites/{body.name}"
    with service.catalog.session() as session:
        return site_out(service, session, lookup(session, body.name))


@router.get("/{name}", response_model=SiteOut)
def show_site(name: str, request: Request) -> SiteOut:
    service = service_of(request)
    with service.catalog.session() as session:
        return site_out(service, session, lookup(session, name))


@router.patch("/{name}", response_model=SiteOut)
def change_site(name: str, body: SitePatch, request: Request, _: Writer) -> SiteOut:
    """Change some fields; a new schedule takes effect at once."""
    service = service_of(request)
    check_urls(service, {"start_urls": body.start_urls, "feeds": body.feeds,
                         "sitemaps": body.sitemaps})
    with service.catalog.session() as session:
        try:
            update_site(session, name, body)
        except SiteNotFound as exc:
            raise NotFound(str(exc)) from None
        except SiteWithoutSeeds as exc:
            raise Unprocessable(str(exc)) from None
    service.sync_schedules()
    with service.catalog.session() as session:
        return site_out(service, session, lookup(session, name))


@router.delete("/{name}", status_code=204)
def remove_site(name: str, request: Request, _: Writer) -> Response:
    """Remove a site and its schedule; its archived captures and jobs stay."""
    service = service_of(request)
    with service.catalog.session() as session:
        session.delete(lookup(session, name))
    service.sync_schedules()
    return Response(status_code=204)


@router.post("/{name}/crawl", status_code=202, response_model=JobOut)
def crawl_site(name: str, request: Request, response: Response, identity: Writer) -> JobOut:
    service = service_of(request)
    service.rate_limiter.check(identity)
    with ledger.enqueue_session(service.catalog) as session:
        site = lookup(session, name)
        out = queue_job(service, response, ledger.site_spec(site), site=site, priority=0,
                        idempotency_key=request.headers.get("idempotency-key"),
                        session=session)
    if response.status_code == 202:
        service.job_queued()
    return out
