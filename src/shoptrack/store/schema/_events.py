"""Metrics, profiles and events, with the keys that make events unique and the rollups and
per-profile order figures kept as they are recorded."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
)

from shoptrack.store.schema._columns import (
    account_row_columns,
    created_and_updated_columns,
    flag_column,
    ulid_column,
)
from shoptrack.store.schema._metadata import metadata
from shoptrack.store.types import JSONDocument, Money, RowId, UTCDateTime

__all__ = ["event_keys", "events", "metric_rollups", "metrics", "profile_orders", "profiles"]

metrics = Table(
    "metrics",
    metadata,
    *account_row_columns(foreign_key=True),
    Column("name", String(128), nullable=False),
    # "api" for events sent by custom shops, else the integration's id.
    ulid_column("source"),
    ulid_column("integration_id", "integrations.id", nullable=True),
    *created_and_updated_columns(),
    UniqueConstraint("account_id", "source", "name"),
)

profiles = Table(
    "profiles",
    metadata,
    *account_row_columns(foreign_key=True),
    Column("email", String(320)),
    Column("phone_number", String(20)),
    Column("external_id", String(200)),
    Column("first_name", String(200)),
    Column("last_name", String(200)),
    Column("properties", JSONDocument, nullable=False),
    *created_and_updated_columns(),
    Column("last_event_at", UTCDateTime()),
    Column("anonymous_id", String(200)),
    Column("organization", String(200)),
    Column("locale", String(32)),
    Column("title", String(200)),
    Column("image", String(2000)),
    Column("location", JSONDocument),
    UniqueConstraint("account_id", "email"),
    UniqueConstraint("account_id", "phone_number"),
    UniqueConstraint("account_id", "external_id"),
    # The Profiles list's default sort, most recently active first, page by page.
    Index(None, "account_id", "last_event_at", "id"),
)
# The Profiles search, by the start of an email: LIKE 'prefix%' uses a PostgreSQL index only with
# the pattern operators (SQLite's case-blind LIKE uses none).
Index(
    "ix_profiles_email_prefix",
    profiles.c.account_id,
    profiles.c.email,
    postgresql_ops={"email": "varchar_pattern_ops"},
).ddl_if(dialect="postgresql")

# Partitioned by month on PostgreSQL (see the first migration); the primary key holds the
# partition key, so uniqueness of (account, metric, unique_id) lives in event_keys.
events = Table(
    "events",
    metadata,
    ulid_column("id"),
    Column("time", UTCDateTime(), nullable=False),
    ulid_column("account_id"),
    ulid_column("metric_id"),
    ulid_column("profile_id"),
    ulid_column("integration_id", nullable=True),
    Column("unique_id", String(255), nullable=False),
    Column("value", Money()),
    Column("value_currency", String(3)),
    Column("properties", JSONDocument, nullable=False),
    Column("backfill", Boolean, nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("inbox_id", RowId),
    # A store's test order (or one placed by ``shoptrack test-order``): kept out of charts.
    flag_column("test", default=False),
    PrimaryKeyConstraint("time", "id"),
    Index("ix_events_id", "id"),
)


def _newest_first_index(name: str, column: Column[Any], **options: Any) -> Index:
    """An index of an account's events by ``column``, newest first: by time, then id, the order
    of a page, so that a page is the index's first rows."""
    return Index(
        name, events.c.account_id, column, events.c.time.desc(), events.c.id.desc(), **options
    )


# A profile's activity feed and a metric's latest events.
_newest_first_index("ix_events_feed", events.c.profile_id)
_newest_first_index(
    "ix_events_metric",
    events.c.metric_id,
    # Unique profiles of a metric's days counted from the index alone.
    postgresql_include=["profile_id", "test"],
)

event_keys = Table(
    "event_keys",
    metadata,
    ulid_column("account_id"),
    ulid_column("metric_id"),
    Column("unique_id", String(255), nullable=False),
    ulid_column("event_id"),
    Column("time", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("account_id", "metric_id", "unique_id"),
)

# Each metric's events per hour, by currency ('' when an event has none) and test flag:
# figures per currency are never summed across currencies, and test orders stay apart.
metric_rollups = Table(
    "metric_rollups",
    metadata,
    ulid_column("account_id"),
    ulid_column("metric_id"),
    Column("hour", UTCDateTime(), nullable=False),
    Column("currency", String(3), nullable=False, server_default=""),
    flag_column("test", default=False),
    Column("count", Integer, nullable=False),
    Column("value_sum", Money(), nullable=False),
    PrimaryKeyConstraint("account_id", "metric_id", "hour", "currency", "test"),
)

# A profile's orders per currency, maintained as Placed and Refunded Order events are recorded
# (test orders left out): order count, placed and refunded amounts, first and last order.
profile_orders = Table(
    "profile_orders",
    metadata,
    ulid_column("profile_id"),
    Column("currency", String(3), nullable=False),
    ulid_column("account_id"),
    Column("orders", Integer, nullable=False),
    Column("placed_value", Money(), nullable=False),
    Column("refunded_value", Money(), nullable=False),
    Column("first_order_at", UTCDateTime()),
    Column("last_order_at", UTCDateTime()),
    PrimaryKeyConstraint("profile_id", "currency"),
    Index(None, "account_id", "currency"),
)
