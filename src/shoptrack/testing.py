"""Builders for shoptrack's tests and benchmarks, so that what ``bench/`` measures is what the
tests check: a test account with a WooCommerce integration (``make_shop``), WooCommerce orders
and signed webhook deliveries written the way the platform writes them (``woo_order``,
``woo_webhook``, ``woo_ping``), and the outbound guard that lets requests reach the simulators
(``SIMULATOR_GUARD``). Nothing in the running service imports it.

WooCommerce: ``woo_order`` is an order as ``GET /wp-json/wc/v3/orders/{id}`` returns it (keys in
the API's order, money as decimal strings, line ``price`` as PHP's float, ``_gmt`` dates beside
site-local ones), and ``woo_webhook`` / ``woo_ping`` are deliveries as ``WC_Webhook::deliver()``
and ``deliver_ping()`` send them. Signatures are computed here independently of shoptrack's code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from shoptrack.outbound import OutboundGuard, host_networks
from shoptrack.services import Services
from shoptrack.simulators.woocommerce import WC_VERSION, WP_VERSION, build_order, placed_order
from shoptrack.store.accounts import create_account
from shoptrack.store.integrations import Integration, create_integration
from shoptrack.store.sync_runs import unschedule_syncs

__all__ = [
    "SIMULATOR_GUARD",
    "SIMULATOR_NETWORKS",
    "WEBHOOK_SECRET",
    "WOO_SITE_TIMEZONE",
    "WOO_SITE_URL",
    "WOO_WEBHOOK_ID",
    "Shop",
    "make_shop",
    "woo_order",
    "woo_ping",
    "woo_webhook",
]

WEBHOOK_SECRET = "whsec-test-secret"  # noqa: S105  # the test shop's literal secret, on purpose
# Simulated stores listen on 127.0.0.1: tests allow exactly that address, as the demo does.
SIMULATOR_NETWORKS = "127.0.0.1/32"
SIMULATOR_GUARD = OutboundGuard(host_networks("127.0.0.1"))

WOO_SITE_URL = "https://shop.example.com/"
# A site west of UTC, as in the REST docs' example (16:28 local, 19:28 GMT), so that a mapping
# reading the local dates is visibly wrong.
WOO_SITE_TIMEZONE = timezone(timedelta(hours=-3))
WOO_WEBHOOK_ID = 12
_USER_AGENT = f"WooCommerce/{WC_VERSION} Hookshot (WordPress/{WP_VERSION})"


@dataclass(frozen=True)
class Shop:
    """A test account, its API keys and its WooCommerce integration."""

    account_id: str
    private_key: str
    public_key: str
    integration: Integration

    def headers(self) -> dict[str, str]:
        """The API headers of this shop's private key, as Klaviyo's SDK sends them."""
        return {"Authorization": f"Klaviyo-API-Key {self.private_key}", "revision": "2026-07-15"}


def make_shop(services: Services, *, settings: dict[str, Any] | None = None) -> Shop:
    """Creates an account with a WooCommerce integration whose deliveries are signed with
    ``WEBHOOK_SECRET``; its store is never polled."""
    now = services.clock.now()
    with services.database.write() as connection:
        account, key = create_account(connection, "Test shop", now)
        integration = create_integration(
            connection,
            services.cipher,
            account_id=account.id,
            platform="woocommerce",
            name="Woo",
            credentials={
                "store_url": "https://shop.example.com",
                "api_base_url": "http://127.0.0.1:9",
                "consumer_key": "ck_x",
                "consumer_secret": "cs_x",
                "webhook_secret": WEBHOOK_SECRET,
            },
            settings=settings or {},
            now=now,
        )
        # The test shop's orders arrive as the test's deliveries: its store is never polled
        # (and if something tried, the address is a closed local port, never the internet).
        unschedule_syncs(connection, integration.id)
    return Shop(account.id, key.key, account.public_key, integration)


def woo_order(
    order_id: int,
    status: str,
    modified: datetime,
    *,
    created: datetime | None = None,
    email: str = "buyer@example.com",
    lines: int = 2,
    total: str = "59.90",
    **overrides: Any,
) -> dict[str, Any]:
    """A guest order paid by bank transfer with free shipping, split into ``lines`` lines.

    Odd-numbered lines (the 2nd, 4th...) are variations of a variable product bought twice;
    the others are simple products bought once. ``overrides`` replace top-level fields. The
    order is written by the WooCommerce simulator's builder, so tests and simulator agree.
    """
    stored = placed_order(
        order_id, status, created or modified, modified, email=email, lines=lines, total=total
    )
    order = build_order(stored, site_url=WOO_SITE_URL, site_timezone=WOO_SITE_TIMEZONE)
    order.update(overrides)
    return order


def woo_webhook(
    order: dict[str, Any], *, secret: str, topic: str = "order.updated", delivery_id: str = "1"
) -> tuple[dict[str, str], bytes]:
    """A signed delivery of ``order`` (or of ``{"id": N}`` for ``order.deleted``)."""
    body = _php_json(order)
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    resource, event = topic.split(".", 1)
    headers = {
        "content-type": "application/json",
        "user-agent": _USER_AGENT,
        "x-wc-webhook-source": WOO_SITE_URL,
        "x-wc-webhook-topic": topic,
        "x-wc-webhook-resource": resource,
        "x-wc-webhook-event": event,
        "x-wc-webhook-signature": signature.decode(),
        "x-wc-webhook-id": str(WOO_WEBHOOK_ID),
        "x-wc-webhook-delivery-id": delivery_id,
    }
    return headers, body


def woo_ping(webhook_id: int = WOO_WEBHOOK_ID) -> tuple[dict[str, str], bytes]:
    """The unsigned ping WooCommerce posts to a new webhook's URL, expecting a 200."""
    headers = {"content-type": "application/x-www-form-urlencoded", "user-agent": _USER_AGENT}
    return headers, f"webhook_id={webhook_id}".encode()


def _php_json(value: Any) -> bytes:
    # wp_json_encode() with PHP's default flags: no spaces, \uXXXX for non-ASCII, and "/" escaped.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()
