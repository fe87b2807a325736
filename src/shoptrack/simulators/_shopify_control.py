"""The Shopify simulator's control endpoints under ``/_sim/``: plain JSON, no token, for tests,
demos and benchmarks to act as the shop's buyers and admin and to switch faults on and off.

- ``POST /_sim/orders`` ``{count, statuses, email, created, updated_at, interval_seconds, total,
  lines, test}`` → ``{"ids": [...]}`` (times ISO 8601 with an offset);
- ``POST /_sim/orders/{id}/status`` ``{status}``, ``/refunds`` ``{amount, note}``, ``/fulfil``,
  ``/cancel`` ``{reason}`` → the order;
- ``POST /_sim/checkouts`` ``{email, phone, contact, lines, at}`` → ``{"token": ...}``;
  ``POST /_sim/checkouts/{token}`` ``{email, phone, lines}`` (a step); ``POST
  /_sim/checkouts/{token}/complete`` → ``{"order_id": ...}``;
- ``POST /_sim/tokens`` ``{scopes}`` → ``{"access_token": ...}`` (another app's token);
- ``GET /_sim/webhooks/deliveries``, ``POST /_sim/webhooks/deliver``;
- ``GET|POST|DELETE /_sim/faults``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from shoptrack.simulators._kit import Control, OrderForm, webhook_routes
from shoptrack.simulators._kit.control import ORDER, order_id
from shoptrack.simulators._kit.values import moment

if TYPE_CHECKING:
    from shoptrack.simulators.shopify import ShopifySimulator

__all__ = ["control_routes"]


def control_routes(sim: ShopifySimulator) -> list[BaseRoute]:
    """The ``/_sim/`` routes of ``sim``; what they cause is delivered as the API's is."""
    control = Control(sim)
    acting = control.acting

    def refund(request: Request, spec: Mapping[str, Any]) -> Any:
        if "amount" not in spec:
            raise ValueError('expected {"amount": "5.00"}')
        sim.refund(order_id(request), Decimal(str(spec["amount"])), str(spec.get("note", "")))
        return sim.order(order_id(request))

    def fulfil(request: Request, spec: Mapping[str, Any]) -> Any:
        sim.fulfil(order_id(request))
        return sim.order(order_id(request))

    def cancel(request: Request, spec: Mapping[str, Any]) -> Any:
        sim.cancel(order_id(request), str(spec.get("reason") or "customer"))
        return sim.order(order_id(request))

    def start_checkout(request: Request, spec: Mapping[str, Any]) -> Any:
        token = sim.add_checkout(
            email=spec.get("email"),
            phone=spec.get("phone"),
            contact=bool(spec.get("contact", True)),
            lines=spec.get("lines"),
            at=moment(spec.get("at")),
        )
        return {"token": token, "checkout": sim.checkout(token)}

    def step_checkout(request: Request, spec: Mapping[str, Any]) -> Any:
        token = request.path_params["token"]
        sim.update_checkout(
            token, email=spec.get("email"), phone=spec.get("phone"), lines=spec.get("lines")
        )
        return sim.checkout(token)

    def complete_checkout(request: Request, spec: Mapping[str, Any]) -> Any:
        return {"order_id": sim.complete_checkout(request.path_params["token"])}

    def add_token(request: Request, spec: Mapping[str, Any]) -> Any:
        scopes = spec.get("scopes")
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise ValueError('expected {"scopes": ["read_orders", ...]}')
        return {"access_token": sim.add_token(scopes)}

    return [
        control.orders(OrderForm(statuses=("paid",), modified="updated_at", extras={"test": bool})),
        control.status(),
        Route(f"{ORDER}/refunds", acting(refund, 201), methods=["POST"]),
        Route(f"{ORDER}/fulfil", acting(fulfil), methods=["POST"]),
        Route(f"{ORDER}/cancel", acting(cancel), methods=["POST"]),
        Route("/_sim/checkouts", acting(start_checkout, 201), methods=["POST"]),
        Route("/_sim/checkouts/{token}", acting(step_checkout), methods=["POST"]),
        Route("/_sim/checkouts/{token}/complete", acting(complete_checkout), methods=["POST"]),
        Route("/_sim/tokens", acting(add_token, 201), methods=["POST"]),
        *webhook_routes(sim),
        control.faults(),
    ]
