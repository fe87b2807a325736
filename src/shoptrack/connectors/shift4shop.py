"""Shift4Shop (formerly 3dcart): orders as the REST API v1 returns them; polling only.

- One host serves every store (``https://apirest.3dcart.com``); three headers say which store
  and which app: ``SecureURL``, ``PrivateKey`` and ``Token``. Refused keys are a 401.
- ``GET /3dCartWebAPI/v1/Orders`` answers a bare JSON array and pages by records: ``limit``
  and a 1-based ``offset``. No match at all is a 404 ``No orders found.``, and an offset past
  the last record a 400 ``Offset amount exceeds the total number of records``: both end paging
  (as SkuVault's and ShipWorks' clients read them), neither is an error.
- Times are the store's wall clock, without an offset, in the store's time zone (``GET
  /StoreSettings``, ``StoreStandards.StoreTimeZone``), and the order has no currency (that is
  ``StoreStandards.CurrencyCode``). So every pass reads the store's settings first, and each
  order it keeps carries them under ``_store`` (see ``STORE_KEY``): ``updated_at`` and
  ``to_order`` read the order's times and currency with them, on the day it was fetched as on
  a replay.
- ``lastupdatestart``/``lastupdateend`` filter by whole days of that wall clock (SkuVault adds a
  day to the end and filters again itself). A pass asks for a day more on each side of the
  window than any time zone can need, and keeps the orders whose ``LastUpdate`` lies within it.
- In the hour a daylight-saving fall-back repeats, a wall-clock time names two moments an hour
  apart and nothing in the order tells which. Such an order is kept by any window that holds
  either moment (filtering nothing out wrongly), and its times read as the earlier one, which
  keeps the cursor behind the truth (the next sync reads it again, and dedupe drops it).
- Shift4Shop's webhooks carry no signature (and their payload is undocumented): its orders are
  polled only.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from pydantic import field_validator

from shoptrack.connectors import fields
from shoptrack.connectors.base import (
    Credentials,
    OrderPage,
    ProbeOrder,
    RestConnector,
    Window,
    created_id,
    replace_origin,
)
from shoptrack.connectors.errors import StoreDataError, StoreError
from shoptrack.connectors.http import StoreClient, read_json
from shoptrack.connectors.paging import OffsetPaginator
from shoptrack.domain.order import Address, LineItem, Order
from shoptrack.domain.status import StatusRules, StatusSet, status_rules

__all__ = ["STORE_KEY", "Shift4Shop", "Shift4ShopCredentials", "store_timezone"]

_API_ORIGIN = "https://apirest.3dcart.com"
_API = "/3dCartWebAPI/v1"
_ORDERS_PATH = f"{_API}/Orders"
_SETTINGS_PATH = f"{_API}/StoreSettings"
# Where a kept order carries the store's settings it was read with: the values as the store
# wrote them (``StoreTimeZone``, ``CurrencyCode``, ``DecimalPlacesOnPrice``, ``StoreSecureURL``).
# No key of the API starts with an underscore.
STORE_KEY = "_store"
# The answers that end paging (the wording of the API's error bodies, compared loosely).
_NO_ORDERS = "no orders found"
_OFFSET_PAST_END = "offset amount exceeds the total number of records"
# A host name: what the store's SecureURL header carries.
_HOST = re.compile(
    r"(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+"
)
_US_FORMATS = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p")
_TAG = re.compile(r"<[^>]*>")


class Shift4ShopCredentials(Credentials):
    """A Shift4Shop REST API app's keys for one store (Settings > Modules > REST API).

    ``private_key`` is the app's (Shift4Shop Developer Portal), ``token`` the one the store
    issued when the merchant authorised the app, ``secure_url`` the store's secure address.
    The app needs read access to Orders and Store Settings.
    """

    secure_url: str
    private_key: str
    token: str

    @field_validator("secure_url")
    @classmethod
    def _secure_url(cls, value: str) -> str:
        # Accept what merchants paste: the address with its scheme, a path or a trailing slash.
        given = value.strip().lower()
        host = urlsplit(given if "//" in given else f"//{given}").hostname or ""
        if not _HOST.fullmatch(host):
            raise ValueError("must be the store's secure URL, e.g. yourstore.3dcartstores.com")
        return host


class Shift4Shop(RestConnector[Shift4ShopCredentials]):
    """The Shift4Shop connector (REST API v1, ``OrderStatusID`` as the status)."""

    platform: ClassVar[str] = "shift4shop"
    credentials_model = Shift4ShopCredentials
    display_name: ClassVar[str] = "Shift4Shop"
    # 2 Processing, 4 Shipped; 5 Cancel; no status says refunded.
    default_rules: ClassVar[StatusRules] = status_rules(
        StatusSet.including(["2", "4"]), fulfilled=["4"], cancelled=["5"]
    )
    order_id_field: ClassVar[str] = "OrderID"
    # The API's maximum is undocumented: SkuVault reads 200 a page, ShipWorks 50. A larger
    # limit the API cut short would look like the last page.
    page_size: ClassVar[int] = 100
    # A new store's queues: 1 New ... 7 Not Completed, 11 Unpaid, 12 Review; 8-10 are the
    # custom slots a merchant names, which the doctor reports when no rule knows them.
    status_labels: ClassVar[Mapping[str, str]] = MappingProxyType(
        {
            "1": "New",
            "2": "Processing",
            "3": "Partial",
            "4": "Shipped",
            "5": "Cancel",
            "6": "Hold",
            "7": "Not Completed",
            "11": "Unpaid",
            "12": "Review",
        }
    )

    def origin(self, credentials: Shift4ShopCredentials) -> str:
        return replace_origin(_API_ORIGIN, credentials.api_base_url)

    def headers(self, credentials: Shift4ShopCredentials) -> dict[str, str]:
        return {
            "SecureURL": credentials.secure_url,
            "PrivateKey": credentials.private_key,
            "Token": credentials.token,
        }

    def check_credentials(self, client: StoreClient) -> None:
        """Reads the store's settings (which must be readable) and one order (a store without
        orders answers 404, which is fine)."""
        self.store_settings(client)
        self._orders(client, _ORDERS_PATH, {"limit": 1, "offset": 1})

    def store_settings(self, client: StoreClient) -> dict[str, Any]:
        """What ``to_order`` needs of the store's settings, as the store wrote it; a time zone
        or currency that cannot be read is a ``StoreDataError``."""
        response = client.get(_SETTINGS_PATH)
        body = read_json(response, "the store's settings")
        # Documented as one object; read a one-element array the way GET /Orders/{id} answers.
        if isinstance(body, list) and len(body) == 1:
            body = body[0]
        if not isinstance(body, Mapping):
            raise StoreDataError(
                "the store's settings are not an object", store_answer=response.text
            )
        try:
            standards = fields.mapping(body, "StoreStandards")
            store = {
                "StoreTimeZone": standards.get("StoreTimeZone"),
                "CurrencyCode": standards.get("CurrencyCode"),
                "DecimalPlacesOnPrice": standards.get("DecimalPlacesOnPrice"),
                "StoreSecureURL": fields.mapping(body, "StoreInformation").get("StoreSecureURL"),
            }
            _StoreContext.read(store)
        except ValueError as error:
            raise StoreDataError(
                f"the store's settings cannot be read: {error}", store_answer=response.text
            ) from error
        return store

    def orders_request(self, window: Window, token: Any) -> tuple[str, dict[str, Any]]:
        """Whole days of the store's wall clock: from the day before ``since``'s UTC date (no
        store is more than a day behind UTC) to two days after ``until``'s (no store is a day
        ahead, and ``lastupdateend`` may stop at the start of its day)."""
        return _ORDERS_PATH, {
            "lastupdatestart": _day(window.since - timedelta(days=1)),
            "lastupdateend": _day(window.until + timedelta(days=2)),
            "limit": self.page_size,
            "offset": token,
        }

    def paginator(self) -> OffsetPaginator:
        return OffsetPaginator(self.page_size, first_offset=1)

    def order_pages(self, client: StoreClient, window: Window) -> Iterator[OrderPage]:
        """Every page of orders updated within ``window``: the store's settings first, then
        the orders of the days around it, each kept with the settings when its ``LastUpdate``
        may lie within the window."""
        store = self.store_settings(client)
        zone = _StoreContext.read(store).zone
        paginator = self.paginator()
        while not paginator.finished:
            path, params = self.orders_request(window, paginator.current)
            response = self._orders(client, path, params)
            if response is None:
                return
            records = self.records(response)
            kept = [{**raw, STORE_KEY: store} for raw in records if _within(raw, zone, window)]
            yield OrderPage(kept)
            paginator.advance(response, len(records))

    def updated_at(self, raw: Mapping[str, Any]) -> datetime:
        """``LastUpdate`` in UTC (``OrderDate`` for an order never updated); in a repeated
        hour, the earlier reading."""
        return _updated(raw, _StoreContext.read(fields.mapping(raw, STORE_KEY)).zone)[0]

    def place_test_order(self, client: StoreClient, order: ProbeOrder) -> str | None:
        """``POST /Orders`` in 2 Processing (paid). Shift4Shop orders have no test flag: the
        payment method and the internal comments say it."""
        # [UNCERTAIN] whether the endpoint takes one Order object or a list; one is sent.
        response = client.request(
            "POST",
            _ORDERS_PATH,
            json={
                "BillingFirstName": order.first_name,
                "BillingLastName": order.last_name,
                "BillingEmail": order.email,
                "BillingPaymentMethod": "shoptrack test order (no payment taken)",
                "OrderStatusID": 2,
                "OrderAmount": float(order.price),
                "InternalComments": order.note,
                "OrderItemList": [
                    {
                        "ItemID": "shoptrack-test-order",
                        "ItemDescription": order.product_name,
                        "ItemQuantity": 1,
                        "ItemUnitPrice": float(order.price),
                    }
                ],
            },
        )
        return created_id(response, 0, "Value")

    def cancel_test_order(self, client: StoreClient, order_id: str) -> str:
        """``PUT /Orders/{id}/Status`` to 5 Cancel."""
        client.request("PUT", f"{_ORDERS_PATH}/{order_id}/Status", json={"OrderStatusID": 5})
        return "cancelled on the store"

    def to_order(self, raw: Mapping[str, Any]) -> Order:
        """Maps one v1 order kept with its store's settings; ``ValueError`` names the first
        field that cannot be read."""
        store = _StoreContext.read(fields.mapping(raw, STORE_KEY))
        order_id = fields.integer(raw, "OrderID")
        # Checkouts not completed (status 7) have no invoice number yet: 0.
        invoice = fields.optional_integer(raw, "InvoiceNumber") or 0
        prefix = fields.optional_text(raw, "InvoiceNumberPrefix") or ""
        customer_id = fields.optional_integer(raw, "CustomerID") or 0
        shipments = fields.object_list(raw, "ShipmentList")
        return Order(
            platform_order_id=str(order_id),
            number=f"{prefix}{invoice}" if invoice else str(order_id),
            created_at=_readings(raw, "OrderDate", store.zone)[0],
            updated_at=_updated(raw, store.zone)[0],
            raw_status=str(fields.integer(raw, "OrderStatusID")),
            total=store.amount(fields.money(raw, "OrderAmount")),
            currency=store.currency,
            email=fields.optional_text(raw, "BillingEmail"),
            phone=fields.optional_text(raw, "BillingPhoneNumber"),
            first_name=fields.optional_text(raw, "BillingFirstName"),
            last_name=fields.optional_text(raw, "BillingLastName"),
            line_items=fields.each(
                raw, "OrderItemList", lambda item, path: _line_item(item, path, store)
            ),
            discount_codes=tuple(
                code
                for promotion in fields.object_list(raw, "PromotionList")
                if (code := fields.optional_text(promotion, "Coupon"))
            ),
            # OrderDiscount is the coupon's and the automatic promotions' discounts together.
            discount_total=store.amount(
                abs(fields.money(raw, "OrderDiscount", default=Decimal(0)))
            ),
            # An order has no refunded amount, and no status means "refunded" (DESIGN.md).
            refunded_total=Decimal(0),
            billing_address=_address(raw, "Billing", phone="BillingPhoneNumber"),
            shipping_address=_address(shipments[0], "Shipment", phone="ShipmentPhone")
            if shipments
            else None,
            accepts_marketing=None,  # the order does not say
            is_test=False,  # Shift4Shop has no test orders
            customer_id=str(customer_id) if customer_id else None,  # 0 is a guest
        )

    def _orders(
        self, client: StoreClient, path: str, params: Mapping[str, Any]
    ) -> httpx.Response | None:
        """An orders page, or None where the store says there is none (the end of paging)."""
        try:
            return client.get(path, params)
        except StoreError as error:
            answer = error.store_answer.lower()
            if (error.store_status == 404 and _NO_ORDERS in answer) or (
                error.store_status == 400 and _OFFSET_PAST_END in answer
            ):
                return None
            raise


@dataclass(frozen=True, slots=True)
class _StoreContext:
    """The store's settings an order is read with."""

    zone: tzinfo
    currency: str
    places: int  # the decimals of the store's prices
    base_url: str | None  # where the store's relative image paths start

    @classmethod
    def read(cls, store: Mapping[str, Any]) -> _StoreContext:
        """Reads the settings kept under ``STORE_KEY``; ``ValueError`` names what is wrong."""
        if not store:
            raise ValueError(f"{STORE_KEY}: missing (orders are kept with their store's settings)")
        zone_name = store.get("StoreTimeZone")
        if not isinstance(zone_name, str):
            raise ValueError(f"StoreTimeZone: expected a time zone, got {zone_name!r}")
        currency = fields.text(store, "CurrencyCode")
        if not re.fullmatch(r"[A-Za-z]{3}", currency):
            raise ValueError(f"CurrencyCode: expected an ISO 4217 code, got {currency!r}")
        places = str(store.get("DecimalPlacesOnPrice") or "2").strip()
        if not places.isdigit() or int(places) > 6:
            raise ValueError(f"DecimalPlacesOnPrice: expected a digit, got {places!r}")
        base_url = fields.optional_text(store, "StoreSecureURL")
        return cls(store_timezone(zone_name), currency.upper(), int(places), base_url)

    def amount(self, value: Decimal) -> Decimal:
        """An amount to the store's decimals: the API writes money as JSON numbers, which drop
        trailing zeros (and may carry a double's noise)."""
        return value.quantize(Decimal(1).scaleb(-self.places), rounding=ROUND_HALF_UP)

    def url(self, path: str | None) -> str | None:
        """An image path as the store writes it (relative to the store), made absolute."""
        if not path:
            return None
        if urlsplit(path).scheme in ("http", "https"):
            return path
        if not self.base_url:
            return None
        base = self.base_url if "//" in self.base_url else f"https://{self.base_url}"
        return urljoin(base.rstrip("/") + "/", path.lstrip("/"))


def _line_item(item: Mapping[str, Any], path: str, store: _StoreContext) -> LineItem:
    quantity = fields.money(item, "ItemQuantity", path)  # a number, 2 or 2.0
    if quantity != quantity.to_integral_value() or quantity < 0:
        raise ValueError(f"{path}ItemQuantity: expected a whole quantity, got {quantity}")
    # The price of the chosen options comes beside the product's own unit price.
    unit = fields.money(item, "ItemUnitPrice", path) + fields.money(
        item, "ItemOptionPrice", path, default=Decimal(0)
    )
    catalog_id = fields.optional_integer(item, "CatalogID", path) or 0
    return LineItem(
        line_id=str(fields.integer(item, "ItemIndexID", path)),
        # The description may hold HTML (the options, line breaks).
        name=_plain(fields.text(item, "ItemDescription", path)),
        quantity=int(quantity),
        item_price=store.amount(unit),
        row_total=store.amount(unit * quantity),
        product_id=str(catalog_id) if catalog_id else None,  # 0: not in the catalogue
        sku=fields.optional_text(item, "ItemID"),
        image_url=store.url(fields.optional_text(item, "ItemImage1")),
    )


def _address(raw: Mapping[str, Any], prefix: str, *, phone: str) -> Address | None:
    def part(name: str) -> str | None:
        return fields.optional_text(raw, f"{prefix}{name}")

    address = Address(
        first_name=part("FirstName"),
        last_name=part("LastName"),
        company=part("Company"),
        address1=part("Address"),
        address2=part("Address2"),
        city=part("City"),
        # The store writes the state's and the country's codes ("FL", "US").
        region_code=part("State"),
        country_code=part("Country"),
        zip=part("ZipCode"),
        phone=fields.optional_text(raw, phone),
    )
    return None if address == Address() else address


def _plain(text: str) -> str:
    return " ".join(html.unescape(_TAG.sub(" ", text)).split())


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%m/%d/%Y")


# -- the store's wall clock ------------------------------------------------------------------


def _within(raw: Mapping[str, Any], zone: tzinfo, window: Window) -> bool:
    """Whether the order may have been updated within ``window`` (either reading of a
    repeated hour counts). A time that cannot be read fails the pass: nothing is dropped."""
    try:
        readings = _updated(raw, zone)
    except ValueError as error:
        raise StoreDataError(f"order {raw.get('OrderID')!r}: {error}") from error
    return any(window.since <= moment <= window.until for moment in readings)


def _updated(raw: Mapping[str, Any], zone: tzinfo) -> tuple[datetime, ...]:
    if _wall_clock(raw, "LastUpdate") is None:
        return _readings(raw, "OrderDate", zone)
    return _readings(raw, "LastUpdate", zone)


def _readings(raw: Mapping[str, Any], key: str, zone: tzinfo) -> tuple[datetime, ...]:
    """The UTC moments a time of the order may stand for, earliest first: one, or two in the
    hour a fall-back repeats (and in a skipped hour, which a store should never write)."""
    moment = _wall_clock(raw, key)
    if moment is None:
        raise ValueError(f"{key}: missing")
    if moment.tzinfo is not None:
        return (moment.astimezone(UTC),)
    return tuple(
        sorted({moment.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)})
    )


def _wall_clock(raw: Mapping[str, Any], key: str) -> datetime | None:
    """A time as the API writes it: ``2019-03-21T14:28:00`` (fractions and an offset allowed)
    or ``03/21/2019 14:28[:00]``; None when missing or never set (``0001-01-01``)."""
    value = raw.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key}: expected a date-time, got {value!r}")
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        for pattern in _US_FORMATS:
            try:
                # The store's wall clock: _readings puts it in the store's zone.
                moment = datetime.strptime(text, pattern)  # noqa: DTZ007
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"{key}: not a date-time: {value!r}") from None
    # .NET's DateTime.MinValue (0001-01-01T00:00:00) is what a date never set is written as.
    return None if moment.year == 1 else moment


# Windows time zone ids (what .NET's TimeZoneInfo names zones on Windows) and their display names
# without the "(UTC-05:00) " prefix, to IANA zones (CLDR's windowsZones, territory 001). How
# Shift4Shop writes StoreTimeZone is undocumented: these, IANA names and plain offsets are read.
_WINDOWS_ZONES = {
    "dateline standard time": "Etc/GMT+12",
    "utc-11": "Etc/GMT+11",
    "hawaiian standard time": "Pacific/Honolulu",
    "alaskan standard time": "America/Anchorage",
    "pacific standard time": "America/Los_Angeles",
    "us mountain standard time": "America/Phoenix",
    "mountain standard time": "America/Denver",
    "central america standard time": "America/Guatemala",
    "central standard time": "America/Chicago",
    "central standard time (mexico)": "America/Mexico_City",
    "canada central standard time": "America/Regina",
    "sa pacific standard time": "America/Bogota",
    "eastern standard time": "America/New_York",
    "us eastern standard time": "America/Indiana/Indianapolis",
    "atlantic standard time": "America/Halifax",
    "newfoundland standard time": "America/St_Johns",
    "e. south america standard time": "America/Sao_Paulo",
    "argentina standard time": "America/Argentina/Buenos_Aires",
    "pacific sa standard time": "America/Santiago",
    "utc": "Etc/UTC",
    "gmt standard time": "Europe/London",
    "greenwich standard time": "Atlantic/Reykjavik",
    "w. europe standard time": "Europe/Berlin",
    "central europe standard time": "Europe/Budapest",
    "romance standard time": "Europe/Paris",
    "central european standard time": "Europe/Warsaw",
    "gtb standard time": "Europe/Bucharest",
    "fle standard time": "Europe/Kiev",
    "israel standard time": "Asia/Jerusalem",
    "south africa standard time": "Africa/Johannesburg",
    "turkey standard time": "Europe/Istanbul",
    "russian standard time": "Europe/Moscow",
    "arabian standard time": "Asia/Dubai",
    "india standard time": "Asia/Kolkata",
    "china standard time": "Asia/Shanghai",
    "singapore standard time": "Asia/Singapore",
    "tokyo standard time": "Asia/Tokyo",
    "korea standard time": "Asia/Seoul",
    "w. australia standard time": "Australia/Perth",
    "cen. australia standard time": "Australia/Adelaide",
    "aus central standard time": "Australia/Darwin",
    "e. australia standard time": "Australia/Brisbane",
    "aus eastern standard time": "Australia/Sydney",
    "new zealand standard time": "Pacific/Auckland",
    # Display names.
    "coordinated universal time": "Etc/UTC",
    "hawaii": "Pacific/Honolulu",
    "alaska": "America/Anchorage",
    "pacific time (us & canada)": "America/Los_Angeles",
    "arizona": "America/Phoenix",
    "mountain time (us & canada)": "America/Denver",
    "central time (us & canada)": "America/Chicago",
    "eastern time (us & canada)": "America/New_York",
    "indiana (east)": "America/Indiana/Indianapolis",
    "atlantic time (canada)": "America/Halifax",
    "dublin, edinburgh, lisbon, london": "Europe/London",
    "amsterdam, berlin, bern, rome, stockholm, vienna": "Europe/Berlin",
    "brussels, copenhagen, madrid, paris": "Europe/Paris",
    "canberra, melbourne, sydney": "Australia/Sydney",
}
_DISPLAY = re.compile(r"\((?:GMT|UTC)(?:([+-])(\d{1,2}):?(\d{2}))?\)\s*(.*)", re.IGNORECASE)
_OFFSET = re.compile(r"(?:GMT|UTC)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?", re.IGNORECASE)


@functools.lru_cache(maxsize=256)
def store_timezone(name: str) -> tzinfo:
    """The zone a store's ``StoreTimeZone`` names: an IANA name (``America/New_York``), a
    Windows id (``Eastern Standard Time``), a display name (``(UTC-05:00) Eastern Time (US &
    Canada)``) or an offset (``-05:00``, ``GMT-5``: a fixed offset, without daylight saving).
    ``ValueError`` for anything else."""
    text = " ".join(name.split())
    if not text:
        raise ValueError("StoreTimeZone: empty")
    known = _WINDOWS_ZONES.get(text.lower())
    if known is not None:
        return ZoneInfo(known)
    display = _DISPLAY.fullmatch(text)
    if display:
        sign, hours, minutes, place = display.groups()
        known = _WINDOWS_ZONES.get(place.lower())
        if known is not None:
            return ZoneInfo(known)
        return _fixed(sign or "+", hours or "0", minutes)
    if text.upper() in ("GMT", "UTC", "Z"):
        return UTC
    offset = _OFFSET.fullmatch(text)
    if offset:
        return _fixed(*offset.groups())
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"StoreTimeZone: not a time zone shoptrack knows: {name!r}") from None


def _fixed(sign: str, hours: str, minutes: str | None) -> tzinfo:
    span = timedelta(hours=int(hours), minutes=int(minutes or 0))
    if span > timedelta(hours=14):
        raise ValueError(f"StoreTimeZone: offset out of range: {sign}{hours}:{minutes or '00'}")
    return timezone(-span if sign == "-" else span)
