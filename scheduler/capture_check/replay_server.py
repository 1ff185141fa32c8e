"""The archive's replay origin on 127.0.0.1 (a free port), served by uvicorn in a thread of
this process, for the capture check's browser to load archived views from."""

from __future__ import annotations

import socket
import threading
from types import TracebackType

import uvicorn

from scheduler.service import Service
from scheduler.web.app import create_replay_app

HOST = "127.0.0.1"


class ReplayServer:
    """``with ReplayServer(service) as replay: replay.origin``: the replay app of
    ``service`` (``/web/``), listening from the moment the block starts (the socket is bound
    first, so the first request waits in its backlog, not in vain) until it ends."""

    def __init__(self, service: Service) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind((HOST, 0))
        self._socket.listen(128)
        self.port = self._socket.getsockname()[1]
        app = create_replay_app(service, self.port)
        # raw replays carry the archived Date and Server, as under `serve`
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False,
                                server_header=False, date_header=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._socket]},
                                        name="capture-check-replay", daemon=True)

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
