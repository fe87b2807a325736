"""Profiles: Klaviyo's standard attributes beside the names.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shoptrack.store.types import JSONDocument

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns without defaults: an instant change on PostgreSQL, safe under load.
    op.add_column("profiles", sa.Column("anonymous_id", sa.String(200)))
    op.add_column("profiles", sa.Column("organization", sa.String(200)))
    op.add_column("profiles", sa.Column("locale", sa.String(32)))
    op.add_column("profiles", sa.Column("title", sa.String(200)))
    op.add_column("profiles", sa.Column("image", sa.String(2000)))
    op.add_column("profiles", sa.Column("location", JSONDocument))
