"""The demo's past of its post-purchase flow: what the flow would have recorded over the
imported orders — runs, emails sent, opens, clicks, and orders credited after a click."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import orjson
from sqlalchemy import func, select

from shoptrack.demo_flows import ensure_demo_flows, replay_flow_history
from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.store.inbox import InboxEntry, write_entry
from shoptrack.store.schema import email_engagements, flow_attributions, flow_deliveries, flow_runs
from shoptrack.testing import Shop, make_shop, woo_order
from tests.conftest import START
from tests.helpers import event_counts


def _imported(services: Services, shop: Shop, count: int) -> None:
    """``count`` orders a day apart, as a first sync imports them (backfill), from three
    customers who each order every third day (within the attribution window of a click)."""
    with services.database.write() as connection:
        for n in range(count):
            placed = START - timedelta(days=60) + timedelta(days=n)
            order = woo_order(n + 1, "completed", placed, email=f"c{n % 3}@example.com")
            write_entry(
                connection,
                InboxEntry(
                    account_id=shop.account_id,
                    integration_id=shop.integration.id,
                    source="backfill",
                    topic="order",
                    body=orjson.dumps(order),
                    backfill=True,
                ),
                START,
            )
    Processor(services.database, services.clock).run_until_idle()


def _replay(services: Services, shop: Shop) -> int:
    post_purchase, _ = ensure_demo_flows(services, shop.account_id, shop.integration.id)
    return replay_flow_history(
        services,
        shop.account_id,
        integration_id=shop.integration.id,
        flow_id=post_purchase,
        rng=random.Random(5),  # test data
    )


def test_the_flow_has_a_past_of_emails_opens_clicks_and_credited_orders(
    services: Services,
) -> None:
    shop = make_shop(services)
    _imported(services, shop, 30)
    assert _replay(services, shop) == 30
    with services.database.read() as connection:
        runs = Counter(connection.execute(select(flow_runs.c.state)).scalars())
        sent = connection.execute(
            select(flow_deliveries.c.step_id, flow_deliveries.c.state, flow_deliveries.c.sent_at)
        ).all()
        kinds = Counter(connection.execute(select(email_engagements.c.kind)).scalars())
        credited = connection.execute(select(func.count()).select_from(flow_attributions))
        credited_count = credited.scalar_one()
    # Every run finished in the past: none is left for the engine to send now.
    assert runs == {"completed": 30}
    assert Counter(step for step, _, _ in sent) == {"thank-you-first": 3, "thank-you-returning": 27}
    assert {state for _, state, _ in sent} == {"sent"}
    assert max(at for _, _, at in sent) < START
    assert kinds["received"] == 30
    assert 0 < kinds["opened"] < 30
    assert 0 < kinds["clicked"] <= kinds["opened"]
    assert credited_count > 0  # a click may earn several orders within its window
    counts = event_counts(services, shop.account_id)
    assert counts["Received Email"] == 30
    assert counts["Clicked Email"] == kinds["clicked"]


def test_a_second_start_adds_nothing(services: Services) -> None:
    shop = make_shop(services)
    _imported(services, shop, 12)
    _replay(services, shop)
    with services.database.read() as connection:
        before = connection.execute(select(func.count()).select_from(email_engagements))
        engaged = before.scalar_one()
    assert _replay(services, shop) == 0
    with services.database.read() as connection:
        after = connection.execute(select(func.count()).select_from(email_engagements))
        assert after.scalar_one() == engaged
