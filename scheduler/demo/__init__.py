"""Bundled offline demo news site ("The Harbour Gazette") and its local HTTP server.

``DemoSite`` is imported lazily so that ``python -m scheduler.demo.server`` does not
import the server module twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import DemoSite

__all__ = ["DemoSite"]


def __getattr__(name: str) -> Any:
    if name == "DemoSite":
        from .server import DemoSite

        return DemoSite
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
