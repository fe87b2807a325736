"""The PrestaShop simulator's control endpoints under ``/_sim/`` (see ``_kit.control``): orders
placed as checkouts would (``updated`` the time of their last change), shown as the JSON
Webservice writes them and moved to another state as the back office does, and faults."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

from shoptrack.simulators._kit import Control, OrderForm

if TYPE_CHECKING:
    from shoptrack.simulators.prestashop import PrestaShopSimulator

__all__ = ["control_routes"]


def control_routes(sim: PrestaShopSimulator) -> list[BaseRoute]:
    """The ``/_sim/`` routes of ``sim``."""
    control = Control(sim)
    return [
        control.orders(OrderForm(statuses=("2",), modified="updated")),
        control.showing(),
        control.status(),
        control.faults(),
    ]
