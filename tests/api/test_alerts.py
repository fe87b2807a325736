"""``/api/alerts`` and ``/api/alert-subscriptions``: JSON:API resources, filters and cursors,
and bad input answered with a 4xx that names the field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shoptrack.alerts import Watchdog
from shoptrack.clock import FrozenClock
from shoptrack.services import Services
from shoptrack.store.accounts import create_account
from shoptrack.store.alerts import insert_alert
from shoptrack.testing import Shop
from tests.flow_support import webhook_receiver
from tests.helpers import AppClient
from tests.watch_support import no_wait, order_history

JSONAPI = "application/vnd.api+json"


def _run(services: Services) -> None:
    watchdog = Watchdog.from_services(services, client_factory=no_wait)
    try:
        watchdog.run()
    finally:
        watchdog.close()


def _drop(services: Services, shop: Shop, clock: FrozenClock) -> None:
    now = clock.now()
    order_history(
        services,
        shop,
        since=now - timedelta(days=30),
        until=now - timedelta(days=2),
        every=timedelta(hours=4),
    )
    _run(services)


def _post(client: AppClient, shop: Shop, attributes: Any, kind: str = "alert-subscription") -> Any:
    return client.post(
        "/api/alert-subscriptions",
        headers=shop.headers() | {"content-type": JSONAPI},
        json={"data": {"type": kind, "attributes": attributes}},
    )


def test_alerts_are_listed_as_jsonapi_resources(
    services: Services, shop: Shop, client: AppClient, clock: FrozenClock
) -> None:
    _drop(services, shop, clock)
    answer = client.get("/api/alerts", headers=shop.headers())
    assert answer.status_code == 200
    assert answer.headers["content-type"] == JSONAPI
    (alert,) = answer.json()["data"]
    assert alert["type"] == "alert"
    attributes = alert["attributes"]
    assert set(attributes) == {
        "code",
        "severity",
        "summary",
        "integration_id",
        "opened",
        "last_seen",
        "resolved",
        "finding",
    }
    assert attributes["code"] == "placed_order_drop"
    assert attributes["severity"] == "warning"
    assert attributes["integration_id"] == shop.integration.id
    assert attributes["resolved"] is None
    assert attributes["finding"]["evidence"]["window"]["observed"] == 0
    assert attributes["finding"]["fix"]["text"]
    one = client.get(f"/api/alerts/{alert['id']}/", headers=shop.headers())
    assert one.status_code == 200
    assert one.json()["data"] == alert
    assert alert["links"]["self"].endswith(f"/api/alerts/{alert['id']}")
    missing = client.get("/api/alerts/01NOSUCHALERT0000000000000", headers=shop.headers())
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"] == "not_found"
    # Another account sees none of them.
    with services.database.write() as connection:
        _other, key = create_account(connection, "Other", clock.now())
    theirs = client.get("/api/alerts", headers={"Authorization": f"Klaviyo-API-Key {key.key}"})
    assert theirs.json()["data"] == []
    assert client.get("/api/alerts").status_code == 401


def test_filters_and_pages(services: Services, shop: Shop, client: AppClient) -> None:
    now = services.clock.now()
    with services.database.write() as connection:
        made = [
            insert_alert(
                connection,
                shop.account_id,
                {
                    "code": code,
                    "severity": "error",
                    "summary": code,
                    "evidence": {},
                    "fix": None,
                    "integration_id": shop.integration.id,
                },
                now + timedelta(minutes=index),
            )
            for index, code in enumerate(["sync_failing", "credentials_rejected", "scope_missing"])
        ]
        from shoptrack.store.alerts import update_alert

        update_alert(connection, made[2].id, resolved_at=now + timedelta(hours=1))
    headers = shop.headers()
    codes = [
        r["attributes"]["code"] for r in client.get("/api/alerts", headers=headers).json()["data"]
    ]
    assert codes == ["credentials_rejected", "sync_failing", "scope_missing"]  # open first
    pages: list[str] = []
    url = "/api/alerts?page[size]=1"
    while url:
        document = client.get(url, headers=headers).json()
        pages += [r["attributes"]["code"] for r in document["data"]]
        url = document["links"].get("next", "").removeprefix("http://shoptrack.test")
    assert pages == codes
    only = client.get('/api/alerts?filter=equals(status,"resolved")', headers=headers).json()
    assert [r["attributes"]["code"] for r in only["data"]] == ["scope_missing"]
    coded = client.get('/api/alerts?filter=equals(code,"sync_failing")', headers=headers).json()
    assert [r["id"] for r in coded["data"]] == [made[0].id]
    for bad, parameter in [
        ('filter=equals(status,"closed")', "filter"),
        ('filter=equals(severity,"error")', "filter"),
        ("page[size]=0", "page[size]"),
        ("page[cursor]=nonsense", "page[cursor]"),
    ]:
        answer = client.get(f"/api/alerts?{bad}", headers=headers)
        assert answer.status_code == 400, bad
        assert answer.json()["errors"][0]["source"] == {"parameter": parameter}, bad


def test_subscriptions_are_made_listed_and_removed(
    services: Services, shop: Shop, client: AppClient
) -> None:
    made = _post(client, shop, {"email": " Ops@Example.com "})
    assert made.status_code == 201, made.text
    email = made.json()["data"]
    assert email["type"] == "alert-subscription"
    assert email["attributes"] == {
        "channel": "email",
        "email": "ops@example.com",
        "url": None,
        "created": email["attributes"]["created"],
    }
    with webhook_receiver() as receiver:
        hooked = _post(client, shop, {"url": receiver.url()})
    assert hooked.status_code == 201, hooked.text
    secret = hooked.json()["data"]["attributes"]["secret"]
    assert secret.startswith("whsec_")
    listed = client.get("/api/alert-subscriptions/", headers=shop.headers())
    assert [r["attributes"]["channel"] for r in listed.json()["data"]] == ["email", "webhook"]
    assert "whsec_" not in listed.text
    gone = client.request(
        "DELETE", f"/api/alert-subscriptions/{email['id']}", headers=shop.headers()
    )
    assert gone.status_code == 204
    again = client.request(
        "DELETE", f"/api/alert-subscriptions/{email['id']}", headers=shop.headers()
    )
    assert again.status_code == 404
    listed = client.get("/api/alert-subscriptions", headers=shop.headers())
    assert [r["attributes"]["channel"] for r in listed.json()["data"]] == ["webhook"]
    # The body's model is in the OpenAPI document.
    description = client.get("/openapi.json").json()
    paths, schemas = description["paths"], description["components"]["schemas"]
    body = paths["/api/alert-subscriptions"]["post"]["requestBody"]["content"][JSONAPI]
    assert body["schema"] == {"$ref": "#/components/schemas/SubscriptionDocument"}
    assert set(schemas["SubscriptionAttributes"]["properties"]) == {"email", "url"}
    assert {"get"} <= set(paths["/api/alerts"])
    assert {"delete"} <= set(paths["/api/alert-subscriptions/{subscription_id}"])


@pytest.mark.parametrize(
    ("attributes", "kind", "status", "pointer"),
    [
        ({"email": "nobody"}, "alert-subscription", 400, "/data/attributes/email"),
        ({"email": 42}, "alert-subscription", 400, "/data/attributes/email"),
        ({"email": "a" * 400 + "@x.com"}, "alert-subscription", 400, "/data/attributes/email"),
        ({"url": "ftp://example.com"}, "alert-subscription", 400, "/data/attributes/url"),
        ({"url": "http://127.0.0.2/hook"}, "alert-subscription", 422, "/data/attributes/url"),
        ({"url": "https://xn--/hook"}, "alert-subscription", 400, "/data/attributes/url"),
        ({"url": "http://exa mple.com/"}, "alert-subscription", 400, "/data/attributes/url"),
        ({"url": "http://example.com:99999/"}, "alert-subscription", 400, "/data/attributes/url"),
        ({"url": "http://[::1/"}, "alert-subscription", 400, "/data/attributes/url"),
        ({"phone": "+15555550100"}, "alert-subscription", 400, "/data/attributes/phone"),
        ({}, "alert-subscription", 400, "/data/attributes"),
        ({"email": "a@example.com"}, "alert", 400, "/data/type"),
    ],
)
def test_bad_subscriptions_are_4xx_naming_the_field(
    shop: Shop,
    client: AppClient,
    attributes: Any,
    kind: str,
    status: int,
    pointer: str,
) -> None:
    answer = _post(client, shop, attributes, kind)
    assert answer.status_code == status, answer.text
    error = answer.json()["errors"][0]
    assert error["source"] == {"pointer": pointer}
    listed = client.get("/api/alert-subscriptions", headers=shop.headers())
    assert listed.json()["data"] == []


def test_a_subscription_twice_is_a_conflict(shop: Shop, client: AppClient) -> None:
    assert _post(client, shop, {"email": "ops@example.com"}).status_code == 201
    twice = _post(client, shop, {"email": "OPS@example.com"})
    assert twice.status_code == 409
    assert twice.json()["errors"][0]["code"] == "conflict"
    assert twice.json()["errors"][0]["source"] == {"pointer": "/data/attributes/email"}
    body = client.post(
        "/api/alert-subscriptions",
        headers=shop.headers() | {"content-type": JSONAPI},
        content=b"{not json",
    )
    assert body.status_code == 400
