"""Access tokens shoptrack obtains itself (a Shopify Dev Dashboard app's client credentials
grant): kept beside the credentials the merchant entered, encrypted the same way.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: adding it rewrites no row.
    op.add_column("integrations", sa.Column("issued_token", sa.Text))


def downgrade() -> None:
    op.drop_column("integrations", "issued_token")
