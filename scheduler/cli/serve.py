"""``newsarchive serve``: the HTTP API, the web UI, the schedules and the dispatcher."""

from __future__ import annotations

from typing import Annotated

import typer

from archive.config import SettingsError
from scheduler.cli.common import fail


def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
) -> None:
    """Run the service: HTTP API (/docs), schedules and the crawl dispatcher."""
    import ipaddress

    import uvicorn

    from scheduler.config import ServiceSettings
    from scheduler.web.app import create_app

    try:
        settings = ServiceSettings.load()
    except SettingsError as exc:
        raise fail(f"bad configuration: {exc}", 2) from None
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not settings.api_token:
        raise fail(f"refusing to listen on {host} without NEWSARCHIVE_API_TOKEN: anyone who "
                   "can reach it could start crawls; set a token or bind 127.0.0.1", 2)
    if settings.sites_file:  # fail before binding, with the file, site and field named
        from scheduler.sites import load_sites_file

        try:
            load_sites_file(settings.sites_file)
        except ValueError as exc:
            raise fail(f"bad NEWSARCHIVE_SITES_FILE: {exc}", 2) from None
    # raw replays carry the archived Date and Server: uvicorn adds neither (the app dates
    # every other response, scheduler.web.date_header)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info",
                server_header=False, date_header=False)
