"""Shopify's mandatory compliance webhooks, which an app receives at the one URL set on it
(``POST /webhooks/shopify/compliance``), for every shop it is installed on.

A delivery names its shop in ``X-Shopify-Shop-Domain`` and is signed like any other webhook
(base64 HMAC-SHA256 of the body with the app's client secret). It is routed to each integration
of that shop whose secrets verify it (several accounts may connect one shop, each through its
own app); one that no secret of any integration or configured app verifies is answered 401,
as Shopify expects. Topics (shopify.dev, "Privacy law compliance"):

- ``customers/data_request``: a customer asked the merchant for their data. Recorded, and shown
  by the doctor as ``customer_data_requested`` on the integration for 30 days (the time Shopify
  gives to answer), with the customer and orders named: the merchant, not shoptrack, sends the
  data, so the finding is where they already look for what needs doing.
- ``customers/redact``: the customer's profile, events and the personal data of the orders named
  (``orders_to_redact``) are erased as a deletion job erases them.
- ``shop/redact``: 48 hours after the app was uninstalled, everything the shop sent is erased
  (``store.privacy.erase_store_data``) and the integration removed.

Each is done in one transaction before the 200; a repeat does nothing more. The log keeps ids
and counts only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection

from shoptrack.connectors import WebhookVerdict, connector_for
from shoptrack.domain.identity import InvalidIdentifierError, normalize_email, normalize_phone
from shoptrack.errors import AuthenticationError, InputError
from shoptrack.services import Services
from shoptrack.shopify_app import app_secrets_of
from shoptrack.store.integrations import Integration, platform_integrations, remove_integration
from shoptrack.store.privacy import erase_person, erase_store_data
from shoptrack.store.shopify_apps import forget_data_requests, record_data_request

__all__ = ["DATA_REQUEST", "TOPICS", "handle_compliance"]

logger = logging.getLogger(__name__)

DATA_REQUEST = "customers/data_request"
CUSTOMER_REDACT = "customers/redact"
SHOP_REDACT = "shop/redact"
TOPICS = (DATA_REQUEST, CUSTOMER_REDACT, SHOP_REDACT)


@dataclass(frozen=True, slots=True)
class _Delivery:
    topic: str
    shop: str
    payload: Mapping[str, Any]


def handle_compliance(
    services: Services, headers: Mapping[str, str], body: bytes
) -> dict[str, Any]:
    """Verifies and applies one compliance delivery; the JSON answer of its 200."""
    shop = (headers.get("x-shopify-shop-domain") or "").strip().lower()
    topic = (headers.get("x-shopify-topic") or "").strip()
    targets = _verified_targets(services, shop, headers, body)
    if not targets and not _signed_by_an_app(services, headers, body):
        raise AuthenticationError(
            "the compliance webhook's X-Shopify-Hmac-Sha256 does not verify with the client"
            " secret of any Shopify app or integration here",
            code="webhook_signature_rejected",
        )
    if topic not in TOPICS:
        return {"status": "ignored", "topic": topic}
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InputError("the compliance webhook's body is not JSON") from error
    if not isinstance(payload, Mapping):
        raise InputError("the compliance webhook's body is not a JSON object")
    delivery = _Delivery(topic, shop, payload)
    now = services.clock.now()
    with services.database.write() as connection:
        for integration in targets:
            _HANDLERS[topic](connection, services, integration, delivery)
            if topic == SHOP_REDACT and integration.removed_at is None:
                remove_integration(connection, integration, now)
    return {"status": "done", "topic": topic, "integrations": len(targets)}


def _verified_targets(
    services: Services, shop: str, headers: Mapping[str, str], body: bytes
) -> list[Integration]:
    """The Shopify integrations of ``shop`` whose webhook secrets verify the delivery (removed
    ones too: a shop's data outlives its integration until the shop is redacted)."""
    if not shop:
        return []
    connector = connector_for("shopify")
    found: list[Integration] = []
    with services.database.read() as connection:
        for integration in platform_integrations(connection, "shopify"):
            credentials = integration.credentials(services.cipher)
            if credentials.get("shop_domain") != shop:
                continue
            secrets = connector.webhook_secrets(credentials)
            if connector.check_webhook(secrets, headers, body).verdict is WebhookVerdict.ACCEPTED:
                found.append(integration)
    return found


def _signed_by_an_app(services: Services, headers: Mapping[str, str], body: bytes) -> bool:
    """A delivery about a shop no integration holds (any more) is answered 200 all the same,
    when one of the configured apps signed it: nothing is held to erase or report."""
    secrets = app_secrets_of(services)
    check = connector_for("shopify").check_webhook(secrets, headers, body)
    return bool(secrets) and check.verdict is WebhookVerdict.ACCEPTED


def _customer(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    customer = payload.get("customer")
    return customer if isinstance(customer, Mapping) else {}


def _identifier(normalize: Callable[[str | None], str | None], value: Any) -> str | None:
    try:
        return normalize(value if isinstance(value, str) else None)
    except InvalidIdentifierError:
        return None


def _order_ids(payload: Mapping[str, Any], key: str) -> list[str]:
    values = payload.get(key)
    return [str(v) for v in values if isinstance(v, int | str)] if isinstance(values, list) else []


def _data_request(
    connection: Connection, services: Services, integration: Integration, delivery: _Delivery
) -> None:
    customer = _customer(delivery.payload)
    request = delivery.payload.get("data_request")
    record_data_request(
        connection,
        account_id=integration.account_id,
        integration_id=integration.id,
        shop_domain=delivery.shop,
        customer_email=_identifier(normalize_email, customer.get("email")),
        customer_id=str(customer["id"]) if customer.get("id") is not None else None,
        orders_requested=_order_ids(delivery.payload, "orders_requested"),
        data_request_id=str(request.get("id"))
        if isinstance(request, Mapping) and request.get("id") is not None
        else None,
        now=services.clock.now(),
    )
    logger.info("recorded a customer data request for integration %s", integration.id)


def _customer_redact(
    connection: Connection, services: Services, integration: Integration, delivery: _Delivery
) -> None:
    customer = _customer(delivery.payload)
    orders = {integration.id: set(_order_ids(delivery.payload, "orders_to_redact"))}
    email = _identifier(normalize_email, customer.get("email"))
    phone = _identifier(normalize_phone, customer.get("phone"))
    named = [("email", email), ("phone_number", phone)]
    erased = [
        erase_person(connection, integration.account_id, identifier, value, orders=orders)
        for identifier, value in named
        if value is not None
    ]
    if not erased:
        # Neither email nor phone: the orders named are scrubbed all the same.
        erased.append(erase_person(connection, integration.account_id, "id", "", orders=orders))
    logger.info(
        "redacted a customer of integration %s: %d events, %d order states",
        integration.id,
        sum(e.events for e in erased),
        sum(e.order_states for e in erased),
    )


def _shop_redact(
    connection: Connection, services: Services, integration: Integration, delivery: _Delivery
) -> None:
    erasure = erase_store_data(connection, integration.account_id, integration.id)
    forget_data_requests(connection, integration.id)
    logger.info(
        "redacted shop data of integration %s: %d events, %d profiles, %d order states",
        integration.id,
        erasure.events,
        erasure.profiles,
        erasure.order_states,
    )


_HANDLERS: dict[str, Callable[[Connection, Services, Integration, _Delivery], None]] = {
    DATA_REQUEST: _data_request,
    CUSTOMER_REDACT: _customer_redact,
    SHOP_REDACT: _shop_redact,
}
