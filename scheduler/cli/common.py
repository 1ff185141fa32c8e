"""What every ``newsarchive`` command group shares: consoles, errors, the catalog."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from archive.catalog import Catalog
from archive.config import ArchiveSettings, SettingsError
from archive.storage import StorageError

out = Console(soft_wrap=True)
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` to stderr; ``raise fail(...)`` exits with ``code``."""
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)  # paths stay greppable
    return typer.Exit(code)


class App(typer.Typer):
    """The command tree. A :class:`SettingsError` (a setting with a value it cannot take) or
    a :class:`StorageError` that no command handled itself (a storage that cannot be opened:
    a ``file://`` root that is a file, an S3 URL without a bucket, ...) is one ``error:`` line
    and exit status 2 (the configuration is unusable), not a traceback. Commands that read or
    write records catch storage errors themselves and exit 1."""

    def __call__(self, *args: object, **kwargs: object) -> object:
        try:
            return super().__call__(*args, **kwargs)
        except (SettingsError, StorageError) as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            raise SystemExit(2) from None


def open_catalog() -> Catalog:
    return Catalog(ArchiveSettings.load().database_url)
