"""The ``shoptrack`` command: every command builds its services from the settings, does one
thing, and prints either a readable answer or, with ``--json``, the document the HTTP API returns.
Errors are one line on stderr and a non-zero exit."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console

import shoptrack
from shoptrack.errors import ShoptrackError
from shoptrack.services import Services
from shoptrack.settings import Settings

__all__ = ["app", "main"]

app = typer.Typer(
    help="shoptrack: store orders to Placed Order events, flows, and a doctor for missing events.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
accounts_app = typer.Typer(help="Accounts (tenants).", no_args_is_help=True)
keys_app = typer.Typer(help="Private API keys of an account.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(accounts_app, name="accounts")
app.add_typer(keys_app, name="keys")

console = Console()

JsonOption = Annotated[bool, typer.Option("--json", help="Print the JSON document.")]
AccountOption = Annotated[
    str | None, typer.Option("--account", help="Account id; optional when there is exactly one.")
]


def _services() -> Services:
    services = Services.build(Settings())
    services.upgrade()
    return services


def _print_json(document: Any) -> None:
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")


def _account_id(services: Services, account: str | None) -> str:
    from shoptrack.store.accounts import get_account, list_accounts

    with services.database.read() as connection:
        if account is not None:
            return get_account(connection, account).id
        accounts = list_accounts(connection)
    if len(accounts) != 1:
        raise typer.BadParameter(
            f"there are {len(accounts)} accounts; name one with --account ID",
            param_hint="--account",
        )
    return accounts[0].id


@app.command()
def version() -> None:
    """Print shoptrack's version."""
    console.print(shoptrack.__version__)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        bool, typer.Option("--workers/--no-workers", help="Run the background workers here.")
    ] = True,
) -> None:
    """Serve the API, webhooks and (unless --no-workers) the workers in one process."""
    import uvicorn

    from shoptrack.api import create_app

    services = _services()
    console.print(
        f"shoptrack {shoptrack.__version__} on http://{host}:{port} "
        f"({services.database.dialect}, workers {'on' if workers else 'off'})"
    )
    uvicorn.run(
        create_app(services, run_workers=workers),
        host=host,
        port=port,
        http="httptools",
        log_level="warning",
        access_log=False,
    )


@app.command()
def worker() -> None:
    """Process the inbox and run scheduled work (PostgreSQL; `serve` does this on SQLite)."""
    import signal
    import threading

    from shoptrack.pipeline.processing import Processor
    from shoptrack.pipeline.workers import Workers

    services = _services()
    if services.database.is_sqlite:
        raise ShoptrackError(
            "`shoptrack worker` needs PostgreSQL: SQLite has a single writer, so `shoptrack serve` "
            "runs the workers in its own process. Set SHOPTRACK_DATABASE_URL to a PostgreSQL URL "
            "to run separate workers.",
            code="worker_needs_postgresql",
        )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    pool = Workers(services.database, services.clock, Processor(services.database, services.clock))
    pool.start()
    console.print("shoptrack worker running; Ctrl-C stops it")
    stop.wait()
    pool.stop()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date."""
    from shoptrack.store.migrations import head_revision, upgrade

    services = Services.build(Settings())
    changed = upgrade(services.database)
    console.print(f"schema at revision {head_revision()}" + (" (upgraded)" if changed else ""))


@accounts_app.command("create")
def accounts_create(name: str, as_json: JsonOption = False) -> None:
    """Create an account with its public key and a first private key (shown once)."""
    from shoptrack.store.accounts import create_account

    services = _services()
    with services.database.write() as connection:
        account, key = create_account(connection, name, services.clock.now())
    document = {
        "id": account.id,
        "name": account.name,
        "public_key": account.public_key,
        "private_key": key.key,
    }
    if as_json:
        _print_json(document)
        return
    console.print(f"account {account.id} ({account.name})")
    console.print(f"public key:  {account.public_key}")
    console.print(f"private key: {key.key}  [dim](shown once; keep it safe)[/dim]")


@accounts_app.command("list")
def accounts_list(as_json: JsonOption = False) -> None:
    """List the accounts."""
    from shoptrack.store.accounts import list_accounts

    services = _services()
    with services.database.read() as connection:
        accounts = list_accounts(connection)
    documents = [{"id": a.id, "name": a.name, "public_key": a.public_key} for a in accounts]
    if as_json:
        _print_json(documents)
        return
    for document in documents:
        console.print(f"{document['id']}  {document['public_key']}  {document['name']}")


@keys_app.command("create")
def keys_create(
    account: AccountOption = None,
    label: Annotated[str, typer.Option(help="What the key is for.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Create a private API key (shown once)."""
    from shoptrack.store.accounts import create_key

    services = _services()
    account_id = _account_id(services, account)
    with services.database.write() as connection:
        key = create_key(connection, account_id, services.clock.now(), label=label)
    document = {"id": key.id, "account_id": key.account_id, "private_key": key.key, "label": label}
    if as_json:
        _print_json(document)
        return
    console.print(f"key {key.id}: {key.key}  [dim](shown once)[/dim]")


@keys_app.command("revoke")
def keys_revoke(key_id: str, account: AccountOption = None) -> None:
    """Revoke a private API key; requests with it are refused from now on."""
    from shoptrack.store.accounts import revoke_key

    services = _services()
    account_id = _account_id(services, account)
    with services.database.write() as connection:
        revoke_key(connection, account_id, key_id, services.clock.now())
    console.print(f"key {key_id} revoked")


def _parse_time(option: str) -> Callable[[str | None], datetime | None]:
    def parse(value: str | None) -> datetime | None:
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as error:
            raise typer.BadParameter(
                "use an ISO 8601 time such as 2026-11-27T10:00:00Z", param_hint=option
            ) from error
        if moment.tzinfo is None:
            raise typer.BadParameter(
                "give the time zone, e.g. a trailing Z for UTC", param_hint=option
            )
        return moment

    return parse


@app.command()
def replay(
    account: AccountOption = None,
    integration: Annotated[str | None, typer.Option(help="Only this integration's rows.")] = None,
    row_id: Annotated[list[int] | None, typer.Option("--id", help="Only these inbox rows.")] = None,
    state: Annotated[
        list[str] | None,
        typer.Option(help="Which rows: dead (default), processed, ignored. Repeatable."),
    ] = None,
    since: Annotated[str | None, typer.Option(help="Received at or after (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Received before (ISO 8601).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Process stored deliveries again (dead letters by default), as backfill, then report."""
    from shoptrack.pipeline.processing import Processor
    from shoptrack.store.inbox import InboxState, ReplaySelection
    from shoptrack.store.inbox import replay as replay_rows

    allowed = {InboxState.DEAD, InboxState.PROCESSED, InboxState.IGNORED}
    states = []
    for name in state or ["dead"]:
        try:
            chosen = InboxState(name)
        except ValueError:
            chosen = None
        if chosen not in allowed:
            raise typer.BadParameter(
                f"{name!r}: choose dead, processed or ignored (rejected rows are never replayed)",
                param_hint="--state",
            )
        states.append(chosen)
    services = _services()
    selection = ReplaySelection(
        account_id=_account_id(services, account),
        integration_id=integration,
        ids=row_id or (),
        states=states,
        since=_parse_time("--since")(since),
        until=_parse_time("--until")(until),
    )
    with services.database.write() as connection:
        queued = replay_rows(connection, selection, services.clock.now())
    result = Processor(services.database, services.clock).run_until_idle()
    document = {
        "queued": queued,
        "processed": result.processed,
        "failed": result.retried + result.dead,
        "events_recorded": len(result.recorded),
    }
    if as_json:
        _print_json(document)
        return
    console.print(
        f"replayed {queued} rows: {result.processed} processed, "
        f"{document['failed']} failed, {len(result.recorded)} events recorded"
    )


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve with a ready demo account and a WooCommerce integration, printing URL and keys."""
    import uvicorn

    from shoptrack.api import create_app
    from shoptrack.demo import prepare_demo

    services = _services()
    setup = prepare_demo(services, base_url=f"http://{host}:{port}")
    for line in setup.describe():
        console.print(line)
    uvicorn.run(
        create_app(services),
        host=host,
        port=port,
        http="httptools",
        log_level="warning",
        access_log=False,
    )


def main() -> None:
    """Entry point: shoptrack's own errors become one readable line and exit status 1; usage
    errors are Typer's (exit status 2)."""
    try:
        app()
    except ShoptrackError as error:
        # Plain write, not Rich: one line whatever the terminal's width.
        sys.stderr.write(f"error: {' '.join(error.detail.split())}\n")
        sys.exit(1)
