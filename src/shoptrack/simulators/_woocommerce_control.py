"""The WooCommerce simulator's control endpoints under ``/_sim/`` (see ``_kit.control``): orders
created as checkouts would, changed and refunded (``{amount, reason}``) as the shop admin
would, webhook deliveries, and faults. What they change is delivered as the API's changes are."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from shoptrack.simulators._kit import Control, OrderForm, webhook_routes
from shoptrack.simulators._kit.control import ORDER, order_id
from shoptrack.simulators._wordpress import WPError

if TYPE_CHECKING:
    from shoptrack.simulators.woocommerce import WooCommerceSimulator

__all__ = ["control_routes"]


def control_routes(sim: WooCommerceSimulator) -> list[BaseRoute]:
    """The ``/_sim/`` routes of ``sim``."""
    control = Control(sim, answer=_problem)

    def refund(request: Request, spec: Mapping[str, Any]) -> Any:
        if "amount" not in spec:
            raise ValueError('expected {"amount": "5.00"}')
        sim.refund(order_id(request), Decimal(str(spec["amount"])), str(spec.get("reason", "")))
        return sim.order(order_id(request))

    return [
        control.orders(OrderForm(statuses=("processing",))),
        control.status(),
        Route(f"{ORDER}/refunds", control.acting(refund, 201), methods=["POST"]),
        *webhook_routes(sim),
        control.faults(),
    ]


def _problem(error: Exception) -> Response | None:
    # The store's own wording, with the argument details a WP_Error carries.
    if isinstance(error, WPError):
        return JSONResponse({"error": error.message, **error.data}, error.status)
    return None
