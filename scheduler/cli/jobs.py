"""``newsarchive jobs list|show|cancel``: read and write the job ledger."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from archive import ledger
from archive.models import CrawlJob
from archive.models import JobStatus as Status
from scheduler.cli.common import JobIdArgument, fail, open_catalog, out

jobs_app = typer.Typer(help="Inspect and cancel crawl jobs.", no_args_is_help=True)


def job_dict(job: CrawlJob) -> dict[str, object]:
    return {"id": job.id, "status": job.status, "site": job.spec.get("site"),
            "trigger": job.trigger, "attempts": job.attempts, "stats": job.stats,
            "error": job.error, "spec": job.spec, "retry_of": job.retry_of,
            "created_at": job.created_at.isoformat(),
            "started_at": job.started_at.isoformat() if job.started_at else None,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None}


@jobs_app.command("list")
def list_jobs(
    status: Annotated[Status | None, typer.Option(help="Only jobs in this state.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The newest jobs first."""
    query = select(CrawlJob).order_by(CrawlJob.id.desc()).limit(limit)
    if status:
        query = query.where(CrawlJob.status == status)
    with open_catalog().session() as session:
        jobs = list(session.scalars(query))
        if as_json:
            for job in jobs:
                print(json.dumps(job_dict(job)))
            return
        table = Table("id", "status", "site / urls", "trigger", "pages", "errors", "created")
        for job in jobs:
            target = job.spec.get("site") or ", ".join(job.spec.get("urls", []))[:50]
            table.add_row(str(job.id), job.status, target, job.trigger,
                          str(job.stats.get("pages", "")), str(job.stats.get("errors", "")),
                          job.created_at.strftime("%Y-%m-%d %H:%M:%S"))
        out.print(table)


@jobs_app.command("show")
def show(job_id: JobIdArgument) -> None:
    """One job as JSON."""
    with open_catalog().session() as session:
        try:
            print(json.dumps(job_dict(ledger.get_job(session, job_id)), indent=2))
        except ledger.JobNotFound as exc:
            raise fail(str(exc)) from None


@jobs_app.command("cancel")
def cancel(job_id: JobIdArgument) -> None:
    """Cancel a queued job; a running one is stopped by the service within a second."""
    with open_catalog().session() as session:
        try:
            job = ledger.request_cancel(session, job_id)
        except (ledger.JobNotFound, ledger.JobStateError) as exc:
            raise fail(str(exc)) from None
        state = job.status
    out.print(f"job {job_id}: " + ("cancelled" if state == "cancelled"
                                   else "cancel requested; the service stops it gracefully"))
