"""The Shopify app of an account (client id, encrypted secrets), the installs it started, and
the data requests its stores' customers made."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from shoptrack.store._rows import from_row, insert_new, row_values
from shoptrack.store.schema import shopify_apps, shopify_data_requests, shopify_installs
from shoptrack.store.secrets import CredentialCipher

__all__ = [
    "DataRequest",
    "PendingInstall",
    "ShopifyApp",
    "app_account_ids",
    "data_requests",
    "forget_data_requests",
    "forget_expired_installs",
    "load_app",
    "record_data_request",
    "save_app",
    "start_install",
    "take_install",
]


@dataclass(frozen=True, slots=True)
class ShopifyApp:
    """An account's app: what signs its callbacks and webhooks is ``client_secret``, then the
    secrets it replaced (deliveries signed before a rotation still verify)."""

    client_id: str
    client_secret: str = field(repr=False)
    previous_secrets: tuple[str, ...] = field(default=(), repr=False)
    api_base_url: str | None = None
    updated_at: datetime | None = None

    @property
    def secrets(self) -> list[str]:
        return [self.client_secret, *self.previous_secrets]


@dataclass(frozen=True, slots=True)
class PendingInstall:
    """An install started by a browser session, waiting for Shopify's redirect back."""

    account_id: str
    session_hash: str
    shop_domain: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class DataRequest:
    """A customer's request for their data, received through ``customers/data_request``."""

    id: str
    integration_id: str
    shop_domain: str
    customer_email: str | None
    customer_id: str | None
    orders_requested: Sequence[str]
    received_at: datetime


def load_app(
    connection: Connection, cipher: CredentialCipher, account_id: str
) -> ShopifyApp | None:
    row = connection.execute(
        select(shopify_apps).where(shopify_apps.c.account_id == account_id)
    ).first()
    if row is None:
        return None
    sealed = cipher.decrypt(row.secrets)
    return ShopifyApp(
        client_id=row.client_id,
        client_secret=str(sealed["client_secret"]),
        previous_secrets=tuple(str(s) for s in sealed.get("previous_secrets") or ()),
        api_base_url=row.api_base_url,
        updated_at=row.updated_at,
    )


def save_app(
    connection: Connection,
    cipher: CredentialCipher,
    account_id: str,
    app: ShopifyApp,
    now: datetime,
) -> None:
    """Stores the account's app in place of the one before."""
    values: dict[str, Any] = {
        "client_id": app.client_id,
        "secrets": cipher.encrypt(
            {"client_secret": app.client_secret, "previous_secrets": list(app.previous_secrets)}
        ),
        "api_base_url": app.api_base_url,
        "updated_at": now,
    }
    updated = connection.execute(
        shopify_apps.update().where(shopify_apps.c.account_id == account_id).values(**values)
    )
    if not updated.rowcount:
        connection.execute(
            shopify_apps.insert().values(account_id=account_id, created_at=now, **values)
        )


def start_install(
    connection: Connection, state_hash: str, install: PendingInstall, now: datetime
) -> None:
    """Keeps an install started until Shopify's redirect back brings its state."""
    connection.execute(
        shopify_installs.insert().values(
            state_hash=state_hash, created_at=now, **row_values(install)
        )
    )


def take_install(connection: Connection, state_hash: str) -> PendingInstall | None:
    """The install of that state, removed: a state is good for one callback."""
    row = connection.execute(
        select(shopify_installs).where(shopify_installs.c.state_hash == state_hash)
    ).first()
    if row is None:
        return None
    connection.execute(delete(shopify_installs).where(shopify_installs.c.state_hash == state_hash))
    return from_row(PendingInstall, row)


def forget_expired_installs(connection: Connection, now: datetime) -> None:
    connection.execute(delete(shopify_installs).where(shopify_installs.c.expires_at < now))


def record_data_request(
    connection: Connection,
    *,
    account_id: str,
    integration_id: str,
    shop_domain: str,
    customer_email: str | None,
    customer_id: str | None,
    orders_requested: Sequence[str],
    data_request_id: str | None,
    now: datetime,
) -> str:
    return insert_new(
        connection,
        shopify_data_requests,
        account_id=account_id,
        integration_id=integration_id,
        shop_domain=shop_domain,
        customer_email=customer_email,
        customer_id=customer_id,
        orders_requested=list(orders_requested),
        data_request_id=data_request_id,
        received_at=now,
    )


def data_requests(
    connection: Connection, integration_id: str, since: datetime
) -> list[DataRequest]:
    """The integration's data requests received since ``since``, newest first."""
    rows = connection.execute(
        select(shopify_data_requests)
        .where(
            shopify_data_requests.c.integration_id == integration_id,
            shopify_data_requests.c.received_at >= since,
        )
        .order_by(shopify_data_requests.c.received_at.desc())
    )
    return [
        from_row(DataRequest, row, orders_requested=tuple(row.orders_requested or ()))
        for row in rows
    ]


def forget_data_requests(connection: Connection, integration_id: str) -> None:
    """Deletes the integration's data requests (they name customers): its shop is redacted."""
    connection.execute(
        delete(shopify_data_requests).where(
            shopify_data_requests.c.integration_id == integration_id
        )
    )


def app_account_ids(connection: Connection) -> list[str]:
    """The ids of the accounts that have configured a Shopify app."""
    return list(connection.execute(select(shopify_apps.c.account_id)).scalars())
