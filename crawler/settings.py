"""Scrapy settings for the newsarchive crawler: every default in one place.

``NEWSARCHIVE_*`` settings take their default from the environment variable of the same
name, so ``scrapy crawl news -a urls=...`` and ``newsarchive crawl`` agree.
"""

import os

BOT_NAME = "newsarchive"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# -- politeness ------------------------------------------------------------------------
USER_AGENT = os.environ.get(
    "NEWSARCHIVE_USER_AGENT",
    "newsarchive/0.1 (+https://github.com/newsarchive/newsarchive; news archiving crawler)",
)
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
DOWNLOAD_TIMEOUT = float(os.environ.get("NEWSARCHIVE_DOWNLOAD_TIMEOUT", 30))
# Larger bodies are archived truncated at this size, with WARC-Truncated: length.
DOWNLOAD_MAXSIZE = int(os.environ.get("NEWSARCHIVE_DOWNLOAD_MAXSIZE", 32 * 1024 * 1024))
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024
RETRY_TIMES = 2
RETRY_HTTP_CODES = [502, 503, 504, 522, 524, 408, 429]  # a 500 is archived as it is
REDIRECT_MAX_TIMES = 10
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = os.environ.get("NEWSARCHIVE_LOG_LEVEL", "INFO")

# -- archiving components ----------------------------------------------------------------
DOWNLOAD_HANDLERS = {
    "http": "crawler.download_handler.ArchivalDownloadHandler",
    "https": "crawler.download_handler.ArchivalDownloadHandler",
}
TWISTED_DNS_RESOLVER = "crawler.resolver.GuardedResolver"
EXTENSIONS = {
    "crawler.extensions.warc_archiver.WarcArchiver": 100,
    "crawler.extensions.article_extractor.ArticleExtractor": 110,
    "crawler.extensions.job_progress.JobProgress": 120,
    "crawler.extensions.heap_freeze.HeapFreeze": 130,
}

# -- newsarchive ---------------------------------------------------------------------------
# Freeze the start-up heap once the engine runs (fewer, shorter full GC passes; see
# crawler.extensions.heap_freeze).
NEWSARCHIVE_GC_FREEZE = True
NEWSARCHIVE_DATA_DIR = os.environ.get("NEWSARCHIVE_DATA_DIR", "data")
NEWSARCHIVE_DATABASE_URL = os.environ.get("NEWSARCHIVE_DATABASE_URL")  # default: SQLite
NEWSARCHIVE_STORAGE_URL = os.environ.get("NEWSARCHIVE_STORAGE_URL")  # default: file://
NEWSARCHIVE_SPOOL_DIR = os.environ.get("NEWSARCHIVE_SPOOL_DIR")  # default: DATA_DIR/spool
# Comma-separated CIDR networks that may be crawled although not public (SSRF guard).
NEWSARCHIVE_ALLOWED_NETWORKS = os.environ.get("NEWSARCHIVE_ALLOWED_NETWORKS", "")
NEWSARCHIVE_JOB_ID = None  # crawl_jobs row the captures belong to
NEWSARCHIVE_ARCHIVE = True  # False: plain crawl, nothing archived
NEWSARCHIVE_WARC_PREFIX = os.environ.get("NEWSARCHIVE_WARC_PREFIX", "newsarchive")
NEWSARCHIVE_WARC_MAX_SIZE = int(os.environ.get("NEWSARCHIVE_WARC_MAX_SIZE", 1024**3))
NEWSARCHIVE_WARC_MAX_AGE = float(os.environ.get("NEWSARCHIVE_WARC_MAX_AGE", 900))  # seconds
# Deflate level of each record's gzip member (9 is several times slower than 6). Records whose
# payload is already compressed (Content-Encoding, JPEG, PDF...) use stored blocks instead.
NEWSARCHIVE_WARC_GZIP_LEVEL = 6
NEWSARCHIVE_CATALOG_FLUSH_INTERVAL = 1.0  # seconds between catalog commits during a crawl
NEWSARCHIVE_PROGRESS_INTERVAL = 2.0  # seconds between live stats updates of the job row
NEWSARCHIVE_EXTRACT = True  # run article extraction on HTML pages
NEWSARCHIVE_EXTRACT_WORKERS = int(os.environ.get("NEWSARCHIVE_EXTRACT_WORKERS", 1))
NEWSARCHIVE_EXTRACT_BACKLOG = 200  # pages waiting for extraction before the crawl pauses
NEWSARCHIVE_MAX_DEPTH = 2  # link hops from the start URLs; 0 fetches only those
NEWSARCHIVE_MAX_PAGES = 1000  # pages scheduled per crawl (robots.txt not counted)

# -- discovery and incremental crawls (crawler/discovery.py, crawler/seen.py) ---------------
# Scheduled/--site crawls skip articles the site's earlier crawls archived (seen_urls table);
# hubs (start pages, sections, feeds, sitemaps) are fetched on every run. False: fetch all.
NEWSARCHIVE_INCREMENTAL = True
# Site crawls skip sitemap entries whose news:publication_date (else lastmod), and feed
# items whose pubDate/published/updated, is older than this, unless the site sets its own
# horizon ("": none). Crawls of URLs given by hand use no horizon.
NEWSARCHIVE_SITEMAP_HORIZON = os.environ.get("NEWSARCHIVE_SITEMAP_HORIZON", "2d")
# At most this many URLs per crawl of one calendar/pagination family: non-article URLs that
# differ only in their digits (/calendar/2026/11/24, /world/?page=7), on top of the depth.
NEWSARCHIVE_TRAP_MAX_PER_PATTERN = int(os.environ.get("NEWSARCHIVE_TRAP_MAX_PER_PATTERN", 10))
# An unchanged payload (same digest and status as the URL's latest capture) is written as a
# revisit record instead of a second copy. False: always a full response record.
NEWSARCHIVE_REVISITS = True
