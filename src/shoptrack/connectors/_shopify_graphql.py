"""What shoptrack reads from Shopify, through the GraphQL Admin API: its documents, how a query is
sent and its cost-based rate limit waited out, and how an order node becomes the REST order
webhooks carry.

Shopify's GraphQL limit is a bucket of cost points per app and shop (shopify.dev, "API rate
limits"): every answer says in ``extensions.cost.throttleStatus`` how many points are left
(``currentlyAvailable``) and how fast they come back (``restoreRate`` a second); a query whose
requested cost does not fit is answered HTTP 200 with an error of code ``THROTTLED``. A single
query may not ask for more than 1,000 points (``MAX_COST_EXCEEDED``), which is why a page holds
fewer orders than REST's 250: an order with its lines costs some 70 points.

Webhook payloads keep their REST shape, and merchants' status rules are written in REST's
lowercase statuses: ``rest_order`` turns an order node into that shape (numeric ids from
``legacyResourceId``, ``displayFinancialStatus: PARTIALLY_REFUNDED`` → ``financial_status:
"partially_refunded"``, money from ``shopMoney``), so one mapping (``Shopify.to_order``) reads
both and a webhook and a poll of one order are the same order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from shoptrack.connectors.errors import StoreConfigError, StoreDataError, StoreTransientError
from shoptrack.connectors.http import StoreClient, read_json

__all__ = [
    "ACCESS_SCOPES_QUERY",
    "API_VERSION",
    "BULK_OPERATION_QUERY",
    "BULK_RUN_QUERY",
    "DOCUMENTS",
    "GRAPHQL_PATH",
    "LINES_PER_ORDER",
    "ORDERS_COUNT_QUERY",
    "ORDERS_PER_PAGE",
    "ORDERS_QUERY",
    "ORDER_LINES_QUERY",
    "ORDER_QUERY",
    "SHOP_QUERY",
    "WEBHOOK_SUBSCRIPTIONS_QUERY",
    "WEBHOOK_SUBSCRIPTION_CREATE",
    "bulk_orders_query",
    "object_at",
    "order_gid",
    "rest_lines",
    "rest_order",
    "run_query",
]

# The newest stable version (2026-10, stable since 2026-10-01); REST calls use it too.
API_VERSION = "2026-10"
GRAPHQL_PATH = f"/admin/api/{API_VERSION}/graphql.json"
# Within the 1,000-point ceiling of one query (tests/connectors/test_shopify_graphql.py checks
# it against the simulator's cost, which counts as Shopify does).
ORDERS_PER_PAGE = 10
LINES_PER_ORDER = 10
# More lines than fit on the orders page are read with ORDER_LINES_QUERY, this many at a time.
_MORE_LINES = 100
# How often a THROTTLED answer is waited out before the sync gives up for now.
_THROTTLED_ATTEMPTS = 6

_LINE_FIELDS = """
  id
  name
  title
  quantity
  sku
  vendor
  originalUnitPriceSet { shopMoney { amount } }
  totalDiscountSet { shopMoney { amount } }
  product { legacyResourceId }
"""

_ADDRESS_FIELDS = """
  firstName lastName company address1 address2 city province provinceCode country
  countryCodeV2 zip phone
"""

# An order's own fields (everything but its lines), read alike by the paged queries and the
# bulk query.
_ORDER_OWN_FIELDS = f"""
  id
  legacyResourceId
  name
  createdAt
  updatedAt
  cancelledAt
  closedAt
  test
  email
  phone
  currencyCode
  displayFinancialStatus
  displayFulfillmentStatus
  customerAcceptsMarketing
  discountCodes
  totalPriceSet {{ shopMoney {{ amount }} }}
  totalDiscountsSet {{ shopMoney {{ amount }} }}
  totalRefundedSet {{ shopMoney {{ amount }} }}
  customer {{
    legacyResourceId
    firstName
    lastName
    defaultEmailAddress {{ emailAddress marketingState }}
  }}
  billingAddress {{ {_ADDRESS_FIELDS} }}
  shippingAddress {{ {_ADDRESS_FIELDS} }}
  fulfillments(first: 5) {{ createdAt status }}
"""

_ORDER_FIELDS = f"""
fragment OrderFields on Order {{
  {_ORDER_OWN_FIELDS}
  lineItems(first: {LINES_PER_ORDER}) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{ {_LINE_FIELDS} }}
  }}
}}
"""

ORDERS_QUERY = (
    """
query Orders($first: Int!, $after: String, $query: String!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ...OrderFields }
  }
}
"""
    + _ORDER_FIELDS
)

ORDER_QUERY = (
    """
query Order($id: ID!) {
  order(id: $id) { ...OrderFields }
}
"""
    + _ORDER_FIELDS
)

ORDER_LINES_QUERY = f"""
query OrderLines($id: ID!, $after: String) {{
  order(id: $id) {{
    lineItems(first: {_MORE_LINES}, after: $after) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ {_LINE_FIELDS} }}
    }}
  }}
}}
"""

SHOP_QUERY = """
query Shop {
  shop { name myshopifyDomain ianaTimezone currencyCode }
}
"""

ACCESS_SCOPES_QUERY = """
query AccessScopes {
  currentAppInstallation { accessScopes { handle } }
}
"""

# How many orders a window holds, up to ``limit`` (the count says AT_LEAST beyond it): whether a
# backfill is worth a bulk operation.
ORDERS_COUNT_QUERY = """
query OrdersCount($query: String!, $limit: Int) {
  ordersCount(query: $query, limit: $limit) { count precision }
}
"""

# A bulk operation runs one query in the background and writes what it finds to a JSONL file
# (shopify.dev, "Perform bulk operations with the GraphQL Admin API"). ``groupObjects: true``
# puts each order's lines right below it, which lets the file be read in one pass in flat
# memory; since 2026-01 the default is false, with children anywhere in the file.
BULK_RUN_QUERY = """
mutation BulkRunQuery($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: true) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}
"""

# ``currentBulkOperation`` is deprecated since 2026-01 (several operations may run at once);
# an operation is followed by its id.
BULK_OPERATION_QUERY = """
query BulkOperation($id: ID!) {
  bulkOperation(id: $id) { id status errorCode objectCount rootObjectCount url partialDataUrl }
}
"""


def bulk_orders_query(search: str) -> str:
    """The query a bulk operation runs for the orders ``search`` selects: every order with all
    its lines (a bulk query takes no variables, and ignores ``first`` on its connections)."""
    return f"""
{{
  orders(query: {json.dumps(search)}, sortKey: UPDATED_AT) {{
    edges {{
      node {{
        {_ORDER_OWN_FIELDS}
        lineItems {{ edges {{ node {{ {_LINE_FIELDS} }} }} }}
      }}
    }}
  }}
}}
"""


WEBHOOK_SUBSCRIPTIONS_QUERY = """
query WebhookSubscriptions($uri: String!, $topics: [WebhookSubscriptionTopic!]) {
  webhookSubscriptions(first: 100, uri: $uri, topics: $topics) {
    nodes { id topic uri }
  }
}
"""

# Since 2025-04 a subscription's address is its ``uri`` (``callbackUrl`` is deprecated).
WEBHOOK_SUBSCRIPTION_CREATE = """
mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $uri: String!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: {uri: $uri, format: JSON}) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"""

# Every document shoptrack sends, by name (the schema test validates each one).
DOCUMENTS: Mapping[str, str] = {
    "Orders": ORDERS_QUERY,
    "Order": ORDER_QUERY,
    "OrderLines": ORDER_LINES_QUERY,
    "Shop": SHOP_QUERY,
    "AccessScopes": ACCESS_SCOPES_QUERY,
    "OrdersCount": ORDERS_COUNT_QUERY,
    "BulkRunQuery": BULK_RUN_QUERY,
    "BulkOperation": BULK_OPERATION_QUERY,
    "BulkOrders": bulk_orders_query("updated_at:>='2026-01-01T00:00:00+00:00'"),
    "WebhookSubscriptions": WEBHOOK_SUBSCRIPTIONS_QUERY,
    "WebhookSubscriptionCreate": WEBHOOK_SUBSCRIPTION_CREATE,
}


def object_at(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """The object ``key`` of an answer's ``data`` (or of an object in it); ``StoreDataError``
    when there is none."""
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise StoreDataError(f"the GraphQL answer has no {key!r} object", store_answer=str(data))
    return value


def order_gid(order_id: str) -> str:
    """The GraphQL id of the order REST calls ``order_id``."""
    return f"gid://shopify/Order/{order_id}"


def run_query(
    client: StoreClient, document: str, variables: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The ``data`` of one query, waiting out Shopify's cost limit.

    A ``THROTTLED`` answer is asked again once the bucket holds the query's requested cost
    (the wait is the client's injected sleep); an answer that leaves less than that in the
    bucket is returned once the bucket holds it again, so that the next page is not refused.
    ``ACCESS_DENIED`` is the missing scope it is (``scope_missing``); other errors are
    unreadable answers.
    """
    for _ in range(_THROTTLED_ATTEMPTS):
        response = client.request(
            "POST", GRAPHQL_PATH, json={"query": document, "variables": dict(variables or {})}
        )
        body = read_json(response, "the GraphQL answer")
        if not isinstance(body, Mapping):
            raise StoreDataError("the GraphQL answer is not an object", store_answer=response.text)
        cost = _cost(body)
        errors = body.get("errors")
        codes = _error_codes(errors)
        if "THROTTLED" in codes:
            client.pause(_refill_seconds(cost))
            continue
        if "ACCESS_DENIED" in codes:
            raise StoreConfigError(
                f"Shopify denied the query: {_messages(errors)}",
                store_answer=response.text,
                code="scope_missing",
            )
        data = body.get("data")
        if errors or not isinstance(data, dict):
            raise StoreDataError(
                f"Shopify answered the query with errors: {_messages(errors)}",
                store_answer=response.text,
            )
        wait = _refill_seconds(cost)
        if wait > 0:
            client.pause(wait)
        return data
    raise StoreTransientError(
        "Shopify kept throttling the query (its cost limit); the next sync goes on",
        retry_after=_refill_seconds(cost),
    )


def _cost(body: Mapping[str, Any]) -> Mapping[str, Any]:
    extensions = body.get("extensions")
    cost = extensions.get("cost") if isinstance(extensions, Mapping) else None
    return cost if isinstance(cost, Mapping) else {}


def _refill_seconds(cost: Mapping[str, Any]) -> float:
    """How long until the bucket holds the query's requested cost again (0: it does)."""
    status = cost.get("throttleStatus")
    requested = cost.get("requestedQueryCost")
    if not isinstance(status, Mapping) or not isinstance(requested, int | float):
        return 0.0
    available = status.get("currentlyAvailable")
    rate = status.get("restoreRate")
    if not isinstance(available, int | float) or not isinstance(rate, int | float) or rate <= 0:
        return 0.0
    return max(float(requested) - float(available), 0.0) / float(rate)


def _error_codes(errors: Any) -> set[str]:
    if not isinstance(errors, list):
        return set()
    return {
        str(error["extensions"].get("code"))
        for error in errors
        if isinstance(error, Mapping) and isinstance(error.get("extensions"), Mapping)
    }


def _messages(errors: Any) -> str:
    if not isinstance(errors, list) or not errors:
        return "no data"
    return "; ".join(
        str(error.get("message")) if isinstance(error, Mapping) else str(error)
        for error in errors[:3]
    )


# -- an order node as the REST order ---------------------------------------------------------

# OrderDisplayFulfillmentStatus → REST fulfillment_status; the others (UNFULFILLED,
# FULFILLMENT_NOT_REQUIRED since 2026-10, IN_PROGRESS, ON_HOLD...) are REST's null.
_FULFILLMENT_STATUSES = {
    "FULFILLED": "fulfilled",
    "PARTIALLY_FULFILLED": "partial",
    "RESTOCKED": "restocked",
}


def rest_order(node: Mapping[str, Any]) -> dict[str, Any]:
    """The REST order (as ``orders/{id}.json`` and order webhooks write it, in the fields
    ``Shopify.to_order`` reads) that an ``OrderFields`` node describes."""
    customer = node.get("customer")
    refunded = _amount(node.get("totalRefundedSet"))
    return {
        "id": _legacy_id(node),
        "admin_graphql_api_id": node.get("id"),
        "name": node.get("name"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "closed_at": node.get("closedAt"),
        "test": node.get("test"),
        "email": node.get("email"),
        "phone": node.get("phone"),
        "currency": node.get("currencyCode"),
        "financial_status": _lower(node.get("displayFinancialStatus")),
        "fulfillment_status": _FULFILLMENT_STATUSES.get(str(node.get("displayFulfillmentStatus"))),
        "buyer_accepts_marketing": node.get("customerAcceptsMarketing"),
        "total_price": _amount(node.get("totalPriceSet")),
        "total_discounts": _amount(node.get("totalDiscountsSet")) or "0.00",
        "discount_codes": [{"code": code} for code in node.get("discountCodes") or []],
        "customer": _rest_customer(customer) if isinstance(customer, Mapping) else None,
        "billing_address": _rest_address(node.get("billingAddress")),
        "shipping_address": _rest_address(node.get("shippingAddress")),
        "line_items": rest_lines(node.get("lineItems")),
        # REST lists each refund with its transactions; what to_order reads of them is the
        # money returned, which GraphQL sums for the order.
        "refunds": []
        if refunded is None or float(refunded) == 0
        else [{"transactions": [{"kind": "refund", "status": "success", "amount": refunded}]}],
        "fulfillments": [
            {"created_at": shipment.get("createdAt"), "status": _lower(shipment.get("status"))}
            for shipment in node.get("fulfillments") or []
            if isinstance(shipment, Mapping)
        ],
    }


def _legacy_id(node: Mapping[str, Any]) -> Any:
    # UnsignedInt64 is written as a string; REST ids are numbers.
    value = node.get("legacyResourceId")
    return int(value) if isinstance(value, str) and value.isdigit() else value


def _gid_number(gid: Any) -> Any:
    # LineItem has no legacyResourceId: its REST id is the number ending its GraphQL id.
    if isinstance(gid, str):
        tail = gid.rsplit("/", 1)[-1]
        if tail.isdigit():
            return int(tail)
    return gid


def _lower(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) else None


def _amount(bag: Any) -> str | None:
    money = bag.get("shopMoney") if isinstance(bag, Mapping) else None
    amount = money.get("amount") if isinstance(money, Mapping) else None
    return str(amount) if amount is not None else None


def _nodes(connection: Any) -> list[Mapping[str, Any]]:
    nodes = connection.get("nodes") if isinstance(connection, Mapping) else None
    return [node for node in nodes or [] if isinstance(node, Mapping)]


def _rest_customer(customer: Mapping[str, Any]) -> dict[str, Any]:
    email = customer.get("defaultEmailAddress")
    email = email if isinstance(email, Mapping) else {}
    return {
        "id": _legacy_id(customer),
        "email": email.get("emailAddress"),
        "first_name": customer.get("firstName"),
        "last_name": customer.get("lastName"),
        "email_marketing_consent": {"state": _lower(email.get("marketingState"))}
        if email.get("marketingState")
        else None,
    }


def _rest_address(address: Any) -> dict[str, Any] | None:
    if not isinstance(address, Mapping):
        return None
    return {
        "first_name": address.get("firstName"),
        "last_name": address.get("lastName"),
        "company": address.get("company"),
        "address1": address.get("address1"),
        "address2": address.get("address2"),
        "city": address.get("city"),
        "province": address.get("province"),
        "province_code": address.get("provinceCode"),
        "country": address.get("country"),
        "country_code": address.get("countryCodeV2"),
        "zip": address.get("zip"),
        "phone": address.get("phone"),
    }


def rest_lines(connection: Any) -> list[dict[str, Any]]:
    """The REST lines of a ``lineItems`` connection (a page of it)."""
    return [_rest_line(line) for line in _nodes(connection)]


def _rest_line(line: Mapping[str, Any]) -> dict[str, Any]:
    product = line.get("product")
    return {
        "id": _gid_number(line.get("id")),
        "name": line.get("name"),
        "title": line.get("title"),
        "quantity": line.get("quantity"),
        "sku": line.get("sku"),
        "vendor": line.get("vendor"),
        "price": _amount(line.get("originalUnitPriceSet")),
        "total_discount": _amount(line.get("totalDiscountSet")),
        "product_id": _legacy_id(product) if isinstance(product, Mapping) else None,
    }
