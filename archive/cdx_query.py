"""CDX server queries over the catalog, with the parameters and semantics of pywb's CDX API.

A query selects captures by a SURT key range (``exact``/``prefix``/``host``/``domain``, or the
``example.com/*`` and ``*.example.com`` wildcards), clamps them to ``from``/``to``, filters
them, orders them (SURT key then time; ``reverse``; or nearest to ``closest`` first), cuts
them at ``limit`` and formats each as a ``cdxj``, ``json`` or classic ``text`` line.

The key range, the time range, the order, positive exact filters and the limit run in SQL
(the ``(surt, timestamp)`` index; keyset pages of rows, each in its own short session);
the other filters are applied to the rows as they stream. Behaviour follows pywb's
``CDXQuery``, ``calc_search_range`` and ``cdxops`` (a ``~`` filter is ``re.match``,
anchored at the start of the value, as in pywb).
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, false, or_, select, tuple_
from sqlalchemy.orm import Session
from warcio.timeutils import (
    PAD_14_DOWN,
    PAD_14_UP,
    datetime_to_timestamp,
    pad_timestamp,
    timestamp_to_datetime,
    timestamp_to_sec,
)

from archive.cdxj import REVISIT_MIME, cdxj_fields, cdxj_line, surt_key
from archive.models import Capture, WarcFile

FIELDS = ("urlkey", "timestamp", "url", "mime", "status", "digest", "length", "offset",
          "filename")
CDX11_FIELDS = ("urlkey", "timestamp", "url", "mime", "status", "digest", "redirect",
                "robotflags", "length", "offset", "filename")
# pywb's CDXObject.CDX_ALT_FIELDS, accepted in filters (without "s": pywb maps it to length
# and the Wayback CDX server to the status, so it is refused as unknown rather than guessed)
FIELD_ALIASES = {"original": "url", "u": "url", "statuscode": "status",
                 "mimetype": "mime", "m": "mime", "l": "length", "o": "offset", "d": "digest",
                 "t": "timestamp", "k": "urlkey", "f": "filename"}
MATCH_TYPES = ("exact", "prefix", "host", "domain")
OUTPUTS = {"cdxj": "text/x-cdxj", "json": "text/x-ndjson", "text": "text/plain"}
SORTS = ("reverse", "closest")
PARAMS = ("url", "matchType", "from", "to", "limit", "sort", "closest", "filter", "fl",
          "output")

FIRST_PAGE = 500  # rows per SQL page, doubled for each further page up to MAX_PAGE
MAX_PAGE = 20_000

Row = dict[str, str]
SessionFactory = Callable[[], AbstractContextManager[Session]]


class CdxQueryError(ValueError):
    """A parameter is malformed or unsupported; ``param`` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


# -- parameters ---------------------------------------------------------------------------


def search_range(url: str, match_type: str) -> tuple[str, str]:
    """``[start, end)`` of SURT keys for ``url`` and ``match_type`` (pywb's
    ``calc_search_range`` for SURT-ordered indexes). A URL without a scheme is read as
    ``http://`` (else ``host:port/…`` would not be taken for a host)."""
    key = surt_key(url if "://" in url else f"http://{url}")
    if match_type == "exact":
        return key, key + "!"
    if match_type == "prefix":
        if (url.endswith("/") and not key.endswith("/")) or (
                url.endswith("?") and not key.endswith("?")):
            key += url[-1]
        return key, key[:-1] + chr(ord(key[-1]) + 1)
    host = key.split(")/")[0]
    if match_type == "host":
        return host + ")/", host + "*"
    return (host + "," if "," not in host else host + ")/"), host + "-"


def match_clause(url: str, match: str) -> ColumnElement[bool]:
    """The SURT key range of ``url`` for ``match``, as the CDX API reads it (an index range
    scan on ``ix_captures_surt_timestamp``, not a LIKE)."""
    start, end = search_range(url, match)
    if match == "exact":
        return Capture.surt == start
    return and_(Capture.surt >= start, Capture.surt < end)


def _timestamp(param: str, value: str) -> str:
    if not re.fullmatch(r"\d{1,14}", value):
        raise CdxQueryError(param, f"{param}={value!r} is not a timestamp: use 1 to 14 digits "
                                   "(YYYYMMDDhhmmss or a prefix of it, e.g. 2026 or 20261103)")
    return value


def _field_name(param: str, name: str) -> str:
    canonical = FIELD_ALIASES.get(name, name)
    if canonical not in FIELDS:
        raise CdxQueryError(param, f"{param}: unknown field {name!r}; fields are "
                                   f"{', '.join(FIELDS)}")
    return canonical


@dataclass(frozen=True)
class CdxFilter:
    """``[!][=|~]field:value``: contains (no modifier), ``=`` exact, ``~`` regex from the
    start of the value; ``!`` negates. Without ``field:`` it applies to the whole CDXJ line."""

    field: str  # "" = the whole line
    value: str
    mode: Literal["contains", "exact", "regex"]
    invert: bool
    pattern: re.Pattern[str] | None = None

    @classmethod
    def parse(cls, text: str) -> CdxFilter:
        spec = text
        invert = spec.startswith("!")
        spec = spec.removeprefix("!")
        mode: Literal["contains", "exact", "regex"] = "contains"
        if spec[:1] in ("=", "~"):
            mode = "exact" if spec[0] == "=" else "regex"
            spec = spec[1:]
        name, sep, value = spec.partition(":")
        if not sep:
            name, value = "", spec
        elif not name:
            raise CdxQueryError("filter", f"filter={text!r} has no field name before ':'; "
                                          "use [!][=|~]field:value, e.g. =status:200")
        else:
            name = _field_name("filter", name)
        pattern = None
        if mode == "regex":
            try:
                pattern = re.compile(value)
            except re.error as exc:
                raise CdxQueryError("filter", f"filter={text!r}: {value!r} is not a valid "
                                              f"regular expression ({exc})") from None
        return cls(name, value, mode, invert, pattern)

    def matches(self, row: Row) -> bool:
        value = row.get(self.field, "") if self.field else _cdxj(row).rstrip("\n")
        if self.mode == "exact":
            hit = value == self.value
        elif self.mode == "regex":
            hit = self.pattern is not None and self.pattern.match(value) is not None
        else:
            hit = self.value in value
        return hit != self.invert

    def sql(self) -> ColumnElement[bool] | None:
        """The same test in SQL (exact and positive filters on a field), else None."""
        if self.invert or self.mode != "exact" or not self.field:
            return None
        value = self.value
        if not value and self.field != "status":  # a missing value is "" (Python decides)
            return None
        if self.field == "status":  # a revisit has no status: "" is its value, as in pywb
            if not value:
                return Capture.record_type == "revisit"
            return and_(Capture.status == int(value), Capture.record_type != "revisit") \
                if value.isdigit() and str(int(value)) == value else false()
        numeric = {"length": Capture.length, "offset": Capture.offset}
        if self.field in numeric:  # "0200" matches no row: values are compared as text
            return (numeric[self.field] == int(value) if value.isdigit()
                    and str(int(value)) == value else false())
        if self.field == "mime":
            return (Capture.record_type == "revisit" if value == REVISIT_MIME
                    else and_(Capture.mime == value, Capture.record_type != "revisit"))
        if self.field == "digest":
            return Capture.payload_digest.in_([value, "sha1:" + value])
        columns = {"urlkey": Capture.surt, "timestamp": Capture.timestamp, "url": Capture.url,
                   "filename": WarcFile.filename}
        return columns[self.field] == value


@dataclass(frozen=True)
class CdxQuery:
    url: str
    match_type: str
    start_key: str
    end_key: str
    from_ts: str | None = None  # padded to 14 digits
    to_ts: str | None = None
    limit: int | None = None
    reverse: bool = False
    closest: str | None = None  # 14 digits
    filters: tuple[CdxFilter, ...] = ()
    fields: tuple[str, ...] | None = None
    output: str = "cdxj"

    @classmethod
    def parse(cls, params: Iterable[tuple[str, str]]) -> CdxQuery:
        """Build a query from request parameters (repeatable ``filter``); raises
        :class:`CdxQueryError` naming the first bad parameter."""
        single: dict[str, str] = {}
        filters: list[str] = []
        for name, value in params:
            if name not in PARAMS:
                raise CdxQueryError(name, f"unsupported parameter {name!r}; this CDX API "
                                          f"accepts {', '.join(PARAMS)}")
            if name == "filter":
                filters.append(value)
            elif name in single:
                raise CdxQueryError(name, f"{name} is given more than once; only filter= "
                                          "may be repeated")
            else:
                single[name] = value
        return cls.build(single, filters)

    @classmethod
    def build(cls, params: Mapping[str, str], filters: Iterable[str] = ()) -> CdxQuery:
        """Build a query from single-valued parameters and the filter strings."""
        url = params.get("url")
        if not url:
            raise CdxQueryError("url", "url is required, e.g. url=example.com/page, "
                                       "url=example.com/* or url=*.example.com")
        match_type, url = _match_type(url, params.get("matchType"))
        start, end = search_range(url, match_type)
        from_ts, to_ts = params.get("from"), params.get("to")
        closest = params.get("closest")
        sort = params.get("sort")
        if sort is not None and sort not in SORTS:
            raise CdxQueryError("sort", f"sort={sort!r} is not supported; use sort=reverse or "
                                        "sort=closest with closest=TIMESTAMP")
        if sort == "closest" and not closest:
            raise CdxQueryError("closest", "sort=closest needs closest=TIMESTAMP "
                                           "(1 to 14 digits)")
        if sort == "reverse" and closest:
            raise CdxQueryError("sort", "sort=reverse and closest= contradict each other; "
                                        "give one of them")
        output = params.get("output") or "cdxj"
        if output not in OUTPUTS:
            raise CdxQueryError("output", f"output={output!r} is not supported; use "
                                          f"{', '.join(OUTPUTS)}")
        parsed = tuple(CdxFilter.parse(text) for text in filters)
        return cls(
            url=url, match_type=match_type, start_key=start, end_key=end,
            from_ts=pad_timestamp(_timestamp("from", from_ts), PAD_14_DOWN) if from_ts
            else None,
            to_ts=pad_timestamp(_timestamp("to", to_ts), PAD_14_UP) if to_ts else None,
            limit=_limit(params.get("limit")), reverse=sort == "reverse",
            closest=datetime_to_timestamp(timestamp_to_datetime(_timestamp("closest", closest)))
            if closest else None,
            filters=parsed, fields=_fields(params.get("fl")), output=output,
        )

    @property
    def media_type(self) -> str:
        return OUTPUTS[self.output]

    def format(self, row: Row) -> str:
        if self.output == "json":
            return json.dumps({name: row[name] for name in self.fields or FIELDS
                               if name in row}) + "\n"
        if self.output == "text":
            return " ".join(row.get(name, "-") for name in self.fields or CDX11_FIELDS) + "\n"
        return _cdxj(row, self.fields)


def _match_type(url: str, given: str | None) -> tuple[str, str]:
    """The match type and the URL without its wildcard (``*.host`` or trailing ``*``)."""
    implied = None
    if url.startswith("*."):
        implied, url = "domain", url[2:]
    elif url.endswith("*"):
        implied, url = "prefix", url[:-1]
    if "*" in url:
        raise CdxQueryError("url", f"url={url!r}: '*' is only accepted as a leading '*.' "
                                   "(domain) or a trailing '*' (prefix)")
    if not url:
        raise CdxQueryError("url", "url has nothing besides the wildcard")
    if given is not None and given not in MATCH_TYPES:
        raise CdxQueryError("matchType", f"matchType={given!r} is not supported; use "
                                         f"{', '.join(MATCH_TYPES)}")
    if implied and given and given != implied:
        raise CdxQueryError("matchType", f"the wildcard in url implies matchType={implied} "
                                         f"but matchType={given} was given; drop one")
    return implied or given or "exact", url


def _limit(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or int(value) < 1:
        raise CdxQueryError("limit", f"limit={value!r} is not a positive integer")
    return int(value)


def _fields(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    if not names:
        raise CdxQueryError("fl", f"fl={value!r} names no field; fields are "
                                  f"{', '.join(FIELDS)}")
    for name in names:
        if name not in FIELDS:
            raise CdxQueryError("fl", f"fl: unknown field {name!r}; fields are "
                                      f"{', '.join(FIELDS)}")
    return names


def _cdxj(row: Row, fields: Iterable[str] | None = None) -> str:
    """``urlkey timestamp {json}`` as pywb writes it; ``fields`` selects the JSON keys."""
    names = fields or FIELDS
    return cdxj_line(row["urlkey"], row["timestamp"], {
        name: row[name] for name in names if name in row and name not in ("urlkey", "timestamp")})


# -- execution ----------------------------------------------------------------------------

_COLUMNS = (Capture.id, Capture.surt, Capture.timestamp, Capture.url, Capture.mime,
            Capture.status, Capture.payload_digest, Capture.record_type, Capture.length,
            Capture.offset, WarcFile.filename)


def _row(record: Any) -> Row:
    """A capture as the line pywb's indexer writes for its record (a revisit has no status:
    archive.cdxj)."""
    return {"urlkey": record.surt, "timestamp": record.timestamp, **cdxj_fields({
        "url": record.url,
        "mime": REVISIT_MIME if record.record_type == "revisit" else record.mime,
        "status": str(record.status),
        "digest": (record.payload_digest or "").removeprefix("sha1:"),
        "length": str(record.length), "offset": str(record.offset),
        "filename": record.filename})}


def _base(query: CdxQuery) -> Select[Any]:
    stmt = select(*_COLUMNS).join(WarcFile, Capture.warc_file_id == WarcFile.id)
    if query.match_type == "exact":
        stmt = stmt.where(Capture.surt == query.start_key)
    else:
        stmt = stmt.where(Capture.surt >= query.start_key, Capture.surt < query.end_key)
    if query.from_ts:
        stmt = stmt.where(Capture.timestamp >= query.from_ts)
    if query.to_ts:
        stmt = stmt.where(Capture.timestamp <= query.to_ts)
    return stmt.where(*(c for c in (f.sql() for f in query.filters) if c is not None))


Page = Callable[[Any | None], Select[Any]]  # last row of the previous page → next statement


def _pages(sessions: SessionFactory, page: Page, wanted: int | None,
           exact_sql: bool) -> Iterator[Any]:
    """Rows of ``page`` statements in keyset pages, each read in its own short session."""
    size, last = FIRST_PAGE, None
    while True:
        batch = min(size, wanted) if wanted is not None and exact_sql else size
        with sessions() as session:
            records = session.execute(page(last).limit(batch)).all()
        yield from records
        if len(records) < batch:
            return
        last, size = records[-1], min(size * 2, MAX_PAGE)


def _ordered(query: CdxQuery, sessions: SessionFactory, exact_sql: bool) -> Iterator[Any]:
    """Rows by (SURT key, time, id), descending for ``sort=reverse``."""
    base = _base(query)
    columns = (Capture.surt, Capture.timestamp, Capture.id)
    order = tuple(c.desc() for c in columns) if query.reverse else columns
    key = tuple_(*columns)

    def page(last: Any | None) -> Select[Any]:
        stmt = base.order_by(*order)
        if last is None:
            return stmt
        bound = tuple_(last.surt, last.timestamp, last.id)
        return stmt.where(key < bound if query.reverse else key > bound)

    return _pages(sessions, page, query.limit, exact_sql)


def _closest(query: CdxQuery, sessions: SessionFactory, exact_sql: bool) -> Iterator[Any]:
    """Rows nearest to ``closest`` first; ties in pywb's order (key, then time)."""
    at = query.closest or ""
    base = _base(query)

    def before(last: Any | None) -> Select[Any]:
        stmt = base.where(Capture.timestamp <= at).order_by(
            Capture.timestamp.desc(), Capture.surt, Capture.id)
        if last is None:
            return stmt
        return stmt.where(or_(Capture.timestamp < last.timestamp, and_(
            Capture.timestamp == last.timestamp,
            tuple_(Capture.surt, Capture.id) > tuple_(last.surt, last.id))))

    def after(last: Any | None) -> Select[Any]:
        stmt = base.where(Capture.timestamp > at).order_by(
            Capture.timestamp, Capture.surt, Capture.id)
        if last is None:
            return stmt
        return stmt.where(tuple_(Capture.timestamp, Capture.surt, Capture.id)
                          > tuple_(last.timestamp, last.surt, last.id))

    target = timestamp_to_sec(at)
    return heapq.merge(_pages(sessions, before, query.limit, exact_sql),
                       _pages(sessions, after, query.limit, exact_sql),
                       key=lambda r: (abs(timestamp_to_sec(r.timestamp) - target), r.surt,
                                      r.timestamp, r.id))


def search(sessions: SessionFactory, query: CdxQuery) -> Iterator[Row]:
    """The matching captures as CDX rows (string values), in the query's order, streamed."""
    python_filters = [f for f in query.filters if f.sql() is None]
    exact_sql = not python_filters  # SQL alone decides which rows match: LIMIT goes there
    records = (_closest if query.closest else _ordered)(query, sessions, exact_sql)
    count = 0
    for record in records:
        row = _row(record)
        if python_filters and not all(f.matches(row) for f in python_filters):
            continue
        yield row
        count += 1
        if query.limit is not None and count >= query.limit:
            return


def lines(sessions: SessionFactory, query: CdxQuery, chunk_size: int = 64 * 1024
          ) -> Iterator[str]:
    """The response body of ``query`` (one line per capture) in chunks of about
    ``chunk_size`` characters, so a long answer is not sent a line at a time."""
    buffer: list[str] = []
    size = 0
    for row in search(sessions, query):
        line = query.format(row)
        buffer.append(line)
        size += len(line)
        if size >= chunk_size:
            yield "".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer)
