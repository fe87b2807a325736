"""Column and index shapes the tables share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Text, text

from shoptrack.store.types import RowId, UTCDateTime

__all__ = [
    "account_row_columns",
    "attempt_columns",
    "counter_column",
    "created_and_updated_columns",
    "flag_column",
    "id_column",
    "lease_columns",
    "partial_index",
    "serial_id_column",
    "ulid_column",
]

# shoptrack's ids are ULIDs (``shoptrack.ids.new_id``): 26 characters.
_ULID = 26


def id_column() -> Column[Any]:
    """A row's own id."""
    return Column("id", String(_ULID), primary_key=True)


def serial_id_column() -> Column[Any]:
    """A row's own id, numbered by the database as rows are added: for the rows read in the
    order they came (the inbox, flow activity, email engagements)."""
    return Column("id", RowId, primary_key=True, autoincrement=True)


def ulid_column(
    name: str, references: str | None = None, *, nullable: bool = False, **options: Any
) -> Column[Any]:
    """A column holding an id (another row's, mostly), with a foreign key to ``references``
    ("table.column") when given; required unless ``nullable``."""
    foreign_keys = [ForeignKey(references)] if references else []
    return Column(name, String(_ULID), *foreign_keys, nullable=nullable, **options)


def account_row_columns(
    *, foreign_key: bool, index: bool | None = None
) -> tuple[Column[Any], Column[Any]]:
    """The first columns of a row an account owns: its own id, then the account's. A table that
    hangs straight off the account makes ``account_id`` a ``foreign_key`` to it (a row under
    another row reaches the account through its parent); ``index`` indexes it."""
    return id_column(), ulid_column(
        "account_id", "accounts.id" if foreign_key else None, index=index
    )


def flag_column(name: str, *, default: bool) -> Column[bool]:
    """A required yes-or-no, ``default`` for rows written without it."""
    return Column(
        name, Boolean, nullable=False, server_default=text("true" if default else "false")
    )


def counter_column(name: str) -> Column[int]:
    """A required count, 0 for rows written without it."""
    return Column(name, Integer, nullable=False, server_default=text("0"))


def created_and_updated_columns() -> tuple[Column[Any], Column[Any]]:
    """When the row was made and when it last changed, both required."""
    return (
        Column("created_at", UTCDateTime(), nullable=False),
        Column("updated_at", UTCDateTime(), nullable=False),
    )


def attempt_columns() -> tuple[Column[Any], Column[Any]]:
    """A work row's tries: how many were made (``attempts``) and the last one's error."""
    return counter_column("attempts"), Column("last_error", Text)


def lease_columns(prefix: str = "") -> tuple[Column[Any], Column[Any]]:
    """A lease on the row (``shoptrack.store._leases.Lease``): the holder's name and when its
    lease runs out, NULL while no process holds it; ``prefix`` names the work leased."""
    return (
        Column(f"{prefix}lease_owner", String(64)),
        Column(f"{prefix}lease_expires_at", UTCDateTime()),
    )


def partial_index(name: str, *columns: str, where: str) -> Index:
    """An index of the rows ``where`` holds for only, a condition both databases read alike."""
    return Index(name, *columns, postgresql_where=text(where), sqlite_where=text(where))
