"""The service and its faces. Rooms, and who may import whom:

* The service core, at this level, imports only ``crawler`` and ``archive``:

  - :mod:`~scheduler.config` — ``ServiceSettings`` (extends the crawl and archive settings);
    :mod:`~scheduler.config_reference` renders ``docs/configuration.md`` from them.
  - :mod:`~scheduler.service` — one per ``serve`` process: catalog, dispatcher, scheduler,
    spool recovery and upload retries.
  - :mod:`~scheduler.schedules` (APScheduler, site schedules), :mod:`~scheduler.leader`
    (one scheduler among several ``serve``).
  - :mod:`~scheduler.dispatch` (embedded: crawl child processes, N at a time),
    :mod:`~scheduler.broker` (scale-out: jobs to Dramatiq on Redis),
    :mod:`~scheduler.worker` (``newsarchive worker``). Job state is written only through
    :mod:`archive.ledger`.
  - :mod:`~scheduler.sites` and :mod:`~scheduler.site_definitions` (site CRUD,
    ``sites.toml``, validation), :mod:`~scheduler.urlcheck` (the first SSRF gate for
    submitted URLs), :mod:`~scheduler.metrics` (Prometheus), :mod:`~scheduler.views` (the
    JSON shapes the CLI and the API share), :mod:`~scheduler.webhooks` (change webhooks
    POSTed from the outbox of :mod:`archive.webhook_outbox`).

* :mod:`scheduler.web` — the HTTP face: app factory, dependencies, error mapping, schemas,
  one router per resource, the web UI. Uses the core.
* :mod:`scheduler.cli` — the ``newsarchive`` console script, one module per command group.
  Uses the core (and ``scheduler.web.app`` only to serve it).
* :mod:`scheduler.demo` — the bundled demo news site and its server.

Neither the core nor ``crawler``/``archive`` imports ``web`` or ``cli``.
"""
