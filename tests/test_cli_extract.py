"""`newsarchive extract`: JSON lines for files and batches, clear errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import Archive

FIXTURES = Path(__file__).parent / "fixtures" / "extraction"
FIELDS = ["file", "url", "title", "authors", "published", "modified", "language",
          "description", "site_name", "canonical_url", "text"]


def test_extract_files_prints_one_json_line_per_file(archive: Archive) -> None:
    files = [FIXTURES / "courrier_greve_fr.html", FIXTURES / "northfield_two_authors.html"]
    result = archive.cli("extract", *map(str, files), "--url", "https://example.org/a")
    lines = [json.loads(line) for line in result.text.splitlines()]
    assert [line["file"] for line in lines] == [str(f) for f in files]
    assert all(list(line)[:len(FIELDS)] == FIELDS for line in lines)
    french, two = lines
    assert french["language"] == "fr" and french["url"] == "https://example.org/a"
    assert isinstance(two["authors"], list) and len(two["authors"]) == 2
    assert two["published"][:4].isdigit()


def test_extract_batch_and_bad_lines(archive: Archive, tmp_path: Path) -> None:
    batch = tmp_path / "list.jsonl"
    batch.write_text(
        json.dumps({"file": str(FIXTURES / "valley_jsonld_date_only.html"),
                    "url": "https://valley.example/news/1"}) + "\n"
        + json.dumps({"file": str(tmp_path / "missing.html"), "url": "https://x.example/"})
        + "\n", encoding="utf-8")
    result = archive.cli("extract", "--batch", str(batch), expect=1)
    good, missing = (json.loads(line) for line in result.text.splitlines())
    assert good["url"] == "https://valley.example/news/1" and good["title"]
    assert missing["error"].startswith("cannot read") and missing["title"] is None

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"file": "a.html"}\nnot json\n', encoding="utf-8")
    bad = archive.cli("extract", "--batch", str(broken), expect=2)
    assert "broken.jsonl:2" in bad.stderr and "expected" in bad.stderr
    assert bad.stdout == b"", "nothing is printed before the input is validated"


def test_extract_non_html_reports_no_article(archive: Archive, tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n%%EOF\n")
    line = json.loads(archive.cli("extract", str(pdf)).text)
    assert line["error"] == "no article text found" and line["text"] == ""


def test_scrapy_crawl_news_works_inside_the_project(archive: Archive, demo_site) -> None:
    """(The spider skips a URL it cannot request, as it would a feed's ftp:// entry: the CLI
    and the API refuse those before any crawl.)"""
    import os
    import subprocess
    import sys

    env = {**os.environ, **archive.env}
    root = Path(__file__).parent.parent
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "news", "-a",
         f"urls={demo_site.url}/world/2026/11/03/harbour-bridge-reopens.html "
         "ftp://127.0.0.1/file.txt", "-a", "depth=0",
         "-s", "LOG_LEVEL=WARNING"],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(archive.warc_paths()) == 1
    assert ("ftp://127.0.0.1/file.txt: not an http(s) URL (scheme 'ftp'); skipped"
            in proc.stderr), proc.stderr[-3000:]
