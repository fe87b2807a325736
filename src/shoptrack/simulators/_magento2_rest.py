"""The Magento 2 simulator's REST API: ``/rest[/{store_code}]/V1/…`` as the webapi area answers.

A request meets, in order: the hosting's faults; the router (404 "Request does not match any
route."); the caller's identity (``_magento2_auth``; a refused OAuth request stops there); the
route's ACL resources (401 "The consumer isn't authorized to access %resources." for a guest);
the arguments (400); then the service. ``/index.php/rest/…`` (a store without URL rewrites)
answers the same.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from shoptrack.simulators._kit import behind_edge
from shoptrack.simulators._magento2_orders import (
    BASE_CURRENCY,
    STORES,
    SimulatedOrder,
    build_order,
    magento_time,
)
from shoptrack.simulators._magento2_search import SqlError, matching, ordered, parse_criteria
from shoptrack.simulators._magento2_web import (
    MagentoError,
    internal_error,
    magento_response,
    required,
)
from shoptrack.simulators._php import parse_str

if TYPE_CHECKING:
    from shoptrack.simulators.magento2 import Magento2Simulator

__all__ = ["RestApi"]

Handler = Callable[[Request, re.Match[str]], Awaitable[Response]]

_NO_ROUTE = "Request does not match any route."
_NOT_AUTHORIZED = "The consumer isn't authorized to access %resources."
_NO_ENTITY = "The entity that was requested doesn't exist. Verify the entity and try again."
_TYPE = (
    'The "%value" value\'s type is invalid. The "%type" type was expected. Verify and try again.'
)
# webapi/validation/* when "Enable Input Limits" is on (off by default).
_DEFAULT_PAGE_SIZE = 20
_MAXIMUM_PAGE_SIZE = 300
# Store codes a URL may carry: `all` for every store, and each store view's code.
_STORE_CODES = frozenset({"all", *(store.code for store in STORES)})


@dataclass(frozen=True, slots=True)
class _Service:
    method: str
    path: re.Pattern[str]
    resource: str | None  # the ACL resource a caller needs; None: anonymous
    handler: Handler


class RestApi:
    """The ``/rest/`` routes of one simulator."""

    def __init__(self, sim: Magento2Simulator) -> None:
        self.sim = sim
        self._services = (
            _Service("GET", re.compile(r"/V1/orders"), "Magento_Sales::actions_view", self._list),
            _Service(
                "GET", re.compile(r"/V1/orders/([^/]+)"), "Magento_Sales::actions_view", self._get
            ),
            _Service(
                "GET", re.compile(r"/V1/store/storeConfigs"), "Magento_Backend::store", self._stores
            ),
            _Service("POST", re.compile(r"/V1/orders"), "Magento_Sales::create", self._save),
            _Service(
                "POST",
                re.compile(r"/V1/orders/([^/]+)/cancel"),
                "Magento_Sales::cancel",
                self._cancel,
            ),
            _Service("POST", re.compile(r"/V1/integration/admin/token"), None, self._admin_token),
        )

    def routes(self) -> list[BaseRoute]:
        methods = ["GET", "POST", "PUT", "DELETE"]
        endpoint = behind_edge(self.sim, self._endpoint, internal_error)
        return [
            Route("/rest/{rest:path}", endpoint, methods=methods),
            Route("/index.php/rest/{rest:path}", endpoint, methods=methods),
        ]

    async def _endpoint(self, request: Request) -> Response:
        try:
            service, match = self._route(request)
            await self._authorize(request, service)
            return await service.handler(request, match)
        except MagentoError as error:
            return error.response()

    def _route(self, request: Request) -> tuple[_Service, re.Match[str]]:
        segments = request.path_params["rest"].strip("/").split("/")
        if segments[0] != "V1" and segments[0] in _STORE_CODES:
            segments = segments[1:]
        path = "/" + "/".join(segments)
        for service in self._services:
            match = service.path.fullmatch(path)
            if match is not None and service.method == request.method:
                return service, match
        raise MagentoError(_NO_ROUTE, 404)

    async def _authorize(self, request: Request, service: _Service) -> None:
        form = None
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = (await request.body()).decode("latin-1")
        url = request.url
        with self.sim._lock:
            caller = self.sim._auth.caller(
                method=request.method,
                url=f"{url.scheme}://{url.netloc}{url.path}",
                query=url.query,
                authorization=request.headers.get("authorization", ""),
                form=form,
                now=self.sim._now(),
            )
        if service.resource is not None and caller is None:
            raise MagentoError(_NOT_AUTHORIZED, 401, {"resources": service.resource})

    async def _list(self, request: Request, match: re.Match[str]) -> Response:
        """``salesOrderRepositoryV1GetListGet``: a ``sales-data-order-search-result-interface``."""
        criteria = parse_criteria(parse_str(request.url.query))
        with self.sim._lock:
            limits = self.sim.input_limits
            past_end = self.sim.past_end
            orders = list(self.sim._orders.values())
            page_size = criteria.page_size
            if page_size is None and limits:
                page_size = _DEFAULT_PAGE_SIZE
            if limits and page_size is not None and page_size > _MAXIMUM_PAGE_SIZE:
                raise MagentoError(
                    "Maximum SearchCriteria pageSize is %max", 400, {"max": _MAXIMUM_PAGE_SIZE}
                )
            built: dict[int, dict[str, Any]] = {}
            column = _columns(built)
            try:
                matched = matching(orders, column, criteria)
            except SqlError:
                return internal_error()
            total = len(matched)
            offset = 0
            if page_size:  # 0 or none: no LIMIT, every match
                page = max(criteria.current_page or 1, 1)
                if past_end == "last_page":
                    # Data\Collection::getCurPage() keeps the page within the last one.
                    page = min(page, max(1, math.ceil(total / page_size)))
                offset = (page - 1) * page_size
            rows = ordered(
                matched, column, criteria, plan=f"{offset}:{page_size}", salt=self.sim._salt
            )
            chosen = rows[offset : offset + page_size] if page_size else rows
            items = [built.get(order.entity_id) or build_order(order) for order in chosen]
        return magento_response(
            {"items": items, "search_criteria": criteria.echo(), "total_count": total}
        )

    async def _get(self, request: Request, match: re.Match[str]) -> Response:
        """``salesOrderRepositoryV1GetGet``: one order by ``entity_id``."""
        with self.sim._lock:
            return magento_response(build_order(self._found(match[1])))

    def _found(self, raw: str) -> SimulatedOrder:
        """The order whose ``entity_id`` the path gives (under the lock): 400 for an id that
        is no integer, 404 for no such order."""
        if not raw.isdigit():
            raise MagentoError(_TYPE, 400, {"value": raw, "type": "int"})
        order = self.sim._orders.get(int(raw))
        if order is None:
            raise MagentoError(_NO_ENTITY, 404)
        return order

    async def _save(self, request: Request, match: re.Match[str]) -> Response:
        """``salesOrderRepositoryV1SavePost``: ``{"entity": {...}}`` without an ``entity_id``
        creates the order (``customer_email`` required; ``status`` ``pending`` when not given,
        its state the status's; ``grand_total``; one line per item, from the catalogue)."""
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise MagentoError("Decoding error.", 400) from None
        entity = body.get("entity") if isinstance(body, dict) else None
        if not isinstance(entity, dict):
            raise required("entity")
        email = entity.get("customer_email")
        if not isinstance(email, str) or not email.strip():
            raise required("customer_email")
        status = str(entity.get("status") or "pending")
        items = [item for item in entity.get("items") or [] if isinstance(item, dict)]
        total = entity.get("grand_total")
        try:
            amount = None if total is None else Decimal(str(total))
        except InvalidOperation:
            raise MagentoError(_TYPE, 400, {"value": str(total), "type": "float"}) from None
        with self.sim._lock:
            try:
                self.sim._state(status)
            except ValueError:
                # [UNCERTAIN] Magento saves an unknown status as it is; the simulator refuses it.
                raise MagentoError(_TYPE, 400, {"value": status, "type": "status"}) from None
            (entity_id,) = self.sim.add_orders(
                statuses=(status,), email=email.strip(), total=amount, lines=len(items) or None
            )
            return magento_response(build_order(self.sim._orders[entity_id]))

    async def _cancel(self, request: Request, match: re.Match[str]) -> Response:
        """``salesOrderManagementV1CancelPost``: ``true`` once cancelled, ``false`` for an
        order that can no longer be (complete, closed or cancelled already)."""
        with self.sim._lock:
            order = self._found(match[1])
            if order.state in ("complete", "closed", "canceled"):
                return magento_response(False)
            self.sim.set_status(order.entity_id, "canceled")
        return magento_response(True)

    async def _stores(self, request: Request, match: re.Match[str]) -> Response:
        """``storeStoreConfigManagerV1GetStoreConfigsGet``: each store view's settings, the
        timezone (Stores > Configuration > General > Locale Options) among them."""
        base = f"{request.url.scheme}://{request.url.netloc}/"
        static = f"{base}static/version1700000000/"
        with self.sim._lock:
            zone = self.sim.site_timezone
        return magento_response(
            [
                {
                    "id": store.id,
                    "code": store.code,
                    "website_id": 1,
                    "locale": "en_US",
                    "base_currency_code": BASE_CURRENCY,
                    "default_display_currency_code": store.currency,
                    "timezone": zone,
                    "weight_unit": "lbs",
                    "base_url": base,
                    "base_link_url": base,
                    "base_static_url": static,
                    "base_media_url": f"{base}media/",
                    "secure_base_url": base,
                    "secure_base_link_url": base,
                    "secure_base_static_url": static,
                    "secure_base_media_url": f"{base}media/",
                }
                for store in STORES
            ]
        )

    async def _admin_token(self, request: Request, match: re.Match[str]) -> Response:
        """``integrationAdminTokenServiceV1CreateAdminAccessTokenPost`` (2FA switched off)."""
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise MagentoError("Decoding error.", 400) from None
        if not isinstance(body, dict):
            body = {}
        with self.sim._lock:
            token = self.sim._auth.admin_token(
                body.get("username"), body.get("password"), self.sim._now()
            )
        return magento_response(token)


# Columns read from the order itself; the others from the order as written.
_CHEAP_COLUMNS: dict[str, Callable[[SimulatedOrder], Any]] = {
    "entity_id": lambda order: order.entity_id,
    "increment_id": lambda order: order.increment_id,
    "status": lambda order: order.status,
    "state": lambda order: order.state,
    "created_at": lambda order: magento_time(order.created),
    "updated_at": lambda order: magento_time(order.updated),
    "customer_email": lambda order: order.email,
    "store_id": lambda order: order.store.id,
    "customer_is_guest": lambda order: int(order.guest),
    "order_currency_code": lambda order: order.store.currency,
}


def _columns(built: dict[int, dict[str, Any]]) -> Callable[[SimulatedOrder, str], Any]:
    """Reads a ``sales_order`` column of an order: the cheap ones from the order itself, the
    money ones from the order as written (built once per request, into ``built``)."""

    def column(order: SimulatedOrder, name: str) -> Any:
        cheap = _CHEAP_COLUMNS.get(name)
        if cheap is not None:
            return cheap(order)
        if order.entity_id not in built:
            built[order.entity_id] = build_order(order)
        return built[order.entity_id].get(name)

    return column
