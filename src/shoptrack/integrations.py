"""Connecting stores: what happens when a merchant adds, changes or removes an integration.

Credentials are trimmed (and the trimmed fields said), checked against the store — refused only
when the store itself refuses them, or when its address answers with something that is not JSON
(no store API there); a firewall page, a timeout or a 5xx still connects, with the integration's
health at ``error`` and a warning — then stored encrypted. Settings are checked
here, so a wrong status rule or time zone is a 400 naming it.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Connection

from shoptrack.connectors import Connector, connector_for, known_platforms
from shoptrack.connectors.base import (
    ClientFactory,
    Credentials,
    clean_credentials,
    store_clients,
)
from shoptrack.connectors.errors import (
    StoreAnswerNotJSONError,
    StoreConfigError,
    StoreError,
    store_failure,
)
from shoptrack.connectors.tokens import MemoryTokens
from shoptrack.domain.status import StatusRuleError
from shoptrack.errors import InputError
from shoptrack.pipeline.processing import reevaluate
from shoptrack.services import Services
from shoptrack.store.integrations import (
    Integration,
    create_integration,
    find_integration,
    get_integration,
    integration_row,
    remove_integration,
    set_health,
    update_integration,
)
from shoptrack.store.issued_tokens import StoredTokens, clear_issued_token, save_issued_token
from shoptrack.store.sync_runs import list_runs

__all__ = [
    "KEPT_SECRETS",
    "ConnectResult",
    "CredentialsRejectedError",
    "IntegrationSettings",
    "IntegrationView",
    "StoreNotFoundError",
    "connect",
    "integration_view",
    "register_webhooks",
    "remove",
    "retired_secrets",
    "uninstalled",
    "update",
    "webhook_url",
]

# Webhook secrets replaced by a rotation that still verify deliveries.
KEPT_SECRETS = 3
_RULE_SETTINGS = (
    "placed_statuses",
    "fulfilled_statuses",
    "cancelled_statuses",
    "refunded_statuses",
)


class CredentialsRejectedError(InputError):
    """The store refused the credentials; ``meta.store_answer`` holds its own words."""

    code = "credentials_rejected"
    status = 422
    title = "The store refused the credentials."


class StoreNotFoundError(InputError):
    """The address answers, but not with the platform's API (a web page where it should be);
    ``source.pointer`` names the address field, ``meta.store_answer`` quotes the answer."""

    code = "store_not_found"
    status = 422
    title = "No store API at this address."


class IntegrationSettings(BaseModel):
    """An integration's settings (DESIGN.md); status lists are checked by the status rules."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    placed_statuses: Any = None
    fulfilled_statuses: Any = None
    cancelled_statuses: Any = None
    refunded_statuses: Any = None
    timezone: str | None = None
    sync_interval_minutes: int | None = Field(default=None, ge=1, le=1440)
    backfill_days: int | None = Field(default=None, ge=0, le=3650)
    # Kept by shoptrack, not chosen: the credential fields that had white space trimmed on
    # entry (the same space may sit on the store's side; the doctor's credentials_whitespace).
    trimmed_credentials: list[str] | None = None

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Paris") from error
        return value


def check_settings(platform: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings as stored (unset keys left out), or a 400 naming the wrong one."""
    try:
        checked = IntegrationSettings.model_validate(dict(settings))
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        name = ".".join(str(part) for part in first["loc"])
        message = "unknown setting" if first["type"] == "extra_forbidden" else first["msg"]
        raise InputError(
            f"settings.{name}: {message}", pointer=f"/data/attributes/settings/{name}"
        ) from error
    stored = checked.model_dump(exclude_none=True)
    try:
        connector_for(platform).default_rules.with_settings(stored)
    except StatusRuleError as error:
        raise InputError(str(error), pointer="/data/attributes/settings") from error
    return stored


def retired_secrets(
    connector: Connector, old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[str]:
    """The secrets ``new`` credentials keep from a rotation (in the connector's
    ``previous_webhook_secrets_field``): the webhook secrets of ``old`` that ``new`` no longer
    has, newest first (``KEPT_SECRETS`` at most). Deliveries the store signed before a
    rotation, still in flight or retried, keep verifying."""
    field = connector.previous_webhook_secrets_field
    current = set(connector.webhook_secrets({**new, **({field: []} if field else {})}))
    kept = [s for s in connector.webhook_secrets(old) if s not in current]
    return list(dict.fromkeys(kept))[:KEPT_SECRETS]


def webhook_url(services: Services, integration: Integration) -> str:
    base = services.settings.public_base
    return f"{base}/webhooks/{integration.platform}/{integration.id}"


@dataclass(frozen=True, slots=True)
class IntegrationView:
    """An integration as the API and the CLI show it: its whole stored row, its status rules,
    which credential fields are set (never their values), its webhook URL and its latest sync
    run (None before the first)."""

    row: Any
    integration: Integration
    credential_fields: tuple[str, ...]
    webhook_url: str
    last_run: Any | None


def integration_view(services: Services, integration_id: str) -> IntegrationView:
    """What showing an integration takes, read in one transaction; its credentials are
    decrypted only to tell which fields are set."""
    with services.database.read() as connection:
        row = integration_row(connection, integration_id)
        last = list_runs(connection, row.account_id, row.id, limit=1)
        integration = get_integration(connection, row.account_id, row.id)
    credentials = integration.credentials(services.cipher)
    return IntegrationView(
        row=row,
        integration=integration,
        credential_fields=tuple(sorted(name for name, value in credentials.items() if value)),
        webhook_url=webhook_url(services, integration),
        last_run=last[0] if last else None,
    )


@dataclass(slots=True)
class ConnectResult:
    """The integration, with what the merchant should know about how connecting went."""

    integration: Integration
    trimmed_fields: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _check_store(
    services: Services,
    connector: Connector,
    credentials: Credentials,
    client_factory: ClientFactory,
) -> StoreError | None:
    """None when the store accepts the keys; the error when it cannot be asked now. A refusal
    by the store itself, or an address shoptrack may not reach, is raised: nothing is stored
    then."""
    field = connector.address_field(credentials)
    origin = connector.origin(credentials)
    services.outbound.check_url(origin, field=f"credentials.{field}")
    try:
        with client_factory(connector, credentials) as client:
            connector.check_credentials(client)
    except StoreAnswerNotJSONError as error:
        raise StoreNotFoundError(
            f"no {connector.platform} API at {field} ({origin}): it answered HTTP "
            f"{error.store_status}, but {error.detail}; check the address",
            pointer=f"/data/attributes/credentials/{field}",
            meta={"store_status": error.store_status, "store_answer": error.store_answer},
        ) from error
    except StoreConfigError as error:
        if error.code in ("credentials_rejected", "scope_missing", "store_not_found"):
            raise CredentialsRejectedError(
                f"{connector.platform} refused the credentials: {error.detail}",
                pointer="/data/attributes/credentials",
                meta={"store_status": error.store_status, "store_answer": error.store_answer},
            ) from error
        return error
    except StoreError as error:
        return error
    return None


def _keep_token(
    connection: Connection, services: Services, integration_id: str, tokens: MemoryTokens
) -> None:
    """Stores the token obtained while connecting (or none: the integration's old one is
    dropped)."""
    token = tokens.load()
    if token is None:
        clear_issued_token(connection, integration_id)
    else:
        save_issued_token(connection, services.cipher, integration_id, token)


def _health(error: StoreError | None) -> tuple[str, dict[str, Any] | None]:
    if error is None:
        return "ok", None
    return "error", store_failure(error)


def connect(
    services: Services,
    *,
    account_id: str,
    platform: str,
    name: str,
    credentials: Mapping[str, Any],
    settings: Mapping[str, Any] | None = None,
    client_factory: ClientFactory | None = None,
) -> ConnectResult:
    """Adds an integration: checked, stored, its metrics created, its webhooks registered."""
    if platform not in known_platforms():
        raise InputError(
            f"unknown platform {platform!r}; choose one of {', '.join(known_platforms())}",
            pointer="/data/attributes/platform",
        )
    if not name.strip():
        raise InputError("the integration needs a name", pointer="/data/attributes/name")
    connector = connector_for(platform)
    raw = dict(credentials)
    if connector.chooses_webhook_secret and not raw.get("webhook_secret"):
        raw["webhook_secret"] = secrets.token_urlsafe(32)
    checked, trimmed = clean_credentials(connector.credentials_model, raw)
    stored_settings = check_settings(platform, settings or {})
    if trimmed:
        stored_settings["trimmed_credentials"] = trimmed
    tokens = MemoryTokens(services.clock)
    factory = client_factory or store_clients(services.outbound, tokens)
    failure = _check_store(services, connector, checked, factory)
    now = services.clock.now()
    with services.database.write() as connection:
        integration = create_integration(
            connection,
            services.cipher,
            account_id=account_id,
            platform=platform,
            name=name,
            credentials=checked.model_dump(exclude_none=True),
            settings=stored_settings,
            now=now,
        )
        set_health(connection, integration.id, *_health(failure))
        _keep_token(connection, services, integration.id, tokens)
    result = ConnectResult(integration, trimmed)
    if trimmed:
        result.warnings.append(
            f"white space was trimmed from {', '.join(trimmed)}; if the store's copy has it too, "
            "remove it there"
        )
    if failure is not None:
        result.warnings.append(f"the store could not be checked: {failure.detail}")
        return result
    _subscribe(
        services,
        connector=connector,
        credentials=checked,
        integration=integration,
        result=result,
        client_factory=factory,
    )
    return result


def register_webhooks(
    services: Services, result: ConnectResult, client_factory: ClientFactory | None = None
) -> None:
    """Asks the store again to send webhooks here (an app installed anew lost them)."""
    integration = result.integration
    connector = connector_for(integration.platform)
    credentials, _ = clean_credentials(
        connector.credentials_model, integration.credentials(services.cipher)
    )
    _subscribe(
        services,
        connector=connector,
        credentials=credentials,
        integration=integration,
        result=result,
        client_factory=client_factory
        or store_clients(
            services.outbound,
            StoredTokens(services.database, services.cipher, services.clock, integration.id),
        ),
    )


def _subscribe(
    services: Services,
    *,
    connector: Connector,
    credentials: Credentials,
    integration: Integration,
    result: ConnectResult,
    client_factory: ClientFactory,
) -> None:
    """Asks the store to send webhooks here; a failure never fails the connection."""
    try:
        with client_factory(connector, credentials) as client:
            connector.register_webhooks(client, webhook_url(services, integration), credentials)
    except StoreError as error:
        result.warnings.append(
            f"webhooks could not be registered ({error.detail}); orders still arrive by polling"
        )
        with services.database.write() as connection:
            set_health(connection, integration.id, "degraded", _health(error)[1])


def update(
    services: Services,
    *,
    account_id: str,
    integration_id: str,
    name: str | None = None,
    credentials: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
    client_factory: ClientFactory | None = None,
) -> ConnectResult:
    """Merges changed credentials and settings key by key; new credentials are checked like on
    connecting, and a changed status rule re-evaluates the kept orders (as backfill)."""
    with services.database.read() as connection:
        integration = get_integration(connection, account_id, integration_id)
    connector = connector_for(integration.platform)
    result = ConnectResult(integration)
    new_credentials = None
    failure: StoreError | None = None
    tokens = MemoryTokens(services.clock)
    if credentials:
        stored = integration.credentials(services.cipher)
        merged = stored | dict(credentials)
        kept_field = connector.previous_webhook_secrets_field
        if kept_field is not None and kept_field not in credentials:
            merged[kept_field] = retired_secrets(connector, stored, merged)
        checked, result.trimmed_fields = clean_credentials(connector.credentials_model, merged)
        factory = client_factory or store_clients(services.outbound, tokens)
        failure = _check_store(services, connector, checked, factory)
        new_credentials = checked.model_dump(exclude_none=True)
    new_settings = None
    if credentials:
        # Fields entered again lose their old mark; what this entry trimmed is marked.
        kept = set(integration.settings.get("trimmed_credentials") or []) - set(credentials)
        marked = sorted(kept | set(result.trimmed_fields))
        settings = {**(settings or {}), "trimmed_credentials": marked or None}
    if settings is not None:
        merged_settings = {**integration.settings, **settings}
        new_settings = check_settings(
            integration.platform, {k: v for k, v in merged_settings.items() if v is not None}
        )
    if name is not None and not name.strip():
        raise InputError("the integration needs a name", pointer="/data/attributes/name")
    with services.database.write() as connection:
        updated = update_integration(
            connection,
            services.cipher,
            integration,
            now=services.clock.now(),
            name=name,
            credentials=new_credentials,
            settings=new_settings,
        )
        if new_credentials is not None:
            set_health(connection, integration.id, *_health(failure))
            # A token of the old credentials is forgotten with them.
            _keep_token(connection, services, integration.id, tokens)
    result.integration = updated
    if failure is not None:
        result.warnings.append(f"the store could not be checked: {failure.detail}")
    if new_settings is not None and any(
        integration.settings.get(key) != new_settings.get(key) for key in _RULE_SETTINGS
    ):
        recorded = reevaluate(services.database, updated, services.clock.now())
        if recorded:
            result.warnings.append(
                f"the new status rules recorded {len(recorded)} events for kept orders, as backfill"
            )
    return result


def uninstalled(services: Services, integration_id: str, topic: str) -> None:
    """The store says the app was uninstalled (``topic``): its token no longer works, so the
    integration is disabled, its health says why (the doctor's ``integration_disabled``), and
    the token obtained for it is forgotten. Installing the app again enables it."""
    now = services.clock.now()
    with services.database.write() as connection:
        integration = find_integration(connection, integration_id)
        if integration is None:
            return
        update_integration(
            connection,
            services.cipher,
            integration,
            now=now,
            settings={**integration.settings, "enabled": False},
        )
        set_health(
            connection,
            integration_id,
            "error",
            {
                "code": "app_uninstalled",
                "kind": "config",
                "detail": f"the store sent {topic}: the app was uninstalled, and its access"
                " token no longer works",
                "uninstalled_at": now.isoformat(),
            },
        )
        clear_issued_token(connection, integration_id)


def remove(services: Services, *, account_id: str, integration_id: str) -> None:
    with services.database.write() as connection:
        integration = get_integration(connection, account_id, integration_id)
        remove_integration(connection, integration, services.clock.now())
