"""The tables, as SQLAlchemy Core metadata. Migrations in ``migrations/versions`` create them;
``tests/store/test_migrations.py`` checks that the two agree.

Every table belongs to the one ``metadata`` (``_metadata``), which Alembic's ``env.py`` reads;
the tables are defined by concern and all imported from here, so that importing this package
registers every one of them: ``_accounts`` (accounts, keys, users), ``_integrations`` (stores
and what comes from them), ``_events`` (metrics, profiles, events), ``_flows``, ``_alerts``,
``_shopify`` (the account's Shopify app); ``_columns`` holds the column shapes they share
(ids and the references to them, flags, counters, timestamps, a work row's attempts and lease).
"""

from shoptrack.store.schema._accounts import accounts, api_keys, users, web_sessions
from shoptrack.store.schema._alerts import (
    alert_notifications,
    alert_subscriptions,
    alerts,
    watchdog,
)
from shoptrack.store.schema._events import (
    event_keys,
    events,
    metric_rollups,
    metrics,
    profile_orders,
    profiles,
)
from shoptrack.store.schema._flows import (
    email_engagements,
    email_links,
    email_suppressions,
    flow_activity,
    flow_attributions,
    flow_deliveries,
    flow_runs,
    flows,
    tracking_keys,
)
from shoptrack.store.schema._integrations import (
    inbox,
    integrations,
    order_fetches,
    order_states,
    sync_runs,
    unstored_rejections,
)
from shoptrack.store.schema._metadata import metadata
from shoptrack.store.schema._shopify import shopify_apps, shopify_data_requests, shopify_installs

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
