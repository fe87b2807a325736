"""The Shift4Shop simulator's REST API v1 (``/3dCartWebAPI/v1/...``): each route as the ASP.NET Web
API behind ``apirest.3dcart.com`` answers, behind the hosting's faults and the three-header check.

A request meets, in order: the edge (firewall, rate limiter, failing servers, slowness), the
keys (any of ``SecureURL``, ``PrivateKey``, ``Token`` missing or wrong: 401), the query
(a number that is not one: 400), then the handler. Query parameter names are matched without
regard to case, as ASP.NET binds them.

Listing orders: sorted by ``OrderID``; ``limit`` (default 10, cut to ``max_limit``) and
``offset`` (1-based, default 1) count records. No match at all is a 404 ``No orders found.``;
an offset past the last match a 400 ``Offset amount exceeds the total number of records``, both
as a one-element list of ``{Key, Value, Status, Message}`` (SkuVault's ``ThreeDCartError``).
``datestart``/``dateend`` compare ``OrderDate`` and ``lastupdatestart``/``lastupdateend``
compare ``LastUpdate``, on the store's wall clock, both ends included. The ``lastupdate`` bounds
are days (a time given is dropped), and a day is its midnight: ``lastupdateend=11/27/2026``
leaves out what changed later on the 27th, which is why clients ask for a day more.

Writing: ``POST /Orders`` creates an order from one Order object (or a list of them) and
``PUT /Orders/{id}/Status`` moves one to another ``OrderStatusID``; both answer with the
write-operation list ``[{Key, Value, Status, Message}]``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from shoptrack.simulators._kit import behind_edge

if TYPE_CHECKING:
    from shoptrack.simulators._shift4shop_orders import SimulatedOrder
    from shoptrack.simulators.shift4shop import Shift4ShopSimulator

__all__ = ["RestApi", "windows_zone_id"]

API = "/3dCartWebAPI/v1"
Handler = Callable[[Request, Mapping[str, str]], Awaitable[Response]]
DEFAULT_LIMIT = 10
# ASP.NET Web API's own answers: [Authorize] refusing a request, and an unhandled exception.
_DENIED = "Authorization has been denied for this request."
_ERROR = "An error has occurred."
_INVALID = "The request is invalid."
_NO_ORDERS = "No orders found."
_NO_ORDER = "No order found with the specified id."
_OFFSET_PAST_END = "Offset amount exceeds the total number of records"
# How the store names its time zone in StoreStandards.StoreTimeZone is undocumented; the
# simulator writes the Windows id (the platform runs on .NET) where it knows one, else the
# IANA name.
_WINDOWS_IDS = {
    "UTC": "UTC",
    "Etc/UTC": "UTC",
    "America/New_York": "Eastern Standard Time",
    "America/Chicago": "Central Standard Time",
    "America/Denver": "Mountain Standard Time",
    "America/Phoenix": "US Mountain Standard Time",
    "America/Los_Angeles": "Pacific Standard Time",
    "America/Anchorage": "Alaskan Standard Time",
    "Pacific/Honolulu": "Hawaiian Standard Time",
    "Europe/London": "GMT Standard Time",
    "Europe/Berlin": "W. Europe Standard Time",
    "Europe/Paris": "Romance Standard Time",
    "Australia/Sydney": "AUS Eastern Standard Time",
}


def windows_zone_id(name: str) -> str:
    """What the simulated store writes as its ``StoreTimeZone`` for the IANA zone ``name``."""
    return _WINDOWS_IDS.get(name, name)


class RestApi:
    """The ``/3dCartWebAPI/`` routes of one simulator."""

    def __init__(self, sim: Shift4ShopSimulator) -> None:
        self.sim = sim

    def routes(self) -> list[BaseRoute]:
        return [
            self._route(f"{API}/Orders", self._list_orders),
            self._route(f"{API}/Orders", self._create_orders, methods=["POST"]),
            self._route(f"{API}/Orders/{{order_id:int}}/Status", self._set_status, methods=["PUT"]),
            self._route(f"{API}/Orders/{{order_id:int}}", self._get_order),
            self._route(f"{API}/OrderStatus", self._order_statuses),
            self._route(f"{API}/StoreSettings", self._store_settings),
            Route(
                "/3dCartWebAPI/{rest:path}",
                behind_edge(self.sim, _no_resource, _internal_error, slow=False),
                methods=["GET"],
            ),
        ]

    def _route(self, path: str, handler: Handler, *, methods: list[str] | None = None) -> Route:
        """A route behind the edge and the key check."""

        async def endpoint(request: Request) -> Response:
            if not self._authorized(request):
                return JSONResponse({"Message": _DENIED}, 401)
            query = {name.lower(): value for name, value in request.query_params.items()}
            try:
                return await handler(request, query)
            except ValueError:
                return JSONResponse({"Message": _INVALID}, 400)

        return Route(
            path, behind_edge(self.sim, endpoint, _internal_error), methods=methods or ["GET"]
        )

    def _authorized(self, request: Request) -> bool:
        headers = request.headers  # case-insensitive, as the API reads them
        given_url = headers.get("secureurl", "").strip().lower()
        host = urlsplit(given_url if "//" in given_url else f"//{given_url}").hostname or ""
        return (
            host == self.sim.secure_url
            and hmac.compare_digest(
                headers.get("privatekey", "").encode(), self.sim.private_key.encode()
            )
            and hmac.compare_digest(headers.get("token", "").encode(), self.sim.token.encode())
        )

    async def _list_orders(self, request: Request, query: Mapping[str, str]) -> Response:
        limit, offset = _paging(query, self.sim.max_limit)
        count_only = query.get("countonly", "").strip() in ("1", "true", "True")
        order_start = _moment(query.get("datestart"))
        order_end = _moment(query.get("dateend"))
        update_start = _day(query.get("lastupdatestart"))
        update_end = _day(query.get("lastupdateend"))
        status = _number(query.get("orderstatus"))
        invoice = _number(query.get("invoicenumber"))
        email = query.get("billingemail", "").strip().lower()
        with self.sim._lock:
            zone = self.sim._zone()
            matches: list[SimulatedOrder] = []
            for order in sorted(self.sim._orders.values(), key=lambda order: order.id):
                placed = order.created.astimezone(zone).replace(tzinfo=None)
                changed = order.modified.astimezone(zone).replace(tzinfo=None)
                if (
                    (order_start is not None and placed < order_start)
                    or (order_end is not None and placed > order_end)
                    or (update_start is not None and changed < update_start)
                    or (update_end is not None and changed > update_end)
                    or (status is not None and int(order.status) != status)
                    or (invoice is not None and order.invoice_number != invoice)
                    or (email and order.email.lower() != email)
                ):
                    continue
                matches.append(order)
            if count_only:
                return JSONResponse({"TotalCount": len(matches)})
            if not matches:
                return _error(404, _NO_ORDERS)
            if offset > len(matches):
                return _error(400, _OFFSET_PAST_END)
            page = matches[offset - 1 : offset - 1 + limit]
            return JSONResponse([self.sim._render(order) for order in page])

    async def _get_order(self, request: Request, query: Mapping[str, str]) -> Response:
        with self.sim._lock:
            order = self.sim._orders.get(request.path_params["order_id"])
            if order is None:
                return _error(404, _NO_ORDER)
            # A single order comes as a one-element list too.
            return JSONResponse([self.sim._render(order)])

    async def _create_orders(self, request: Request, query: Mapping[str, str]) -> Response:
        """``POST /Orders``: each Order object given becomes an order in its ``OrderStatusID``
        (1 New when not given), for its ``BillingEmail``, of ``OrderAmount`` (else the sum of
        its items); the simulator's lines are its catalogue's products sharing that total."""
        given = _json(await request.body())
        orders = given if isinstance(given, list) else [given]
        if not orders or not all(isinstance(order, dict) for order in orders):
            raise ValueError("expected an Order object")
        written = []
        for order in orders:
            status = str(order.get("OrderStatusID") or "1")
            items = [i for i in order.get("OrderItemList") or [] if isinstance(i, dict)]
            try:
                amount = order.get("OrderAmount")
                total = (
                    Decimal(str(amount))
                    if amount is not None
                    else sum(
                        (
                            Decimal(str(i.get("ItemUnitPrice", 0)))
                            * Decimal(str(i.get("ItemQuantity", 1)))
                            for i in items
                        ),
                        Decimal(0),
                    )
                )
            except InvalidOperation:
                raise ValueError("OrderAmount is not a number") from None
            email = order.get("BillingEmail")
            (order_id,) = self.sim.add_orders(
                statuses=(status,),
                email=str(email) if isinstance(email, str) and email else None,
                total=total,
                lines=min(max(len(items), 1), 20),
            )
            written.append(_written(order_id, 201, "Created successfully"))
        return JSONResponse(written, 201)

    async def _set_status(self, request: Request, query: Mapping[str, str]) -> Response:
        """``PUT /Orders/{id}/Status``: ``{"OrderStatusID": N}`` moves the order to that queue."""
        given = _json(await request.body())
        order_id = request.path_params["order_id"]
        if not isinstance(given, dict) or given.get("OrderStatusID") is None:
            raise ValueError("expected {OrderStatusID}")
        with self.sim._lock:
            if order_id not in self.sim._orders:
                return _error(404, _NO_ORDER)
        self.sim.set_status(order_id, str(given["OrderStatusID"]))
        return JSONResponse([_written(order_id, 200, "Updated successfully")])

    async def _order_statuses(self, request: Request, query: Mapping[str, str]) -> Response:
        limit, offset = _paging(query, self.sim.max_limit)
        with self.sim._lock:
            catalogue = self.sim._catalogue()
        if query.get("countonly", "").strip() in ("1", "true", "True"):
            return JSONResponse({"TotalCount": len(catalogue)})
        listed = [status.as_json(sorting) for sorting, status in enumerate(catalogue, 1)]
        return JSONResponse(listed[offset - 1 : offset - 1 + limit])

    async def _store_settings(self, request: Request, query: Mapping[str, str]) -> Response:
        sim = self.sim
        with sim._lock:
            zone_name = sim.store_timezone
        return JSONResponse(
            {
                "StoreInformation": {
                    "StoreName": sim.store_name,
                    "StoreSlogan": "Good gear for long walks",
                    "StoreLogo": "assets/images/logo.png",
                    "StoreEmail": f"orders@{sim.secure_url}",
                    "StoreURL": f"http://{sim.secure_url}",
                    "StoreSecureURL": f"https://{sim.secure_url}",
                },
                "MerchantInformation": {
                    "Company": sim.store_name,
                    "Address1": "4040 Ponce de Leon Blvd",
                    "Address2": "Suite 200",
                    "City": "Coral Gables",
                    "State": "FL",
                    "Country": "US",
                    "ZipCode": "33146",
                    "Phone": "305-555-0100",
                    "AlternatePhone": "",
                    "Fax": "",
                    "InvoiceLogo": "",
                    "InvoiceTerms": "",
                },
                "StoreStandards": {
                    "StoreTimeZone": windows_zone_id(zone_name),
                    "CurrencySymbol": "$",
                    "DecimalPlacesOnPrice": "2",
                    "CurrencyCode": "USD",
                },
            }
        )


async def _no_resource(request: Request) -> Response:
    message = f"No HTTP resource was found that matches the request URI '{request.url}'."
    return JSONResponse({"Message": message}, 404)


def _error(status: int, message: str) -> Response:
    return JSONResponse(
        [{"Key": "Error", "Value": "", "Status": str(status), "Message": message}], status
    )


def _written(order_id: int, status: int, message: str) -> dict[str, str]:
    """One entry of a write operation's answer."""
    return {"Key": "OrderID", "Value": str(order_id), "Status": str(status), "Message": message}


def _json(body: bytes) -> Any:
    """A request's JSON body; ``ValueError`` (a 400) when it is not JSON."""
    return json.loads(body or b"null")


def _internal_error() -> Response:
    return JSONResponse({"Message": _ERROR}, 500)


def _paging(query: Mapping[str, str], max_limit: int) -> tuple[int, int]:
    limit = _number(query.get("limit"))
    offset = _number(query.get("offset"))
    # An undocumented maximum: a larger limit is cut to it (and looks like a short last page).
    limit = DEFAULT_LIMIT if limit is None or limit < 1 else min(limit, max_limit)
    return limit, 1 if offset is None or offset < 1 else offset


def _number(value: str | None) -> int | None:
    """An integer parameter; ``ValueError`` (a 400) when it is not one."""
    if value is None or not value.strip():
        return None
    return int(value.strip())


def _moment(value: str | None) -> datetime | None:
    """``mm/dd/yyyy`` (its midnight) or ``mm/dd/yyyy hh:mm[:ss]`` on the store's wall clock."""
    if value is None or not value.strip():
        return None
    text = " ".join(value.split())
    for pattern in ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y"):
        try:
            return datetime.strptime(text, pattern)  # noqa: DTZ007  # the store's wall clock
        except ValueError:
            continue
    raise ValueError(f"not a date: {value!r}")


def _day(value: str | None) -> datetime | None:
    """The midnight of a ``lastupdate`` bound's day."""
    moment = _moment(value)
    return None if moment is None else moment.replace(hour=0, minute=0, second=0)
