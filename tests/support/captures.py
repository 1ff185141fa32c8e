"""Catalog rows of captures with every value given, inserted directly (no WARC behind them):
for the index APIs, which read the catalog only."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert

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
