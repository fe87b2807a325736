"""What the checks of one integration share: its stored data, and the store's live answers, each
asked once however many checks read them."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from pydantic import ValidationError
from sqlalchemy import Connection

from shoptrack.connectors import WebhookVerdict, connector_for
from shoptrack.connectors.base import ClientFactory, Credentials, WebhookHealth, store_clients
from shoptrack.connectors.errors import StoreError
from shoptrack.connectors.http import StoreClient
from shoptrack.connectors.secret_variants import verifying_variant
from shoptrack.doctor._findings import Finding
from shoptrack.integrations import webhook_url
from shoptrack.pipeline.sync import stored_tokens
from shoptrack.services import Services
from shoptrack.store.diagnostics import StoredDelivery, rejected_deliveries
from shoptrack.store.integrations import Integration, integration_row
from shoptrack.store.rejections import unstored_counts

__all__ = [
    "REJECTED_WINDOW_DAYS",
    "ClientFactory",
    "Examination",
    "LiveAnswer",
    "RejectedDeliveries",
]

# Refused webhook deliveries older than this no longer say anything about the setup now.
REJECTED_WINDOW_DAYS = 7

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class LiveAnswer:
    """What asking the store gave: ``asked`` is False when it could not be asked at all
    (credentials that cannot be read), ``error`` the classified failure when it failed."""

    asked: bool
    error: StoreError | None = None

    @property
    def ok(self) -> bool:
        return self.asked and self.error is None


@dataclass(frozen=True, slots=True)
class RejectedDeliveries:
    """The integration's recently refused webhook deliveries, sorted by why."""

    signature: tuple[StoredDelivery, ...]  # signed with no secret shoptrack holds
    clock_skew: tuple[StoredDelivery, ...]  # signed, but timestamped out of tolerance
    # Deliveries that verify once white space is added to or removed from a secret: each with
    # the secret that verifies it, and how that secret differs from the stored one.
    whitespace: tuple[tuple[StoredDelivery, str, str], ...]
    # Refused past the integration's limit and not stored, by verdict (rejected, clock_skew).
    unstored: Mapping[str, int] = field(default_factory=dict)


class Examination:
    """One integration under examination at ``now``; live answers are asked lazily, once.

    Each read opens a connection of its own, unless the examination is given one
    (``connection``): an examination that asks no store reads everything through it, so a
    page that diagnoses on every view takes one connection for all the checks.
    """

    def __init__(
        self,
        services: Services,
        integration: Integration,
        now: datetime,
        client_factory: ClientFactory | None = None,
        *,
        live: bool = True,
        connection: Connection | None = None,
    ) -> None:
        self.services = services
        self.integration = integration
        self.now = now
        # The connector's own client, as syncs use it, unless a test hands in its own.
        self.client_factory = client_factory or store_clients(
            services.outbound, stored_tokens(services, integration.id)
        )
        # False: the store is never asked (the checks that need it are left out, and the
        # others read what was recorded instead); for pages that diagnose on every view.
        self.live = live
        self.connector = connector_for(integration.platform)
        # The findings of the checks run so far, by code (later checks may point to them).
        self.findings: dict[str, Finding] = {}
        self._connection = connection
        self._shared: dict[str, object] = {}

    @contextmanager
    def read(self) -> Iterator[Connection]:
        if self._connection is not None:
            yield self._connection
            return
        with self.services.database.read() as connection:
            yield connection

    def shared(self, key: str, compute: Callable[[], _T]) -> _T:
        """What several checks read (``key`` names it): computed by the first that asks, once
        per examination."""
        if key not in self._shared:
            self._shared[key] = compute()
        return cast("_T", self._shared[key])

    @property
    def has_webhooks(self) -> bool:
        """Whether the platform delivers webhooks (the platforms polled only as a safety net)."""
        return self.connector.sends_webhooks

    @property
    def delivery_url(self) -> str:
        return webhook_url(self.services, self.integration)

    @functools.cached_property
    def row(self) -> Any:
        """The integration's stored row, work columns included (health, cursor, schedule)."""
        with self.read() as connection:
            return integration_row(connection, self.integration.id)

    @functools.cached_property
    def stored_credentials(self) -> dict[str, Any]:
        return self.integration.credentials(self.services.cipher)

    @functools.cached_property
    def credential_errors(self) -> list[tuple[str, str]]:
        """The stored credentials' problems as (field, message): empty when they read."""
        try:
            self.connector.credentials_model.model_validate(self.stored_credentials)
        except ValidationError as error:
            return [
                (".".join(str(part) for part in item["loc"]), item["msg"])
                for item in error.errors(include_url=False)
            ]
        return []

    @functools.cached_property
    def credentials(self) -> Credentials | None:
        if self.credential_errors:
            return None
        return self.connector.credentials_model.model_validate(self.stored_credentials)

    def client(self) -> StoreClient:
        """A client of the store; only called once ``credentials`` read."""
        if self.credentials is None:
            raise RuntimeError("the stored credentials cannot be read")
        return self.client_factory(self.connector, self.credentials)

    @functools.cached_property
    def store_check(self) -> LiveAnswer:
        """The connector's credential check, asked of the store now (not asked when the
        examination is not ``live``)."""
        if self.credentials is None or not self.live:
            return LiveAnswer(asked=False)
        try:
            with self.client() as client:
                self.connector.check_credentials(client)
        except StoreError as error:
            return LiveAnswer(asked=True, error=error)
        return LiveAnswer(asked=True)

    @functools.cached_property
    def webhook_health(self) -> WebhookHealth | StoreError | None:
        """What the store says about its webhooks to shoptrack; None where it cannot say (a
        platform without the hook, or a store that refuses the keys already)."""
        if not self.has_webhooks or not self.store_check.ok:
            return None
        try:
            with self.client() as client:
                return self.connector.webhook_health(client, self.delivery_url)
        except StoreError as error:
            return error

    @functools.cached_property
    def rejected(self) -> RejectedDeliveries:
        since = self.now - timedelta(days=REJECTED_WINDOW_DAYS)
        with self.read() as connection:
            rows = rejected_deliveries(connection, self.integration.id, since)
            unstored = unstored_counts(connection, self.integration.id, since)
        secrets = self.connector.webhook_secrets(self.stored_credentials)
        signature, skew, whitespace = [], [], []
        for row in rows:
            if (row.reason or "").startswith(f"{WebhookVerdict.CLOCK_SKEW}:"):
                skew.append(row)
                continue
            variant = (
                None
                if row.body_truncated
                else verifying_variant(self.connector, secrets, row.headers, row.body)
            )
            if variant is None:
                signature.append(row)
            else:
                whitespace.append((row, *variant))
        return RejectedDeliveries(tuple(signature), tuple(skew), tuple(whitespace), unstored)
