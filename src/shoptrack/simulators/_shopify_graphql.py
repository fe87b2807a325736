"""The Shopify simulator's GraphQL Admin API: ``POST /admin/api/{version}/graphql.json``.

Queries are validated and run by graphql-core against ``shopify_admin.graphql`` beside this
file: the part of Shopify's Admin schema shoptrack reads (cut from Shopify's own introspection,
see ``tests/reference/shopify/README.md``), so a query Shopify would refuse is refused here too,
with Shopify's error shape (HTTP 200, ``{"errors": [{"message", "locations", "extensions":
{"code"}}]}``).

Every answer carries ``extensions.cost`` as Shopify's does (shopify.dev, "API rate limits"):
the query's requested cost (objects 1, scalars and enums 0, a connection 2 plus ``first`` times
its node's cost, a list of objects ``first`` (or one) times the object's), its actual cost
(counted the same way over what was returned) and the token's ``throttleStatus``: a bucket of
2,000 points refilled at 100 a second by the simulator's clock (the standard plans). A query
asking for more than 1,000 points is refused (``MAX_COST_EXCEEDED``); one asking for more than
the bucket holds is answered ``THROTTLED``, and so are the next N queries under the
``rate_limit`` fault, with a bucket that is ``retry_after`` seconds short.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    build_schema,
    execute_sync,
    parse,
    validate,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from shoptrack.simulators._shopify_cost import MUTATION_COST, costs
from shoptrack.simulators._shopify_listing import ApiError, json_response
from shoptrack.simulators._shopify_orders import Line, Shop, SimulatedOrder
from shoptrack.simulators._shopify_rest import Token, admin_route
from shoptrack.simulators._shopify_webhooks import (
    SubscriptionRefusedError,
    subscription_node,
    topic_enum,
    topic_name,
)

if TYPE_CHECKING:
    from shoptrack.simulators.shopify import ShopifySimulator

__all__ = [
    "COST_BUCKET",
    "MAX_QUERY_COST",
    "MUTATION_COST",
    "RESTORE_RATE",
    "GraphQLApi",
    "admin_schema",
    "costs",
    "matching_orders",
    "order_node",
]

MAX_QUERY_COST = 1000
COST_BUCKET = 2000.0
RESTORE_RATE = 100.0
_SEARCH_TERM = re.compile(r"(\w+):(>=|<=|>|<)?'?([^'\s]+)'?")
_SORT_KEYS: Mapping[str, Callable[[SimulatedOrder], tuple[float, int]]] = {
    "ID": lambda o: (o.id, o.id),
    "CREATED_AT": lambda o: (o.created.timestamp(), o.id),
    "PROCESSED_AT": lambda o: (o.created.timestamp(), o.id),
    "UPDATED_AT": lambda o: (o.updated.timestamp(), o.id),
}


@cache
def admin_schema() -> GraphQLSchema:
    """The Admin schema the simulator answers with."""
    source = files("shoptrack.simulators").joinpath("shopify_admin.graphql").read_text("utf-8")
    return build_schema(source)


@dataclass(slots=True)
class _CostBucket:
    """A token's GraphQL points, refilled by the simulator's clock."""

    available: float = COST_BUCKET
    at: datetime | None = None

    def refill(self, now: datetime) -> float:
        if self.at is not None:
            elapsed = max((now - self.at).total_seconds(), 0.0)
            self.available = min(self.available + elapsed * RESTORE_RATE, COST_BUCKET)
        self.at = now
        return self.available

    def status(self, available: float | None = None) -> dict[str, float]:
        return {
            "maximumAvailable": COST_BUCKET,
            "currentlyAvailable": round(self.available if available is None else available),
            "restoreRate": RESTORE_RATE,
        }


class GraphQLApi:
    """The GraphQL route of one simulator."""

    def __init__(self, sim: ShopifySimulator) -> None:
        self.sim = sim
        self._buckets: dict[str, _CostBucket] = {}

    def routes(self) -> list[BaseRoute]:
        path = "/admin/api/{version}/graphql.json"
        return [admin_route(self.sim, path, ["POST"], self._query, call_limit=False)]

    async def _query(self, request: Request, token: Token) -> Response:
        try:
            document, variables, operation = await _read(request)
        except _RefusedError as refused:
            return _errors(refused.errors)
        return self._run(token, document, variables, operation, str(request.base_url))

    def _run(
        self,
        token: Token,
        document: DocumentNode,
        variables: dict[str, Any],
        operation: str | None,
        base_url: str,
    ) -> Response:
        """Runs a valid query within the token's points, or refuses it as Shopify would."""
        schema = admin_schema()
        requested = costs(schema, document, variables)
        sim = self.sim
        with sim._lock:
            bucket = self._buckets.setdefault(token.value, _CostBucket())
            available = bucket.refill(sim.clock())
            cost: dict[str, Any] = {"requestedQueryCost": requested, "actualQueryCost": None}
            if requested > MAX_QUERY_COST:
                message = (
                    f"Query cost is {requested}, which exceeds the single query max cost limit"
                    f" ({MAX_QUERY_COST})."
                )
                cost["throttleStatus"] = bucket.status()
                return _errors([{"message": message, "extensions": {"code": "MAX_COST_EXCEEDED"}}],
                               cost)  # fmt: skip
            wait = sim.edge.take_burst()  # the rate-limit fault
            if wait is not None:
                short = max(requested - wait * RESTORE_RATE, 0.0)
                cost["throttleStatus"] = bucket.status(short)
                return _throttled(cost)
            if requested > available:
                cost["throttleStatus"] = bucket.status()
                return _throttled(cost)
            result = execute_sync(
                schema,
                document,
                root_value=_Root(sim, token, base_url),
                variable_values=variables,
                operation_name=operation,
            )
            actual = costs(schema, document, variables, result.data)
            bucket.available -= actual
            cost["actualQueryCost"] = actual
            cost["throttleStatus"] = bucket.status()
        answer: dict[str, Any] = {"data": result.data}
        if result.errors:
            answer["errors"] = [error.formatted for error in result.errors]
        answer["extensions"] = {"cost": cost}
        return json_response(answer)


class _RefusedError(Exception):
    """A request that is no query the schema can run: answered with these errors."""

    def __init__(self, errors: list[Any]) -> None:
        super().__init__(errors)
        self.errors = errors


async def _read(request: Request) -> tuple[DocumentNode, dict[str, Any], str | None]:
    """The request's document (parsed and validated), variables and operation name."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise ApiError(400, "Bad Request") from None  # [UNCERTAIN] Shopify's wording
    if not isinstance(body, Mapping) or not isinstance(body.get("query"), str):
        raise _RefusedError([{"message": "No query string was present"}])
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        raise _RefusedError([{"message": "Variables must be an object"}])
    try:
        document = parse(body["query"])
    except GraphQLError as error:
        raise _RefusedError([error.formatted]) from None
    invalid = validate(admin_schema(), document)
    if invalid:
        raise _RefusedError([error.formatted for error in invalid])
    operation = body.get("operationName")
    return document, variables, operation if isinstance(operation, str) else None


def _errors(errors: list[Any], cost: Mapping[str, Any] | None = None) -> Response:
    body: dict[str, Any] = {"errors": errors}
    if cost is not None:
        body["extensions"] = {"cost": cost}
    return json_response(body)


def _throttled(cost: Mapping[str, Any]) -> Response:
    return _errors(
        [
            {
                "message": "Throttled",
                "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits",
                },
            }
        ],
        cost,
    )


# -- the data ---------------------------------------------------------------------------------


class _Root:
    """The query root, resolved by graphql-core's default resolver (attributes, and methods
    called with the field's arguments)."""

    def __init__(self, sim: ShopifySimulator, token: Token, base_url: str) -> None:
        self._sim = sim
        self._token = token
        self._shop = sim._shop()
        self._base_url = base_url

    # Fields and arguments go by Shopify's names, as graphql-core passes them.

    def ordersCount(  # noqa: N802
        self, info: Any, query: str | None = None, limit: int | None = 10000, **_: Any
    ) -> dict[str, Any]:
        self._require_orders("ordersCount")
        count = len(matching_orders(self._sim, self._token, query=query, sort_key="ID",
                                    reverse=False))  # fmt: skip
        if limit is not None and count > limit:
            return {"count": limit, "precision": "AT_LEAST"}
        return {"count": count, "precision": "EXACT"}

    def bulkOperationRunQuery(  # noqa: N802
        self,
        info: Any,
        query: str,
        groupObjects: bool,  # noqa: N803
    ) -> dict[str, Any]:
        return self._sim.bulk.run_query(self._token, query, groupObjects, self._base_url)

    def bulkOperation(self, info: Any, id: str) -> dict[str, Any] | None:  # noqa: N802
        return self._sim.bulk.node(id, self._base_url)

    def webhookSubscriptions(  # noqa: N802
        self,
        info: Any,
        first: int | None = None,
        uri: str | None = None,
        topics: list[str] | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        if first is None or not 0 < first <= 250:
            raise GraphQLError("you must provide first, between 1 and 250")
        chosen = [
            s
            for s in self._sim._subscriptions.values()
            if uri in (None, s.address) and (not topics or topic_enum(s.topic) in topics)
        ]
        return {"nodes": [subscription_node(s) for s in sorted(chosen, key=lambda s: s.id)][:first]}

    def webhookSubscriptionCreate(  # noqa: N802
        self,
        info: Any,
        topic: str,
        webhookSubscription: dict[str, Any],  # noqa: N803
    ) -> dict[str, Any]:
        address = str(webhookSubscription.get("uri") or webhookSubscription.get("callbackUrl")
                      or "").strip()  # fmt: skip
        try:
            subscription = self._sim.subscribe_checked(self._token, topic_name(topic), address)
        except SubscriptionRefusedError as refused:
            return {
                "webhookSubscription": None,
                "userErrors": [{"field": ["webhookSubscription", refused.field],
                                "message": refused.message}],
            }  # fmt: skip
        return {"webhookSubscription": subscription_node(subscription), "userErrors": []}

    def shop(self, info: Any) -> dict[str, Any]:
        return {
            "name": self._sim.shop_name,
            "myshopifyDomain": self._shop.domain,
            "ianaTimezone": self._shop.zone_name,
            "currencyCode": self._shop.currency,
        }

    def currentAppInstallation(self, info: Any) -> dict[str, Any]:  # noqa: N802  # Shopify's name
        return {"accessScopes": [{"handle": scope} for scope in self._token.scopes]}

    def order(self, info: Any, id: str) -> dict[str, Any] | None:  # the argument's name
        self._require_orders("order")
        number = id.removeprefix("gid://shopify/Order/")
        found = self._sim._orders.get(int(number)) if number.isdigit() else None
        if found is None or not self._sim._visible(found, self._token):
            return None
        return order_node(found, self._shop)

    def orders(  # noqa: PLR0917  # the field's arguments, as graphql-core passes them
        self,
        info: Any,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        reverse: bool = False,
        sortKey: str = "ID",  # noqa: N803  # Shopify's name
        query: str | None = None,
        savedSearchId: str | None = None,  # noqa: N803
    ) -> dict[str, Any]:
        self._require_orders("orders")
        if first is None or last is not None or before is not None:
            # The simulator pages forward only.
            raise GraphQLError(
                "you must provide one of first or last; the simulator pages by first"
            )
        if not 0 < first <= 250:
            raise GraphQLError("first must be between 1 and 250")  # [UNCERTAIN] wording
        sort = _SORT_KEYS.get(sortKey, _SORT_KEYS["ID"])
        chosen = matching_orders(
            self._sim, self._token, query=query, sort_key=sortKey, reverse=reverse
        )
        if after is not None:
            mark = _uncursor(after)
            chosen = [o for o in chosen if (sort(o) < mark if reverse else sort(o) > mark)]
        page = chosen[:first]
        return {
            "nodes": [order_node(o, self._shop) for o in page],
            "pageInfo": {
                "hasNextPage": len(chosen) > first,
                "endCursor": _cursor(sort(page[-1])) if page else None,
            },
        }

    def _require_orders(self, field: str) -> None:
        if not self._token.allows("read_orders"):
            raise GraphQLError(
                f"Access denied for {field} field. Required access: `read_orders` access scope.",
                extensions={"code": "ACCESS_DENIED"},
            )


def matching_orders(
    sim: ShopifySimulator, token: Token, *, query: str | None, sort_key: str, reverse: bool
) -> list[SimulatedOrder]:
    """The orders ``token`` may read that the search ``query`` selects, sorted by
    ``sort_key`` (under the simulator's lock)."""
    select = _search(query or "", sim._shop())
    return sorted(
        (o for o in sim._orders.values() if sim._visible(o, token) and select(o)),
        key=_SORT_KEYS.get(sort_key, _SORT_KEYS["ID"]),
        reverse=reverse,
    )


def _cursor(key: tuple[float, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _uncursor(cursor: str) -> tuple[float, int]:
    try:
        first, second = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return float(first), int(second)
    except (ValueError, TypeError):
        raise GraphQLError(f"Invalid cursor for current pagination sort.: {cursor}") from None


def _search(query: str, shop: Shop) -> Callable[[SimulatedOrder], bool]:
    """Shopify's search syntax, as far as shoptrack uses it: ``updated_at`` and ``created_at``
    compared with a time, terms joined by ``AND`` (or a space). Other fields are ignored
    [Shopify ignores unknown search fields too, with a warning]."""
    tests: list[Callable[[SimulatedOrder], bool]] = []
    for field, operator, value in _SEARCH_TERM.findall(query):
        attribute = {"updated_at": "updated", "created_at": "created"}.get(field)
        if attribute is None:
            continue
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=shop.zone)  # [UNCERTAIN] the shop's zone
        tests.append(_compare(attribute, operator or "=", moment))
    return lambda order: all(test(order) for test in tests)


def _compare(attribute: str, operator: str, moment: datetime) -> Callable[[SimulatedOrder], bool]:
    checks: Mapping[str, Callable[[datetime], bool]] = {
        ">=": lambda t: t >= moment,
        "<=": lambda t: t <= moment,
        ">": lambda t: t > moment,
        "<": lambda t: t < moment,
        "=": lambda t: t == moment,
    }
    check = checks[operator]
    return lambda order: check(getattr(order, attribute))


def order_node(order: SimulatedOrder, shop: Shop) -> dict[str, Any]:
    """An ``Order`` as the GraphQL Admin API writes the same order REST writes."""
    buyer = order.buyer
    address = _address(order)
    return {
        "id": f"gid://shopify/Order/{order.id}",
        "legacyResourceId": str(order.id),
        "name": f"#{order.number}",
        "createdAt": _time(order.created),
        "updatedAt": _time(order.updated),
        "cancelledAt": _time(order.cancelled_at),
        "closedAt": _time(order.closed_at),
        "test": order.test,
        "email": buyer.email,
        "phone": None,
        "currencyCode": shop.currency,
        "displayFinancialStatus": order.financial_status.upper(),
        "displayFulfillmentStatus": _fulfillment_status(order),
        "customerAcceptsMarketing": buyer.accepts_marketing,
        "discountCodes": [],
        "totalPriceSet": _money(order.total),
        "totalDiscountsSet": _money(Decimal(0)),
        "totalRefundedSet": _money(order.refunded()),
        "customer": None
        if buyer.customer_id is None
        else {
            "legacyResourceId": str(buyer.customer_id),
            "firstName": buyer.first_name,
            "lastName": buyer.last_name,
            "defaultEmailAddress": None
            if buyer.email is None
            else {
                "emailAddress": buyer.email,
                "marketingState": "SUBSCRIBED" if buyer.accepts_marketing else "NOT_SUBSCRIBED",
            },
        },
        "billingAddress": address,
        "shippingAddress": dict(address),
        "fulfillments": lambda info, first=None, query=None: [
            {"createdAt": _time(shipment.created), "status": "SUCCESS"}
            for shipment in order.fulfillments[:first]
        ],
        "lineItems": lambda info, first=None, after=None, **_: _lines(order, first, after),
    }


def _lines(order: SimulatedOrder, first: int | None, after: str | None) -> dict[str, Any]:
    if first is None or not 0 < first <= 250:
        raise GraphQLError("you must provide first, between 1 and 250")
    start = 0 if after is None else int(_uncursor(after)[1])
    page = order.lines[start : start + first]
    end = start + len(page)
    return {
        "nodes": [_line(line) for line in page],
        "pageInfo": {
            "hasNextPage": end < len(order.lines),
            "endCursor": _cursor((0, end)) if page else None,
        },
    }


def _line(line: Line) -> dict[str, Any]:
    product = line.product
    return {
        "id": f"gid://shopify/LineItem/{line.id}",
        "name": f"{product.title} - {product.variant_title}"
        if product.variant_title
        else product.title,
        "title": product.title,
        "quantity": line.quantity,
        "sku": product.sku,
        "vendor": product.vendor,
        "originalUnitPriceSet": _money(line.price),
        "totalDiscountSet": _money(Decimal(0)),
        "product": {"legacyResourceId": str(product.product_id)},
    }


def _fulfillment_status(order: SimulatedOrder) -> str:
    if order.fulfillment_status == "fulfilled":
        return "FULFILLED"
    if order.fulfillment_status == "partial":
        return "PARTIALLY_FULFILLED"
    # As of 2026-10, an order with nothing left to fulfil (cancelled) says so.
    return "FULFILLMENT_NOT_REQUIRED" if order.cancelled_at is not None else "UNFULFILLED"


def _address(order: SimulatedOrder) -> dict[str, Any]:
    buyer = order.buyer
    street, city, province, code, zip_code, _, _ = buyer.address
    return {
        "firstName": buyer.first_name,
        "lastName": buyer.last_name,
        "company": None,
        "address1": street,
        "address2": "",
        "city": city,
        "province": province,
        "provinceCode": code,
        "country": "United States",
        "countryCodeV2": "US",
        "zip": zip_code,
        "phone": buyer.phone,
    }


def _money(amount: Decimal) -> dict[str, Any]:
    # GraphQL's Decimal drops trailing zeros but keeps one decimal: "28.0", "12.5".
    text = format(amount.normalize(), "f")
    return {"shopMoney": {"amount": text if "." in text else f"{text}.0"}}


def _time(moment: datetime | None) -> str | None:
    # GraphQL writes DateTime in UTC: "2026-11-27T12:00:00Z".
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
