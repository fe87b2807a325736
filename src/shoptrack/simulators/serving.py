"""Running a simulated store on a real socket, in a thread of the current process."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from shoptrack.listener import address, listening_socket

__all__ = ["serving"]


@contextmanager
def serving(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    listener: socket.socket | None = None,
) -> Iterator[str]:
    """Serves an ASGI app on ``port`` (a free one when 0), or on ``listener`` when given, until
    the block ends; yields its URL. The socket is bound before the URL is known, so the URL is
    always this server's."""
    listener = listener or listening_socket(host, port)
    bound_host, bound_port = address(listener)
    config = uvicorn.Config(
        app,
        host=bound_host,
        port=bound_port,
        log_level="warning",
        lifespan="off",
        server_header=False,
        # How long stores' servers keep an idle connection (nginx's default). With uvicorn's
        # 5 s, a client that paused longer — a test on a loaded machine — could send its next
        # request on a connection closing under it: a transient failure and a retry that the
        # test did not ask for.
        timeout_keep_alive=75,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="simulated-store", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError(f"the server on {bound_host}:{bound_port} did not start")
            time.sleep(0.01)
        yield f"http://{bound_host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
