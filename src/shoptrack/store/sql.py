"""Statements that differ between SQLite and PostgreSQL only in their dialect's import."""

from __future__ import annotations

import functools
import itertools
import operator
import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from psycopg.types.json import Jsonb
from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Connection,
    Row,
    Table,
    TypeDecorator,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.expression import Select

__all__ = [
    "epoch_seconds",
    "escape_like",
    "execute_many",
    "for_update",
    "in_values",
    "insert_ignore",
    "insert_ignore_returning",
    "insert_many",
    "sqlite_insert_ignore_returning",
    "upsert_add",
    "upsert_add_many",
]


@dataclass(frozen=True, slots=True)
class _SQLitePlan:
    """A statement as SQLite's driver runs it: its text, and how a row of parameters (a
    mapping) becomes the driver's positional values, each converted by its column's type as
    SQLAlchemy would convert it.

    SQLAlchemy binds every parameter of every row through its compiled statement; for the
    processor's many-row statements that was a fifth of all processing on SQLite. A plan does
    the same work once per statement, and per row only what the row's values need."""

    text: str
    pick: Callable[[Mapping[str, Any]], Any]
    conversions: tuple[tuple[int, Callable[[Any], Any]], ...]
    width: int

    def values(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """The driver's values of each row: picked, then converted a column at a time."""
        if self.width == 1:
            picked = [(value,) for value in map(self.pick, rows)]
        else:
            picked = list(map(self.pick, rows))
        if not self.conversions:
            return picked
        columns: list[Any] = list(zip(*picked, strict=True))
        for index, convert in self.conversions:
            columns[index] = map(convert, columns[index])
        return list(zip(*columns, strict=True))


# Plans are kept per dialect (an engine's), for statements built once and run many times.
_SQLITE_PLANS_KEPT = 256
_SQLITE_PLANS: weakref.WeakKeyDictionary[Dialect, dict[Any, _SQLitePlan | None]] = (
    weakref.WeakKeyDictionary()
)


def _sqlite_plan(
    dialect: Dialect, statement: UpdateBase, keys: tuple[str, ...]
) -> _SQLitePlan | None:
    """The plan of ``statement`` for rows with ``keys``, or None when SQLAlchemy has to run it
    (a parameter the rows do not give, such as a column default, or one rendered per run)."""
    plans = _SQLITE_PLANS.setdefault(dialect, {})
    cache_key = (statement, keys)
    if cache_key in plans:
        return plans[cache_key]
    if len(plans) >= _SQLITE_PLANS_KEPT:  # statements built per call would each add one
        plans.clear()
    compiled: Any = statement.compile(dialect=dialect, column_keys=list(keys))
    names = compiled.positiontup
    plan = None
    if (
        names
        and all(name in keys for name in names)
        and not compiled.literal_execute_params
        and not compiled.post_compile_params
    ):
        conversions = []
        for index, name in enumerate(names):
            type_ = compiled.binds[name].type
            convert = type_.dialect_impl(dialect).bind_processor(dialect)
            if convert is not None:
                conversions.append((index, convert))
        plan = _SQLitePlan(
            compiled.string, operator.itemgetter(*names), tuple(conversions), len(names)
        )
    plans[cache_key] = plan
    return plan


def execute_many(
    connection: Connection, statement: UpdateBase, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Runs a statement that returns nothing once per row of parameters (all with the same
    keys), as one ``executemany``: on SQLite straight through its driver (see
    ``_SQLitePlan``), elsewhere through SQLAlchemy."""
    if not rows:
        return
    if connection.dialect.name == "sqlite":
        plan = _sqlite_plan(connection.dialect, statement, tuple(rows[0]))
        if plan is not None:
            connection.exec_driver_sql(plan.text, plan.values(rows))
            return
    connection.execute(statement, [dict(row) for row in rows])


# Rows per multi-row INSERT on SQLite: well within its limit of 32,766 parameters.
_SQLITE_ROWS_PER_INSERT = 500


def _sqlite_insert_returning(
    connection: Connection, statement: UpdateBase, rows: Sequence[Mapping[str, Any]]
) -> list[Row[Any]] | None:
    """A one-row ``INSERT … VALUES (?, …) … RETURNING`` run for many rows as multi-row
    inserts of its ``VALUES`` group repeated; None when SQLAlchemy has to run it."""
    plan = _sqlite_plan(connection.dialect, statement, tuple(rows[0]))
    if plan is None:
        return None
    returned: list[Row[Any]] = []
    for start in range(0, len(rows), _SQLITE_ROWS_PER_INSERT):
        prepared = _multi_row(plan, rows[start : start + _SQLITE_ROWS_PER_INSERT])
        if prepared is None:  # then already for the first chunk: its text is every chunk's
            return None
        returned.extend(connection.exec_driver_sql(*prepared).all())
    return returned


def _multi_row(
    plan: _SQLitePlan, rows: Sequence[Mapping[str, Any]]
) -> tuple[str, tuple[Any, ...]] | None:
    """The plan's one-row ``INSERT … VALUES (?, …)`` as one statement for ``rows``, its
    ``VALUES`` group repeated, and the rows' driver values; None if its text has not exactly
    one such group."""
    group = "(" + ", ".join("?" * plan.width) + ")"
    head, found, tail = plan.text.partition(f"VALUES {group}")
    if not found or group in tail:
        return None
    text = f"{head}VALUES {', '.join([group] * len(rows))}{tail}"
    return text, tuple(itertools.chain.from_iterable(plan.values(rows)))


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
def _sqlite_insert_ignore_returning_statement(
    table: Table, returning: tuple[str, ...], conflict: tuple[str, ...]
) -> Any:
    return (
        sqlite.insert(table)
        .on_conflict_do_nothing(index_elements=list(conflict) or None)
        .returning(*(table.c[name] for name in returning))
    )


_CHANNEL = re.compile(r"[a-z_][a-z0-9_]*")
_MODIFIERS = re.compile(r"\(.*?\)")
_POSTGRESQL = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]  # untyped in SQLAlchemy


def _postgresql_type(table: Table, name: str) -> Any:
    """A column's type as PostgreSQL stores it (a variant's PostgreSQL type, e.g. JSONB)."""
    return table.c[name].type.dialect_impl(_POSTGRESQL)


@dataclass(frozen=True, slots=True)
class _UnnestInsert:
    """PostgreSQL: an INSERT of many rows sent as one array per column, each in binary, made
    into rows by ``unnest`` — a statement whose text does not grow with its rows, so that
    psycopg and PostgreSQL parse and plan it once (a multi-row VALUES of 200 rows took psycopg
    ~30 ms to parse, every time), one statement where an executemany ran one per row, and no
    text to escape or parse: bodies go as bytea, documents as jsonb, times as timestamptz. The
    rows as one JSON document, as before, cost the server about 1.4 times the CPU per inbox row
    (87-117 against 66-81 µs in alternating runs), reading bodies written as hex in JSON."""

    text: str
    columns: tuple[str, ...]
    convert: dict[str, Callable[[Any, Any], Any]]  # shoptrack's own types' conversions
    documents: frozenset[str]  # JSON columns: their values are sent as jsonb

    def parameters(self, rows: Sequence[Mapping[str, Any]]) -> tuple[list[Any], ...]:
        """The rows as one list of values per column, converted as SQLAlchemy converts them."""
        arrays: tuple[list[Any], ...] = tuple([] for _ in self.columns)
        for row in rows:
            for name, values in zip(self.columns, arrays, strict=True):
                value = row[name]
                if value is not None:
                    if name in self.convert:
                        value = self.convert[name](value, _POSTGRESQL)
                    if name in self.documents:
                        value = Jsonb(value, dumps=orjson.dumps)
                values.append(value)
        return arrays


@functools.cache
def _unnest_insert(
    table: Table,
    columns: tuple[str, ...],
    returning: tuple[str, ...] | None = None,
    conflict: tuple[str, ...] = (),
    notify: str | None = None,
) -> _UnnestInsert:
    """The ``_UnnestInsert`` of ``columns`` into ``table``; with ``returning``, rows that
    conflict on ``conflict`` (on any unique index when empty) are skipped and the new ones'
    ``returning`` columns returned; with ``notify``, the statement also signals that channel
    when a row is new (once per transaction: PostgreSQL delivers a repeated one once)."""
    quote = _POSTGRESQL.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    # Arrays of the columns' types without their length or scale: an explicit cast to
    # VARCHAR(n) would cut a longer value short, where the insert's own assignment refuses it.
    arrays = ", ".join(
        f"%b::{_MODIFIERS.sub('', _postgresql_type(table, name).compile(dialect=_POSTGRESQL))}[]"
        for name in columns
    )
    # Names from the schema, quoted by the dialect; values are parameters.
    text = (
        f"INSERT INTO {_POSTGRESQL.identifier_preparer.format_table(table)} ({names}) "  # noqa: S608
        f"SELECT * FROM unnest({arrays})"
    )
    if returning is not None:
        target = f" ({', '.join(quote(name) for name in conflict)})" if conflict else ""
        returned = ", ".join(quote(name) for name in returning)
        text += f" ON CONFLICT{target} DO NOTHING RETURNING {returned}"
        if notify is not None:
            if not _CHANNEL.fullmatch(notify):
                raise ValueError(f"{notify!r} is not a channel name")
            text = (
                f"WITH inserted AS ({text}) "  # noqa: S608  # a checked channel name
                f"SELECT {returned}, pg_notify('{notify}', '') AS woken FROM inserted"
            )
    types = {name: table.c[name].type for name in columns}
    documents = frozenset(
        name for name, type_ in types.items() if isinstance(type_.dialect_impl(_POSTGRESQL), JSON)
    )
    return _UnnestInsert(text, columns, _conversions(table, columns), documents)


@functools.cache
def _conversions(table: Table, columns: tuple[str, ...]) -> dict[str, Callable[[Any, Any], Any]]:
    """The bind conversions of the columns whose type is shoptrack's own (``store/types.py``)."""
    types = {name: table.c[name].type for name in columns}
    return {
        name: type_.process_bind_param
        for name, type_ in types.items()
        if isinstance(type_, TypeDecorator)
    }


_SQLITE = sqlite.pysqlite.dialect()


@functools.cache
def _returned_as_stored(table: Table, returning: tuple[str, ...]) -> bool:
    """Whether the columns read back need no conversion on SQLite (text, numbers), as the
    driver's own rows give them."""
    return all(
        table.c[name].type.dialect_impl(_SQLITE).result_processor(_SQLITE, None) is None
        for name in returning
    )


def insert_ignore_returning(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    returning: Sequence[str],
    conflict: Sequence[str] = (),
    *,
    notify: str | None = None,
) -> list[Row[Any]]:
    """Inserts ``rows`` (all with the same columns, in the order concurrent writers should lock
    them), skipping those that conflict on ``conflict`` (any unique index when empty); returns
    the ``returning`` columns of the rows it inserted. One statement whatever the number of
    rows on PostgreSQL, a few on SQLite. ``notify``: a channel the same statement signals on
    PostgreSQL when it inserts a row (SQLite has no listeners)."""
    if not rows:
        return []
    if connection.dialect.name == "postgresql":
        insert = _unnest_insert(table, tuple(rows[0]), tuple(returning), tuple(conflict), notify)
        return list(connection.exec_driver_sql(insert.text, insert.parameters(rows)))
    statement = _sqlite_insert_ignore_returning_statement(table, tuple(returning), tuple(conflict))
    returned = None
    if _returned_as_stored(table, tuple(returning)):
        returned = _sqlite_insert_returning(connection, statement, rows)
    if returned is None:
        returned = list(connection.execute(statement, [dict(row) for row in rows]))
    return returned


def sqlite_insert_ignore_returning(
    dialect: Dialect,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    returning: Sequence[str],
    conflict: Sequence[str] = (),
) -> tuple[str, tuple[Any, ...]] | None:
    """``insert_ignore_returning`` on SQLite as the driver's statement and values, made before
    the write that runs them: one statement (at most ``_SQLITE_ROWS_PER_INSERT`` rows), whose
    ``returning`` columns come back as the driver gives them. None where that cannot be (too
    many rows, columns that need a conversion, or SQLAlchemy has to run it).

    For the intake writer, whose write lock is held for that one statement: in ``serve`` every
    call into the driver while it is held also waits for the event loop to hand back the GIL."""
    if not rows or len(rows) > _SQLITE_ROWS_PER_INSERT:
        return None
    if not _returned_as_stored(table, tuple(returning)):
        return None
    statement = _sqlite_insert_ignore_returning_statement(table, tuple(returning), tuple(conflict))
    plan = _sqlite_plan(dialect, statement, tuple(rows[0]))
    return None if plan is None else _multi_row(plan, rows)


def insert_many(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Inserts ``rows`` (all with the same columns) in one statement on PostgreSQL, one
    ``executemany`` on SQLite."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        insert = _unnest_insert(table, tuple(rows[0]))
        connection.exec_driver_sql(insert.text, insert.parameters(rows))
    else:
        execute_many(connection, sqlite.insert(table), rows)


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
        execute_many(connection, statement, rows)


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


def escape_like(text: str) -> str:
    """``text`` matched literally by LIKE (with ``escape="\\"``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def in_values(
    connection: Connection, columns: Sequence[ColumnElement[Any]], values: Sequence[Any]
) -> ColumnElement[bool]:
    """The condition that ``columns`` (one, or several compared as a row) equal one of
    ``values`` (values, or tuples of them).

    On PostgreSQL the values are bound as one array per column, whatever their number: an IN
    list of a batch's keys was a statement of several kilobytes, never the same twice, that
    psycopg parsed anew (too long for its cache) and the server planned anew for every batch.
    """
    if connection.dialect.name != "postgresql":
        return (columns[0] if len(columns) == 1 else tuple_(*columns)).in_(values)
    if len(columns) == 1:
        return columns[0] == any_(_array(columns[0], list(values)))
    arrays = [
        _array(column, [value[index] for value in values]) for index, column in enumerate(columns)
    ]
    names = (f"c{index}" for index in range(len(columns)))
    given = func.unnest(*arrays).table_valued(*names).render_derived()
    return tuple_(*columns).in_(select(*given.c))


def _array(column: ColumnElement[Any], values: list[Any]) -> Any:
    return bindparam(None, values, type_=postgresql.ARRAY(column.type))


def for_update(
    connection: Connection, query: Select[Any], *, skip_locked: bool = False
) -> Select[Any]:
    """Row locks on PostgreSQL; SQLite's single writer already holds the whole database."""
    if connection.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=skip_locked)
    return query


def epoch_seconds(dialect_name: str, column: Any) -> ColumnElement[int]:
    """Whole seconds since 1970 of a stored time, truncated (never rounded up into the next
    bucket)."""
    if dialect_name == "postgresql":
        # date_part gives a double where EXTRACT gives a numeric, several times slower per row
        # (a month of a busy metric's events). A microsecond time is a double to 0.5 µs until
        # 2106, so the floor of a time just before a second is never the next second.
        return cast(func.floor(func.date_part("epoch", column)), BigInteger)
    # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff" text, and strftime rounds a fraction to
    # milliseconds (12:59:59.9996 would read as 13:00:00), so the fraction is cut off first.
    return cast(func.strftime("%s", func.substr(column, 1, 19)), BigInteger)
