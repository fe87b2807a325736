"""Profiles: one person per account, found by id, else email, else phone, else external id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from shoptrack.domain.events import Person
from shoptrack.errors import NotFoundError
from shoptrack.ids import new_id
from shoptrack.store.schema import profiles
from shoptrack.store.sql import insert_ignore

__all__ = ["PROFILE_ATTRIBUTES", "primary_identifier", "resolve_profile"]

_IDENTIFIERS = ("email", "phone_number", "external_id")
# Standard attributes stored in their own columns (Person.attributes).
PROFILE_ATTRIBUTES = ("anonymous_id", "organization", "locale", "title", "image", "location")


def primary_identifier(person: Person) -> tuple[str, str]:
    """The identifier a person is matched by: the first of id, email, phone, external id they
    have. Matching by a lesser identifier while a better one is known could join two people."""
    if person.profile_id:
        return "id", person.profile_id
    for identifier in _IDENTIFIERS:
        value = getattr(person, identifier)
        if value:
            return identifier, value
    raise ValueError("a profile needs an email, a phone number or an external id")


def _find(connection: Connection, account_id: str, identifier: str, value: str) -> Any:
    return connection.execute(
        select(profiles).where(profiles.c.account_id == account_id, profiles.c[identifier] == value)
    ).first()


def resolve_profile(connection: Connection, account_id: str, person: Person, now: datetime) -> str:
    """The id of the person's profile, created when none matches, updated with what is new.

    Concurrent creators of the same person meet on the unique (account, identifier) index: the
    loser's insert does nothing and it reads the winner's row, so there is never a second profile.
    """
    identifier, value = primary_identifier(person)
    row = _find(connection, account_id, identifier, value)
    if row is None and identifier == "id":
        raise NotFoundError(
            f"no profile {value} in this account", pointer="/data/attributes/profile"
        )
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
        } | {name: person.attributes.get(name) for name in PROFILE_ATTRIBUTES}
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
    changes = _changes(row, person)
    if changes:
        connection.execute(
            update(profiles).where(profiles.c.id == row.id).values(**changes, updated_at=now)
        )
    return str(row.id)


def _changes(row: Any, person: Person) -> dict[str, Any]:
    """What the person adds to the stored profile: new values, or (from the API) changed ones.
    Identifiers are never changed this way; a profile is re-keyed only by its own update."""
    given: dict[str, Any] = {
        "first_name": person.first_name,
        "last_name": person.last_name,
        **{name: person.attributes.get(name) for name in PROFILE_ATTRIBUTES},
    }
    changes = {
        name: value
        for name, value in given.items()
        if value is not None
        and value != getattr(row, name)
        and (person.overwrite or getattr(row, name) is None)
    }
    if person.properties:
        merged = {**row.properties, **person.properties}
        if merged != row.properties:
            changes["properties"] = merged
    return changes
