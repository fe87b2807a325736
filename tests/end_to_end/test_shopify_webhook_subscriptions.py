"""Shopify webhooks subscribed through the GraphQL Admin API (``webhookSubscriptionCreate`` with
a ``uri``, listed with ``webhookSubscriptions``): the simulator keeps them as Shopify does and
still delivers REST orders signed ``X-Shopify-Hmac-Sha256``; connecting a store subscribes the
topics once, and a delivery sent twice (the same ``X-Shopify-Webhook-Id``) records once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from shoptrack.connectors._shopify_graphql import (
    API_VERSION,
    WEBHOOK_SUBSCRIPTION_CREATE,
    WEBHOOK_SUBSCRIPTIONS_QUERY,
)
from shoptrack.connectors.base import WebhookVerdict, clean_credentials
from shoptrack.connectors.shopify import Shopify, ShopifyCredentials
from shoptrack.simulators.shopify import ShopifySimulator
from shoptrack.testing import SIMULATOR_GUARD
from tests.end_to_end import test_shopify_dev_dashboard as dev_dashboard
from tests.helpers import inbox_states
from tests.stores import serving

connector = Shopify()
HOOK = "https://track.example.com/webhooks/shopify/7"

# The store connected through the API with a Dev Dashboard app's client id and secret.
World = dev_dashboard.World
world = dev_dashboard.world


def _graphql(url: str, token: str, query: str, variables: dict[str, Any]) -> Any:
    answer = httpx.post(
        f"{url}/admin/api/{API_VERSION}/graphql.json",
        json={"query": query, "variables": variables},
        headers={"X-Shopify-Access-Token": token},
    )
    assert answer.status_code == 200
    return answer.json()


def test_subscriptions_are_created_listed_and_refused_as_shopify_does() -> None:
    shop = ShopifySimulator(webhook_delivery="manual")
    with serving(shop.app) as url:

        def create(topic: str, uri: str = HOOK, token: str = shop.access_token) -> Any:
            variables = {"topic": topic, "uri": uri}
            return _graphql(url, token, WEBHOOK_SUBSCRIPTION_CREATE, variables)

        created = create("ORDERS_CREATE")
        again = create("ORDERS_CREATE")
        other = create("CHECKOUTS_UPDATE", "https://elsewhere.test/")
        denied = create("ORDERS_UPDATED", token=shop.add_token(["read_products"]))
        wrong = create("ORDERS_SHIPPED")
        listed = _graphql(
            url,
            shop.access_token,
            WEBHOOK_SUBSCRIPTIONS_QUERY,
            {"uri": HOOK, "topics": ["ORDERS_CREATE", "ORDERS_UPDATED"]},
        )

    subscription = created["data"]["webhookSubscriptionCreate"]
    assert subscription["userErrors"] == []
    assert subscription["webhookSubscription"]["topic"] == "ORDERS_CREATE"
    assert subscription["webhookSubscription"]["uri"] == HOOK
    assert subscription["webhookSubscription"]["id"].startswith(
        "gid://shopify/WebhookSubscription/"
    )
    assert (
        "already been taken"
        in again["data"]["webhookSubscriptionCreate"]["userErrors"][0]["message"]
    )
    assert other["data"]["webhookSubscriptionCreate"]["userErrors"] == []
    assert (
        "Invalid topic" in denied["data"]["webhookSubscriptionCreate"]["userErrors"][0]["message"]
    )
    assert listed["data"]["webhookSubscriptions"]["nodes"] == [subscription["webhookSubscription"]]
    assert "ORDERS_SHIPPED" in wrong["errors"][0]["message"]  # no such topic in the schema
    assert [(s.topic, s.address) for s in shop.webhooks] == [
        ("orders/create", HOOK),
        ("checkouts/update", "https://elsewhere.test/"),
    ]


def test_the_connector_subscribes_through_graphql_once_and_deliveries_verify() -> None:
    received: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    shop = ShopifySimulator(
        webhook_delivery="manual", webhook_transport=httpx.MockTransport(receive)
    )
    with serving(shop.app) as url:
        credentials, _ = clean_credentials(
            ShopifyCredentials, shop.credentials(url, dev_dashboard=True)
        )
        with connector.client(credentials, guard=SIMULATOR_GUARD) as client:
            connector.register_webhooks(client, HOOK, credentials)
            connector.register_webhooks(client, HOOK, credentials)  # nothing more
    assert sorted(s.topic for s in shop.webhooks) == [
        "app/uninstalled",
        "checkouts/create",
        "checkouts/update",
        "orders/create",
        "orders/updated",
    ]
    (order_id,) = shop.add_orders(1, statuses=["paid"])
    asyncio.run(shop.deliver_pending())
    (sent,) = [r for r in received if r.headers["x-shopify-topic"] == "orders/create"]
    check = connector.check_webhook(
        connector.webhook_secrets(credentials.model_dump()), dict(sent.headers), sent.content
    )
    assert check.verdict is WebhookVerdict.ACCEPTED
    assert sent.headers["x-shopify-webhook-id"]
    # The payload is the REST order, whatever API subscribed it.
    assert connector.to_order(json.loads(sent.content)) == connector.to_order(shop.order(order_id))


@pytest.mark.slow
def test_a_delivery_sent_twice_records_once(world: World) -> None:
    world.connect()
    world.store.set_faults({"duplicate_webhooks": True})
    world.store.add_orders(1, statuses=["paid"])

    world.deliver()

    sent = world.store.deliveries
    assert len(sent) == 2 * len({d.outgoing.webhook_id for d in sent})
    assert all(d.succeeded for d in sent)
    assert world.placed() == 1
    assert inbox_states(world.services).get("processed") == len(sent) // 2
