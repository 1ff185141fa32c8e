"""The imports of a process that runs a command or a crawl, made cheaper.

Every ``newsarchive`` command and every crawl child imports Scrapy, Twisted, SQLAlchemy and
pydantic (about 1,000 modules) before doing anything. Two costs of that are avoidable:

* the garbage collector runs full collections over the growing heap while modules load
  and finds almost nothing to free, so it is off until the imports are done;
* Scrapy's downloader modules build their deprecated aliases with ``inspect.stack()``
  (``scrapy.utils.deprecate.create_deprecated_class``), whose cost grows with the depth of
  the import stack and the number of modules loaded: imported first, at the top of the
  stack, they cost a fraction of what they cost deep inside the project's imports.

Use it around an entry point's imports (``crawler.job``'s, the console script's)::

    with quick_imports():
        from crawler.runner import run_crawl
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quick_imports() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        import scrapy.core.downloader.handlers.http11  # noqa: F401  (see the module doc)

        yield
    finally:
        if enabled:
            gc.enable()
