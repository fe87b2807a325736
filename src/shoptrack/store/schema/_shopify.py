"""The account's own Shopify app, its installs under way, and its customers' data requests."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Index,
    String,
    Table,
    Text,
)

from shoptrack.store.schema._columns import (
    account_row_columns,
    created_and_updated_columns,
    ulid_column,
)
from shoptrack.store.schema._metadata import metadata
from shoptrack.store.types import JSONDocument, UTCDateTime

__all__ = ["shopify_apps", "shopify_data_requests", "shopify_installs"]

# The Shopify app an account installs on stores it does not own (the authorization code grant):
# its client id, and its client secret with the secrets it replaced, encrypted together.
shopify_apps = Table(
    "shopify_apps",
    metadata,
    ulid_column("account_id", "accounts.id", primary_key=True),
    Column("client_id", String(200), nullable=False),
    Column("secrets", Text, nullable=False),  # encrypted JSON (shoptrack.store.secrets)
    # Replaces the scheme, host and port of every shop's address (a proxy, a simulator).
    Column("api_base_url", String(2000)),
    *created_and_updated_columns(),
)

# Installs started and not yet come back: the state nonce (its SHA-256 only) sent to Shopify,
# bound to the browser session that started it; used once.
shopify_installs = Table(
    "shopify_installs",
    metadata,
    Column("state_hash", String(64), primary_key=True),
    ulid_column("account_id", "accounts.id"),
    Column("session_hash", String(64), nullable=False),
    Column("shop_domain", String(255), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

# customers/data_request deliveries: a store's customer asked the merchant for their data.
shopify_data_requests = Table(
    "shopify_data_requests",
    metadata,
    *account_row_columns(foreign_key=True),
    ulid_column("integration_id", "integrations.id"),
    Column("shop_domain", String(255), nullable=False),
    Column("customer_email", String(320)),
    Column("customer_id", String(64)),
    Column("orders_requested", JSONDocument, nullable=False),
    Column("data_request_id", String(64)),
    Column("received_at", UTCDateTime(), nullable=False),
    Index(None, "integration_id", "received_at"),
)
