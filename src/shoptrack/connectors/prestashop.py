"""PrestaShop 1.7 and 8.x: orders as the Webservice (``/api/``) writes them in JSON; polling only.

- The merchant creates a webservice key (Advanced Parameters > Webservice) with GET on
  ``orders``, ``customers``, ``currencies`` and ``configurations``; it is sent as the HTTP Basic
  user name with an empty password. A refused key is a 401 with PrestaShop's own error body
  (``{"errors":[{"code":20,"message":"Authentification key is not active"}]}``), a resource the
  key may not read a 401 with code 26, a method it may not use a 405 with code 25
  (``WebserviceRequest::authenticate``, ``checkResource``, ``checkHTTPMethod``).
- ``GET /api/orders?output_format=JSON&display=full&date=1&filter[date_upd]=[from,to]
  &sort=[date_upd_ASC,id_ASC]&limit=offset,count`` lists orders; ``[from,to]`` is an inclusive
  ``BETWEEN`` (``SQLUtils::getSQLRetrieveFilter``) and date filters need ``date=1``. An empty
  list is ``{"orders":[]}`` or, from the versions with issue #22760, a bare ``[]``: both end
  paging. There is no total count.
- Pages are read by key, not by offset: the next page starts at the last order's ``date_upd``
  and leaves out, by id (``filter[id]=![…]``), the orders of that second already read. An order
  modified during a sync leaves the window instead of shifting every later page by one.
- PrestaShop 1.7 writes every value as a string (but ``id``); 8.x writes integers as JSON
  integers. Both are read.
- The order carries neither the customer's email nor its currency's code: each page's
  customers and currencies are read in one request each (``filter[id]=[1|2|…]``), once per
  pass, and kept on the order under ``_customer`` and ``_currency``.
- Times are the shop's wall clock (``PS_TIMEZONE``, read from ``/api/configurations`` at the
  start of every pass and kept on the order under ``_shop``), ``YYYY-MM-DD HH:MM:SS`` without an
  offset. Windows are turned into wall-clock bounds for the filter, and updated times back into
  UTC. In the hour a daylight-saving fall-back repeats, a wall-clock time names two moments an
  hour apart and nothing in the order tells which: such an order is kept by any window that
  holds either moment, and its times read as the earlier one, which keeps the cursor behind
  the truth (the next sync reads it again, and dedupe drops it).
- PrestaShop has no webhooks (modules hook ``actionOrderStatusPostUpdate`` inside the shop).

No key of the Webservice's order starts with an underscore, so the keys shoptrack adds cannot
collide with PrestaShop's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from pydantic import field_validator

from shoptrack.connectors import fields
from shoptrack.connectors.base import (
    Credentials,
    OrderPage,
    RestConnector,
    Window,
    replace_origin,
    store_address,
)
from shoptrack.connectors.errors import StoreConfigError, StoreDataError, StoreError
from shoptrack.connectors.http import StoreClient, read_json
from shoptrack.connectors.paging import Paginator
from shoptrack.domain.order import LineItem, Order
from shoptrack.domain.status import StatusRules, StatusSet, status_rules

__all__ = [
    "CURRENCY_KEY",
    "CUSTOMER_KEY",
    "SHOP_KEY",
    "PrestaShop",
    "PrestaShopCredentials",
]

_ORDERS_PATH = "/api/orders"
_CUSTOMERS_PATH = "/api/customers"
_CURRENCIES_PATH = "/api/currencies"
_CONFIGURATIONS_PATH = "/api/configurations"
# What a kept order carries besides the API's fields: the shop's settings it was read with
# ({"PS_TIMEZONE": ...}), and its customer and currency as the Webservice wrote them.
SHOP_KEY = "_shop"
CUSTOMER_KEY = "_customer"
CURRENCY_KEY = "_currency"
# The customer's fields a kept order carries: enough for a profile, never the password hash or
# the secure key that `display=full` would bring along.
_CUSTOMER_FIELDS = "[id,email,firstname,lastname,newsletter,optin,is_guest]"
# A wall-clock time as the Webservice writes it (MySQL DATETIME).
_WALL_CLOCK = "%Y-%m-%d %H:%M:%S"
_NEVER = "0000-00-00 00:00:00"
# No clock change anywhere moves a wall clock by more than this (Lord Howe: 30 min, most
# zones: an hour, Antarctica/Troll: two).
_LARGEST_CLOCK_CHANGE = timedelta(hours=3)
# Ids of a second's orders already read that the next page leaves out by name; a longer run of
# orders updated in one second (a bulk action) is skipped by its count instead.
_MAX_LEFT_OUT = 500
# Webservice error codes (WebserviceRequest.php) that mean "this key may not do that".
_NOT_PERMITTED = {21, 25, 26}
_WEBSERVICE_DISABLED = 22
_ERROR_CODE = re.compile(r'"code"\s*:\s*"?(\d+)')
_SECOND = timedelta(seconds=1)


class PrestaShopCredentials(Credentials):
    """A PrestaShop webservice key (Advanced Parameters > Webservice) and the shop's address.

    ``base_url`` is the shop's address (``https://shop.example.com``, or with the folder it
    lives in); a trailing ``/api`` is accepted and dropped. The key needs GET on ``orders``,
    ``customers``, ``currencies`` and ``configurations``.
    """

    base_url: str
    webservice_key: str

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        store_address(value, "shop")
        base = value.split("?", 1)[0].split("#", 1)[0].rstrip("/")
        return base.removesuffix("/api").rstrip("/")

    @field_validator("webservice_key")
    @classmethod
    def _webservice_key(cls, value: str) -> str:
        # WebserviceRequest::authenticate() refuses any other length (error 18).
        if len(value) != 32 or any(character.isspace() for character in value):
            raise ValueError("must be the shop's 32-character webservice key")
        return value


@dataclass(frozen=True, slots=True)
class _After:
    """Where the next page of orders starts: at ``updated`` (the shop's wall clock, as the
    Webservice writes it; None for the window's start), leaving out the orders of that second
    already read, by id (``seen``) or, past ``_MAX_LEFT_OUT``, by count (``skip``)."""

    updated: str | None = None
    seen: tuple[int, ...] = ()
    skip: int = 0


def _shop_zone(shop: Mapping[str, Any]) -> ZoneInfo:
    """The time zone of the shop's settings kept under ``SHOP_KEY``; ``ValueError`` names what
    is wrong."""
    name = shop.get("PS_TIMEZONE")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{SHOP_KEY}.PS_TIMEZONE: expected a time zone, got {name!r}")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{SHOP_KEY}.PS_TIMEZONE: unknown time zone {name!r}") from None


class _UpdatedKeyset(Paginator[_After]):
    """Pages of orders sorted by ``date_upd`` then ``id``: after a full page, the next starts
    at the last order's ``date_upd``, leaving out that second's orders already read."""

    def __init__(self, page_size: int) -> None:
        super().__init__(_After())
        self._page_size = page_size

    def next_token(self, response: httpx.Response, records: int) -> _After | None:
        if records < self._page_size:
            return None
        rows = _order_rows(response)
        try:
            last = str(fields.present(rows[-1], "date_upd"))
            tie = tuple(_identifier(row, "id") for row in rows if str(row.get("date_upd")) == last)
        except ValueError as error:
            raise StoreDataError(
                f"the orders page cannot be paged on: {error}", store_answer=response.text
            ) from error
        current = self.current or _After()
        if current.updated != last:
            return _After(last, tie) if len(tie) <= _MAX_LEFT_OUT else _After(last, skip=len(tie))
        seen = current.seen + tie
        if current.skip or len(seen) > _MAX_LEFT_OUT:
            return _After(last, skip=current.skip + len(seen))
        return _After(last, seen)


class PrestaShop(RestConnector[PrestaShopCredentials]):
    """The PrestaShop connector (Webservice, JSON output, ``current_state`` as the status)."""

    platform: ClassVar[str] = "prestashop"
    credentials_model = PrestaShopCredentials
    display_name: ClassVar[str] = "PrestaShop"
    # 3 Processing in progress; 4 Shipped, 5 Delivered; 6 Canceled; 7 Refunded.
    default_rules: ClassVar[StatusRules] = status_rules(
        StatusSet.including(["3"]), fulfilled=["4", "5"], cancelled=["6"], refunded=["7"]
    )
    origin_field: ClassVar[str] = "base_url"
    # The Webservice has no maximum (`limit` is optional); a hundred full orders with their
    # lines is a page of a few hundred kilobytes.
    page_size: ClassVar[int] = 100
    # PS_OS_* states of a fresh 1.7/8 install (install-dev/data/xml/configuration.xml).
    status_labels: ClassVar[Mapping[str, str]] = MappingProxyType(
        {
            "1": "Awaiting check payment",
            "2": "Payment accepted",
            "3": "Processing in progress",
            "4": "Shipped",
            "5": "Delivered",
            "6": "Canceled",
            "7": "Refunded",
            "8": "Payment error",
            "9": "On backorder (paid)",
            "10": "Awaiting bank wire payment",
            "11": "Remote payment accepted",
            "12": "On backorder (not paid)",
            "13": "Awaiting Cash On Delivery validation",
        }
    )

    def origin(self, credentials: PrestaShopCredentials) -> str:
        return replace_origin(credentials.base_url, credentials.api_base_url)

    def auth(self, credentials: PrestaShopCredentials) -> httpx.Auth:
        """The key as the Basic user name, no password (webservice/dispatcher.php)."""
        return httpx.BasicAuth(credentials.webservice_key, "")

    def check_credentials(self, client: StoreClient) -> None:
        """Reads the shop's time zone, then one id of each resource a sync reads: a key that
        lacks one of the permissions fails here, naming it, rather than at the first sync."""
        self.shop_settings(client)
        for path in (_ORDERS_PATH, _CUSTOMERS_PATH, _CURRENCIES_PATH):
            _get(client, path, {"display": "[id]", "limit": "1"})

    def shop_settings(self, client: StoreClient) -> dict[str, str]:
        """What reading an order needs of the shop's settings (``PS_TIMEZONE``), as the shop
        wrote it; a time zone that cannot be read is a ``StoreDataError``."""
        response = _get(
            client,
            _CONFIGURATIONS_PATH,
            {"display": "[name,value,id_shop,id_shop_group]", "filter[name]": "PS_TIMEZONE"},
        )
        # Multistore shops may set a value per shop or group; the global one has neither.
        rows = sorted(_list(response, "configurations"), key=_scope)
        settings = {"PS_TIMEZONE": str(rows[0].get("value") or "") if rows else ""}
        try:
            _shop_zone(settings)
        except ValueError as error:
            raise StoreDataError(
                f"the shop's time zone cannot be read: {error}", store_answer=response.text
            ) from error
        return settings

    def orders_request(self, window: Window, token: Any) -> tuple[str, dict[str, Any]]:
        """The orders page ``token`` of ``window`` for a shop whose clock is UTC; a pass reads
        the shop's time zone first and asks with its wall clock (``order_pages``)."""
        return self._orders_request(_wall_bounds(window, UTC), token)

    def paginator(self) -> _UpdatedKeyset:
        return _UpdatedKeyset(self.page_size)

    def records(self, response: httpx.Response) -> list[dict[str, Any]]:
        """The orders of a page: ``{"orders": [...]}``, or ``[]`` for none."""
        return _order_rows(response)

    def order_pages(self, client: StoreClient, window: Window) -> Iterator[OrderPage]:
        """Every page of orders updated within ``window``: the shop's time zone first, then
        the orders whose wall-clock ``date_upd`` may lie within it, each kept with the shop's
        settings, its customer and its currency."""
        settings = self.shop_settings(client)
        zone = _shop_zone(settings)
        bounds = _wall_bounds(window, zone)
        customers: dict[int, dict[str, Any] | None] = {}
        currencies: dict[int, dict[str, Any] | None] = {}
        paginator = self.paginator()
        while not paginator.finished:
            path, params = self._orders_request(bounds, paginator.current)
            response = _get(client, path, params)
            rows = self.records(response)
            kept = [row for row in rows if _within(row, zone, window)]
            _look_up(client, "customers", kept, "id_customer", customers, display=_CUSTOMER_FIELDS)
            # A currency's fields changed in 1.7.6 (`precision`): all of them, whichever.
            _look_up(client, "currencies", kept, "id_currency", currencies, display="full")
            yield OrderPage(
                [
                    {
                        **row,
                        SHOP_KEY: settings,
                        CUSTOMER_KEY: customers.get(_reference(row, "id_customer")),
                        CURRENCY_KEY: currencies.get(_reference(row, "id_currency")),
                    }
                    for row in kept
                ]
            )
            paginator.advance(response, len(rows))

    def updated_at(self, raw: Mapping[str, Any]) -> datetime:
        """``date_upd`` in UTC; in a repeated hour, the earlier reading."""
        return _utc(raw, "date_upd", _shop_zone(fields.mapping(raw, SHOP_KEY)))

    def to_order(self, raw: Mapping[str, Any]) -> Order:
        """Maps one Webservice order kept with its shop's settings, customer and currency;
        ``ValueError`` names the first field that cannot be read."""
        zone = _shop_zone(fields.mapping(raw, SHOP_KEY))
        order_id = _identifier(raw, "id")
        currency = raw.get(CURRENCY_KEY)
        if not isinstance(currency, Mapping):
            raise ValueError(
                f"{CURRENCY_KEY}: missing (currency {raw.get('id_currency')!r} not found)"
            )
        customer = raw.get(CUSTOMER_KEY)
        customer = customer if isinstance(customer, Mapping) else {}
        places = _places(currency)
        customer_id = _optional_identifier(raw, "id_customer")
        rows = fields.object_list(fields.mapping(raw, "associations"), "order_rows")
        return Order(
            platform_order_id=str(order_id),
            # The reference ("XKBKNABJK") is what the shop's emails and account pages show.
            number=fields.optional_text(raw, "reference") or str(order_id),
            created_at=_utc(raw, "date_add", zone),
            updated_at=_utc(raw, "date_upd", zone),
            raw_status=str(_identifier(raw, "current_state")),
            total=_amount(raw, "total_paid_tax_incl", places, fallback="total_paid"),
            currency=fields.text(currency, "iso_code", f"{CURRENCY_KEY}.").upper(),
            email=fields.optional_text(customer, "email"),
            first_name=fields.optional_text(customer, "firstname"),
            last_name=fields.optional_text(customer, "lastname"),
            line_items=tuple(
                _line_item(row, f"associations.order_rows[{index}].", places)
                for index, row in enumerate(rows)
            ),
            discount_total=_amount(raw, "total_discounts_tax_incl", places, default=True),
            # Refunds are order slips, another resource; Refunded Order's value is the total.
            refunded_total=Decimal(0),
            # The customer's newsletter subscription; partner offers (`optin`) are not ours.
            accepts_marketing=_flag(customer, "newsletter"),
            is_test=False,  # PrestaShop has no test orders
            customer_id=str(customer_id) if customer_id else None,
        )

    def _orders_request(
        self, bounds: tuple[str, str], token: _After | None
    ) -> tuple[str, dict[str, Any]]:
        after = token or _After()
        low, high = bounds
        params: dict[str, Any] = {
            "display": "full",
            "date": "1",  # date filters exist only with it (issue #25334)
            "filter[date_upd]": f"[{after.updated or low},{high}]",
            "sort": "[date_upd_ASC,id_ASC]",
            "limit": f"{after.skip},{self.page_size}",
        }
        if after.seen:
            params["filter[id]"] = "![" + "|".join(map(str, after.seen)) + "]"
        return _ORDERS_PATH, params


# -- requests -----------------------------------------------------------------------------


def _get(client: StoreClient, path: str, params: Mapping[str, Any]) -> httpx.Response:
    """A JSON request to the Webservice; what a key may not do is said as such."""
    resource = path.removeprefix("/api/").split("/", 1)[0]
    try:
        return client.get(path, {"output_format": "JSON", **params})
    except StoreError as error:
        codes = _error_codes(error.store_answer)
        if codes & _NOT_PERMITTED:
            raise StoreConfigError(
                f"the webservice key may not read {resource}: tick GET for {resource} on the"
                " key (Advanced Parameters > Webservice)",
                store_status=error.store_status,
                store_answer=error.store_answer,
                code="scope_missing",
            ) from error
        if _WEBSERVICE_DISABLED in codes:
            raise StoreConfigError(
                "the shop's webservice is disabled: enable it under Advanced Parameters >"
                " Webservice",
                store_status=error.store_status,
                store_answer=error.store_answer,
            ) from error
        raise


def _scope(row: Mapping[str, Any]) -> tuple[bool, bool]:
    """Sorts a configuration's global value first, then a shop group's, then a shop's."""
    unset = (None, "", 0, "0")
    return row.get("id_shop") not in unset, row.get("id_shop_group") not in unset


def _error_codes(answer: str) -> set[int]:
    """The codes of a Webservice error body (``{"errors":[{"code":20,...}]}``), read from what
    may be an excerpt of it."""
    return {int(code) for code in _ERROR_CODE.findall(answer)}


def _list(response: httpx.Response, resource: str) -> list[dict[str, Any]]:
    """The objects of a list answer: ``{"<resource>": [...]}``, or ``[]`` for none (PrestaShop
    writes its empty PHP array; issues #10172, #22760, #26752)."""
    body = read_json(response, f"the {resource} list")
    if body in ([], {}):
        return []
    items = body.get(resource) if isinstance(body, Mapping) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise StoreDataError(
            f'the {resource} list is not {{"{resource}": [...]}}', store_answer=response.text
        )
    return items


def _order_rows(response: httpx.Response) -> list[dict[str, Any]]:
    return _list(response, "orders")


def _look_up(
    client: StoreClient,
    resource: str,
    orders: Sequence[Mapping[str, Any]],
    key: str,
    found: dict[int, dict[str, Any] | None],
    *,
    display: str,
) -> None:
    """Reads, in one request, the ``resource`` the orders refer to by ``key`` that ``found``
    does not hold yet; one that the shop no longer has is remembered as None."""
    wanted = sorted({_reference(order, key) for order in orders} - set(found) - {0})
    if not wanted:
        return
    response = _get(
        client,
        f"/api/{resource}",
        {"display": display, "filter[id]": "[" + "|".join(map(str, wanted)) + "]"},
    )
    for item in _list(response, resource):
        try:
            found[_identifier(item, "id")] = item
        except ValueError as error:
            raise StoreDataError(
                f"the {resource} list cannot be read: {error}", store_answer=response.text
            ) from error
    for missing in wanted:
        found.setdefault(missing, None)


# -- fields -------------------------------------------------------------------------------


def _identifier(raw: Mapping[str, Any], key: str, path: str = "") -> int:
    """A non-negative integer written as a JSON integer (8.x, and ``id``) or a string (1.7)."""
    value = fields.present(raw, key, path)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{path}{key}: expected a non-negative integer, got {value!r}")
    return value


def _reference(raw: Mapping[str, Any], key: str) -> int:
    """The id an order gives of another resource, 0 when it gives none it can be read by (the
    lookup leaves it out, and ``to_order`` names what is missing)."""
    try:
        return _optional_identifier(raw, key) or 0
    except ValueError:
        return 0


def _optional_identifier(raw: Mapping[str, Any], key: str, path: str = "") -> int | None:
    return None if raw.get(key) in (None, "") else _identifier(raw, key, path)


def _flag(raw: Mapping[str, Any], key: str) -> bool | None:
    value = raw.get(key)
    if value in (1, "1", True):
        return True
    if value in (0, "0", False):
        return False
    return None


def _places(currency: Mapping[str, Any]) -> int:
    # `precision` since 1.7.6; older shops round prices to two decimals.
    value = str(currency.get("precision", "2")).strip()
    return int(value) if value.isdigit() and int(value) <= 6 else 2


def _amount(
    raw: Mapping[str, Any],
    key: str,
    places: int,
    path: str = "",
    *,
    fallback: str | None = None,
    default: bool = False,
) -> Decimal:
    """An amount as the shop stores it (``"20.230000"``: DECIMAL(20,6)), to the currency's
    decimals when that loses nothing (the shop rounds amounts to them when it saves them)."""
    if fallback is not None and raw.get(key) in (None, ""):
        key = fallback
    value = fields.money(raw, key, path, default=Decimal(0) if default else None)
    try:
        shorter = value.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:  # more digits than any amount the shop stores
        return value
    return shorter if shorter == value else value


def _line_item(row: Mapping[str, Any], path: str, places: int) -> LineItem:
    quantity = _identifier(row, "product_quantity", path)
    # Prices with tax, as the order's total is: `unit_price_tax_incl` is what the line cost a
    # unit after reductions (`product_price` is the catalogue price without tax).
    unit = _amount(row, "unit_price_tax_incl", places, path)
    product_id = _optional_identifier(row, "product_id", path) or 0
    return LineItem(
        line_id=str(_identifier(row, "id", path)),
        # With the combination's attributes: "Hummingbird printed t-shirt - Size : S- Color : Red".
        name=fields.text(row, "product_name", path),
        quantity=quantity,
        item_price=unit,
        row_total=unit * quantity,
        product_id=str(product_id) if product_id else None,
        sku=fields.optional_text(row, "product_reference"),
    )


# -- the shop's wall clock ----------------------------------------------------------------


def _wall(moment: datetime, zone: tzinfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _clock_change(start: datetime, end: datetime, zone: tzinfo) -> datetime | None:
    """The moment (to the second) the zone's offset changes between ``start`` and ``end``,
    which must be closer than any two changes are; None if it does not."""
    before = start.astimezone(zone).utcoffset()
    if end <= start or end.astimezone(zone).utcoffset() == before:
        return None
    while end - start > _SECOND:
        middle = start + (end - start) / 2
        if middle.astimezone(zone).utcoffset() == before:
            start = middle
        else:
            end = middle
    # Zones change their offsets on a whole second: the one after `start`, at or before `end`.
    return start.replace(microsecond=0) + _SECOND


def _wall_bounds(window: Window, zone: tzinfo) -> tuple[str, str]:
    """The earliest and the latest wall-clock time the shop writes during ``window``: its
    ends' wall-clock times, unless the clocks go back near an end (the hour that follows is
    written with earlier wall-clock times than the moment before it)."""
    low, high = _wall(window.since, zone), _wall(window.until, zone)
    change = _clock_change(
        window.since, min(window.since + _LARGEST_CLOCK_CHANGE, window.until), zone
    )
    if change is not None:
        low = min(low, _wall(change, zone))
    change = _clock_change(
        max(window.until - _LARGEST_CLOCK_CHANGE, window.since), window.until, zone
    )
    if change is not None:
        high = max(high, _wall(change - _SECOND, zone))
    return low.strftime(_WALL_CLOCK), high.strftime(_WALL_CLOCK)


def _readings(raw: Mapping[str, Any], key: str, zone: tzinfo) -> tuple[datetime, ...]:
    """The UTC moments a wall-clock time of the order may stand for, earliest first: one, or
    two in the hour a fall-back repeats (and in a skipped hour, which the shop never writes)."""
    value = fields.present(raw, key)
    try:
        # The shop's wall clock: placed in its zone just below.
        wall = datetime.strptime(str(value).strip(), _WALL_CLOCK)  # noqa: DTZ007
    except ValueError:
        never = " (never set)" if value == _NEVER else ""
        raise ValueError(f"{key}: not a date-time{never}: {value!r}") from None
    return tuple(sorted({wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)}))


def _utc(raw: Mapping[str, Any], key: str, zone: tzinfo) -> datetime:
    return _readings(raw, key, zone)[0]


def _within(raw: Mapping[str, Any], zone: tzinfo, window: Window) -> bool:
    """Whether the order may have been updated within ``window`` (either reading of a
    repeated hour counts). A time that cannot be read fails the pass: nothing is dropped."""
    try:
        readings = _readings(raw, "date_upd", zone)
    except ValueError as error:
        raise StoreDataError(f"order {raw.get('id')!r}: {error}") from error
    return any(window.since <= moment <= window.until for moment in readings)
