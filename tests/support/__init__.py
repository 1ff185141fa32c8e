"""What the tests share, one definition each (conftest.py holds only the fixtures):

* :mod:`.harness` — skip-or-fail for a missing service, free ports, ``wait_until``, pids,
  an environment without the developer's settings.
* :mod:`.cli` — :class:`~.cli.Archive`: a data directory and the real CLI run against it
  (``cli``: a subprocess, as a crawl needs; ``cli_in_process``: any command that starts no
  reactor, without a new interpreter).
* :mod:`.warc` — a WARC writer with a clock the test sets, HTTP exchanges, digests, reading
  records back, ``warcio check``.
* :mod:`.api` — the app in-process over a data directory (``api_client``).
* :mod:`.service` — ``newsarchive serve`` in a subprocess, driven over HTTP.
* :mod:`.s3` (moto server), :mod:`.databases` (PostgreSQL, Redis), :mod:`.peers` (pywb in
  its own virtualenv), :mod:`.browser` (headless Chromium through Playwright).
* Test sites: the bundled demo site (``scheduler.demo.server``), :mod:`.news_site` (a site
  whose content tests change between crawls), :mod:`.generated_site` (a generated site of
  hundreds of articles in one of several URL schemes, with traps and ground truth, for
  discovery) and :mod:`.replay_archive` (a small archive built record by record for replay
  tests).
"""
