"""Hostile and careless input to the API: filters too deep or too long, bodies of the wrong
types, properties past Klaviyo's limits, times no database holds. Each is a 400 ``invalid``
naming the parameter or field, never a 5xx, and nothing of it is stored."""

from __future__ import annotations

import functools
from typing import Any

import orjson
import pytest

from shoptrack.api.jsonapi import MAX_FILTER_DEPTH, MAX_FILTER_TERMS
from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from tests.helpers import AppClient, Shop, inbox_states, profile_count


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
