"""Integrations: the connected stores of an account, their settings and their metrics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select

from shoptrack.connectors import connector_for, known_platforms
from shoptrack.domain.events import Metric
from shoptrack.domain.status import StatusRuleError, StatusRules
from shoptrack.errors import InputError, NotFoundError
from shoptrack.store._rows import from_row, insert_new
from shoptrack.store.metrics import ensure_metric
from shoptrack.store.schema import integrations
from shoptrack.store.secrets import CredentialCipher

__all__ = [
    "INTEGRATION_METRICS",
    "Integration",
    "create_integration",
    "find_integration",
    "get_integration",
    "integration_row",
    "integration_rows",
    "list_integrations",
    "platform_integrations",
    "remove_integration",
    "set_health",
    "update_integration",
]

# The metrics an integration records; they exist from the moment it is connected.
INTEGRATION_METRICS = (
    Metric.PLACED_ORDER,
    Metric.ORDERED_PRODUCT,
    Metric.FULFILLED_ORDER,
    Metric.CANCELLED_ORDER,
    Metric.REFUNDED_ORDER,
    Metric.STARTED_CHECKOUT,
    Metric.ADDED_TO_CART,
    Metric.VIEWED_PRODUCT,
)


@dataclass(frozen=True, slots=True)
class Integration:
    """One connected store (credentials stay encrypted in ``credentials_token``)."""

    id: str
    account_id: str
    platform: str
    name: str
    settings: Mapping[str, Any]
    enabled: bool
    health: str
    credentials_token: str
    created_at: datetime
    removed_at: datetime | None

    @property
    def rules(self) -> StatusRules:
        return connector_for(self.platform).default_rules.with_settings(self.settings)

    def credentials(self, cipher: CredentialCipher) -> dict[str, Any]:
        return cipher.decrypt(self.credentials_token)


def _integration(row: Row[Any]) -> Integration:
    return from_row(Integration, row, credentials_token=row.credentials)


def create_integration(
    connection: Connection,
    cipher: CredentialCipher,
    *,
    account_id: str,
    platform: str,
    name: str,
    credentials: Mapping[str, Any],
    settings: Mapping[str, Any],
    now: datetime,
) -> Integration:
    """Stores a new integration and creates its metrics."""
    if platform not in known_platforms():
        raise InputError(
            f"unknown platform {platform!r}; choose one of {', '.join(known_platforms())}",
            pointer="/data/attributes/platform",
        )
    try:
        connector_for(platform).default_rules.with_settings(settings)
    except StatusRuleError as error:
        raise InputError(str(error), pointer="/data/attributes/settings") from error
    integration_id = insert_new(
        connection,
        integrations,
        account_id=account_id,
        platform=platform,
        name=name.strip(),
        credentials=cipher.encrypt(credentials),
        settings=dict(settings),
        enabled=bool(settings.get("enabled", True)),
        created_at=now,
        updated_at=now,
        next_sync_at=now,
    )
    for metric in INTEGRATION_METRICS:
        ensure_metric(connection, account_id, metric, now, integration_id=integration_id)
    return get_integration(connection, account_id, integration_id)


def get_integration(connection: Connection, account_id: str, integration_id: str) -> Integration:
    row = connection.execute(
        select(integrations).where(
            integrations.c.id == integration_id, integrations.c.account_id == account_id
        )
    ).first()
    if row is None:
        raise NotFoundError(f"no integration {integration_id}", parameter="integration")
    return _integration(row)


def update_integration(
    connection: Connection,
    cipher: CredentialCipher,
    integration: Integration,
    *,
    now: datetime,
    name: str | None = None,
    credentials: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Integration:
    """Stores changed fields (credentials and settings whole: the caller merges them)."""
    values: dict[str, Any] = {"updated_at": now}
    if name is not None:
        values["name"] = name.strip()
    if credentials is not None:
        values["credentials"] = cipher.encrypt(credentials)
    if settings is not None:
        values["settings"] = dict(settings)
        values["enabled"] = bool(settings.get("enabled", True))
    connection.execute(
        integrations.update().where(integrations.c.id == integration.id).values(**values)
    )
    return get_integration(connection, integration.account_id, integration.id)


def remove_integration(connection: Connection, integration: Integration, now: datetime) -> None:
    """A soft delete: the integration stops, its events and metrics stay."""
    connection.execute(
        integrations.update()
        .where(integrations.c.id == integration.id)
        .values(removed_at=now, enabled=False, updated_at=now, next_sync_at=None)
    )


def set_health(
    connection: Connection, integration_id: str, health: str, detail: Mapping[str, Any] | None
) -> None:
    connection.execute(
        integrations.update()
        .where(integrations.c.id == integration_id)
        .values(health=health, health_detail=dict(detail) if detail is not None else None)
    )


def integration_row(connection: Connection, integration_id: str) -> Row[Any]:
    """The whole stored row (work columns included), for the API's view of it."""
    return connection.execute(select(integrations).where(integrations.c.id == integration_id)).one()


def find_integration(connection: Connection, integration_id: str) -> Integration | None:
    """An integration by id alone: for webhook intake, where the URL names it."""
    row = connection.execute(
        select(integrations).where(integrations.c.id == integration_id)
    ).first()
    return None if row is None else _integration(row)


def list_integrations(connection: Connection, account_id: str) -> list[Integration]:
    rows = connection.execute(
        select(integrations)
        .where(integrations.c.account_id == account_id, integrations.c.removed_at.is_(None))
        .order_by(integrations.c.id)
    )
    return [_integration(row) for row in rows]


def integration_rows(connection: Connection, account_id: str) -> list[Row[Any]]:
    """The whole rows of the account's integrations (removed ones left out), by name."""
    return list(
        connection.execute(
            select(integrations)
            .where(integrations.c.account_id == account_id, integrations.c.removed_at.is_(None))
            .order_by(integrations.c.name, integrations.c.id)
        )
    )


def platform_integrations(connection: Connection, platform: str) -> list[Integration]:
    """Every integration of ``platform``, in any account, removed ones too."""
    rows = connection.execute(select(integrations).where(integrations.c.platform == platform))
    return [_integration(row) for row in rows]
