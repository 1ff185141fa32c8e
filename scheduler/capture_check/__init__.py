"""The capture check: the archived view of a page rendered in Chromium and compared with the
live page (``checker``), with its browser (``browser``), replay server (``replay_server``)
and pixel comparison (``pixels``). Used by ``newsarchive check``, by ``newsarchive crawl`` and
``demo`` after their crawl, and by the service after each crawl job (a ``newsarchive check
--job`` child process), when ``NEWSARCHIVE_CAPTURE_CHECK`` is on. It uses the replay app
(``scheduler.web``): the service core starts it as a command, never imports it."""
