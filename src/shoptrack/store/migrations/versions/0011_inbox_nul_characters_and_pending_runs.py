"""Deliveries say how many NUL characters processing removed from what the store sent; a sync's
rows not processed yet are counted through an index of pending rows only.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting a row.
    op.add_column(
        "inbox",
        sa.Column(
            "nul_characters_removed", sa.Integer, nullable=False, server_default=sa.text("0")
        ),
    )
    # The pending rows of a sync are all its index is read for: built (and the index of every
    # row dropped) without blocking writes on PostgreSQL.
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index(
                "ix_inbox_pending_sync_run_id",
                "inbox",
                ["sync_run_id"],
                postgresql_where=_PENDING,
                postgresql_concurrently=True,
            )
            op.drop_index("ix_inbox_sync_run_id", "inbox", postgresql_concurrently=True)
    else:
        op.create_index(
            "ix_inbox_pending_sync_run_id", "inbox", ["sync_run_id"], sqlite_where=_PENDING
        )
        op.drop_index("ix_inbox_sync_run_id", "inbox")


def downgrade() -> None:
    op.create_index("ix_inbox_sync_run_id", "inbox", ["sync_run_id"])
    op.drop_index("ix_inbox_pending_sync_run_id", "inbox")
    op.drop_column("inbox", "nul_characters_removed")
