"""The BigCommerce simulator's REST API: ``/stores/{store_hash}/v2/...`` (Orders v2, store
information, order statuses) and ``/stores/{store_hash}/v3/hooks``, as the API gateway answers.

A request meets, in order: the edge's faults (firewall, rate-limit burst, failing servers, slow
pages), the gateway's ``X-Auth-Token`` check (401) and store hash check (403), the plan's quota
(``X-Rate-Limit-*`` on every answer, 429 when spent and enforced), then the route. Gateway errors
are v3-style JSON (``{"status", "title", "type"}``); the v2 routes' own errors are arrays
(``[{"status": 404, "message": "The requested resource was not found."}]``, the OAS's
``404_Resp``). Empty v2 lists are ``204 No Content`` with no body. The writes the API takes
(``POST``/``PUT /v2/orders``) and ``/v2/store`` are here too, as functions of the simulator.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from shoptrack.simulators._bigcommerce_order_json import (
    build_coupons,
    build_order,
    build_products,
    build_shipping_addresses,
    status_entry,
)
from shoptrack.simulators._bigcommerce_orders import CATALOGUE, STATUSES, Line, SimulatedOrder
from shoptrack.simulators._bigcommerce_web import (
    MAX_LIMIT,
    ApiError,
    amount,
    date,
    gateway_error,
    integer,
    internal_error,
    json_body,
    optional_integer,
    page,
    text,
    too_many_requests,
    v3_body,
)
from shoptrack.simulators._kit import at_edge

if TYPE_CHECKING:
    from shoptrack.simulators.bigcommerce import BigCommerceSimulator

__all__ = ["RestApi"]

Handler = Callable[[Request], Awaitable[Response]]

_NOT_FOUND = "The requested resource was not found."
_SORTS = ("id", "customer_id", "date_created", "date_modified", "status_id", "channel_id")
_DATE_FILTERS = ("min_date_created", "max_date_created", "min_date_modified", "max_date_modified")
_WINDOW = timedelta(seconds=30)  # the quota's window


class RestApi:
    """The ``/stores/{store_hash}/`` routes of one simulator."""

    def __init__(self, sim: BigCommerceSimulator) -> None:
        self.sim = sim

    def routes(self) -> list[BaseRoute]:
        v2, v3 = "/stores/{store_hash}/v2", "/stores/{store_hash}/v3"
        order = f"{v2}/orders/{{order_id:int}}"
        return [
            self._route(f"{v2}/store", ["GET"], self._store_information),
            self._route(f"{v2}/orders", ["GET"], self._list_orders),
            self._route(f"{v2}/orders", ["POST"], self._create_order),
            self._route(f"{v2}/orders/count", ["GET"], self._count_orders),
            self._route(order, ["GET"], self._get_order),
            self._route(order, ["PUT"], self._update_order),
            self._route(order, ["DELETE"], self._archive_order),
            self._route(f"{order}/products", ["GET"], self._products),
            self._route(f"{order}/coupons", ["GET"], self._coupons),
            self._route(f"{order}/shipping_addresses", ["GET"], self._shipping_addresses),
            self._route(f"{order}/shippingaddresses", ["GET"], self._shipping_addresses),
            self._route(f"{v2}/order_statuses", ["GET"], self._order_statuses),
            self._route(f"{v2}/order_statuses/{{status_id:int}}", ["GET"], self._order_status),
            self._route(f"{v3}/hooks", ["GET"], self._list_hooks),
            self._route(f"{v3}/hooks", ["POST"], self._create_hook),
            self._route(f"{v3}/hooks/{{hook_id:int}}", ["GET", "PUT", "DELETE"], self._hook),
            self._route(
                "/stores/{store_hash}/{rest:path}",
                ["GET", "POST", "PUT", "DELETE"],
                self._no_route,
            ),
        ]

    # -- the gateway -----------------------------------------------------------------------

    def _route(self, path: str, methods: list[str], handler: Handler) -> Route:
        async def endpoint(request: Request) -> Response:
            sim = self.sim
            edge = await at_edge(sim, request, internal_error)
            if edge is not None and edge.status_code == 429:
                # The rate-limit burst is BigCommerce's own 429: quota spent, wait the reset.
                reset_ms = int(edge.headers["retry-after"]) * 1000
                return self._metered(too_many_requests(), reset_ms=reset_ms, spent=True)
            if edge is not None:
                return edge
            refused = self._refusal(request)
            if refused is not None:
                return refused
            with sim._lock:
                sim._seen_root = self._root(request)
                over_quota = sim._count_request()
            if over_quota:
                return self._metered(too_many_requests())
            try:
                response = await handler(request)
            except ApiError as error:
                response = error.response()
            await sim._deliver_if_immediate()
            return self._metered(response)

        return Route(path, endpoint, methods=methods)

    def _refusal(self, request: Request) -> Response | None:
        # The exact 401 body is not documented for v2; this is the gateway's v3 shape with the
        # wording of the webhooks spec's 401 example.
        if request.headers.get("x-auth-token", "") != self.sim.access_token:
            return gateway_error(
                401,
                "Unauthorized - the v3 Auth client ID or token in the request are not a valid "
                "combination for this store.",
            )
        if request.path_params["store_hash"] != self.sim.store_hash:
            # A token used on another store's hash (or a mistyped hash) is refused as a scope.
            return gateway_error(403, "You don't have a required scope to access the endpoint")
        accept = request.headers.get("accept", "application/json")
        if not any(kind in accept for kind in ("json", "*/*")):
            return gateway_error(406, "Not Acceptable")
        return None

    def _metered(
        self, response: Response, *, reset_ms: int | None = None, spent: bool = False
    ) -> Response:
        with self.sim._lock:
            headers = self.sim._rate_headers()
        if reset_ms is not None:
            headers["X-Rate-Limit-Time-Reset-Ms"] = str(reset_ms)
        if spent:
            headers["X-Rate-Limit-Requests-Left"] = "0"
        response.headers.update(headers)
        return response

    # -- v2 --------------------------------------------------------------------------------

    async def _store_information(self, request: Request) -> Response:
        with self.sim._lock:
            return JSONResponse(store_information(self.sim))

    async def _list_orders(self, request: Request) -> Response:
        query = request.query_params
        page = integer(query, "page", 1, minimum=1)
        limit = integer(query, "limit", 50, minimum=1)
        if limit > MAX_LIMIT:
            raise ApiError(413, f"The field 'limit' cannot be greater than {MAX_LIMIT}.")
        field, _, direction = query.get("sort", "id:asc").partition(":")
        if field not in _SORTS or direction not in ("", "asc", "desc"):
            raise ApiError(400, "The field 'sort' is invalid.")
        root = self._root(request)
        with self.sim._lock:  # the orders change under other threads' requests
            chosen = self._chosen(query)
            # Ties in id order (both sorts are stable), so that pages over equal times neither
            # repeat nor skip orders; BigCommerce documents no tie-break.
            chosen.sort(key=lambda o: o.id)
            chosen.sort(key=lambda o: _sort_value(o, field), reverse=direction == "desc")
            batch = chosen[(page - 1) * limit : page * limit]
            body = [build_order(o, api_root=root, labels=self.sim.labels) for o in batch]
        return JSONResponse(body) if body else Response(status_code=204)

    async def _count_orders(self, request: Request) -> Response:
        with self.sim._lock:
            chosen = self._chosen(request.query_params)
            labels = dict(self.sim.labels)
        statuses = []
        for status_id in sorted(STATUSES, key=lambda s: status_entry(s, {})["sort_order"]):
            entry = status_entry(status_id, labels)
            entry["count"] = sum(1 for o in chosen if o.status_id == status_id)
            statuses.append(entry)
        return JSONResponse({"statuses": statuses, "count": len(chosen)})

    def _chosen(self, query: Mapping[str, str]) -> list[SimulatedOrder]:
        """The orders the listing filters keep (archived orders never listed); under the lock."""
        bounds = {name: date(query, name) for name in _DATE_FILTERS}
        status_id = optional_integer(query, "status_id")
        customer_id = optional_integer(query, "customer_id")
        min_id, max_id = optional_integer(query, "min_id"), optional_integer(query, "max_id")
        min_total, max_total = amount(query, "min_total"), amount(query, "max_total")
        email = query.get("email")
        chosen = []
        for order in self.sim._orders.values():
            times = {"created": order.created, "modified": order.modified}
            if order.is_deleted or not _within(times, bounds):
                continue
            checks = (
                status_id is None or order.status_id == status_id,
                customer_id is None or order.shopper.customer_id == customer_id,
                min_id is None or order.id >= min_id,
                max_id is None or order.id <= max_id,
                min_total is None or order.total() >= min_total,
                max_total is None or order.total() <= max_total,
                email is None or order.email.lower() == email.strip().lower(),
            )
            if all(checks):
                chosen.append(order)
        return chosen

    async def _get_order(self, request: Request) -> Response:
        with self.sim._lock:
            order = self._order(request)
            labels = dict(self.sim.labels)
        return JSONResponse(build_order(order, api_root=self._root(request), labels=labels))

    async def _create_order(self, request: Request) -> Response:
        order_id = create_order(self.sim, await json_body(request))
        with self.sim._lock:
            order, labels = self.sim._orders[order_id], dict(self.sim.labels)
        return JSONResponse(build_order(order, api_root=self._root(request), labels=labels))

    async def _update_order(self, request: Request) -> Response:
        body = await json_body(request)
        with self.sim._lock:
            order = self._order(request)
            update_order(self.sim, order, body)
            labels = dict(self.sim.labels)
        return JSONResponse(build_order(order, api_root=self._root(request), labels=labels))

    async def _archive_order(self, request: Request) -> Response:
        with self.sim._lock:
            self.sim.archive(self._order(request).id)
        return Response(status_code=204)

    async def _products(self, request: Request) -> Response:
        with self.sim._lock:
            products = build_products(self._order(request))
        return page(request, products)

    async def _coupons(self, request: Request) -> Response:
        with self.sim._lock:
            coupons = build_coupons(self._order(request))
        return page(request, coupons)

    async def _shipping_addresses(self, request: Request) -> Response:
        with self.sim._lock:
            order = self._order(request)
        return page(request, build_shipping_addresses(order, api_root=self._root(request)))

    async def _order_statuses(self, request: Request) -> Response:
        with self.sim._lock:
            labels = dict(self.sim.labels)
        ordered = sorted(STATUSES, key=lambda s: status_entry(s, {})["sort_order"])
        return JSONResponse([status_entry(status_id, labels) for status_id in ordered])

    async def _order_status(self, request: Request) -> Response:
        status_id = request.path_params["status_id"]
        if status_id not in STATUSES:
            raise ApiError(404, _NOT_FOUND)
        with self.sim._lock:
            return JSONResponse(status_entry(status_id, dict(self.sim.labels)))

    async def _no_route(self, request: Request) -> Response:
        raise ApiError(404, _NOT_FOUND)

    def _order(self, request: Request) -> SimulatedOrder:
        order = self.sim._orders.get(request.path_params["order_id"])
        if order is None:
            raise ApiError(404, _NOT_FOUND)
        return order

    def _root(self, request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}/stores/{self.sim.store_hash}"

    # -- v3 hooks --------------------------------------------------------------------------

    async def _list_hooks(self, request: Request) -> Response:
        query = request.query_params
        with self.sim._lock:
            hooks = [
                hook.as_json()
                for hook in self.sim._subscriptions.values()
                if query.get("scope", hook.scope) == hook.scope
                and query.get("destination", hook.destination) == hook.destination
                and query.get("is_active", str(hook.is_active).lower()) in _truth(hook.is_active)
            ]
        page = integer(query, "page", 1, minimum=1)
        limit = integer(query, "limit", 50, minimum=1)
        shown = hooks[(page - 1) * limit : page * limit]
        pages = max(1, -(-len(hooks) // limit))
        pagination = {
            "total": len(hooks),
            "count": len(shown),
            "per_page": limit,
            "current_page": page,
            "total_pages": pages,
            "links": {"current": f"?page={page}&limit={limit}"},
        }
        return JSONResponse({"data": shown, "meta": {"pagination": pagination}})

    async def _create_hook(self, request: Request) -> Response:
        body = await self._hook_body(request, creating=True)
        if isinstance(body, Response):
            return body
        with self.sim._lock:
            hook = self.sim.add_hook(
                str(body["scope"]),
                str(body["destination"]),
                headers=body.get("headers"),
                is_active=body.get("is_active", True) is not False,
            )
            return JSONResponse({"data": hook.as_json(), "meta": {}})

    async def _hook(self, request: Request) -> Response:
        hook_id = request.path_params["hook_id"]
        body: dict[str, Any] = {}
        if request.method == "PUT":
            given = await self._hook_body(request, creating=False)
            if isinstance(given, Response):
                return given
            body = given
        with self.sim._lock:
            hook = self.sim._subscriptions.get(hook_id)
            if hook is None:
                return gateway_error(404, f"Webhook with id [{hook_id}] not found")
            if request.method == "DELETE":
                del self.sim._subscriptions[hook_id]
            elif request.method == "PUT":
                for name in ("scope", "destination"):
                    if isinstance(body.get(name), str):
                        setattr(hook, name, body[name])
                if isinstance(body.get("is_active"), bool):
                    hook.is_active = body["is_active"]
                if "headers" in body:
                    hook.headers = body["headers"]
                hook.updated_at = self.sim._now()
            return JSONResponse({"data": hook.as_json(), "meta": {}})

    async def _hook_body(self, request: Request, *, creating: bool) -> dict[str, Any] | Response:
        """A hook's JSON object, or the 400 or 422 BigCommerce answers to it."""
        body = await v3_body(request)
        if isinstance(body, Response):
            return body
        problem = self._hook_problems(body, creating=creating)
        return body if problem is None else problem

    def _hook_problems(self, body: Mapping[str, Any], *, creating: bool) -> Response | None:
        """422 naming the first field BigCommerce would refuse (``errors`` as in the spec)."""
        errors: dict[str, str] = {}
        for name in ("scope", "destination"):
            if creating and name not in body:
                errors[name] = "error.path.missing"
            elif name in body and not (isinstance(body[name], str) and body[name].strip()):
                errors[name] = "error.expected.jsstring"
        destination = body.get("destination")
        if isinstance(destination, str) and "destination" not in errors:
            url = urlsplit(destination)
            if self.sim.require_https_destinations and (url.scheme != "https" or url.port):
                # "Destination URL must be served on port 443 (custom ports are not currently
                # supported)."
                errors["destination"] = "must be an https URL on port 443"
            elif url.scheme not in ("http", "https") or not url.hostname:
                errors["destination"] = "must be a URL"
        headers = body.get("headers")
        if headers is not None and not (
            isinstance(headers, Mapping) and all(isinstance(v, str) for v in headers.values())
        ):
            errors["headers"] = "error.expected.jsobject"
        if "is_active" in body and not isinstance(body["is_active"], bool):
            errors["is_active"] = "error.expected.jsboolean"
        if errors:
            return gateway_error(422, "JSON data is missing or invalid", errors)
        if creating:
            with self.sim._lock:
                taken = any(
                    h.scope == body["scope"] and h.destination == destination
                    for h in self.sim._subscriptions.values()
                )
            if taken:
                # One hook per store, client, scope and destination; the exact wording is a guess.
                return gateway_error(
                    422,
                    "JSON data is missing or invalid",
                    {"destination": "a webhook with this scope and destination already exists"},
                )
        return None


def create_order(sim: BigCommerceSimulator, body: Mapping[str, Any]) -> int:
    """``POST /v2/orders``: a billing address and products (catalogue or custom)."""
    billing = body.get("billing_address")
    products = body.get("products")
    if not isinstance(billing, Mapping):
        raise ApiError(400, "The required field 'billing_address' was not supplied.")
    if not isinstance(products, list) or not products:
        raise ApiError(400, "The required field 'products' was not supplied.")
    status_id = body.get("status_id", 1)  # "status_id defaults to 1" (the orders guide)
    if not isinstance(status_id, int) or status_id not in STATUSES:
        raise ApiError(400, "The field 'status_id' is invalid.")
    with sim._lock:
        lines = [_line(sim, item, index) for index, item in enumerate(products)]  # may refuse
        (order_id,) = sim.add_orders(statuses=[status_id], email=text(billing, "email"))
        order = sim._orders[order_id]
        order.lines = lines
        order.shipping_cost, order.coupon, order.refunded = Decimal(0), None, Decimal(0)
        order.order_source = "external"
        order.customer_message = text(body, "customer_message") or ""
        order.staff_notes = text(body, "staff_notes") or ""
        return order_id


def _line(sim: BigCommerceSimulator, item: Any, index: int) -> Line:
    where = f"products[{index}]"
    if not isinstance(item, Mapping):
        raise ApiError(400, f"The field '{where}' is invalid.")
    quantity = item.get("quantity", 1)
    if not isinstance(quantity, int) or quantity < 1:
        raise ApiError(400, f"The field '{where}.quantity' is invalid.")
    line_id = sim._line_ids.next()
    if "product_id" in item:
        found = [p for p in CATALOGUE if p.id == item["product_id"]]
        if not found:
            raise ApiError(400, f"The field '{where}.product_id' is invalid.")
        product = found[0]
        return Line(
            line_id,
            product.id,
            product.name,
            product.sku,
            product.brand,
            product.price,
            quantity,
            product.option,
        )
    name = text(item, "name")
    try:
        price = Decimal(str(item.get("price_inc_tax", item.get("price_ex_tax"))))
    except InvalidOperation:
        price = Decimal(-1)
    if not name or not price.is_finite() or price < 0:
        raise ApiError(400, f"The field '{where}' needs a name and price_inc_tax.")
    return Line(line_id, 0, name, text(item, "sku") or "", "", price, quantity)


def update_order(sim: BigCommerceSimulator, order: SimulatedOrder, body: Mapping[str, Any]) -> None:
    """``PUT /v2/orders/{id}``: status, notes, archiving."""
    if "status_id" in body:
        status_id = body["status_id"]
        if not isinstance(status_id, int) or status_id not in STATUSES:
            raise ApiError(400, "The field 'status_id' is invalid.")
        sim._transition(order, status_id)
    for name in ("staff_notes", "customer_message"):
        if isinstance(body.get(name), str):
            setattr(order, name, body[name])
    order.modified = sim._now()  # every save through the API bumps it
    if body.get("is_deleted") is True:
        sim.archive(order.id)
    else:
        sim._raise("store/order/updated", {"type": "order", "id": order.id})


def store_information(sim: BigCommerceSimulator) -> dict[str, Any]:
    """``GET /v2/store``: the store's settings (a selection of the documented fields)."""
    zone = ZoneInfo(sim.store_timezone)  # checked when it was set
    now = sim._now()
    offset = (now.astimezone(zone).utcoffset() or timedelta(0)).total_seconds()
    dst = (now.astimezone(zone).dst() or timedelta(0)).total_seconds()
    domain = f"simulated-{sim.store_hash}.mybigcommerce.com"
    return {
        "id": sim.store_hash,
        "domain": domain,
        "secure_url": f"https://{domain}",
        "control_panel_base_url": f"https://store-{sim.store_hash}.mybigcommerce.com",
        "status": "live",
        "name": "Simulated Shop",
        "first_name": "Jane",
        "last_name": "Merchant",
        "address": "1 Congress Avenue\nAustin, Texas 78701\nUnited States",
        "country": "United States",
        "country_code": "US",
        "phone": "512-555-0100",
        "admin_email": "owner@example.com",
        "order_email": "orders@example.com",
        "timezone": {
            "name": sim.store_timezone,
            "raw_offset": int(offset - dst),
            "dst_offset": int(offset),
            "dst_correction": bool(dst),
            "date_format": {
                "display": "jS M Y",
                "export": "M jS Y",
                "extended_display": "M jS Y @ g:i A",
            },
        },
        "language": "en",
        "currency": "USD",
        "currency_symbol": "$",
        "decimal_separator": ".",
        "thousands_separator": ",",
        "decimal_places": 2,
        "currency_symbol_location": "left",
        "weight_units": "LBS",
        "dimension_units": "Inches",
        "plan_name": "Standard",
        "plan_level": "Standard",
        "plan_is_trial": False,
        "is_price_entered_with_tax": False,
        "store_id": int(sim.store_id),
        "default_channel_id": 1,
        "features": {"multi_storefront_enabled": False},
    }


def _within(times: Mapping[str, datetime], bounds: Mapping[str, datetime | None]) -> bool:
    # Both bounds include the moment they name ("minimum date", "maximum date"): BigCommerce
    # does not say, and an inclusive bound is the one that can never hide an order.
    for name, bound in bounds.items():
        if bound is None:
            continue
        moment = times[name.rsplit("_", 1)[1]]
        if (moment < bound) if name.startswith("min_") else (moment > bound):
            return False
    return True


def _sort_value(order: SimulatedOrder, field: str) -> Any:
    values: dict[str, Any] = {
        "id": order.id,
        "customer_id": order.shopper.customer_id,
        "date_created": order.created,
        "date_modified": order.modified,
        "status_id": order.status_id,
        "channel_id": 1,
    }
    return values[field]


def _truth(value: bool) -> tuple[str, ...]:
    return ("true", "1") if value else ("false", "0")
