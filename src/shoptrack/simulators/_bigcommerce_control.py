"""The BigCommerce simulator's control endpoints under ``/_sim/``: plain JSON, no token, for tests,
demos and benchmarks to act as the merchant and to switch faults on and off."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from shoptrack.simulators._bigcommerce_api import ApiError

if TYPE_CHECKING:
    from shoptrack.simulators.bigcommerce import BigCommerceSimulator

__all__ = ["control_routes"]


def control_routes(sim: BigCommerceSimulator) -> list[BaseRoute]:
    """The ``/_sim/`` routes of ``sim``; the events they raise are delivered as the API's are."""

    async def create_orders(request: Request) -> Response:
        try:
            spec = await _object(request)
            ids = sim.add_orders(
                int(spec.get("count", 1)),
                statuses=[int(s) for s in spec.get("statuses") or [11]],
                email=spec.get("email"),
                created=_moment(spec.get("created")),
                modified=_moment(spec.get("modified")),
                interval=timedelta(seconds=float(spec.get("interval_seconds", 0))),
                total=None if spec.get("total") is None else str(spec["total"]),
                lines=spec.get("lines"),
            )
        except (ValueError, TypeError) as error:
            return JSONResponse({"error": str(error)}, 400)
        await sim._deliver_if_immediate()
        return JSONResponse({"ids": ids}, 201)

    async def change_status(request: Request) -> Response:
        order_id = request.path_params["order_id"]
        try:
            sim.set_status(order_id, int((await _object(request))["status_id"]))
        except ApiError as error:
            return error.response()
        except (ValueError, KeyError, TypeError) as error:
            return JSONResponse({"error": f'expected {{"status_id": 0-14}}: {error}'}, 400)
        await sim._deliver_if_immediate()
        return JSONResponse(sim.order(order_id))

    async def refund(request: Request) -> Response:
        order_id = request.path_params["order_id"]
        try:
            refund_id = sim.refund(order_id, Decimal(str((await _object(request))["amount"])))
        except ApiError as error:
            return error.response()
        except (ValueError, KeyError, InvalidOperation) as error:
            return JSONResponse({"error": f'expected {{"amount": "5.00"}}: {error}'}, 400)
        await sim._deliver_if_immediate()
        return JSONResponse({"refund_id": refund_id, "order": sim.order(order_id)}, 201)

    async def archive(request: Request) -> Response:
        order_id = request.path_params["order_id"]
        try:
            sim.archive(order_id)
        except ApiError as error:
            return error.response()
        await sim._deliver_if_immediate()
        return JSONResponse(sim.order(order_id))

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

    return [
        Route("/_sim/orders", create_orders, methods=["POST"]),
        Route("/_sim/orders/{order_id:int}/status", change_status, methods=["POST"]),
        Route("/_sim/orders/{order_id:int}/refunds", refund, methods=["POST"]),
        Route("/_sim/orders/{order_id:int}/archive", archive, methods=["POST"]),
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
