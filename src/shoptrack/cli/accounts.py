"""``shoptrack accounts …`` and ``shoptrack keys …``: the accounts (tenants), their settings
and their private API keys."""

from __future__ import annotations

from typing import Annotated

import typer

from shoptrack.cli._common import (
    AccountOption,
    JsonOption,
    build_services,
    console,
    in_account,
    print_json,
)
from shoptrack.errors import InputError

__all__ = ["accounts_app", "keys_app"]

accounts_app = typer.Typer(help="Accounts (tenants).", no_args_is_help=True)
keys_app = typer.Typer(help="Private API keys of an account.", no_args_is_help=True)


@accounts_app.command("create")
def accounts_create(name: str, as_json: JsonOption = False) -> None:
    """Create an account with its public key and a first private key (shown once)."""
    from shoptrack.store.accounts import create_account

    services = build_services()
    with services.database.write() as connection:
        account, key = create_account(connection, name, services.clock.now())
    document = {
        "id": account.id,
        "name": account.name,
        "public_key": account.public_key,
        "private_key": key.key,
    }
    if as_json:
        print_json(document)
        return
    console.print(f"account {account.id} ({account.name})")
    console.print(f"public key:  {account.public_key}")
    console.print(f"private key: {key.key}  [dim](shown once; keep it safe)[/dim]")


@accounts_app.command("list")
def accounts_list(as_json: JsonOption = False) -> None:
    """List the accounts (a table; --json for scripts)."""
    from shoptrack.cli._output import Column, print_listing
    from shoptrack.store.accounts import list_accounts

    services = build_services()
    with services.database.read() as connection:
        accounts = list_accounts(connection)
    print_listing(
        console,
        [{"id": a.id, "name": a.name, "public_key": a.public_key} for a in accounts],
        {"id": Column("ID"), "name": Column("Name", wrap=True), "public_key": Column("Public key")},
        empty="no accounts yet: create one with `shoptrack accounts create NAME`",
        as_json=as_json,
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

    services, account_id = in_account(account)
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
        print_json({"account_id": account_id, **settings.model_dump()})
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

    services, account_id = in_account(account)
    with services.database.write() as connection:
        key = create_key(connection, account_id, services.clock.now(), label=label)
    document = {"id": key.id, "account_id": key.account_id, "private_key": key.key, "label": label}
    if as_json:
        print_json(document)
        return
    console.print(f"key {key.id}: {key.key}  [dim](shown once)[/dim]")


@keys_app.command("revoke")
def keys_revoke(key_id: str, account: AccountOption = None) -> None:
    """Revoke a private API key; requests with it are refused from now on."""
    from shoptrack.store.accounts import revoke_key

    services, account_id = in_account(account)
    with services.database.write() as connection:
        revoke_key(connection, account_id, key_id, services.clock.now())
    console.print(f"key {key_id} revoked")
