"""Hostile and careless input to the API: filters too deep or too long, bodies of the wrong
types, properties past Klaviyo's limits, times no database holds. Each is a 400 ``invalid``
naming the parameter or field, never a 5xx, and nothing of it is stored."""

from __future__ import annotations

import functools
import json
from typing import Any

import orjson
import pytest

from shoptrack.api.jsonapi import MAX_FILTER_DEPTH, MAX_FILTER_TERMS
from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.testing import Shop
from tests.helpers import AppClient, inbox_states, profile_count


def _nested(levels: int, inner: Any) -> Any:
    return functools.reduce(lambda value, _: {"a": value}, range(levels), inner)


def _aggregate(*filters: str) -> dict[str, Any]:
    return {
        "data": {
            "type": "metric-aggregate",
            "attributes": {
                "metric_id": "{metric}",
                "measurements": ["count"],
                "filter": [
                    "greater-or-equal(datetime,2026-11-01)",
                    "less-than(datetime,2026-11-02)",
                    *filters,
                ],
            },
        }
    }


@pytest.fixture
def metric_id(services: Services, shop: Shop, client: AppClient) -> str:
    """A metric of the shop, recorded by one API event."""
    body = {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {},
                "metric": {"data": {"type": "metric", "attributes": {"name": "Placed Order"}}},
                "profile": {"data": {"type": "profile", "attributes": {"email": "a@x.com"}}},
            },
        }
    }
    assert client.post("/api/events", json=body, headers=shop.headers()).status_code == 202
    Processor(services.database, services.clock).run_until_idle()
    (event,) = client.get("/api/events", headers=shop.headers()).json()["data"]
    return str(event["relationships"]["metric"]["data"]["id"])


DEEP_AND = "and(" * 500 + 'equals(metric_id,"x")' + ")" * 500
DEEP_LIST = "equals(metric_id," + "[" * 800 + "]" * 800 + ")"
MANY_EVENT_TERMS = "and(" + ",".join(f'equals(metric_id,"{n}")' for n in range(1000)) + ")"
MANY_EMAILS = ",".join(f'equals(email,"a{n}@x.com")' for n in range(1000))
LONG_LIST = "any(email,[" + ",".join(f'"a{n}@x.com"' for n in range(1000)) + "])"
FILTER = {"parameter": "filter"}


@pytest.mark.parametrize(
    ("url", "body", "source"),
    [
        ("/api/events?filter=" + DEEP_AND, None, FILTER),
        ("/api/events?filter=" + DEEP_LIST, None, FILTER),
        ("/api/events?filter=" + MANY_EVENT_TERMS, None, FILTER),
        (
            "/api/profiles?filter=" + DEEP_AND.replace('metric_id,"x"', 'email,"a@x.com"'),
            None,
            FILTER,
        ),
        ("/api/profiles?filter=" + MANY_EMAILS, None, FILTER),
        ("/api/profiles?filter=" + LONG_LIST, None, FILTER),
        ("/api/profiles?filter=any(email," + "[" * 500 + "]" * 500 + ")", None, FILTER),
        ("/api/flows?filter=" + DEEP_AND.replace("metric_id", "name"), None, FILTER),
        (
            "/api/metrics?filter=" + DEEP_AND.replace("metric_id", "integration.name"),
            None,
            FILTER,
        ),
        (
            "/api/metric-aggregates",
            _aggregate("and(" * 500 + 'equals($value_currency,"USD")' + ")" * 500),
            {"pointer": "/data/attributes/filter/2"},
        ),
        (
            "/api/metric-aggregates",
            _aggregate(",".join(['equals($value_currency,"USD")'] * 1000)),
            {"pointer": "/data/attributes/filter/2"},
        ),
        (
            "/api/metric-aggregates",
            _aggregate(*['equals($value_currency,"USD")'] * 1000),
            {"pointer": "/data/attributes/filter"},
        ),
    ],
)
def test_filters_too_deep_or_too_long_are_400_naming_the_parameter(
    shop: Shop, client: AppClient, metric_id: str, url: str, body: Any, source: dict[str, str]
) -> None:
    if body is None:
        response = client.get(url, headers=shop.headers())
    else:
        content = orjson.dumps(body).replace(b"{metric}", metric_id.encode())
        response = client.post(url, content=content, headers=shop.headers())
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert (error["code"], error["source"]) == ("invalid", source)


def test_filters_within_the_limits_are_answered(
    shop: Shop, client: AppClient, metric_id: str
) -> None:
    deepest = (
        "and(" * (MAX_FILTER_DEPTH - 1)
        + f'equals(metric_id,"{metric_id}")'
        + ")" * (MAX_FILTER_DEPTH - 1)
    )
    found = client.get(f"/api/events?filter={deepest}", headers=shop.headers())
    assert found.status_code == 200, found.text
    assert len(found.json()["data"]) == 1
    emails = ",".join(['"a@x.com"'] + [f'"a{n}@x.com"' for n in range(MAX_FILTER_TERMS - 1)])
    listed = client.get(f"/api/profiles?filter=any(email,[{emails}])", headers=shop.headers())
    assert listed.status_code == 200, listed.text
    assert len(listed.json()["data"]) == 1


@pytest.mark.parametrize(
    ("attributes", "pointer"),
    [
        ({"name": True}, "/data/attributes/name"),
        ({"name": "x" * 201}, "/data/attributes/name"),
        ({"settings": []}, "/data/attributes/settings"),
        ({"credentials": "secret"}, "/data/attributes/credentials"),
    ],
)
def test_an_integration_change_of_the_wrong_type_is_400(
    shop: Shop, client: AppClient, attributes: dict[str, Any], pointer: str
) -> None:
    body = {"data": {"type": "integration", "attributes": attributes}}
    url = f"/api/integrations/{shop.integration.id}"
    response = client.request("PATCH", url, json=body, headers=shop.headers())
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert (error["code"], error["source"]) == ("invalid", {"pointer": pointer})
    assert client.get(url, headers=shop.headers()).json()["data"]["attributes"]["name"] == "Woo"


@pytest.mark.parametrize("path", ["/api/profiles", "/api/profile-import"])
def test_profile_properties_nested_too_deep_are_400(
    services: Services, shop: Shop, client: AppClient, path: str
) -> None:
    body = {
        "data": {
            "type": "profile",
            "attributes": {"email": "deep@x.com", "properties": _nested(256, 1)},
        }
    }
    response = client.post(path, json=body, headers=shop.headers())
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert (error["code"], error["source"]) == (
        "invalid",
        {"pointer": "/data/attributes/properties"},
    )
    assert profile_count(services, shop.account_id) == 0


@pytest.mark.parametrize(
    ("field", "moment"),
    [
        ("timestamp", "0001-01-01T00:00:00+14:00"),
        ("timestamp", "9999-12-31T23:59:59-14:00"),
        ("originalTimestamp", "0001-01-01T00:00:00+01:00"),
    ],
)
def test_a_batch_time_no_database_holds_is_400_naming_the_message(
    services: Services, shop: Shop, client: AppClient, field: str, moment: str
) -> None:
    good = {"type": "track", "event": "Order Completed", "userId": "u-1", "messageId": "m-1"}
    bad = {**good, "messageId": "m-2", field: moment}
    response = client.post(
        "/v1/batch",
        content=orjson.dumps({"batch": [good, bad], "writeKey": shop.private_key}),
    )
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["source"] == {"pointer": f"/batch/1/{field}"}
    assert inbox_states(services) == {}


def test_a_replay_time_no_database_holds_is_400(shop: Shop, client: AppClient) -> None:
    body = {
        "data": {"type": "delivery-replay", "attributes": {"since": "0001-01-01T00:00:00+14:00"}}
    }
    response = client.post(
        f"/api/integrations/{shop.integration.id}/deliveries/replay",
        json=body,
        headers=shop.headers(),
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["source"] == {"pointer": "/data/attributes/since"}


# --- Klaviyo's property limits on every intake ---------------------------------------------


def _event(properties: dict[str, Any], profile_properties: dict[str, Any] | None = None) -> Any:
    profile: dict[str, Any] = {"email": "a@x.com"}
    if profile_properties is not None:
        profile["properties"] = profile_properties
    return {
        "data": {
            "type": "event",
            "attributes": {
                "properties": properties,
                "metric": {"data": {"type": "metric", "attributes": {"name": "Viewed Product"}}},
                "profile": {"data": {"type": "profile", "attributes": profile}},
            },
        }
    }


def _message(properties: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Product Viewed",
        "userId": "u-1",
        "properties": properties,
        **fields,
    }


def _send(client: AppClient, shop: Shop, intake: str, properties: dict[str, Any]) -> Any:
    """``properties`` sent through one intake: the server API, the client API or a batch (as
    its third message, after two good ones)."""
    if intake == "batch":
        messages = [_message({}, messageId="m-0"), _message({}, messageId="m-1")]
        document = {"batch": [*messages, _message(properties)], "writeKey": shop.private_key}
        # The standard library writes any depth (orjson stops at 255 levels).
        return client.post("/v1/batch", content=json.dumps(document))
    url = "/api/events" if intake == "api" else f"/client/events?company_id={shop.public_key}"
    return client.post(url, content=json.dumps(_event(properties)), headers=shop.headers())


BEYOND_LIMITS = [
    pytest.param({f"p{n}": n for n in range(401)}, "", id="401 properties"),
    pytest.param({"Note": "x" * (100 * 1024 + 1)}, "/Note", id="101 KB of text"),
    pytest.param({"Note": "é" * (50 * 1024 + 1)}, "/Note", id="101 KB of UTF-8"),
    pytest.param({"Items": list(range(4001))}, "/Items", id="4001 items"),
    pytest.param({"Deep": _nested(11, 1)}, "/Deep" + "/a" * 10, id="11 levels"),
    pytest.param({"Deep": _nested(600, 1)}, "/Deep" + "/a" * 10, id="600 levels"),
    pytest.param({"Deep": [[[[[[[[[[[1]]]]]]]]]]]}, "/Deep" + "/0" * 10, id="11 levels of arrays"),
    pytest.param({"Note": "A\u0000da"}, "/Note", id="NUL"),
    pytest.param({"A\u0000da": 1}, "/A\u0000da", id="NUL in a name"),
]
POINTERS = {
    "api": "/data/attributes/properties",
    "client": "/data/attributes/properties",
    "batch": "/batch/2/properties",
}


@pytest.mark.parametrize("intake", ["api", "client", "batch"])
@pytest.mark.parametrize(("properties", "where"), BEYOND_LIMITS)
def test_properties_beyond_klaviyos_limits_are_400_before_acknowledging(
    services: Services,
    shop: Shop,
    client: AppClient,
    intake: str,
    properties: dict[str, Any],
    where: str,
) -> None:
    response = _send(client, shop, intake, properties)
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["code"] == "invalid"
    pointer = error["source"]["pointer"]
    # Pydantic names the properties field and the detail says where within it; text the
    # database cannot hold, and anything in a batch, is named by the pointer itself.
    assert pointer.startswith(POINTERS[intake])
    if intake == "batch" or "\u0000" in str(properties):
        assert pointer.startswith(POINTERS[intake] + where)
    assert where in error["detail"]
    assert inbox_states(services) == {}


@pytest.mark.parametrize("intake", ["api", "client", "batch"])
def test_properties_at_klaviyos_limits_are_recorded(
    services: Services, shop: Shop, client: AppClient, intake: str
) -> None:
    properties: dict[str, Any] = {f"p{n}": n for n in range(396)}
    properties |= {
        "Note": "x" * (100 * 1024),
        "Items": list(range(4000)),
        "Deep": _nested(9, [1]),
        "Unicode": "é" * (50 * 1024),
    }
    response = _send(client, shop, intake, properties)
    assert response.status_code in (200, 202), response.text
    result = Processor(services.database, services.clock).run_until_idle()
    assert (result.retried, result.dead) == (0, 0)
    listed = client.get("/api/events", headers=shop.headers()).json()["data"]
    recorded = [event["attributes"]["event_properties"] for event in listed]
    assert any(event.get("Deep") == properties["Deep"] for event in recorded)
    stored = next(event for event in recorded if "Deep" in event)
    assert {name: stored[name] for name in properties} == properties


def test_profile_properties_sent_with_an_event_are_limited_too(
    services: Services, shop: Shop, client: AppClient
) -> None:
    body = _event({}, profile_properties={"Deep": _nested(11, 1)})
    response = client.post("/api/events", json=body, headers=shop.headers())
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["source"] == {
        "pointer": "/data/attributes/profile/data/attributes/properties"
    }
    assert inbox_states(services) == {}


@pytest.mark.parametrize(
    ("message", "pointer"),
    [
        ({"type": "identify", "userId": "u-1", "traits": _nested(600, 1)}, "/batch/1/traits"),
        ({**_message({}), "context": _nested(600, 1)}, "/batch/1/context"),
        ({**_message({}), "context": {"traits": {"email": "a\u0000@x.com"}}}, "/batch/1/context"),
    ],
)
def test_a_batch_with_one_bad_message_is_400_naming_it_and_stores_nothing(
    services: Services, shop: Shop, client: AppClient, message: dict[str, Any], pointer: str
) -> None:
    document = {"batch": [_message({}), message, _message({})], "writeKey": shop.private_key}
    response = client.post("/v1/batch", content=json.dumps(document))
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["code"] == "invalid"
    assert error["source"]["pointer"].startswith(pointer)
    assert inbox_states(services) == {}
