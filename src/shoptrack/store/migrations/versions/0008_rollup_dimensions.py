"""Test orders marked on events; rollups per currency and test flag; profiles' order totals.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

Rollups are rebuilt from the events (the old rows knew no currency), and profiles' order
statistics are computed from their Placed and Refunded Order events. Both run as one statement
each inside the database.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shoptrack.store.migrations import _ops
from shoptrack.store.types import Money, UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TEST_ADDRESS = "%@shoptrack.invalid"


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.add_column(
        "events", sa.Column("test", sa.Boolean, nullable=False, server_default=sa.text("false"))
    )
    is_test = (
        "(properties ->> 'IsTest') = 'true'"
        if postgresql
        else "json_extract(properties, '$.IsTest') = 1"
    )
    op.execute(
        f"UPDATE events SET test = true WHERE {is_test} OR profile_id IN "  # noqa: S608  # this module's constants
        f"(SELECT id FROM profiles WHERE email LIKE '{_TEST_ADDRESS}')"
    )

    op.drop_table("metric_rollups")
    _ops.create_metric_rollups(
        sa.Column("currency", sa.String(3), nullable=False, server_default=""),
        sa.Column("test", sa.Boolean, nullable=False, server_default=sa.text("false")),
    )
    hour = _hour(postgresql)
    op.execute(
        "INSERT INTO metric_rollups "  # noqa: S608  # this module's constants
        "(account_id, metric_id, hour, currency, test, count, value_sum) "
        f"SELECT account_id, metric_id, {hour}, coalesce(value_currency, ''), test, "
        "count(*), coalesce(sum(value), 0) FROM events "
        f"GROUP BY account_id, metric_id, {hour}, coalesce(value_currency, ''), test"
    )

    op.create_table(
        "profile_orders",
        sa.Column("profile_id", sa.String(26), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("account_id", sa.String(26), nullable=False),
        sa.Column("orders", sa.Integer, nullable=False),
        sa.Column("placed_value", Money(), nullable=False),
        sa.Column("refunded_value", Money(), nullable=False),
        sa.Column("first_order_at", UTCDateTime()),
        sa.Column("last_order_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("profile_id", "currency", name="pk_profile_orders"),
    )
    placed = "m.name = 'Placed Order'"
    refunded = "m.name = 'Refunded Order'"
    op.execute(
        "INSERT INTO profile_orders (profile_id, currency, account_id, orders, placed_value, "  # noqa: S608  # this module's constants
        "refunded_value, first_order_at, last_order_at) "
        "SELECT e.profile_id, coalesce(e.value_currency, ''), min(e.account_id), "
        f"count(*) FILTER (WHERE {placed}), "
        f"coalesce(sum(e.value) FILTER (WHERE {placed}), 0), "
        f"coalesce(sum(e.value) FILTER (WHERE {refunded}), 0), "
        f"min(e.time) FILTER (WHERE {placed}), max(e.time) FILTER (WHERE {placed}) "
        "FROM events e JOIN metrics m ON m.id = e.metric_id "
        f"WHERE ({placed} OR {refunded}) AND NOT e.test "
        "GROUP BY e.profile_id, coalesce(e.value_currency, '')"
    )


def _hour(postgresql: bool) -> str:
    """The hour of an event's time, in SQL (SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff' text)."""
    return (
        "date_trunc('hour', time, 'UTC')"
        if postgresql
        else "substr(time, 1, 13) || ':00:00.000000'"
    )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.drop_table("profile_orders")
    op.drop_table("metric_rollups")
    _ops.create_metric_rollups()  # as 0001 made it
    hour = _hour(postgresql)
    op.execute(
        "INSERT INTO metric_rollups (account_id, metric_id, hour, count, value_sum) "  # noqa: S608  # this module's constants
        f"SELECT account_id, metric_id, {hour}, count(*), coalesce(sum(value), 0) FROM events "
        f"GROUP BY account_id, metric_id, {hour}"
    )
    op.drop_column("events", "test")
