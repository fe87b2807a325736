"""An integration's sync queued through the API, and its deliveries listed by state."""

from __future__ import annotations

from sqlalchemy import select, update

from shoptrack.services import Services
from shoptrack.store.schema import integrations
from shoptrack.testing import WEBHOOK_SECRET, Shop, woo_order, woo_webhook
from tests.conftest import START
from tests.helpers import AppClient


def _next_sync(services: Services, shop: Shop) -> object:
    with services.database.read() as connection:
        return connection.execute(
            select(integrations.c.next_sync_at).where(integrations.c.id == shop.integration.id)
        ).scalar_one()


def test_a_queued_sync_is_due_now_and_a_disabled_integration_is_409(
    services: Services, shop: Shop, client: AppClient
) -> None:
    url = f"/api/integrations/{shop.integration.id}/sync"
    assert _next_sync(services, shop) is None
    assert client.post(url, headers=shop.headers()).status_code == 202
    assert _next_sync(services, shop) == services.clock.now()

    with services.database.write() as connection:
        connection.execute(
            update(integrations)
            .where(integrations.c.id == shop.integration.id)
            .values(enabled=False, next_sync_at=None)
        )
    refused = client.post(url, headers=shop.headers())
    assert refused.status_code == 409
    (error,) = refused.json()["errors"]
    assert error["code"] == "integration_disabled"
    assert error["source"] == {"parameter": "integration_id"}
    assert "enable it" in error["detail"]
    assert _next_sync(services, shop) is None  # nothing was queued


def test_deliveries_are_listed_newest_first_and_by_state(
    services: Services, shop: Shop, client: AppClient
) -> None:
    webhook = f"/webhooks/woocommerce/{shop.integration.id}"
    for order_id in (1, 2):
        headers, body = woo_webhook(
            woo_order(order_id, "processing", START),
            secret=WEBHOOK_SECRET,
            delivery_id=str(order_id),
        )
        assert client.post(webhook, content=body, headers=headers).status_code == 200
    forged_headers, forged = woo_webhook(woo_order(3, "processing", START), secret="not it")
    assert client.post(webhook, content=forged, headers=forged_headers).status_code == 401
    url = f"/api/integrations/{shop.integration.id}/deliveries"

    listed = client.get(url, headers=shop.headers()).json()["data"]
    assert [d["attributes"]["state"] for d in listed] == ["rejected", "pending", "pending"]
    pending = client.get(url, params={"state": "pending"}, headers=shop.headers()).json()["data"]
    assert [d["id"] for d in pending] == [d["id"] for d in listed[1:]]
    unknown = client.get(url, params={"state": "lost"}, headers=shop.headers())
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["source"] == {"parameter": "state"}
