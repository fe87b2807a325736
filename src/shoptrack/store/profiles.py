"""Profiles: one person per account, found by email, else phone, else external id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from shoptrack.domain.events import Person
from shoptrack.ids import new_id
from shoptrack.store.schema import profiles
from shoptrack.store.sql import insert_ignore

__all__ = ["primary_identifier", "resolve_profile"]

_IDENTIFIERS = ("email", "phone_number", "external_id")


def primary_identifier(person: Person) -> tuple[str, str]:
    """The identifier a person is matched by: the first of email, phone, external id they have.
    Matching by a lesser identifier while a better one is known could join two people."""
    for identifier in _IDENTIFIERS:
        value = getattr(person, identifier)
        if value:
            return identifier, value
    raise ValueError("a profile needs an email, a phone number or an external id")


def _find(connection: Connection, account_id: str, identifier: str, value: str) -> Any:
    return connection.execute(
        select(profiles.c.id, profiles.c.first_name, profiles.c.last_name).where(
            profiles.c.account_id == account_id, profiles.c[identifier] == value
        )
    ).first()


def resolve_profile(connection: Connection, account_id: str, person: Person, now: datetime) -> str:
    """The id of the person's profile, created when none matches.

    Concurrent creators of the same person meet on the unique (account, identifier) index: the
    loser's insert does nothing and it reads the winner's row, so there is never a second profile.
    """
    identifier, value = primary_identifier(person)
    row = _find(connection, account_id, identifier, value)
    if row is None:
        new = {
            "id": new_id(),
            "account_id": account_id,
            "email": person.email,
            "phone_number": person.phone_number,
            "external_id": person.external_id,
            "first_name": person.first_name,
            "last_name": person.last_name,
            "properties": dict(person.properties),
            "created_at": now,
            "updated_at": now,
        }
        if not insert_ignore(connection, profiles, new, conflict=()):
            # A secondary identifier may belong to another profile already: leave it off.
            secondary = {name: None for name in _IDENTIFIERS if name != identifier}
            insert_ignore(
                connection, profiles, new | secondary, conflict=("account_id", identifier)
            )
        row = _find(connection, account_id, identifier, value)
        if row is None:
            raise LookupError("a profile was created and cannot be read back")
        return str(row.id)
    names = {
        column: getattr(person, column)
        for column in ("first_name", "last_name")
        if getattr(person, column) and not getattr(row, column)
    }
    if names:
        connection.execute(
            update(profiles).where(profiles.c.id == row.id).values(**names, updated_at=now)
        )
    return str(row.id)
