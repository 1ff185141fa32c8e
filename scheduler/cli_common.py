"""What every ``newsarchive`` command group shares: consoles, errors, the catalog."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from archive.catalog import Catalog
from archive.config import ArchiveConfig

out = Console(soft_wrap=True)
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` to stderr; ``raise fail(...)`` exits with ``code``."""
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)  # paths stay greppable
    return typer.Exit(code)


def open_catalog() -> Catalog:
    return Catalog(ArchiveConfig.from_env().database_url)
