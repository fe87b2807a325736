"""Email engagement and attribution: the tracking keys, each sent email's links, its engagement
(received, opened, clicked, bounced, unsubscribed), orders credited to flows, and the account
settings that govern them (attribution window, clicks only, tracking, UTM parameters).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shoptrack.store.migrations import _ops
from shoptrack.store.types import Money, RowId, UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    false, true = sa.text("false"), sa.text("true")
    # Defaulted columns: adding them rewrites no row on PostgreSQL.
    op.add_column(
        "accounts",
        sa.Column("attribution_window_days", sa.Integer, nullable=False, server_default="5"),
    )
    op.add_column(
        "accounts",
        sa.Column("attribution_clicks_only", sa.Boolean, nullable=False, server_default=false),
    )
    op.add_column(
        "accounts", sa.Column("email_tracking", sa.Boolean, nullable=False, server_default=true)
    )
    op.add_column(
        "accounts", sa.Column("utm_parameters", sa.Boolean, nullable=False, server_default=true)
    )
    op.create_table(
        "tracking_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("secret", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tracking_keys"),
    )
    op.create_table(
        "email_links",
        sa.Column("delivery_id", sa.String(26), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("delivery_id", "position", name="pk_email_links"),
    )
    op.create_table(
        "email_engagements",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(26), nullable=False),
        sa.Column("delivery_id", sa.String(26), nullable=False),
        sa.Column("flow_id", sa.String(26), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("profile_id", sa.String(26), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("link", sa.Integer),
        sa.Column("machine", sa.Boolean, nullable=False, server_default=false),
        sa.Column("event_id", sa.String(26), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_email_engagements"),
    )
    _ops.create_indexes(
        "email_engagements",
        ["account_id", "profile_id", "at"],
        ["account_id", "flow_id", "at"],
        ["delivery_id"],
    )
    op.create_table(
        "flow_attributions",
        sa.Column("event_id", sa.String(26), nullable=False),
        sa.Column("account_id", sa.String(26), nullable=False),
        sa.Column("metric_id", sa.String(26), nullable=False),
        sa.Column("profile_id", sa.String(26), nullable=False),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("value", Money()),
        sa.Column("currency", sa.String(3)),
        sa.Column("flow_id", sa.String(26), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("delivery_id", sa.String(26), nullable=False),
        sa.Column("touch", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_flow_attributions"),
    )
    _ops.create_indexes(
        "flow_attributions",
        ["account_id", "flow_id", "time"],
        ["account_id", "time"],
        ["account_id", "profile_id"],
    )


def downgrade() -> None:
    op.drop_table("flow_attributions")
    op.drop_table("email_engagements")
    op.drop_table("email_links")
    op.drop_table("tracking_keys")
    for column in ("utm_parameters", "email_tracking", "attribution_clicks_only"):
        op.drop_column("accounts", column)
    op.drop_column("accounts", "attribution_window_days")
