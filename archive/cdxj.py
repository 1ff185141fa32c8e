"""CDXJ index lines (pywb format) and SURT keys.

A line is ``urlkey timestamp {json}`` with the fields pywb's ``cdx-indexer`` writes, in its
order (pywb/indexer/cdxindexer.py, archiveindexer.py): a ``revisit`` record has the mime
``warc/revisit`` and no ``status`` (pywb gives a status to ``response`` records only, so a
``resource`` record has none either), and an empty value is left out, so
``filter=status:200`` and ``fl=status`` answer as pywb's do.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import surt as _surt

if TYPE_CHECKING:
    from archive.warc import WrittenRecord


REVISIT_MIME = "warc/revisit"  # pywb's mime for revisit records
NO_STATUS_RECORDS = ("revisit", "resource")  # record types pywb indexes without a status
HTML_MIMES = ("text/html", "application/xhtml+xml")  # the mimes of pages a browser renders


@lru_cache(maxsize=4096)  # a response's key is needed for its CDXJ line and catalog row
def surt_key(url: str) -> str:
    """SURT-canonicalised key as pywb computes it (``com,example)/path?q``)."""
    try:
        return _surt.surt(url)
    except ValueError:
        return url.lower()


def mime_of(content_type: str | None) -> str:
    """``text/html; charset=utf-8`` → ``text/html``; ``unk`` when there is none."""
    return (content_type or "").split(";", 1)[0].strip().lower() or "unk"


@dataclass(frozen=True, order=True)
class CdxjEntry:
    surt: str
    timestamp: str
    url: str
    mime: str
    status: int | None  # None: a resource record (no HTTP status)
    digest: str
    length: int
    offset: int
    filename: str

    @classmethod
    def build(cls, *, url: str, timestamp: str, mime: str, status: int | None,
              digest: str | None, length: int, offset: int, filename: str) -> CdxjEntry:
        """An entry keyed as pywb keys it (SURT; sha1 digests without their prefix)."""
        return cls(surt=surt_key(url), timestamp=timestamp, url=url, mime=mime, status=status,
                   digest=(digest or "").removeprefix("sha1:"), length=length, offset=offset,
                   filename=filename)

    @classmethod
    def for_response(cls, record: WrittenRecord, *, mime: str,
                     status: int | None) -> CdxjEntry:
        return cls.build(url=record.target_uri, timestamp=record.timestamp, mime=mime,
                         status=status, digest=record.payload_digest, length=record.length,
                         offset=record.offset, filename=record.filename)

    def to_line(self) -> str:
        return cdxj_line(self.surt, self.timestamp, {
            "url": self.url, "mime": self.mime,
            "status": "-" if self.status is None else str(self.status),
            "digest": self.digest, "length": str(self.length), "offset": str(self.offset),
            "filename": self.filename})


def is_revisit(mime: str) -> bool:
    """Whether a line of this mime is a revisit (pywb's ``CDXObject.is_revisit``)."""
    return mime == REVISIT_MIME


def cdxj_fields(fields: dict[str, str]) -> dict[str, str]:
    """``fields`` as pywb's indexer writes them: no status on a revisit, no empty value."""
    revisit = is_revisit(fields.get("mime", ""))
    return {name: value for name, value in fields.items()
            if value and value != "-" and not (revisit and name == "status")}


def cdxj_line(key: str, timestamp: str, fields: dict[str, str]) -> str:
    """``urlkey timestamp {json}`` with ``fields`` as pywb writes them (:func:`cdxj_fields`)."""
    return f"{key} {timestamp} {json.dumps(cdxj_fields(fields))}\n"


def write_cdxj(path: Path, entries: Iterable[CdxjEntry | str], presorted: bool = False) -> None:
    """Write entries (or their lines, ``CdxjEntry.to_line``) sorted by (SURT, timestamp) as
    pywb expects (``presorted``: lines already in that order, streamed as they come). Line by
    line: an index of 100,000 lines joined would be 30 MB twice over."""
    lines = (entry if isinstance(entry, str) else entry.to_line() for entry in entries)
    if not presorted:
        lines = iter(sorted(lines))
    with path.open("w", encoding="utf-8") as out:
        out.writelines(lines)
