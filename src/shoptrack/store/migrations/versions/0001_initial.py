"""The initial schema: accounts, keys, integrations, order states, inbox, events, profiles.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from shoptrack.store.migrations import _ops
from shoptrack.store.partitions import ensure_event_partitions
from shoptrack.store.types import JSONDocument, Money, RowId, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(26), primary_key=True)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    false, true = sa.text("false"), sa.text("true")

    op.create_table(
        "accounts",
        _id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("public_key", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("public_key", name="uq_accounts_public_key"),
    )
    op.create_table(
        "api_keys",
        _id(),
        _ops.reference("api_keys", "account_id", "accounts", index=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("hint", sa.String(16), nullable=False),
        sa.Column("label", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime()),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_table(
        "integrations",
        _id(),
        _ops.reference("integrations", "account_id", "accounts", index=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("credentials", sa.Text, nullable=False),
        sa.Column("settings", JSONDocument, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=true),
        sa.Column("health", sa.String(16), nullable=False, server_default="unknown"),
        sa.Column("health_detail", JSONDocument),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("removed_at", UTCDateTime()),
        sa.Column("next_sync_at", UTCDateTime()),
        sa.Column("sync_lease_owner", sa.String(64)),
        sa.Column("sync_lease_expires_at", UTCDateTime()),
        sa.Column("sync_cursor", JSONDocument),
    )
    op.create_table(
        "order_states",
        _ops.reference("order_states", "integration_id", "integrations"),
        sa.Column("platform_order_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(26), nullable=False),
        sa.Column("raw_status", sa.String(64), nullable=False),
        sa.Column("platform_updated_at", UTCDateTime(), nullable=False),
        sa.Column("order_created_at", UTCDateTime(), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("placed_recorded_at", UTCDateTime()),
        sa.Column("fulfilled_recorded_at", UTCDateTime()),
        sa.Column("cancelled_recorded_at", UTCDateTime()),
        sa.Column("refunded_recorded_at", UTCDateTime()),
        sa.Column("skipped", sa.Boolean, nullable=False, server_default=false),
        sa.Column("snapshot", JSONDocument, nullable=False),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("integration_id", "platform_order_id", name="pk_order_states"),
    )
    op.create_index(
        "ix_order_states_integration_id_raw_status",
        "order_states",
        ["integration_id", "raw_status"],
    )
    op.create_table(
        "inbox",
        sa.Column("id", RowId, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(26), nullable=False),
        sa.Column("integration_id", sa.String(26)),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("dedupe_key", sa.String(200)),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("headers", JSONDocument, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("backfill", sa.Boolean, nullable=False, server_default=false),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("last_error", sa.Text),
        sa.Column("available_at", UTCDateTime(), nullable=False),
        sa.Column("processed_at", UTCDateTime()),
        sa.Column("processed_by", sa.String(64)),
        sa.UniqueConstraint("account_id", "dedupe_key", name="uq_inbox_account_id_dedupe_key"),
    )
    op.create_index(
        "ix_inbox_pending",
        "inbox",
        ["available_at", "id"],
        postgresql_where=sa.text("state = 'pending'"),
        sqlite_where=sa.text("state = 'pending'"),
    )
    op.create_index(
        "ix_inbox_integration_id_received_at", "inbox", ["integration_id", "received_at"]
    )
    op.create_index("ix_inbox_state_received_at", "inbox", ["state", "received_at"])
    op.create_table(
        "metrics",
        _id(),
        _ops.reference("metrics", "account_id", "accounts"),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("source", sa.String(26), nullable=False),
        _ops.reference("metrics", "integration_id", "integrations", nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint(
            "account_id", "source", "name", name="uq_metrics_account_id_source_name"
        ),
    )
    op.create_table(
        "profiles",
        _id(),
        _ops.reference("profiles", "account_id", "accounts"),
        sa.Column("email", sa.String(320)),
        sa.Column("phone_number", sa.String(20)),
        sa.Column("external_id", sa.String(200)),
        sa.Column("first_name", sa.String(200)),
        sa.Column("last_name", sa.String(200)),
        sa.Column("properties", JSONDocument, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("last_event_at", UTCDateTime()),
        sa.UniqueConstraint("account_id", "email", name="uq_profiles_account_id_email"),
        sa.UniqueConstraint(
            "account_id", "phone_number", name="uq_profiles_account_id_phone_number"
        ),
        sa.UniqueConstraint("account_id", "external_id", name="uq_profiles_account_id_external_id"),
    )
    event_columns: list[sa.schema.SchemaItem] = [
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("account_id", sa.String(26), nullable=False),
        sa.Column("metric_id", sa.String(26), nullable=False),
        sa.Column("profile_id", sa.String(26), nullable=False),
        sa.Column("integration_id", sa.String(26)),
        sa.Column("unique_id", sa.String(255), nullable=False),
        sa.Column("value", Money()),
        sa.Column("value_currency", sa.String(3)),
        sa.Column("properties", JSONDocument, nullable=False),
        sa.Column("backfill", sa.Boolean, nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("inbox_id", RowId),
        sa.PrimaryKeyConstraint("time", "id", name="pk_events"),
    ]
    if dialect == "postgresql":
        op.create_table("events", *event_columns, postgresql_partition_by="RANGE (time)")
        op.execute("CREATE TABLE events_default PARTITION OF events DEFAULT")
        ensure_event_partitions(op.get_bind(), datetime.now(UTC))
    else:
        op.create_table("events", *event_columns)
    op.create_index(
        "ix_events_feed", "events", ["account_id", "profile_id", sa.desc(sa.column("time"))]
    )
    op.create_index(
        "ix_events_metric", "events", ["account_id", "metric_id", sa.desc(sa.column("time"))]
    )
    op.create_index("ix_events_id", "events", ["id"])
    op.create_table(
        "event_keys",
        sa.Column("account_id", sa.String(26), nullable=False),
        sa.Column("metric_id", sa.String(26), nullable=False),
        sa.Column("unique_id", sa.String(255), nullable=False),
        sa.Column("event_id", sa.String(26), nullable=False),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "metric_id", "unique_id", name="pk_event_keys"),
    )
    _ops.create_metric_rollups()
