"""Connections with each database's rules: one writer on SQLite, many on PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL`` (a committed row survives a power cut) and
takes its write lock at the start of every write transaction (``BEGIN IMMEDIATE``), so two writers
queue instead of failing half-way. PostgreSQL uses psycopg 3 with a pool.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

__all__ = ["Database"]

# How long a SQLite writer waits for the lock before giving up (milliseconds).
_SQLITE_BUSY_TIMEOUT_MS = 30_000


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class Database:
    """The engines of one database: ``write()`` for write transactions, ``read()`` for reads."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        if self.dialect == "sqlite":
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            self._writer = self._sqlite_engine(immediate=True)
            self._reader = self._sqlite_engine(immediate=False)
        elif self.dialect == "postgresql":
            self._writer = create_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
                json_serializer=_json_dumps,
                json_deserializer=orjson.loads,
            )
            self._reader = self._writer
        else:
            raise ValueError(f"shoptrack runs on SQLite or PostgreSQL, not {self.dialect}")

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def engine(self) -> Engine:
        return self._writer

    def _sqlite_engine(self, *, immediate: bool) -> Engine:
        engine = create_engine(
            self.url,
            # Pooled: closing the last connection of a WAL database checkpoints it and deletes
            # the WAL file, which made every transaction pay for a reconnect and a checkpoint.
            poolclass=QueuePool,
            pool_size=5,
            max_overflow=10,
            connect_args={"check_same_thread": False, "timeout": _SQLITE_BUSY_TIMEOUT_MS / 1000},
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
        )
        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Transactions are begun explicitly below, not by the sqlite3 module.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            connection.exec_driver_sql(begin)

        return engine

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed when the block ends without an exception."""
        with self._writer.begin() as connection:
            yield connection

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot on both databases)."""
        with self._reader.begin() as connection:
            yield connection

    def notify(self, connection: Connection, channel: str) -> None:
        """Wakes workers on other machines early (PostgreSQL); the rows remain the record."""
        if self.dialect == "postgresql":
            connection.execute(text("SELECT pg_notify(:channel, '')"), {"channel": channel})

    def dispose(self) -> None:
        self._writer.dispose()
        self._reader.dispose()
