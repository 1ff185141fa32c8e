"""What a crawl fetches, and in which order: the ``news`` spider's request filters, each a
small class with one rule, tested alone (as Scrapy's own ``DepthMiddleware`` and
``OffsiteMiddleware`` are).

- :mod:`.scope`: which links are followed (the crawl's sites, ``allow``/``deny``);
- :mod:`.traps`: at most so many URLs of one calendar/pagination/filter family, until the
  family is shown to be articles; self-repeating paths refused;
- :mod:`.priority`: feeds and sitemaps first, then articles newest first, then hubs;
- :mod:`.budget`: the page budget, counted when a request is sent (not when it is queued, so
  that the priorities decide what the budget is spent on);
- :mod:`.scheduled`: the URLs already scheduled, as hashes (a crawl keeps all of them).

Depth is the spider's: it follows no link from a page at the depth limit, and a listing's
next page keeps the depth of the page linking to it. Already-archived articles are skipped
by :class:`crawler.seen.SeenUrls`.
"""

# what a request is for (``request.meta["role"]``)
ROLE_FEED = "feed"
ROLE_SITEMAP = "sitemap"
ROLE_ROBOTS = "robots"
ROLE_PAGE = "page"
ROLE_REQUISITE = "requisite"
# request.meta of a page fetched before as a frame of another page: a revisit of it still
# gets its article (the frame's capture has none)
FRAME_AGAIN_META = "frame_again"
