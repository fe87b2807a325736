"""Rejected deliveries: the size, hash and truncation of a stored body, and the count of the
ones refused past the per-integration limit without being stored.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shoptrack.store.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable or defaulted columns only: adding them rewrites no row on PostgreSQL.
    for column in (
        sa.Column("body_size", sa.Integer),
        sa.Column("body_sha256", sa.String(64)),
        sa.Column("body_truncated", sa.Boolean, nullable=False, server_default=sa.text("false")),
    ):
        op.add_column("inbox", column)
    op.create_table(
        "unstored_rejections",
        sa.Column("integration_id", sa.String(26), nullable=False),
        sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("deliveries", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("integration_id", "hour", "verdict", name="pk_unstored_rejections"),
    )


def downgrade() -> None:
    op.drop_table("unstored_rejections")
    for column in ("body_truncated", "body_sha256", "body_size"):
        op.drop_column("inbox", column)
