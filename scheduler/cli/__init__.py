"""The ``newsarchive`` command line: one module per command or command group, assembled
here into one Typer app (the console script). Commands use the service core, the crawler
and the archive; nothing below ``scheduler/`` imports this package."""

from __future__ import annotations

from crawler.startup import quick_imports

with quick_imports():  # (what it saves: crawler.startup)
    from scheduler.cli import (
        articles,
        check,
        crawl,
        demo,
        export,
        extract,
        jobs,
        serve,
        sites,
        snapshots,
        storage,
        versions,
        worker,
    )
    from scheduler.cli.common import App

app = App(help="Archive news sites to WARC and retrieve what they said.",
          no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(sites.sites_app, name="sites")
app.add_typer(jobs.jobs_app, name="jobs")
app.add_typer(storage.storage_app, name="storage")
app.command()(articles.articles)
app.command()(articles.reextract)
app.command("export-wacz")(export.export_wacz)
app.command()(worker.worker)
app.command()(crawl.crawl)
app.command()(snapshots.captures)
app.command()(snapshots.snapshot)
app.command()(versions.versions)
app.command()(versions.diff)
app.command()(check.check)
app.command()(extract.extract)
app.command()(serve.serve)
app.command()(demo.demo)
