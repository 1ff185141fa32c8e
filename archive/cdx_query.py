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

Paging follows pywb's ZipNum index (``zipnum.py``): the lines of the key range are counted
in blocks of :data:`BLOCK_LINES`, a page is ``pageSize`` blocks (:data:`PAGE_BLOCKS` by
default), ``showNumPages`` answers ``{"pages", "pageSize", "blocks"}`` and a page past the
last is an error worded as pywb's. ``from``/``to``, filters, the order and ``limit`` apply
to the lines of the page, as in pywb. Blocks are counted from the first line of the query's
range (a ZipNum file counts them from its own start; we have no file); a page's bounds are
found with an index-only ``OFFSET`` on the range and its rows are read from there by key.
Resume keys follow the Internet Archive's CDX server (pywb has none): ``showResumeKey=true``
ends an answer cut by ``limit`` with an empty line and a key naming its last line;
``resumeKey=KEY`` continues after it. Unlike page numbers, a key stays exact while captures
are added.
"""

from __future__ import annotations

import heapq
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote_plus, unquote_plus

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, tuple_
from sqlalchemy.orm import Session
from warcio.timeutils import (
    PAD_14_DOWN,
    PAD_14_UP,
    datetime_to_timestamp,
    pad_timestamp,
    timestamp_to_datetime,
    timestamp_to_sec,
)

from archive.cdxj import NO_STATUS_RECORDS, REVISIT_MIME, cdxj_fields, cdxj_line, surt_key
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
          "output", "page", "pageSize", "showNumPages", "showPagedIndex", "showResumeKey",
          "resumeKey")
PAGING = ("page", "pageSize", "showNumPages", "showPagedIndex")

# Lines per block: those of the ZipNum indexes of the Internet Archive and Common Crawl, which
# clients assume (cdx_toolkit estimates a size as blocks x 3000 lines).
BLOCK_LINES = 3000
PAGE_BLOCKS = 10  # blocks per page unless pageSize= says: pywb's ZipNum DEFAULT_MAX_BLOCKS

FIRST_PAGE = 500  # rows per SQL page, doubled for each further page up to MAX_PAGE
MAX_PAGE = 20_000

Row = dict[str, str]
Position = tuple[str, str, int]  # (SURT key, timestamp, capture id): a line in index order
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
    ``http://``: the same key as pywb's ``surt.surt`` of the URL as given wherever that has
    a host; for ``name:port/…`` it has none (the name is taken for a scheme) and pywb finds
    nothing, we the host."""
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
        if self.field == "status":  # revisits and resources have none: "", as in pywb
            if not value:
                return Capture.record_type.in_(NO_STATUS_RECORDS)
            return and_(Capture.status == int(value),
                        Capture.record_type.not_in(NO_STATUS_RECORDS)) \
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
    page: int | None = None  # None: every line of the range, not a page of it
    page_blocks: int = PAGE_BLOCKS
    block_lines: int = BLOCK_LINES
    num_pages: bool = False
    paged_index: bool = False
    show_resume_key: bool = False
    resume_after: Position | None = None

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
        paging = _paging(params, closest)
        return cls(
            url=url, match_type=match_type, start_key=start, end_key=end,
            from_ts=pad_timestamp(_timestamp("from", from_ts), PAD_14_DOWN) if from_ts
            else None,
            to_ts=pad_timestamp(_timestamp("to", to_ts), PAD_14_UP) if to_ts else None,
            limit=_limit(params.get("limit")), reverse=sort == "reverse",
            closest=datetime_to_timestamp(timestamp_to_datetime(_timestamp("closest", closest)))
            if closest else None,
            filters=parsed, fields=_fields(params.get("fl")), output=output, **paging,
        )

    @property
    def page_lines(self) -> int:
        return self.page_blocks * self.block_lines

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


def _flag(value: str | None) -> bool:
    """A switch as pywb reads it (``to_bool``): absent, empty, 0, false, f, off are false."""
    return bool(value) and value.lower() not in ("0", "false", "f", "off")  # type: ignore[union-attr]


def _paging(params: Mapping[str, str], closest: str | None) -> dict[str, Any]:
    """The paging and resume parameters, as CdxQuery fields."""
    page, size = params.get("page"), params.get("pageSize")
    fields: dict[str, Any] = {
        "num_pages": _flag(params.get("showNumPages")),
        "paged_index": _flag(params.get("showPagedIndex")),
        "show_resume_key": _flag(params.get("showResumeKey")), "block_lines": BLOCK_LINES}
    if page is not None:
        if not page.isdigit():
            raise CdxQueryError("page", f"Invalid value for page= param: {page!r}; pages are "
                                        "numbered from 0 (showNumPages=true gives how many)")
        fields["page"] = int(page)
    if size is not None:
        if not size.isdigit() or int(size) < 1:
            raise CdxQueryError("pageSize", f"Invalid value for pageSize= param: {size!r}; "
                                            f"give a number of blocks of {BLOCK_LINES} lines "
                                            f"(default {PAGE_BLOCKS})")
        fields["page_blocks"] = int(size)
    paged = fields.get("page") is not None or size is not None or fields["num_pages"] \
        or fields["paged_index"]
    if paged and fields.get("page") is None:
        fields["page"] = 0  # as pywb's ZipNum index: a paged query reads page 0 by default
    key = params.get("resumeKey")
    if key is not None:
        fields["resume_after"] = _resume_position(key)
    resuming = fields["show_resume_key"] or key is not None
    if resuming and paged:
        raise CdxQueryError("resumeKey" if key is not None else "showResumeKey",
                            "resume keys and pages are two ways through one answer; use "
                            "showResumeKey/resumeKey or page/pageSize/showNumPages, not both")
    if resuming and closest:
        raise CdxQueryError("closest", "resume keys follow the index order; sort=closest "
                                       "has none to resume from (use limit alone)")
    return fields


def resume_key(position: Position) -> str:
    """The key of a line to resume after: its SURT key, timestamp and id, URL-encoded."""
    surt, timestamp, ident = position
    return quote_plus(f"{surt} {timestamp} {ident}")


def _resume_position(key: str) -> Position:
    parts = unquote_plus(key).rsplit(" ", 2)
    if len(parts) != 3 or not re.fullmatch(r"\d{14}", parts[1]) or not parts[2].isdigit():
        raise CdxQueryError("resumeKey", f"resumeKey={key!r} is not a key this server gave; "
                                         "pass the line after the empty line of an answer to "
                                         "showResumeKey=true as it is")
    return parts[0], parts[1], int(parts[2])


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
    """A capture as the line pywb's indexer writes for its record (a revisit and a resource,
    a screenshot or a rendered DOM, have no HTTP status: archive.cdxj)."""
    return {"urlkey": record.surt, "timestamp": record.timestamp, **cdxj_fields({
        "url": record.url,
        "mime": REVISIT_MIME if record.record_type == "revisit" else record.mime,
        "status": "" if record.record_type in NO_STATUS_RECORDS else str(record.status),
        "digest": (record.payload_digest or "").removeprefix("sha1:"),
        "length": str(record.length), "offset": str(record.offset),
        "filename": record.filename})}


_POSITION = (Capture.surt, Capture.timestamp, Capture.id)  # the index order of lines


def _in_range(query: CdxQuery) -> tuple[ColumnElement[bool], ...]:
    if query.match_type == "exact":
        return (Capture.surt == query.start_key,)
    return (Capture.surt >= query.start_key, Capture.surt < query.end_key)


@dataclass(frozen=True)
class _Bounds:
    """The part of the key range a query reads: a page ``[start, end)`` (positions in index
    order), or nothing at all (``empty``: page 0 of an empty range)."""

    start: Position | None = None
    end: Position | None = None
    empty: bool = False

    def clauses(self) -> list[ColumnElement[bool]]:
        if self.empty:
            return [false()]
        key = tuple_(*_POSITION)
        clauses = []
        if self.start is not None:
            clauses.append(key >= tuple_(*self.start))
        if self.end is not None:
            clauses.append(key < tuple_(*self.end))
        return clauses


def _line_at(sessions: SessionFactory, query: CdxQuery, index: int) -> Position | None:
    """The position of line ``index`` (from 0) of the key range: an index-only scan."""
    stmt = (select(*_POSITION).where(*_in_range(query)).order_by(*_POSITION)
            .offset(index).limit(1))
    with sessions() as session:
        row = session.execute(stmt).first()
    return None if row is None else (row.surt, row.timestamp, row.id)


def count_lines(sessions: SessionFactory, query: CdxQuery) -> int:
    """How many lines the key range holds (before from/to and filters, as pywb counts)."""
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Capture)
                              .where(*_in_range(query))) or 0


def page_info(sessions: SessionFactory, query: CdxQuery) -> dict[str, int]:
    """``showNumPages``: pages of ``pageSize`` blocks and the blocks of the key range, in
    pywb's words (``ZipNumIndexSource._page_info``); an empty range has 0 pages."""
    blocks = math.ceil(count_lines(sessions, query) / query.block_lines)
    return {"pages": math.ceil(blocks / query.page_blocks), "pageSize": query.page_blocks,
            "blocks": blocks}


def _bounds(sessions: SessionFactory, query: CdxQuery) -> _Bounds:
    """Where the query reads; a page past the last is the error pywb raises."""
    if query.page is None:
        return _Bounds()
    size = query.page_lines
    start = _line_at(sessions, query, query.page * size)
    if start is None and query.page > 0:
        last = max(page_info(sessions, query)["pages"], 1) - 1
        raise CdxQueryError("page", f"Page {query.page} invalid: First Page is 0, "
                                    f"Last Page is {last}")
    if start is None:
        return _Bounds(empty=True)
    return _Bounds(start, _line_at(sessions, query, (query.page + 1) * size))


def _base(query: CdxQuery, bounds: _Bounds) -> Select[Any]:
    stmt = select(*_COLUMNS).join(WarcFile, Capture.warc_file_id == WarcFile.id)
    stmt = stmt.where(*_in_range(query), *bounds.clauses())
    if query.from_ts:
        stmt = stmt.where(Capture.timestamp >= query.from_ts)
    if query.to_ts:
        stmt = stmt.where(Capture.timestamp <= query.to_ts)
    return stmt.where(*(c for c in (f.sql() for f in query.filters) if c is not None))


Page = Callable[[Position | None], Select[Any]]  # last line read → next statement


def _pages(sessions: SessionFactory, page: Page, wanted: int | None, exact_sql: bool,
           last: Position | None = None) -> Iterator[Any]:
    """Rows of ``page`` statements in keyset pages, each read in its own short session,
    after ``last`` when given."""
    size = FIRST_PAGE
    while True:
        batch = min(size, wanted) if wanted is not None and exact_sql else size
        with sessions() as session:
            records = session.execute(page(last).limit(batch)).all()
        yield from records
        if len(records) < batch:
            return
        end = records[-1]
        last, size = (end.surt, end.timestamp, end.id), min(size * 2, MAX_PAGE)


def _ordered(query: CdxQuery, sessions: SessionFactory, bounds: _Bounds, wanted: int | None,
             exact_sql: bool) -> Iterator[Any]:
    """Rows by (SURT key, time, id), descending for ``sort=reverse``; after the resume key."""
    base = _base(query, bounds)
    order = tuple(c.desc() for c in _POSITION) if query.reverse else _POSITION
    key = tuple_(*_POSITION)

    def page(last: Position | None) -> Select[Any]:
        stmt = base.order_by(*order)
        if last is None:
            return stmt
        return stmt.where(key < tuple_(*last) if query.reverse else key > tuple_(*last))

    return _pages(sessions, page, wanted, exact_sql, query.resume_after)


def _closest(query: CdxQuery, sessions: SessionFactory, bounds: _Bounds, wanted: int | None,
             exact_sql: bool) -> Iterator[Any]:
    """Rows nearest to ``closest`` first; ties in pywb's order (key, then time)."""
    at = query.closest or ""
    base = _base(query, bounds)

    def before(last: Position | None) -> Select[Any]:
        stmt = base.where(Capture.timestamp <= at).order_by(
            Capture.timestamp.desc(), Capture.surt, Capture.id)
        if last is None:
            return stmt
        surt, timestamp, ident = last
        return stmt.where(or_(Capture.timestamp < timestamp, and_(
            Capture.timestamp == timestamp,
            tuple_(Capture.surt, Capture.id) > tuple_(surt, ident))))

    def after(last: Position | None) -> Select[Any]:
        stmt = base.where(Capture.timestamp > at).order_by(
            Capture.timestamp, Capture.surt, Capture.id)
        if last is None:
            return stmt
        surt, timestamp, ident = last
        return stmt.where(tuple_(Capture.timestamp, Capture.surt, Capture.id)
                          > tuple_(timestamp, surt, ident))

    target = timestamp_to_sec(at)
    return heapq.merge(_pages(sessions, before, wanted, exact_sql),
                       _pages(sessions, after, wanted, exact_sql),
                       key=lambda r: (abs(timestamp_to_sec(r.timestamp) - target), r.surt,
                                      r.timestamp, r.id))


def _search(sessions: SessionFactory, query: CdxQuery, bounds: _Bounds, limit: int | None
            ) -> Iterator[tuple[Row, Position]]:
    """The matching captures as CDX rows and their positions, in the query's order."""
    python_filters = [f for f in query.filters if f.sql() is None]
    exact_sql = not python_filters  # SQL alone decides which rows match: LIMIT goes there
    records = (_closest if query.closest else _ordered)(query, sessions, bounds, limit,
                                                         exact_sql)
    count = 0
    for record in records:
        row = _row(record)
        if python_filters and not all(f.matches(row) for f in python_filters):
            continue
        yield row, (record.surt, record.timestamp, record.id)
        count += 1
        if limit is not None and count >= limit:
            return


def _answer(sessions: SessionFactory, query: CdxQuery, bounds: _Bounds) -> Iterator[str]:
    """The lines; with ``showResumeKey``, an answer cut by ``limit`` while more lines match
    ends with an empty line and the key of its last line (the Internet Archive's form)."""
    peek = query.show_resume_key and query.limit is not None
    limit = query.limit + 1 if peek and query.limit is not None else query.limit
    last: Position | None = None
    for count, (row, position) in enumerate(_search(sessions, query, bounds, limit), 1):
        if peek and count > (query.limit or 0) and last is not None:
            yield "\n" + resume_key(last) + "\n"
            return
        yield query.format(row)
        last = position


def _index_lines(sessions: SessionFactory, query: CdxQuery, bounds: _Bounds) -> Iterator[str]:
    """``showPagedIndex``: one line per block of the page, as pywb's secondary index lists
    them (``urlkey part offset length lineno``): the block's first key and time, ``catalog``,
    its first line's number in the range, its number of lines, its number."""
    numbered = (select(*_POSITION, func.row_number().over(order_by=_POSITION).label("n"))
                .where(*_in_range(query), *bounds.clauses()).subquery())
    starts = (select(numbered.c.surt, numbered.c.timestamp, numbered.c.n)
              .where((numbered.c.n - 1) % query.block_lines == 0).order_by(numbered.c.n))
    with sessions() as session:
        blocks = session.execute(starts).all()
        total = session.scalar(select(func.count()).select_from(numbered)) or 0
    first = (query.page or 0) * query.page_lines
    for block in blocks:
        index = {"urlkey": f"{block.surt} {block.timestamp}", "part": "catalog",
                 "offset": first + block.n - 1,
                 "length": min(query.block_lines, total - block.n + 1),
                 "lineno": (first + block.n - 1) // query.block_lines}
        yield (json.dumps(index) if query.output == "json"
               else "\t".join(str(value) for value in index.values())) + "\n"


def _chunks(parts: Iterable[str], chunk_size: int) -> Iterator[str]:
    buffer: list[str] = []
    size = 0
    for line in parts:
        buffer.append(line)
        size += len(line)
        if size >= chunk_size:
            yield "".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer)


def lines(sessions: SessionFactory, query: CdxQuery, chunk_size: int = 64 * 1024
          ) -> Iterator[str]:
    """The response body of ``query`` (one line per capture) in chunks of about
    ``chunk_size`` characters, so a long answer is not sent a line at a time. A page past
    the last raises :class:`CdxQueryError` here, before the answer starts."""
    if query.num_pages:  # pywb answers one JSON object whatever the output
        return iter([json.dumps(page_info(sessions, query))])
    bounds = _bounds(sessions, query)
    if query.paged_index:
        return _chunks(_index_lines(sessions, query, bounds), chunk_size)
    return _chunks(_answer(sessions, query, bounds), chunk_size)
