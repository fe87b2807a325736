"""Installing an account's Shopify app on stores it does not own: the authorization code grant.

An agency (or any merchant with several shops) creates one app in the Dev Dashboard, enters its
client id and secret here once (``configure``), and installs it on each client's shop from the
web UI:

1. ``begin_install`` checks the shop's ``myshopify.com`` domain, keeps a ``state`` nonce (its
   hash) bound to the browser session, and gives Shopify's authorize URL
   (``https://{shop}/admin/oauth/authorize?client_id&scope&redirect_uri&state``).
2. The merchant approves; Shopify redirects to ``/integrations/shopify/callback`` with ``code``,
   ``hmac``, ``shop``, ``state`` and ``timestamp``. ``finish_install`` verifies the ``hmac``
   (hex HMAC-SHA256, with the app's client secret, of the other query parameters sorted by
   name and written ``key=value`` joined by ``&`` — shopify.dev, "Implement authorization code
   grant manually", step 1), then the state (this session's, not used, not expired) and the
   shop (the one the install started for), and exchanges the code
   (``POST https://{shop}/admin/oauth/access_token`` with ``client_id``, ``client_secret`` and
   ``code``) for an offline access token.
3. The integration is connected with that token as any other Shopify store (webhooks
   subscribed, signed with the app's client secret); installing again on a shop of the account
   gives the existing integration its new token, enabled.

A new client secret (``configure`` with the same client id) keeps the secrets it replaces, here
and on every integration of the app, so deliveries Shopify signed before the rotation verify.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Connection

from shoptrack.connectors import connector_for
from shoptrack.connectors._shopify_auth import TOKEN_PATH
from shoptrack.connectors.base import replace_origin
from shoptrack.connectors.errors import StoreError
from shoptrack.connectors.http import StoreClient, read_json
from shoptrack.errors import ConflictError, InputError
from shoptrack.integrations import (
    KEPT_SECRETS,
    ConnectResult,
    connect,
    register_webhooks,
    retired_secrets,
    update,
)
from shoptrack.services import Services
from shoptrack.store.integrations import Integration, list_integrations, update_integration
from shoptrack.store.secrets import CredentialCipher
from shoptrack.store.shopify_apps import (
    PendingInstall,
    ShopifyApp,
    app_account_ids,
    forget_expired_installs,
    load_app,
    save_app,
    start_install,
    take_install,
)
from shoptrack.users import session_token_hash

__all__ = [
    "CALLBACK_PATH",
    "COMPLIANCE_PATH",
    "INSTALL_LIFETIME",
    "INSTALL_PATH",
    "SCOPES",
    "TEST_ORDER_SCOPES",
    "AppSettings",
    "InstallRejectedError",
    "app_secrets_of",
    "begin_install",
    "callback_url",
    "configure",
    "finish_install",
    "parse_settings",
    "query_hmac",
    "shop_domain",
    "shopify_app_of",
]

INSTALL_PATH = "/integrations/shopify/install"
CALLBACK_PATH = "/integrations/shopify/callback"
COMPLIANCE_PATH = "/webhooks/shopify/compliance"
# What shoptrack reads: orders (all of them, not only the last 60 days) and their customers.
SCOPES = ("read_orders", "read_all_orders", "read_customers")
# Only `shoptrack test-order` writes: asked for when the merchant wants test orders.
TEST_ORDER_SCOPES = ("write_orders",)
# How long Shopify's approval page may stay open before the install must start again.
INSTALL_LIFETIME = timedelta(minutes=15)
# Shopify's shop hosts; custom domains and other hosts cannot be installed on.
_SHOP_DOMAIN = re.compile(r"[a-z0-9][a-z0-9-]*\.myshopify\.com")


class InstallRejectedError(InputError):
    """Shopify's redirect back cannot be trusted or used: start the install again."""

    code = "shopify_install_rejected"
    title = "The Shopify install was refused."


class AppSettings(BaseModel):
    """The account's Shopify app as entered: its client id and secret (Dev Dashboard > Apps >
    the app > Settings)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = Field(min_length=1, max_length=200)
    client_secret: str = Field(min_length=1, max_length=500, repr=False)
    # A proxy, or a simulator in tests: replaces the scheme, host and port of every shop.
    api_base_url: str | None = None

    @field_validator("client_id", "client_secret", mode="before")
    @classmethod
    def _trimmed(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("api_base_url")
    @classmethod
    def _origin(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"https?://[^/]", value):
            raise ValueError("must be an http:// or https:// URL")
        return value


def shop_domain(value: str, *, field: str = "shop") -> str:
    """The shop's ``myshopify.com`` domain, lower-cased; ``InputError`` for anything else."""
    host = value.strip().lower()
    if not _SHOP_DOMAIN.fullmatch(host):
        raise InputError(
            f"{field}: must be the shop's myshopify.com domain, e.g. example.myshopify.com"
            " (Shopify admin > Settings > Domains)",
            parameter=field,
        )
    return host


def query_hmac(secret: str, parameters: Sequence[tuple[str, str]]) -> str:
    """Shopify's signature of a redirect's query: hex HMAC-SHA256 of the parameters other
    than ``hmac`` (and the legacy ``signature``), sorted, as ``key=value`` joined by ``&``."""
    message = "&".join(
        f"{key}={value}" for key, value in sorted(parameters) if key not in ("hmac", "signature")
    )
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def shopify_app_of(services: Services, account_id: str) -> ShopifyApp | None:
    with services.database.read() as connection:
        return load_app(connection, services.cipher, account_id)


def configure(services: Services, account_id: str, settings: AppSettings) -> ShopifyApp:
    """Stores the account's app. A new secret of the same app keeps the old ones for
    verifying, here and on the integrations the app opens."""
    now = services.clock.now()
    with services.database.write() as connection:
        old = load_app(connection, services.cipher, account_id)
        previous: tuple[str, ...] = ()
        if old is not None and old.client_id == settings.client_id:
            previous = tuple(s for s in old.secrets if s != settings.client_secret)[:KEPT_SECRETS]
        app = ShopifyApp(
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            previous_secrets=previous,
            api_base_url=settings.api_base_url,
            updated_at=now,
        )
        save_app(connection, services.cipher, account_id, app, now)
        if old is not None and old.client_id == app.client_id and old.secrets != app.secrets:
            for integration in list_integrations(connection, account_id):
                _rotate(connection, services.cipher, integration, old=old, app=app, now=now)
    return app


def _rotate(
    connection: Connection,
    cipher: CredentialCipher,
    integration: Integration,
    *,
    old: ShopifyApp,
    app: ShopifyApp,
    now: datetime,
) -> None:
    """Gives an integration opened by ``old`` the new secret, keeping the old ones."""
    if integration.platform != "shopify":
        return
    credentials = integration.credentials(cipher)
    dev_dashboard = credentials.get("client_id") == app.client_id
    installed = credentials.get("access_token") and credentials.get("webhook_secret") in old.secrets
    if not (dev_dashboard or installed):
        return
    key = "client_secret" if dev_dashboard else "webhook_secret"
    changed = {**credentials, key: app.client_secret}
    changed["previous_webhook_secrets"] = retired_secrets(
        connector_for("shopify"), credentials, changed
    )
    update_integration(connection, cipher, integration, now=now, credentials=changed)


def app_secrets_of(services: Services) -> list[str]:
    """Every configured app's secrets: a compliance delivery for a shop no integration holds
    is still recognised as Shopify's."""
    with services.database.read() as connection:
        apps = [
            load_app(connection, services.cipher, account_id)
            for account_id in app_account_ids(connection)
        ]
    return [s for app in apps if app is not None for s in app.secrets]


def callback_url(services: Services) -> str:
    return services.settings.public_base + CALLBACK_PATH


def begin_install(
    services: Services,
    *,
    account_id: str,
    session_token: str,
    shop: str,
    test_orders: bool = False,
) -> str:
    """The URL of Shopify's approval page for installing the account's app on ``shop``."""
    domain = shop_domain(shop)
    app = shopify_app_of(services, account_id)
    if app is None:
        raise ConflictError(
            "no Shopify app is configured for this account: enter its client id and secret"
            " in Settings (or PUT /api/shopify-app) first",
            parameter="shop",
        )
    state = secrets.token_urlsafe(32)
    now = services.clock.now()
    with services.database.write() as connection:
        forget_expired_installs(connection, now)
        start_install(
            connection,
            _digest(state),
            PendingInstall(
                account_id, session_token_hash(session_token), domain, now + INSTALL_LIFETIME
            ),
            now,
        )
    scopes = (*SCOPES, *(TEST_ORDER_SCOPES if test_orders else ()))
    query = urlencode(
        {
            "client_id": app.client_id,
            "scope": ",".join(scopes),
            "redirect_uri": callback_url(services),
            "state": state,
        }
    )
    return f"{_shop_origin(domain, app)}/admin/oauth/authorize?{query}"


@dataclass(frozen=True, slots=True)
class _Callback:
    parameters: Sequence[tuple[str, str]]

    def get(self, name: str) -> str:
        values = [value for key, value in self.parameters if key == name]
        if len(values) != 1 or not values[0]:
            raise InstallRejectedError(
                f"{name}: Shopify's redirect has no single {name} parameter", parameter=name
            )
        return values[0]


def finish_install(
    services: Services, *, session_token: str, parameters: Sequence[tuple[str, str]]
) -> ConnectResult:
    """Checks Shopify's redirect back, exchanges its code and connects the shop."""
    given = _Callback(parameters)
    signature, state, shop, code = (given.get(n) for n in ("hmac", "state", "shop", "code"))
    now = services.clock.now()
    with services.database.write() as connection:
        install = take_install(connection, _digest(state))
        app = load_app(connection, services.cipher, install.account_id) if install else None
    if install is None or app is None:
        raise InstallRejectedError(
            "state: this install was not started here, or was finished already; start it"
            " again from Integrations",
            parameter="state",
        )
    if not any(
        hmac.compare_digest(query_hmac(secret, parameters), signature) for secret in app.secrets
    ):
        raise InstallRejectedError(
            "hmac: the redirect's signature does not verify with the app's client secret;"
            " check the secret in Settings",
            parameter="hmac",
        )
    if not hmac.compare_digest(install.session_hash, session_token_hash(session_token)):
        raise InstallRejectedError(
            "state: this install was started by another session; start it again",
            parameter="state",
        )
    if now > install.expires_at:
        raise InstallRejectedError(
            "state: the install expired before Shopify's approval came back; start it again",
            parameter="state",
        )
    if shop_domain(shop) != install.shop_domain:
        raise InstallRejectedError(
            f"shop: the install was started for {install.shop_domain}, not {shop}",
            parameter="shop",
        )
    token = _exchange(services, app, install.shop_domain, code)
    credentials = {
        "shop_domain": install.shop_domain,
        "access_token": token,
        "webhook_secret": app.client_secret,
        "previous_webhook_secrets": list(app.previous_secrets),
        **({"api_base_url": app.api_base_url} if app.api_base_url else {}),
    }
    existing = _installed(services, install.account_id, install.shop_domain)
    if existing is not None:
        # Installed again (after an uninstall): the same integration, so its orders keep
        # their recorded events; Shopify dropped its webhooks with the old token.
        result = update(
            services,
            account_id=install.account_id,
            integration_id=existing.id,
            credentials=credentials,
            settings={"enabled": True},
        )
        register_webhooks(services, result)
        return result
    return connect(
        services,
        account_id=install.account_id,
        platform="shopify",
        name=install.shop_domain.removesuffix(".myshopify.com"),
        credentials=credentials,
    )


def _installed(services: Services, account_id: str, domain: str) -> Integration | None:
    """The account's integration of that shop opened by an installed app, if any."""
    with services.database.read() as connection:
        for integration in list_integrations(connection, account_id):
            if integration.platform != "shopify":
                continue
            credentials = integration.credentials(services.cipher)
            if credentials.get("shop_domain") == domain and credentials.get("access_token"):
                return integration
    return None


def _exchange(services: Services, app: ShopifyApp, domain: str, code: str) -> str:
    """The offline access token Shopify gives for ``code``."""
    origin = _shop_origin(domain, app)
    try:
        with StoreClient(origin, guard=services.outbound) as client:
            response = client.request(
                "POST",
                TOKEN_PATH,
                data={"client_id": app.client_id, "client_secret": app.client_secret, "code": code},
            )
            body = read_json(response, "the access token answer")
    except StoreError as error:
        raise InstallRejectedError(
            f"code: Shopify did not exchange the authorization code ({error.detail});"
            " start the install again",
            parameter="code",
            meta={"store_status": error.store_status, "store_answer": error.store_answer},
        ) from error
    token = body.get("access_token") if isinstance(body, Mapping) else None
    if not isinstance(token, str) or not token:
        raise InstallRejectedError(
            'code: Shopify\'s answer has no "access_token"; start the install again',
            parameter="code",
        )
    return token


def _shop_origin(domain: str, app: ShopifyApp) -> str:
    return replace_origin(f"https://{domain}", app.api_base_url)


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def parse_settings(raw: Mapping[str, Any], pointer: str) -> AppSettings:
    """``AppSettings`` from a request's attributes; ``InputError`` names the first bad one."""
    try:
        return AppSettings.model_validate(dict(raw))
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"])
        message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
        raise InputError(f"{field}: {message}", pointer=f"{pointer}/{field}") from error
