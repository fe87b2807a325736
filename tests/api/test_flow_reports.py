"""Flow reports: ``POST /api/flow-values-reports`` and ``/api/flow-series-reports`` in Klaviyo's
request and response shapes (checked against Klaviyo's own OpenAPI slice), their statistics,
groupings, filters, timeframes and intervals, and a 400 naming what cannot be answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shoptrack.clock import FrozenClock
from shoptrack.domain.flow_reports import (
    Conversion,
    CustomTimeframe,
    Engagement,
    KeyTimeframe,
    Tally,
    buckets,
    resolve_timeframe,
)
from shoptrack.errors import InputError
from shoptrack.services import Services
from shoptrack.testing import Shop
from tests.api.test_klaviyo_openapi import assert_klaviyo_request, assert_klaviyo_response
from tests.flow_support import (
    READER,
    Mailbox,
    SmtpServer,
    api_metric,
    create_flow,
    flow_engine,
    follow,
    open_pixel,
    process,
    send_event,
    smtp,
)
from tests.helpers import AppClient

__all__ = ["smtp"]  # the fixture, imported so pytest finds it here

VALUES = "/api/flow-values-reports"
SERIES = "/api/flow-series-reports"
BERLIN = ZoneInfo("Europe/Berlin")


# --- time and arithmetic ----------------------------------------------------------------------


def test_timeframe_keys_are_whole_days_weeks_and_months_of_the_accounts_zone() -> None:
    now = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)  # already April 1st in Berlin
    utc = ZoneInfo("UTC")

    def resolved(key: str, zone: ZoneInfo = BERLIN) -> tuple[str, str]:
        start, end = resolve_timeframe(KeyTimeframe(key=key), zone, now)  # type: ignore[arg-type]
        return start.astimezone(zone).isoformat(), end.astimezone(zone).isoformat()

    assert resolved("today") == ("2026-04-01T00:00:00+02:00", "2026-04-02T00:00:00+02:00")
    assert resolved("today", utc) == ("2026-03-31T00:00:00+00:00", "2026-04-01T00:00:00+00:00")
    # "last N days" end with today; March 29th is 23 hours long in Berlin.
    assert resolved("last_7_days") == ("2026-03-26T00:00:00+01:00", "2026-04-02T00:00:00+02:00")
    assert resolved("this_week") == ("2026-03-30T00:00:00+02:00", "2026-04-06T00:00:00+02:00")
    assert resolved("last_month") == ("2026-03-01T00:00:00+01:00", "2026-04-01T00:00:00+02:00")
    assert resolved("last_12_months")[0] == "2025-04-01T00:00:00+02:00"
    assert resolved("last_year") == ("2025-01-01T00:00:00+01:00", "2026-01-01T00:00:00+01:00")

    custom = CustomTimeframe(
        start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 1, 2, tzinfo=UTC)
    )
    start, end = resolve_timeframe(custom, BERLIN, now)  # the offset given is ignored
    assert (start.isoformat(), end.isoformat()) == (
        "2025-12-31T23:00:00+00:00",
        "2026-01-01T23:00:00+00:00",
    )
    year_one = datetime(1, 1, 1, tzinfo=UTC)
    with pytest.raises(InputError, match="no UTC equivalent"):
        resolve_timeframe(CustomTimeframe(start=year_one, end=year_one), BERLIN, now)
    with pytest.raises(InputError, match="after its start"):
        resolve_timeframe(CustomTimeframe(start=end, end=start), BERLIN, now)
    with pytest.raises(InputError, match="at most a year"):
        resolve_timeframe(
            CustomTimeframe(
                start=datetime(2024, 1, 1, tzinfo=UTC), end=datetime(2025, 1, 3, tzinfo=UTC)
            ),
            BERLIN,
            now,
        )


def test_intervals_start_at_the_zones_midnights_and_have_limits() -> None:
    start = datetime(2026, 3, 28, tzinfo=BERLIN).astimezone(UTC)
    end = datetime(2026, 3, 31, tzinfo=BERLIN).astimezone(UTC)
    days = [
        moment.astimezone(BERLIN).isoformat() for moment in buckets(start, end, "daily", BERLIN)
    ]
    assert days == [
        "2026-03-28T00:00:00+01:00",
        "2026-03-29T00:00:00+01:00",
        "2026-03-30T00:00:00+02:00",  # after the change to summer time
    ]
    assert len(buckets(start, end, "hourly", BERLIN)) == 71  # one hour fewer
    months = buckets(start, start + timedelta(days=70), "monthly", BERLIN)
    assert [moment.astimezone(BERLIN).month for moment in months] == [3, 4, 5, 6]
    assert {moment.astimezone(BERLIN).day for moment in months} == {1}
    weeks = buckets(start, end, "weekly", BERLIN)
    assert [moment.astimezone(BERLIN).weekday() for moment in weeks] == [0, 0]
    with pytest.raises(InputError, match="hourly series covers at most 7 days"):
        buckets(start, start + timedelta(days=8), "hourly", BERLIN)
    with pytest.raises(InputError) as too_long:
        buckets(start, start + timedelta(days=61), "daily", BERLIN)
    assert too_long.value.pointer == "/data/attributes/interval"


def test_statistics_are_computed_from_what_emails_recorded() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    tally = Tally()

    def engaged(kind: str, delivery: str, *, machine: bool = False) -> None:
        tally.add(Engagement("f", "s", kind, machine, delivery, f"p-{delivery}", at))

    for delivery in ("a", "b", "c", "d"):
        engaged("received", delivery)
    engaged("bounced", "e")
    engaged("opened", "a")
    engaged("opened", "a")
    engaged("opened", "b", machine=True)  # a privacy proxy's open: an open all the same
    engaged("clicked", "a")
    engaged("clicked", "c", machine=True)  # a scanner's click: not a click
    engaged("unsubscribed", "d")
    tally.add(Conversion("f", "s", "p-a", at, Decimal("30.00")))
    tally.add(Conversion("f", "s", "p-a", at, Decimal("12.50")))
    figures = {
        name: tally.statistic(name)
        for name in (
            "recipients",
            "delivered",
            "bounce_rate",
            "opens",
            "opens_unique",
            "open_rate",
            "clicks",
            "clicks_unique",
            "click_rate",
            "click_to_open_rate",
            "conversions",
            "conversion_uniques",
            "conversion_value",
            "conversion_rate",
            "revenue_per_recipient",
            "average_order_value",
            "unsubscribe_rate",
            "spam_complaints",
        )
    }
    assert figures == {
        "recipients": 5,
        "delivered": 4,
        "bounce_rate": 0.2,
        "opens": 3,
        "opens_unique": 2,
        "open_rate": 0.5,
        "clicks": 1,
        "clicks_unique": 1,
        "click_rate": 0.25,
        "click_to_open_rate": 0.5,
        "conversions": 2,
        "conversion_uniques": 1,
        "conversion_value": 42.5,
        "conversion_rate": 0.25,
        "revenue_per_recipient": 10.62,
        "average_order_value": 21.25,
        "unsubscribe_rate": 0.25,
        "spam_complaints": 0,
    }
    assert Tally().statistic("open_rate") == 0.0  # nothing delivered: no rate


# --- over HTTP --------------------------------------------------------------------------------


def _values_body(metric: str, **attributes: Any) -> dict[str, Any]:
    return {
        "data": {
            "type": "flow-values-report",
            "attributes": {
                "statistics": ["recipients", "opens_unique", "clicks_unique", "conversions"],
                "timeframe": {"key": "last_30_days"},
                "conversion_metric_id": metric,
                **attributes,
            },
        }
    }


def _post(client: AppClient, shop: Shop, path: str, body: Any) -> Any:
    headers = {**shop.headers(), "content-type": "application/vnd.api+json"}
    return client.post(path, json=body, headers=headers)


@pytest.fixture
def earned(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer, clock: FrozenClock
) -> dict[str, str]:
    """Two customers emailed by a post-purchase flow two days ago: one opened, clicked and
    ordered again the next day; the other did nothing. Today is a new day."""
    placed = api_metric(services, shop, "Placed Order")
    flow = create_flow(client, shop, "post-purchase", placed)
    clock.advance(timedelta(days=-2))
    for address in ("ada@example.com", "bob@example.com"):
        send_event(client, shop, "Placed Order", address, unique_id=f"o-{address}", value=20.0)
    process(services)
    engine = flow_engine(services, smtp)
    try:
        engine.run_until_idle()
    finally:
        engine.close()
    (message,) = smtp.mailbox.to("ada@example.com")
    clock.advance(timedelta(hours=2))
    open_pixel(client, message)
    follow(client, next(link for link in Mailbox.links(message) if "/t/c/" in link))
    clock.advance(timedelta(days=1))
    send_event(client, shop, "Placed Order", "ada@example.com", unique_id="o-2", value=45.5)
    process(services)
    clock.advance(timedelta(days=1))
    return {"flow": flow["data"]["id"], "metric": placed}


def test_a_values_report_in_klaviyos_shape(
    client: AppClient, shop: Shop, earned: dict[str, str]
) -> None:
    statistics = [
        "recipients",
        "delivered",
        "opens",
        "opens_unique",
        "open_rate",
        "clicks_unique",
        "click_rate",
        "conversions",
        "conversion_value",
        "revenue_per_recipient",
        "unsubscribes",
        "bounced",
    ]
    body = assert_klaviyo_request(
        "reporting.json", "POST", VALUES, _values_body(earned["metric"], statistics=statistics)
    )
    response = _post(client, shop, VALUES, body)
    document = assert_klaviyo_response("reporting.json", "POST", VALUES, response, 200)
    (result,) = document["data"]["attributes"]["results"]
    assert result["groupings"] == {
        "flow_id": earned["flow"],
        "flow_message_id": "thank-you-first",
        "send_channel": "email",
    }
    assert result["statistics"] == {
        "recipients": 2,
        "delivered": 2,
        "opens": 1,
        "opens_unique": 1,
        "open_rate": 0.5,
        "clicks_unique": 1,
        "click_rate": 0.5,
        "conversions": 1,
        "conversion_value": 45.5,
        "revenue_per_recipient": 22.75,
        "unsubscribes": 0,
        "bounced": 0,
    }
    relationships = document["data"]["relationships"]
    assert relationships["flows"]["data"] == [{"type": "flow", "id": earned["flow"]}]
    assert relationships["flow-messages"]["data"] == [
        {"type": "flow-message", "id": "thank-you-first"}
    ]

    # Named groupings, and filters on the flow and the channel.
    named = _post(
        client,
        shop,
        VALUES,
        _values_body(
            earned["metric"],
            group_by=["flow_id", "flow_message_id", "flow_name", "flow_message_name"],
            filter=f'and(equals(flow_id,"{earned["flow"]}"),contains-any(send_channel,["email"]))',
        ),
    )
    (grouped,) = named.json()["data"]["attributes"]["results"]
    assert grouped["groupings"]["flow_name"] == "Post-purchase thank you"
    assert grouped["groupings"]["flow_message_name"] == "Thank you (first order)"
    for text in ('equals(flow_id,"elsewhere")', 'contains-any(send_channel,["sms"])'):
        other = _post(client, shop, VALUES, _values_body(earned["metric"], filter=text))
        assert other.json()["data"]["attributes"]["results"] == []
    today = _post(client, shop, VALUES, _values_body(earned["metric"], timeframe={"key": "today"}))
    assert today.json()["data"]["attributes"]["results"] == []


def test_a_series_report_counts_each_interval(
    client: AppClient, shop: Shop, earned: dict[str, str], clock: FrozenClock
) -> None:
    end = clock.now().replace(hour=0)
    body = assert_klaviyo_request(
        "reporting.json",
        "POST",
        SERIES,
        {
            "data": {
                "type": "flow-series-report",
                "attributes": {
                    "statistics": ["delivered", "clicks_unique", "conversion_value"],
                    "timeframe": {
                        "start": (end - timedelta(days=3)).isoformat(),
                        "end": end.isoformat(),
                    },
                    "interval": "daily",
                    "conversion_metric_id": earned["metric"],
                },
            }
        },
    )
    response = _post(client, shop, SERIES, body)
    document = assert_klaviyo_response("reporting.json", "POST", SERIES, response, 200)
    attributes = document["data"]["attributes"]
    assert len(attributes["date_times"]) == 3
    assert attributes["date_times"][0] == (end - timedelta(days=3)).isoformat()
    (result,) = attributes["results"]
    assert result["statistics"] == {
        "delivered": [0, 2, 0],
        "clicks_unique": [0, 1, 0],
        "conversion_value": [0.0, 0.0, 45.5],
    }


@pytest.mark.parametrize(
    ("path", "change", "pointer", "words"),
    [
        (VALUES, {"statistics": ["opens", "likes"]}, "/data/attributes/statistics/1", "opens"),
        (VALUES, {"statistics": []}, "/data/attributes/statistics", "at least 1"),
        (VALUES, {"group_by": ["tag_id"]}, "/data/attributes/group_by/0", "flow_id"),
        (VALUES, {"group_by": ["flow_id"]}, "/data/attributes/group_by", "flow_message_id"),
        (VALUES, {"timeframe": {"key": "forever"}}, "/data/attributes/timeframe", "key"),
        (VALUES, {"conversion_metric_id": "nope"}, "/data/attributes/conversion_metric_id", "no"),
        (VALUES, {"filter": "equals(tag_id,'x')"}, "/data/attributes/filter", "tag_id"),
        (VALUES, {"filter": "contains-any(flow_id,'x')"}, "/data/attributes/filter", "list"),
        (VALUES, {"colour": "red"}, "/data/attributes/colour", "Extra inputs"),
        (SERIES, {}, "/data/attributes/interval", "Field required"),
        (SERIES, {"interval": "fortnightly"}, "/data/attributes/interval", "daily"),
        (
            SERIES,
            {"interval": "hourly", "timeframe": {"key": "last_30_days"}},
            "/data/attributes/interval",
            "at most 7 days",
        ),
    ],
)
def test_what_cannot_be_answered_is_a_400_naming_it(
    services: Services,
    client: AppClient,
    shop: Shop,
    path: str,
    change: dict[str, Any],
    pointer: str,
    words: str,
) -> None:
    body = _values_body(api_metric(services, shop, "Placed Order"), **change)
    if path == SERIES:
        body["data"]["type"] = "flow-series-report"
    response = _post(client, shop, path, body)
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["code"] == "invalid"
    assert error["source"]["pointer"].startswith(pointer), error
    assert words in error["detail"], error


def test_reports_need_a_key_and_see_only_their_account(
    services: Services, client: AppClient, shop: Shop, earned: dict[str, str]
) -> None:
    from shoptrack.testing import make_shop

    assert client.post(VALUES, json=_values_body(earned["metric"])).status_code == 401
    other = make_shop(services)
    # Another account's metric is no metric of this one.
    response = _post(client, other, VALUES, _values_body(earned["metric"]))
    assert response.status_code == 400
    mine = _post(client, other, VALUES, _values_body(api_metric(services, other, "Placed Order")))
    assert mine.json()["data"]["attributes"]["results"] == []
    assert READER  # the reader's client made the opens and clicks above
