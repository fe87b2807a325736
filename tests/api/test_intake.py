"""Webhook intake through the ASGI app: verify, store raw, answer once committed."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select, update

from shoptrack.api.app import create_app
from shoptrack.api.asgi import MAX_BODY_BYTES
from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.store.schema import inbox, integrations, profiles
from shoptrack.testing import WEBHOOK_SECRET, Shop, woo_order, woo_ping, woo_webhook
from tests.conftest import START
from tests.helpers import AppClient, event_counts, inbox_states
from tests.processes import wait_until


def _url(shop: Shop) -> str:
    return f"/webhooks/woocommerce/{shop.integration.id}"


def test_signed_delivery_is_acknowledged_stored_and_processed(
    services: Services, shop: Shop, client: AppClient
) -> None:
    headers, body = woo_webhook(woo_order(1, "processing", START), secret=WEBHOOK_SECRET)
    response = client.post(_url(shop), content=body, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"status": "accepted"}
    assert inbox_states(services) == {"pending": 1}
    Processor(services.database, services.clock).run_until_idle()
    assert event_counts(services, shop.account_id)["Placed Order"] == 1


def test_repeated_delivery_id_is_200_and_adds_nothing(
    services: Services, shop: Shop, client: AppClient
) -> None:
    headers, body = woo_webhook(woo_order(1, "processing", START), secret=WEBHOOK_SECRET)
    assert client.post(_url(shop), content=body, headers=headers).json()["status"] == "accepted"
    again = client.post(_url(shop), content=body, headers=headers)
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    assert inbox_states(services) == {"pending": 1}


def test_forged_delivery_is_401_and_kept_as_rejected(
    services: Services, shop: Shop, client: AppClient
) -> None:
    headers, body = woo_webhook(woo_order(1, "processing", START), secret="not-the-secret")
    response = client.post(_url(shop), content=body, headers=headers)
    assert response.status_code == 401
    error = response.json()["errors"][0]
    assert error["code"] == "webhook_signature_rejected"
    assert error["status"] == 401
    assert {"id", "title", "detail", "source"} <= error.keys()
    with services.database.read() as connection:
        row = connection.execute(select(inbox.c.state, inbox.c.reason, inbox.c.dedupe_key)).one()
    assert row.state == "rejected"
    assert "signature" in row.reason
    assert row.dedupe_key is None  # a forgery can never block the real delivery of that id
    real_headers, real_body = woo_webhook(woo_order(1, "processing", START), secret=WEBHOOK_SECRET)
    assert client.post(_url(shop), content=real_body, headers=real_headers).status_code == 200


def test_ping_is_answered_and_not_stored(services: Services, shop: Shop, client: AppClient) -> None:
    headers, body = woo_ping()
    assert client.post(_url(shop), content=body, headers=headers).status_code == 200
    assert inbox_states(services) == {}


def test_disabled_integration_is_200_kept_as_ignored_and_replayable(
    services: Services, shop: Shop, client: AppClient
) -> None:
    with services.database.write() as connection:
        connection.execute(
            update(integrations)
            .where(integrations.c.id == shop.integration.id)
            .values(enabled=False)
        )
    headers, body = woo_webhook(woo_order(3, "processing", START), secret=WEBHOOK_SECRET)
    response = client.post(_url(shop), content=body, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert inbox_states(services) == {"ignored": 1}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/webhooks/woocommerce/01NOSUCHINTEGRATION0000000", 404),
        ("/webhooks/nosuchplatform/x", 404),
        ("/webhooks/woocommerce", 404),
    ],
)
def test_unknown_targets_are_404_json_api(client: AppClient, path: str, status: int) -> None:
    response = client.post(path, content=b"{}")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/vnd.api+json"
    assert response.json()["errors"][0]["code"] == "not_found"


def test_wrong_platform_in_url_is_404(shop: Shop, client: AppClient) -> None:
    response = client.post(f"/webhooks/shopify/{shop.integration.id}", content=b"{}")
    assert response.status_code == 404


def test_get_is_405(shop: Shop, client: AppClient) -> None:
    assert client.get(_url(shop)).status_code == 405


def test_oversized_body_is_413_and_stores_nothing(
    services: Services, shop: Shop, client: AppClient
) -> None:
    response = client.post(_url(shop), content=b"x" * (MAX_BODY_BYTES + 1))
    assert response.status_code == 413
    assert inbox_states(services) == {}


def test_rotated_secret_still_verifies(services: Services, shop: Shop, client: AppClient) -> None:
    from shoptrack.store.schema import integrations as table

    with services.database.write() as connection:
        connection.execute(
            update(table)
            .where(table.c.id == shop.integration.id)
            .values(
                credentials=services.cipher.encrypt(
                    {"webhook_secret": "new-secret", "previous_webhook_secrets": [WEBHOOK_SECRET]}
                )
            )
        )
    headers, body = woo_webhook(woo_order(4, "processing", START), secret=WEBHOOK_SECRET)
    assert client.post(_url(shop), content=body, headers=headers).status_code == 200


def test_health(client: AppClient) -> None:
    for path in ("/health", "/health/"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.json()["status"] == "ok"


def test_openapi_is_served(client: AppClient) -> None:
    assert client.get("/openapi.json").json()["info"]["title"] == "shoptrack"


def test_workers_process_deliveries_in_the_background(services: Services, shop: Shop) -> None:
    headers, body = woo_webhook(woo_order(8, "processing", START), secret=WEBHOOK_SECRET)
    client = AppClient(create_app(services))
    try:
        assert client.post(_url(shop), content=body, headers=headers).status_code == 200
        # The writer wakes the processing thread: no one else processes here.
        wait_until(lambda: inbox_states(services) == {"processed": 1})
    finally:
        client.close()
    assert event_counts(services, shop.account_id)["Placed Order"] == 1
    with services.database.read() as connection:
        processed = connection.execute(select(inbox.c.processed_at, inbox.c.processed_by)).one()
    # By a worker of this process, on the injected clock (frozen: the time never moved).
    assert processed.processed_at == START
    assert processed.processed_by.endswith(f":{os.getpid()}")


def test_two_changes_sharing_a_delivery_id_are_both_kept(
    services: Services, shop: Shop, client: AppClient
) -> None:
    """WooCommerce derives delivery ids from the webhook id and the second, so two changes of
    one order within a second arrive under one id: only a repeat of the same body is dropped."""
    first = woo_order(5, "pending", START)
    second = woo_order(5, "processing", START)
    for order in (first, second, second):
        headers, body = woo_webhook(order, secret=WEBHOOK_SECRET, delivery_id="same-second")
        assert client.post(_url(shop), content=body, headers=headers).status_code == 200
    assert inbox_states(services) == {"pending": 2}
    Processor(services.database, services.clock).run_until_idle()
    assert event_counts(services, shop.account_id)["Placed Order"] == 1


def test_nul_characters_of_a_signed_delivery_are_removed_and_counted(
    services: Services, shop: Shop, client: AppClient
) -> None:
    """A store's delivery cannot be refused once acknowledged, and PostgreSQL stores no NUL in
    text: the characters are dropped when the delivery is read, and the row says how many."""
    order = woo_order(9, "processing", START)
    order["billing"]["first_name"] = "A\u0000da"
    order["line_items"][0]["name"] = "Hat\u0000\u0000"
    order["meta_data"] = [{"id": 1, "key": "note\u0000", "value": "x"}]
    headers, body = woo_webhook(order, secret=WEBHOOK_SECRET)
    assert b"\\u0000" in body
    response = client.post(_url(shop), content=body, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"status": "accepted"}
    Processor(services.database, services.clock).run_until_idle()
    assert inbox_states(services) == {"processed": 1}
    assert event_counts(services, shop.account_id)["Placed Order"] == 1
    with services.database.read() as connection:
        first_names = connection.execute(select(profiles.c.first_name)).scalars().all()
        row = connection.execute(select(inbox.c.body, inbox.c.nul_characters_removed)).one()
    assert first_names == ["Ada"]
    assert row.nul_characters_removed == 4
    assert row.body == body  # what the store sent stays as it was sent
    (delivery,) = client.get(
        f"/api/integrations/{shop.integration.id}/deliveries", headers=shop.headers()
    ).json()["data"]
    assert delivery["attributes"]["nul_characters_removed"] == 4
