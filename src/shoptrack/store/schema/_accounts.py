"""Accounts and who acts in them: the account (with its settings), its API keys, the people who
sign in to the web UI and their sessions."""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, text

from shoptrack.store.schema._columns import (
    account_row_columns,
    flag_column,
    id_column,
    ulid_column,
)
from shoptrack.store.schema._metadata import metadata
from shoptrack.store.types import UTCDateTime

__all__ = ["accounts", "api_keys", "users", "web_sessions"]

accounts = Table(
    "accounts",
    metadata,
    id_column(),
    Column("name", String(200), nullable=False),
    Column("public_key", String(16), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    # The From of the account's flow emails; SHOPTRACK_EMAIL_FROM while it is NULL.
    Column("email_from", String(320)),
    # The account's settings (domain.account_settings.AccountSettings), one column each.
    Column("time_zone", String(64), nullable=False, server_default="UTC"),
    flag_column("test_sends", default=False),
    Column("attribution_window_days", Integer, nullable=False, server_default=text("5")),
    flag_column("attribution_clicks_only", default=False),
    flag_column("email_tracking", default=True),
    flag_column("utm_parameters", default=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    *account_row_columns(foreign_key=True, index=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    # The first and last characters, so a merchant can tell keys apart without seeing them.
    Column("hint", String(16), nullable=False),
    Column("label", String(200), nullable=False, server_default=""),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
)

# People who sign in to the web UI: each belongs to one account and sees only it.
users = Table(
    "users",
    metadata,
    *account_row_columns(foreign_key=True, index=True),
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
    ulid_column("user_id", "users.id", index=True),
    ulid_column("account_id"),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)
