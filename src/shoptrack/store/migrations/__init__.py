"""Alembic migrations, run by ``shoptrack db upgrade`` and by ``serve`` on an empty database."""

from __future__ import annotations

import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from shoptrack.store.database import Database
from shoptrack.store.secrets import CredentialCipher

__all__ = ["current_revision", "head_revision", "upgrade"]

# Any constant works; it only has to be the same in every shoptrack process.
_ADVISORY_LOCK_ID = 0x5_40_97_2A_C4


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None  # the package ships its migrations
    return head


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(
    database: Database,
    *,
    cipher: CredentialCipher | None = None,
    wait_seconds: float = 600.0,
    to: str = "head",
) -> bool:
    """Brings the schema to the newest revision (or to revision ``to``, for tests of a
    migration's data); returns whether this process ran anything. ``cipher`` encrypts what a
    migration must (flow webhook secrets); an empty database needs none.

    On PostgreSQL an advisory lock makes processes that start together wait for the first one.
    They poll for it (``pg_try_advisory_lock``) rather than block: a blocked statement holds a
    snapshot, and an index built concurrently waits for every snapshot — a deadlock.
    """
    target = head_revision() if to == "head" else to
    if current_revision(database) == target:
        return False
    config = _config()
    with database.engine.connect() as connection:
        if database.dialect == "postgresql":
            deadline = time.monotonic() + wait_seconds
            while not connection.execute(
                text("SELECT pg_try_advisory_lock(:id)"), {"id": _ADVISORY_LOCK_ID}
            ).scalar_one():
                connection.commit()
                if current_revision(database) == target:
                    return False
                if time.monotonic() > deadline:
                    raise TimeoutError("another process has been migrating the schema too long")
                time.sleep(0.2)
        connection.commit()
        try:
            if MigrationContext.configure(connection).get_current_revision() == target:
                return False
            # Alembic must own the transactions: some migrations build indexes concurrently,
            # which PostgreSQL runs only outside a transaction.
            connection.commit()
            config.attributes["connection"] = connection
            config.attributes["cipher"] = cipher
            command.upgrade(config, target)
            connection.commit()
        finally:
            if database.dialect == "postgresql":
                connection.rollback()
                connection.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": _ADVISORY_LOCK_ID}
                )
                connection.commit()
    return True
