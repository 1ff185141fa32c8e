"""``newsarchive extract``: article metadata and text of HTML files, one JSON line each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from scheduler.cli.common import fail

EXTRACT_FIELDS = ("url", "title", "authors", "published", "modified", "language",
                  "description", "site_name", "canonical_url", "text")


def extract(
    files: Annotated[list[Path] | None, typer.Argument(help="HTML files.")] = None,
    url: Annotated[str | None, typer.Option(help="Original URL of the file(s).")] = None,
    batch: Annotated[Path | None, typer.Option(help='JSON lines: {"file": ..., "url": ...}')]
    = None,
) -> None:
    """Extract article metadata and text from HTML files; one JSON line per file."""
    from crawler.extraction import extract_article

    jobs: list[tuple[str, str | None]] = [(str(f), url) for f in files or []]
    if batch is not None:
        try:
            lines = batch.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise fail(f"cannot read --batch {batch}: {exc.strerror}", 2) from None
        except UnicodeDecodeError:
            raise fail(f"--batch {batch} is not a UTF-8 text file: give JSON lines "
                       '({"file": PATH, "url": URL} on each line)', 2) from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                jobs.append((str(item["file"]), item.get("url")))
            except (json.JSONDecodeError, KeyError, TypeError):
                raise fail(f'{batch}:{number}: expected {{"file": PATH, "url": URL}}, '
                           f"got {line[:80]!r}", 2) from None
    if not jobs:
        raise fail("give HTML files or --batch LIST.jsonl", 2)
    failed = 0
    for name, page_url in jobs:
        result: dict[str, Any] = {"file": name} | dict.fromkeys(EXTRACT_FIELDS)
        result.update(url=page_url, authors=[], text="")
        try:
            article = extract_article(Path(name).read_bytes(), page_url or "")
        except OSError as exc:
            failed += 1
            result["error"] = f"cannot read {name}: {exc.strerror}"
        else:
            if article is None:
                result["error"] = "no article text found"
            else:
                data = article.to_dict()
                result.update({k: data[k] for k in EXTRACT_FIELDS if k != "url"})
                result["url"] = page_url or data["url"] or None
        print(json.dumps(result, ensure_ascii=False), flush=True)
    if failed:
        raise typer.Exit(1)
