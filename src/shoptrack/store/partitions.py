"""Monthly partitions of the events table on PostgreSQL.

Events may be dated up to a year ahead, so partitions always exist 13 months ahead; older events
than the first partition land in the default partition. ``ensure_event_partitions`` runs in the
first migration and then daily from the workers' maintenance.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Connection, text

__all__ = ["MONTHS_AHEAD", "MONTHS_BEHIND", "ensure_event_partitions", "partition_months"]

MONTHS_AHEAD = 13
MONTHS_BEHIND = 24


def _add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def partition_months(now: datetime) -> list[date]:
    """The first days of the months that must have a partition at ``now``."""
    this_month = now.astimezone(UTC).date().replace(day=1)
    return [_add_months(this_month, n) for n in range(-MONTHS_BEHIND, MONTHS_AHEAD + 1)]


def ensure_event_partitions(connection: Connection, now: datetime) -> int:
    """Creates the missing monthly partitions; returns how many it created."""
    if connection.dialect.name != "postgresql":
        return 0
    existing = set(
        connection.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events'"
            )
        ).scalars()
    )
    created = 0
    for month in partition_months(now):
        name = f"events_{month:%Y_%m}"
        if name in existing:
            continue
        start, end = f"{month.isoformat()} 00:00:00+00", f"{_add_months(month, 1)} 00:00:00+00"
        # DDL takes no bind parameters; both bounds are dates formatted above, not user input.
        connection.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF events "
                f"FOR VALUES FROM ('{start}') TO ('{end}')"
            )
        )
        created += 1
    return created
