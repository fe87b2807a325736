"""The statements of ``store/sql.py`` on both databases: many rows inserted at once keep every
value exactly, skip the rows that conflict, and say which were inserted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import ColumnElement, DateTime, bindparam, select, update
from sqlalchemy.dialects import sqlite

from shoptrack.services import Services
from shoptrack.store.inbox import InboxEntry, write_entries
from shoptrack.store.schema import (
    event_keys,
    flow_attributions,
    inbox,
    metric_rollups,
    order_states,
)
from shoptrack.store.sql import (
    execute_many,
    in_values,
    insert_ignore_returning,
    upsert_add_many,
)
from shoptrack.store.types import UTCDateTime
from shoptrack.testing import make_shop

KEY = ("account_id", "metric_id", "unique_id")


def _key(n: int, time: datetime) -> dict[str, object]:
    return {
        "account_id": "A" * 26,
        "metric_id": "M" * 26,
        "unique_id": f"order-{n}",
        "event_id": f"{n:026d}",
        "time": time,
    }


def test_many_rows_are_inserted_once_and_the_inserted_ones_returned(services: Services) -> None:
    t0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    with services.database.write() as connection:
        first = insert_ignore_returning(
            connection, event_keys, [_key(n, t0) for n in (1, 2, 3)], KEY, KEY
        )
        # 2 and 3 are there already, 4 comes twice in one call: one of it is inserted.
        again = insert_ignore_returning(
            connection, event_keys, [_key(n, t0) for n in (2, 3, 4, 4)], KEY, KEY
        )
        assert insert_ignore_returning(connection, event_keys, [], KEY, KEY) == []
        stored = connection.execute(select(event_keys).order_by(event_keys.c.unique_id)).all()
    assert sorted(row.unique_id for row in first) == ["order-1", "order-2", "order-3"]
    assert [row.unique_id for row in again] == ["order-4"]
    assert [row.unique_id for row in stored] == [f"order-{n}" for n in (1, 2, 3, 4)]
    assert {row.time for row in stored} == {t0}


def test_values_of_every_kind_are_stored_exactly(services: Services) -> None:
    shop = make_shop(services)
    east = timezone(timedelta(hours=14))
    seen = datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=east)
    snapshot = {
        "note": 'a "quoted" \\\\ back\\slash, ünïcödé ✓, a tab\\t and a newline\\n',
        "total": "1234567890.123456789",
        "lines": [{"id": 1, "price": 0.1}, None, True],
        "empty": {},
    }
    row = {
        "integration_id": shop.integration.id,
        "platform_order_id": "1001",
        "account_id": shop.account_id,
        "raw_status": "processing",
        "platform_updated_at": seen,
        "order_created_at": seen - timedelta(days=400),
        "email": None,
        "skipped": True,
        "snapshot": snapshot,
        "first_seen_at": seen,
        "last_seen_at": seen,
    }
    with services.database.write() as connection:
        returned = insert_ignore_returning(
            connection, order_states, [row], ("integration_id", "platform_order_id")
        )
        stored = connection.execute(select(order_states)).one()
    assert [tuple(r) for r in returned] == [(shop.integration.id, "1001")]
    assert stored.snapshot == snapshot
    assert stored.platform_updated_at == seen  # the same instant, read back in UTC
    assert stored.platform_updated_at.tzinfo is not None
    assert stored.order_created_at == seen - timedelta(days=400)
    assert (stored.email, stored.skipped) == (None, True)


def test_bodies_are_stored_byte_for_byte(services: Services) -> None:
    """Large ones (compressed by PostgreSQL), and any bytes, NUL included."""
    shop = make_shop(services)
    bodies = [bytes(range(256)) * 40, b"\x00", b"{}"]
    entries = [
        InboxEntry(account_id=shop.account_id, source="api", topic="t", body=body, dedupe_key=key)
        for key, body in zip("abc", bodies, strict=True)
    ]
    with services.database.write() as connection:
        assert write_entries(connection, entries, datetime.now(UTC)) == [True, True, True]
        stored = connection.execute(select(inbox.c.body).order_by(inbox.c.id)).scalars().all()
    assert stored == bodies


def test_a_value_longer_than_its_column_is_refused_not_cut_short(services: Services) -> None:
    if services.database.is_sqlite:
        pytest.skip("SQLite keeps text of any length whatever the column says")
    with services.database.write() as connection, pytest.raises(Exception, match="too long"):
        insert_ignore_returning(
            connection, event_keys, [{**_key(1, datetime.now(UTC)), "account_id": "A" * 27}], KEY
        )


def test_a_time_without_its_zone_is_refused(services: Services) -> None:
    with services.database.write() as connection, pytest.raises(Exception, match="timezone-aware"):
        insert_ignore_returning(
            connection,
            event_keys,
            [_key(1, datetime(2026, 3, 1, 12))],  # noqa: DTZ001  # the point
            KEY,
            KEY,
        )


def test_exact_decimals_survive(services: Services) -> None:
    # Money: rollups keep sums exactly; a float on the way would lose the last digits.
    value = Decimal("123456789012345.6789")
    row = {
        "event_id": "E" * 26,
        "account_id": "A" * 26,
        "metric_id": "M" * 26,
        "profile_id": "P" * 26,
        "time": datetime(2026, 3, 1, tzinfo=UTC),
        "value": value,
        "currency": "EUR",
        "flow_id": "F" * 26,
        "step_id": "thank-you",
        "delivery_id": "D" * 26,
        "touch": "clicked",
    }
    with services.database.write() as connection:
        insert_ignore_returning(connection, flow_attributions, [row], ["event_id"])
        stored = connection.execute(select(flow_attributions.c.value)).scalar_one()
    assert stored == value


def test_sqlite_stores_times_as_sqlalchemy_writes_them_and_compares_them_in_order() -> None:
    """SQLite's times are bound as text in one call: the same text SQLAlchemy's DATETIME writes,
    whatever the zone given, so rows stored before read and sort as they did."""
    dialect = sqlite.dialect()  # type: ignore[no-untyped-call]  # untyped in SQLAlchemy
    ours = UTCDateTime().bind_processor(dialect)
    theirs = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert ours is not None
    assert theirs is not None
    moments = [
        datetime(2026, 3, 1, 12, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 30, 5, 120, tzinfo=timezone(timedelta(hours=-5))),
        datetime(999, 1, 2, 3, 4, 5, 999_999, tzinfo=timezone(timedelta(hours=2))),
        datetime(9999, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
    ]
    for moment in moments:
        assert ours(moment) == theirs(moment.astimezone(UTC).replace(tzinfo=None))
    assert ours(None) is None
    with pytest.raises(ValueError, match="timezone-aware"):
        ours(datetime(2026, 3, 1, 12))  # noqa: DTZ001  # the point


def _state(integration_id: str, account_id: str, n: int, seen: datetime) -> dict[str, object]:
    return {
        "integration_id": integration_id,
        "platform_order_id": f"{n}",
        "account_id": account_id,
        "raw_status": "processing" if n % 2 else "pending",
        "platform_updated_at": seen + timedelta(microseconds=n),
        "order_created_at": seen - timedelta(days=n),
        "email": None if n % 3 else f"c{n}@example.com",
        "skipped": n % 5 == 0,
        "snapshot": {"n": n, "note": "ünïcödé ✓", "lines": [{"price": "1.10"}], "empty": {}},
        "first_seen_at": seen,
        "last_seen_at": seen,
    }


def test_statements_run_for_many_rows_store_what_sqlalchemy_stores(services: Services) -> None:
    """Many rows at once (more than one multi-row insert's worth on SQLite), inserted, updated
    and added to through ``store/sql.py``, are stored as SQLAlchemy's own statements store
    them, value for value."""
    ours, theirs = make_shop(services), make_shop(services)
    seen = datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-7)))
    rows = {
        shop.integration.id: [
            _state(shop.integration.id, shop.account_id, n, seen) for n in range(1, 1_201)
        ]
        for shop in (ours, theirs)
    }
    changes = {
        integration_id: [
            {
                "k_integration": integration_id,
                "k_order": f"{n}",
                "raw_status": "completed",
                "last_seen_at": seen + timedelta(hours=n),
                "snapshot": {"n": -n},
            }
            for n in range(1, 1_201, 7)
        ]
        for integration_id in rows
    }
    change = (
        update(order_states)
        .where(
            order_states.c.integration_id == bindparam("k_integration"),
            order_states.c.platform_order_id == bindparam("k_order"),
        )
        .values({name: bindparam(name) for name in ("raw_status", "last_seen_at", "snapshot")})
    )
    keys = ("integration_id", "platform_order_id")
    with services.database.write() as connection:
        # A repeated row in the second chunk is inserted once; the rows stored are returned.
        returned = insert_ignore_returning(
            connection,
            order_states,
            [*rows[ours.integration.id], rows[ours.integration.id][0]],
            keys,
        )
        connection.execute(order_states.insert(), rows[theirs.integration.id])
        execute_many(connection, change, changes[ours.integration.id])
        connection.execute(change, changes[theirs.integration.id])
        stored = {
            integration_id: [
                {**row._mapping, "integration_id": None, "account_id": None}
                for row in connection.execute(
                    select(order_states)
                    .where(order_states.c.integration_id == integration_id)
                    .order_by(order_states.c.platform_order_id)
                )
            ]
            for integration_id in rows
        }
    assert sorted(int(row.platform_order_id) for row in returned) == list(range(1, 1_201))
    assert stored[ours.integration.id] == stored[theirs.integration.id]
    assert len(stored[ours.integration.id]) == 1_200
    assert stored[ours.integration.id][0]["last_seen_at"] == seen + timedelta(hours=1)


def test_sums_added_for_many_rows_stay_exact(services: Services) -> None:
    hour = datetime(2026, 3, 1, 12, tzinfo=UTC)
    rows = [
        {
            "account_id": "A" * 26,
            "metric_id": "M" * 26,
            "hour": hour + timedelta(hours=n),
            "currency": "EUR",
            "test": False,
            "count": 1,
            "value_sum": Decimal("123456789012.0001"),
        }
        for n in range(600)
    ]
    conflict = ("account_id", "metric_id", "hour", "currency", "test")
    with services.database.write() as connection:
        for _ in range(2):
            upsert_add_many(connection, metric_rollups, rows, conflict, ("count", "value_sum"))
        stored = connection.execute(
            select(metric_rollups.c.count, metric_rollups.c.value_sum).distinct()
        ).all()
    assert [tuple(row) for row in stored] == [(2, Decimal("246913578024.0002"))]


def test_rows_are_found_by_one_column_or_by_pairs_whatever_their_number(
    services: Services,
) -> None:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    rows = [_key(n, t0) | {"metric_id": f"{n % 3:026d}"} for n in range(1_000)]
    ids = event_keys.c.unique_id
    pair = (event_keys.c.metric_id, event_keys.c.unique_id)

    def found(condition: ColumnElement[bool]) -> list[str]:
        query = select(ids).where(condition).order_by(ids)
        return list(connection.execute(query).scalars())

    with services.database.write() as connection:
        insert_ignore_returning(connection, event_keys, rows, KEY, KEY)
        wanted = [f"order-{n}" for n in range(0, 1_000, 7)]
        assert found(in_values(connection, (ids,), wanted)) == sorted(wanted)
        assert found(in_values(connection, (ids,), [])) == []
        pairs = [(f"{n % 3:026d}", f"order-{n}") for n in (1, 2, 3)] + [(f"{0:026d}", "order-1")]
        assert found(in_values(connection, pair, pairs)) == ["order-1", "order-2", "order-3"]
