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

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from shoptrack.simulators.shopify import ShopifySimulator

__all__ = ["control_routes"]


def control_routes(sim: ShopifySimulator) -> list[BaseRoute]:
    """The ``/_sim/`` routes of ``sim``; what they cause is delivered as the API's is."""

    def acting(
        action: Callable[[Request, Mapping[str, Any]], Any], status: int = 200
    ) -> Callable[[Request], Awaitable[Response]]:
        """A route that reads a JSON object, acts, delivers, and answers what ``action`` gives;
        a bad request is a 400, an unknown order or checkout a 404."""

        async def endpoint(request: Request) -> Response:
            try:
                result = action(request, await _object(request))
            except KeyError as error:
                return JSONResponse({"error": str(error.args[0] if error.args else error)}, 404)
            except (ValueError, TypeError, InvalidOperation) as error:
                return JSONResponse({"error": str(error)}, 400)
            await sim._deliver_if_immediate()
            return JSONResponse(result, status)

        return endpoint

    def order_id(request: Request) -> int:
        value: int = request.path_params["order_id"]
        return value

    def create_orders(request: Request, spec: Mapping[str, Any]) -> Any:
        ids = sim.add_orders(
            int(spec.get("count", 1)),
            statuses=list(spec.get("statuses") or ["paid"]),
            created=_moment(spec.get("created")),
            updated_at=_moment(spec.get("updated_at")),
            interval=timedelta(seconds=float(spec.get("interval_seconds", 0))),
            total=None if spec.get("total") is None else Decimal(str(spec["total"])),
            email=spec.get("email"),
            lines=spec.get("lines"),
            test=bool(spec.get("test", False)),
        )
        return {"ids": ids}

    def change_status(request: Request, spec: Mapping[str, Any]) -> Any:
        if "status" not in spec:
            raise ValueError('expected {"status": "..."}')
        sim.set_status(order_id(request), str(spec["status"]))
        return sim.order(order_id(request))

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
            at=_moment(spec.get("at")),
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

    async def deliveries(request: Request) -> Response:
        return JSONResponse([delivery.as_json() for delivery in sim.deliveries])

    async def deliver(request: Request) -> Response:
        return JSONResponse([delivery.as_json() for delivery in await sim.deliver_pending()])

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            sim.clear_faults()
        elif request.method == "POST":
            try:
                sim.set_faults(await _object(request))
            except ValueError as error:
                return JSONResponse({"error": str(error)}, 400)
        return JSONResponse(sim.faults())

    order = "/_sim/orders/{order_id:int}"
    return [
        Route("/_sim/orders", acting(create_orders, 201), methods=["POST"]),
        Route(f"{order}/status", acting(change_status), methods=["POST"]),
        Route(f"{order}/refunds", acting(refund, 201), methods=["POST"]),
        Route(f"{order}/fulfil", acting(fulfil), methods=["POST"]),
        Route(f"{order}/cancel", acting(cancel), methods=["POST"]),
        Route("/_sim/checkouts", acting(start_checkout, 201), methods=["POST"]),
        Route("/_sim/checkouts/{token}", acting(step_checkout), methods=["POST"]),
        Route("/_sim/checkouts/{token}/complete", acting(complete_checkout), methods=["POST"]),
        Route("/_sim/tokens", acting(add_token, 201), methods=["POST"]),
        Route("/_sim/webhooks/deliveries", deliveries, methods=["GET"]),
        Route("/_sim/webhooks/deliver", deliver, methods=["POST"]),
        Route("/_sim/faults", faults, methods=["GET", "POST", "DELETE"]),
    ]


async def _object(request: Request) -> Mapping[str, Any]:
    body = await request.body()
    value = await request.json() if body.strip() else {}
    if not isinstance(value, Mapping):
        raise ValueError("expected a JSON object")
    return value


def _moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r}: give the offset, e.g. a trailing Z")
    return moment
