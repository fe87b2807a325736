"""The BigCommerce simulator's control endpoints under ``/_sim/`` (see ``_kit.control``): orders
created as checkouts would (status ids), changed, refunded (``{amount}``) and archived as the
merchant would, webhook deliveries, and faults. The events they raise are delivered as the
API's are."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from shoptrack.simulators._bigcommerce_web import ApiError
from shoptrack.simulators._kit import Control, OrderForm, webhook_routes
from shoptrack.simulators._kit.control import ORDER, order_id

if TYPE_CHECKING:
    from shoptrack.simulators.bigcommerce import BigCommerceSimulator

__all__ = ["control_routes"]


def control_routes(sim: BigCommerceSimulator) -> list[BaseRoute]:
    """The ``/_sim/`` routes of ``sim``."""
    control = Control(sim, errors=(ApiError,), answer=_api_error)

    def refund(request: Request, spec: Mapping[str, Any]) -> Any:
        if "amount" not in spec:
            raise ValueError('expected {"amount": "5.00"}')
        refund_id = sim.refund(order_id(request), Decimal(str(spec["amount"])))
        return {"refund_id": refund_id, "order": sim.order(order_id(request))}

    def archive(request: Request, spec: Mapping[str, Any]) -> Any:
        sim.archive(order_id(request))
        return sim.order(order_id(request))

    return [
        control.orders(OrderForm(statuses=(11,), status=int)),
        control.status("status_id", int),
        Route(f"{ORDER}/refunds", control.acting(refund, 201), methods=["POST"]),
        Route(f"{ORDER}/archive", control.acting(archive), methods=["POST"]),
        *webhook_routes(sim),
        control.faults(),
    ]


def _api_error(error: Exception) -> Response | None:
    return error.response() if isinstance(error, ApiError) else None
