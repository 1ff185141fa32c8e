"""``newsarchive versions URL`` (an article's history) and ``newsarchive diff URL`` (what
changed between two of its versions, coloured)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from archive.history import content_of, readers, versions_of
from archive.models import ArticleVersion
from archive.snapshot import normalize_timestamp
from archive.versions import Content, diff_body, inline_paragraph
from scheduler.cli.common import err, fail, open_catalog, out
from scheduler.views import VersionOut, VersionsOut


def versions(
    url: Annotated[str, typer.Argument(help="The article's URL (or its canonical URL).")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """An article's versions, oldest first, with what changed in each."""
    with open_catalog().session() as session:
        rows = [VersionOut.from_version(v) for v in versions_of(session, url)]
    if not rows:
        raise fail(f"no versions of {url}: not an archived article (see `newsarchive "
                   "articles`, `newsarchive captures URL`)", 1)
    if as_json:
        print(json.dumps(VersionsOut(url=url, versions=rows).model_dump(), indent=2,
                         ensure_ascii=False))
        return
    table = Table()
    for name in ("#", "captured", "title", "changes", "significance", "stealth"):
        table.add_column(name, no_wrap=name not in ("title", "changes"))
    for row in rows:
        kinds = (", ".join(dict.fromkeys(c["kind"] for c in row.changes))
                 or ("first capture" if row.number == 1 else "back, saying the same"))
        table.add_row(str(row.number), _when(row.timestamp), escape(row.title or ""),
                      kinds, f"{row.significance:.2f}" if row.number > 1 else "",
                      "[yellow]yes[/]" if row.stealth else "")
    out.print(table)


def diff(
    url: Annotated[str, typer.Argument(help="The article's URL (or its canonical URL).")],
    from_: Annotated[str | None, typer.Option(
        "--from", help="The version current at this time (YYYYMMDDhhmmss, any prefix, or ISO "
        "8601); default: the one before --to.")] = None,
    to: Annotated[str | None, typer.Option(
        help="The version current at this time; default: the latest.")] = None,
) -> None:
    """What changed in an article between two versions: headline, byline, dates, body
    (paragraph by paragraph, the changed words of edited sentences marked [-old-]{+new+})."""
    bounds = {}
    for name, value in (("--from", from_), ("--to", to)):
        if value is not None:
            try:
                bounds[name] = normalize_timestamp(value)
            except ValueError as exc:
                raise fail(f"{name}: {exc}", 2) from None
    with open_catalog().session() as session:
        history = versions_of(session, url)
        if not history:
            raise fail(f"no versions of {url}: not an archived article (see `newsarchive "
                       "articles`)", 1)
        new = _current(history, bounds.get("--to"), "--to")
        old = (_current(history, bounds["--from"], "--from") if "--from" in bounds
               else history[max(0, history.index(new) - 1)])
        if old.number > new.number:
            old, new = new, old
        if old is new:
            err.print(f"only one version ({_when(new.capture.timestamp)}): nothing to compare")
            return
        before, after = content_of(old), content_of(new)
        out.print(f"[bold]{escape(url)}[/]: version {old.number} "
                  f"({_when(old.capture.timestamp)}) → {new.number} "
                  f"({_when(new.capture.timestamp)})")
        read_by = readers(old, new)
        if read_by:
            out.print(f"[yellow]read by two extractors ({escape(read_by[0])}, then "
                      f"{escape(read_by[1])}): some differences may be the newer one's "
                      "reading, not the outlet's edit; `newsarchive reextract` reads the "
                      "older captures again[/]")
    _print_diff(before, after)


def _when(timestamp: str) -> str:
    t = timestamp
    return f"{t[:4]}-{t[4:6]}-{t[6:8]} {t[8:10]}:{t[10:12]}:{t[12:14]}"


def _current(history: list[ArticleVersion], at: str | None, name: str) -> ArticleVersion:
    """The version current at ``at`` (the latest at or before it); the latest when None."""
    if at is None:
        return history[-1]
    earlier = [v for v in history if v.capture.timestamp <= at]
    if not earlier:
        raise fail(f"{name}: no version at or before {_when(at)}; the first is from "
                   f"{_when(history[0].capture.timestamp)}", 2)
    return earlier[-1]


def _print_diff(before: Content, after: Content) -> None:
    for label, old, new in (("headline", before.title, after.title),
                            ("byline", ", ".join(before.authors), ", ".join(after.authors)),
                            ("published", before.published, after.published),
                            ("modified", before.modified, after.modified)):
        if old != new:
            out.print(f"[bold]{label}[/]: [red]- {escape(old or '(none)')}[/]")
            out.print(f"{' ' * len(label)}  [green]+ {escape(new or '(none)')}[/]")
    out.print()
    for part in diff_body(before, after):
        if part.op == "equal":
            out.print(f"[dim]  {escape(part.new)}[/]")
        elif part.op == "removed":
            out.print(f"[red]- {escape(part.old)}[/]")
        elif part.op == "added":
            out.print(f"[green]+ {escape(part.new)}[/]")
        else:
            marks = {"equal": "{}", "removed": "[red][-{}-][/]", "added": "[green]{{+{}+}}[/]"}
            out.print("~ " + " ".join(marks[op].format(escape(text))
                                      for op, text in inline_paragraph(part)))
