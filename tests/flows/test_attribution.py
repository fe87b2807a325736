"""Attribution on both databases: a live Placed Order within the account's window after its
profile opened or clicked a flow email is credited to the last such email, once, on the event
and in ``flow_attributions``; backfill and test orders, machines' opens and clicks, and opens
under clicks-only attribution credit nothing."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select

from shoptrack.clock import FrozenClock
from shoptrack.services import Services
from shoptrack.store.accounts import account_settings, save_account_settings
from shoptrack.store.schema import events, flow_attributions, metrics
from shoptrack.testing import Shop, woo_order
from tests.api.test_klaviyo_openapi import assert_klaviyo_response
from tests.flow_support import (
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
from tests.helpers import AppClient, deliver

__all__ = ["smtp"]  # the fixture, imported so pytest finds it here

BUYER = "ada@example.com"


def _settings(services: Services, shop: Shop, **changes: Any) -> None:
    with services.database.write() as connection:
        changed = account_settings(connection, shop.account_id).changed(changes)
        save_account_settings(connection, shop.account_id, changed)


def _run(services: Services, smtp: SmtpServer) -> None:
    process(services)
    engine = flow_engine(services, smtp)
    try:
        engine.run_until_idle()
    finally:
        engine.close()


def _order(
    client: AppClient, shop: Shop, unique_id: str, value: float, *, backfill: bool = False
) -> None:
    send_event(
        client, shop, "Placed Order", BUYER, unique_id=unique_id, value=value, backfill=backfill
    )


def _credited(services: Services, shop: Shop) -> dict[str, tuple[str | None, str | None]]:
    """Each Placed Order's unique id → its ``$attributed_flow`` and ``$attributed_message``."""
    with services.database.read() as connection:
        rows = connection.execute(
            select(events.c.unique_id, events.c.properties)
            .join(metrics, metrics.c.id == events.c.metric_id)
            .where(events.c.account_id == shop.account_id, metrics.c.name == "Placed Order")
        )
        return {
            row.unique_id: (
                row.properties.get("$attributed_flow"),
                row.properties.get("$attributed_message"),
            )
            for row in rows
        }


def _tracked_link(message: EmailMessage) -> str:
    return next(link for link in Mailbox.links(message) if "/t/c/" in link)


def test_an_order_is_credited_to_the_last_email_opened_or_clicked_within_the_window(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer, clock: FrozenClock
) -> None:
    thanks = create_flow(client, shop, "post-purchase", api_metric(services, shop, "Placed Order"))
    checkout = create_flow(
        client, shop, "abandoned-checkout", api_metric(services, shop, "Started Checkout")
    )
    _order(client, shop, "o-1", 20.0)
    _run(services, smtp)
    clock.advance(timedelta(days=1))  # past smart sending's 16 hours
    send_event(client, shop, "Started Checkout", BUYER, unique_id="c-1", value=35.0)
    _run(services, smtp)
    clock.advance(timedelta(hours=4))
    _run(services, smtp)
    first, reminder = smtp.mailbox.to(BUYER)
    assert reminder["Subject"] == "You left something in your cart"

    clock.advance(timedelta(hours=1))
    follow(client, _tracked_link(first))  # the thank-you email, clicked
    clock.advance(timedelta(hours=1))
    open_pixel(client, reminder)  # then the reminder, opened: the last one wins
    clock.advance(timedelta(days=4, hours=20))  # 4 days 21 hours after the open
    _order(client, shop, "o-2", 35.0)
    _run(services, smtp)
    credited = _credited(services, shop)
    assert credited["o-1"] == (None, None)  # before any email
    assert credited["o-2"] == (checkout["data"]["id"], "reminder")

    # Past the window nothing is credited; a longer window credits the next order.
    clock.advance(timedelta(days=1))
    _order(client, shop, "o-3", 10.0)
    _run(services, smtp)
    assert _credited(services, shop)["o-3"] == (None, None)
    _settings(services, shop, attribution_window_days=7)
    _order(client, shop, "o-4", 12.5)
    _run(services, smtp)
    assert _credited(services, shop)["o-4"] == (checkout["data"]["id"], "reminder")

    # Each order once: sent again, nothing changes and no second row is written.
    _order(client, shop, "o-4", 12.5)
    _run(services, smtp)
    with services.database.read() as connection:
        rows = connection.execute(
            select(flow_attributions.c.flow_id, flow_attributions.c.value)
            .where(flow_attributions.c.account_id == shop.account_id)
            .order_by(flow_attributions.c.time)
        ).all()
    assert [(row.flow_id, float(row.value)) for row in rows] == [
        (checkout["data"]["id"], 35.0),
        (checkout["data"]["id"], 12.5),
    ]
    assert thanks["data"]["id"] not in {row.flow_id for row in rows}


def test_clicks_only_machines_and_backfill_credit_nothing(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer, clock: FrozenClock
) -> None:
    flow = create_flow(client, shop, "post-purchase", api_metric(services, shop, "Placed Order"))
    _order(client, shop, "o-1", 20.0)
    _run(services, smtp)
    (message,) = smtp.mailbox.to(BUYER)
    follow(client, _tracked_link(message))  # a scanner's click, as the message arrives
    clock.advance(timedelta(minutes=30))
    open_pixel(client, message, **{"user-agent": "Mozilla/5.0"})  # Apple's prefetch
    _order(client, shop, "o-2", 20.0)
    _run(services, smtp)
    assert _credited(services, shop)["o-2"] == (None, None)

    open_pixel(client, message)  # the reader
    _settings(services, shop, attribution_clicks_only=True)
    _order(client, shop, "o-3", 20.0)
    _run(services, smtp)
    assert _credited(services, shop)["o-3"] == (None, None)  # an open, and clicks only

    clock.advance(timedelta(minutes=5))
    follow(client, _tracked_link(message))
    _order(client, shop, "o-4", 20.0, backfill=True)
    _run(services, smtp)
    assert _credited(services, shop)["o-4"] == (None, None)  # history credits nothing
    _order(client, shop, "o-5", 20.0)
    _run(services, smtp)
    # Credited to the email clicked, not to the later ones the orders brought.
    assert _credited(services, shop)["o-5"] == (flow["data"]["id"], "thank-you-first")


def test_test_orders_are_never_credited(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer, clock: FrozenClock
) -> None:
    tester = "test-order+1@shoptrack.invalid"
    _settings(services, shop, test_sends=True)
    placed = next(
        m["id"]
        for m in client.get("/api/metrics", headers=shop.headers()).json()["data"]
        if m["attributes"]["name"] == "Placed Order"
        and m["attributes"]["integration"]["id"] == shop.integration.id
    )
    create_flow(client, shop, "post-purchase", placed)
    now = clock.now()
    deliver(services, shop, woo_order(1, "processing", now, email=tester), "d-1")
    _run(services, smtp)
    (message,) = smtp.mailbox.to(tester)
    clock.advance(timedelta(minutes=10))
    follow(client, _tracked_link(message))
    deliver(services, shop, woo_order(2, "processing", clock.now(), email=tester), "d-2")
    _run(services, smtp)
    with services.database.read() as connection:
        assert connection.execute(select(flow_attributions)).all() == []


def test_events_include_their_attributions_in_klaviyos_shape(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer, clock: FrozenClock
) -> None:
    flow = create_flow(client, shop, "post-purchase", api_metric(services, shop, "Placed Order"))
    _order(client, shop, "o-1", 20.0)
    _run(services, smtp)
    (message,) = smtp.mailbox.to(BUYER)
    clock.advance(timedelta(minutes=10))
    follow(client, _tracked_link(message))
    _order(client, shop, "o-2", 30.0)
    _run(services, smtp)
    placed = api_metric(services, shop, "Placed Order")
    response = client.get(
        "/api/events",
        params={"include": "attributions", "filter": f'equals(metric_id,"{placed}")'},
        headers=shop.headers(),
    )
    document = assert_klaviyo_response("events.json", "GET", "/api/events", response, 200)
    credited = next(
        e["id"]
        for e in document["data"]
        if e["attributes"]["event_properties"].get("$attributed_flow")
    )
    (attribution,) = document["included"]
    assert attribution["type"] == "attribution"
    assert attribution["relationships"]["event"]["data"] == {"type": "event", "id": credited}
    assert attribution["relationships"]["flow"]["data"] == {
        "type": "flow",
        "id": flow["data"]["id"],
    }
    assert attribution["relationships"]["flow-message"]["data"]["id"] == "thank-you-first"
