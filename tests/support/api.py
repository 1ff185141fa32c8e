"""The HTTP API in-process: the real app over a data directory, through Starlette's client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from scheduler.config import ServiceSettings
from scheduler.web.app import create_app


@contextmanager
def api_client(data_dir: Path, **settings: Any) -> Iterator[TestClient]:
    """A client of ``create_app`` over ``data_dir`` (and any other settings), its lifespan
    (service start and stop) around the block."""
    with TestClient(create_app(ServiceSettings(data_dir=data_dir, **settings))) as client:
        yield client
