"""The Shopify simulator's bulk query operations (shopify.dev, "Perform bulk operations with the
GraphQL Admin API"; ``bulkOperationRunQuery``, ``bulkOperation``, ``BulkOperation``).

- ``bulkOperationRunQuery(query, groupObjects)`` validates the query against the schema (its
  errors are ``userErrors`` of code ``INVALID``) and starts an operation, ``CREATED``. Up to
  ``MAX_RUNNING`` query operations run at once per shop (API versions 2026-01 and later); one
  more is refused with ``OPERATION_IN_PROGRESS`` [UNCERTAIN: the code Shopify gives at the
  limit of five; older versions said so of their single operation].
- By the simulator's clock an operation is ``RUNNING`` once created, and done
  ``bulk_seconds`` after (``COMPLETED``; ``FAILED`` with ``ACCESS_DENIED`` for a token without
  ``read_orders``; or what the ``bulk_outcome`` fault says). A completed operation's ``url``
  works for seven days, after which the operation is ``EXPIRED``; ``url`` is null when the
  query found nothing.
- The result is JSONL: one line per object; an object of a connection nested in a node (an
  order's line items) is a line of its own carrying ``__parentId``, the id of its parent, and is
  left out of the parent's line; ``first`` and ``after`` of connections are ignored (everything
  is read). With ``groupObjects: true`` each object's children come right after it; without
  (the default since 2026-01), they come after all the orders. The file is served by the
  simulator at the operation's ``url`` without the API's token (a signed URL, as Google Cloud
  Storage serves Shopify's), written as it is read from the orders matched at completion.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
    validate,
    value_from_ast_untyped,
)
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from shoptrack.simulators._shopify_graphql import admin_schema, matching_orders, order_node
from shoptrack.simulators._shopify_orders import Shop, SimulatedOrder

if TYPE_CHECKING:
    from shoptrack.simulators._shopify_rest import Token
    from shoptrack.simulators.shopify import ShopifySimulator

__all__ = ["MAX_RUNNING", "RESULT_LIFETIME", "BulkOperations"]

MAX_RUNNING = 5
RESULT_LIFETIME = timedelta(days=7)
# How the ``bulk_outcome`` fault may end operations (EXPIRED stands for a result whose seven days
# ran out before it was read).
OUTCOMES = ("COMPLETED", "FAILED", "CANCELED", "EXPIRED")
ERROR_CODES = ("ACCESS_DENIED", "INTERNAL_SERVER_ERROR", "TIMEOUT")
_RUNNING = ("CREATED", "RUNNING")
_CHUNK = 200  # orders rendered a lock at a time
# Lines nested in one order beyond this are not written (the simulator's orders have a few).
_MOST_CHILDREN = 250


@dataclass(slots=True)
class _Operation:
    id: int
    query: DocumentNode
    group: bool
    created: datetime
    token: Token
    outcome: tuple[str, str | None]
    status: str = "CREATED"
    completed: datetime | None = None
    error_code: str | None = None
    order_ids: list[int] = field(default_factory=list)
    objects: int = 0
    key: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    @property
    def gid(self) -> str:
        return f"gid://shopify/BulkOperation/{self.id}"


class BulkOperations:
    """The bulk query operations of one simulated shop (state under the simulator's lock)."""

    def __init__(self, sim: ShopifySimulator) -> None:
        self.sim = sim
        self._operations: dict[int, _Operation] = {}
        # The headers of each request for a result file, for tests to see what was sent.
        self.downloads: list[dict[str, str]] = []

    def statuses(self) -> list[str]:
        """Every operation's status now, oldest first."""
        with self.sim._lock:
            return [self._refresh(operation) for operation in self._operations.values()]

    def routes(self) -> list[BaseRoute]:
        return [Route("/bulk-operation-outputs/{name}", self._download, methods=["GET"])]

    # -- the GraphQL fields (called under the lock by the query root) -----------------------

    def run_query(self, token: Token, query: str, group: bool, base_url: str) -> dict[str, Any]:
        """``bulkOperationRunQuery``'s payload."""
        try:
            document = parse(query)
        except GraphQLError as error:
            return _refused("INVALID", f"Invalid bulk query: {error.message}")
        invalid = validate(admin_schema(), document)
        if invalid:
            return _refused("INVALID", f"Invalid bulk query: {invalid[0].message}")
        top = _top_field(document)
        if top is None or _node_selection(top) is None:
            return _refused("INVALID", "Bulk queries must contain at least one connection.")
        running = [op for op in self._operations.values() if self._refresh(op) in _RUNNING]
        if len(running) >= MAX_RUNNING:
            return _refused(
                "OPERATION_IN_PROGRESS",
                f"A bulk query operation for this app and shop is already in progress:"
                f" {running[0].gid}.",
            )
        sim = self.sim
        operation = _Operation(
            id=sim._ids.next(),
            query=document,
            group=group,
            created=sim._now(),
            token=token,
            outcome=sim.bulk_outcome,
        )
        self._operations[operation.id] = operation
        return {"bulkOperation": self._node(operation, base_url), "userErrors": []}

    def node(self, gid: str, base_url: str) -> dict[str, Any] | None:
        """``bulkOperation(id:)``: the operation as it is now, or None."""
        number = gid.removeprefix("gid://shopify/BulkOperation/")
        operation = self._operations.get(int(number)) if number.isdigit() else None
        if operation is None:
            return None
        self._refresh(operation)
        return self._node(operation, base_url)

    def _node(self, operation: _Operation, base_url: str) -> dict[str, Any]:
        url = None
        if operation.status == "COMPLETED" and operation.order_ids:
            url = (
                f"{base_url.rstrip('/')}/bulk-operation-outputs/{operation.id}-final"
                f"?Signature={operation.key}"
            )
        return {
            "id": operation.gid,
            "status": operation.status,
            "errorCode": operation.error_code,
            # UnsignedInt64 is written as a string.
            "objectCount": str(operation.objects),
            "rootObjectCount": str(len(operation.order_ids)),
            "url": url,
            "partialDataUrl": None,
        }

    # -- the operation's life, by the clock --------------------------------------------------

    def _refresh(self, operation: _Operation) -> str:
        now = self.sim._now()
        if operation.status in _RUNNING:
            if now >= operation.created + timedelta(seconds=self.sim.bulk_seconds):
                self._finish(operation, now)
            elif now > operation.created:
                operation.status = "RUNNING"
        if (
            operation.status == "COMPLETED"
            and operation.completed is not None
            and now >= operation.completed + RESULT_LIFETIME
        ):
            operation.status = "EXPIRED"
        return operation.status

    def _finish(self, operation: _Operation, now: datetime) -> None:
        status, error_code = operation.outcome
        if not operation.token.allows("read_orders"):
            status, error_code = "FAILED", "ACCESS_DENIED"
        operation.status, operation.error_code = status, error_code
        if status != "COMPLETED":
            return
        top = _top_field(operation.query)
        assert top is not None
        arguments = _arguments(top)
        chosen = matching_orders(
            self.sim,
            operation.token,
            query=arguments.get("query"),
            sort_key=arguments.get("sortKey") or "ID",
            reverse=bool(arguments.get("reverse")),
        )
        nested = _has_nested_connection(top)
        operation.order_ids = [order.id for order in chosen]
        operation.objects = len(chosen) + (
            sum(min(len(order.lines), _MOST_CHILDREN) for order in chosen) if nested else 0
        )
        operation.completed = now

    # -- the result file ---------------------------------------------------------------------

    async def _download(self, request: Request) -> Response:
        name = str(request.path_params["name"])
        number = name.removesuffix("-final")
        with self.sim._lock:
            self.downloads.append(dict(request.headers))
            operation = self._operations.get(int(number)) if number.isdigit() else None
            if operation is not None:
                self._refresh(operation)
            if (
                operation is None
                or operation.status != "COMPLETED"
                or not secrets.compare_digest(
                    request.query_params.get("Signature", ""), operation.key
                )
            ):
                # Google Cloud Storage's answer to a signature that does not match (or expired).
                return Response(
                    "<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
                    "<Message>Access denied.</Message></Error>",
                    403,
                    media_type="application/xml",
                )
        return StreamingResponse(self._lines(operation), media_type="application/jsonl")

    def _lines(self, operation: _Operation) -> Iterator[bytes]:
        top = _top_field(operation.query)
        assert top is not None
        selection = _node_selection(top)
        assert selection is not None
        fragments = _fragments(operation.query)
        # Grouped: each order then its children; ungrouped: every order, then every child.
        passes = ((True, True),) if operation.group else ((True, False), (False, True))
        for parents, children in passes:
            for start in range(0, len(operation.order_ids), _CHUNK):
                chunk: list[bytes] = []
                with self.sim._lock:
                    shop = self.sim._shop()
                    for order_id in operation.order_ids[start : start + _CHUNK]:
                        order = self.sim._orders.get(order_id)
                        if order is not None:
                            chunk.extend(
                                _order_lines(
                                    order,
                                    shop,
                                    selection,
                                    fragments,
                                    parents=parents,
                                    children=children,
                                )
                            )
                yield b"".join(chunk)


def _order_lines(
    order: SimulatedOrder,
    shop: Shop,
    selection: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    *,
    parents: bool,
    children: bool,
) -> Iterator[bytes]:
    found: list[dict[str, Any]] = []
    line = _project(selection, order_node(order, shop), fragments, found)
    if parents:
        yield orjson.dumps(line) + b"\n"
    if children:
        for child in found:
            yield orjson.dumps(child) + b"\n"


def _project(
    selection: SelectionSetNode,
    value: Mapping[str, Any],
    fragments: Mapping[str, FragmentDefinitionNode],
    children: list[dict[str, Any]],
) -> dict[str, Any]:
    """What ``selection`` selects of ``value`` (the simulator's resolved node); the nodes of
    nested connections go to ``children``, each with its ``__parentId``."""
    out: dict[str, Any] = {}
    for node in _fields(selection, fragments):
        key = node.alias.value if node.alias else node.name.value
        raw = value.get(node.name.value)
        arguments = _arguments(node)
        inner = _node_selection(node)
        if inner is not None:  # a connection: every node, as lines of their own
            if callable(raw):
                raw = raw(None, first=_MOST_CHILDREN)
            for item in (raw or {}).get("nodes") or []:
                child = _project(inner, item, fragments, children)
                child["__parentId"] = value.get("id")
                children.append(child)
            continue
        if callable(raw):
            raw = raw(None, **arguments)
        if node.selection_set is not None and isinstance(raw, Mapping):
            out[key] = _project(node.selection_set, raw, fragments, children)
        elif node.selection_set is not None and isinstance(raw, list):
            out[key] = [_project(node.selection_set, item, fragments, children) for item in raw]
        else:
            out[key] = raw
    return out


def _fields(
    selection: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    for node in selection.selections:
        if isinstance(node, FieldNode):
            yield node
        elif isinstance(node, FragmentSpreadNode):
            yield from _fields(fragments[node.name.value].selection_set, fragments)
        elif isinstance(node, InlineFragmentNode):
            yield from _fields(node.selection_set, fragments)


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _top_field(document: DocumentNode) -> FieldNode | None:
    operation = next(
        (d for d in document.definitions if isinstance(d, OperationDefinitionNode)), None
    )
    if operation is None or operation.operation.value != "query":
        return None
    fields = [s for s in operation.selection_set.selections if isinstance(s, FieldNode)]
    return fields[0] if len(fields) == 1 and fields[0].name.value == "orders" else None


def _node_selection(node: FieldNode) -> SelectionSetNode | None:
    """The selection of a connection's nodes (``edges { node }`` or ``nodes``); None when
    ``node`` selects no connection."""
    if node.selection_set is None:
        return None
    for child in node.selection_set.selections:
        if not isinstance(child, FieldNode) or child.selection_set is None:
            continue
        if child.name.value == "nodes":
            return child.selection_set
        if child.name.value == "edges":
            for edge in child.selection_set.selections:
                if isinstance(edge, FieldNode) and edge.name.value == "node":
                    return edge.selection_set
    return None


def _has_nested_connection(top: FieldNode) -> bool:
    selection = _node_selection(top)
    if selection is None:
        return False
    return any(
        isinstance(node, FieldNode) and _node_selection(node) is not None
        for node in selection.selections
    )


def _arguments(node: FieldNode) -> dict[str, Any]:
    return {
        argument.name.value: value_from_ast_untyped(argument.value, {})
        for argument in node.arguments or ()
    }


def _refused(code: str, message: str) -> dict[str, Any]:
    return {
        "bulkOperation": None,
        "userErrors": [{"field": ["query"] if code == "INVALID" else None, "message": message,
                        "code": code}],
    }  # fmt: skip
