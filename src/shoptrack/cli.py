"""The ``shoptrack`` command: every command builds its services from the settings, does one
thing, and prints either a readable answer or, with ``--json``, the document the HTTP API returns.
Errors are one line on stderr and a non-zero exit."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console

import shoptrack
from shoptrack.cli_alerts import alerts_app, watch
from shoptrack.cli_doctor import doctor
from shoptrack.cli_flows import flows_app
from shoptrack.cli_integrations import integrations_app
from shoptrack.cli_test_order import follow_test_order
from shoptrack.cli_users import users_app
from shoptrack.errors import InputError, ShoptrackError
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
app.add_typer(integrations_app, name="integrations")
app.command()(doctor)
app.command("test-order")(follow_test_order)
app.add_typer(users_app, name="users")
app.add_typer(flows_app, name="flows")
app.command()(watch)
app.add_typer(alerts_app, name="alerts")

# Piped or sent to a file, a line stays one line: no wrapping at an imagined 80 columns.
console = Console(soft_wrap=not sys.stdout.isatty())

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


def _account_id(services: Services, account: str | None, integration: str | None = None) -> str:
    """The account a command acts in: ``--account``, else the account of the integration the
    command names (its id names its account), else the only account."""
    from shoptrack.store.accounts import get_account, list_accounts
    from shoptrack.store.integrations import find_integration

    with services.database.read() as connection:
        if account is not None:
            return get_account(connection, account).id
        named = None if integration is None else find_integration(connection, integration)
        if named is not None:
            return named.account_id
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
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.")] = 8000,
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

    from shoptrack.api import create_app
    from shoptrack.listener import address, command_socket, inherited_socket

    # Bound before anything else: the address printed is the one served.
    listener = inherited_socket(fd) if fd is not None else command_socket(host, port, "serve")
    bound_host, bound_port = address(listener)
    services = _services()
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
    uvicorn.Server(config).run(sockets=[listener])


@app.command()
def worker(
    wake_fd: Annotated[
        int | None,
        typer.Option(hidden=True, help="The pipe `serve` wakes its own worker process through."),
    ] = None,
) -> None:
    """Process the inbox and run scheduled work (PostgreSQL; `serve` does this on SQLite)."""
    import signal
    import threading

    from shoptrack.pipeline.runtime import build_workers, upgrade_when_reachable, wake_reader

    services = Services.build(Settings())
    if services.database.is_sqlite and wake_fd is None:
        raise ShoptrackError(
            "`shoptrack worker` needs PostgreSQL: SQLite has a single writer, so `shoptrack serve` "
            "runs the workers in its own process. Set SHOPTRACK_DATABASE_URL to a PostgreSQL URL "
            "to run separate workers.",
            code="worker_needs_postgresql",
        )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if wake_fd is None:
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    else:
        # `serve`'s own worker ends when serve closes the pipe (Ctrl-C reaches serve too).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    pool = build_workers(services)
    if wake_fd is not None:
        wake_reader(wake_fd, pool.wake, stop)
    # Started during an outage (or before its database), a worker waits for the database.
    if upgrade_when_reachable(services, stop):
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
    """List the accounts (a table; --json for scripts)."""
    from shoptrack.cli_output import Column, print_table
    from shoptrack.store.accounts import list_accounts

    services = _services()
    with services.database.read() as connection:
        accounts = list_accounts(connection)
    documents = [{"id": a.id, "name": a.name, "public_key": a.public_key} for a in accounts]
    if as_json:
        _print_json(documents)
        return
    print_table(
        console,
        [Column("ID"), Column("Name", wrap=True), Column("Public key")],
        [[d["id"], d["name"], d["public_key"]] for d in documents],
        empty="no accounts yet: create one with `shoptrack accounts create NAME`",
    )


@accounts_app.command("settings")
def accounts_settings(
    account: AccountOption = None,
    time_zone: Annotated[
        str | None,
        typer.Option(help="IANA time zone of the web UI's chart days, e.g. Europe/Berlin."),
    ] = None,
    test_sends: Annotated[
        bool | None,
        typer.Option("--test-sends/--no-test-sends", help="Whether test orders start flows."),
    ] = None,
    attribution_window_days: Annotated[
        int | None,
        typer.Option(help="Days after an open or click that a live order is credited to a flow."),
    ] = None,
    attribution_clicks_only: Annotated[
        bool | None,
        typer.Option(
            "--attribution-clicks-only/--no-attribution-clicks-only",
            help="Whether only clicks (not opens) credit orders to flows.",
        ),
    ] = None,
    email_tracking: Annotated[
        bool | None,
        typer.Option(
            "--email-tracking/--no-email-tracking",
            help="Whether flow emails carry an open pixel and tracked links.",
        ),
    ] = None,
    utm_parameters: Annotated[
        bool | None,
        typer.Option(
            "--utm-parameters/--no-utm-parameters",
            help="Whether the links of flow emails get utm_source, utm_medium and utm_campaign.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Show the account's settings, changing those given first."""
    from shoptrack.domain.account_settings import AccountSettings
    from shoptrack.store.accounts import account_settings, save_account_settings

    services = _services()
    account_id = _account_id(services, account)
    given = {
        "time_zone": time_zone,
        "test_sends": test_sends,
        "attribution_window_days": attribution_window_days,
        "attribution_clicks_only": attribution_clicks_only,
        "email_tracking": email_tracking,
        "utm_parameters": utm_parameters,
    }
    changes = {name: value for name, value in given.items() if value is not None}
    with services.database.write() as connection:
        settings = account_settings(connection, account_id)
        if changes:
            try:
                settings = settings.changed(changes)
            except InputError as error:
                option = "--" + (error.pointer or "").rsplit("/", 1)[-1].replace("_", "-")
                message = error.detail.partition(": ")[2] or error.detail
                raise InputError(f"{option}: {message}") from error
            save_account_settings(connection, account_id, settings)
    if as_json:
        _print_json({"account_id": account_id, **settings.model_dump()})
        return
    width = max(len(name) for name in AccountSettings.model_fields)
    for name, value in settings.model_dump().items():
        shown = ("on" if value else "off") if isinstance(value, bool) else value
        console.print(f"{name:<{width}}  {shown}", highlight=False)


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
    from shoptrack.pipeline.runtime import process_inbox
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
        account_id=_account_id(services, account, integration),
        integration_id=integration,
        ids=row_id or (),
        states=states,
        since=_parse_time("--since")(since),
        until=_parse_time("--until")(until),
    )
    with services.database.write() as connection:
        queued = replay_rows(connection, selection, services.clock.now())
    # Replayed rows are backfill and start no flow; live rows pending beside them still do.
    result = process_inbox(services)
    document = {
        "queued": queued,
        "processed": result.processed,
        "failed": result.retried + result.dead,
        "events_recorded": result.events_recorded,
    }
    if as_json:
        _print_json(document)
        return
    console.print(
        f"replayed {queued} rows: {result.processed} processed, "
        f"{document['failed']} failed, {result.events_recorded} events recorded"
    )


@app.command()
def sync(
    integration: str,
    backfill: Annotated[
        int | None, typer.Option(help="Fetch this many days of history, recorded as backfill.")
    ] = None,
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sync an integration to the end (waiting for a running sync first), then process what
    it fetched."""
    from shoptrack.api.routes.integrations import sync_run_resource
    from shoptrack.cli_progress import SyncReport
    from shoptrack.pipeline.runtime import process_inbox
    from shoptrack.pipeline.sync import Syncer
    from shoptrack.store.integrations import get_integration
    from shoptrack.store.sync_runs import get_run

    if backfill is not None and backfill < 0:
        raise typer.BadParameter("the number of days cannot be negative", param_hint="--backfill")
    services = _services()
    account_id = _account_id(services, account, integration)
    with services.database.read() as connection:
        named = get_integration(connection, account_id, integration)
    syncer = Syncer(services)
    label = f"{named.name} ({named.platform})"
    with SyncReport(Console(stderr=True), "sync", quiet=as_json) as report:
        report.start(label)
        run_id = syncer.run_when_free(
            account_id,
            integration,
            backfill_days=backfill,
            progress=functools.partial(report.update, label),
            waiting=functools.partial(report.waiting, label),
        )
        report.done(label)
        # Recent polled orders are live: they start flows (their steps run in serve/worker).
        process_inbox(services)
    with services.database.read() as connection:
        row = get_run(connection, account_id, run_id)
    assert row is not None
    document = sync_run_resource(row, services.settings.public_url.rstrip("/"))
    attributes = document["attributes"]
    if as_json:
        _print_json({"data": document})
    elif attributes["error"]:
        console.print(f"sync {run_id} failed: {attributes['error']['detail']}")
    else:
        # Rows another process took are processed there: their events follow.
        pending = attributes["pending_rows"]
        console.print(
            f"sync {run_id}: {attributes['orders_seen']} orders seen, "
            f"{attributes['rows_written']} new, {attributes['events_recorded']} events recorded, "
            + (f"{pending} still being processed" if pending else "all processed")
        )
    if attributes["error"]:
        raise typer.Exit(1)


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port to listen on (8000 unless given); 0 picks a free one.")
    ] = 8000,
) -> None:
    """Serve with a demo account and six simulated stores connected (one per platform), their
    history imported and new orders coming in; prints the URL and keys."""
    from shoptrack.demo import run_demo

    run_demo(Settings(), host=host, port=port, console=console)


@app.command()
def simulate(
    platform: Annotated[
        str,
        typer.Argument(
            help="The store's platform: woocommerce, shopify, bigcommerce, magento2, "
            "prestashop or shift4shop."
        ),
    ],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.")] = 0,
    orders: Annotated[int, typer.Option(min=0, help="Orders the store starts with.")] = 25,
    as_json: JsonOption = False,
) -> None:
    """Serve a simulated store (its real API, keys, webhooks and faults) until Ctrl-C."""
    from datetime import timedelta

    import uvicorn

    from shoptrack.listener import address, command_socket
    from shoptrack.outbound import OutboundGuard, host_networks
    from shoptrack.simulators.catalog import CATALOG, store_life

    try:
        life = store_life(platform)
    except KeyError:
        names = ", ".join(entry.platform for entry in CATALOG)
        raise typer.BadParameter(
            f"{platform!r}: the simulated platforms are: {names}", param_hint="PLATFORM"
        ) from None
    # Bound before printing, so the port printed is the one served, even when 0 picked it.
    listener = command_socket(host, port, f"simulate {platform}")
    bound_host, bound_port = address(listener)
    base_url = f"http://{bound_host}:{bound_port}"
    # shoptrack reaches private addresses only where allowed: say what the server must allow.
    public = OutboundGuard()
    allowed = ",".join(
        str(network)
        for network in host_networks(host)
        if not public.permits(network.network_address)
    )
    simulator = life.build(base_url, False)
    # A store's usual mix, one order every 37 minutes up to now.
    life.seed(simulator, orders, timedelta(minutes=37))
    document = {
        "platform": life.platform,
        "base_url": base_url,
        "credentials": simulator.credentials(base_url),
        "private_store_networks": allowed or None,
    }
    if as_json:
        _print_json(document)
    else:
        console.print(f"simulated {life.label} store on {base_url} with {orders} orders")
        credentials = orjson.dumps(document["credentials"]).decode()
        console.print(f"  credentials  {credentials}", soft_wrap=True, highlight=False)
        console.print(f"  control      {base_url}/_sim/ (orders, faults, webhook deliveries)")
        if allowed:
            console.print(
                f"  allow        SHOPTRACK_PRIVATE_STORE_NETWORKS={allowed} (set it where "
                "shoptrack serves: it reaches private addresses only where allowed)",
                soft_wrap=True,
                highlight=False,
            )
        console.print("Ctrl-C stops it")
    sys.stdout.flush()
    # No `server: uvicorn` header: the simulated store's edge names itself (nginx, cloudflare).
    config = uvicorn.Config(
        simulator.app, log_level="warning", access_log=False, lifespan="off", server_header=False
    )
    uvicorn.Server(config).run(sockets=[listener])


def main() -> None:
    """Entry point: shoptrack's own errors become one readable line and exit status 1; usage
    errors are Typer's (exit status 2)."""
    try:
        app()
    except ShoptrackError as error:
        # Plain write, not Rich: one line whatever the terminal's width.
        sys.stderr.write(f"error: {' '.join(error.detail.split())}\n")
        sys.exit(1)
    except ValidationError as error:
        if error.title != Settings.__name__:
            raise
        # A setting from the environment that cannot be read: name the variable.
        first = error.errors(include_url=False)[0]
        variable = "SHOPTRACK_" + "_".join(str(part) for part in first["loc"][:1]).upper()
        message = first["msg"].removeprefix("Value error, ")
        sys.stderr.write(f"error: {variable}: {message}\n")
        sys.exit(1)
