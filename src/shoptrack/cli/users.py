"""``shoptrack users …``: the people who sign in to the web UI, each seeing one account."""

from __future__ import annotations

from typing import Annotated

import typer

from shoptrack.cli._common import AccountOption, JsonOption, console, in_account, print_json

__all__ = ["users_app"]

users_app = typer.Typer(
    help="Users of the web UI (each belongs to one account).", no_args_is_help=True
)


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Argument(help="The user's email; they sign in with it.")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="At least 10 characters; asked for (hidden) when not given.",
        ),
    ],
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a user who signs in to the web UI and sees this account only."""
    from shoptrack.users import create_user

    services, account_id = in_account(account)
    user = create_user(services, account_id=account_id, email=email, password=password)
    document = {"id": user.id, "account_id": user.account_id, "email": user.email}
    if as_json:
        print_json(document)
        return
    console.print(f"user {user.email} ({user.id}) created in account {user.account_id}")


@users_app.command("list")
def users_list(
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the users of an account (a table; --json for scripts)."""
    from shoptrack.cli._output import Column, print_listing
    from shoptrack.store.users import list_users

    services, account_id = in_account(account)
    with services.database.read() as connection:
        found = list_users(connection, account_id)
    print_listing(
        console,
        [{"id": u.id, "account_id": u.account_id, "email": u.email} for u in found],
        {"id": Column("ID"), "email": Column("Email", wrap=True)},
        empty="no users in this account yet: add one with `shoptrack users create EMAIL`",
        as_json=as_json,
    )
