"""Connections with each database's rules: one writer on SQLite, many on PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL`` (a committed row survives a power cut; derived
writes relax it, see ``Database.write``) and takes its write lock at the start of every write
transaction (``BEGIN IMMEDIATE``), so two writers queue instead of failing half-way — in turn,
through a queue of file locks beside the database (``_WriteQueue``). PostgreSQL uses psycopg 3
with a pool.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import orjson
import psycopg
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy import exc as sqlalchemy_errors
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

__all__ = ["Database", "DatabaseReadOnlyError", "KeptConnection", "database_unavailable"]

_T = TypeVar("_T")

# How long a SQLite writer waits for the lock before giving up (milliseconds).
_SQLITE_BUSY_TIMEOUT_MS = 30_000
# How long connecting to PostgreSQL may take before it counts as unreachable (seconds): without
# it a host that drops packets holds a request for the kernel's TCP timeout, minutes.
_POSTGRES_CONNECT_TIMEOUT = 10

# SQLite's primary result codes that say the database cannot take a write now, whatever is
# written: busy or locked past the timeout, out of memory, read-only, I/O error, disk full,
# cannot open the file, a lock protocol error.
_SQLITE_UNAVAILABLE = {5, 6, 7, 8, 10, 13, 14, 15}
# PostgreSQL's SQLSTATE classes and codes that say the same: connection exceptions,
# insufficient resources (disk full, out of memory), operator intervention (shutdown), system
# errors; and a read-only transaction (a standby, or default_transaction_read_only).
_POSTGRES_UNAVAILABLE_CLASSES = ("08", "53", "57", "58")
_POSTGRES_READ_ONLY = "25006"


class DatabaseReadOnlyError(Exception):
    """The database says it takes no writes now (a standby, or set read-only)."""


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot take writes now — unreachable, shut down,
    read-only, out of space — rather than that something about the statement or its data is
    wrong. The first kind passes; the second would fail again however long one waited."""
    if isinstance(error, DatabaseReadOnlyError | sqlalchemy_errors.TimeoutError):
        return True  # read-only; or no pooled connection came free: the database holds them all
    original: BaseException | None = error
    if isinstance(error, sqlalchemy_errors.DBAPIError):
        if error.connection_invalidated:
            return True
        original = error.orig
    if isinstance(original, sqlite3.Error):
        code = getattr(original, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in _SQLITE_UNAVAILABLE
    if isinstance(original, psycopg.Error):
        return _postgres_unavailable(original)
    return False


def _postgres_unavailable(error: psycopg.Error) -> bool:
    if isinstance(error, psycopg.InterfaceError):
        return True
    state = error.sqlstate
    if state is None:
        # Raised by the client itself: connection refused, closed or lost.
        return isinstance(error, psycopg.OperationalError)
    return state.startswith(_POSTGRES_UNAVAILABLE_CLASSES) or state == _POSTGRES_READ_ONLY


def _sqlite_synchronous(connection: Connection, level: str) -> None:
    """Sets SQLite's ``synchronous`` on the driver's connection, outside any transaction (a
    statement through SQLAlchemy would begin one first, and with it the write lock)."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(f"PRAGMA synchronous={level}")
    finally:
        cursor.close()


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class _WriteQueue:
    """Hands SQLite's one write lock from writer to writer in turn, across the threads and
    processes that share a database file.

    SQLite's own wait for a busy lock sleeps and tries again (1, 2, 5, 10 … 100 ms apart), so
    a writer whose rival commits every few milliseconds (intake's group commits during a burst)
    got its turn late or not at all — processing waited up to 0.4 s for a turn of 50 rows —
    and once it had it, intake overslept it. Two ``flock``s on files beside the database queue
    them instead: a writer takes the *gate*, then the *lock*, and lets go of the gate; whoever
    waits for the lock holds the gate meanwhile, so the writer that just committed cannot take
    the lock back before it, and two busy writers alternate. The kernel wakes a waiter as the
    lock is let go and lets go of both when a process dies (``kill -9`` included). Writers that
    do not pass here (migrations, a ``sqlite3`` shell) still meet SQLite's busy timeout.
    """

    def __init__(self, database: Path) -> None:
        database = database.resolve()  # one file, however it is named
        self._gate = str(database.with_name(f"{database.name}-write-gate"))
        self._lock = str(database.with_name(f"{database.name}-write-lock"))

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Holds the write lock for the block, once the writers queued before have had theirs."""
        writing: set[str] = _writing.__dict__.setdefault("locks", set())
        if self._lock in writing:
            # This thread writes already: a second transaction meets SQLite's busy timeout, as
            # it would without the queue.
            yield
            return
        with contextlib.ExitStack() as held:
            try:
                gate, lock = (_opened(held, path) for path in (self._gate, self._lock))
            except OSError:  # a directory that takes no new file: SQLite's own wait alone
                pass
            else:
                fcntl.flock(gate, fcntl.LOCK_EX)
                fcntl.flock(lock, fcntl.LOCK_EX)
                fcntl.flock(gate, fcntl.LOCK_UN)
            writing.add(self._lock)
            try:
                yield
            finally:
                writing.discard(self._lock)  # and closing the files lets go of the lock


# The write locks each thread holds (``_WriteQueue``).
_writing = threading.local()


def _opened(held: contextlib.ExitStack, path: str) -> int:
    """A file descriptor of its own for ``path`` (a ``flock`` belongs to one), closed with
    ``held``."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    held.callback(os.close, descriptor)
    return descriptor


class Database:
    """The engines of one database: ``write()`` for write transactions, ``read()`` for reads."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = make_url(url)
        # Connections kept by their users across writes, closed by ``dispose`` with the rest.
        self._kept: weakref.WeakSet[KeptConnection] = weakref.WeakSet()
        self.dialect = self.url.get_backend_name()
        self._queue: _WriteQueue | None = None
        if self.dialect == "sqlite":
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
                self._queue = _WriteQueue(Path(self.url.database))
            self._writer = self._sqlite_engine(immediate=True)
            self._reader = self._sqlite_engine(immediate=False)
        elif self.dialect == "postgresql":
            connect_args = (
                {}
                if "connect_timeout" in self.url.query
                else {"connect_timeout": _POSTGRES_CONNECT_TIMEOUT}
            )
            self._writer = create_engine(
                self.url,
                connect_args=connect_args,
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
    def write(self, *, derived: bool = False) -> Iterator[Connection]:
        """A write transaction, committed when the block ends without an exception.

        ``derived``: everything the transaction writes is derived from rows already durable
        (processing an inbox row): its commit does not wait for the disk (SQLite
        ``synchronous=NORMAL``, PostgreSQL ``synchronous_commit=off``). A power cut or a
        database crash may then undo the last such commits — never half of one — and their rows
        are processed again, exactly once as before; a process killed outright loses nothing.
        Whatever leaves shoptrack (an email, a webhook) is sent after a commit that does wait
        for the disk, and that commit makes every earlier one durable with it: the log is
        written and flushed in order.
        """
        if self.is_sqlite:
            with self.write_turn(), self._sqlite_write(derived=derived) as connection:
                yield connection
        elif not derived:
            with self._writer.begin() as connection:
                yield connection
        else:
            with self._writer.begin() as connection:
                connection.execute(text("SET LOCAL synchronous_commit = off"))
                yield connection

    def write_turn(self) -> contextlib.AbstractContextManager[None]:
        """This thread's turn for SQLite's write lock (``_WriteQueue``), which ``write()``
        takes itself; nothing to wait for on PostgreSQL."""
        return self._queue.turn() if self._queue else contextlib.nullcontext()

    @contextlib.contextmanager
    def _sqlite_write(self, *, derived: bool) -> Iterator[Connection]:
        if not derived:
            with self._writer.begin() as connection:
                yield connection
            return
        with self._writer.connect() as connection:
            _sqlite_synchronous(connection, "NORMAL")
            try:
                with connection.begin():
                    yield connection
            finally:
                _sqlite_synchronous(connection, "FULL")

    @contextlib.contextmanager
    def commit_watch(self) -> Iterator[Callable[[], bool]]:
        """SQLite: a function that tells whether another connection committed since it was
        last called (``PRAGMA data_version``, on a connection kept for it) — a few microseconds
        a call, for a process waiting on another's writes to look again only when there are
        any."""
        with self._reader.connect() as connection:
            driver = cast("sqlite3.Connection", connection.connection.dbapi_connection)
            seen: Any = None

            def committed() -> bool:
                nonlocal seen
                version = driver.execute("PRAGMA data_version").fetchone()
                changed: bool = version != seen
                seen = version
                return changed

            committed()
            yield committed

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot on both databases)."""
        with self._reader.begin() as connection:
            yield connection

    def ping(self) -> None:
        """Reads from the database once; raises what it says when it cannot answer."""
        with self.read() as connection:
            connection.execute(text("SELECT 1"))

    def check_writable(self, connection: Connection) -> None:
        """Raises ``DatabaseReadOnlyError`` when the write transaction of ``connection`` could
        write nothing: PostgreSQL says so up front, where SQLite refuses already at ``BEGIN
        IMMEDIATE``. A cheap probe, for a transaction that writes nothing itself."""
        if self.dialect == "postgresql":
            read_only = connection.execute(text("SHOW transaction_read_only")).scalar_one()
            if read_only == "on":
                raise DatabaseReadOnlyError("the database is read-only (transaction_read_only)")

    def notify(self, connection: Connection, channel: str) -> None:
        """Wakes workers on other machines early (PostgreSQL); the rows remain the record."""
        if self.dialect == "postgresql":
            connection.execute(text("SELECT pg_notify(:channel, '')"), {"channel": channel})

    def kept_connection(self) -> KeptConnection:
        """A connection for one thread's writes of one statement each (``KeptConnection``),
        closed by ``dispose`` if its user has not closed it by then."""
        kept = KeptConnection(self)
        self._kept.add(kept)
        return kept

    def dispose(self) -> None:
        # A connection still kept would outlive its pool, left open until collected.
        for kept in list(self._kept):
            kept.close()
        self._writer.dispose()
        self._reader.dispose()


class KeptConnection:
    """A connection that one thread keeps for its writes of one statement each, every statement
    committed as it ends (autocommit), for a writer that runs many small ones in a row.

    Against a pooled write transaction it saves the pool's liveness ping and the ``BEGIN`` and
    ``COMMIT`` of each write: on PostgreSQL one round trip a write instead of four. Only where a
    single statement is the whole write (it commits alone, atomically). When a statement fails
    because the server closed the kept connection meanwhile (a restart), it runs once more on a
    fresh one, which the pool checks as it hands it over; any failure drops the connection.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._connection: Connection | None = None

    def run(self, statement: Callable[[Connection], _T]) -> _T:
        """The result of ``statement`` (one statement) run on the kept connection."""
        try:
            return self._run_once(statement)
        except sqlalchemy_errors.DBAPIError as error:
            if not error.connection_invalidated:
                raise
        return self._run_once(statement)  # on a fresh connection: the kept one had died

    def _run_once(self, statement: Callable[[Connection], _T]) -> _T:
        connection = self._connection or self._open()
        try:
            return statement(connection)
        except BaseException:
            self.close()
            raise

    def run_on_driver(self, text: str, values: Sequence[Any]) -> list[Any]:
        """SQLite: the rows of one statement run on the kept connection's driver, committed as
        it ends, in this thread's turn for the write lock (``Database.write_turn``), which it
        holds for that statement alone: no ``BEGIN`` or ``COMMIT`` around it (the driver's
        connections are in autocommit: ``Database`` begins its transactions itself)."""
        if self._connection is None:
            self._connection = self._database.engine.connect()
        driver = cast("sqlite3.Connection", self._connection.connection.dbapi_connection)
        try:
            with self._database.write_turn():
                return driver.execute(text, values).fetchall()
        except BaseException:
            self.close()
            raise

    def _open(self) -> Connection:
        connection = self._database.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self._connection = connection
        return connection

    def close(self) -> None:
        """Returns the connection to the pool, if one is kept."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # a dead connection: the pool discards it
                connection.close()
