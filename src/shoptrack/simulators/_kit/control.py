"""The ``/_sim/`` control routes every simulator shares: plain JSON, no credentials, for tests,
demos and benchmarks to act as a store's checkout and admin and to switch faults on and off.

- ``POST /_sim/orders`` ``{count, statuses, email, created, modified, interval_seconds, total,
  lines}`` (a platform names the last change's time its way, and adds keys of its own) creates
  orders → ``{"ids": [...]}``; ``GET /_sim/orders`` → ``{id: status}``; ``GET
  /_sim/orders/{id}`` → the order as the API writes it;
- ``POST /_sim/orders/{id}/status`` ``{status}`` changes one as the admin would → the order;
- ``GET /_sim/webhooks/deliveries`` lists what was sent; ``POST /_sim/webhooks/deliver`` sends
  what waits;
- ``GET|POST|DELETE /_sim/faults`` shows, switches on, and clears faults.

A refused request is a 400 (``{"error": ...}``), an unknown order a 404; a platform may answer
its own errors in its own words (``Control.refusal``). What a route changes is delivered as the
API's changes are, before the route answers when the store delivers immediately.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from shoptrack.simulators._kit.outbox import WebhookSimulator
from shoptrack.simulators._kit.shop import SimulatedShop
from shoptrack.simulators._kit.values import moment

__all__ = ["Control", "Controlled", "OrderForm", "order_id", "read_object", "webhook_routes"]

Endpoint = Callable[[Request], Awaitable[Response]]
Action = Callable[[Request, Mapping[str, Any]], Any]
ORDER = "/_sim/orders/{order_id:int}"
# What a request's contents can make a simulator refuse: bad values, unknown names or orders.
_REFUSED = (ValueError, TypeError, LookupError, ArithmeticError)


class Controlled(SimulatedShop, Protocol):
    """A simulated shop, with the immediate delivery its control routes trigger."""

    async def _deliver_if_immediate(self) -> None: ...


@dataclass(frozen=True, slots=True)
class OrderForm:
    """How ``POST /_sim/orders`` reads its JSON object into ``add_orders``'s arguments.

    Attributes:
        statuses: The statuses orders get when the object names none.
        status: Reads one status as ``add_orders`` takes it.
        modified: The object's key for the time of the last change.
        extras: The platform's own keys, each read from its value (None when absent) into the
            argument of the same name.
    """

    statuses: tuple[Any, ...]
    status: Callable[[Any], Any] = str
    modified: str = "modified"
    extras: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)

    def arguments(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        total, lines = spec.get("total"), spec.get("lines")
        return {
            "count": int(spec.get("count", 1)),
            "statuses": [self.status(status) for status in spec.get("statuses") or self.statuses],
            "email": spec.get("email"),
            "created": moment(spec.get("created")),
            "modified": moment(spec.get(self.modified)),
            "interval": timedelta(seconds=float(spec.get("interval_seconds", 0))),
            "total": None if total is None else str(total),
            "lines": None if lines is None else int(lines),
            **{name: read(spec.get(name)) for name, read in self.extras.items()},
        }


class Control:
    """The control routes of one simulator, and the means to write a platform's own.

    Args:
        sim: The simulator.
        errors: The platform's own exceptions a route may meet, beside ``ValueError`` and the
            like.
        answer: The platform's own answer to an error, or None for the shared one.
    """

    def __init__(
        self,
        sim: Controlled,
        *,
        errors: tuple[type[Exception], ...] = (),
        answer: Callable[[Exception], Response | None] = lambda error: None,
    ) -> None:
        self.sim = sim
        self._errors: tuple[type[Exception], ...] = (*_REFUSED, *errors)
        self._answer = answer

    def acting(self, action: Action, status: int = 200) -> Endpoint:
        """A route that reads a JSON object, acts, delivers, and answers what ``action``
        gives."""

        async def endpoint(request: Request) -> Response:
            try:
                result = action(request, await read_object(request))
            except self._errors as error:
                return self.refusal(error)
            await self.sim._deliver_if_immediate()
            return JSONResponse(result, status)

        return endpoint

    def refusal(self, error: Exception) -> Response:
        """The answer to a request the simulator refused: the platform's own, else 404 for an
        unknown order, 400 for anything else."""
        answer = self._answer(error)
        if answer is not None:
            return answer
        if isinstance(error, LookupError):
            return JSONResponse({"error": str(error.args[0] if error.args else error)}, 404)
        return JSONResponse({"error": str(error)}, 400)

    def orders(self, form: OrderForm) -> Route:
        """``POST /_sim/orders``."""

        def create(request: Request, spec: Mapping[str, Any]) -> Any:
            return {"ids": self.sim.add_orders(**form.arguments(spec))}

        return Route("/_sim/orders", self.acting(create, 201), methods=["POST"])

    def listing(self) -> Route:
        """``GET /_sim/orders``: every order's status."""

        async def statuses(request: Request) -> Response:
            return JSONResponse({str(key): value for key, value in self.sim.statuses().items()})

        return Route("/_sim/orders", statuses, methods=["GET"])

    def showing(self) -> Route:
        """``GET /_sim/orders/{id}``: the order as the API writes it."""

        def show(request: Request, spec: Mapping[str, Any]) -> Any:
            return self.sim.order(order_id(request))

        return Route(ORDER, self.acting(show), methods=["GET"])

    def status(
        self,
        key: str = "status",
        read: Callable[[Any], Any] = str,
        extras: Mapping[str, Callable[[Any], Any]] | None = None,
    ) -> Route:
        """``POST /_sim/orders/{id}/status`` ``{key: ...}`` (and the platform's ``extras``, as
        keyword arguments of ``set_status``)."""

        def change(request: Request, spec: Mapping[str, Any]) -> Any:
            if key not in spec:
                raise ValueError(f'expected {{"{key}": ...}}')
            options = {name: parse(spec.get(name)) for name, parse in (extras or {}).items()}
            self.sim.set_status(order_id(request), read(spec[key]), **options)
            return self.sim.order(order_id(request))

        return Route(f"{ORDER}/status", self.acting(change), methods=["POST"])

    def faults(self) -> Route:
        """``GET|POST|DELETE /_sim/faults``."""
        sim = self.sim

        async def faults(request: Request) -> Response:
            if request.method == "DELETE":
                sim.clear_faults()
            elif request.method == "POST":
                try:
                    sim.set_faults(await read_object(request))
                except ValueError as error:
                    return JSONResponse({"error": str(error)}, 400)
            return JSONResponse(sim.faults())

        return Route("/_sim/faults", faults, methods=["GET", "POST", "DELETE"])


def webhook_routes(sim: WebhookSimulator[Any, Any, Any, Any]) -> list[BaseRoute]:
    """``GET /_sim/webhooks/deliveries`` and ``POST /_sim/webhooks/deliver``."""

    async def deliveries(request: Request) -> Response:
        return JSONResponse([delivery.as_json() for delivery in sim.deliveries])

    async def deliver(request: Request) -> Response:
        return JSONResponse([delivery.as_json() for delivery in await sim.deliver_pending()])

    return [
        Route("/_sim/webhooks/deliveries", deliveries, methods=["GET"]),
        Route("/_sim/webhooks/deliver", deliver, methods=["POST"]),
    ]


def order_id(request: Request) -> int:
    """The order id in a control route's path."""
    value: int = request.path_params["order_id"]
    return value


async def read_object(request: Request) -> Mapping[str, Any]:
    """The request's JSON object (an empty body is an empty one)."""
    body = await request.body()
    value = await request.json() if body.strip() else {}
    if not isinstance(value, Mapping):
        raise ValueError("expected a JSON object")
    return value
