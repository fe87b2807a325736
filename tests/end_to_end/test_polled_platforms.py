"""Magento 2, PrestaShop and Shift4Shop end to end: a simulated store on a real socket, connected
through shoptrack, its orders polled by sync and processed into exactly the events DESIGN.md's
table gives — and a custom status kept, then recorded once a rule names it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shoptrack.clock import FrozenClock
from shoptrack.connectors import connector_for
from shoptrack.integrations import connect, update
from shoptrack.pipeline.processing import Processor
from shoptrack.pipeline.sync import Syncer
from shoptrack.services import Services
from shoptrack.simulators.magento2 import Magento2Simulator
from shoptrack.simulators.prestashop import PrestaShopSimulator
from shoptrack.simulators.shift4shop import Shift4ShopSimulator
from shoptrack.testing import make_shop
from tests.helpers import event_counts
from tests.stores import serving

pytestmark = pytest.mark.slow


@dataclass
class Store:
    """A polled store connected to shoptrack, and the steps of shop life the tests take."""

    services: Services
    clock: FrozenClock
    shop: Any
    account_id: str
    integration_id: str

    def sync(self) -> dict[str, int]:
        """A scheduled sync a few minutes later, processed: the account's event counts."""
        self.clock.advance(timedelta(minutes=6))
        Syncer(self.services).run(self.account_id, self.integration_id)
        Processor(self.services.database, self.services.clock).run_until_idle()
        return event_counts(self.services, self.account_id)

    def order(self, status: str) -> int:
        (order_id,) = self.shop.add_orders(1, statuses=[status])
        return int(order_id)

    def move(self, order_id: int, status: str) -> None:
        self.clock.advance(timedelta(minutes=1))
        self.shop.set_status(order_id, status)


@pytest.fixture
def clock() -> FrozenClock:
    """Near the real time: Magento's OAuth signatures carry the machine's time."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


_SIMULATORS: dict[str, Any] = {
    "magento2": Magento2Simulator,
    "prestashop": PrestaShopSimulator,
    "shift4shop": Shift4ShopSimulator,
}


def _store(services: Services, clock: FrozenClock, platform: str) -> Iterator[Store]:
    account = make_shop(services)
    shop = _SIMULATORS[platform](clock=clock.now)
    with serving(shop.app) as url:
        result = connect(
            services,
            account_id=account.account_id,
            platform=platform,
            name=f"My {platform} store",
            credentials=shop.credentials(url),
        )
        assert not result.warnings, result.warnings
        store = Store(services, clock, shop, account.account_id, result.integration.id)
        assert store.sync() == {}  # the first import: an empty store
        yield store


@pytest.fixture
def magento2(services: Services, clock: FrozenClock) -> Iterator[Store]:
    yield from _store(services, clock, "magento2")


@pytest.fixture
def prestashop(services: Services, clock: FrozenClock) -> Iterator[Store]:
    yield from _store(services, clock, "prestashop")


@pytest.fixture
def shift4shop(services: Services, clock: FrozenClock) -> Iterator[Store]:
    yield from _store(services, clock, "shift4shop")


def _placed(counts: dict[str, int]) -> int:
    return counts.get("Placed Order", 0)


def test_magento2_never_places_at_pending_payment(magento2: Store) -> None:
    unpaid = magento2.order("pending_payment")
    assert _placed(magento2.sync()) == 0
    magento2.move(unpaid, "processing")
    assert _placed(magento2.sync()) == 1
    magento2.move(unpaid, "complete")
    magento2.order("canceled")  # first seen cancelled: nothing
    counts = magento2.sync()
    assert (_placed(counts), counts.get("Fulfilled Order"), counts.get("Cancelled Order")) == (
        1,
        1,
        None,
    )


def test_prestashop_places_at_processing_or_on_reaching_shipped(prestashop: Store) -> None:
    processing = prestashop.order("3")  # Processing in progress
    paid = prestashop.order("2")  # Payment accepted: not placed by the default rule
    assert _placed(prestashop.sync()) == 1
    prestashop.move(paid, "4")  # Shipped: implies placed
    counts = prestashop.sync()
    assert (_placed(counts), counts.get("Fulfilled Order")) == (2, 1)
    prestashop.move(processing, "6")  # Canceled
    assert prestashop.sync().get("Cancelled Order") == 1


def test_shift4shop_places_at_2_or_4_and_never_for_an_abandoned_order(shift4shop: Store) -> None:
    shift4shop.order("7")  # Not Completed: an abandoned checkout
    new = shift4shop.order("1")
    shift4shop.order("2")  # Processing
    assert _placed(shift4shop.sync()) == 1
    shift4shop.move(new, "4")  # Shipped
    counts = shift4shop.sync()
    assert (_placed(counts), counts.get("Fulfilled Order")) == (2, 1)


@pytest.mark.parametrize(
    ("platform", "custom"), [("prestashop", "14"), ("shift4shop", "8")], ids=["prestashop", "s4s"]
)
def test_a_custom_status_is_kept_then_recorded_after_the_rule_change(
    services: Services, clock: FrozenClock, platform: str, custom: str
) -> None:
    for store in _store(services, clock, platform):
        store.shop.set_faults({"custom_statuses": [custom]})
        store.order(custom)
        assert store.sync() == {}  # kept, not dropped: no rule knows the status yet
        placed = [*sorted(connector_for(platform).default_rules.placed.statuses), custom]
        update(
            services,
            account_id=store.account_id,
            integration_id=store.integration_id,
            settings={"placed_statuses": {"include": placed}},
        )
        Processor(services.database, services.clock).run_until_idle()
        counts = event_counts(services, store.account_id)
        assert _placed(counts) == 1
        assert store.sync() == counts  # the next poll of the same order adds nothing
