"""Order fetches: orders named by id-only webhooks, waiting to be fetched from the store.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shoptrack.store.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_fetches",
        sa.Column(
            "integration_id",
            sa.String(26),
            sa.ForeignKey("integrations.id", name="fk_order_fetches_integration_id_integrations"),
            nullable=False,
        ),
        sa.Column("platform_order_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(26), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("last_error", sa.Text),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_expires_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("integration_id", "platform_order_id", name="pk_order_fetches"),
    )
    op.create_index("ix_order_fetches_due_at", "order_fetches", ["due_at"])


def downgrade() -> None:
    op.drop_table("order_fetches")
