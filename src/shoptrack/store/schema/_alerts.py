"""The watchdog's alerts, who hears of them, the notices sent, and its schedule."""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table, Text, UniqueConstraint

from shoptrack.store.schema._columns import (
    account_row_columns,
    attempt_columns,
    counter_column,
    lease_columns,
    ulid_column,
)
from shoptrack.store.schema._metadata import metadata
from shoptrack.store.types import JSONDocument, UTCDateTime

__all__ = ["alert_notifications", "alert_subscriptions", "alerts", "watchdog"]

# What the watchdog found: one row per problem, from the run that opened it to the one that
# resolved it (``shoptrack.alerts``). ``finding`` is the doctor's finding as last seen.
alerts = Table(
    "alerts",
    metadata,
    *account_row_columns(foreign_key=True),
    ulid_column("integration_id", nullable=True),  # NULL: about the whole account
    Column("code", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("summary", Text, nullable=False),
    Column("finding", JSONDocument, nullable=False),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime()),
    # Runs in a row whose check passed while the alert is open: two resolve it.
    counter_column("passing_runs"),
    # passed: the check passed two runs in a row; unwatched: its integration is disabled or gone.
    Column("resolution", String(16)),
    Index(None, "account_id", "resolved_at"),
)

# Who hears of an account's alerts: an email address, or a URL that gets signed webhooks.
alert_subscriptions = Table(
    "alert_subscriptions",
    metadata,
    *account_row_columns(foreign_key=True),
    Column("channel", String(16), nullable=False),  # email, webhook
    Column("target", String(2000), nullable=False),  # the address (lower-cased) or the URL
    Column("secret_encrypted", Text),  # a webhook's ``whsec_`` secret, encrypted
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("account_id", "channel", "target"),
)

# One notice of an alert opening or resolving, to be sent once: to the account's email
# subscribers together (``subscription_id`` NULL: one email per account and run lists them
# all), or to one webhook subscription. Claimed before sending, like flow deliveries.
alert_notifications = Table(
    "alert_notifications",
    metadata,
    *account_row_columns(foreign_key=False),
    ulid_column("alert_id", "alerts.id"),
    Column("event", String(16), nullable=False),  # opened, resolved
    Column("channel", String(16), nullable=False),  # email, webhook
    ulid_column("subscription_id", nullable=True),
    Column("state", String(16), nullable=False),  # pending, sending, sent, failed, cancelled
    *attempt_columns(),
    Column("message_id", String(255)),  # the email's Message-ID, kept for a repeat
    Column("created_at", UTCDateTime(), nullable=False),
    Column("claimed_at", UTCDateTime()),
    Column("sent_at", UTCDateTime()),
    Index(None, "account_id", "state"),
)

# The watchdog's schedule and the lease of the one process running it (one row).
watchdog = Table(
    "watchdog",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("next_run_at", UTCDateTime()),
    *lease_columns(),
    Column("last_started_at", UTCDateTime()),
    Column("last_finished_at", UTCDateTime()),
    Column("last_run", JSONDocument),  # what the last run did: counts, per account
)
