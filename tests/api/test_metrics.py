"""The Klaviyo-compatible metrics API: listing metrics, and aggregates of events recorded through
``POST /api/events`` and processing, per bucket of a time zone's calendar."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.store.integrations import INTEGRATION_METRICS
from shoptrack.store.metrics import ensure_metric
from shoptrack.store.schema import metric_rollups
from shoptrack.testing import Shop, make_shop
from tests.helpers import AppClient

API_INTEGRATION = {"id": "api", "name": "API", "category": "API", "platform": "api"}


def _send(
    client: AppClient,
    shop: Shop,
    time: str,
    *,
    value: str | None = None,
    email: str = "a@x.com",
    currency: str | None = None,
    metric: str = "Placed Order",
) -> None:
    attributes: dict[str, Any] = {
        "properties": {},
        "time": time,
        "unique_id": f"{email}@{time}",
        "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
        "profile": {"data": {"type": "profile", "attributes": {"email": email}}},
    }
    if value is not None:
        attributes["value"] = value
    if currency is not None:
        attributes["value_currency"] = currency
    response = client.post(
        "/api/events",
        json={"data": {"type": "event", "attributes": attributes}},
        headers=shop.headers(),
    )
    assert response.status_code == 202, response.text


def _process(services: Services) -> None:
    Processor(services.database, services.clock).run_until_idle()


def _api_metric_id(client: AppClient, shop: Shop, name: str = "Placed Order") -> str:
    listed = client.get(
        '/api/metrics?filter=equals(integration.category,"API")', headers=shop.headers()
    )
    return next(m["id"] for m in listed.json()["data"] if m["attributes"]["name"] == name)


def _query(
    metric_id: str,
    since: str,
    before: str,
    measurements: tuple[str, ...] = ("count",),
    **attributes: Any,
) -> dict[str, Any]:
    return {
        "data": {
            "type": "metric-aggregate",
            "attributes": {
                "metric_id": metric_id,
                "measurements": list(measurements),
                "filter": [f"greater-or-equal(datetime,{since})", f"less-than(datetime,{before})"],
                **attributes,
            },
        }
    }


def _change(body: dict[str, Any], **attributes: Any) -> dict[str, Any]:
    body["data"]["attributes"] |= attributes
    return body


def _aggregate(client: AppClient, shop: Shop, body: dict[str, Any]) -> httpx.Response:
    return client.post("/api/metric-aggregates", json=body, headers=shop.headers())


def _result(response: httpx.Response) -> dict[str, Any]:
    """The attributes of an aggregate answer, with amounts read as exact decimals."""
    assert response.status_code == 200, response.text
    attributes: dict[str, Any] = json.loads(response.text, parse_float=Decimal)["data"][
        "attributes"
    ]
    return attributes


# --- GET /api/metrics --------------------------------------------------------------------


def test_an_integrations_metrics_exist_as_soon_as_it_is_connected(
    shop: Shop, client: AppClient
) -> None:
    response = client.get("/api/metrics", headers=shop.headers())
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.api+json"
    metrics = response.json()["data"]
    assert sorted(m["attributes"]["name"] for m in metrics) == sorted(INTEGRATION_METRICS)
    expected = {
        "id": shop.integration.id,
        "name": "Woo",
        "category": "ecommerce",
        "platform": "woocommerce",
    }
    for metric in metrics:
        assert metric["type"] == "metric"
        assert metric["attributes"]["integration"] == expected
        assert set(metric["attributes"]) == {"name", "created", "updated", "integration"}
        assert metric["links"]["self"] == f"http://shoptrack.test/api/metrics/{metric['id']}/"


def test_api_metrics_belong_to_the_api_integration_and_filters_select_them(
    services: Services, shop: Shop, client: AppClient
) -> None:
    _send(client, shop, "2026-11-20T10:00:00Z", metric="Subscribed to Restock")
    _process(services)
    api = client.get(
        "/api/metrics/?filter=equals(integration.category,'API')", headers=shop.headers()
    ).json()["data"]
    assert [(m["attributes"]["name"], m["attributes"]["integration"]) for m in api] == [
        ("Subscribed to Restock", API_INTEGRATION)
    ]
    by_name = client.get(
        '/api/metrics?filter=equals(integration.name,"Woo")&fields[metric]=name',
        headers=shop.headers(),
    ).json()["data"]
    assert len(by_name) == len(INTEGRATION_METRICS)
    assert all(set(m["attributes"]) == {"name"} for m in by_name)
    both = client.get(
        '/api/metrics?filter=and(equals(integration.name,"API"),equals(integration.category,"ecommerce"))',
        headers=shop.headers(),
    ).json()["data"]
    assert both == []


def test_one_metric_and_never_another_accounts(
    services: Services, shop: Shop, client: AppClient
) -> None:
    other = make_shop(services)
    mine = client.get("/api/metrics", headers=shop.headers()).json()["data"][0]
    theirs = client.get("/api/metrics", headers=other.headers()).json()["data"][0]
    for path in (f"/api/metrics/{mine['id']}", f"/api/metrics/{mine['id']}/"):
        response = client.get(path, headers=shop.headers())
        assert response.status_code == 200
        assert response.json()["data"] == mine
    response = client.get(f"/api/metrics/{theirs['id']}", headers=shop.headers())
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"
    listed = {m["id"] for m in client.get("/api/metrics", headers=shop.headers()).json()["data"]}
    assert theirs["id"] not in listed
    assert client.get("/api/metrics").status_code == 401


def test_metrics_come_200_a_page_in_id_order(
    services: Services, shop: Shop, client: AppClient
) -> None:
    with services.database.write() as connection:
        for number in range(200):
            ensure_metric(connection, shop.account_id, f"Custom {number}", services.clock.now())
    first = client.get("/api/metrics", headers=shop.headers()).json()
    assert len(first["data"]) == 200
    second = client.get(first["links"]["next"], headers=shop.headers()).json()
    assert len(second["data"]) == len(INTEGRATION_METRICS)
    assert "next" not in second["links"]
    ids = [m["id"] for m in first["data"] + second["data"]]
    assert ids == sorted(set(ids))


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ('filter=equals(name,"Placed Order")', "filter"),
        ('filter=contains(integration.name,"Woo")', "filter"),
        ("filter=equals(integration.name,Woo)", "filter"),
        ("include=flow-triggers", "include"),
        ("fields[metric]=colour", "fields[metric]"),
        ("page[cursor]=bm9wZQ", "page[cursor]"),
    ],
)
def test_bad_metric_queries_are_400_naming_the_parameter(
    shop: Shop, client: AppClient, query: str, parameter: str
) -> None:
    response = client.get(f"/api/metrics?{query}", headers=shop.headers())
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["source"]["parameter"] == parameter


# --- POST /api/metric-aggregates: the answer ------------------------------------------------


def test_the_answer_has_klaviyos_shape(services: Services, shop: Shop, client: AppClient) -> None:
    _send(client, shop, "2026-11-20T10:00:00Z")
    _process(services)
    metric_id = _api_metric_id(client, shop)
    body = _query(metric_id, "2026-11-20T00:00:00", "2026-11-22T00:00:00")
    response = client.post("/api/metric-aggregates/", json=body, headers=shop.headers())
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.api+json"
    document = response.json()
    assert document["data"]["type"] == "metric-aggregate"
    assert document["data"]["id"]
    assert document["data"]["links"]["self"] == "http://shoptrack.test/api/metric-aggregates/"
    assert document["links"] == {"self": "http://shoptrack.test/api/metric-aggregates/"}
    assert document["data"]["attributes"] == {
        "dates": ["2026-11-20T00:00:00+00:00", "2026-11-21T00:00:00+00:00"],
        "data": [{"dimensions": [], "measurements": {"count": [1, 0]}}],
    }
    sparse = client.post(
        "/api/metric-aggregates?fields[metric-aggregate]=dates", json=body, headers=shop.headers()
    ).json()
    assert set(sparse["data"]["attributes"]) == {"dates"}


def test_no_events_is_a_row_of_zeros(shop: Shop, client: AppClient) -> None:
    metric_id = client.get("/api/metrics", headers=shop.headers()).json()["data"][0]["id"]
    body = _query(metric_id, "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z", ("count", "unique"))
    assert _result(_aggregate(client, shop, body))["data"] == [
        {"dimensions": [], "measurements": {"count": [0, 0], "unique": [0, 0]}}
    ]


def test_count_and_exact_sum_by_day_and_hour_in_utc(
    services: Services, shop: Shop, client: AppClient
) -> None:
    _send(client, shop, "2026-11-20T10:15:00Z", value="0.10", email="a@x.com")
    _send(client, shop, "2026-11-20T10:59:59Z", value="0.20", email="b@x.com")
    _send(client, shop, "2026-11-20T23:59:59Z", value="19.99", email="c@x.com")
    _send(client, shop, "2026-11-21T00:00:00Z", value="5", email="d@x.com")
    _send(client, shop, "2026-11-23T08:00:00Z", value="100", email="e@x.com")  # outside
    _send(client, shop, "2026-11-19T23:59:59Z", value="100", email="f@x.com")  # outside
    _process(services)
    metric_id = _api_metric_id(client, shop)
    daily = _result(
        _aggregate(
            client,
            shop,
            _query(
                metric_id,
                "2026-11-20T00:00:00Z",
                "2026-11-23T00:00:00Z",
                ("sum_value", "count"),
                interval="day",
            ),
        )
    )
    assert daily["dates"] == [
        "2026-11-20T00:00:00+00:00",
        "2026-11-21T00:00:00+00:00",
        "2026-11-22T00:00:00+00:00",
    ]
    (row,) = daily["data"]
    assert row["measurements"] == {
        "sum_value": [Decimal("20.29"), Decimal(5), Decimal(0)],
        "count": [3, 1, 0],
    }
    hourly = _result(
        _aggregate(
            client,
            shop,
            _query(
                metric_id,
                "2026-11-20T09:00:00Z",
                "2026-11-20T12:00:00Z",
                ("count", "sum_value"),
                interval="hour",
            ),
        )
    )
    assert hourly["dates"] == [
        "2026-11-20T09:00:00+00:00",
        "2026-11-20T10:00:00+00:00",
        "2026-11-20T11:00:00+00:00",
    ]
    # 0.1 + 0.2 written exactly, not as the float 0.30000000000000004.
    assert hourly["data"][0]["measurements"] == {
        "count": [0, 2, 0],
        "sum_value": [Decimal(0), Decimal("0.3"), Decimal(0)],
    }


def test_weeks_start_on_monday_and_months_on_the_first(
    services: Services, shop: Shop, client: AppClient
) -> None:
    for time in (
        "2026-01-20T12:00:00Z",
        "2026-02-28T23:30:00Z",
        "2026-03-01T00:10:00Z",
        "2026-03-31T23:59:59Z",
        "2026-04-09T08:00:00Z",
    ):
        _send(client, shop, time, value="1.5")
    _process(services)
    metric_id = _api_metric_id(client, shop)
    monthly = _result(
        _aggregate(
            client,
            shop,
            _query(
                metric_id,
                "2026-01-15T00:00:00Z",
                "2026-04-10T00:00:00Z",
                ("count", "sum_value"),
                interval="month",
            ),
        )
    )
    assert monthly["dates"] == [
        "2026-01-01T00:00:00+00:00",
        "2026-02-01T00:00:00+00:00",
        "2026-03-01T00:00:00+00:00",
        "2026-04-01T00:00:00+00:00",
    ]
    assert monthly["data"][0]["measurements"] == {
        "count": [1, 1, 2, 1],
        "sum_value": [Decimal("1.5"), Decimal("1.5"), Decimal(3), Decimal("1.5")],
    }
    weekly = _result(
        _aggregate(
            client,
            shop,
            _query(metric_id, "2026-02-26T00:00:00Z", "2026-03-12T00:00:00Z", interval="week"),
        )
    )
    # 2026-02-26 is a Thursday: its week began on Monday the 23rd.
    assert weekly["dates"] == [
        "2026-02-23T00:00:00+00:00",
        "2026-03-02T00:00:00+00:00",
        "2026-03-09T00:00:00+00:00",
    ]
    assert weekly["data"][0]["measurements"] == {"count": [2, 0, 0]}


def test_days_and_hours_follow_new_york_across_the_spring_change(
    services: Services, shop: Shop, client: AppClient
) -> None:
    for time in (
        "2026-03-08T04:30:00Z",  # 23:30 EST on the 7th
        "2026-03-08T05:30:00Z",  # 00:30 EST on the 8th
        "2026-03-08T07:30:00Z",  # 03:30 EDT on the 8th (02:00-03:00 does not exist)
        "2026-03-09T03:30:00Z",  # 23:30 EDT on the 8th
        "2026-03-09T04:30:00Z",  # 00:30 EDT on the 9th
    ):
        _send(client, shop, time)
    _process(services)
    metric_id = _api_metric_id(client, shop)
    # Bounds without an offset are wall-clock times in the query's time zone.
    daily = _result(
        _aggregate(
            client,
            shop,
            _query(
                metric_id,
                "2026-03-07T00:00:00",
                "2026-03-10T00:00:00",
                timezone="America/New_York",
            ),
        )
    )
    assert daily["dates"] == [
        "2026-03-07T00:00:00-05:00",
        "2026-03-08T00:00:00-05:00",
        "2026-03-09T00:00:00-04:00",
    ]
    assert daily["data"][0]["measurements"] == {"count": [1, 3, 1]}
    utc = _result(
        _aggregate(client, shop, _query(metric_id, "2026-03-07T00:00:00", "2026-03-10T00:00:00"))
    )
    assert utc["data"][0]["measurements"] == {"count": [0, 3, 2]}
    hourly = _result(
        _aggregate(
            client,
            shop,
            _query(
                metric_id,
                "2026-03-08T00:00:00",
                "2026-03-08T05:00:00",
                interval="hour",
                timezone="America/New_York",
            ),
        )
    )
    assert hourly["dates"] == [
        "2026-03-08T00:00:00-05:00",
        "2026-03-08T01:00:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T04:00:00-04:00",
    ]
    assert hourly["data"][0]["measurements"] == {"count": [1, 0, 1, 0]}


def test_a_day_is_25_hours_when_new_york_falls_back(
    services: Services, shop: Shop, client: AppClient
) -> None:
    _send(client, shop, "2026-11-01T05:30:00Z", email="a@x.com")  # 01:30 EDT
    _send(client, shop, "2026-11-01T06:30:00Z", email="b@x.com")  # 01:30 EST
    _send(client, shop, "2026-11-02T04:30:00Z", email="c@x.com")  # 23:30 EST on the 1st
    _process(services)
    metric_id = _api_metric_id(client, shop)
    body = _query(
        metric_id,
        "2026-11-01T00:00:00-04:00",
        "2026-11-02T00:00:00-05:00",
        interval="hour",
        timezone="America/New_York",
    )
    hourly = _result(_aggregate(client, shop, body))
    assert len(hourly["dates"]) == 25
    assert hourly["dates"][1:3] == ["2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00"]
    counts = hourly["data"][0]["measurements"]["count"]
    assert counts[1:3] == [1, 1]
    assert counts[-1] == 1
    assert sum(counts) == 3


def test_a_half_hour_zone_and_a_range_off_the_hour_read_the_events(
    services: Services, shop: Shop, client: AppClient
) -> None:
    _send(client, shop, "2026-11-20T18:15:00Z", value="1", email="a@x.com")  # 23:45 IST
    _send(client, shop, "2026-11-20T18:45:00Z", value="2", email="b@x.com")  # 00:15 IST, 21st
    _process(services)
    metric_id = _api_metric_id(client, shop)
    kolkata = _result(
        _aggregate(
            client,
            shop,
            _query(
                metric_id,
                "2026-11-20T00:00:00",
                "2026-11-22T00:00:00",
                ("count", "sum_value"),
                timezone="Asia/Kolkata",
            ),
        )
    )
    assert kolkata["dates"] == ["2026-11-20T00:00:00+05:30", "2026-11-21T00:00:00+05:30"]
    assert kolkata["data"][0]["measurements"] == {
        "count": [1, 1],
        "sum_value": [Decimal(1), Decimal(2)],
    }
    # Both events share the UTC hour 18:00; a range starting at 18:30 counts only the second.
    for since in ("2026-11-20T18:30:00Z", "2026-11-21T00:00:00+05:30"):
        body = _query(metric_id, since, "2026-11-22T00:00:00Z", ("count", "sum_value"))
        partial = _result(_aggregate(client, shop, body))
        assert partial["data"][0]["measurements"] == {
            "count": [1, 0],
            "sum_value": [Decimal(2), Decimal(0)],
        }


def test_whole_hours_are_read_from_the_rollups(
    services: Services, shop: Shop, client: AppClient
) -> None:
    """White-box: a rollup row with no events behind it shows which source answered."""
    _send(client, shop, "2026-11-20T10:00:00Z", value="1")
    _process(services)
    metric_id = _api_metric_id(client, shop)
    with services.database.write() as connection:
        connection.execute(
            metric_rollups.insert().values(
                account_id=shop.account_id,
                metric_id=metric_id,
                hour=datetime(2026, 11, 20, 12, tzinfo=UTC),
                count=5,
                value_sum=Decimal("50"),
            )
        )
        connection.execute(
            metric_rollups.insert().values(
                account_id=shop.account_id,
                metric_id=metric_id,
                hour=datetime(2026, 11, 20, 13, tzinfo=UTC),
                currency="EUR",
                count=3,
                value_sum=Decimal("30"),
            )
        )
    body = _query(metric_id, "2026-11-20T00:00:00", "2026-11-21T00:00:00", ("count", "unique"))
    from_rollups = _result(_aggregate(client, shop, body))["data"][0]["measurements"]
    assert from_rollups == {"count": [9], "unique": [1]}
    # The rollups keep each currency apart: grouping or filtering by it reads them too.
    by_currency = _change(copy.deepcopy(body), by=["$value_currency"], sort="$value_currency")
    assert _result(_aggregate(client, shop, by_currency))["data"] == [
        {"dimensions": [""], "measurements": {"count": [6], "unique": [1]}},
        {"dimensions": ["EUR"], "measurements": {"count": [3], "unique": [0]}},
    ]
    in_euros = copy.deepcopy(body)
    in_euros["data"]["attributes"]["filter"].append('equals($value_currency,"EUR")')
    euros = _result(_aggregate(client, shop, in_euros))["data"][0]["measurements"]
    assert euros == {"count": [3], "unique": [0]}
    # A zone 5:45 ahead of UTC needs the events themselves.
    kathmandu = _change(body, timezone="Asia/Kathmandu")
    from_events = _result(_aggregate(client, shop, kathmandu))["data"][0]["measurements"]
    assert from_events == {"count": [1], "unique": [1]}


def test_unique_counts_distinct_profiles_per_bucket(
    services: Services, shop: Shop, client: AppClient
) -> None:
    _send(client, shop, "2026-11-20T09:00:00Z", email="a@x.com")
    _send(client, shop, "2026-11-20T15:00:00Z", email="a@x.com")
    _send(client, shop, "2026-11-20T16:00:00Z", email="b@x.com")
    _send(client, shop, "2026-11-21T09:00:00Z", email="a@x.com")
    _process(services)
    metric_id = _api_metric_id(client, shop)
    body = _query(metric_id, "2026-11-20T00:00:00Z", "2026-11-22T00:00:00Z", ("unique", "count"))
    assert _result(_aggregate(client, shop, body))["data"][0]["measurements"] == {
        "unique": [2, 1],
        "count": [3, 1],
    }
    body["data"]["attributes"]["interval"] = "week"
    assert _result(_aggregate(client, shop, body))["data"][0]["measurements"] == {
        "unique": [2],
        "count": [4],
    }


def test_unique_agrees_with_counting_by_hand_in_any_zone_and_partial_bucket(
    services: Services, shop: Shop, client: AppClient
) -> None:
    """Unique profiles per bucket against a count by hand: a start inside the first day, a zone
    a whole number of hours from UTC and one that is not, days, hours and a currency split."""
    rng = random.Random(7)
    sent = []
    for n in range(60):
        moment = datetime(2026, 11, 19, tzinfo=UTC) + timedelta(minutes=rng.randrange(4 * 1440))
        email, currency = f"p{rng.randrange(12)}@x.com", rng.choice(["USD", "EUR"])
        time = moment.isoformat().replace("+00:00", "Z")
        _send(client, shop, time, email=f"{n}.{email}" if n % 7 == 0 else email, currency=currency)
        sent.append((moment, email if n % 7 else f"{n}.{email}", currency))
    _process(services)
    metric_id = _api_metric_id(client, shop)
    since, before = datetime(2026, 11, 19, 13, 30, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC)
    for zone, interval in (("UTC", "day"), ("Asia/Kathmandu", "day"), ("Europe/Paris", "hour")):
        body = _query(
            metric_id,
            since.isoformat().replace("+00:00", "Z"),
            before.isoformat().replace("+00:00", "Z"),
            ("unique",),
            timezone=zone,
            interval=interval,
            by=["$value_currency"],
        )
        result = _result(_aggregate(client, shop, body))
        starts = [datetime.fromisoformat(d) for d in result["dates"]]
        for row in result["data"]:
            (currency,) = row["dimensions"]
            expected = []
            for index, start in enumerate(starts):
                end = starts[index + 1] if index + 1 < len(starts) else before
                inside = {
                    email
                    for moment, email, paid_in in sent
                    if paid_in == currency and max(start, since) <= moment < min(end, before)
                }
                expected.append(len(inside))
            assert row["measurements"]["unique"] == expected, (zone, interval, currency)
            assert sum(expected) > 0


def test_by_currency_sorts_filters_and_pages(
    services: Services, shop: Shop, client: AppClient
) -> None:
    _send(client, shop, "2026-11-20T09:00:00Z", value="10", currency="usd", email="a@x.com")
    _send(client, shop, "2026-11-20T10:00:00Z", value="2.5", currency="USD", email="b@x.com")
    _send(client, shop, "2026-11-21T09:00:00Z", value="30", currency="EUR", email="a@x.com")
    _send(client, shop, "2026-11-21T10:00:00Z", value="7", email="c@x.com")
    _process(services)
    metric_id = _api_metric_id(client, shop)
    measurements = ("count", "sum_value", "unique")
    body = _query(
        metric_id,
        "2026-11-20T00:00:00Z",
        "2026-11-22T00:00:00Z",
        measurements,
        by=["$value_currency"],
    )
    rows = _result(_aggregate(client, shop, body))["data"]
    # An event without a currency counts under "".
    assert rows == [
        {
            "dimensions": [""],
            "measurements": {"count": [0, 1], "sum_value": [0, 7], "unique": [0, 1]},
        },
        {
            "dimensions": ["EUR"],
            "measurements": {"count": [0, 1], "sum_value": [0, 30], "unique": [0, 1]},
        },
        {
            "dimensions": ["USD"],
            "measurements": {
                "count": [2, 0],
                "sum_value": [Decimal("12.5"), 0],
                "unique": [2, 0],
            },
        },
    ]
    body["data"]["attributes"]["sort"] = "-sum_value"
    ordered = _result(_aggregate(client, shop, body))["data"]
    assert [row["dimensions"] for row in ordered] == [["EUR"], ["USD"], [""]]
    body["data"]["attributes"]["sort"] = "-$value_currency"
    ordered = _result(_aggregate(client, shop, body))["data"]
    assert [row["dimensions"] for row in ordered] == [["USD"], ["EUR"], [""]]

    body["data"]["attributes"] |= {"sort": None, "page_size": 2}
    first = _aggregate(client, shop, body).json()
    assert [row["dimensions"] for row in first["data"]["attributes"]["data"]] == [[""], ["EUR"]]
    body["data"]["attributes"]["page_cursor"] = first["links"]["next"]
    second = _aggregate(client, shop, body).json()
    assert [row["dimensions"] for row in second["data"]["attributes"]["data"]] == [["USD"]]
    assert "next" not in second["links"]

    filtered = _query(
        metric_id,
        "2026-11-20T00:00:00Z",
        "2026-11-22T00:00:00Z",
        ("sum_value",),
    )
    filtered["data"]["attributes"]["filter"].append('equals($value_currency,"USD")')
    assert _result(_aggregate(client, shop, filtered))["data"] == [
        {"dimensions": [], "measurements": {"sum_value": [Decimal("12.5"), 0]}}
    ]


def test_a_full_year_of_hours_is_allowed_and_a_day_more_is_not(
    shop: Shop, client: AppClient
) -> None:
    metric_id = client.get("/api/metrics", headers=shop.headers()).json()["data"][0]["id"]
    year = _query(metric_id, "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z", interval="hour")
    assert len(_result(_aggregate(client, shop, year))["dates"]) == 366 * 24
    longer = _query(metric_id, "2024-01-01T00:00:00Z", "2025-01-02T00:00:00Z", interval="hour")
    response = _aggregate(client, shop, longer)
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == "/data/attributes/filter"


# --- POST /api/metric-aggregates: what it refuses ----------------------------------------


def test_an_unknown_or_another_accounts_metric_is_404(
    services: Services, shop: Shop, client: AppClient
) -> None:
    other = make_shop(services)
    theirs = client.get("/api/metrics", headers=other.headers()).json()["data"][0]["id"]
    for metric_id in (theirs, "01NOSUCHMETRIC0000000000000"):
        body = _query(metric_id, "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z")
        response = _aggregate(client, shop, body)
        assert response.status_code == 404
        (error,) = response.json()["errors"]
        assert error["code"] == "not_found"
        assert error["source"]["pointer"] == "/data/attributes/metric_id"


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"type": "metric"}, "/data/type"),
        ({"measurements": ["median"]}, "/data/attributes/measurements/0"),
        ({"measurements": []}, "/data/attributes/measurements"),
        ({"interval": "year"}, "/data/attributes/interval"),
        ({"timezone": "Mars/Olympus_Mons"}, "/data/attributes/timezone"),
        ({"timezone": "america/new_york"}, "/data/attributes/timezone"),
        ({"filter": ["greater-or-equal(datetime,2026-11-20T00:00:00)"]}, "/data/attributes/filter"),
        ({"filter": ["less-than(datetime,2026-11-20T00:00:00)"]}, "/data/attributes/filter"),
        ({"filter": []}, "/data/attributes/filter"),
        (
            {
                "filter": [
                    "greater-or-equal(datetime,2026-11-21T00:00:00)",
                    "less-than(datetime,2026-11-20T00:00:00)",
                ]
            },
            "/data/attributes/filter",
        ),
        (
            {
                "filter": [
                    "greater-or-equal(datetime,2026-11-20T00:00:00)",
                    "less-than(datetime,yesterday)",
                ]
            },
            "/data/attributes/filter/1",
        ),
        (
            {
                "filter": [
                    "greater-or-equal(datetime,2026-11-20T00:00:00)",
                    "less-than(datetime,2026-11-21T00:00:00)",
                    'equals($flow,"X")',
                ]
            },
            "/data/attributes/filter/2",
        ),
        (
            {
                "filter": [
                    "greater-or-equal(datetime,2026-11-20T00:00:00)",
                    "greater-or-equal(datetime,2026-11-19T00:00:00)",
                    "less-than(datetime,2026-11-21T00:00:00)",
                ]
            },
            "/data/attributes/filter/1",
        ),
        ({"by": ["$flow"]}, "/data/attributes/by"),
        ({"by": ["Colour"]}, "/data/attributes/by"),
        ({"sort": "-median"}, "/data/attributes/sort"),
        ({"sort": "$value_currency"}, "/data/attributes/sort"),
        ({"page_size": 0}, "/data/attributes/page_size"),
        ({"page_cursor": "somewhere"}, "/data/attributes/page_cursor"),
        ({"metric_id": None}, "/data/attributes/metric_id"),
    ],
)
def test_bad_queries_are_400_naming_the_field(
    shop: Shop, client: AppClient, change: dict[str, Any], pointer: str
) -> None:
    metric_id = client.get("/api/metrics", headers=shop.headers()).json()["data"][0]["id"]
    body = _query(metric_id, "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z")
    if "type" in change:
        body["data"]["type"] = change["type"]
    else:
        _change(body, **change)
    response = _aggregate(client, shop, body)
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["code"] == "invalid"
    assert error["source"]["pointer"] == pointer


def test_by_names_the_dimensions_it_allows(shop: Shop, client: AppClient) -> None:
    metric_id = client.get("/api/metrics", headers=shop.headers()).json()["data"][0]["id"]
    body = _query(metric_id, "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z", by=["$message"])
    detail = _aggregate(client, shop, body).json()["errors"][0]["detail"]
    assert "by" in detail
    assert "$value_currency" in detail


def test_the_body_is_read_as_json_whatever_its_content_type(shop: Shop, client: AppClient) -> None:
    metric_id = client.get("/api/metrics", headers=shop.headers()).json()["data"][0]["id"]
    body = json.dumps(_query(metric_id, "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z"))
    for content_type in ("application/vnd.api+json", "application/x-www-form-urlencoded"):
        headers = {**shop.headers(), "content-type": content_type}
        response = client.post("/api/metric-aggregates", content=body.encode(), headers=headers)
        assert response.status_code == 200, response.text
        bad = client.post("/api/metric-aggregates", content=b"{nope", headers=headers)
        assert bad.status_code == 400
        assert bad.json()["errors"][0]["code"] == "invalid"
