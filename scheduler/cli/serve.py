"""``newsarchive serve``: the HTTP API, the web UI, the schedules and the dispatcher, and
replay on an origin of its own."""

from __future__ import annotations

import ipaddress
import socket
from typing import Annotated

import typer

from archive.config import SettingsError
from scheduler.cli.common import fail


def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    replay_port: Annotated[int | None, typer.Option(
        min=0, max=65535, help="Port of the replay origin (/web/); default "
        "NEWSARCHIVE_REPLAY_PORT, else --port + 1; 0: replay on the API's origin.")] = None,
) -> None:
    """Run the service: HTTP API (/docs), schedules and the crawl dispatcher."""
    import uvicorn

    from scheduler.config import ServiceSettings
    from scheduler.web.app import ByPort, create_app, create_replay_app

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
    if replay_port is None:
        replay_port = settings.replay_port if settings.replay_port is not None else port + 1
    if replay_port == port:
        raise fail(f"--replay-port {replay_port} is the API's own port; give another one, or "
                   "0 to serve replays on the API's origin", 2)
    sockets = [listen(host, port)] + ([listen(host, replay_port)] if replay_port else [])
    app = create_app(settings, replay_port=replay_port or None)
    asgi = ByPort(app, {replay_port: create_replay_app(app.state.service, replay_port)}) \
        if replay_port else app
    # raw replays carry the archived Date and Server: uvicorn adds neither (the app dates
    # every other response, scheduler.web.date_header)
    config = uvicorn.Config(asgi, log_level="info", server_header=False, date_header=False,
                            lifespan="on")
    uvicorn.Server(config).run(sockets=sockets)


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, or one ``error:`` line (exit 2) saying why there cannot be one."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror}; choose another port "
                   "(--port, --replay-port)", 2) from None
    sock.set_inheritable(True)
    return sock
