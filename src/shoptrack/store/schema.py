"""The tables, as SQLAlchemy Core metadata. Migrations in ``migrations/versions`` create them;
``tests/test_migrations.py`` checks that the two agree."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from shoptrack.store.types import JSONDocument, Money, RowId, UTCDateTime

__all__ = [
    "accounts",
    "alert_notifications",
    "alert_subscriptions",
    "alerts",
    "api_keys",
    "email_engagements",
    "email_links",
    "email_suppressions",
    "event_keys",
    "events",
    "flow_activity",
    "flow_attributions",
    "flow_deliveries",
    "flow_runs",
    "flows",
    "inbox",
    "integrations",
    "metadata",
    "metric_rollups",
    "metrics",
    "order_fetches",
    "order_states",
    "profile_orders",
    "profiles",
    "shopify_apps",
    "shopify_data_requests",
    "shopify_installs",
    "sync_runs",
    "tracking_keys",
    "unstored_rejections",
    "users",
    "watchdog",
    "web_sessions",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("public_key", String(16), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    # The From of the account's flow emails; SHOPTRACK_EMAIL_FROM while it is NULL.
    Column("email_from", String(320)),
    # The account's settings (domain.account_settings.AccountSettings), one column each.
    Column("time_zone", String(64), nullable=False, server_default="UTC"),
    Column("test_sends", Boolean, nullable=False, server_default=text("false")),
    Column("attribution_window_days", Integer, nullable=False, server_default=text("5")),
    Column("attribution_clicks_only", Boolean, nullable=False, server_default=text("false")),
    Column("email_tracking", Boolean, nullable=False, server_default=text("true")),
    Column("utm_parameters", Boolean, nullable=False, server_default=text("true")),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("account_id", String(26), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    # The first and last characters, so a merchant can tell keys apart without seeing them.
    Column("hint", String(16), nullable=False),
    Column("label", String(200), nullable=False, server_default=""),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
)

integrations = Table(
    "integrations",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("account_id", String(26), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("platform", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("credentials", Text, nullable=False),  # encrypted JSON (shoptrack.store.secrets)
    # An access token shoptrack obtained with those credentials (store.issued_tokens), encrypted.
    Column("issued_token", Text),
    Column("settings", JSONDocument, nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("health", String(16), nullable=False, server_default="unknown"),
    Column("health_detail", JSONDocument),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("removed_at", UTCDateTime()),
    # Work columns: the next scheduled sync and the lease of the process running one.
    Column("next_sync_at", UTCDateTime()),
    Column("sync_lease_owner", String(64)),
    Column("sync_lease_expires_at", UTCDateTime()),
    Column("sync_cursor", JSONDocument),
)

order_states = Table(
    "order_states",
    metadata,
    Column("integration_id", String(26), ForeignKey("integrations.id"), nullable=False),
    Column("platform_order_id", String(64), nullable=False),
    Column("account_id", String(26), nullable=False),
    Column("raw_status", String(64), nullable=False),
    Column("platform_updated_at", UTCDateTime(), nullable=False),
    Column("order_created_at", UTCDateTime(), nullable=False),
    Column("email", String(320)),
    # One column per event kind: when it was recorded, NULL while it is not.
    Column("placed_recorded_at", UTCDateTime()),
    Column("fulfilled_recorded_at", UTCDateTime()),
    Column("cancelled_recorded_at", UTCDateTime()),
    Column("refunded_recorded_at", UTCDateTime()),
    Column("skipped", Boolean, nullable=False, server_default=text("false")),
    Column("snapshot", JSONDocument, nullable=False),  # the newest sighting, for re-evaluation
    Column("first_seen_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("integration_id", "platform_order_id"),
    # The doctor's counts by status and its newest orders, from the indexes alone.
    Index(
        None,
        "integration_id",
        "raw_status",
        postgresql_include=["placed_recorded_at", "order_created_at", "skipped"],
    ),
    Index(None, "integration_id", "order_created_at"),
)

inbox = Table(
    "inbox",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("account_id", String(26), nullable=False),
    Column("integration_id", String(26)),
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
    Column("backfill", Boolean, nullable=False, server_default=text("false")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
    Column("available_at", UTCDateTime(), nullable=False),
    Column("processed_at", UTCDateTime()),
    Column("processed_by", String(64)),  # host:pid of the process that processed it
    Column("sync_run_id", String(26)),  # the sync that fetched it (poll and backfill rows)
    # What was received, whatever ``body`` keeps: a forged delivery keeps only its first bytes
    # (``body_truncated``), never replayable, so refusing one cannot be used to fill the disk.
    Column("body_size", Integer),
    Column("body_sha256", String(64)),
    Column("body_truncated", Boolean, nullable=False, server_default=text("false")),
    # NUL characters processing dropped from a store's delivery (PostgreSQL stores none in
    # text); ``body`` keeps them, as sent.
    Column("nul_characters_removed", Integer, nullable=False, server_default=text("0")),
    UniqueConstraint("account_id", "dedupe_key"),
    Index(
        "ix_inbox_pending",
        "available_at",
        "id",
        postgresql_where=text("state = 'pending'"),
        sqlite_where=text("state = 'pending'"),
    ),
    Index(None, "integration_id", "received_at"),
    Index(None, "state", "received_at"),
    # A sync's rows not processed yet (its ``pending_rows``): pending rows only, so counting
    # them costs nothing however large the run was.
    Index(
        "ix_inbox_pending_sync_run_id",
        "sync_run_id",
        postgresql_where=text("state = 'pending'"),
        sqlite_where=text("state = 'pending'"),
    ),
)

# Webhook deliveries refused past the per-integration limit: answered 401 and counted here, by
# hour and verdict, instead of stored (the doctor adds them to the stored rejected rows).
unstored_rejections = Table(
    "unstored_rejections",
    metadata,
    Column("integration_id", String(26), nullable=False),
    Column("hour", UTCDateTime(), nullable=False),
    Column("verdict", String(16), nullable=False),  # rejected or clock_skew
    Column("deliveries", Integer, nullable=False),
    PrimaryKeyConstraint("integration_id", "hour", "verdict"),
)

metrics = Table(
    "metrics",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("account_id", String(26), ForeignKey("accounts.id"), nullable=False),
    Column("name", String(128), nullable=False),
    # "api" for events sent by custom shops, else the integration's id.
    Column("source", String(26), nullable=False),
    Column("integration_id", String(26), ForeignKey("integrations.id")),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("account_id", "source", "name"),
)

profiles = Table(
    "profiles",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("account_id", String(26), ForeignKey("accounts.id"), nullable=False),
    Column("email", String(320)),
    Column("phone_number", String(20)),
    Column("external_id", String(200)),
    Column("first_name", String(200)),
    Column("last_name", String(200)),
    Column("properties", JSONDocument, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
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
    Column("id", String(26), nullable=False),
    Column("time", UTCDateTime(), nullable=False),
    Column("account_id", String(26), nullable=False),
    Column("metric_id", String(26), nullable=False),
    Column("profile_id", String(26), nullable=False),
    Column("integration_id", String(26)),
    Column("unique_id", String(255), nullable=False),
    Column("value", Money()),
    Column("value_currency", String(3)),
    Column("properties", JSONDocument, nullable=False),
    Column("backfill", Boolean, nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("inbox_id", RowId),
    # A store's test order (or one placed by ``shoptrack test-order``): kept out of charts.
    Column("test", Boolean, nullable=False, server_default=text("false")),
    PrimaryKeyConstraint("time", "id"),
    Index("ix_events_id", "id"),
)
# A profile's activity feed and a metric's latest events, newest first (by time, then id: the
# order of a page, so that a page is the index's first rows).
Index(
    "ix_events_feed",
    events.c.account_id,
    events.c.profile_id,
    events.c.time.desc(),
    events.c.id.desc(),
)
Index(
    "ix_events_metric",
    events.c.account_id,
    events.c.metric_id,
    events.c.time.desc(),
    events.c.id.desc(),
    # Unique profiles of a metric's days counted from the index alone.
    postgresql_include=["profile_id", "test"],
)

event_keys = Table(
    "event_keys",
    metadata,
    Column("account_id", String(26), nullable=False),
    Column("metric_id", String(26), nullable=False),
    Column("unique_id", String(255), nullable=False),
    Column("event_id", String(26), nullable=False),
    Column("time", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("account_id", "metric_id", "unique_id"),
)

# Each metric's events per hour, by currency ('' when an event has none) and test flag:
# figures per currency are never summed across currencies, and test orders stay apart.
metric_rollups = Table(
    "metric_rollups",
    metadata,
    Column("account_id", String(26), nullable=False),
    Column("metric_id", String(26), nullable=False),
    Column("hour", UTCDateTime(), nullable=False),
    Column("currency", String(3), nullable=False, server_default=""),
    Column("test", Boolean, nullable=False, server_default=text("false")),
    Column("count", Integer, nullable=False),
    Column("value_sum", Money(), nullable=False),
    PrimaryKeyConstraint("account_id", "metric_id", "hour", "currency", "test"),
)

# A profile's orders per currency, maintained as Placed and Refunded Order events are recorded
# (test orders left out): order count, placed and refunded amounts, first and last order.
profile_orders = Table(
    "profile_orders",
    metadata,
    Column("profile_id", String(26), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("account_id", String(26), nullable=False),
    Column("orders", Integer, nullable=False),
    Column("placed_value", Money(), nullable=False),
    Column("refunded_value", Money(), nullable=False),
    Column("first_order_at", UTCDateTime()),
    Column("last_order_at", UTCDateTime()),
    PrimaryKeyConstraint("profile_id", "currency"),
    Index(None, "account_id", "currency"),
)

# One row per sync of an integration: its window, what it saw, and how it ended.
sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("account_id", String(26), nullable=False),
    Column("integration_id", String(26), ForeignKey("integrations.id"), nullable=False),
    Column("state", String(16), nullable=False),  # running, succeeded, failed
    Column("backfill", Boolean, nullable=False),
    Column("window_since", UTCDateTime(), nullable=False),
    Column("window_until", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("pages", Integer, nullable=False, server_default=text("0")),
    Column("orders_seen", Integer, nullable=False, server_default=text("0")),
    Column("rows_written", Integer, nullable=False, server_default=text("0")),
    Column("events_recorded", Integer, nullable=False, server_default=text("0")),
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
    Column("integration_id", String(26), ForeignKey("integrations.id"), nullable=False),
    Column("platform_order_id", String(64), nullable=False),
    Column("account_id", String(26), nullable=False),
    Column("requested_at", UTCDateTime(), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", UTCDateTime()),
    PrimaryKeyConstraint("integration_id", "platform_order_id"),
    Index(None, "due_at"),
)

# A flow: its trigger metric (of one integration, or the API) and its definition (filters,
# steps, re-entry, smart sending: shoptrack.flows.model.FlowDefinition as JSON).
flows = Table(
    "flows",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("account_id", String(26), ForeignKey("accounts.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("template", String(64)),  # the library template it was made from, if any
    Column("status", String(16), nullable=False),  # draft, manual, live
    Column("archived", Boolean, nullable=False, server_default=text("false")),
    Column("trigger_metric_id", String(26), ForeignKey("metrics.id"), nullable=False),
    Column("definition", JSONDocument, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index(None, "account_id", "trigger_metric_id"),
)

# One profile's pass through a flow, started by one event, and the durable work row of its next
# step: ``step_id`` runs at ``due_at``; a process sending its message holds the lease.
flow_runs = Table(
    "flow_runs",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("account_id", String(26), nullable=False),
    Column("flow_id", String(26), ForeignKey("flows.id"), nullable=False),
    Column("profile_id", String(26), nullable=False),
    Column("trigger_event_id", String(26), nullable=False),
    Column("trigger_time", UTCDateTime(), nullable=False),
    Column("state", String(16), nullable=False),  # active, completed, exited
    Column("step_id", String(64)),  # NULL once the run has finished
    Column("due_at", UTCDateTime()),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", UTCDateTime()),
    Column("entered_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("exit_reason", String(64)),
    UniqueConstraint("flow_id", "trigger_event_id"),
    Index(
        "ix_flow_runs_due",
        "due_at",
        postgresql_where=text("state = 'active'"),
        sqlite_where=text("state = 'active'"),
    ),
    Index(None, "flow_id", "profile_id", "entered_at"),
    Index(None, "account_id", "profile_id"),
)

# A message a run sends (email or webhook): written before it goes out, so a process that dies
# mid-send leaves its intent and its Message-ID behind (shoptrack.flows.engine explains).
flow_deliveries = Table(
    "flow_deliveries",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("account_id", String(26), nullable=False),
    Column("flow_id", String(26), nullable=False),
    Column("flow_run_id", String(26), ForeignKey("flow_runs.id"), nullable=False),
    Column("step_id", String(64), nullable=False),
    Column("profile_id", String(26), nullable=False),
    Column("channel", String(16), nullable=False),  # email, webhook
    Column("recipient", String(2000), nullable=False),
    Column("message_id", String(255), nullable=False),
    Column("subject", Text),
    Column("state", String(16), nullable=False),  # sending, retry, sent, failed, cancelled
    Column("attempts", Integer, nullable=False, server_default=text("0")),  # attempts started
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime()),
    UniqueConstraint("flow_run_id", "step_id"),
    Index(None, "account_id", "profile_id", "created_at"),
)

# Every step a profile takes in a flow: its activity feed and the flow's statistics.
flow_activity = Table(
    "flow_activity",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("account_id", String(26), nullable=False),
    Column("flow_id", String(26), nullable=False),
    Column("flow_run_id", String(26)),
    Column("profile_id", String(26), nullable=False),
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
    Column("account_id", String(26), ForeignKey("accounts.id"), nullable=False),
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
    Column("delivery_id", String(26), nullable=False),
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
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("account_id", String(26), nullable=False),
    Column("delivery_id", String(26), nullable=False),
    Column("flow_id", String(26), nullable=False),
    Column("step_id", String(64), nullable=False),
    Column("profile_id", String(26), nullable=False),
    Column("kind", String(16), nullable=False),  # received, opened, clicked, bounced, unsubscribed
    Column("at", UTCDateTime(), nullable=False),
    Column("link", Integer),  # clicked: the position of the link
    Column("machine", Boolean, nullable=False, server_default=text("false")),
    Column("event_id", String(26), nullable=False),
    Index(None, "account_id", "profile_id", "at"),
    Index(None, "account_id", "flow_id", "at"),
    Index(None, "delivery_id"),
)

# Live orders credited to the flow email the profile last opened or clicked before them, within
# the account's attribution window: one row per conversion event, written as it is recorded.
flow_attributions = Table(
    "flow_attributions",
    metadata,
    Column("event_id", String(26), primary_key=True),
    Column("account_id", String(26), nullable=False),
    Column("metric_id", String(26), nullable=False),
    Column("profile_id", String(26), nullable=False),
    Column("time", UTCDateTime(), nullable=False),
    Column("value", Money()),
    Column("currency", String(3)),
    Column("flow_id", String(26), nullable=False),
    Column("step_id", String(64), nullable=False),
    Column("delivery_id", String(26), nullable=False),
    Column("touch", String(16), nullable=False),  # opened or clicked
    Index(None, "account_id", "flow_id", "time"),
    Index(None, "account_id", "time"),
    Index(None, "account_id", "profile_id"),
)

# People who sign in to the web UI: each belongs to one account and sees only it.
users = Table(
    "users",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("account_id", String(26), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("email", String(320), nullable=False, unique=True),  # trimmed, lower-cased
    Column("password_hash", String(255), nullable=False),  # argon2id, PHC string
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_sign_in_at", UTCDateTime()),
)

# Signed-in browsers: the cookie holds a random token, the table only its SHA-256, so signing
# out (deleting the row) ends the session everywhere and a leaked table signs nobody in.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(26), ForeignKey("users.id"), nullable=False, index=True),
    Column("account_id", String(26), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

# What the watchdog found: one row per problem, from the run that opened it to the one that
# resolved it (``shoptrack.alerts``). ``finding`` is the doctor's finding as last seen.
alerts = Table(
    "alerts",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("account_id", String(26), ForeignKey("accounts.id"), nullable=False),
    Column("integration_id", String(26)),  # NULL: about the whole account
    Column("code", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("summary", Text, nullable=False),
    Column("finding", JSONDocument, nullable=False),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime()),
    # Runs in a row whose check passed while the alert is open: two resolve it.
    Column("passing_runs", Integer, nullable=False, server_default=text("0")),
    # passed: the check passed two runs in a row; unwatched: its integration is disabled or gone.
    Column("resolution", String(16)),
    Index(None, "account_id", "resolved_at"),
)

# Who hears of an account's alerts: an email address, or a URL that gets signed webhooks.
alert_subscriptions = Table(
    "alert_subscriptions",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("account_id", String(26), ForeignKey("accounts.id"), nullable=False),
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
    Column("id", String(26), primary_key=True),
    Column("account_id", String(26), nullable=False),
    Column("alert_id", String(26), ForeignKey("alerts.id"), nullable=False),
    Column("event", String(16), nullable=False),  # opened, resolved
    Column("channel", String(16), nullable=False),  # email, webhook
    Column("subscription_id", String(26)),
    Column("state", String(16), nullable=False),  # pending, sending, sent, failed, cancelled
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
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
    Column("lease_owner", String(64)),
    Column("lease_expires_at", UTCDateTime()),
    Column("last_started_at", UTCDateTime()),
    Column("last_finished_at", UTCDateTime()),
    Column("last_run", JSONDocument),  # what the last run did: counts, per account
)

# The Shopify app an account installs on stores it does not own (the authorization code grant):
# its client id, and its client secret with the secrets it replaced, encrypted together.
shopify_apps = Table(
    "shopify_apps",
    metadata,
    Column("account_id", String(26), ForeignKey("accounts.id"), primary_key=True),
    Column("client_id", String(200), nullable=False),
    Column("secrets", Text, nullable=False),  # encrypted JSON (shoptrack.store.secrets)
    # Replaces the scheme, host and port of every shop's address (a proxy, a simulator).
    Column("api_base_url", String(2000)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Installs started and not yet come back: the state nonce (its SHA-256 only) sent to Shopify,
# bound to the browser session that started it; used once.
shopify_installs = Table(
    "shopify_installs",
    metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("account_id", String(26), ForeignKey("accounts.id"), nullable=False),
    Column("session_hash", String(64), nullable=False),
    Column("shop_domain", String(255), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

# customers/data_request deliveries: a store's customer asked the merchant for their data.
shopify_data_requests = Table(
    "shopify_data_requests",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("account_id", String(26), ForeignKey("accounts.id"), nullable=False),
    Column("integration_id", String(26), ForeignKey("integrations.id"), nullable=False),
    Column("shop_domain", String(255), nullable=False),
    Column("customer_email", String(320)),
    Column("customer_id", String(64)),
    Column("orders_requested", JSONDocument, nullable=False),
    Column("data_request_id", String(64)),
    Column("received_at", UTCDateTime(), nullable=False),
    Index(None, "integration_id", "received_at"),
)
