"""``newsarchive serve``: the HTTP API, the web UI, the schedules and the dispatcher, and
replay on an origin of its own."""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import Annotated

import typer

from archive.config import SettingsError
from scheduler.cli.common import err, fail


def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(
        min=0, max=65535, help="Port to bind; 0: any free port.")] = 8000,
    replay_port: Annotated[int | None, typer.Option(
        min=0, max=65535, help="Port of the replay origin (/web/); default "
        "NEWSARCHIVE_REPLAY_PORT, else --port + 1 (any free port with --port 0); 0: replay "
        "on the API's origin.")] = None,
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
    replay_port = settings.replay_port if replay_port is None else replay_port
    if replay_port is None:  # the next port, or any free one when the API's is any
        if port == 65535:
            raise fail("--port 65535 leaves no next port for replay: give --replay-port", 2)
        wanted = port + 1 if port else 0
    elif replay_port == 0:
        wanted = None  # replay on the API's origin
    elif replay_port == port:
        raise fail(f"--replay-port {replay_port} is the API's own port; give another one, or "
                   "0 to serve replays on the API's origin", 2)
    else:
        wanted = replay_port
    api_socket = listen(host, port)
    replay_socket = listen(host, wanted) if wanted is not None else None
    bound_replay = replay_socket.getsockname()[1] if replay_socket else None
    app = create_app(settings, replay_port=bound_replay)
    asgi = ByPort(app, {bound_replay: create_replay_app(app.state.service, bound_replay)}) \
        if bound_replay else app
    shown = f"[{host}]" if ":" in host else host
    err.print(f"newsarchive: API, docs and UI on http://{shown}:{api_socket.getsockname()[1]}/"
              + (f", replay on http://{shown}:{bound_replay}/web/" if bound_replay
                 else " (replay on the same origin)"), soft_wrap=True)
    # raw replays carry the archived Date and Server: uvicorn adds neither (the app dates
    # every other response, scheduler.web.date_header)
    config = uvicorn.Config(asgi, log_level="info", server_header=False, date_header=False,
                            lifespan="on")
    uvicorn.Server(config).run(sockets=[api_socket] + ([replay_socket] if replay_socket else []))


def listen(host: str, port: int) -> socket.socket:
    """A listening socket (``port`` 0: any free one), or one ``error:`` line (exit 2)
    saying why there cannot be one."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except socket.gaierror as exc:
        raise fail(f"cannot listen on {host}: {exc.strerror}; give --host an address of this "
                   "machine (127.0.0.1, ::1, 0.0.0.0)", 2) from None
    except OSError as exc:
        advice = ("choose another port (--port, --replay-port)" if exc.errno in
                  (errno.EADDRINUSE, errno.EACCES) else
                  "give --host an address of this machine (127.0.0.1, ::1, 0.0.0.0)")
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror}; {advice}", 2) from None
    sock.set_inheritable(True)
    return sock
