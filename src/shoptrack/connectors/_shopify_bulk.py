"""A Shopify backfill read with a bulk operation: one query run by Shopify in the background,
whose result is a JSONL file (shopify.dev, "Perform bulk operations with the GraphQL Admin API").

Reading a long history page by page costs a query of some 700 points per 10 orders, which the
cost limit refills at 100 points a second: a year of a busy shop is hours of waiting. A bulk
operation reads everything at once, outside the cost limit:

1. ``bulkOperationRunQuery`` starts it. An app may run up to five bulk query operations per shop
   at a time (API versions 2026-01 and later; one before); one more is answered with a user
   error (``OPERATION_IN_PROGRESS``, or ``LIMIT_REACHED``), which is waited out: the operations
   of other syncs end.
2. ``bulkOperation(id:)`` follows it (``currentBulkOperation`` is deprecated since 2026-01, when
   several may run), through the client's injected sleep, until it is ``COMPLETED`` — or
   ``FAILED`` (with its ``errorCode``), ``CANCELED`` or ``EXPIRED``, each a sync error saying so.
   Meanwhile the sync is told it is waiting, and keeps its lease.
3. Its ``url`` (a signed link to Google Cloud Storage, null when nothing matched) is
   downloaded through the outbound guard, without the store's token, and read line by line:
   an order's line items are lines of their own carrying ``__parentId``; the query asks for
   ``groupObjects`` so that they come right below their order, and one order at a time is held.
   Each order becomes the REST order webhooks carry (``rest_order``), in pages for the inbox.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator, Mapping
from typing import Any

import orjson

from shoptrack.connectors._shopify_graphql import (
    BULK_OPERATION_QUERY,
    BULK_RUN_QUERY,
    bulk_orders_query,
    rest_order,
    run_query,
)
from shoptrack.connectors.base import OrderPage
from shoptrack.connectors.errors import StoreConfigError, StoreDataError, StoreTransientError
from shoptrack.connectors.http import StoreClient

__all__ = ["BULK_PAGE", "bulk_order_pages", "result_pages"]

logger = logging.getLogger(__name__)

# Orders stored in the inbox per transaction, as a REST page holds.
BULK_PAGE = 250
# Seconds between looks at a running operation: doubling from the first, up to the last.
_FIRST_LOOK = 1.0
_LONGEST_LOOK = 30.0
# How long others' operations are waited out before the sync gives up for now (the next run
# starts again).
_BUSY_WAIT_SECONDS = 6 * 3600.0
_BUSY_CODES = frozenset({"OPERATION_IN_PROGRESS", "LIMIT_REACHED"})
_STILL_RUNNING = frozenset({"CREATED", "RUNNING", "CANCELING"})
_WAITING = OrderPage([], waiting=True)


def bulk_order_pages(client: StoreClient, search: str) -> Iterator[OrderPage]:
    """The orders ``search`` selects, read with a bulk operation, in pages of ``BULK_PAGE``
    REST orders (empty ``waiting`` pages while Shopify works)."""
    operation_id = yield from _start(client, bulk_orders_query(search))
    url = yield from _finished(client, operation_id)
    if url is None:
        return  # Shopify writes no file when the query matched nothing
    with client.download(url, "the bulk operation's result") as response:
        yield from result_pages(response.iter_lines())


def _start(client: StoreClient, query: str) -> Generator[OrderPage, None, str]:
    """Starts the operation, waiting while the shop runs as many as it may; its id."""
    waited = 0.0
    delay = _FIRST_LOOK
    while True:
        data = run_query(client, BULK_RUN_QUERY, {"query": query})
        payload = data.get("bulkOperationRunQuery")
        payload = payload if isinstance(payload, Mapping) else {}
        errors = [e for e in payload.get("userErrors") or [] if isinstance(e, Mapping)]
        operation = payload.get("bulkOperation")
        if not errors and isinstance(operation, Mapping) and operation.get("id"):
            return str(operation["id"])
        if not errors or not {str(e.get("code")) for e in errors} <= _BUSY_CODES:
            raise StoreDataError(
                f"Shopify refused the bulk query: {_messages(errors) or 'no operation'}",
                store_answer=str(payload),
            )
        if waited >= _BUSY_WAIT_SECONDS:
            raise StoreTransientError(
                "the shop's bulk operations stayed busy (other syncs, or other jobs of the app):"
                f" {_messages(errors)}; the next sync tries again",
                store_answer=str(payload),
            )
        logger.info("bulk operations busy (%s); waiting %.0fs", _messages(errors), delay)
        client.pause(delay)
        waited += delay
        delay = min(delay * 2, _LONGEST_LOOK)
        yield _WAITING


def _finished(client: StoreClient, operation_id: str) -> Generator[OrderPage, None, str | None]:
    """Follows the operation to its end; the url of its result (None: nothing matched)."""
    delay = _FIRST_LOOK
    while True:
        data = run_query(client, BULK_OPERATION_QUERY, {"id": operation_id})
        operation = data.get("bulkOperation")
        if not isinstance(operation, Mapping):
            raise StoreDataError(
                f"Shopify has no bulk operation {operation_id}", store_answer=str(data)
            )
        status = str(operation.get("status"))
        if status == "COMPLETED":
            url = operation.get("url")
            return str(url) if url else None
        if status not in _STILL_RUNNING:
            raise _failure(operation_id, status, operation)
        client.pause(delay)
        delay = min(delay * 2, _LONGEST_LOOK)
        yield _WAITING


def _failure(operation_id: str, status: str, operation: Mapping[str, Any]) -> Exception:
    answer = str(dict(operation))
    code = operation.get("errorCode")
    if status == "FAILED" and code == "ACCESS_DENIED":
        return StoreConfigError(
            f"Shopify's bulk operation {operation_id} failed: ACCESS_DENIED (the app lacks an"
            " access scope its orders need: read_orders, and read_all_orders for orders older"
            " than 60 days)",
            store_answer=answer,
            code="scope_missing",
        )
    if status == "FAILED":
        reason = {
            "TIMEOUT": "it ran out of time on Shopify's side",
            "INTERNAL_SERVER_ERROR": "Shopify had an internal error",
        }.get(str(code), "Shopify gave no reason")
        detail = f"failed: {code} ({reason})"
    elif status == "CANCELED":
        detail = "was cancelled"
    elif status == "EXPIRED":
        detail = "expired before its result was read"
    else:
        detail = f"ended in a status shoptrack does not know: {status}"
    return StoreTransientError(
        f"Shopify's bulk operation {operation_id} reading the orders {detail}; the backfill"
        " is not done, and the next sync starts it again",
        store_answer=answer,
    )


def result_pages(lines: Iterator[str]) -> Iterator[OrderPage]:
    """REST orders, a page at a time, from the result's lines: each order line followed by
    its line items (``__parentId``), one order held at a time."""
    page: list[dict[str, Any]] = []
    order: dict[str, Any] | None = None
    items: list[dict[str, Any]] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            record = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise StoreDataError(
                f"line {number} of the bulk operation's result is not JSON",
                store_answer=text[:2000],
            ) from error
        if not isinstance(record, dict):
            raise StoreDataError(
                f"line {number} of the bulk operation's result is not an object",
                store_answer=text[:2000],
            )
        parent = record.pop("__parentId", None)
        if parent is None:
            if order is not None:
                page.append(_rest(order, items))
                if len(page) >= BULK_PAGE:
                    yield OrderPage(page)
                    page = []
            order, items = record, []
        elif order is not None and parent == order.get("id"):
            items.append(record)
        else:
            raise StoreDataError(
                f"line {number} of the bulk operation's result belongs to {parent}, which is"
                " not the order just above it (the result is not grouped)",
                store_answer=text[:2000],
            )
    if order is not None:
        page.append(_rest(order, items))
    if page:
        yield OrderPage(page)


def _rest(order: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    order["lineItems"] = {"nodes": items}
    return rest_order(order)


def _messages(errors: list[Mapping[str, Any]]) -> str:
    return "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors[:3])
