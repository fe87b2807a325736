"""Every simulated platform, and how its shop lives: for ``shoptrack simulate`` and ``demo``.

A ``StoreLife`` builds a platform's simulator and knows its raw statuses: the mix a store's
history has, the statuses a new checkout starts in, and where an order in a status goes next (an
empty tuple: it stays). ``step`` is one moment of shop life — a checkout, and one order moving
along — so a demo store keeps recording Placed, Fulfilled, Cancelled and Refunded Order.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shoptrack.simulators._kit import SimulatedShop
from shoptrack.simulators.history import PastOrder

__all__ = ["CATALOG", "SimulatedShop", "StoreLife", "store_life"]


@dataclass(frozen=True, slots=True)
class StoreLife:
    """One platform's simulator and the way its orders move."""

    platform: str
    label: str
    # (the store's own URL when known before it serves, deliver webhooks on demand)
    build: Callable[[str | None, bool], SimulatedShop]
    history: tuple[Any, ...]
    checkout: tuple[Any, ...]
    moves: Mapping[Any, tuple[Any, ...]]

    def seed(self, shop: SimulatedShop, orders: int, interval: timedelta) -> None:
        """The store's past: ``orders`` orders in the usual mix, ``interval`` apart up to now."""
        if orders:
            shop.add_orders(orders, statuses=self.history, interval=interval)

    def seed_history(self, shop: SimulatedShop, orders: Sequence[PastOrder]) -> None:
        """The store's past as ``simulators.history`` plans it, each order in a status of the
        store's usual mix."""
        for order in orders:
            status = self.history[order.mix % len(self.history)]
            shop.add_orders(1, statuses=[status], email=order.email, created=order.created)

    def step(self, shop: SimulatedShop, rng: random.Random) -> None:
        """A checkout, then one open order moving to its next status; webhooks go out."""
        shop.add_orders(1, statuses=[rng.choice(self.checkout)])
        open_orders = [
            (order_id, status)
            for order_id, status in shop.statuses().items()
            if self.moves.get(status)
        ]
        if open_orders:
            order_id, status = rng.choice(open_orders)
            shop.set_status(order_id, rng.choice(self.moves[status]))
        asyncio.run(shop.deliver_pending())


def _woocommerce(site_url: str | None, manual: bool) -> SimulatedShop:
    from shoptrack.simulators.woocommerce import WooCommerceSimulator  # noqa: PLC0415  # one platform's code loads only when it is asked for

    return WooCommerceSimulator(
        site_url=site_url, webhook_delivery="manual" if manual else "immediate"
    )


def _shopify(site_url: str | None, manual: bool) -> SimulatedShop:
    from shoptrack.simulators.shopify import ShopifySimulator  # noqa: PLC0415  # as above

    return ShopifySimulator(webhook_delivery="manual" if manual else "immediate")


def _bigcommerce(site_url: str | None, manual: bool) -> SimulatedShop:
    from shoptrack.simulators.bigcommerce import BigCommerceSimulator  # noqa: PLC0415  # as above

    # Local shoptrack servers listen on http://; the real store insists on https destinations.
    return BigCommerceSimulator(
        webhook_delivery="manual" if manual else "immediate", require_https_destinations=False
    )


def _magento2(site_url: str | None, manual: bool) -> SimulatedShop:
    from shoptrack.simulators.magento2 import Magento2Simulator  # noqa: PLC0415  # as above

    return Magento2Simulator()


def _prestashop(site_url: str | None, manual: bool) -> SimulatedShop:
    from shoptrack.simulators.prestashop import PrestaShopSimulator  # noqa: PLC0415  # as above

    return PrestaShopSimulator()


def _shift4shop(site_url: str | None, manual: bool) -> SimulatedShop:
    from shoptrack.simulators.shift4shop import Shift4ShopSimulator  # noqa: PLC0415  # as above

    return Shift4ShopSimulator()


def _paid_then_completed(
    platform: str,
    label: str,
    build: Callable[[str | None, bool], SimulatedShop],
    *,
    unpaid: str,
    placed: str,
    completed: str,
    cancelled: str,
    refunded: str,
) -> StoreLife:
    """The life of a store whose orders go from ``unpaid`` to ``placed`` when paid, then to
    ``completed`` in one step (WooCommerce, Magento 2), named in its own statuses: most orders
    complete, a few are cancelled unpaid or refunded."""
    return StoreLife(
        platform=platform,
        label=label,
        build=build,
        history=(completed, completed, placed, cancelled, completed, refunded),
        checkout=(unpaid, placed),
        moves={
            unpaid: (placed, placed, cancelled),
            placed: (completed, completed, completed, refunded),
        },
    )


CATALOG: tuple[StoreLife, ...] = (
    _paid_then_completed(
        "woocommerce",
        "WooCommerce",
        _woocommerce,
        unpaid="pending",
        placed="processing",
        completed="completed",
        cancelled="cancelled",
        refunded="refunded",
    ),
    StoreLife(
        platform="shopify",
        label="Shopify",
        build=_shopify,
        history=("paid", "fulfilled", "fulfilled", "pending", "refunded", "cancelled"),
        checkout=("paid", "pending"),
        moves={
            "pending": ("paid", "paid", "cancelled"),
            "paid": ("fulfilled", "fulfilled", "fulfilled", "refunded"),
        },
    ),
    StoreLife(
        platform="bigcommerce",
        label="BigCommerce",
        build=_bigcommerce,
        # 10 Completed, 2 Shipped, 11 Awaiting Fulfillment, 5 Cancelled, 4 Refunded
        history=(10, 2, 11, 5, 10, 4),
        checkout=(7, 11),  # 7 Awaiting Payment: not placed until paid
        moves={7: (11, 11, 5), 11: (2, 2, 10, 4)},
    ),
    _paid_then_completed(
        "magento2",
        "Magento 2",
        _magento2,
        unpaid="pending_payment",
        placed="processing",
        completed="complete",
        cancelled="canceled",
        refunded="closed",
    ),
    StoreLife(
        platform="prestashop",
        label="PrestaShop",
        build=_prestashop,
        # 5 Delivered, 4 Shipped, 3 Processing in progress, 6 Canceled, 7 Refunded
        history=("5", "4", "3", "6", "5", "7"),
        checkout=("1", "3"),  # 1 Awaiting check payment
        moves={"1": ("3", "3", "6"), "3": ("4", "4", "7"), "4": ("5",)},
    ),
    StoreLife(
        platform="shift4shop",
        label="Shift4Shop",
        build=_shift4shop,
        # 4 Shipped, 2 Processing, 5 Cancel, 7 Not Completed (an abandoned checkout)
        history=("4", "4", "2", "5", "4", "7"),
        checkout=("1", "2"),  # 1 New
        moves={"1": ("2", "2", "5"), "2": ("4",)},
    ),
)


def store_life(platform: str) -> StoreLife:
    """The catalogue entry of ``platform``; ``KeyError`` for one without a simulator."""
    for life in CATALOG:
        if life.platform == platform:
            return life
    raise KeyError(platform)
