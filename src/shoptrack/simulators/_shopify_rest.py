"""The Shopify simulator's REST Admin API: each route as Shopify answers it, behind the edge's
faults, the access token, the leaky bucket and the token's scopes.

A request meets, in order: the edge (a firewall page, failing servers, slowness), the token
(401), the rate limit (429 with ``Retry-After``), the route's scope (403), its arguments (400),
then the handler. Every answer past the token carries ``X-Shopify-Shop-Api-Call-Limit: n/40``:
a bucket of 40 calls per token that leaks 2 a second by the simulator's clock (the standard
plans' REST limit, shopify.dev "REST Admin API rate limits"); a full bucket is answered 429.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from shoptrack.simulators._kit import behind_edge
from shoptrack.simulators._shopify_listing import (
    ApiError,
    Cursor,
    PageOf,
    internal_error,
    json_response,
    known_filters,
    page,
    page_response,
    paging,
    parse_limit,
    parse_time,
    pick_fields,
)
from shoptrack.simulators._shopify_order_json import build_checkout, build_order, build_shop
from shoptrack.simulators._shopify_orders import (
    API_VERSION,
    Shop,
    SimulatedCheckout,
    SimulatedOrder,
)
from shoptrack.simulators._shopify_webhooks import SubscriptionRefusedError

if TYPE_CHECKING:
    from shoptrack.simulators.shopify import ShopifySimulator

__all__ = ["RECENT_ORDERS", "LeakyBucket", "RestApi", "Token", "admin_route", "require_scope"]

Handler = Callable[[Request, "Token"], Awaitable[Response]]

# Without read_all_orders, orders created longer ago than this are not served (shopify.dev,
# Order resource): left out of lists and counts, 404 by id, without any error.
RECENT_ORDERS = timedelta(days=60)
_UNAUTHORIZED = "[API] Invalid API key or access token (unrecognized login or wrong password)"
_THROTTLED = (
    "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted"
    " service."
)
_VERSION = re.compile(r"\d{4}-\d{2}|unstable")
_ORDER_FILTERS = frozenset(
    {
        "ids",
        "since_id",
        "created_at_min",
        "created_at_max",
        "updated_at_min",
        "updated_at_max",
        "processed_at_min",
        "processed_at_max",
        "attribution_app_id",
        "name",
        "status",
        "financial_status",
        "fulfillment_status",
        "order",
    }
)
_CHECKOUT_FILTERS = frozenset(
    {"since_id", "created_at_min", "created_at_max", "updated_at_min", "updated_at_max", "status"}
)
_SORTABLE = ("id", "created_at", "updated_at", "processed_at")
_STATUS = ("open", "closed", "cancelled", "any")
_FULFILLMENT = ("shipped", "partial", "unshipped", "unfulfilled", "any")


@dataclass(slots=True)
class LeakyBucket:
    """Shopify's REST limit: ``size`` calls that leak at ``per_second``, by the given clock."""

    size: int = 40
    per_second: float = 2.0
    level: float = 0.0
    at: datetime | None = None

    def take(self, now: datetime) -> float | None:
        """Admits a call (None), or says how many seconds until one fits."""
        if self.at is not None:
            elapsed = max((now - self.at).total_seconds(), 0.0)
            self.level = max(self.level - elapsed * self.per_second, 0.0)
        self.at = now
        if self.level + 1 > self.size:
            return (self.level + 1 - self.size) / self.per_second
        self.level += 1
        return None

    @property
    def header(self) -> str:
        """``X-Shopify-Shop-Api-Call-Limit``: calls in the bucket, and its size."""
        return f"{math.ceil(self.level - 1e-9)}/{self.size}"


@dataclass(slots=True)
class Token:
    """An Admin API access token with its granted scopes, its rate-limit bucket, and when it
    expires."""

    value: str
    scopes: tuple[str, ...]
    bucket: LeakyBucket = field(default_factory=LeakyBucket)
    # When a token of the client credentials grant stops working (None: an admin-created
    # app's token, which works until revoked).
    expires_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def allows(self, scope: str) -> bool:
        """A ``write_`` scope grants its ``read_`` scope too."""
        return scope in self.scopes or (
            scope.startswith("read_") and f"write_{scope.removeprefix('read_')}" in self.scopes
        )


def admin_route(
    sim: ShopifySimulator,
    path: str,
    methods: list[str],
    handler: Handler,
    *,
    call_limit: bool = True,
) -> Route:
    """A route of the Admin API (REST or GraphQL) behind the edge's faults and the access token
    (401); ``handler`` meets the rate limit of its own API. REST answers say the call bucket's
    level (``call_limit``); GraphQL's say their cost in the body instead."""

    async def endpoint(request: Request) -> Response:
        version = request.path_params.get("version")
        if version is not None and not _VERSION.fullmatch(version):
            return await _not_found(request)
        token: Token | None = None
        try:
            token = _authenticate(sim, request)
            response = await handler(request, token)
        except ApiError as error:
            response = error.response()
        if token is not None and call_limit:
            response.headers["x-shopify-shop-api-call-limit"] = token.bucket.header
        # The simulator writes one version's shapes whatever version is asked for.
        response.headers["x-shopify-api-version"] = version or API_VERSION
        await sim._deliver_if_immediate()
        return response

    return Route(path, behind_edge(sim, endpoint, internal_error), methods=methods)


def _authenticate(sim: ShopifySimulator, request: Request) -> Token:
    with sim._lock:
        token = sim._tokens.get(request.headers.get("x-shopify-access-token", "").strip())
        if token is not None and token.expired(sim.clock()):
            del sim._tokens[token.value]
            token = None
        if token is None:
            raise ApiError(
                401, _UNAUTHORIZED, {"www-authenticate": 'Basic Realm="Shopify API Authentication"'}
            )
        return token


def require_scope(token: Token, scope: str) -> None:
    if not token.allows(scope):
        raise ApiError(403, f"[API] This action requires merchant approval for {scope} scope.")


class RestApi:
    """The ``/admin/`` routes of one simulator."""

    def __init__(self, sim: ShopifySimulator) -> None:
        self.sim = sim

    def routes(self) -> list[BaseRoute]:
        api = "/admin/api/{version}"
        return [
            self._admin("/admin/oauth/access_scopes.json", ["GET"], self._access_scopes),
            self._admin(f"{api}/shop.json", ["GET"], self._shop),
            self._admin(f"{api}/orders.json", ["GET"], self._list_orders),
            self._admin(f"{api}/orders.json", ["POST"], self._create_order),
            self._admin(f"{api}/orders/count.json", ["GET"], self._count_orders),
            self._admin(f"{api}/orders/{{order_id:int}}.json", ["GET"], self._get_order),
            self._admin(f"{api}/orders/{{order_id:int}}/cancel.json", ["POST"], self._cancel),
            self._admin(f"{api}/checkouts.json", ["GET"], self._list_checkouts),
            self._admin(f"{api}/checkouts/count.json", ["GET"], self._count_checkouts),
            self._admin(f"{api}/webhooks.json", ["GET"], self._list_webhooks),
            self._admin(f"{api}/webhooks.json", ["POST"], self._create_webhook),
            self._admin(f"{api}/webhooks/count.json", ["GET"], self._count_webhooks),
            self._admin(
                f"{api}/webhooks/{{webhook_id:int}}.json", ["GET", "PUT", "DELETE"], self._webhook
            ),
            Route(
                "/admin/{rest:path}",
                _not_found,
                methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            ),
        ]

    def _admin(self, path: str, methods: list[str], handler: Handler) -> Route:
        """An Admin API route behind the edge, the token and the rate limit."""

        async def admitted(request: Request, token: Token) -> Response:
            self._take_call(token)
            return await handler(request, token)

        return admin_route(self.sim, path, methods, admitted)

    def _take_call(self, token: Token) -> None:
        """One call from the token's leaky bucket (or the rate-limit fault): 429 when full."""
        sim = self.sim
        with sim._lock:
            burst = sim.edge.take_burst()  # the rate-limit fault
            wait = float(burst) if burst is not None else token.bucket.take(sim.clock())
            if wait is not None:
                raise ApiError(
                    429,
                    _THROTTLED,
                    {
                        "retry-after": f"{math.ceil(wait * 10) / 10:.1f}",
                        "x-shopify-shop-api-call-limit": f"{token.bucket.size}/{token.bucket.size}",
                    },
                )

    # -- the shop --------------------------------------------------------------------------

    async def _access_scopes(self, request: Request, token: Token) -> Response:
        return json_response({"access_scopes": [{"handle": scope} for scope in token.scopes]})

    async def _shop(self, request: Request, token: Token) -> Response:
        sim = self.sim
        with sim._lock:
            body = build_shop(sim._shop(), sim._now(), sim.opened)
        return json_response({"shop": pick_fields(body, request.query_params.get("fields"))})

    # -- orders ----------------------------------------------------------------------------

    def _list_page(
        self,
        request: Request,
        filters: frozenset[str],
        choose: Callable[[dict[str, str]], tuple[list[Any], str]],
        render: Callable[[Any, Shop], dict[str, Any]],
        resource: str,
    ) -> Response:
        """One page of a list resource: ``choose`` picks the records the page's filters select
        and their sort order, ``render`` writes one of them; both run under the lock."""
        params = dict(request.query_params)
        cursor, query, limit = paging(params, filters)
        sim = self.sim
        with sim._lock:
            chosen, order = choose(query)
            listed = _page_of(chosen, order, limit, cursor, query)
            shop = sim._shop()
            body = [render(record, shop) for record in listed.items]
        return page_response(request, params, listed, {resource: body})

    async def _list_orders(self, request: Request, token: Token) -> Response:
        require_scope(token, "read_orders")
        sim = self.sim
        fields = request.query_params.get("fields")

        def choose(query: dict[str, str]) -> tuple[list[Any], str]:
            select, order = self._order_filter(query)
            return [o for o in sim._orders.values() if sim._visible(o, token) and select(o)], order

        def render(order: SimulatedOrder, shop: Shop) -> dict[str, Any]:
            return pick_fields(build_order(order, shop), fields)

        return self._list_page(request, _ORDER_FILTERS, choose, render, "orders")

    async def _count_orders(self, request: Request, token: Token) -> Response:
        require_scope(token, "read_orders")
        query = known_filters(dict(request.query_params), _ORDER_FILTERS)
        sim = self.sim
        with sim._lock:
            select, _ = self._order_filter(query)
            count = sum(1 for o in sim._orders.values() if sim._visible(o, token) and select(o))
        return json_response({"count": count})

    async def _get_order(self, request: Request, token: Token) -> Response:
        require_scope(token, "read_orders")
        sim = self.sim
        with sim._lock:
            order = sim._orders.get(request.path_params["order_id"])
            if order is None or not sim._visible(order, token):
                raise ApiError(404, "Not Found")
            body = build_order(order, sim._shop())
        return json_response({"order": pick_fields(body, request.query_params.get("fields"))})

    async def _create_order(self, request: Request, token: Token) -> Response:
        """``POST orders.json``: an order made through the API (a test order with ``test``),
        in ``financial_status`` (``paid`` when not given); its webhooks go out as a
        checkout's do. The simulator's lines are its catalogue's products sharing the total."""
        require_scope(token, "write_orders")
        spec = (await _body(request)).get("order")
        if not isinstance(spec, Mapping):
            raise ApiError(400, {"order": "Required parameter missing or invalid"})
        items = spec.get("line_items")
        if not isinstance(items, list) or not items:
            raise ApiError(422, {"line_items": ["must have at least one line item"]})
        try:
            total = sum(
                (
                    Decimal(str(item.get("price", "0"))) * int(item.get("quantity", 1))
                    for item in items
                    if isinstance(item, Mapping)
                ),
                Decimal(0),
            )
        except (InvalidOperation, TypeError, ValueError):
            raise ApiError(422, {"line_items": ["price and quantity must be numbers"]}) from None
        status = str(spec.get("financial_status") or "paid")
        email = spec.get("email")
        sim = self.sim
        try:
            sim._check_status(status)
        except ValueError:
            raise ApiError(422, {"financial_status": ["is not included in the list"]}) from None
        if status in ("cancelled", "fulfilled"):
            raise ApiError(422, {"financial_status": ["is not included in the list"]})
        with sim._lock:
            (order_id,) = sim.add_orders(
                statuses=(status,),
                email=str(email) if isinstance(email, str) and email else None,
                total=total,
                lines=len(items),
                test=spec.get("test") is True,
            )
            body = build_order(sim._orders[order_id], sim._shop())
        return json_response({"order": body}, 201)

    async def _cancel(self, request: Request, token: Token) -> Response:
        require_scope(token, "write_orders")
        body = await _body(request)
        sim = self.sim
        with sim._lock:
            order = sim._orders.get(request.path_params["order_id"])
            if order is None or not sim._visible(order, token):
                raise ApiError(404, "Not Found")
            if order.cancelled_at is not None:
                # [UNCERTAIN] wording of the refusal; the status is Shopify's.
                raise ApiError(422, {"base": ["Order has already been cancelled"]})
            reason = str(body.get("reason") or "other")
            if reason not in ("customer", "fraud", "inventory", "declined", "staff", "other"):
                raise ApiError(422, {"reason": ["is not included in the list"]})
            sim._cancel(order, reason)
            document = build_order(order, sim._shop())
        return json_response({"order": document, "notice": "Order has been canceled"})

    def _order_filter(
        self, query: Mapping[str, str]
    ) -> tuple[Callable[[SimulatedOrder], bool], str]:
        """The orders a first page's filters select, and their sort order."""
        zone = self.sim._shop().zone
        tests: list[Callable[[SimulatedOrder], bool]] = []
        if query.get("ids"):
            try:
                ids = {int(part) for part in query["ids"].split(",") if part.strip()}
            except ValueError:
                raise ApiError(400, {"ids": "ids must be a comma-separated list of ids"}) from None
            tests.append(lambda o: o.id in ids)
        since_id = _integer(query, "since_id")
        if since_id is not None:
            tests.append(lambda o: o.id > since_id)
        tests += _time_tests(query, zone, ("created_at", "updated_at", "processed_at"))
        status = query.get("status") or "open"
        if status not in _STATUS:
            raise ApiError(400, {"status": f"status must be one of {', '.join(_STATUS)}"})
        tests.append(
            {
                "open": lambda o: o.closed_at is None and o.cancelled_at is None,
                "closed": lambda o: o.closed_at is not None,
                "cancelled": lambda o: o.cancelled_at is not None,
                "any": lambda o: True,
            }[status]
        )
        financial = query.get("financial_status") or "any"
        if financial == "unpaid":
            tests.append(lambda o: o.financial_status in ("authorized", "partially_paid"))
        elif financial != "any":
            tests.append(lambda o: o.financial_status == financial)
        shipping = query.get("fulfillment_status") or "any"
        if shipping not in _FULFILLMENT:
            raise ApiError(400, {"fulfillment_status": f"must be one of {', '.join(_FULFILLMENT)}"})
        tests.append(
            {
                "shipped": lambda o: o.fulfillment_status == "fulfilled",
                "partial": lambda o: o.fulfillment_status == "partial",
                "unshipped": lambda o: o.fulfillment_status is None,
                "unfulfilled": lambda o: o.fulfillment_status != "fulfilled",
                "any": lambda o: True,
            }[shipping]
        )
        if query.get("name"):
            number = query["name"].strip().lstrip("#")
            tests.append(lambda o: str(o.number) == number)
        return (lambda o: all(test(o) for test in tests)), _sort_order(query)

    # -- checkouts -------------------------------------------------------------------------

    async def _list_checkouts(self, request: Request, token: Token) -> Response:
        require_scope(token, "read_orders")

        def choose(query: dict[str, str]) -> tuple[list[Any], str]:
            select = self._checkout_filter(query)
            return [c for c in self.sim._checkouts.values() if select(c)], "id asc"

        return self._list_page(request, _CHECKOUT_FILTERS, choose, build_checkout, "checkouts")

    async def _count_checkouts(self, request: Request, token: Token) -> Response:
        require_scope(token, "read_orders")
        query = known_filters(dict(request.query_params), _CHECKOUT_FILTERS)
        with self.sim._lock:
            select = self._checkout_filter(query)
            count = sum(1 for c in self.sim._checkouts.values() if select(c))
        return json_response({"count": count})

    def _checkout_filter(self, query: Mapping[str, str]) -> Callable[[SimulatedCheckout], bool]:
        # Abandoned checkouts: open ones by default (status=closed lists the completed ones).
        tests = _time_tests(query, self.sim._shop().zone, ("created_at", "updated_at"))
        since_id = _integer(query, "since_id")
        closed = (query.get("status") or "open") == "closed"
        return lambda c: (
            (c.completed is not None) == closed
            and (since_id is None or c.id > since_id)
            and all(test(c) for test in tests)
        )

    # -- webhooks --------------------------------------------------------------------------

    async def _list_webhooks(self, request: Request, token: Token) -> Response:
        params = request.query_params
        limit = parse_limit(params.get("limit"))
        since_id = _integer(params, "since_id")
        sim = self.sim
        with sim._lock:
            chosen = [
                s
                for s in sim._subscriptions.values()
                if params.get("address") in (None, s.address)
                and params.get("topic") in (None, s.topic)
                and (since_id is None or s.id > since_id)
            ]
            zone = sim._shop().zone
            body = [
                pick_fields(s.as_json(zone), params.get("fields"))
                for s in sorted(chosen, key=lambda s: s.id)[:limit]
            ]
        return json_response({"webhooks": body})

    async def _count_webhooks(self, request: Request, token: Token) -> Response:
        params = request.query_params
        with self.sim._lock:
            count = sum(
                1
                for s in self.sim._subscriptions.values()
                if params.get("address") in (None, s.address)
                and params.get("topic") in (None, s.topic)
            )
        return json_response({"count": count})

    async def _create_webhook(self, request: Request, token: Token) -> Response:
        spec = (await _body(request)).get("webhook")
        if not isinstance(spec, Mapping):
            raise ApiError(400, {"webhook": "Required parameter missing or invalid"})
        topic = str(spec.get("topic") or "").strip()
        address = str(spec.get("address") or "").strip()
        if str(spec.get("format") or "json") != "json":
            raise ApiError(422, {"format": ["is not supported by this simulator"]})
        sim = self.sim
        with sim._lock:
            try:
                subscription = sim.subscribe_checked(token, topic, address)
            except SubscriptionRefusedError as refused:
                raise ApiError(422, {refused.field: [refused.message]}) from None
            body = subscription.as_json(sim._shop().zone)
        return json_response({"webhook": body}, 201)

    async def _webhook(self, request: Request, token: Token) -> Response:
        body = await _body(request) if request.method == "PUT" else {}
        sim = self.sim
        with sim._lock:
            subscription = sim._subscriptions.get(request.path_params["webhook_id"])
            if subscription is None:
                raise ApiError(404, "Not Found")
            if request.method == "DELETE":
                del sim._subscriptions[subscription.id]
                return json_response({})
            spec = body.get("webhook")
            if isinstance(spec, Mapping) and isinstance(spec.get("address"), str):
                subscription.address = spec["address"].strip()
                subscription.updated = sim._now()
            return json_response({"webhook": subscription.as_json(sim._shop().zone)})


def _integer(params: Mapping[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, {name: f"{name} must be an integer"}) from None


def _time_tests(
    query: Mapping[str, str], zone: Any, names: tuple[str, ...]
) -> list[Callable[[Any], bool]]:
    """``<name>_min`` / ``<name>_max``: at or after, at or before (both bounds included)."""
    attributes = {"created_at": "created", "updated_at": "updated", "processed_at": "created"}
    tests: list[Callable[[Any], bool]] = []
    for name in names:
        for suffix in ("min", "max"):
            value = query.get(f"{name}_{suffix}")
            if value:
                bound = parse_time(f"{name}_{suffix}", value, zone)
                tests.append(_bound_test(attributes[name], bound, at_least=suffix == "min"))
    return tests


def _bound_test(attribute: str, bound: datetime, *, at_least: bool) -> Callable[[Any], bool]:
    def test(resource: Any) -> bool:
        moment: datetime = getattr(resource, attribute)
        return moment >= bound if at_least else moment <= bound

    return test


def _sort_order(query: Mapping[str, str]) -> str:
    """``order=updated_at asc`` and the like. Newest first by default [UNCERTAIN: Shopify does
    not document it]; with ``since_id``, by id upwards, as clients paging by it expect."""
    given = " ".join(query.get("order", "").lower().split())
    field_name, _, direction = given.partition(" ")
    if field_name in _SORTABLE and direction in ("", "asc", "desc"):
        return f"{field_name} {direction or 'asc'}"
    return "id asc" if query.get("since_id") else "created_at desc"


def _page_of(
    chosen: list[Any], order: str, limit: int, cursor: Cursor | None, query: dict[str, str]
) -> PageOf[Any]:
    field_name, _, direction = order.partition(" ")
    attribute = {"created_at": "created", "updated_at": "updated", "processed_at": "created"}

    def key(resource: Any) -> tuple[int, int]:
        if field_name == "id":
            return resource.id, resource.id
        return int(getattr(resource, attribute[field_name]).timestamp()), resource.id

    return page(
        chosen,
        key=key,
        descending=direction == "desc",
        limit=limit,
        cursor=cursor,
        query=query,
        order=order,
    )


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(400, "lexical error: invalid JSON") from None  # [UNCERTAIN] wording
    return body if isinstance(body, dict) else {}


async def _not_found(request: Request) -> Response:
    return json_response({"errors": "Not Found"}, 404)
