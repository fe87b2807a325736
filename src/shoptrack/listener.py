"""The sockets shoptrack's servers listen on, bound before their address is printed or handed
on: a port chosen by the system (0) is the process's from that moment, with no moment between
choosing it and serving on it when another process could take it."""

from __future__ import annotations

import errno
import socket

from shoptrack.errors import ShoptrackError

__all__ = ["address", "command_socket", "inherited_socket", "listening_socket"]

# Connections made before the server starts accepting wait here.
_BACKLOG = 2048


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` (0: a free port) and listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host.strip("[]"), port))
        listener.listen(_BACKLOG)
    except OSError:
        listener.close()
        raise
    return listener


def command_socket(host: str, port: int, command: str) -> socket.socket:
    """:func:`listening_socket` for a command a person runs (``serve``, ``demo``, ``simulate``):
    a port already taken is one readable line saying how to choose another."""
    try:
        return listening_socket(host, port)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        raise ShoptrackError(
            f"port {port} on {host} is already in use (another shoptrack or another program "
            f"listens there): choose another with `shoptrack {command} --port {port + 1}`, "
            "or --port 0 for any free port",
            code="port_in_use",
        ) from None


def inherited_socket(fd: int) -> socket.socket:
    """The listening socket a parent process (a supervisor, systemd, a test) handed down as
    file descriptor ``fd``; its family is read from the descriptor itself."""
    listener = socket.socket(fileno=fd)
    if listener.type != socket.SOCK_STREAM:
        listener.detach()
        raise ValueError(f"file descriptor {fd} is not a stream socket")
    return listener


def address(listener: socket.socket) -> tuple[str, int]:
    """The host and port ``listener`` is bound to."""
    host, port = listener.getsockname()[:2]
    return (f"[{host}]" if ":" in host else str(host)), int(port)
