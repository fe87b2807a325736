"""SQLite's writers take the write lock in turn (``store/database.py``'s write queue): one that
waits gets it before the one that let it go can take it back, and a writer killed while holding
it holds up nobody."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from shoptrack.store import database as database_module
from shoptrack.store.database import Database
from tests.processes import wait_until


@pytest.fixture
def database(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'queue.db'}")
    with database.write() as connection:
        connection.execute(text("CREATE TABLE turns (writer TEXT)"))
    return database


# A writer that takes the lock, says so and holds it until it is killed.
_HOLDER = """
import sys
from sqlalchemy import text
from shoptrack.store.database import Database
with Database(sys.argv[1]).write() as connection:
    connection.execute(text("INSERT INTO turns VALUES ('killed')"))
    print("holding", flush=True)
    sys.stdin.read()
"""


def _queued(database_file: Path) -> bool:
    """Whether a writer waits for the lock: it holds the gate meanwhile."""
    descriptor = os.open(f"{database_file}-write-gate", os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)  # and with it the gate, if this took it
    return False


def _write(database: Database, writer: str) -> None:
    with database.write() as connection:
        connection.execute(text("INSERT INTO turns VALUES (:writer)"), {"writer": writer})


def _turns(database: Database) -> list[str]:
    with database.read() as connection:
        return list(connection.execute(text("SELECT writer FROM turns ORDER BY rowid")).scalars())


def test_a_waiting_writer_goes_before_the_one_that_let_go_writes_again(
    database: Database, tmp_path: Path
) -> None:
    waiting = threading.Thread(target=_write, args=(database, "waiting"))
    with database.write() as connection:
        connection.execute(text("INSERT INTO turns VALUES ('first')"))
        waiting.start()
        wait_until(lambda: _queued(tmp_path / "queue.db"), timeout=30)
    _write(database, "first again")  # at once: it queues behind the waiting writer
    waiting.join(timeout=30)

    assert _turns(database) == ["first", "waiting", "first again"]


def test_a_writer_killed_while_it_holds_the_lock_holds_up_nobody(
    database: Database, tmp_path: Path
) -> None:
    url = database.url.render_as_string(hide_password=False)
    with subprocess.Popen(
        [sys.executable, "-c", _HOLDER, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline() == b"holding\n"
            waiting = threading.Thread(target=_write, args=(database, "after"))
            waiting.start()
            wait_until(lambda: _queued(tmp_path / "queue.db"), timeout=30)
            holder.kill()  # SIGKILL: no cleanup runs; the kernel lets go of its locks
            waiting.join(timeout=30)
            assert not waiting.is_alive()
        finally:
            holder.kill()

    assert _turns(database) == ["after"]  # the killed writer's transaction never committed


def test_a_second_write_of_one_thread_is_refused_by_sqlite_not_left_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thread already in a write transaction does not queue behind itself, through the same
    database or another of the same file: it meets SQLite's busy timeout, as it would without
    the queue (shortened here)."""
    monkeypatch.setattr(database_module, "_SQLITE_BUSY_TIMEOUT_MS", 50)
    database = Database(f"sqlite:///{tmp_path / 'nested.db'}")
    same_file = Database(f"sqlite:///{tmp_path / '.' / 'nested.db'}")
    with database.write() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        for nesting in (database, same_file):
            with pytest.raises(OperationalError, match="locked"), nesting.write() as nested:
                nested.execute(text("INSERT INTO t VALUES (1)"))


def test_a_commit_watch_sees_the_commits_of_other_connections(database: Database) -> None:
    with database.commit_watch() as committed:
        assert not committed()  # nothing since the watch began
        with database.write() as connection:
            connection.execute(text("INSERT INTO turns VALUES ('one')"))
        assert committed()
        assert not committed()  # seen once
        with database.read() as connection:  # reading commits nothing
            connection.execute(text("SELECT count(*) FROM turns")).scalar_one()
        assert not committed()
