"""Scrapy settings of the newsarchive crawler (the module ``scrapy.cfg`` names).

Scrapy's own settings are set here. Every ``NEWSARCHIVE_*`` setting, and the few Scrapy
settings they set (``USER_AGENT``, ``DOWNLOAD_TIMEOUT``, ``DOWNLOAD_MAXSIZE``,
``LOG_LEVEL``), is defined once in :class:`crawler.config.CrawlSettings` and taken from the
environment at the end of this module, so ``scrapy crawl news -a urls=...`` and
``newsarchive crawl`` agree.
"""

from scrapy.settings import default_settings

from archive.encoding import ACCEPT_ENCODING
from crawler.config import CrawlSettings

BOT_NAME = "newsarchive"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# -- politeness ------------------------------------------------------------------------
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024
RETRY_TIMES = 2
RETRY_HTTP_CODES = [502, 503, 504, 522, 524, 408, 429]  # a 500 is archived as it is
REDIRECT_MAX_TIMES = 10
TELNETCONSOLE_ENABLED = False
# Nor Scrapy's remote control (2.19: an HTTP server in the crawl process that runs Python code
# sent to it, its token in a file under the user's profile). Left out of the base extensions
# too: Scrapy imports every extension it lists, even a disabled one, and this one imports
# aiohttp (~0.2 s of every crawl's start).
REMOTE_CONTROL_ENABLED = False
EXTENSIONS_BASE = {name: order for name, order in default_settings.EXTENSIONS_BASE.items()
                   if name != "scrapy.extensions.remote_control.RemoteControl"}
# The spider yields requests, never items: Scrapy's default of 100 concurrent output tasks per
# response (scrapy#5182) only adds asyncio tasks and garbage collections, a page's share of
# which grows with its requisites (benchmarks/requisites.py: 0.40x → 0.48x).
CONCURRENT_ITEMS = 1
# The spider's callbacks are generators that return nothing: Scrapy would re-parse their
# source on every cache miss to warn about a return value.
WARN_ON_GENERATOR_RETURN_VALUE = False
# Only the codings every archive reader decodes (archive.encoding), whatever decoders Scrapy
# happens to find installed.
DEFAULT_REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en",
    "Accept-Encoding": ACCEPT_ENCODING,
}

# Within one priority (crawler.frontier.priority), first found, first fetched: a listing's
# links in their order (Scrapy's default is last in, first out).
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"
# Scrapy's, holding each domain to its concurrency when requests reach it together
DOWNLOADER = "crawler.downloader.Downloader"

# -- archiving components ----------------------------------------------------------------
DOWNLOAD_HANDLERS = {
    "http": "crawler.download_handler.ArchivalDownloadHandler",
    "https": "crawler.download_handler.ArchivalDownloadHandler",
}
TWISTED_DNS_RESOLVER = "crawler.resolver.GuardedResolver"
# the page budget, spent when a page is sent (crawler.frontier.budget); conditional requests
# (see crawler.conditional for the position); then, after Scrapy's own
# (robots.txt, headers, retries, cookies, stats), browser capture renders the pages
# crawler.render sends to the browser, whose requests come back through all of them.
DOWNLOADER_MIDDLEWARES = {
    "crawler.frontier.budget.BudgetGate": 110,  # after robots.txt (100): a refused page is free
    "crawler.conditional.ConditionalRequests": 650,
    "crawler.browser.BrowserCapture": 950,
}
EXTENSIONS = {
    "crawler.extensions.warc_archiver.WarcArchiver": 100,
    "crawler.extensions.article_extractor.ArticleExtractor": 110,
    "crawler.extensions.job_progress.JobProgress": 120,
    "crawler.extensions.heap_freeze.HeapFreeze": 130,
    "crawler.extensions.memory_trim.MemoryTrim": 140,
}

# -- a crawl's own parameters (set per crawl by the runner from the job's spec; not
#    environment settings) ------------------------------------------------------------------
NEWSARCHIVE_JOB_ID = None  # the crawl_jobs row the captures belong to
NEWSARCHIVE_EXTRACT = True  # run article extraction on HTML pages
NEWSARCHIVE_MAX_DEPTH = 2  # link hops from the start URLs; 0 fetches only those
NEWSARCHIVE_MAX_PAGES = 1000  # pages scheduled per crawl (robots.txt not counted)
NEWSARCHIVE_ARCHIVE = True  # False: a plain crawl that archives nothing (benchmarks)

# -- NEWSARCHIVE_* (crawler.config.CrawlSettings) ----------------------------------------------
globals().update(CrawlSettings.load().scrapy_settings())
