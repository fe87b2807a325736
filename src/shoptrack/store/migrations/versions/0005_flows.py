"""Flows: definitions, runs (the durable work rows of their steps), deliveries, activity, the
suppression list, and the account's From address.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shoptrack.store.migrations import _ops
from shoptrack.store.types import JSONDocument, RowId, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    false = sa.text("false")
    zero = sa.text("0")
    # Nullable without a default: an instant change on PostgreSQL, safe under load.
    op.add_column("accounts", sa.Column("email_from", sa.String(320)))
    op.create_table(
        "flows",
        sa.Column("id", sa.String(26), primary_key=True),
        _ops.reference("flows", "account_id", "accounts"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("template", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("archived", sa.Boolean, nullable=False, server_default=false),
        _ops.reference("flows", "trigger_metric_id", "metrics"),
        sa.Column("definition", JSONDocument, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index(
        "ix_flows_account_id_trigger_metric_id", "flows", ["account_id", "trigger_metric_id"]
    )
    op.create_table(
        "flow_runs",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("account_id", sa.String(26), nullable=False),
        _ops.reference("flow_runs", "flow_id", "flows"),
        sa.Column("profile_id", sa.String(26), nullable=False),
        sa.Column("trigger_event_id", sa.String(26), nullable=False),
        sa.Column("trigger_time", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("step_id", sa.String(64)),
        sa.Column("due_at", UTCDateTime()),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=zero),
        sa.Column("last_error", sa.Text),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_expires_at", UTCDateTime()),
        sa.Column("entered_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("exit_reason", sa.String(64)),
        sa.UniqueConstraint(
            "flow_id", "trigger_event_id", name="uq_flow_runs_flow_id_trigger_event_id"
        ),
    )
    op.create_index(
        "ix_flow_runs_due",
        "flow_runs",
        ["due_at"],
        postgresql_where=sa.text("state = 'active'"),
        sqlite_where=sa.text("state = 'active'"),
    )
    _ops.create_indexes(
        "flow_runs", ["flow_id", "profile_id", "entered_at"], ["account_id", "profile_id"]
    )
    op.create_table(
        "flow_deliveries",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("account_id", sa.String(26), nullable=False),
        sa.Column("flow_id", sa.String(26), nullable=False),
        _ops.reference("flow_deliveries", "flow_run_id", "flow_runs"),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("profile_id", sa.String(26), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(2000), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("subject", sa.Text),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=zero),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime()),
        sa.UniqueConstraint(
            "flow_run_id", "step_id", name="uq_flow_deliveries_flow_run_id_step_id"
        ),
    )
    op.create_index(
        "ix_flow_deliveries_account_id_profile_id_created_at",
        "flow_deliveries",
        ["account_id", "profile_id", "created_at"],
    )
    op.create_table(
        "flow_activity",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(26), nullable=False),
        sa.Column("flow_id", sa.String(26), nullable=False),
        sa.Column("flow_run_id", sa.String(26)),
        sa.Column("profile_id", sa.String(26), nullable=False),
        sa.Column("step_id", sa.String(64)),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64)),
        sa.Column("detail", sa.Text),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    _ops.create_indexes("flow_activity", ["flow_id", "kind"], ["account_id", "profile_id", "at"])
    op.create_table(
        "email_suppressions",
        _ops.reference("email_suppressions", "account_id", "accounts"),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "email", name="pk_email_suppressions"),
    )


def downgrade() -> None:
    op.drop_table("email_suppressions")
    op.drop_table("flow_activity")
    op.drop_table("flow_deliveries")
    op.drop_table("flow_runs")
    op.drop_table("flows")
    op.drop_column("accounts", "email_from")
