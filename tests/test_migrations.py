"""The migrations build exactly the schema the code describes, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from shoptrack.store.database import Database
from shoptrack.store.migrations import current_revision, head_revision, upgrade
from shoptrack.store.partitions import ensure_event_partitions, partition_months
from shoptrack.store.schema import metadata


def test_migrated_schema_matches_the_metadata(database_url: str) -> None:
    database = Database(database_url)
    try:
        assert current_revision(database) == head_revision()
        with database.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": False, "include_name": _not_partition}
            )
            differences = compare_metadata(context, metadata)
        assert differences == []
        assert upgrade(database) is False  # already at head: nothing runs
    finally:
        database.dispose()


def _not_partition(name: str | None, kind: str, _parents: object) -> bool:
    return not (kind == "table" and name is not None and name.startswith("events_"))


def test_events_are_partitioned_by_month_on_postgresql(database_url: str) -> None:
    database = Database(database_url)
    try:
        if database.is_sqlite:
            return
        with database.write() as connection:
            partitions = set(
                connection.execute(
                    text(
                        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                        " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events'"
                    )
                ).scalars()
            )
            expected = {f"events_{m:%Y_%m}" for m in partition_months(datetime.now(UTC))}
            assert expected | {"events_default"} <= partitions
            # A year later the maintenance adds the months that have come into range.
            later = datetime(datetime.now(UTC).year + 1, 12, 15, tzinfo=UTC)
            assert ensure_event_partitions(connection, later) > 0
            assert ensure_event_partitions(connection, later) == 0
    finally:
        database.dispose()


def test_processes_starting_together_upgrade_once(postgres_url: str) -> None:
    """Several ``serve`` processes may start on an empty database at once."""
    import threading

    from sqlalchemy import text as sql

    database = Database(postgres_url)
    try:
        with database.write() as connection:
            connection.execute(sql("DROP SCHEMA public CASCADE"))
            connection.execute(sql("CREATE SCHEMA public"))
        results: list[bool] = []
        errors: list[BaseException] = []

        def start() -> None:
            starting = Database(postgres_url)
            try:
                results.append(upgrade(starting))
            except BaseException as error:  # noqa: BLE001  # collected for the assert below
                errors.append(error)
            finally:
                starting.dispose()

        threads = [threading.Thread(target=start) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        assert sorted(results) == [False, False, True]
        assert current_revision(database) == head_revision()
    finally:
        database.dispose()
