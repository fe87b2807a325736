"""The Magento 2 simulator's control endpoints under ``/_sim/`` (see ``_kit.control``): orders
placed as checkouts would (``currency`` "EUR" places them in the Euro store view), listed and
moved to another status as the admin would (``comment`` in its history), the credentials a
merchant enters (``GET /_sim/credentials``, ``?bearer=1`` for the access token alone), and
faults."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from shoptrack.simulators._kit import Control, OrderForm
from shoptrack.simulators._kit.values import as_is
from shoptrack.simulators._magento2_web import MagentoError

if TYPE_CHECKING:
    from shoptrack.simulators.magento2 import Magento2Simulator

__all__ = ["control_routes"]


def control_routes(sim: Magento2Simulator) -> list[BaseRoute]:
    """The ``/_sim/`` routes of ``sim``."""

    async def credentials(request: Request) -> Response:
        base = f"{request.url.scheme}://{request.url.netloc}"
        bearer = request.query_params.get("bearer") in ("1", "true")
        return JSONResponse(sim.credentials(base, bearer=bearer))

    control = Control(sim, answer=_unknown_order)
    return [
        control.orders(OrderForm(statuses=("processing",), extras={"currency": as_is})),
        control.listing(),
        control.status(extras={"comment": as_is}),
        Route("/_sim/credentials", credentials, methods=["GET"]),
        control.faults(),
    ]


def _unknown_order(error: Exception) -> Response | None:
    # The store's "no such entity" (the status itself may be bad too: the order comes first).
    if isinstance(error, MagentoError) and error.status == 404:
        return JSONResponse({"error": str(error)}, 404)
    return None
