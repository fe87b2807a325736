"""The doctor's drop checks: a store's own history says how many orders to expect, counted from
the rollups (live and backfill, test orders left out), up to where its counts are complete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shoptrack.clock import FrozenClock
from shoptrack.doctor import Finding, Severity, diagnose_integration
from shoptrack.integrations import connect
from shoptrack.pipeline.processing import Processor
from shoptrack.pipeline.sync import Syncer
from shoptrack.services import Services
from shoptrack.simulators.prestashop import PrestaShopSimulator
from shoptrack.store.accounts import create_account
from shoptrack.testing import Shop, woo_order
from tests.helpers import deliver
from tests.stores import serving
from tests.watch_support import order_history

EVERY = timedelta(hours=4)  # six orders a day


@pytest.fixture
def clock() -> FrozenClock:
    """Near the real time: the PrestaShop simulator dates its answers by the machine's clock."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


def _drop(services: Services, account_id: str, integration_id: str) -> Finding:
    report = diagnose_integration(services, account_id, integration_id, live=False)
    finding = report.get("placed_order_drop")
    assert finding is not None
    return finding


def test_four_weeks_of_orders_then_two_silent_days_is_a_drop(
    services: Services, shop: Shop, clock: FrozenClock
) -> None:
    now = clock.now()
    order_history(
        services, shop, since=now - timedelta(days=30), until=now - timedelta(days=2), every=EVERY
    )
    report = diagnose_integration(services, shop.account_id, shop.integration.id, live=False)
    finding = report.get("placed_order_drop")
    assert finding is not None
    assert finding.severity is Severity.WARNING
    window = finding.evidence["window"]
    assert window["observed"] == 0
    assert window["expected"] >= 12  # 48 hours of six a day, at least
    assert window["probability"] < 0.001
    assert finding.evidence["history_weeks"] == 4
    assert finding.evidence["likely_causes"] == []
    assert "Placed Order dropped: 0 in the" in finding.summary
    assert finding.fix is not None
    assert "takes orders" in finding.fix.text
    # No Started Checkout or Added to Cart ever arrived: nothing to judge there.
    for code in ("started_checkout_drop", "added_to_cart_drop"):
        other = report.get(code)
        assert other is not None
        assert other.severity is Severity.OK
        assert other.summary.startswith("Not judged: 0 weeks")
    # Asked about one metric, the doctor keeps its drop check and not the others'.
    only = diagnose_integration(
        services, shop.account_id, shop.integration.id, metric="Placed Order", live=False
    )
    assert only.get("placed_order_drop") is not None
    assert only.get("added_to_cart_drop") is None


def test_a_steady_store_has_no_drop(services: Services, shop: Shop, clock: FrozenClock) -> None:
    now = clock.now()
    order_history(services, shop, since=now - timedelta(days=30), until=now, every=EVERY)
    finding = _drop(services, shop.account_id, shop.integration.id)
    assert finding.severity is Severity.OK
    assert "as often as" in finding.summary
    assert finding.evidence["window"]["probability"] >= 0.001


def test_a_new_store_is_not_judged(services: Services, shop: Shop, clock: FrozenClock) -> None:
    now = clock.now()
    order_history(
        services, shop, since=now - timedelta(days=10), until=now - timedelta(days=2), every=EVERY
    )
    finding = _drop(services, shop.account_id, shop.integration.id)
    assert finding.severity is Severity.OK
    assert finding.summary == "Not judged: 1 week of Placed Order history (2 needed)."


def test_test_orders_make_no_history(services: Services, shop: Shop, clock: FrozenClock) -> None:
    now = clock.now()
    order_history(
        services,
        shop,
        since=now - timedelta(days=30),
        until=now - timedelta(days=2),
        every=EVERY,
        email="test-order+1@shoptrack.invalid",
    )
    finding = _drop(services, shop.account_id, shop.integration.id)
    assert finding.severity is Severity.OK
    assert finding.evidence["first_event_hour"] is None


def test_counts_end_before_the_oldest_unprocessed_delivery(
    services: Services, shop: Shop, clock: FrozenClock
) -> None:
    """Orders of the last two days that wait in the inbox are no drop: they are not counted
    yet, and the windows end where the counts are complete."""
    now = clock.now()
    count = order_history(
        services, shop, since=now - timedelta(days=30), until=now - timedelta(days=2), every=EVERY
    )
    clock.set(now - timedelta(days=2))
    deliver(services, shop, woo_order(count + 1, "processing", clock.now()), "waiting")
    clock.set(now)
    finding = _drop(services, shop.account_id, shop.integration.id)
    assert finding.severity is Severity.OK
    assert finding.evidence["counted_until"] <= (now - timedelta(days=2)).isoformat()
    Processor(services.database, services.clock).run_until_idle()
    assert _drop(services, shop.account_id, shop.integration.id).severity is Severity.WARNING


@pytest.mark.slow
def test_a_polled_store_is_judged_up_to_its_last_successful_sync(
    services: Services, clock: FrozenClock
) -> None:
    now = clock.now()
    store = PrestaShopSimulator(clock=clock.now)
    store.add_orders(28 * 6, statuses=["3"], created=now - timedelta(days=28), interval=EVERY)
    with services.database.write() as connection:
        account, _key = create_account(connection, "Polled shop", now)
    with serving(store.app) as url:
        integration_id = connect(
            services,
            account_id=account.id,
            platform="prestashop",
            name="Presta",
            credentials=store.credentials(url),
        ).integration.id

        def sync() -> None:
            Syncer(services).run(account.id, integration_id)
            Processor(services.database, services.clock).run_until_idle()

        sync()  # the first import: four weeks of orders, as backfill
        assert _drop(services, account.id, integration_id).severity is Severity.OK
        # Two days pass without a sync: nothing says the store stopped, only that nothing was
        # read since.
        clock.advance(timedelta(days=2))
        late = _drop(services, account.id, integration_id)
        assert late.severity is Severity.OK
        assert late.evidence["counted_until"] <= now.isoformat()
        # A sync reads the store: no order in two days, a drop.
        sync()
        assert _drop(services, account.id, integration_id).severity is Severity.WARNING
