"""Statements that differ between SQLite and PostgreSQL only in their dialect's import."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.expression import Select

__all__ = [
    "for_update",
    "insert_ignore",
    "insert_ignore_returning",
    "upsert_add",
    "upsert_add_many",
]


@functools.cache
def _insert_ignore_statement(
    dialect_name: str, table: Table, columns: tuple[str, ...], conflict: tuple[str, ...]
) -> Any:
    # Built once per shape and reused: building a statement costs more than running it.
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return (
        dialect.insert(table)
        .on_conflict_do_nothing(index_elements=list(conflict) or None)
        # RETURNING rather than rowcount: psycopg 3 reports no rowcount for this statement.
        .returning(literal_column("1"))
    )


def insert_ignore(
    connection: Connection, table: Table, values: Mapping[str, Any], conflict: Sequence[str]
) -> bool:
    """Inserts a row unless it conflicts on the ``conflict`` columns (on any unique index when
    empty); returns whether it did."""
    statement = _insert_ignore_statement(
        connection.dialect.name, table, tuple(sorted(values)), tuple(conflict)
    )
    return connection.execute(statement, dict(values)).first() is not None


@functools.cache
def _insert_ignore_returning_statement(
    dialect_name: str, table: Table, returning: tuple[str, ...], conflict: tuple[str, ...]
) -> Any:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return (
        dialect.insert(table)
        .on_conflict_do_nothing(index_elements=list(conflict) or None)
        .returning(*(table.c[name] for name in returning))
    )


def insert_ignore_returning(
    connection: Connection,
    table: Table,
    returning: Sequence[str],
    conflict: Sequence[str] = (),
) -> Any:
    """An insert of many rows that skips the ones conflicting on ``conflict`` (any unique index
    when empty) and returns the ``returning`` columns of those it inserted: executed with a list
    of rows, it runs as few multi-row statements (SQLAlchemy's "insertmanyvalues")."""
    return _insert_ignore_returning_statement(
        connection.dialect.name, table, tuple(returning), tuple(conflict)
    )


@functools.cache
def _upsert_add_statement(
    dialect_name: str, table: Table, conflict: tuple[str, ...], add: tuple[str, ...]
) -> Any:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(conflict),
        set_={name: table.c[name] + statement.excluded[name] for name in add},
    )


def upsert_add_many(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    conflict: Sequence[str],
    add: Sequence[str],
) -> None:
    """``upsert_add`` for many rows in one executemany; give them sorted by ``conflict`` so
    that concurrent writers lock them in one order."""
    if rows:
        statement = _upsert_add_statement(
            connection.dialect.name, table, tuple(conflict), tuple(add)
        )
        connection.execute(statement, [dict(row) for row in rows])


def upsert_add(
    connection: Connection,
    table: Table,
    values: Mapping[str, Any],
    conflict: Sequence[str],
    add: Sequence[str],
) -> None:
    """Inserts a row, or adds its ``add`` columns to the existing row's (counters, sums)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=list(conflict),
        set_={name: table.c[name] + statement.excluded[name] for name in add},
    )
    connection.execute(statement)


def for_update(
    connection: Connection, query: Select[Any], *, skip_locked: bool = False
) -> Select[Any]:
    """Row locks on PostgreSQL; SQLite's single writer already holds the whole database."""
    if connection.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=skip_locked)
    return query
