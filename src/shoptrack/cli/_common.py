"""What the command groups share: the console, the ``--account`` and ``--json`` options, the
services a command builds (the schema brought up to date first), the account it acts in, and
the JSON it prints documents as."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console

from shoptrack.services import Services
from shoptrack.settings import Settings

__all__ = [
    "AccountOption",
    "HostOption",
    "JsonOption",
    "PortOption",
    "build_services",
    "console",
    "in_account",
    "integration_names",
    "print_json",
    "resolve_account",
]

# Piped or sent to a file, a line stays one line: no wrapping at an imagined 80 columns.
console = Console(soft_wrap=not sys.stdout.isatty())

JsonOption = Annotated[bool, typer.Option("--json", help="Print the JSON document.")]
AccountOption = Annotated[
    str | None, typer.Option("--account", help="Account id; optional when there is exactly one.")
]
# What a command that serves HTTP listens on; each command gives its own default.
HostOption = Annotated[str, typer.Option(help="Interface to listen on.")]
PortOption = Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.")]


def build_services() -> Services:
    """The services of the settings in the environment, on a schema brought up to date."""
    services = Services.build(Settings())
    services.upgrade()
    return services


def print_json(document: Any) -> None:
    """``document`` on stdout, indented, as ``--json`` prints it."""
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")


def resolve_account(services: Services, account: str | None, integration: str | None = None) -> str:
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


def in_account(account: str | None, integration: str | None = None) -> tuple[Services, str]:
    """The services, and the account the command acts in (see ``resolve_account``)."""
    services = build_services()
    return services, resolve_account(services, account, integration)


def integration_names(services: Services, account_id: str) -> dict[str, str]:
    """The account's integrations as the CLI names them: id → "name (platform)"."""
    from shoptrack.store.integrations import list_integrations

    with services.database.read() as connection:
        return {i.id: f"{i.name} ({i.platform})" for i in list_integrations(connection, account_id)}
