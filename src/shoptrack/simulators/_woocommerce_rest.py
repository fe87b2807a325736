"""The WooCommerce simulator's REST API ``wc/v3``: each route as its WooCommerce controller
answers, behind the hosting's faults and ``WC_REST_Authentication``.

WordPress checks a request in this order, and so do these routes: the key (a refused key is a
401 before anything else), the key's read/write permission, the arguments (400
``rest_invalid_param``), the route's permission for an anonymous request (401
``woocommerce_rest_cannot_*``), then the handler.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from shoptrack.simulators._kit import behind_edge
from shoptrack.simulators._php import PhpArray, flatten, parse_str
from shoptrack.simulators._woocommerce_auth import ApiKey
from shoptrack.simulators._woocommerce_orders import (
    PAID_STATUSES,
    WC_VERSION,
    WP_VERSION,
    SimulatedOrder,
    build_order,
)
from shoptrack.simulators._woocommerce_webhooks import STATUSES as WEBHOOK_STATUSES
from shoptrack.simulators._woocommerce_webhooks import is_valid_topic, ping_request
from shoptrack.simulators._wordpress import QueryArgs, WPError, wp_response

if TYPE_CHECKING:
    from shoptrack.simulators.woocommerce import WooCommerceSimulator

__all__ = ["RestApi"]

Handler = Callable[[Request, ApiKey | None], Awaitable[Response]]

_CANNOT_LIST = ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
_CANNOT_VIEW = ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
_CANNOT_CREATE = (
    "woocommerce_rest_cannot_create",
    "Sorry, you are not allowed to create resources.",
)
_CANNOT_EDIT = ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.")
_CANNOT_DELETE = (
    "woocommerce_rest_cannot_delete",
    "Sorry, you are not allowed to delete this resource.",
)
_ORDER_BY = ("date", "id", "include", "title", "slug", "modified")
_CRITICAL_ERROR = (
    '<p>There has been a critical error on this website.</p><p><a href="https://wordpress.org/'
    'documentation/article/faq-troubleshooting/">'
    "Learn more about troubleshooting WordPress.</a></p>"
)


@dataclass(frozen=True, slots=True)
class _Listing:
    """What selects and orders the orders of ``GET …/orders`` (all but the page)."""

    statuses: tuple[str, ...]
    include: tuple[int, ...]
    exclude: tuple[int, ...]
    bounds: tuple[tuple[str, datetime | None], ...]
    gmt: bool
    orderby: str
    order: str


class RestApi:
    """The ``/wp-json/`` routes of one simulator."""

    def __init__(self, sim: WooCommerceSimulator) -> None:
        self.sim = sim
        # The last listing's orders, filtered and sorted, by its arguments and the store's
        # revision: a sync reads one listing page after page, and filtering every order for
        # each page would make a large store's pages slower the more orders it has (an index,
        # as MySQL's, avoids that in the real store).
        self._listing: tuple[tuple[_Listing, str, int], list[SimulatedOrder]] | None = None

    def routes(self) -> list[BaseRoute]:
        """The routes under ``/wp-json/``."""
        api = "/wp-json/wc/v3"
        edit = ["PUT", "POST", "PATCH"]
        return [
            Route("/wp-json/", self._site_index, methods=["GET"]),
            Route("/wp-json/wc/v3", self._namespace_index, methods=["GET"]),
            self._store(f"{api}/system_status", ["GET"], self._system_status),
            self._store(f"{api}/orders", ["GET"], self._list_orders),
            self._store(f"{api}/orders", ["POST"], self._create_order),
            self._store(f"{api}/orders/{{order_id:int}}", ["GET"], self._get_order),
            self._store(f"{api}/orders/{{order_id:int}}", edit, self._update_order),
            self._store(f"{api}/orders/{{order_id:int}}/refunds", ["POST"], self._create_refund),
            self._store(f"{api}/webhooks", ["GET"], self._list_webhooks),
            self._store(f"{api}/webhooks", ["POST"], self._create_webhook),
            self._store(
                f"{api}/webhooks/{{webhook_id:int}}", ["GET", *edit, "DELETE"], self._webhook
            ),
            # WordPress answers any other path or method under its prefix with rest_no_route.
            Route(
                "/wp-json/{rest:path}", _no_route, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]
            ),
        ]

    def _store(self, path: str, methods: list[str], handler: Handler) -> Route:
        """A WooCommerce route behind the edge (faults) and the key check."""

        async def endpoint(request: Request) -> Response:
            try:
                response = await handler(request, await self._authenticate(request))
            except WPError as error:
                return error.response()
            await self.sim._deliver_if_immediate()
            return response

        return Route(path, behind_edge(self.sim, endpoint, _critical_error), methods=methods)

    async def _authenticate(self, request: Request) -> ApiKey | None:
        form: PhpArray = {}
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = parse_str((await request.body()).decode("latin-1"))
        # WooCommerce signs its home URL's host, with the scheme is_ssl() says, and the path.
        netloc = urlsplit(self.sim.site_url).netloc if self.sim.site_url else request.url.netloc
        scheme = "https" if self.sim.https_mode else "http"
        with self.sim._lock:
            key = self.sim._auth.authenticate(
                method=request.method,
                url=f"{scheme}://{netloc}{request.url.path}",
                query=parse_str(request.url.query),
                form=form,
                authorization=request.headers.get("authorization", ""),
                now=self.sim._now(),
            )
            self.sim._auth.check_permission(key, request.method)
        return key

    async def _site_index(self, request: Request) -> Response:
        home = self.sim._home().rstrip("/")
        zone = self.sim._timezone()
        offset = (
            self.sim._now().astimezone(zone).utcoffset() or timedelta(0)
        ).total_seconds() / 3600
        return wp_response(
            {
                "name": "Simulated Shop",
                "description": "Just another WordPress site",
                "url": home,
                "home": home,
                "gmt_offset": int(offset) if offset.is_integer() else offset,
                "timezone_string": self.sim.site_timezone if isinstance(zone, ZoneInfo) else "",
                "namespaces": ["oembed/1.0", "wc/store/v1", "wc/v3", "wp/v2"],
                "authentication": [],
                "routes": {},
            }
        )

    async def _namespace_index(self, request: Request) -> Response:
        routes = {
            "/wc/v3/orders": ["GET", "POST"],
            "/wc/v3/orders/(?P<id>[\\d]+)": ["GET", "POST", "PUT", "PATCH"],
            "/wc/v3/orders/(?P<order_id>[\\d]+)/refunds": ["POST"],
            "/wc/v3/webhooks": ["GET", "POST"],
            "/wc/v3/webhooks/(?P<id>[\\d]+)": ["GET", "POST", "PUT", "PATCH", "DELETE"],
            "/wc/v3/system_status": ["GET"],
        }
        return wp_response(
            {
                "namespace": "wc/v3",
                "routes": {
                    path: {"namespace": "wc/v3", "methods": methods}
                    for path, methods in routes.items()
                },
            }
        )

    async def _system_status(self, request: Request, key: ApiKey | None) -> Response:
        _permit(key, _CANNOT_LIST)
        home = self.sim._home()
        return wp_response(
            {
                "environment": {
                    "home_url": home.rstrip("/"),
                    "site_url": home.rstrip("/"),
                    "version": WC_VERSION,
                    "wp_version": WP_VERSION,
                    "wp_multisite": False,
                    "default_timezone": "UTC",
                },
                "settings": {"api_enabled": True, "currency": "USD", "currency_symbol": "$"},
                "security": {"secure_connection": self.sim.https_mode, "hide_errors": True},
            }
        )

    async def _list_orders(self, request: Request, key: ApiKey | None) -> Response:
        query = parse_str(request.url.query)
        args = QueryArgs(query)
        page = args.integer("page", 1, minimum=1) or 1
        per_page = args.integer("per_page", 10, minimum=1, maximum=100) or 10
        offset = args.integer("offset", None)  # absint()-ed, as WordPress sanitizes it
        order = args.choice("order", "desc", ("asc", "desc"))
        orderby = args.choice("orderby", "date", _ORDER_BY)
        statuses = args.choices("status", "any", ("any", "trash", *self.sim._statuses()))
        include, exclude = args.ids("include"), args.ids("exclude")
        gmt = args.boolean("dates_are_gmt", False)
        bounds = {n: args.date(n) for n in ("after", "before", "modified_after", "modified_before")}
        args.check()
        _permit(key, _CANNOT_LIST)
        listing = _Listing(
            tuple(statuses),
            tuple(include),
            tuple(exclude),
            tuple(bounds.items()),
            gmt,
            orderby,
            order,
        )
        with self.sim._lock:
            rendering = self.sim._rendering()
            revision = (listing, self.sim.site_timezone, self.sim._revision)
            if self._listing is not None and self._listing[0] == revision:
                chosen = self._listing[1]
            else:
                chosen = self._choose(listing)
                self._listing = (revision, chosen)
        total, pages = len(chosen), math.ceil(len(chosen) / per_page)
        start = abs(offset) if offset is not None else (page - 1) * per_page
        body = [build_order(o, **rendering) for o in chosen[start : start + per_page]]
        headers = [("x-wp-total", str(total)), ("x-wp-totalpages", str(pages))]
        base = f"{rendering['site_url']}wp-json/wc/v3/orders"
        if page > 1:
            headers.append(
                ("link", f'<{_with_page(base, query, min(page - 1, pages))}>; rel="prev"')
            )
        if pages > page:
            headers.append(("link", f'<{_with_page(base, query, page + 1)}>; rel="next"'))
        return wp_response(body, 200, headers)

    def _choose(self, listing: _Listing) -> list[SimulatedOrder]:
        """The orders a listing's arguments select, in its order (under the store's lock)."""
        zone, include = self.sim._timezone(), listing.include
        bounds = dict(listing.bounds)
        chosen = [
            o
            for o in self.sim._orders.values()
            if _listed(o, listing.statuses, include, listing.exclude)
            and _within(o, bounds, UTC if listing.gmt else zone, zone)
        ]
        if listing.orderby == "include":
            chosen.sort(key=lambda o: include.index(o.id))
        else:
            sort_key: dict[str, Callable[[SimulatedOrder], Any]] = {
                "modified": lambda o: (o.modified, o.id),
                "id": lambda o: o.id,
            }
            chosen.sort(
                key=sort_key.get(listing.orderby, lambda o: (o.created, o.id)),
                reverse=listing.order == "desc",
            )
        return chosen

    async def _get_order(self, request: Request, key: ApiKey | None) -> Response:
        with self.sim._lock:
            order = self.sim._order(request.path_params["order_id"])
            _permit(key, _CANNOT_VIEW)
            return wp_response(build_order(order, **self.sim._rendering()))

    async def _create_order(self, request: Request, key: ApiKey | None) -> Response:
        body = await _body(request)
        status = str(body.get("status") or "pending")
        self.sim._check_status(status)
        _permit(key, _CANNOT_CREATE)
        items = [i for i in body.get("line_items") or [] if isinstance(i, Mapping)]
        totals = [i.get("total") for i in items]
        try:
            total = (
                sum((Decimal(str(t)) for t in totals), Decimal(0))
                if totals and all(totals)
                else None
            )
        except InvalidOperation:
            raise WPError("rest_invalid_param", "Invalid parameter(s): line_items", 400) from None
        billing = body.get("billing")
        email = billing.get("email") if isinstance(billing, Mapping) else None
        with self.sim._lock:
            order_id = self.sim.add_orders(
                statuses=(status,),
                email=str(email) if email else None,
                total=f"{total:.2f}" if total is not None else None,
                lines=len(items) or None,
            )[0]
            order = self.sim._orders[order_id]
            order.created_via = "rest-api"
            order.paid = None if status not in PAID_STATUSES else order.paid
            for name in ("payment_method", "payment_method_title", "customer_note"):
                if isinstance(body.get(name), str):
                    setattr(order, name, body[name])
            if body.get("set_paid") is True:
                self.sim._transition(order, "processing")  # payment_complete(), which saves again
                self.sim._queue("order.updated", order)
            location = f"{self.sim._home()}wp-json/wc/v3/orders/{order_id}"
            return wp_response(
                build_order(order, **self.sim._rendering()), 201, {"location": location}
            )

    async def _update_order(self, request: Request, key: ApiKey | None) -> Response:
        body = await _body(request)
        if "status" in body:
            self.sim._check_status(str(body["status"]))
        _permit(key, _CANNOT_EDIT)
        with self.sim._lock:
            order = self.sim._orders.get(request.path_params["order_id"])
            if order is None:
                raise WPError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 400)
            if "status" in body and body["status"] != order.status:
                self.sim._transition(order, str(body["status"]))
            if body.get("set_paid") is True and order.status in ("pending", "on-hold", "failed"):
                self.sim._transition(order, "processing")
            if isinstance(body.get("customer_note"), str):
                order.customer_note = body["customer_note"]
            order.modified = self.sim._now()  # every save through the API bumps it
            self.sim._queue("order.updated", order)
            return wp_response(build_order(order, **self.sim._rendering()))

    async def _create_refund(self, request: Request, key: ApiKey | None) -> Response:
        body = await _body(request)
        _permit(key, _CANNOT_CREATE)
        try:
            amount = Decimal(str(body.get("amount", "0")).strip() or "0")
        except InvalidOperation:
            raise WPError("rest_invalid_param", "Invalid parameter(s): amount", 400) from None
        with self.sim._lock:
            order = self.sim._orders.get(request.path_params["order_id"])
            if order is None:
                raise WPError("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404)
            api_refund = body.get("api_refund", True) not in (False, "false", "0", 0)
            refund = self.sim._refund(
                order, amount, str(body.get("reason") or ""), api_refund=api_refund
            )
            home, zone = self.sim._home(), self.sim._timezone()
        order_url = f"{home}wp-json/wc/v3/orders/{order.id}"
        return wp_response(
            {
                "id": refund.id,
                "date_created": _format(refund.created.astimezone(zone)),
                "date_created_gmt": _format(refund.created.astimezone(UTC)),
                "amount": f"{refund.amount:.2f}",
                "reason": refund.reason,
                "refunded_by": 1,
                "refunded_payment": refund.refunded_payment,
                "meta_data": [],
                "line_items": [],
                "_links": {
                    "self": [{"href": f"{order_url}/refunds/{refund.id}"}],
                    "collection": [{"href": f"{order_url}/refunds"}],
                    "up": [{"href": order_url}],
                },
            },
            201,
        )

    async def _list_webhooks(self, request: Request, key: ApiKey | None) -> Response:
        args = QueryArgs(parse_str(request.url.query))
        status = args.choice("status", "all", ("all", *WEBHOOK_STATUSES))
        page = args.integer("page", 1, minimum=1) or 1
        per_page = args.integer("per_page", 10, minimum=1, maximum=100) or 10
        args.check()
        _permit(key, _CANNOT_LIST)
        with self.sim._lock:
            chosen = [w for w in self.sim._subscriptions.values() if status in ("all", w.status)]
            chosen.sort(key=lambda w: (w.created, w.id), reverse=True)
            zone = self.sim._timezone()
            body = [
                w.as_json(self.sim._home(), zone)
                for w in chosen[(page - 1) * per_page :][:per_page]
            ]
        headers = {
            "x-wp-total": str(len(chosen)),
            "x-wp-totalpages": str(math.ceil(len(chosen) / per_page)),
        }
        return wp_response(body, 200, headers)

    async def _create_webhook(self, request: Request, key: ApiKey | None) -> Response:
        body = await _body(request)
        missing = [name for name in ("topic", "delivery_url") if name not in body]
        if missing:
            message = f"Missing parameter(s): {', '.join(missing)}"
            raise WPError("rest_missing_callback_param", message, 400, data={"params": missing})
        args = QueryArgs({"status": str(body.get("status") or "active")})
        status = args.choice("status", "active", WEBHOOK_STATUSES)
        args.check()
        _permit(key, _CANNOT_CREATE)
        topic, url = str(body["topic"]).strip().lower(), str(body["delivery_url"]).strip()
        if not is_valid_topic(topic):
            raise WPError(
                "woocommerce_rest_shop_webhook_invalid_topic",
                "Webhook topic is required and must be valid.",
                400,
            )
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise WPError(
                "woocommerce_rest_shop_webhook_invalid_delivery_url",
                "Webhook delivery URL must be a valid URL starting with http:// or https://.",
                400,
            )
        secret = str(body.get("secret") or "") or secrets.token_urlsafe(32)
        webhook = self.sim.add_webhook(
            topic, url, secret=secret, name=str(body.get("name") or ""), status=status
        )
        # Sent before the answer, as create_item() does; its outcome changes nothing.
        await self.sim._send_now(ping_request(webhook))
        with self.sim._lock:
            document = webhook.as_json(self.sim._home(), self.sim._timezone())
        location = f"{self.sim._home()}wp-json/wc/v3/webhooks/{webhook.id}"
        return wp_response(document, 201, {"location": location})

    async def _webhook(self, request: Request, key: ApiKey | None) -> Response:
        body = await _body(request) if request.method != "GET" else {}
        if request.method == "DELETE":
            force = QueryArgs(parse_str(request.url.query)).boolean("force", False)
            _permit(key, _CANNOT_DELETE)
            if not force:
                raise WPError(
                    "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.", 501
                )
        _permit(key, _CANNOT_VIEW if request.method == "GET" else _CANNOT_EDIT)
        with self.sim._lock:
            webhook = self.sim._subscriptions.get(request.path_params["webhook_id"])
            if webhook is None:
                raise WPError("woocommerce_rest_shop_webhook_invalid_id", "Invalid ID.", 404)
            if request.method == "DELETE":
                del self.sim._subscriptions[webhook.id]
            elif request.method != "GET":
                if body.get("status") in WEBHOOK_STATUSES:
                    webhook.status = str(body["status"])
                for name in ("name", "delivery_url", "secret"):
                    if isinstance(body.get(name), str) and body[name]:
                        setattr(webhook, name, body[name])
                webhook.modified = self.sim._now()
            return wp_response(webhook.as_json(self.sim._home(), self.sim._timezone()))


def _permit(key: ApiKey | None, refusal: tuple[str, str]) -> None:
    # An anonymous request reaches the route and its permission check refuses it.
    if key is None:
        raise WPError(refusal[0], refusal[1], 401)


def _listed(
    order: SimulatedOrder, statuses: Sequence[str], include: Sequence[int], exclude: Sequence[int]
) -> bool:
    if "any" in statuses:
        if order.status == "trash":
            return False
    elif order.status not in statuses:
        return False
    return (not include or order.id in include) and order.id not in exclude


def _within(
    order: SimulatedOrder, bounds: Mapping[str, datetime | None], column: tzinfo, site: tzinfo
) -> bool:
    for name, bound in bounds.items():
        if bound is None:
            continue
        moment = order.created if name in ("after", "before") else order.modified
        value = moment.astimezone(column).replace(tzinfo=None)
        # WP_Date_Query::build_mysql_datetime() writes a bound with an offset in site time.
        limit = bound if bound.tzinfo is None else bound.astimezone(site).replace(tzinfo=None)
        if (value <= limit) if name.endswith("after") else (value >= limit):
            return False
    return True


def _with_page(base: str, query: PhpArray, page: int) -> str:
    # add_query_arg( 'page', N, $base ): the request's own arguments, oauth_* included.
    params = dict(query)
    params["page"] = str(page)
    return f"{base}?{urlencode(flatten(params))}"


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return dict(parse_str(raw.decode("latin-1")))
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise WPError("rest_invalid_json", "Invalid JSON body passed.", 400) from None
    return body if isinstance(body, dict) else {}


async def _no_route(request: Request) -> Response:
    return WPError(
        "rest_no_route", "No route was found matching the URL and request method.", 404
    ).response()


def _critical_error() -> Response:
    body = {"code": "internal_server_error", "message": _CRITICAL_ERROR, "data": {"status": 500}}
    return wp_response(body | {"additional_errors": []}, 500)


def _format(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")
