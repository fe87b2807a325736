"""The migrations build exactly the schema the code describes, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, select, text

from shoptrack.store.database import Database
from shoptrack.store.migrations import current_revision, head_revision, upgrade
from shoptrack.store.partitions import ensure_event_partitions, partition_months
from shoptrack.store.schema import events, metadata, metric_rollups, profile_orders


def test_migrated_schema_matches_the_metadata(database_url: str) -> None:
    """Tables, columns, their types and server defaults, indexes and constraints."""
    database = Database(database_url)
    try:
        assert current_revision(database) == head_revision()
        with database.engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "compare_server_default": _defaults_differ,
                    "include_name": _not_partition,
                    "include_object": _made_on(connection.dialect.name),
                },
            )
            differences = compare_metadata(context, metadata)
        assert differences == []
        assert upgrade(database) is False  # already at head: nothing runs
    finally:
        database.dispose()


def _defaults_differ(
    context: MigrationContext,
    _inspected_column: object,
    _metadata_column: object,
    inspected_default: str | None,
    _metadata_default: object,
    rendered_metadata_default: str | None,
) -> bool | None:
    """SQLite reflects a default in the parentheses and quotes of its DDL (``('')``,
    ``(false)``), which Alembic's own comparison does not always take off: compared without
    them there. None lets Alembic compare (PostgreSQL)."""
    if context.dialect.name != "sqlite":
        return None

    def bare(default: str | None) -> str | None:
        return None if default is None else default.strip().strip("()").strip("'")

    return bare(inspected_default) != bare(rendered_metadata_default)


def _not_partition(name: str | None, kind: str, _parents: object) -> bool:
    return not (kind == "table" and name is not None and name.startswith("events_"))


def _made_on(dialect: str) -> Callable[[object, str | None, str, bool, object], bool]:
    """Leaves out what the metadata makes on another database only (``ddl_if(dialect=…)``)."""

    def include(item: object, _name: str | None, _kind: str, reflected: bool, _to: object) -> bool:
        ddl_if = getattr(item, "_ddl_if", None)
        return reflected or ddl_if is None or ddl_if.dialect in (None, dialect)

    return include


def _event_partitions(connection: Connection) -> dict[str, str]:
    """The partitions of ``events`` with their bounds, in UTC."""
    connection.execute(text("SET LOCAL TimeZone = 'UTC'"))
    rows = connection.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent"
            " WHERE p.relname = 'events'"
        )
    )
    return {str(name): str(bound) for name, bound in rows}


def _monthly(now: datetime) -> set[str]:
    return {f"events_{month:%Y_%m}" for month in partition_months(now)}


@pytest.mark.postgres
def test_events_are_partitioned_by_month_on_postgresql(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    database = _empty_database(request, tmp_path, "postgres")
    try:
        # The migration partitions the months around the day it runs: read before and after,
        # as a month may begin meanwhile.
        before = datetime.now(UTC)
        upgrade(database)
        after = datetime.now(UTC)
        with database.write() as connection:
            made = set(_event_partitions(connection)) - {"events_default"}
            assert made in (_monthly(before), _monthly(after))
            # The maintenance adds the months that come into range, once; on a fixed date.
            later = datetime(2041, 6, 15, 12, tzinfo=UTC)
            assert ensure_event_partitions(connection, later) == len(_monthly(later) - made)
            assert ensure_event_partitions(connection, later) == 0
            partitions = _event_partitions(connection)
        assert _monthly(later) <= set(partitions)
        assert partitions["events_2041_06"] == (
            "FOR VALUES FROM ('2041-06-01 00:00:00+00') TO ('2041-07-01 00:00:00+00')"
        )
        assert partitions["events_default"] == "DEFAULT"
    finally:
        database.dispose()


def test_inbox_bodies_are_compressed_with_lz4_on_postgresql(postgres_url: str) -> None:
    """Where the server offers LZ4, as this one (Debian's build) does."""
    database = Database(postgres_url)
    try:
        with database.read() as connection:
            offered = connection.execute(
                text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
            ).scalar_one()
            compression = connection.execute(
                text(
                    "SELECT attcompression FROM pg_attribute "
                    "WHERE attrelid = 'inbox'::regclass AND attname = 'body'"
                )
            ).scalar_one()
        assert "lz4" in offered
        assert compression == "l"
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


def test_plain_flow_webhook_secrets_are_encrypted_by_the_upgrade(database_url: str) -> None:
    """Flows saved before the revision that encrypts them kept their webhook's ``whsec_``
    secret in plain text."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from shoptrack.flows.model import SendWebhook
    from shoptrack.store import migrations
    from shoptrack.store.flows import get_flow
    from shoptrack.store.secrets import CredentialCipher
    from shoptrack.store.types import JSONDocument, UTCDateTime

    cipher = CredentialCipher(["migration-test-key"])
    secret = "whsec_" + "cGxhaW4tdGV4dC1zZWNyZXQ="
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    # Found by its file, whatever number it has among the revisions.
    (sealing,) = [
        revision
        for revision in ScriptDirectory.from_config(config).walk_revisions()
        if revision.path.endswith("_flow_webhook_secrets.py")
    ]
    before = sealing.down_revision
    assert isinstance(before, str)
    # The tables as they were then: only the columns every revision since has.

    def times(*names: str) -> list[sa.ColumnClause[object]]:
        return [sa.column(name, UTCDateTime()) for name in names]

    accounts = sa.table(
        "accounts",
        sa.column("id"),
        sa.column("name"),
        sa.column("public_key"),
        *times("created_at"),
    )
    metrics = sa.table(
        "metrics",
        sa.column("id"),
        sa.column("account_id"),
        sa.column("name"),
        sa.column("source"),
        *times("created_at", "updated_at"),
    )
    flows = sa.table(
        "flows",
        sa.column("id"),
        sa.column("account_id"),
        sa.column("name"),
        sa.column("status"),
        sa.column("trigger_metric_id"),
        sa.column("definition", JSONDocument),
        *times("created_at", "updated_at"),
    )
    now = datetime(2026, 11, 27, tzinfo=UTC)
    webhook = {"type": "send-webhook", "id": "hook", "url": "https://erp.example.com/"}
    database = Database(database_url)
    try:
        with database.engine.connect() as connection:
            config.attributes.update(connection=connection, cipher=cipher)
            command.downgrade(config, before)
            connection.commit()
        with database.write() as connection:
            connection.execute(
                accounts.insert().values(id="A" * 26, name="Old", public_key="pk", created_at=now)
            )
            connection.execute(
                metrics.insert().values(
                    id="M" * 26,
                    account_id="A" * 26,
                    name="Placed Order",
                    source="api",
                    created_at=now,
                    updated_at=now,
                )
            )
            connection.execute(
                flows.insert().values(
                    id="F" * 26,
                    account_id="A" * 26,
                    name="Old flow",
                    status="live",
                    trigger_metric_id="M" * 26,
                    definition={
                        "actions": [{**webhook, "secret": secret}, {"type": "exit", "id": "x"}],
                        "entry": "hook",
                    },
                    created_at=now,
                    updated_at=now,
                )
            )
        with pytest.raises(RuntimeError, match="needs SHOPTRACK_SECRET_KEY"):
            upgrade(database)
        assert current_revision(database) == before  # nothing of it half done
        assert upgrade(database, cipher=cipher) is True
        assert current_revision(database) == head_revision()
        with database.read() as connection:
            stored = connection.execute(sa.select(flows.c.definition)).scalar_one()
            flow = get_flow(connection, "A" * 26, "F" * 26)
        assert secret.removeprefix("whsec_") not in str(stored)
        step = flow.definition.step("hook")
        assert isinstance(step, SendWebhook)
        assert cipher.decrypt(step.secret_encrypted) == {"secret": secret}
        assert stored["actions"][1] == {"type": "exit", "id": "x"}
    finally:
        database.dispose()


def _revision_before(file_suffix: str) -> str:
    """The revision before the one in the file named so, whatever their numbers."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from shoptrack.store import migrations

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    (revision,) = [
        script
        for script in ScriptDirectory.from_config(config).walk_revisions()
        if script.path.endswith(file_suffix)
    ]
    assert isinstance(revision.down_revision, str)
    return revision.down_revision


def _empty_database(request: pytest.FixtureRequest, tmp_path: Path, kind: str) -> Database:
    if kind == "sqlite":
        return Database(f"sqlite:///{tmp_path / 'empty.db'}")
    database = Database(request.getfixturevalue("postgres_url"))
    with database.write() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    return database


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_rollups_and_order_totals_are_rebuilt_from_the_events(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    """The revision that splits rollups by currency and test flag computes them, and profiles'
    order totals, from the events recorded before it."""
    database = _empty_database(request, tmp_path, kind)
    try:
        upgrade(database, to=_revision_before("_rollup_dimensions.py"))
        t0 = datetime(2026, 5, 1, 10, 15, tzinfo=UTC)
        with database.write() as connection:
            connection.execute(
                text(
                    "INSERT INTO accounts (id, name, public_key, created_at) "
                    "VALUES ('A', 'a', 'PUB', :t)"
                ),
                {"t": t0},
            )
            for profile, email in (("P1", "ann@x.com"), ("P2", "test-order+1@shoptrack.invalid")):
                connection.execute(
                    text(
                        "INSERT INTO profiles (id, account_id, email, properties, created_at, "
                        "updated_at) VALUES (:id, 'A', :email, '{}', :t, :t)"
                    ),
                    {"id": profile, "email": email, "t": t0},
                )
            for metric, name in (("M1", "Placed Order"), ("M2", "Refunded Order")):
                connection.execute(
                    text(
                        "INSERT INTO metrics (id, account_id, name, source, created_at, "
                        "updated_at) VALUES (:id, 'A', :name, 'api', :t, :t)"
                    ),
                    {"id": metric, "name": name, "t": t0},
                )
            rows = [
                ("E1", "M1", "P1", t0, 10, "USD", "{}"),
                ("E2", "M1", "P1", t0 + timedelta(minutes=20), 5, "USD", "{}"),
                ("E3", "M1", "P1", t0 + timedelta(days=3), 7, "EUR", "{}"),
                ("E4", "M2", "P1", t0 + timedelta(days=4), 2, "USD", "{}"),
                ("E5", "M1", "P1", t0, 99, "USD", '{"IsTest": true}'),
                ("E6", "M1", "P2", t0, 1, "USD", "{}"),
            ]
            for event_id, metric, profile, time, value, currency, properties in rows:
                connection.execute(
                    events.insert().values(
                        id=event_id,
                        time=time,
                        account_id="A",
                        metric_id=metric,
                        profile_id=profile,
                        unique_id=event_id,
                        value=Decimal(value),
                        value_currency=currency,
                        properties=orjson.loads(properties),
                        backfill=False,
                        received_at=time,
                    )
                )
        upgrade(database)
        with database.read() as connection:
            tests = dict(connection.execute(select(events.c.id, events.c.test)).all())
            rollups = {
                (row.metric_id, row.hour, row.currency, row.test): (row.count, row.value_sum)
                for row in connection.execute(select(metric_rollups))
            }
            totals = {
                (row.profile_id, row.currency): (
                    row.orders,
                    row.placed_value,
                    row.refunded_value,
                    row.first_order_at,
                    row.last_order_at,
                )
                for row in connection.execute(select(profile_orders))
            }
        assert tests == {"E1": False, "E2": False, "E3": False, "E4": False, "E5": True, "E6": True}
        hour = t0.replace(minute=0)
        assert rollups == {
            ("M1", hour, "USD", False): (2, Decimal("15.0000")),
            ("M1", hour, "USD", True): (2, Decimal("100.0000")),
            ("M1", hour + timedelta(days=3), "EUR", False): (1, Decimal("7.0000")),
            ("M2", hour + timedelta(days=4), "USD", False): (1, Decimal("2.0000")),
        }
        assert totals == {
            ("P1", "USD"): (
                2,
                Decimal("15.0000"),
                Decimal("2.0000"),
                t0,
                t0 + timedelta(minutes=20),
            ),
            ("P1", "EUR"): (
                1,
                Decimal("7.0000"),
                Decimal("0.0000"),
                t0 + timedelta(days=3),
                t0 + timedelta(days=3),
            ),
        }
    finally:
        database.dispose()
