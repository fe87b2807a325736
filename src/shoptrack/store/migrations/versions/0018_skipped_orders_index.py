"""The doctor's orders first seen cancelled or declined (``status_skipped``, on Home at every
view) read from a partial index of the skipped order states: a few among hundreds of thousands
of orders, where the index by status made it read every order of the integration.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_NAME = "ix_order_states_skipped"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(
            _NAME,
            "order_states",
            ["integration_id", "raw_status"],
            sqlite_where=sa.text("skipped IS 1"),
        )
        return
    # Built without blocking writes: order states are written by every batch. An earlier run's
    # index, maybe invalid, is dropped first.
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_NAME}")
        op.create_index(
            _NAME,
            "order_states",
            ["integration_id", "raw_status"],
            postgresql_where=sa.text("skipped IS true"),
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    op.drop_index(_NAME, "order_states")
