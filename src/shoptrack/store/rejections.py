"""Counts of webhook deliveries refused without being stored.

Past its per-integration limit intake answers a refused delivery 401 and stores nothing; the
refusal still counts. Counts are kept by hour and verdict, so the doctor can tell how many
deliveries were refused in its window, stored or not.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from shoptrack.store.schema import unstored_rejections

__all__ = ["UnstoredKey", "add_unstored", "unstored_counts"]

# (integration id, verdict): what one count is kept by.
UnstoredKey = tuple[str, str]


def add_unstored(connection: Connection, counts: Mapping[UnstoredKey, int], now: datetime) -> None:
    """Adds ``counts`` of unstored refusals to the hour of ``now``."""
    if not counts:
        return
    hour = now.replace(minute=0, second=0, microsecond=0)
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(unstored_rejections)
    statement = statement.on_conflict_do_update(
        index_elements=["integration_id", "hour", "verdict"],
        set_={"deliveries": unstored_rejections.c.deliveries + statement.excluded.deliveries},
    )
    connection.execute(
        statement,
        [
            {"integration_id": integration_id, "hour": hour, "verdict": verdict, "deliveries": n}
            for (integration_id, verdict), n in sorted(counts.items())
        ],
    )


def unstored_counts(connection: Connection, integration_id: str, since: datetime) -> dict[str, int]:
    """How many deliveries of ``integration_id`` were refused unstored from the hour of
    ``since`` on, by verdict."""
    hour = since.replace(minute=0, second=0, microsecond=0)
    rows = connection.execute(
        select(unstored_rejections.c.verdict, func.sum(unstored_rejections.c.deliveries))
        .where(
            unstored_rejections.c.integration_id == integration_id,
            unstored_rejections.c.hour >= hour,
        )
        .group_by(unstored_rejections.c.verdict)
    )
    return {str(row[0]): int(row[1]) for row in rows}
