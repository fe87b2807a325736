"""Alerts: what the watchdog opened and resolved, who hears of them, the notices to send, and
the watchdog's schedule and lease.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shoptrack.store.types import JSONDocument, UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("account_id", sa.String(26), nullable=False),
        sa.Column("integration_id", sa.String(26)),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("finding", JSONDocument, nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime()),
        sa.Column("passing_runs", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("resolution", sa.String(16)),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_alerts_account_id_accounts"
        ),
    )
    op.create_index("ix_alerts_account_id_resolved_at", "alerts", ["account_id", "resolved_at"])
    op.create_table(
        "alert_subscriptions",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("account_id", sa.String(26), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.String(2000), nullable=False),
        sa.Column("secret_encrypted", sa.Text),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_subscriptions"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_alert_subscriptions_account_id_accounts"
        ),
        sa.UniqueConstraint(
            "account_id",
            "channel",
            "target",
            name="uq_alert_subscriptions_account_id_channel_target",
        ),
    )
    op.create_table(
        "alert_notifications",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("account_id", sa.String(26), nullable=False),
        sa.Column("alert_id", sa.String(26), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("subscription_id", sa.String(26)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("last_error", sa.Text),
        sa.Column("message_id", sa.String(255)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_at", UTCDateTime()),
        sa.Column("sent_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_alert_notifications"),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name="fk_alert_notifications_alert_id_alerts"
        ),
    )
    op.create_index(
        "ix_alert_notifications_account_id_state", "alert_notifications", ["account_id", "state"]
    )
    op.create_table(
        "watchdog",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("next_run_at", UTCDateTime()),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_expires_at", UTCDateTime()),
        sa.Column("last_started_at", UTCDateTime()),
        sa.Column("last_finished_at", UTCDateTime()),
        sa.Column("last_run", JSONDocument),
        sa.PrimaryKeyConstraint("id", name="pk_watchdog"),
    )


def downgrade() -> None:
    op.drop_table("watchdog")
    op.drop_index("ix_alert_notifications_account_id_state", "alert_notifications")
    op.drop_table("alert_notifications")
    op.drop_table("alert_subscriptions")
    op.drop_index("ix_alerts_account_id_resolved_at", "alerts")
    op.drop_table("alerts")
