"""A Scrapy spider that fetches a list of URLs and does nothing with the responses, run as a
script by any interpreter that has Scrapy: the project's (the no-op baseline) or a peer's
virtualenv (scrapy-webarchive, whose ``WaczExporter`` extension archives every exchange).

    python url_list_spider.py URLS.txt RESULT.json SETTINGS.json

``SETTINGS.json`` holds the Scrapy settings of the crawl (concurrency, extensions, ...);
``RESULT.json`` gets the crawl's Scrapy stats. With ``--imports-only`` it imports what a
crawl imports and stops (the start-up cost). Only Scrapy and the standard library are
imported: the script must run in virtualenvs that do not have the project.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import CrawlerProcess


class UrlListSpider(Spider):
    name = "urllist"

    def __init__(self, urls: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls = urls

    async def start(self) -> Any:  # Scrapy >= 2.13
        for request in self.start_requests():
            yield request

    def start_requests(self) -> Any:  # Scrapy 2.11 (scrapy-webarchive's)
        for url in self.urls:
            yield Request(url, callback=self.parse)

    def parse(self, response: Any) -> None:
        return None


def main(argv: list[str]) -> None:
    if argv[:1] == ["--imports-only"]:
        return
    url_file, result_file, settings_file = (Path(a) for a in argv)
    urls = url_file.read_text().split()
    process = CrawlerProcess(json.loads(settings_file.read_text()))
    crawler = process.create_crawler(UrlListSpider)
    process.crawl(crawler, urls=urls)
    process.start()
    stats = {k: (v.isoformat() if hasattr(v, "isoformat") else v)
             for k, v in crawler.stats.get_stats().items()}
    result_file.write_text(json.dumps({"stats": stats}, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
