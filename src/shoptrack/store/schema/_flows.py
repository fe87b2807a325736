"""Flows and what they do: definitions, runs, deliveries, activity, the suppression list, the
keys and links of tracked emails, engagements and attributed orders."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from shoptrack.store.schema._columns import (
    account_row_columns,
    attempt_columns,
    created_and_updated_columns,
    flag_column,
    lease_columns,
    partial_index,
    serial_id_column,
    ulid_column,
)
from shoptrack.store.schema._metadata import metadata
from shoptrack.store.types import JSONDocument, Money, UTCDateTime

__all__ = [
    "email_engagements",
    "email_links",
    "email_suppressions",
    "flow_activity",
    "flow_attributions",
    "flow_deliveries",
    "flow_runs",
    "flows",
    "tracking_keys",
]

# A flow: its trigger metric (of one integration, or the API) and its definition (filters,
# steps, re-entry, smart sending: shoptrack.flows.model.FlowDefinition as JSON).
flows = Table(
    "flows",
    metadata,
    *account_row_columns(foreign_key=True),
    Column("name", String(200), nullable=False),
    Column("template", String(64)),  # the library template it was made from, if any
    Column("status", String(16), nullable=False),  # draft, manual, live
    flag_column("archived", default=False),
    ulid_column("trigger_metric_id", "metrics.id"),
    Column("definition", JSONDocument, nullable=False),
    *created_and_updated_columns(),
    Index(None, "account_id", "trigger_metric_id"),
)

# One profile's pass through a flow, started by one event, and the durable work row of its next
# step: ``step_id`` runs at ``due_at``; a process sending its message holds the lease.
flow_runs = Table(
    "flow_runs",
    metadata,
    *account_row_columns(foreign_key=False),
    ulid_column("flow_id", "flows.id"),
    ulid_column("profile_id"),
    ulid_column("trigger_event_id"),
    Column("trigger_time", UTCDateTime(), nullable=False),
    Column("state", String(16), nullable=False),  # active, completed, exited
    Column("step_id", String(64)),  # NULL once the run has finished
    Column("due_at", UTCDateTime()),
    *attempt_columns(),
    *lease_columns(),
    Column("entered_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("exit_reason", String(64)),
    UniqueConstraint("flow_id", "trigger_event_id"),
    partial_index("ix_flow_runs_due", "due_at", where="state = 'active'"),
    Index(None, "flow_id", "profile_id", "entered_at"),
    Index(None, "account_id", "profile_id"),
)

# A message a run sends (email or webhook): written before it goes out, so a process that dies
# mid-send leaves its intent and its Message-ID behind (shoptrack.flows.sending explains).
flow_deliveries = Table(
    "flow_deliveries",
    metadata,
    *account_row_columns(foreign_key=False),
    ulid_column("flow_id"),
    ulid_column("flow_run_id", "flow_runs.id"),
    Column("step_id", String(64), nullable=False),
    ulid_column("profile_id"),
    Column("channel", String(16), nullable=False),  # email, webhook
    Column("recipient", String(2000), nullable=False),
    Column("message_id", String(255), nullable=False),
    Column("subject", Text),
    Column("state", String(16), nullable=False),  # sending, retry, sent, failed, cancelled
    # ``attempts`` counts the sends started.
    *attempt_columns(),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime()),
    UniqueConstraint("flow_run_id", "step_id"),
    Index(None, "account_id", "profile_id", "created_at"),
)

# Every step a profile takes in a flow: its activity feed and the flow's statistics.
flow_activity = Table(
    "flow_activity",
    metadata,
    serial_id_column(),
    ulid_column("account_id"),
    ulid_column("flow_id"),
    ulid_column("flow_run_id", nullable=True),
    ulid_column("profile_id"),
    Column("step_id", String(64)),
    # entered, not_entered, waiting, split, emailed, webhook_sent, skipped, exited, completed
    Column("kind", String(16), nullable=False),
    Column("reason", String(64)),
    Column("detail", Text),
    Column("at", UTCDateTime(), nullable=False),
    Index(None, "flow_id", "kind"),
    Index(None, "account_id", "profile_id", "at"),
)

# Addresses no flow email may go to: unsubscribed through a link, or suppressed by the merchant.
email_suppressions = Table(
    "email_suppressions",
    metadata,
    ulid_column("account_id", "accounts.id"),
    Column("email", String(320), nullable=False),
    Column("reason", String(32), nullable=False),  # unsubscribed, manual, bounced, complained
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("account_id", "email"),
)

# The keys that sign the open and click links of flow emails (shoptrack.flows.tracking explains
# why they live here, apart from SHOPTRACK_SECRET_KEY): the newest signs, every one verifies.
tracking_keys = Table(
    "tracking_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # named in every token
    Column("secret", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

# The links of a sent email, by position: a click link names a position, and is redirected only
# to the address stored here for its delivery.
email_links = Table(
    "email_links",
    metadata,
    ulid_column("delivery_id"),
    Column("position", Integer, nullable=False),
    Column("url", Text, nullable=False),
    PrimaryKeyConstraint("delivery_id", "position"),
)

# What became of each flow email: received, opened, clicked, bounced, unsubscribed — one row per
# engagement event recorded (its ``event_id``), for reports and attribution. ``machine`` flags an
# open by a mail privacy proxy or a click by a link scanner: recorded, not counted as a person's.
email_engagements = Table(
    "email_engagements",
    metadata,
    serial_id_column(),
    ulid_column("account_id"),
    ulid_column("delivery_id"),
    ulid_column("flow_id"),
    Column("step_id", String(64), nullable=False),
    ulid_column("profile_id"),
    Column("kind", String(16), nullable=False),  # received, opened, clicked, bounced, unsubscribed
    Column("at", UTCDateTime(), nullable=False),
    Column("link", Integer),  # clicked: the position of the link
    flag_column("machine", default=False),
    ulid_column("event_id"),
    Index(None, "account_id", "profile_id", "at"),
    Index(None, "account_id", "flow_id", "at"),
    Index(None, "delivery_id"),
)

# Live orders credited to the flow email the profile last opened or clicked before them, within
# the account's attribution window: one row per conversion event, written as it is recorded.
flow_attributions = Table(
    "flow_attributions",
    metadata,
    ulid_column("event_id", primary_key=True),
    ulid_column("account_id"),
    ulid_column("metric_id"),
    ulid_column("profile_id"),
    Column("time", UTCDateTime(), nullable=False),
    Column("value", Money()),
    Column("currency", String(3)),
    ulid_column("flow_id"),
    Column("step_id", String(64), nullable=False),
    ulid_column("delivery_id"),
    Column("touch", String(16), nullable=False),  # opened or clicked
    Index(None, "account_id", "flow_id", "time"),
    Index(None, "account_id", "time"),
    Index(None, "account_id", "profile_id"),
)
