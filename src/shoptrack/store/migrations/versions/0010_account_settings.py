"""Account settings: the time zone of the web UI's charts and whether test orders start flows.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Defaulted columns: adding them rewrites no row on PostgreSQL.
    op.add_column(
        "accounts", sa.Column("time_zone", sa.String(64), nullable=False, server_default="UTC")
    )
    op.add_column(
        "accounts",
        sa.Column("test_sends", sa.Boolean, nullable=False, server_default=sa.text("false")),
    )


def downgrade() -> None:
    op.drop_column("accounts", "test_sends")
    op.drop_column("accounts", "time_zone")
