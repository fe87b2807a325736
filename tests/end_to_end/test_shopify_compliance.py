"""A Shopify shop's compliance webhooks (``/webhooks/shopify/compliance``), rotated app secrets,
and orders whose customer Shopify redacted: a simulated shop on a real socket, connected through
the API, its deliveries posted to shoptrack's own app."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shoptrack.api.app import create_app
from shoptrack.clock import FrozenClock
from shoptrack.doctor import diagnose_integration
from shoptrack.doctor._findings import Finding
from shoptrack.integrations import update
from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.simulators import ShopifySimulator
from shoptrack.store.integrations import find_integration
from shoptrack.store.schema import order_states, profiles
from shoptrack.testing import make_shop
from tests.helpers import AppClient, event_counts
from tests.stores import serving

pytestmark = pytest.mark.slow

COMPLIANCE = "http://shoptrack.test/webhooks/shopify/compliance"
JSONAPI = {"Content-Type": "application/vnd.api+json"}


@dataclass
class World:
    services: Services
    client: AppClient
    shop: ShopifySimulator
    shop_url: str
    account_id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Klaviyo-API-Key {self.key}"}

    def connect(self, credentials: dict[str, str]) -> str:
        answer = self.client.post(
            "/api/integrations",
            headers=self.headers,
            json={
                "data": {
                    "type": "integration",
                    "attributes": {
                        "platform": "shopify",
                        "name": "Client shop",
                        "credentials": credentials,
                    },
                }
            },
        )
        assert answer.status_code == 201, answer.text
        integration_id: str = answer.json()["data"]["id"]
        return integration_id

    def deliver_and_process(self) -> None:
        self.client.call(self.shop.deliver_pending)
        Processor(self.services.database, self.services.clock).run_until_idle()

    def compliance(self, topic: str, payload: dict[str, Any]) -> int | None:
        delivery = self.client.call(lambda: self.shop.send_compliance(COMPLIANCE, topic, payload))
        return delivery.status

    def findings(self, integration_id: str) -> dict[str, Finding]:
        report = diagnose_integration(self.services, self.account_id, integration_id, live=False)
        return {finding.code: finding for finding in report.findings}


@pytest.fixture
def world(services: Services, clock: FrozenClock) -> Iterator[World]:
    account = make_shop(services)
    app = create_app(services, run_workers=False)
    client = AppClient(app)
    shop = ShopifySimulator(
        clock=clock.now, webhook_delivery="manual", webhook_transport=httpx.ASGITransport(app=app)
    )
    try:
        with serving(shop.app) as url:
            yield World(services, client, shop, url, account.account_id, account.private_key)
    finally:
        client.close()


def _signed_post(
    world: World, url: str, secret: str, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    return world.client.post(
        url,
        content=body,
        headers={
            "content-type": "application/json",
            "x-shopify-hmac-sha256": signature.decode(),
            "x-shopify-shop-domain": world.shop.shop_domain,
            **headers,
        },
    )


def _profile_emails(services: Services, account_id: str) -> set[str]:
    with services.database.read() as connection:
        return set(
            connection.execute(
                select(profiles.c.email).where(profiles.c.account_id == account_id)
            ).scalars()
        )


def _order_emails(services: Services, integration_id: str) -> dict[str, str | None]:
    with services.database.read() as connection:
        rows = connection.execute(
            select(order_states.c.platform_order_id, order_states.c.email).where(
                order_states.c.integration_id == integration_id
            )
        )
        return {row.platform_order_id: row.email for row in rows}


def test_customers_redact_erases_that_customer_only(world: World) -> None:
    integration_id = world.connect(world.shop.credentials(world.shop_url))
    [ada_order] = world.shop.add_orders(email="ada@example.com")
    world.shop.add_orders(email="bob@example.com")
    world.deliver_and_process()
    assert {"ada@example.com", "bob@example.com"} <= _profile_emails(
        world.services, world.account_id
    )

    status = world.compliance(
        "customers/redact",
        {
            "shop_id": 548380009,
            "shop_domain": world.shop.shop_domain,
            "customer": {"id": 207119551, "email": "Ada@Example.com", "phone": None},
            "orders_to_redact": [ada_order],
        },
    )
    assert status == 200
    emails = _profile_emails(world.services, world.account_id)
    assert "ada@example.com" not in emails
    assert "bob@example.com" in emails
    kept = _order_emails(world.services, integration_id)
    assert kept[str(ada_order)] is None
    assert "bob@example.com" in kept.values()


def test_a_data_request_is_recorded_and_shown_by_the_doctor(world: World) -> None:
    integration_id = world.connect(world.shop.credentials(world.shop_url))
    assert world.findings(integration_id)["customer_data_requested"].severity == "ok"
    status = world.compliance(
        "customers/data_request",
        {
            "shop_id": 548380009,
            "shop_domain": world.shop.shop_domain,
            "orders_requested": [299938, 280263],
            "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
            "data_request": {"id": 9999},
        },
    )
    assert status == 200
    finding = world.findings(integration_id)["customer_data_requested"]
    assert finding.severity == "warning"
    [request] = finding.evidence["requests"]
    assert request["customer_email"] == "john@example.com"
    assert request["orders_requested"] == ["299938", "280263"]


def test_shop_redact_erases_the_shops_data_and_removes_the_integration(world: World) -> None:
    integration_id = world.connect(world.shop.credentials(world.shop_url))
    world.shop.add_orders(2, email="ada@example.com")
    world.deliver_and_process()
    assert event_counts(world.services, world.account_id).get("Placed Order") == 2

    status = world.compliance(
        "shop/redact", {"shop_id": 548380009, "shop_domain": world.shop.shop_domain}
    )
    assert status == 200
    assert event_counts(world.services, world.account_id).get("Placed Order") is None
    assert "ada@example.com" not in _profile_emails(world.services, world.account_id)
    assert _order_emails(world.services, integration_id) == {}
    with world.services.database.read() as connection:
        integration = find_integration(connection, integration_id)
    assert integration is not None
    assert integration.removed_at is not None
    # Shopify repeats it: nothing more to do, still 200.
    assert world.compliance("shop/redact", {"shop_domain": world.shop.shop_domain}) == 200


def test_a_compliance_webhook_must_be_signed_by_an_app_here(world: World) -> None:
    world.connect(world.shop.credentials(world.shop_url))
    body = json.dumps({"shop_domain": world.shop.shop_domain}).encode()
    forged = _signed_post(
        world, COMPLIANCE, "not-the-secret", body, {"x-shopify-topic": "shop/redact"}
    )
    assert forged.status_code == 401
    assert forged.json()["errors"][0]["code"] == "webhook_signature_rejected"
    # A shop no integration holds, signed by an app configured here: nothing held, 200.
    answer = world.client.request(
        "PUT",
        "/api/shopify-app",
        json={
            "data": {
                "type": "shopify-app",
                "attributes": {"client_id": "c", "client_secret": "app-secret"},
            }
        },
        headers={**world.headers, **JSONAPI},
    )
    assert answer.status_code == 200, answer.text
    unknown = _signed_post(
        world,
        COMPLIANCE,
        "app-secret",
        body,
        {"x-shopify-topic": "shop/redact", "x-shopify-shop-domain": "gone.myshopify.com"},
    )
    assert unknown.status_code == 200, unknown.text


def test_a_rotated_app_secret_still_accepts_deliveries_signed_with_the_old_one(
    world: World,
) -> None:
    old = world.shop.client_secret
    answer = world.client.request(
        "PUT",
        "/api/shopify-app",
        json={
            "data": {
                "type": "shopify-app",
                "attributes": {"client_id": world.shop.client_id, "client_secret": old},
            }
        },
        headers={**world.headers, **JSONAPI},
    )
    assert answer.status_code == 200
    integration_id = world.connect(world.shop.credentials(world.shop_url))
    world.client.request(
        "PUT",
        "/api/shopify-app",
        json={
            "data": {
                "type": "shopify-app",
                "attributes": {"client_id": world.shop.client_id, "client_secret": "shpss_new"},
            }
        },
        headers={**world.headers, **JSONAPI},
    )
    [order_id] = world.shop.add_orders()
    body = json.dumps(world.shop.order(order_id)).encode()
    url = f"http://shoptrack.test/webhooks/shopify/{integration_id}"
    for number, secret in enumerate((old, "shpss_new")):
        accepted = _signed_post(
            world,
            url,
            secret,
            body,
            {"x-shopify-topic": "orders/create", "x-shopify-webhook-id": f"w{number}"},
        )
        assert accepted.status_code == 200, secret
    refused = _signed_post(world, url, "shpss_other", body, {"x-shopify-topic": "orders/create"})
    assert refused.status_code == 401


def test_a_dev_dashboard_secret_changed_keeps_the_old_one(world: World) -> None:
    integration_id = world.connect(world.shop.credentials(world.shop_url, dev_dashboard=True))
    old = world.shop.client_secret
    world.shop.client_secret = "shpss_rotated"  # rotated in the Dev Dashboard
    update(
        world.services,
        account_id=world.account_id,
        integration_id=integration_id,
        credentials={"client_secret": "shpss_rotated"},
    )
    [order_id] = world.shop.add_orders()
    body = json.dumps(world.shop.order(order_id)).encode()
    url = f"http://shoptrack.test/webhooks/shopify/{integration_id}"
    late = _signed_post(world, url, old, body, {"x-shopify-topic": "orders/create"})
    assert late.status_code == 200


def test_orders_without_emails_are_reported_as_redacted(world: World) -> None:
    integration_id = world.connect(world.shop.credentials(world.shop_url))
    url = f"http://shoptrack.test/webhooks/shopify/{integration_id}"
    for number, order_id in enumerate(world.shop.add_orders(3)):
        order = world.shop.order(order_id)
        # As Shopify sends it to an app without access to protected customer data.
        order.update(email=None, contact_email=None)
        order["customer"] = {**order["customer"], "email": None, "first_name": None}
        body = json.dumps(order).encode()
        headers = {"x-shopify-topic": "orders/create", "x-shopify-webhook-id": f"r{number}"}
        assert _signed_post(world, url, world.shop.client_secret, body, headers).status_code == 200
    Processor(world.services.database, world.services.clock).run_until_idle()
    finding = world.findings(integration_id)["customer_data_redacted"]
    assert finding.severity == "error"
    assert finding.evidence == {"recent_orders": 3, "with_email": 0}
    assert finding.fix is not None
    assert "Protected customer data" in finding.fix.text

    world.shop.add_orders(email="ada@example.com")
    world.deliver_and_process()
    assert world.findings(integration_id)["customer_data_redacted"].severity == "ok"
