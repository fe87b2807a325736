"""Indexes that keep reads quick with millions of events (measured by ``bench/scale.py``):

- a profile's feed and a metric's events are read a page at a time, newest first by time then
  id: their indexes hold the id after the time, so a page is an index's first rows (ordered by
  time alone, PostgreSQL walked every monthly partition's primary key backwards instead), and
  the metric's index carries each event's profile and test flag, so unique profiles per day are
  counted from the index alone;
- the doctor counts an integration's orders by status and reads its newest orders (on Home,
  at every view): from an index of order states by status carrying what it counts, and one by
  creation time;
- the Profiles search matches the start of an email with LIKE, which a PostgreSQL index serves
  only with the pattern operators (SQLite's case-blind LIKE uses no index: none is made there).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

On PostgreSQL every index is built without blocking writes: concurrently, and for the
partitioned events table as an index on the table only, each partition's built concurrently
and attached (the table's is valid once all are); a replaced index is dropped afterwards and
the new one takes its name. A run that stopped halfway starts again where it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


# A NamedTuple, not a dataclass: Alembic loads a migration without registering its module.
class _Index(NamedTuple):
    name: str
    table: str
    columns: tuple[str, ...]  # as SQL, "time" quoted
    include: tuple[str, ...] = ()
    # Built on SQLite too; not when SQLite has no use for it or its change there is none
    # (SQLite has no INCLUDE).
    on_sqlite: bool = True

    def sql(self) -> str:
        """The index's definition after the table, as pg_indexes shows it."""
        include = f" INCLUDE ({', '.join(self.include)})" if self.include else ""
        return f"({', '.join(self.columns)}){include}"


_TIME_ID = ('"time" DESC', "id DESC")
_NEW = (
    _Index("ix_events_feed", "events", ("account_id", "profile_id", *_TIME_ID)),
    _Index(
        "ix_events_metric",
        "events",
        ("account_id", "metric_id", *_TIME_ID),
        include=("profile_id", "test"),
    ),
    _Index(
        "ix_order_states_integration_id_raw_status",
        "order_states",
        ("integration_id", "raw_status"),
        include=("placed_recorded_at", "order_created_at", "skipped"),
        on_sqlite=False,
    ),
    _Index(
        "ix_order_states_integration_id_order_created_at",
        "order_states",
        ("integration_id", "order_created_at"),
    ),
    _Index(
        "ix_profiles_email_prefix",
        "profiles",
        ("account_id", "email varchar_pattern_ops"),
        on_sqlite=False,
    ),
)
# What 0001 made of the indexes replaced (the others are new).
_OLD = (
    _Index("ix_events_feed", "events", ("account_id", "profile_id", '"time" DESC')),
    _Index("ix_events_metric", "events", ("account_id", "metric_id", '"time" DESC')),
    _Index(
        "ix_order_states_integration_id_raw_status",
        "order_states",
        ("integration_id", "raw_status"),
        on_sqlite=False,
    ),
)


def upgrade() -> None:
    _build(_NEW, drop=())


def downgrade() -> None:
    replaced = {index.name for index in _OLD}
    _build(_OLD, drop=[index for index in _NEW if index.name not in replaced])


def _build(indexes: Sequence[_Index], drop: Sequence[_Index]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        for index in (*drop, *indexes):
            if index.on_sqlite:
                op.execute(f"DROP INDEX IF EXISTS {index.name}")
        for index in indexes:
            if index.on_sqlite:
                op.create_index(index.name, index.table, [sa.text(c) for c in index.columns])
        return
    with op.get_context().autocommit_block():
        for index in drop:
            op.execute(f"DROP INDEX IF EXISTS {index.name}")
        for index in indexes:
            _build_postgresql(index)


def _build_postgresql(index: _Index) -> None:
    """Builds ``index`` under a temporary name without blocking writes, then puts it in place
    of an index of its name; nothing when that one is already defined so. DDL takes no bind
    parameters: every name is this module's or the catalogue's."""
    if _definition(index.name).endswith(index.sql()):
        return
    building = f"{index.name}_new"
    # An earlier run's: dropping a partitioned index drops the partitions' attached to it.
    op.execute(f"DROP INDEX IF EXISTS {building}")
    partitions = _partitions(index.table)
    if not partitions:
        op.execute(f"CREATE INDEX CONCURRENTLY {building} ON {index.table} {index.sql()}")
    else:
        op.execute(f"CREATE INDEX {building} ON ONLY {index.table} {index.sql()}")
        for partition in partitions:
            child = f"{building}_{partition.removeprefix(index.table + '_')}"
            op.execute(f"DROP INDEX IF EXISTS {child}")  # an unattached one, maybe invalid
            op.execute(f"CREATE INDEX CONCURRENTLY {child} ON {partition} {index.sql()}")
            op.execute(f"ALTER INDEX {building} ATTACH PARTITION {child}")
    # The index replaced goes with its partitions' indexes; the new ones take their names.
    op.execute(f"DROP INDEX IF EXISTS {index.name}")
    op.execute(f"ALTER INDEX {building} RENAME TO {index.name}")
    for partition in partitions:
        suffix = partition.removeprefix(index.table + "_")
        op.execute(f"ALTER INDEX {building}_{suffix} RENAME TO {index.name}_{suffix}")


def _definition(name: str) -> str:
    found = op.get_bind().execute(
        sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"), {"name": name}
    )
    return str(found.scalar() or "")


def _partitions(table: str) -> list[str]:
    found = op.get_bind().execute(
        sa.text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :table ORDER BY 1"
        ),
        {"table": table},
    )
    return [str(name) for name in found.scalars()]
