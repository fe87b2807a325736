"""Deliveries say how many NUL characters processing removed from what the store sent.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting a row.
    op.add_column(
        "inbox",
        sa.Column(
            "nul_characters_removed", sa.Integer, nullable=False, server_default=sa.text("0")
        ),
    )


def downgrade() -> None:
    op.drop_column("inbox", "nul_characters_removed")
