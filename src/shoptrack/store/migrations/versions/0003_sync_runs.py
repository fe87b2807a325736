"""Sync runs, and which run fetched each polled inbox row.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shoptrack.store.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("account_id", sa.String(26), nullable=False),
        sa.Column(
            "integration_id",
            sa.String(26),
            sa.ForeignKey("integrations.id", name="fk_sync_runs_integration_id_integrations"),
            nullable=False,
        ),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("backfill", sa.Boolean, nullable=False),
        sa.Column("window_since", UTCDateTime(), nullable=False),
        sa.Column("window_until", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("pages", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("orders_seen", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("rows_written", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("events_recorded", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("error_code", sa.String(64)),
        sa.Column("error_kind", sa.String(16)),
        sa.Column("error_detail", sa.Text),
        sa.Column("error_answer", sa.Text),
    )
    op.create_index(
        "ix_sync_runs_integration_id_started_at", "sync_runs", ["integration_id", "started_at"]
    )
    # Nullable, no default: instant on PostgreSQL; the index is built without blocking writes.
    op.add_column("inbox", sa.Column("sync_run_id", sa.String(26)))
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index(
                "ix_inbox_sync_run_id", "inbox", ["sync_run_id"], postgresql_concurrently=True
            )
    else:
        op.create_index("ix_inbox_sync_run_id", "inbox", ["sync_run_id"])
