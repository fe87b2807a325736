"""Connected stores and what comes from them: the integration, the last-known state of each of
its orders, the inbox of everything received (and the refusals only counted), its sync runs and
the orders a webhook named for fetching."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from shoptrack.store.schema._columns import (
    account_row_columns,
    attempt_columns,
    counter_column,
    created_and_updated_columns,
    flag_column,
    lease_columns,
    partial_index,
    serial_id_column,
    ulid_column,
)
from shoptrack.store.schema._metadata import metadata
from shoptrack.store.types import JSONDocument, UTCDateTime

__all__ = [
    "inbox",
    "integrations",
    "order_fetches",
    "order_states",
    "sync_runs",
    "unstored_rejections",
]

integrations = Table(
    "integrations",
    metadata,
    *account_row_columns(foreign_key=True, index=True),
    Column("platform", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("credentials", Text, nullable=False),  # encrypted JSON (shoptrack.store.secrets)
    # An access token shoptrack obtained with those credentials (store.issued_tokens), encrypted.
    Column("issued_token", Text),
    Column("settings", JSONDocument, nullable=False),
    flag_column("enabled", default=True),
    Column("health", String(16), nullable=False, server_default="unknown"),
    Column("health_detail", JSONDocument),
    *created_and_updated_columns(),
    Column("removed_at", UTCDateTime()),
    # Work columns: the next scheduled sync and the lease of the process running one.
    Column("next_sync_at", UTCDateTime()),
    *lease_columns("sync_"),
    Column("sync_cursor", JSONDocument),
)


def _store_order_key() -> tuple[Column[Any] | PrimaryKeyConstraint, ...]:
    """The columns naming an order of a connected store: its integration and the store's id of
    it, together the key, and the account it belongs to."""
    return (
        ulid_column("integration_id", "integrations.id"),
        Column("platform_order_id", String(64), nullable=False),
        ulid_column("account_id"),
        PrimaryKeyConstraint("integration_id", "platform_order_id"),
    )


order_states = Table(
    "order_states",
    metadata,
    *_store_order_key(),
    Column("raw_status", String(64), nullable=False),
    Column("platform_updated_at", UTCDateTime(), nullable=False),
    Column("order_created_at", UTCDateTime(), nullable=False),
    Column("email", String(320)),
    # One column per event kind: when it was recorded, NULL while it is not.
    Column("placed_recorded_at", UTCDateTime()),
    Column("fulfilled_recorded_at", UTCDateTime()),
    Column("cancelled_recorded_at", UTCDateTime()),
    Column("refunded_recorded_at", UTCDateTime()),
    flag_column("skipped", default=False),
    Column("snapshot", JSONDocument, nullable=False),  # the newest sighting, for re-evaluation
    Column("first_seen_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    # The doctor's counts by status and its newest orders, from the indexes alone, and its
    # orders first seen cancelled (a few among many).
    Index(
        None,
        "integration_id",
        "raw_status",
        postgresql_include=["placed_recorded_at", "order_created_at", "skipped"],
    ),
    Index(None, "integration_id", "order_created_at"),
    Index(
        "ix_order_states_skipped",
        "integration_id",
        "raw_status",
        postgresql_where=text("skipped IS true"),
        sqlite_where=text("skipped IS 1"),
    ),
)

inbox = Table(
    "inbox",
    metadata,
    serial_id_column(),
    ulid_column("account_id"),
    ulid_column("integration_id", nullable=True),
    Column("source", String(16), nullable=False),  # webhook, api, poll, backfill
    Column("topic", String(64), nullable=False),
    # Unique per account when set: the platform's delivery id, so repeats add nothing.
    Column("dedupe_key", String(200)),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("headers", JSONDocument, nullable=False),
    Column("body", LargeBinary, nullable=False),
    # pending → processed | dead; or accepted as rejected / ignored with a reason.
    Column("state", String(16), nullable=False),
    Column("reason", Text),
    flag_column("backfill", default=False),
    *attempt_columns(),
    Column("available_at", UTCDateTime(), nullable=False),
    Column("processed_at", UTCDateTime()),
    Column("processed_by", String(64)),  # host:pid of the process that processed it
    ulid_column("sync_run_id", nullable=True),  # the sync that fetched it (poll and backfill rows)
    # What was received, whatever ``body`` keeps: a forged delivery keeps only its first bytes
    # (``body_truncated``), never replayable, so refusing one cannot be used to fill the disk.
    Column("body_size", Integer),
    Column("body_sha256", String(64)),
    flag_column("body_truncated", default=False),
    # NUL characters processing dropped from a store's delivery (PostgreSQL stores none in
    # text); ``body`` keeps them, as sent.
    counter_column("nul_characters_removed"),
    UniqueConstraint("account_id", "dedupe_key"),
    partial_index("ix_inbox_pending", "available_at", "id", where="state = 'pending'"),
    Index(None, "integration_id", "received_at"),
    Index(None, "state", "received_at"),
    # A sync's rows not processed yet (its ``pending_rows``): pending rows only, so counting
    # them costs nothing however large the run was.
    partial_index("ix_inbox_pending_sync_run_id", "sync_run_id", where="state = 'pending'"),
)

# Webhook deliveries refused past the per-integration limit: answered 401 and counted here, by
# hour and verdict, instead of stored (the doctor adds them to the stored rejected rows).
unstored_rejections = Table(
    "unstored_rejections",
    metadata,
    ulid_column("integration_id"),
    Column("hour", UTCDateTime(), nullable=False),
    Column("verdict", String(16), nullable=False),  # rejected or clock_skew
    Column("deliveries", Integer, nullable=False),
    PrimaryKeyConstraint("integration_id", "hour", "verdict"),
)

# One row per sync of an integration: its window, what it saw, and how it ended.
sync_runs = Table(
    "sync_runs",
    metadata,
    *account_row_columns(foreign_key=False),
    ulid_column("integration_id", "integrations.id"),
    Column("state", String(16), nullable=False),  # running, succeeded, failed
    Column("backfill", Boolean, nullable=False),
    Column("window_since", UTCDateTime(), nullable=False),
    Column("window_until", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    counter_column("pages"),
    counter_column("orders_seen"),
    counter_column("rows_written"),
    counter_column("events_recorded"),
    Column("error_code", String(64)),
    Column("error_kind", String(16)),
    Column("error_detail", Text),
    Column("error_answer", Text),
    Index(None, "integration_id", "started_at"),
)

# Orders a webhook named without carrying them (BigCommerce sends ids only): one row per order
# however many webhooks name it, fetched from the store once due, then deleted.
order_fetches = Table(
    "order_fetches",
    metadata,
    *_store_order_key(),
    Column("requested_at", UTCDateTime(), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    *attempt_columns(),
    *lease_columns(),
    Index(None, "due_at"),
)
