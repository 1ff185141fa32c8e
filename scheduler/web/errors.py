"""Errors of the HTTP API: every error is a JSON body ``{"error": message, ...}``.

Domain exceptions are mapped to their status here, once (:data:`DOMAIN_ERRORS`), so routers
let them propagate: a missing thing is 404, a state that forbids the request 409, invalid
input 422 (400 for the CDX API, as pywb answers), unreadable storage 503. Anything else is a
bug and a 500. :class:`ApiError` and its subclasses are for conditions only the HTTP layer
knows.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from archive.cdx_query import CdxQueryError
from archive.history import ChangesError, VersionNotFound
from archive.ledger import JobNotFound, JobStateError
from archive.search import ArticleNotFound, SearchError
from archive.snapshot import SnapshotNotFound
from archive.storage import StorageError
from archive.wacz import EmptySelection, SelectionNotFound
from scheduler.sites import InvalidSite, SiteExists, SiteNotFound
from scheduler.urlcheck import UrlRefused


class FieldProblem(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error answer: the message, and what it is about where that is known."""

    model_config = ConfigDict(extra="allow")

    error: str
    field: str | None = None
    url: str | None = None
    fields: list[FieldProblem] | None = None


ERROR_DESCRIPTIONS = {
    400: "a parameter is malformed (the message names it)",
    401: "a token is configured and this request did not send it",
    403: "a web page of another origin may not make this service write",
    404: "nothing by that name or id",
    409: "the thing is in a state that forbids the request",
    415: "a write request must carry JSON (Content-Type: application/json)",
    422: "invalid input (the message and `fields` name each problem)",
    429: "too many crawl requests (Retry-After says when to retry)",
    503: "the archive's storage cannot be read now",
}
WRITE_ERRORS = (401, 403, 415, 422)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of these error statuses (all with :class:`ErrorBody`)."""
    return {status: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[status]}
            for status in statuses}


class ApiError(Exception):
    status = 400

    def __init__(self, message: str, *, headers: dict[str, str] | None = None,
                 **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers
        self.details = details


class NotFound(ApiError):
    status = 404


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class UnsupportedMediaType(ApiError):
    status = 415


class RateLimited(ApiError):
    status = 429


class Unprocessable(ApiError):
    status = 422


DOMAIN_ERRORS: tuple[tuple[type[Exception], int], ...] = (
    (JobNotFound, 404),
    (SiteNotFound, 404),
    (ArticleNotFound, 404),
    (VersionNotFound, 404),
    (SnapshotNotFound, 404),
    (SelectionNotFound, 404),
    (JobStateError, 409),
    (SiteExists, 409),
    (EmptySelection, 409),
    (InvalidSite, 422),
    (UrlRefused, 422),
    (SearchError, 422),
    (ChangesError, 422),
    (CdxQueryError, 400),
    (StorageError, 503),
)


def _details(exc: Exception) -> dict[str, Any]:
    """What an exception names besides its message: the field or parameter at fault, the
    URL asked for."""
    details = {}
    field = getattr(exc, "field", None) or getattr(exc, "param", None)
    if field:
        details["field"] = field
    url = getattr(exc, "url", None)
    if url:
        details["url"] = url
    return details


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.message, **exc.details}, status_code=exc.status,
                            headers=exc.headers)

    async def domain_error(_: Request, exc: Exception) -> JSONResponse:
        status = next(code for kind, code in DOMAIN_ERRORS if isinstance(exc, kind))
        return JSONResponse({"error": str(exc), **_details(exc)}, status_code=status)

    for kind, _status in DOMAIN_ERRORS:
        app.add_exception_handler(kind, domain_error)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"field": "body" if e["type"] == "json_invalid" else _field(tuple(e["loc"])),
                     "message": str(e["msg"]).removeprefix("Value error, ")}
                    for e in exc.errors()]
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        return JSONResponse({"error": f"invalid request: {summary}", "fields": problems},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            # FastAPI's word for a body that is not JSON text at all: as any invalid body
            problem = {"field": "body", "message": "the body is not valid JSON"}
            return JSONResponse({"error": f"invalid request: body: {problem['message']}",
                                 "fields": [problem]}, status_code=422)
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))
