"""Flow webhook secrets encrypted: each webhook step's ``secret`` (plain text in the definition)
becomes ``secret_encrypted``, sealed with SHOPTRACK_SECRET_KEY like store credentials.

The cipher comes from ``upgrade(database, cipher=...)`` (``Services.upgrade`` hands over the
process's). A database with plain secrets and no cipher stops here, saying so, rather than
leaving them readable.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from shoptrack.store.secrets import CredentialCipher
from shoptrack.store.types import JSONDocument

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_flows = sa.table("flows", sa.column("id", sa.String), sa.column("definition", JSONDocument))


def _required(cipher: object) -> CredentialCipher:
    if not isinstance(cipher, CredentialCipher):
        raise RuntimeError(
            "flow webhook secrets are encrypted by this migration, which needs "
            "SHOPTRACK_SECRET_KEY: run `shoptrack db upgrade` (or `serve`) with it set"
        )
    return cipher


def _rewrite(change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
    """Applies ``change`` to every webhook step of every flow (None: leave the step alone)."""
    connection = op.get_bind()
    for row in connection.execute(sa.select(_flows.c.id, _flows.c.definition)).all():
        definition = dict(row.definition)
        actions = list(definition.get("actions") or [])
        changed = False
        for index, action in enumerate(actions):
            if isinstance(action, dict) and action.get("type") == "send-webhook":
                replaced = change(action)
                if replaced is not None:
                    actions[index] = replaced
                    changed = True
        if changed:
            definition["actions"] = actions
            connection.execute(
                sa.update(_flows).where(_flows.c.id == row.id).values(definition=definition)
            )


def upgrade() -> None:
    cipher = context.config.attributes.get("cipher")

    def seal(action: dict[str, Any]) -> dict[str, Any] | None:
        if "secret" not in action:
            return None
        sealed = {key: value for key, value in action.items() if key != "secret"}
        sealed["secret_encrypted"] = _required(cipher).encrypt({"secret": action["secret"]})
        return sealed

    _rewrite(seal)


def downgrade() -> None:
    cipher = context.config.attributes.get("cipher")

    def unseal(action: dict[str, Any]) -> dict[str, Any] | None:
        if "secret_encrypted" not in action:
            return None
        plain = {key: value for key, value in action.items() if key != "secret_encrypted"}
        plain["secret"] = _required(cipher).decrypt(action["secret_encrypted"])["secret"]
        return plain

    _rewrite(unseal)
