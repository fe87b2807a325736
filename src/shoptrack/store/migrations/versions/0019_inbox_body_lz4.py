"""Inbox bodies compressed with LZ4 on PostgreSQL, where the server has it: a store's delivery
is a few kilobytes, above the size PostgreSQL compresses at, and its default compression
(pglz) took nearly a third of the server's CPU for each delivery intake stored; LZ4 takes a
fraction of that to write and to read back. Rows stored before keep their compression (both
read alike). Nothing changes on SQLite, or on a server without LZ4 (or older than 14).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def _has_lz4() -> bool:
    # default_toast_compression (PostgreSQL 14 and later) offers lz4 when the server has it.
    offered = op.get_bind().exec_driver_sql(
        "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"
    )
    values = offered.scalar()
    return values is not None and "lz4" in values


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql" and _has_lz4():
        op.execute("ALTER TABLE inbox ALTER COLUMN body SET COMPRESSION lz4")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql" and _has_lz4():
        op.execute("ALTER TABLE inbox ALTER COLUMN body SET COMPRESSION default")
