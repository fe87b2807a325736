"""The Shift4Shop simulator's control endpoints under ``/_sim/`` (see ``_kit.control``): orders
placed as checkouts would, listed, shown and moved to another queue as the shop admin would, and
faults."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

from shoptrack.simulators._kit import Control, OrderForm

if TYPE_CHECKING:
    from shoptrack.simulators.shift4shop import Shift4ShopSimulator

__all__ = ["control_routes"]


def control_routes(sim: Shift4ShopSimulator) -> list[BaseRoute]:
    """The ``/_sim/`` routes of ``sim``."""
    control = Control(sim)
    return [
        control.orders(OrderForm(statuses=("2",))),
        control.listing(),
        control.showing(),
        control.status(),
        control.faults(),
    ]
