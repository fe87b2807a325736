"""The ``shoptrack`` command: every command builds its services from the settings, does one
thing, and prints either a readable answer or, with ``--json``, the document the HTTP API returns.
Errors are one line on stderr and a non-zero exit.

One module a command group (``accounts``, ``integrations``, ``flows``…); what they share is in
``_common``, how they show tables in ``_output``, a sync's progress in ``progress``. Commands
import the modules they run inside their bodies: every command starts fast."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError

from shoptrack.cli.accounts import accounts_app, keys_app
from shoptrack.cli.alerts import alerts_app, watch
from shoptrack.cli.doctor import doctor
from shoptrack.cli.flows import flows_app
from shoptrack.cli.integrations import integrations_app
from shoptrack.cli.order_probe import follow_test_order
from shoptrack.cli.serve import db_app, serve, version, worker
from shoptrack.cli.simulate import demo, simulate
from shoptrack.cli.sync import replay, sync
from shoptrack.cli.users import users_app
from shoptrack.errors import ShoptrackError
from shoptrack.settings import Settings

__all__ = ["app", "main"]

app = typer.Typer(
    help="shoptrack: store orders to Placed Order events, flows, and a doctor for missing events.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# In the order `shoptrack --help` lists them: the commands, then the groups.
app.command()(doctor)
app.command("test-order")(follow_test_order)
app.command()(watch)
app.command()(version)
app.command()(serve)
app.command()(worker)
app.command()(replay)
app.command()(sync)
app.command()(demo)
app.command()(simulate)
app.add_typer(db_app, name="db")
app.add_typer(accounts_app, name="accounts")
app.add_typer(keys_app, name="keys")
app.add_typer(integrations_app, name="integrations")
app.add_typer(users_app, name="users")
app.add_typer(flows_app, name="flows")
app.add_typer(alerts_app, name="alerts")


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
