"""Installing a Shopify app on stores an account does not own: the account's app (client id,
encrypted secrets), installs started and not yet come back, and customers' data requests.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shoptrack.store.types import JSONDocument, UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shopify_apps",
        sa.Column("account_id", sa.String(26), nullable=False),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("secrets", sa.Text, nullable=False),
        sa.Column("api_base_url", sa.String(2000)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_shopify_apps"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_shopify_apps_account_id_accounts"
        ),
    )
    op.create_table(
        "shopify_installs",
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(26), nullable=False),
        sa.Column("session_hash", sa.String(64), nullable=False),
        sa.Column("shop_domain", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("state_hash", name="pk_shopify_installs"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_shopify_installs_account_id_accounts"
        ),
    )
    op.create_table(
        "shopify_data_requests",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("account_id", sa.String(26), nullable=False),
        sa.Column("integration_id", sa.String(26), nullable=False),
        sa.Column("shop_domain", sa.String(255), nullable=False),
        sa.Column("customer_email", sa.String(320)),
        sa.Column("customer_id", sa.String(64)),
        sa.Column("orders_requested", JSONDocument, nullable=False),
        sa.Column("data_request_id", sa.String(64)),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_shopify_data_requests"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_shopify_data_requests_account_id_accounts"
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name="fk_shopify_data_requests_integration_id_integrations",
        ),
    )
    op.create_index(
        "ix_shopify_data_requests_integration_id_received_at",
        "shopify_data_requests",
        ["integration_id", "received_at"],
    )


def downgrade() -> None:
    op.drop_table("shopify_data_requests")
    op.drop_table("shopify_installs")
    op.drop_table("shopify_apps")
