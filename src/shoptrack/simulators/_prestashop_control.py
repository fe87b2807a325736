"""The PrestaShop simulator's control endpoints under ``/_sim/``: plain JSON, no key, for tests,
demos and benchmarks to act as the shop's checkout and back office and to switch faults."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from shoptrack.simulators.prestashop import PrestaShopSimulator

__all__ = ["control_routes"]


def control_routes(sim: PrestaShopSimulator) -> list[BaseRoute]:
    """The ``/_sim/`` routes of ``sim``."""

    async def create_orders(request: Request) -> Response:
        try:
            spec = await _object(request)
            ids = sim.add_orders(
                int(spec.get("count", 1)),
                statuses=[str(status) for status in spec.get("statuses") or ["2"]],
                email=spec.get("email"),
                created=_moment(spec.get("created")),
                updated=_moment(spec.get("updated")),
                interval=timedelta(seconds=float(spec.get("interval_seconds", 0))),
                total=None if spec.get("total") is None else str(spec["total"]),
                lines=None if spec.get("lines") is None else int(spec["lines"]),
            )
        except (ValueError, TypeError) as error:
            return JSONResponse({"error": str(error)}, 400)
        return JSONResponse({"ids": ids}, 201)

    async def order(request: Request) -> Response:
        try:
            return JSONResponse(sim.order(request.path_params["order_id"]))
        except KeyError as error:
            return JSONResponse({"error": str(error.args[0])}, 404)

    async def change_status(request: Request) -> Response:
        order_id = request.path_params["order_id"]
        try:
            sim.set_status(order_id, str((await _object(request))["status"]))
        except KeyError as error:
            if str(error.args[0]).startswith("no order"):
                return JSONResponse({"error": str(error.args[0])}, 404)
            return JSONResponse({"error": 'expected {"status": "4"}'}, 400)
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
        Route("/_sim/orders/{order_id:int}", order, methods=["GET"]),
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
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r}: give the offset, e.g. a trailing Z")
    return moment
