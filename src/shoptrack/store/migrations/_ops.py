"""Column and table shapes the revisions in ``versions`` repeat, for them only.

Frozen: a released revision must make the same tables every time it runs, so a helper here never
changes once a revision uses it (a revision that needs another shape gets a new helper). For the
same reason nothing here comes from ``shoptrack.store.schema``: that describes the newest schema,
and moves on. Like every revision, they rely on the naming convention that ``env.py`` hands
Alembic for what they leave unnamed (primary keys, a column's index).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from shoptrack.store.types import Money, UTCDateTime

__all__ = ["create_indexes", "create_metric_rollups", "reference"]

# shoptrack's ids are ULIDs: 26 characters.
_ULID = 26


def reference(
    table: str, column: str, referred: str, *, nullable: bool = False, index: bool = False
) -> sa.Column[str]:
    """``table``'s column holding an id of a row of ``referred``, with its foreign key named
    ``fk_<table>_<column>_<referred>``; required unless ``nullable``, indexed when ``index``."""
    return sa.Column(
        column,
        sa.String(_ULID),
        sa.ForeignKey(f"{referred}.id", name=f"fk_{table}_{column}_{referred}"),
        nullable=nullable,
        index=index,
    )


def create_indexes(table: str, *indexed: list[str]) -> None:
    """Indexes ``table`` by each list of columns in turn, each named
    ``ix_<table>_<its columns, joined by _>``."""
    for columns in indexed:
        op.create_index(f"ix_{table}_{'_'.join(columns)}", table, columns)


def create_metric_rollups(*dimensions: sa.Column[Any]) -> None:
    """Creates metric_rollups: each metric's events per hour, and per ``dimensions`` (none when
    0001 made it; since 0008 currency and test flag, which 0008's downgrade takes away again)."""
    op.create_table(
        "metric_rollups",
        sa.Column("account_id", sa.String(_ULID), nullable=False),
        sa.Column("metric_id", sa.String(_ULID), nullable=False),
        sa.Column("hour", UTCDateTime(), nullable=False),
        *dimensions,
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("value_sum", Money(), nullable=False),
        sa.PrimaryKeyConstraint(
            "account_id",
            "metric_id",
            "hour",
            *(dimension.name for dimension in dimensions),
            name="pk_metric_rollups",
        ),
    )
