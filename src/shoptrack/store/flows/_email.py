"""Whom flow emails may go to and whom they come from, in the database: the account's
suppression list (unsubscribed, bounced, or suppressed by the merchant) and its own From."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update

from shoptrack.errors import NotFoundError
from shoptrack.store._rows import text_value
from shoptrack.store.schema import accounts, email_suppressions
from shoptrack.store.sql import insert_ignore

__all__ = [
    "account_email_from",
    "list_suppressions",
    "set_account_email_from",
    "suppress",
    "suppression_of",
    "unsuppress",
]


def suppress(
    connection: Connection, account_id: str, email: str, reason: str, now: datetime
) -> bool:
    """Adds an address to the account's suppression list; False when it was there already."""
    return insert_ignore(
        connection,
        email_suppressions,
        {"account_id": account_id, "email": email, "reason": reason, "created_at": now},
        conflict=("account_id", "email"),
    )


def unsuppress(connection: Connection, account_id: str, email: str) -> bool:
    """Takes an address off the suppression list; False when it was not on it."""
    result = connection.execute(
        email_suppressions.delete().where(
            email_suppressions.c.account_id == account_id, email_suppressions.c.email == email
        )
    )
    return bool(result.rowcount)


def suppression_of(connection: Connection, account_id: str, email: str) -> str | None:
    """Why the address is suppressed (``unsubscribed``, ``manual``…), or None."""
    return text_value(
        connection,
        email_suppressions.c.reason,
        email_suppressions.c.account_id == account_id,
        email_suppressions.c.email == email,
    )


def list_suppressions(connection: Connection, account_id: str) -> list[Row[Any]]:
    """The account's suppressed addresses, alphabetically."""
    return list(
        connection.execute(
            select(email_suppressions)
            .where(email_suppressions.c.account_id == account_id)
            .order_by(email_suppressions.c.email)
        )
    )


def account_email_from(connection: Connection, account_id: str) -> str | None:
    """The account's own From for flow emails, or None to use ``SHOPTRACK_EMAIL_FROM``."""
    return text_value(connection, accounts.c.email_from, accounts.c.id == account_id)


def set_account_email_from(connection: Connection, account_id: str, email_from: str | None) -> None:
    """Sets (or, with None, clears) the account's From for flow emails."""
    result = connection.execute(
        update(accounts).where(accounts.c.id == account_id).values(email_from=email_from)
    )
    if result.rowcount == 0:
        raise NotFoundError(f"no account {account_id}", parameter="account")
