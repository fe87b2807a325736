"""A database that refuses writes the way it does for real, for as long as a test says.

SQLite: a read-only database (``PRAGMA query_only``, SQLITE_READONLY, as a read-only file gives;
a file mode would not stop the root user CI runs as) or a full one (``PRAGMA max_page_count`` at
its current size: SQLITE_FULL, "database or disk is full", as a full disk gives). PostgreSQL: a
read-only database (``default_transaction_read_only``, as on a standby). Every connection the
process opens meanwhile gets the condition; the pool is emptied at both ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import psycopg
from sqlalchemy import event

from shoptrack.store.database import Database
from tests.conftest import _admin_url

__all__ = ["refusing_writes"]


@contextlib.contextmanager
def refusing_writes(database: Database, how: str = "read_only") -> Iterator[None]:
    """Within the block the database takes no writes: ``read_only`` or (SQLite) ``full``."""
    if database.is_sqlite:
        with _sqlite_refusing(database, how):
            yield
        return
    if how != "read_only":
        raise ValueError(f"PostgreSQL here refuses writes as read_only only, not {how}")
    with _postgres_read_only(database):
        yield


@contextlib.contextmanager
def _sqlite_refusing(database: Database, how: str) -> Iterator[None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if how == "read_only":
            cursor.execute("PRAGMA query_only = ON")
        elif how == "full":
            (pages,) = cursor.execute("PRAGMA page_count").fetchone()
            cursor.execute(f"PRAGMA max_page_count = {int(pages)}")
        else:
            raise ValueError(how)
        cursor.close()

    event.listen(database.engine, "connect", on_connect)
    database.engine.dispose()
    try:
        yield
    finally:
        event.remove(database.engine, "connect", on_connect)
        database.engine.dispose()


@contextlib.contextmanager
def _postgres_read_only(database: Database) -> Iterator[None]:
    name = database.url.database
    with psycopg.connect(_admin_url(), autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {name} SET default_transaction_read_only = on")
        _disconnect(admin, name)
    try:
        yield
    finally:
        with psycopg.connect(_admin_url(), autocommit=True) as admin:
            admin.execute(f"ALTER DATABASE {name} RESET default_transaction_read_only")
            _disconnect(admin, name)


def _disconnect(admin: psycopg.Connection[Any], name: str | None) -> None:
    """Ends the database's sessions, so the next ones start with its new settings."""
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        (name,),
    )
