"""The statements of ``store/sql.py`` on both databases: many rows inserted at once keep every
value exactly, skip the rows that conflict, and say which were inserted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import DateTime, select
from sqlalchemy.dialects import sqlite

from shoptrack.services import Services
from shoptrack.store.schema import event_keys, flow_attributions, order_states
from shoptrack.store.sql import insert_ignore_returning
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
