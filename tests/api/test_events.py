"""The Klaviyo-compatible events API: ``POST /api/events`` on the fast path, then reading back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.testing import Shop, make_shop
from tests.conftest import START
from tests.helpers import AppClient, event_counts, inbox_states, profile_count


def event_body(
    *,
    metric: str = "Placed Order",
    email: str | None = "a@x.com",
    properties: dict[str, Any] | None = None,
    **attributes: Any,
) -> dict[str, Any]:
    profile: dict[str, Any] = {"email": email} if email is not None else {}
    return {
        "data": {
            "type": "event",
            "attributes": {
                "properties": properties if properties is not None else {"OrderId": "1"},
                "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
                "profile": {"data": {"type": "profile", "attributes": profile}},
                **attributes,
            },
        }
    }


def _post(client: AppClient, shop: Shop, body: dict[str, Any], path: str = "/api/events") -> Any:
    return client.post(path, json=body, headers=shop.headers())


def test_event_is_accepted_with_202_and_recorded(
    services: Services, shop: Shop, client: AppClient
) -> None:
    response = _post(client, shop, event_body(value=29.98, unique_id="o-1", value_currency="usd"))
    assert response.status_code == 202
    assert response.content == b""
    assert inbox_states(services) == {"pending": 1}
    Processor(services.database, services.clock).run_until_idle()
    assert event_counts(services, shop.account_id) == {"Placed Order": 1}
    listed = client.get("/api/events", headers=shop.headers()).json()
    (event,) = listed["data"]
    assert event["type"] == "event"
    assert event["attributes"]["event_properties"] == {"OrderId": "1"}
    assert event["attributes"]["datetime"] == START.isoformat()
    assert event["attributes"]["timestamp"] == int(START.timestamp())
    assert event["links"]["self"].startswith("http://shoptrack.test/api/events/")


def test_both_paths_with_and_without_slash(shop: Shop, client: AppClient) -> None:
    assert _post(client, shop, event_body(), "/api/events/").status_code == 202
    assert client.get("/api/events/", headers=shop.headers()).status_code == 200


def test_unique_id_dedupes_within_the_metric(
    services: Services, shop: Shop, client: AppClient
) -> None:
    for _ in range(2):
        _post(client, shop, event_body(unique_id="same"))
    _post(client, shop, event_body(metric="Refunded Order", unique_id="same"))
    Processor(services.database, services.clock).run_until_idle()
    assert event_counts(services, shop.account_id) == {"Placed Order": 1, "Refunded Order": 1}


def test_without_unique_id_one_event_per_profile_metric_and_second(
    services: Services, shop: Shop, client: AppClient
) -> None:
    moment = (START - timedelta(hours=1)).isoformat()
    _post(client, shop, event_body(time=moment))
    _post(client, shop, event_body(time=moment))
    _post(client, shop, event_body(time=moment, email="b@x.com"))
    _post(client, shop, event_body(time=(START - timedelta(minutes=59)).isoformat()))
    Processor(services.database, services.clock).run_until_idle()
    assert event_counts(services, shop.account_id) == {"Placed Order": 3}


def test_one_profile_for_the_same_email_written_differently(
    services: Services, shop: Shop, client: AppClient
) -> None:
    _post(client, shop, event_body(email="A@x.com", unique_id="1"))
    _post(client, shop, event_body(email=" a@x.com", unique_id="2"))
    Processor(services.database, services.clock).run_until_idle()
    assert profile_count(services, shop.account_id) == 1


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"metric": "x" * 129}, "/data/attributes/metric/data/attributes/name"),
        ({"properties": {f"p{n}": n for n in range(401)}}, "/data/attributes/properties"),
        ({"email": None}, "/data/attributes/profile/data/attributes"),
        ({"email": "not-an-email"}, "/data/attributes/profile/data/attributes/email"),
        ({"time": "1989-12-31T00:00:00Z"}, "/data/attributes/time"),
        ({"time": "2028-01-01T00:00:00Z"}, "/data/attributes/time"),
        ({"value": "a lot"}, "/data/attributes/value"),
        ({"value_currency": "dollars"}, "/data/attributes/value_currency"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_stores_nothing(
    services: Services, shop: Shop, client: AppClient, change: dict[str, Any], pointer: str
) -> None:
    response = _post(client, shop, event_body(**change))
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["source"]["pointer"] == pointer
    assert error["code"] == "invalid"
    assert inbox_states(services) == {}


def test_body_that_is_not_json_is_400(shop: Shop, client: AppClient) -> None:
    response = client.post("/api/events", content=b"{nope", headers=shop.headers())
    assert response.status_code == 400


def test_a_made_up_key_is_401(client: AppClient) -> None:
    response = client.post(
        "/api/events", json=event_body(), headers={"Authorization": "Klaviyo-API-Key pk_madeup"}
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "not_authenticated"
    assert client.get("/api/events").status_code == 401


def test_a_key_never_reaches_another_accounts_events(
    services: Services, shop: Shop, client: AppClient
) -> None:
    other = make_shop(services)
    _post(client, other, event_body(unique_id="theirs"))
    Processor(services.database, services.clock).run_until_idle()
    assert client.get("/api/events", headers=shop.headers()).json()["data"] == []
    (theirs,) = client.get("/api/events", headers=other.headers()).json()["data"]
    assert client.get(f"/api/events/{theirs['id']}", headers=shop.headers()).status_code == 404


def test_filters_include_fields_and_keyset_pages(
    services: Services, shop: Shop, client: AppClient
) -> None:
    for n in range(5):
        moment = (START - timedelta(hours=n)).isoformat()
        _post(client, shop, event_body(time=moment, unique_id=str(n)))
    _post(client, shop, event_body(metric="Viewed Product", unique_id="v"))
    Processor(services.database, services.clock).run_until_idle()
    everything = client.get("/api/events?include=metric", headers=shop.headers()).json()
    placed_id = next(
        m["id"] for m in everything["included"] if m["attributes"]["name"] == "Placed Order"
    )
    seen: list[str] = []
    url: str | None = (
        f'/api/events?filter=equals(metric_id,"{placed_id}")&page[size]=2&fields[event]=datetime'
    )
    while url is not None:
        page = client.get(url, headers=shop.headers()).json()
        assert all(set(e["attributes"]) == {"datetime"} for e in page["data"])
        seen += [e["attributes"]["datetime"] for e in page["data"]]
        url = page["links"].get("next")
    assert len(seen) == 5
    assert seen == sorted(seen, reverse=True)
    since = (START - timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    ranged = client.get(
        f'/api/events?filter=and(equals(metric_id,"{placed_id}"),'
        f"greater-or-equal(datetime,{since}))&sort=datetime",
        headers=shop.headers(),
    ).json()["data"]
    times = [e["attributes"]["datetime"] for e in ranged]
    assert len(times) == 3
    assert times == sorted(times)


@pytest.mark.parametrize(
    "path",
    [
        "/api/events/%0A",
        "/api/events/%0D%0A",
        "/api/events/a%09b",
        "/api/events%0A",
        "/api/profiles/%0A",
        "/api/metrics/%7F",
        "/api/integrations/%0A/diagnostics",
    ],
)
def test_an_id_with_control_characters_is_404_never_a_list(
    services: Services, shop: Shop, client: AppClient, path: str
) -> None:
    _post(client, shop, event_body())
    Processor(services.database, services.clock).run_until_idle()
    response = client.get(path, headers=shop.headers())
    assert response.status_code == 404, response.text
    (error,) = response.json()["errors"]
    assert error["code"] == "not_found"


@pytest.mark.parametrize(
    "query",
    [
        "filter=equals(nope,1)",
        "filter=greater-than(metric_id,1)",
        "filter=garbage",
        "sort=name",
        "page[size]=0",
        "page[size]=1001",
        "page[cursor]=%%%",
        "include=attributions,nothing",
        "fields[event]=nope",
    ],
)
def test_bad_query_parameters_are_400(shop: Shop, client: AppClient, query: str) -> None:
    response = client.get(f"/api/events?{query}", headers=shop.headers())
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["source"]["parameter"]


def test_nul_characters_are_refused_before_acknowledging(
    services: Services, shop: Shop, client: AppClient
) -> None:
    response = _post(client, shop, event_body(properties={"Note": "a\u0000b"}))
    assert response.status_code == 400
    assert inbox_states(services) == {}


@pytest.mark.parametrize("sort", ["-datetime", "datetime"])
def test_keyset_pages_take_events_of_one_second_in_id_order_once_each(
    services: Services, shop: Shop, client: AppClient, sort: str
) -> None:
    moment = (START - timedelta(hours=1)).isoformat()
    for n in range(5):
        _post(client, shop, event_body(time=moment, unique_id=f"same-{n}"))
    _post(client, shop, event_body(time=START.isoformat(), unique_id="later"))
    Processor(services.database, services.clock).run_until_idle()
    seen: list[tuple[str, str]] = []
    url: str | None = f"/api/events?sort={sort}&page[size]=2"
    while url is not None:
        page = client.get(url, headers=shop.headers()).json()
        seen += [(e["attributes"]["datetime"], e["id"]) for e in page["data"]]
        url = page["links"].get("next")
    assert len(seen) == len(set(seen)) == 6
    assert seen == sorted(seen, reverse=sort.startswith("-"))
