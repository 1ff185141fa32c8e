"""Catalog rows of captures with every value given, inserted directly (no WARC behind them):
for the index APIs, which read the catalog only; and the SQL those APIs run on them, with
SQLite's plan for each statement."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event, insert

from archive.catalog import Catalog
from archive.cdxj import surt_key
from archive.models import Capture, WarcFile


def insert_captures(catalog: Catalog, captures: list[tuple[Any, ...]]) -> None:
    """``captures``: (url, timestamp, status, mime, digest, record type, WARC file name,
    offset, length); the WARC files are made as rows too."""
    with catalog.session() as session:
        files = {name: session.scalar(insert(WarcFile).values(filename=name, state="closed")
                                      .returning(WarcFile.id))
                 for name in sorted({c[6] for c in captures})}
        session.execute(insert(Capture), [
            {"url": url, "surt": surt_key(url), "timestamp": ts, "status": status,
             "mime": mime, "payload_digest": digest, "record_type": record_type,
             "record_id": f"<urn:uuid:{uuid.uuid4()}>", "warc_file_id": files[filename],
             "offset": offset, "length": length}
            for url, ts, status, mime, digest, record_type, filename, offset, length
            in captures])


@contextmanager
def statements_on_captures(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The (statement, parameters) ``engine`` runs that read ``captures``, in the block."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
               _many: bool) -> None:
        if "FROM captures" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def query_plan(engine: Engine, statement: str, parameters: Any) -> str:
    """SQLite's ``EXPLAIN QUERY PLAN`` of a statement, its steps joined by spaces."""
    with engine.connect() as conn:
        return " ".join(str(row[-1]) for row in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + statement, parameters))
