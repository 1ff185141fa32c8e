"""What the routers share: the service, the caller allowed to write, the crawl request rate
limit (dependencies), and the queueing of a crawl job (a helper of the crawls and sites
routers)."""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
from collections import deque
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import ledger
from archive.models import MAX_ID, CrawlJob, Site, WarcFile
from scheduler.service import Service
from scheduler.web.errors import (
    Forbidden,
    RateLimited,
    Unauthorized,
    UnsupportedMediaType,
)
from scheduler.web.schemas import JobOut


def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]


def require_writer(request: Request) -> str:
    """Dependency of every write endpoint: the caller's identity (a token hash, or its
    address when no token is configured).

    A write never acts on a request a web page made on another site's behalf: a browser
    marks those (``Sec-Fetch-Site: cross-site`` or ``same-site``, an ``Origin`` that is not
    this service's, ``Origin: null`` from a sandboxed replay), and they are refused (403);
    and a write's body is JSON (``Content-Type: application/json``, 415 otherwise), which a
    page can send to another origin only after a CORS preflight this service never grants.
    A page therefore cannot make a loopback ``serve`` without a token start a crawl (a form
    post, a link's ``ping``, a beacon), and with a token, its browser has none to send."""
    _refuse_cross_site(request)
    identity = _identity(request)
    if request.method in ("POST", "PUT", "PATCH"):
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            raise UnsupportedMediaType(
                f"write requests carry JSON: send 'Content-Type: application/json' (and a "
                f"JSON body, '{{}}' when there is nothing to say), not {media or 'no type'!r}")
    return identity


def _refuse_cross_site(request: Request) -> None:
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        raise Forbidden(f"a page on another site may not write here (Sec-Fetch-Site: "
                        f"{fetch_site}); send the request from a client, not a web page")
    origin = request.headers.get("origin")
    if origin is not None:
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        if origin.rstrip("/").lower() != own.lower():
            raise Forbidden(f"a page of origin {origin!r} may not write here (this service "
                            f"is {own}); send the request from a client, not a web page")


def _identity(request: Request) -> str:
    expected = request.app.state.service.settings.api_token
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if expected:
        if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip(), expected):
            raise Unauthorized("this endpoint needs 'Authorization: Bearer <token>' with the "
                               "token set in NEWSARCHIVE_API_TOKEN",
                               headers={"WWW-Authenticate": 'Bearer realm="newsarchive"'})
        return "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]
    return "client:" + (request.client.host if request.client else "unknown")


Writer = Annotated[str, Depends(require_writer)]
JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="a crawl job's id")]


class RateLimiter:
    """Sliding window: at most ``limit`` calls per ``window`` seconds per identity."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, identity: str) -> None:
        now = time.monotonic()
        with self._lock:
            calls = self._calls.setdefault(identity, deque())
            while calls and now - calls[0] >= self.window:
                calls.popleft()
            if len(calls) >= self.limit:
                retry = max(1, math.ceil(self.window - (now - calls[0])))
                raise RateLimited(
                    f"rate limit: at most {self.limit} crawl requests per "
                    f"{int(self.window)} s per token; retry in {retry} s "
                    "(NEWSARCHIVE_CRAWL_RATE_LIMIT sets the limit)",
                    headers={"Retry-After": str(retry)}, retry_after=retry)
            calls.append(now)


def get_rate_limiter(request: Request) -> RateLimiter:
    return request.app.state.rate_limiter


CrawlRateLimit = Annotated[RateLimiter, Depends(get_rate_limiter)]


def job_out(session: Session, job: CrawlJob) -> JobOut:
    columns = {c.key: getattr(job, c.key) for c in CrawlJob.__table__.columns}
    files = session.scalars(select(WarcFile.filename).where(WarcFile.job_id == job.id)
                            .order_by(WarcFile.id))
    return JobOut.model_validate(columns | {"site": job.spec.get("site"),
                                            "warc_files": list(files)})


def queue_job(response: Response, spec: dict[str, Any], *, site: Site | None, priority: int,
              idempotency_key: str | None, session: Session) -> JobOut:
    """Enqueue (or find the identical active job): 202 and a new job, or 200 and that one."""
    job, created = ledger.enqueue(session, spec, site=site, trigger="api", priority=priority,
                                  idempotency_key=idempotency_key)
    response.status_code = 202 if created else 200
    response.headers["Location"] = f"/api/v1/crawls/{job.id}"
    return job_out(session, job)
