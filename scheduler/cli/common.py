"""What every ``newsarchive`` command group shares: consoles, errors, the catalog."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from archive.catalog import Catalog, CatalogError
from archive.config import ArchiveSettings, SettingsError
from archive.models import MAX_ID
from archive.storage import StorageError
from scheduler.urlcheck import UrlRefused

out = Console(soft_wrap=True)
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` to stderr; ``raise fail(...)`` exits with ``code``."""
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)  # paths stay greppable
    return typer.Exit(code)


class App(typer.Typer):
    """The command tree. No error reaches the user as a traceback: each is one ``error:``
    line. Configuration or input that cannot work (a setting, the catalog, the storage, a
URL that may not be crawled) exits 2;
    a failure of the work itself (the catalog or the disk failing mid-command) exits 1; an
    unexpected exception is a bug, said as such, exit 1. ``NEWSARCHIVE_DEBUG=1`` lets the
    exception through, with its traceback."""

    def __call__(self, *args: object, **kwargs: object) -> object:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            if os.environ.get("NEWSARCHIVE_DEBUG") == "1":
                raise
            message, code = describe(exc)
            err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
            raise SystemExit(code) from None


def describe(exc: Exception) -> tuple[str, int]:
    """The one line (and the exit status) an error gets."""
    if isinstance(exc, SettingsError | CatalogError | StorageError | UrlRefused):
        return str(exc), 2
    if isinstance(exc, SQLAlchemyError):
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return f"the catalog failed: {reason}", 1
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}", 1
    return (f"unexpected {type(exc).__name__}: {exc} (a bug; NEWSARCHIVE_DEBUG=1 shows "
            "where)"), 1


def job_id_option(help: str) -> Any:
    """A ``--job ID`` option: a crawl job's id, as the catalog can hold it."""
    return typer.Option(min=1, max=MAX_ID, help=help)


JobIdArgument = Annotated[int, typer.Argument(min=1, max=MAX_ID, help="A crawl job's id.")]


def open_catalog() -> Catalog:
    return Catalog(ArchiveSettings.load().database_url)
