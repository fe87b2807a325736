"""What a flow earned, end to end over real SMTP (aiosmtpd) and a real socket: a live flow emails
a buyer; the pixel and a tracked link record Opened and Clicked Email; the buyer's next order is
credited to the email; the flow-values report, asked through the official ``klaviyo-api`` SDK,
gives 1 recipient, 1 unique open, 1 unique click, 1 conversion and its value; the
``List-Unsubscribe`` header reads as ``<https…>`` however long the URL; and a test order
records no flow entry."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from typing import Any

import pytest
from klaviyo_api import KlaviyoAPI
from sqlalchemy import func, select

from shoptrack.api.app import create_app
from shoptrack.clock import FrozenClock
from shoptrack.services import Services
from shoptrack.store.schema import events, flow_runs, metrics
from shoptrack.testing import make_shop, woo_order
from tests.flow_support import (
    Mailbox,
    SmtpServer,
    create_flow,
    flow_engine,
    follow,
    open_pixel,
    process,
    smtp,
)
from tests.helpers import AppClient, deliver
from tests.stores import serving

__all__ = ["smtp"]  # the fixture, imported so pytest finds it here

pytestmark = pytest.mark.slow

BUYER = "ada@example.com"
# A public address long enough that a folded header would have been split into encoded words.
PUBLIC_URL = "https://" + ".".join(f"mail-tracking-{n}-" + "x" * 40 for n in range(3)) + ".com"


def _as_dict(response: Any) -> dict[str, Any]:
    return response if isinstance(response, dict) else response.to_dict()


def test_a_flow_email_earns_an_order_and_the_sdk_reports_it(
    services: Services, smtp: SmtpServer, clock: FrozenClock
) -> None:
    services.settings = services.settings.model_copy(update={"public_url": PUBLIC_URL})
    shop = make_shop(services)
    app = create_app(services, run_workers=False)
    client = AppClient(app)
    engine = flow_engine(services, smtp)
    try:
        placed = next(
            metric["id"]
            for metric in client.get("/api/metrics", headers=shop.headers()).json()["data"]
            if metric["attributes"]["name"] == "Placed Order"
            and metric["attributes"]["integration"]["id"] == shop.integration.id
        )
        flow_id = create_flow(client, shop, "post-purchase", placed)["data"]["id"]

        # A live flow emails a buyer, over SMTP.
        deliver(services, shop, woo_order(1, "processing", clock.now(), email=BUYER), "d-1")
        process(services)
        engine.run_until_idle()
        (message,) = smtp.mailbox.to(BUYER)

        # List-Unsubscribe, as Python's email parser reads what went over the wire.
        (raw,) = smtp.mailbox.raw
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        header = str(parsed["List-Unsubscribe"])
        assert header.startswith(f"<{PUBLIC_URL}/unsubscribe/")
        assert header.endswith(">")
        assert len(header) > 250
        assert "=?" not in header
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

        # The reader opens it and follows its link to the store.
        clock.advance(timedelta(hours=3))
        open_pixel(client, message)
        link = next(link for link in Mailbox.links(message) if "/t/c/" in link)
        assert link.startswith(f"{PUBLIC_URL}/t/c/")
        assert follow(client, link).startswith("https://shop.example.com")

        # The buyer's next order, two days later, is credited to that email.
        clock.advance(timedelta(days=2))
        deliver(services, shop, woo_order(2, "processing", clock.now(), email=BUYER), "d-2")
        process(services)
        engine.run_until_idle()
        with services.database.read() as connection:
            credited = connection.execute(
                select(events.c.properties)
                .join(metrics, metrics.c.id == events.c.metric_id)
                .where(metrics.c.name == "Placed Order", events.c.unique_id == "2")
            ).scalar_one()
            engaged = dict(
                connection.execute(
                    select(metrics.c.name, func.count())
                    .join(events, events.c.metric_id == metrics.c.id)
                    .where(metrics.c.source == "email")
                    .group_by(metrics.c.name)
                ).all()
            )
        assert (credited["$attributed_flow"], credited["$attributed_message"]) == (
            flow_id,
            "thank-you-first",
        )
        assert engaged == {"Received Email": 2, "Opened Email": 1, "Clicked Email": 1}

        # A test order starts no flow.
        tester = "test-order+1@shoptrack.invalid"
        deliver(services, shop, woo_order(3, "processing", clock.now(), email=tester), "d-3")
        process(services)
        engine.run_until_idle()
        with services.database.read() as connection:
            runs = connection.execute(select(func.count()).select_from(flow_runs)).scalar_one()
        assert runs == 2  # the buyer's two orders
        assert smtp.mailbox.to(tester) == []

        # The official SDK, against the app on a real socket.
        with serving(app) as url:
            sdk = KlaviyoAPI(shop.private_key, test_host=url, max_retries=0)
            report = _as_dict(
                sdk.Reporting.query_flow_values(
                    {
                        "data": {
                            "type": "flow-values-report",
                            "attributes": {
                                "statistics": [
                                    "recipients",
                                    "opens_unique",
                                    "clicks_unique",
                                    "conversions",
                                    "conversion_value",
                                ],
                                "timeframe": {"key": "last_30_days"},
                                "conversion_metric_id": placed,
                                "filter": f'equals(flow_id,"{flow_id}")',
                            },
                        }
                    }
                )
            )
            series = _as_dict(
                sdk.Reporting.query_flow_series(
                    {
                        "data": {
                            "type": "flow-series-report",
                            "attributes": {
                                "statistics": ["recipients", "conversion_value"],
                                "timeframe": {"key": "this_month"},
                                "interval": "weekly",
                                "conversion_metric_id": placed,
                            },
                        }
                    }
                )
            )
    finally:
        engine.close()
        client.close()
    results = report["data"]["attributes"]["results"]
    by_message = {r["groupings"]["flow_message_id"]: r["statistics"] for r in results}
    assert by_message["thank-you-first"] == {
        "recipients": 1,
        "opens_unique": 1,
        "clicks_unique": 1,
        "conversions": 1,
        "conversion_value": 59.9,
    }
    (returning,) = [stats for key, stats in by_message.items() if key != "thank-you-first"]
    assert (returning["recipients"], returning["conversions"]) == (1, 0)
    series_results = series["data"]["attributes"]["results"]
    assert sum(sum(r["statistics"]["recipients"]) for r in series_results) == 2
    assert len(series["data"]["attributes"]["date_times"]) >= 4
