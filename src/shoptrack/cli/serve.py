"""Running shoptrack: ``serve`` (the API and webhooks, with the workers beside it), ``worker``
(the workers alone, on PostgreSQL), ``db upgrade`` and ``version``."""

from __future__ import annotations

from typing import Annotated

import typer

import shoptrack
from shoptrack.cli._common import HostOption, PortOption, build_services, console
from shoptrack.errors import ShoptrackError
from shoptrack.services import Services
from shoptrack.settings import Settings

__all__ = ["db_app", "serve", "version", "worker"]

db_app = typer.Typer(help="The database schema.", no_args_is_help=True)


def version() -> None:
    """Print shoptrack's version."""
    console.print(shoptrack.__version__)


def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    workers: Annotated[
        bool, typer.Option("--workers/--no-workers", help="Run the background workers here.")
    ] = True,
    fd: Annotated[
        int | None,
        typer.Option(
            help="Serve on this inherited listening socket (from a supervisor, systemd's "
            "socket activation or a test) instead of binding --host and --port."
        ),
    ] = None,
) -> None:
    """Serve the API and webhooks, with the workers (unless --no-workers) in a process of
    their own beside it."""
    import uvicorn

    from shoptrack.api.app import create_app
    from shoptrack.listener import address, command_socket, inherited_socket
    from shoptrack.pipeline.runtime import freeze_start_up_objects

    # Bound before anything else: the address printed is the one served.
    listener = inherited_socket(fd) if fd is not None else command_socket(host, port, "serve")
    bound_host, bound_port = address(listener)
    services = build_services()
    console.print(
        f"shoptrack {shoptrack.__version__} on http://{bound_host}:{bound_port} "
        f"({services.database.dialect}, workers {'on' if workers else 'off'})"
    )
    config = uvicorn.Config(
        create_app(services, run_workers=workers, worker_process=True),
        host=bound_host,
        port=bound_port,
        http="httptools",
        log_level="warning",
        access_log=False,
    )
    freeze_start_up_objects()
    uvicorn.Server(config).run(sockets=[listener])


def worker(
    wake_fd: Annotated[
        int | None,
        typer.Option(hidden=True, help="The pipe `serve` wakes its own worker process through."),
    ] = None,
    inbox_share: Annotated[
        str | None,
        typer.Option(
            hidden=True, help="Process only this share of the inbox, K/N (serve's on SQLite)."
        ),
    ] = None,
    only_processing: Annotated[
        bool,
        typer.Option(hidden=True, help="Only process, whenever woken (sync's worker processes)."),
    ] = False,
) -> None:
    """Process the inbox and run scheduled work (PostgreSQL; `serve` does this on SQLite)."""
    import signal
    import threading

    from shoptrack.pipeline.runtime import (
        build_workers,
        freeze_start_up_objects,
        lower_priority,
        process_when_woken,
        upgrade_when_reachable,
        wake_reader,
    )
    from shoptrack.store.inbox import InboxShare

    try:
        share = InboxShare.parse(inbox_share) if inbox_share is not None else None
    except ValueError as error:
        raise ShoptrackError(f"--inbox-share: {error}", code="invalid_inbox_share") from error
    if only_processing and wake_fd is None:
        raise ShoptrackError(
            "--only-processing needs --wake-fd: `shoptrack sync` starts such workers itself",
            code="only_processing_needs_wake_fd",
        )
    # Not build_services(): the schema is upgraded once the database is reachable.
    services = Services.build(Settings())
    if services.database.is_sqlite and wake_fd is None:
        raise ShoptrackError(
            "`shoptrack worker` needs PostgreSQL: SQLite has a single writer, so `shoptrack serve` "
            "runs the workers in its own process. Set SHOPTRACK_DATABASE_URL to a PostgreSQL URL "
            "to run separate workers.",
            code="worker_needs_postgresql",
        )
    lower_priority()
    if only_processing and wake_fd is not None:
        # `sync`'s worker, whose schema is up to date; sync ends it (SIGTERM, left at its
        # default: the transaction is rolled back) or closes its pipe.
        freeze_start_up_objects()
        process_when_woken(services, share, wake_fd)
        services.close()
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if wake_fd is None:
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    else:
        # `serve`'s own worker ends when serve closes the pipe (Ctrl-C reaches serve too).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    pool = build_workers(services, share)
    if wake_fd is not None:
        wake_reader(wake_fd, pool.wake, stop)
    # Started during an outage (or before its database), a worker waits for the database.
    if upgrade_when_reachable(services, stop):
        freeze_start_up_objects()
        pool.start()
        if wake_fd is None:
            console.print("shoptrack worker running; Ctrl-C stops it")
        stop.wait()
        pool.stop()
    services.close()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date."""
    from shoptrack.store.migrations import head_revision

    services = Services.build(Settings())
    changed = services.upgrade()
    console.print(f"schema at revision {head_revision()}" + (" (upgraded)" if changed else ""))
