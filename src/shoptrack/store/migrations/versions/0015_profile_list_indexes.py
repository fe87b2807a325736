"""The Profiles list sorts by last activity and by order figures: an index of profiles by
account and last event time serves the default sort page by page, and one of the profile order
statistics by account and currency serves the account's currencies and the value sort.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_profiles_account_id_last_event_at_id", "profiles", ["account_id", "last_event_at", "id"]),
    ("ix_profile_orders_account_id_currency", "profile_orders", ["account_id", "currency"]),
)


def upgrade() -> None:
    # Built without blocking writes on PostgreSQL: profiles are written by every batch.
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            for name, table, columns in _INDEXES:
                op.create_index(name, table, columns, postgresql_concurrently=True)
    else:
        for name, table, columns in _INDEXES:
            op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in _INDEXES:
        op.drop_index(name, table)
