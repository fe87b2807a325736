"""The Shift4Shop simulator's control endpoints under ``/_sim/``: plain JSON, no keys, for tests,
demos and benchmarks to act as checkouts and the shop admin, and to switch faults on and off."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from shoptrack.simulators.shift4shop import Shift4ShopSimulator

__all__ = ["control_routes"]


def control_routes(sim: Shift4ShopSimulator) -> list[BaseRoute]:
    """The ``/_sim/`` routes of ``sim``."""

    async def create_orders(request: Request) -> Response:
        try:
            spec = await _object(request)
            total = spec.get("total")
            ids = sim.add_orders(
                int(spec.get("count", 1)),
                statuses=[str(status) for status in spec.get("statuses") or ["2"]],
                email=spec.get("email"),
                created=_moment(spec.get("created")),
                modified=_moment(spec.get("modified")),
                interval=timedelta(seconds=float(spec.get("interval_seconds", 0))),
                total=None if total is None else Decimal(str(total)),
                lines=spec.get("lines"),
            )
        except (ValueError, TypeError, InvalidOperation) as error:
            return JSONResponse({"error": str(error)}, 400)
        return JSONResponse({"ids": ids}, 201)

    async def list_orders(request: Request) -> Response:
        return JSONResponse({str(order_id): status for order_id, status in sim.statuses().items()})

    async def show_order(request: Request) -> Response:
        try:
            return JSONResponse(sim.order(request.path_params["order_id"]))
        except LookupError as error:
            return JSONResponse({"error": str(error)}, 404)

    async def change_status(request: Request) -> Response:
        order_id = request.path_params["order_id"]
        try:
            sim.set_status(order_id, str((await _object(request))["status"]))
        except LookupError as error:
            if isinstance(error, KeyError):
                return JSONResponse({"error": 'expected {"status": "4"}'}, 400)
            return JSONResponse({"error": str(error)}, 404)
        except ValueError as error:
            return JSONResponse({"error": str(error)}, 400)
        return JSONResponse(sim.order(order_id))

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
        Route("/_sim/orders", list_orders, methods=["GET"]),
        Route("/_sim/orders/{order_id:int}", show_order, methods=["GET"]),
        Route("/_sim/orders/{order_id:int}/status", change_status, methods=["POST"]),
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
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r}: give the offset, e.g. a trailing Z")
    return moment
