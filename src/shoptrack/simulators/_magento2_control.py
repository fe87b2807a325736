"""The Magento 2 simulator's control endpoints under ``/_sim/``: plain JSON, no key, for tests,
demos and benchmarks to act as the shop's checkout and admin and to switch faults on and off."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from shoptrack.simulators.magento2 import Magento2Simulator

__all__ = ["control_routes"]


def control_routes(sim: Magento2Simulator) -> list[BaseRoute]:
    """The ``/_sim/`` routes of ``sim``."""

    async def create_orders(request: Request) -> Response:
        try:
            spec = await _object(request)
            total = spec.get("total")
            ids = sim.add_orders(
                int(spec.get("count", 1)),
                statuses=list(spec.get("statuses") or ["processing"]),
                email=spec.get("email"),
                created=_moment(spec.get("created")),
                modified=_moment(spec.get("modified")),
                interval=timedelta(seconds=float(spec.get("interval_seconds", 0))),
                total=None if total is None else Decimal(str(total)),
                lines=spec.get("lines"),
                currency=spec.get("currency"),
            )
        except (ValueError, TypeError, InvalidOperation) as error:
            return JSONResponse({"error": str(error)}, 400)
        return JSONResponse({"ids": ids}, 201)

    async def change_status(request: Request) -> Response:
        order_id = request.path_params["order_id"]
        try:
            spec = await _object(request)
            sim.set_status(order_id, str(spec["status"]), comment=spec.get("comment"))
        except KeyError:
            return JSONResponse({"error": 'expected {"status": "..."}'}, 400)
        except ValueError as error:
            status = 404 if order_id not in sim.statuses() else 400
            return JSONResponse({"error": str(error)}, status)
        return JSONResponse(sim.order(order_id))

    async def statuses(request: Request) -> Response:
        return JSONResponse({str(key): value for key, value in sim.statuses().items()})

    async def credentials(request: Request) -> Response:
        base = f"{request.url.scheme}://{request.url.netloc}"
        bearer = request.query_params.get("bearer") in ("1", "true")
        return JSONResponse(sim.credentials(base, bearer=bearer))

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
        Route("/_sim/orders", statuses, methods=["GET"]),
        Route("/_sim/orders/{order_id:int}/status", change_status, methods=["POST"]),
        Route("/_sim/credentials", credentials, methods=["GET"]),
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
