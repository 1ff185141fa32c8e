"""Child-process entry point: ``python -m crawler.job JOB_ID`` runs one ledger job.

The service spawns one of these per crawl (like scrapyd): isolation, a fresh reactor, memory
returned on exit. SIGTERM stops the crawl gracefully (Scrapy closes the spider, the WARC is
closed, indexed and stored); the ledger row gets the outcome.
"""

from __future__ import annotations

import argparse
import json
import sys

from crawler.startup import quick_imports

with quick_imports():
    from sqlalchemy import select

    from archive.catalog import Catalog
    from archive.models import CrawlJob
    from crawler.config import archive_settings
    from crawler.overrides import OverrideError, parse_overrides
    from crawler.runner import CrawlSpec, crawl_settings, run_crawl


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("job_id", type=int)
    parser.add_argument("--setting", "-s", action="append", default=[],
                        help="Scrapy setting override NAME=VALUE (repeatable)")
    args = parser.parse_args(argv)
    try:
        overrides = parse_overrides(args.setting)
    except OverrideError as exc:
        print(exc, file=sys.stderr)
        return 2
    catalog = Catalog(archive_settings(crawl_settings(overrides)).database_url)
    with catalog.session() as session:
        spec = session.scalar(select(CrawlJob.spec).where(CrawlJob.id == args.job_id))
    catalog.dispose()
    if spec is None:
        print(f"job {args.job_id} is not in the catalog", file=sys.stderr)
        return 2
    summary = run_crawl(CrawlSpec.from_dict(spec), overrides, job_id=args.job_id)
    print(json.dumps({"job_id": summary.job_id, "status": summary.status}))
    return 0 if summary.status == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
