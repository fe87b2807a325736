"""Filling a PostgreSQL database with a big shop for ``bench/scale.py``: one account, six
integrations and millions of events over months, every table processing derives written as it
would leave it, streamed by COPY. ``bench/scale.py``'s docstring describes the shop; this module
makes it.
"""

from __future__ import annotations

import argparse
import bisect
import calendar
import itertools
import random
import time
from array import array
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import psycopg
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import select, update

import shoptrack
from shoptrack.domain.events import Metric, order_events
from shoptrack.domain.order import Address, LineItem, Order
from shoptrack.domain.status import Lifecycle
from shoptrack.ids import new_id
from shoptrack.services import Services
from shoptrack.simulators.history import FIRST_NAMES, HOUR_WEIGHTS, LAST_NAMES, WEEKDAY_WEIGHTS
from shoptrack.store.accounts import create_account
from shoptrack.store.inbox import InboxEntry, write_entries
from shoptrack.store.integrations import create_integration
from shoptrack.store.order_states import order_snapshot
from shoptrack.store.schema import inbox, integrations, metrics, sync_runs
from shoptrack.users import create_user

__all__ = [
    "ACCOUNT_NAME",
    "BENCH_PASSWORD",
    "EMAIL",
    "SEED",
    "STORES",
    "Progress",
    "email_of",
    "fill",
]

ACCOUNT_NAME = "Scale shop"
EMAIL = "bench@example.com"
BENCH_PASSWORD = "bench password long enough"  # noqa: S105  # a throwaway database's user
SEED = 13
DELIVERIES = 1_000  # processed deliveries per integration, for the pages that list them
PROGRESS_SECONDS = 0.5


# --- the shop: its stores, catalogue and people --------------------------------------------------


@dataclass(frozen=True, slots=True)
class StorePlan:
    """One of the account's stores: its platform, its share of the visits, its currency, the raw
    status its orders end in for each outcome, and the share of its orders that are tests."""

    platform: str
    label: str
    share: float
    currency: str
    statuses: dict[str, str]
    test_share: float = 0.0


STORES = (
    StorePlan(
        "shopify",
        "Shopify",
        0.30,
        "USD",
        # Shopify's status is the financial one; fulfilment and cancellation have their times.
        {"open": "paid", "fulfilled": "paid", "cancelled": "voided", "refunded": "refunded"},
        test_share=0.002,
    ),
    StorePlan(
        "woocommerce",
        "WooCommerce",
        0.24,
        "EUR",
        {
            "open": "processing",
            "fulfilled": "completed",
            "cancelled": "cancelled",
            "refunded": "refunded",
        },
    ),
    StorePlan(
        "bigcommerce",
        "BigCommerce",
        0.16,
        "USD",
        {"open": "11", "fulfilled": "10", "cancelled": "5", "refunded": "4"},
    ),
    StorePlan(
        "magento2",
        "Magento 2",
        0.12,
        "GBP",
        {
            "open": "processing",
            "fulfilled": "complete",
            "cancelled": "canceled",
            "refunded": "closed",
        },
    ),
    StorePlan(
        "prestashop",
        "PrestaShop",
        0.10,
        "EUR",
        {"open": "3", "fulfilled": "5", "cancelled": "6", "refunded": "7"},
    ),
    StorePlan(
        "shift4shop",
        "Shift4Shop",
        0.08,
        "CAD",
        {"open": "2", "fulfilled": "4", "cancelled": "5"},  # no refund status
    ),
)

# A visit: this many Viewed Product (one drawn at random), then the chances of going on to the
# next step — Added to Cart, Started Checkout, an order.
VIEWS = (1, 1, 1, 1, 2, 2, 2, 3, 3, 4)
ADDED_TO_CART = 0.35
STARTED_CHECKOUT = 0.6
ORDERED = 0.7
# Where an order ends: (outcome, weight); "open" orders stay placed. Orders newer than the time
# an outcome takes are still open.
OUTCOMES = (("fulfilled", 84), ("open", 6), ("cancelled", 6), ("refunded", 4))
# The share of a profile's visits to its own store (the others go anywhere).
LOYALTY = 0.9
# How busy the shop is on its first day against its last (it grows steadily).
GROWTH_FROM = 0.5

_ADJECTIVES = (
    "Classic", "Organic", "Vintage", "Everyday", "Premium", "Handmade", "Compact", "Deluxe",
    "Recycled", "Travel", "Heritage", "Studio", "Outdoor", "Soft", "Bold", "Minimal",
)  # fmt: skip
_NOUNS = (
    "Mug", "Tee", "Hoodie", "Backpack", "Notebook", "Candle", "Scarf", "Water Bottle", "Cap",
    "Tote Bag", "Lamp", "Blanket", "Socks", "Planter", "Apron", "Wallet", "Sneakers", "Jacket",
    "Teapot", "Cutting Board", "Headphones", "Poster", "Puzzle", "Sunglasses", "Watch",
)  # fmt: skip
_CATEGORIES = (
    "Kitchen", "Apparel", "Accessories", "Home", "Outdoor", "Stationery", "Gifts", "Sale",
    "New Arrivals", "Bestsellers", "Eco", "Travel",
)  # fmt: skip
_BRANDS = (
    "Northwind", "Acme", "Fjord", "Lumen", "Marlow", "Oakridge", "Pioneer", "Quill", "Redwood",
    "Solstice", "Tidewater", "Umber",
)  # fmt: skip
# Cities by currency: (city, region, region code, country, country code, zip prefix).
_CITIES = {
    "USD": (
        ("Portland", "Oregon", "OR", "United States", "US", "972"),
        ("Austin", "Texas", "TX", "United States", "US", "787"),
        ("Boston", "Massachusetts", "MA", "United States", "US", "021"),
        ("Denver", "Colorado", "CO", "United States", "US", "802"),
    ),
    "EUR": (
        ("Berlin", "Berlin", "BE", "Germany", "DE", "101"),
        ("Lyon", "Auvergne-Rhone-Alpes", "ARA", "France", "FR", "690"),
        ("Utrecht", "Utrecht", "UT", "Netherlands", "NL", "351"),
        ("Porto", "Porto", "13", "Portugal", "PT", "400"),
    ),
    "GBP": (
        ("Leeds", "England", "ENG", "United Kingdom", "GB", "LS1"),
        ("Bristol", "England", "ENG", "United Kingdom", "GB", "BS1"),
        ("Glasgow", "Scotland", "SCT", "United Kingdom", "GB", "G1 "),
    ),
    "CAD": (
        ("Toronto", "Ontario", "ON", "Canada", "CA", "M5V"),
        ("Vancouver", "British Columbia", "BC", "Canada", "CA", "V6B"),
    ),
}
_STREETS = ("Main Street", "Oak Avenue", "Harbour Road", "Station Lane", "Mill Street", "Park Row")
_CENT = Decimal("0.01")
_ZERO = Decimal(0)
_SHIPPING = Decimal("4.95")


@dataclass(frozen=True, slots=True)
class Product:
    """A product of the catalogue (the same in every store; its links are the store's)."""

    id: str
    name: str
    sku: str
    price: Decimal
    categories: tuple[str, ...]
    brand: str
    slug: str


def catalogue(rng: random.Random) -> list[Product]:
    products = []
    for number, (adjective, noun) in enumerate(itertools.product(_ADJECTIVES, _NOUNS)):
        slug = f"{adjective}-{noun}".lower().replace(" ", "-")
        products.append(
            Product(
                id=str(5000 + number),
                name=f"{adjective} {noun}",
                sku=f"SKU-{number:05d}",
                price=Decimal(rng.randrange(450, 18_000)) / 100,
                categories=tuple(rng.sample(_CATEGORIES, rng.choice((1, 2, 2, 3)))),
                brand=rng.choice(_BRANDS),
                slug=slug,
            )
        )
    return products


def email_of(person: int) -> str:
    first = FIRST_NAMES[person % len(FIRST_NAMES)]
    last = LAST_NAMES[(person // len(FIRST_NAMES)) % len(LAST_NAMES)]
    return f"{first}.{last}.{person}@example.com"


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = tuple(a + b for a in _CROCKFORD for b in _CROCKFORD)


class Ulids:
    """ULIDs as ``shoptrack.ids.new_id`` makes them, from a seeded generator and quickly: the
    time's ten digits, then sixteen random ones from a pool taken in turn. The n-th id adds
    n mod 1,000 milliseconds to its time, so two ids of one second can be equal only when
    made 8,192,000 ids apart (a multiple of both 1,000 and the pool's size), where the events
    of one second are made within weeks of each other."""

    def __init__(self, rng: random.Random, pool: int = 1 << 16) -> None:
        self._pool = [
            "".join(_PAIRS[(value >> shift) & 0x3FF] for shift in range(70, -1, -10))
            for value in (rng.getrandbits(80) for _ in range(pool))
        ]
        self._size = pool
        self._made = 0

    def __call__(self, seconds: int) -> str:
        made = self._made
        self._made = made + 1
        milliseconds = seconds * 1000 + made % 1000
        pairs = _PAIRS
        return (
            pairs[milliseconds >> 40 & 0x3FF]
            + pairs[milliseconds >> 30 & 0x3FF]
            + pairs[milliseconds >> 20 & 0x3FF]
            + pairs[milliseconds >> 10 & 0x3FF]
            + pairs[milliseconds & 0x3FF]
            + self._pool[made % self._size]
        )


# --- streaming rows by COPY ----------------------------------------------------------------------


class CopyStream:
    """One table's rows, written by COPY on a connection of its own (a writer thread sends
    them while the caller makes more); ``FREEZE``, so the table is truncated first in the same
    transaction. ``switch`` moves on to another table (the next partition) in that
    transaction."""

    def __init__(self, url: str, columns: str) -> None:
        self.connection = psycopg.connect(url)
        try:  # no foreign key triggers (every key is made here); a superuser's setting
            self.connection.execute("SET session_replication_role = replica")
        except psycopg.errors.InsufficientPrivilege:
            self.connection.rollback()
        self._cursor = self.connection.cursor()
        self._columns = columns
        self._context: Any = None
        self._copy: Any = None
        self.table: str | None = None
        self.rows = 0

    def switch(self, table: str) -> None:
        self._end()
        self._cursor.execute(f"TRUNCATE {table}")
        self._context = self._cursor.copy(
            f"COPY {table} ({self._columns}) FROM STDIN WITH (FREEZE)",
            writer=QueuedLibpqWriter(self._cursor),
        )
        self._copy = self._context.__enter__()
        self.table = table

    def write(self, lines: list[str]) -> None:
        if lines:
            self._copy.write("".join(lines))
            self.rows += len(lines)

    def _end(self) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = self._copy = None

    def commit(self) -> None:
        self._end()
        self.connection.commit()
        self.connection.close()


EVENT_COLUMNS = (
    "id, time, account_id, metric_id, profile_id, integration_id, unique_id, value, "
    "value_currency, properties, backfill, received_at, inbox_id, test"
)
KEY_COLUMNS = "account_id, metric_id, unique_id, event_id, time"
ORDER_COLUMNS = (
    "integration_id, platform_order_id, account_id, raw_status, platform_updated_at, "
    "order_created_at, email, placed_recorded_at, fulfilled_recorded_at, cancelled_recorded_at, "
    "refunded_recorded_at, skipped, snapshot, first_seen_at, last_seen_at"
)
PROFILE_COLUMNS = (
    "id, account_id, email, phone_number, first_name, last_name, properties, created_at, "
    "updated_at, last_event_at"
)
ROLLUP_COLUMNS = "account_id, metric_id, hour, currency, test, count, value_sum"
PROFILE_ORDER_COLUMNS = (
    "profile_id, currency, account_id, orders, placed_value, refunded_value, first_order_at, "
    "last_order_at"
)
NULL = "\\N"


def copy_text(text: str) -> str:
    """``text`` as a field of COPY's text format (the generated values hold no tab or
    newline; a backslash, as JSON may hold, is doubled)."""
    return text.replace("\\", "\\\\") if "\\" in text else text


# --- the filler ----------------------------------------------------------------------------------


@dataclass(slots=True)
class OrderTotals:
    """A profile's orders in one currency: count, placed and refunded value, first and last
    (``profile_orders``)."""

    orders: int = 0
    placed: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    first: int = 0
    last: int = 0


@dataclass(slots=True)
class Progress:
    """A line on the terminal, rewritten at most twice a second: how many so far, how fast."""

    unit: str = "rows"
    started: float = field(default_factory=time.perf_counter)
    shown: float = 0.0

    def show(self, label: str, done: int, total: int | None, *, final: bool = False) -> None:
        now = time.perf_counter()
        if not final and now - self.shown < PROGRESS_SECONDS:
            return
        self.shown = now
        elapsed = max(now - self.started, 1e-9)
        share = f" of ~{total:,} ({done / total:.0%})" if total else ""
        print(
            f"\r  {label}: {done:,}{share} {self.unit}, {done / elapsed:,.0f} {self.unit}/s, "
            f"{elapsed:.0f} s   ",
            end="\n" if final else "",
            flush=True,
        )


class Filler:
    """Generates the shop day by day and streams its rows (see the module's docstring)."""

    def __init__(
        self,
        url: str,
        account_id: str,
        integration_ids: list[str],
        metric_ids: dict[tuple[int, str], str],
        *,
        events: int,
        profiles: int,
        days: int,
        now: datetime,
    ) -> None:
        self.rng = random.Random(SEED)
        self.url = url
        self.account_id = account_id
        self.integration_ids = integration_ids
        self.profiles = profiles
        self.target = events
        self.end = int(now.timestamp())
        first_day = now.astimezone(UTC).date() - timedelta(days=days - 1)
        self.first_day = first_day
        self.start = calendar.timegm(first_day.timetuple())
        self.days = days
        self.products = catalogue(self.rng)
        self.ulid = Ulids(self.rng)
        self.profile_ids = [self.ulid(self.start - 86_400) for _ in range(profiles)]
        self.first_event = array("q", bytes(8 * profiles))
        self.last_event = array("q", bytes(8 * profiles))
        self.rollups: dict[tuple[str, int, str, bool], list[Any]] = {}
        self.profile_orders: dict[tuple[int, str], OrderTotals] = {}
        self.pending: dict[int, list[str]] = {}  # event rows by the day they happen
        self.key_lines: list[str] = []
        self.order_lines: list[str] = []
        self.order_numbers = [1000] * len(STORES)
        self.checkouts = itertools.count(700_000)
        self.events = 0
        self.orders = 0
        self.store_cumulative = list(itertools.accumulate(store.share for store in STORES))
        self.outcome_cumulative = list(itertools.accumulate(w for _, w in OUTCOMES))
        self.hour_cumulative = list(itertools.accumulate(HOUR_WEIGHTS))
        # Times as COPY reads them: the day's date, then the second's " HH:MM:SS+00".
        self.stamps = [
            f" {h:02d}:{m:02d}:{s:02d}+00" for h in range(24) for m in range(60) for s in range(60)
        ]
        epoch = date(1970, 1, 1)
        self.day_texts = {
            day: (epoch + timedelta(days=day)).isoformat()
            for day in range(self.start // 86_400 - 2, self.end // 86_400 + 2)
        }
        self.store_metrics = [
            {name: metric_ids[(index, name)] for (index, name) in metric_ids if index == store}
            for store in range(len(STORES))
        ]
        self.currencies = [store.currency for store in STORES]
        self.viewed = [
            [self._viewed_properties(store, product) for product in self.products]
            for store in STORES
        ]
        self.version = shoptrack.__version__

    # -- time --

    def stamp(self, moment: int) -> str:
        day, second = divmod(moment, 86_400)
        return self.day_texts[day] + self.stamps[second]

    # -- the plan --

    def visits_per_event(self) -> float:
        """Visits per event, from a short simulation of the visit plan (its own generator)."""
        rng = random.Random(SEED + 1)
        events = 0
        tries = 20_000
        for _ in range(tries):
            events += rng.choice(VIEWS)
            if rng.random() < ADDED_TO_CART:
                events += 1
                items = 1 + (rng.random() < 0.3) + (rng.random() < 0.1)
                if rng.random() < STARTED_CHECKOUT:
                    events += 1
                    if rng.random() < ORDERED:
                        outcome = self._outcome(rng.random())
                        events += 1 + items + (outcome != "open") + (outcome == "refunded")
        return tries / events

    def _outcome(self, draw: float) -> str:
        index = bisect.bisect(self.outcome_cumulative, draw * self.outcome_cumulative[-1])
        return OUTCOMES[index][0]

    def day_weights(self) -> list[float]:
        weights = []
        for day in range(self.days):
            moment = self.first_day + timedelta(days=day)
            growth = GROWTH_FROM + (1 - GROWTH_FROM) * day / max(self.days - 1, 1)
            weights.append(growth * WEEKDAY_WEIGHTS[moment.weekday()])
        return weights

    # -- running --

    def run(self) -> None:
        events = CopyStream(self.url, EVENT_COLUMNS)
        keys = CopyStream(self.url, KEY_COLUMNS)
        orders = CopyStream(self.url, ORDER_COLUMNS)
        keys.switch("event_keys")
        orders.switch("order_states")
        visits = self.target * self.visits_per_event()
        weights = self.day_weights()
        total_weight = sum(weights)
        progress = Progress()
        owed = 0.0
        rng = self.rng
        for day in range(self.days):
            owed += visits * weights[day] / total_weight
            count = int(owed)
            owed -= count
            day_start = self.start + day * 86_400
            month = f"events_{(self.first_day + timedelta(days=day)):%Y_%m}"
            if events.table != month:
                events.switch(month)
            hour_weights = self.hour_cumulative
            for _ in range(count):
                hour = bisect.bisect(hour_weights, rng.random() * hour_weights[-1])
                moment = day_start + hour * 3600 + int(rng.random() * 3600)
                if moment < self.end:
                    self.visit(moment)
            events.write(self.pending.pop(day_start // 86_400, []))
            keys.write(self.key_lines)
            orders.write(self.order_lines)
            self.key_lines.clear()
            self.order_lines.clear()
            progress.show("events", events.rows, self.target)
        progress.show("events", events.rows, self.target, final=True)
        print(f"  {self.orders:,} orders; committing…", flush=True)
        for stream in (events, keys, orders):
            stream.commit()
        self.write_profiles()
        self.write_rollups()

    def visit(self, moment: int) -> None:
        """One visit of a profile to a store: products viewed, and maybe a cart, a checkout and
        an order."""
        rng = self.rng
        products = len(self.products)
        person = int(self.profiles * rng.random() ** 1.6)  # a few people visit a lot
        # Most visits are to the person's own store.
        draw = (
            (person * 2_654_435_761 >> 7) % 1000 / 1000 if rng.random() < LOYALTY else rng.random()
        )
        index = min(bisect.bisect(self.store_cumulative, draw), len(STORES) - 1)
        viewed = [int(products * rng.random() ** 2) for _ in range(rng.choice(VIEWS))]
        for product in viewed:
            properties, price = self.viewed[index][product]
            self.event(
                index, Metric.VIEWED_PRODUCT, person, moment, self.token(), properties, price
            )
            moment += 20 + int(rng.random() * 100)
        if rng.random() >= ADDED_TO_CART:
            return
        cart = [viewed[-1]]
        cart += [
            int(products * rng.random() ** 2)
            for _ in range((rng.random() < 0.3) + (rng.random() < 0.1))
        ]
        quantities = [1 if rng.random() < 0.8 else 2 for _ in cart]
        properties, value = self._added_to_cart(STORES[index], cart, quantities)
        self.event(index, Metric.ADDED_TO_CART, person, moment, self.token(), properties, value)
        moment += 60 + int(rng.random() * 540)
        if rng.random() >= STARTED_CHECKOUT:
            return
        checkout = next(self.checkouts)
        properties, value = self._started_checkout(STORES[index], cart, quantities, checkout)
        unique_id = f"checkout-{checkout}"
        self.event(index, Metric.STARTED_CHECKOUT, person, moment, unique_id, properties, value)
        moment += 60 + int(rng.random() * 840)
        if rng.random() < ORDERED:
            self.order(index, person, moment, cart, quantities)

    def token(self) -> str:
        return f"{self.rng.getrandbits(64):016x}"

    def event(  # noqa: PLR0917  # the fill's hottest call: positional arguments are quicker
        self,
        store: int,
        metric: str,
        person: int,
        moment: int,
        unique_id: str,
        properties: str,
        value: Decimal | None = None,
        test: bool = False,
    ) -> None:
        """One event's row, its key, and what it adds to the rollups and its profile (the
        hottest code of the fill: times are looked up, not formatted)."""
        if moment >= self.end:
            return
        metric_id = self.store_metrics[store][metric]
        event_id = self.ulid(moment)
        day, second = divmod(moment, 86_400)
        stamp = self.day_texts[day] + self.stamps[second]
        received = self.day_texts[day + (second >= 86_398)] + self.stamps[(second + 2) % 86_400]
        currency = self.currencies[store] if value is not None else ""
        self.pending.setdefault(day, []).append(
            f"{event_id}\t{stamp}\t{self.account_id}\t{metric_id}\t{self.profile_ids[person]}\t"
            f"{self.integration_ids[store]}\t{unique_id}\t{NULL if value is None else value}\t"
            f"{currency or NULL}\t{properties}\tf\t{received}\t{NULL}\t{'t' if test else 'f'}\n"
        )
        self.key_lines.append(f"{self.account_id}\t{metric_id}\t{unique_id}\t{event_id}\t{stamp}\n")
        key = (metric_id, moment // 3600, currency, test)
        rollup = self.rollups.get(key)
        if rollup is None:
            self.rollups[key] = [1, value or _ZERO]
        else:
            rollup[0] += 1
            if value is not None:
                rollup[1] += value
        first_event = self.first_event
        if not first_event[person] or moment < first_event[person]:
            first_event[person] = moment
        self.last_event[person] = max(self.last_event[person], moment)
        self.events += 1

    # -- onsite events, as the tracker sends them --

    def _viewed_properties(self, store: StorePlan, product: Product) -> tuple[str, Decimal | None]:
        domain = f"{store.platform}.shop.example.com"
        document = {
            "URL": f"https://{domain}/products/{product.slug}",
            "ProductID": product.id,
            "ProductName": product.name,
            "SKU": product.sku,
            "Price": float(product.price),
            "ImageURL": f"https://cdn.{domain}/images/{product.slug}.jpg",
            "Categories": list(product.categories),
            "Brand": product.brand,
            "$tracker_version": shoptrack.__version__,
        }
        return copy_text(orjson.dumps(document).decode()), product.price

    def _items(
        self, store: StorePlan, cart: list[int], quantities: list[int]
    ) -> list[dict[str, Any]]:
        domain = f"{store.platform}.shop.example.com"
        items = []
        for number, quantity in zip(cart, quantities, strict=True):
            product = self.products[number]
            items.append(
                {
                    "ProductID": product.id,
                    "ProductName": product.name,
                    "SKU": product.sku,
                    "ItemPrice": float(product.price),
                    "Quantity": quantity,
                    "ProductURL": f"https://{domain}/products/{product.slug}",
                    "ImageURL": f"https://cdn.{domain}/images/{product.slug}.jpg",
                    "Categories": list(product.categories),
                    "RowTotal": float(product.price * quantity),
                }
            )
        return items

    def _added_to_cart(
        self, store: StorePlan, cart: list[int], quantities: list[int]
    ) -> tuple[str, Decimal]:
        items = self._items(store, cart, quantities)
        added = items[-1] if len(items) == 1 else items[0]
        value = sum(
            (self.products[n].price * q for n, q in zip(cart, quantities, strict=True)), Decimal(0)
        )
        document = {
            "AddedItemProductID": added["ProductID"],
            "AddedItemProductName": added["ProductName"],
            "AddedItemSKU": added["SKU"],
            "AddedItemCategories": added["Categories"],
            "AddedItemImageURL": added["ImageURL"],
            "AddedItemURL": added["ProductURL"],
            "AddedItemPrice": added["ItemPrice"],
            "AddedItemQuantity": added["Quantity"],
            "Items": items,
            "ItemNames": [item["ProductName"] for item in items],
            "CheckoutURL": f"https://{store.platform}.shop.example.com/checkout",
            "$value": float(value),
            "$tracker_version": self.version,
        }
        return copy_text(orjson.dumps(document).decode()), value

    def _started_checkout(
        self, store: StorePlan, cart: list[int], quantities: list[int], checkout_id: int
    ) -> tuple[str, Decimal]:
        items = self._items(store, cart, quantities)
        value = sum(
            (self.products[n].price * q for n, q in zip(cart, quantities, strict=True)), Decimal(0)
        )
        document = {
            "CheckoutID": str(checkout_id),
            "Items": items,
            "CheckoutURL": f"https://{store.platform}.shop.example.com/checkout/{checkout_id}",
            "ItemNames": [item["ProductName"] for item in items],
            "Categories": list(dict.fromkeys(c for item in items for c in item["Categories"])),
            "$value": float(value),
            "$event_id": str(checkout_id),
            "$tracker_version": self.version,
        }
        return copy_text(orjson.dumps(document).decode()), value

    # -- orders, as processing records them --

    def _address(self, person: int, currency: str) -> Address:
        city, region, code, country, country_code, zip_prefix = _CITIES[currency][
            person % len(_CITIES[currency])
        ]
        first = FIRST_NAMES[person % len(FIRST_NAMES)].title()
        last = LAST_NAMES[(person // len(FIRST_NAMES)) % len(LAST_NAMES)].title()
        return Address(
            first_name=first,
            last_name=last,
            address1=f"{1 + person % 240} {_STREETS[person % len(_STREETS)]}",
            city=city,
            region=region,
            region_code=code,
            country=country,
            country_code=country_code,
            zip=f"{zip_prefix}{person % 100:02d}",
            phone=f"+1555{person % 10_000_000:07d}",
        )

    def order(
        self, index: int, person: int, moment: int, cart: list[int], quantities: list[int]
    ) -> None:
        rng = self.rng
        store = STORES[index]
        self.order_numbers[index] += 1
        number = self.order_numbers[index]
        outcome = self._outcome(rng.random())
        outcome = outcome if outcome in store.statuses else "fulfilled"
        later = {
            "fulfilled": rng.randrange(86_400, 4 * 86_400),
            "cancelled": rng.randrange(600, 86_400),
            "refunded": rng.randrange(6 * 86_400, 20 * 86_400),
            "open": 0,
        }[outcome]
        if moment + later >= self.end:
            outcome, later = "open", 0
        changed = moment + later
        fulfilled = moment + rng.randrange(86_400, 2 * 86_400) if outcome == "refunded" else None
        domain = f"{store.platform}.shop.example.com"
        lines = []
        for line, (product_number, quantity) in enumerate(zip(cart, quantities, strict=True)):
            product = self.products[product_number]
            lines.append(
                LineItem(
                    line_id=str(number * 10 + line),
                    name=product.name,
                    quantity=quantity,
                    item_price=product.price,
                    row_total=product.price * quantity,
                    product_id=product.id,
                    sku=product.sku,
                    product_url=f"https://{domain}/products/{product.slug}",
                    image_url=f"https://cdn.{domain}/images/{product.slug}.jpg",
                    categories=product.categories,
                    brand=product.brand,
                )
            )
        discount = Decimal(0)
        codes: tuple[str, ...] = ()
        subtotal = sum((line.row_total for line in lines), Decimal(0))
        if rng.random() < 0.12:
            codes, discount = ("WELCOME10",), (subtotal / 10).quantize(_CENT)
        total = subtotal - discount + _SHIPPING
        address = self._address(person, store.currency)
        created = datetime.fromtimestamp(moment, UTC)
        test = rng.random() < store.test_share
        order = Order(
            platform_order_id=str(number),
            number=f"#{number}",
            created_at=created,
            updated_at=datetime.fromtimestamp(changed, UTC),
            raw_status=store.statuses[outcome],
            total=total,
            currency=store.currency,
            email=email_of(person),
            phone=address.phone,
            first_name=address.first_name,
            last_name=address.last_name,
            line_items=tuple(lines),
            discount_codes=codes,
            discount_total=discount,
            refunded_total=total if outcome == "refunded" else Decimal(0),
            billing_address=address,
            shipping_address=address,
            is_test=test,
            fulfilled_at=None
            if fulfilled is None and outcome != "fulfilled"
            else datetime.fromtimestamp(fulfilled or changed, UTC),
            cancelled_at=datetime.fromtimestamp(changed, UTC) if outcome == "cancelled" else None,
        )
        stages = {
            "open": (Lifecycle.PLACED,),
            "fulfilled": (Lifecycle.PLACED, Lifecycle.FULFILLED),
            "cancelled": (Lifecycle.PLACED, Lifecycle.CANCELLED),
            "refunded": (Lifecycle.PLACED, Lifecycle.FULFILLED, Lifecycle.REFUNDED),
        }[outcome]
        documents: dict[int, str] = {}
        recorded: dict[str, int] = {}
        for draft in order_events(order, stages, backfill=False):
            when = int(draft.time.timestamp())
            text = documents.get(id(draft.properties))
            if text is None:
                text = documents[id(draft.properties)] = copy_text(
                    orjson.dumps(draft.properties).decode()
                )
            self.event(index, draft.metric, person, when, draft.unique_id, text, draft.value, test)
            recorded.setdefault(draft.metric, when)
        self._order_state(index, order, recorded, moment, changed)
        if not test:
            self._add_to_profile_orders(person, store.currency, order, recorded)
        self.orders += 1

    def _order_state(
        self, index: int, order: Order, recorded: dict[str, int], created: int, changed: int
    ) -> None:
        def at(metric: str) -> str:
            when = recorded.get(metric)
            return NULL if when is None else self.stamp(when + 2)

        snapshot = copy_text(orjson.dumps(order_snapshot(order)).decode())
        self.order_lines.append(
            f"{self.integration_ids[index]}\t{order.platform_order_id}\t{self.account_id}\t"
            f"{order.raw_status}\t{self.stamp(changed)}\t{self.stamp(created)}\t{order.email}\t"
            f"{at(Metric.PLACED_ORDER)}\t{at(Metric.FULFILLED_ORDER)}\t"
            f"{at(Metric.CANCELLED_ORDER)}\t{at(Metric.REFUNDED_ORDER)}\tf\t{snapshot}\t"
            f"{self.stamp(created + 2)}\t{self.stamp(changed + 2)}\n"
        )

    def _add_to_profile_orders(
        self, person: int, currency: str, order: Order, recorded: dict[str, int]
    ) -> None:
        totals = self.profile_orders.setdefault((person, currency), OrderTotals())
        placed = recorded[Metric.PLACED_ORDER]
        totals.orders += 1
        totals.placed += order.total
        totals.first = placed if not totals.first else min(totals.first, placed)
        totals.last = max(totals.last, placed)
        if Metric.REFUNDED_ORDER in recorded:
            totals.refunded += order.refunded_total

    # -- the tables written once the events are --

    def write_profiles(self) -> None:
        stream = CopyStream(self.url, PROFILE_COLUMNS)
        stream.switch("profiles")
        progress = Progress()
        batch: list[str] = []
        for person, profile_id in enumerate(self.profile_ids):
            first, last = self.first_event[person], self.last_event[person]
            created = self.stamp(first) if first else self.stamp(self.start)
            phone = f"+1555{person % 10_000_000:07d}" if person % 3 == 0 else NULL
            batch.append(
                f"{profile_id}\t{self.account_id}\t{email_of(person)}\t{phone}\t"
                f"{FIRST_NAMES[person % len(FIRST_NAMES)].title()}\t"
                f"{LAST_NAMES[(person // len(FIRST_NAMES)) % len(LAST_NAMES)].title()}\t{{}}\t"
                f"{created}\t{self.stamp(last) if last else created}\t"
                f"{self.stamp(last) if last else NULL}\n"
            )
            if len(batch) >= 10_000:
                stream.write(batch)
                batch.clear()
                progress.show("profiles", stream.rows, self.profiles)
        stream.write(batch)
        progress.show("profiles", stream.rows, self.profiles, final=True)
        stream.commit()

    def write_rollups(self) -> None:
        stream = CopyStream(self.url, ROLLUP_COLUMNS)
        stream.switch("metric_rollups")
        stream.write(
            [
                f"{self.account_id}\t{metric_id}\t{self.stamp(hour * 3600)}\t{currency}\t"
                f"{'t' if test else 'f'}\t{count}\t{value_sum}\n"
                for (metric_id, hour, currency, test), (count, value_sum) in self.rollups.items()
            ]
        )
        print(f"  metric_rollups: {stream.rows:,} rows")
        stream.commit()
        stream = CopyStream(self.url, PROFILE_ORDER_COLUMNS)
        stream.switch("profile_orders")
        stream.write(
            [
                f"{self.profile_ids[person]}\t{currency}\t{self.account_id}\t{totals.orders}\t"
                f"{totals.placed}\t{totals.refunded}\t{self.stamp(totals.first)}\t"
                f"{self.stamp(totals.last)}\n"
                for (person, currency), totals in self.profile_orders.items()
            ]
        )
        print(f"  profile_orders: {stream.rows:,} rows")
        stream.commit()


# --- indexes set aside during the load -----------------------------------------------------------

LOADED_TABLES = (
    "events",
    "event_keys",
    "profiles",
    "order_states",
    "metric_rollups",
    "profile_orders",
)


@dataclass(frozen=True, slots=True)
class SetAside:
    """An index (or the key or unique constraint it backs) of a loaded table, as defined."""

    table: str
    name: str
    definition: str
    constraint: bool

    def drop(self) -> str:
        if self.constraint:
            return f"ALTER TABLE {self.table} DROP CONSTRAINT {self.name}"
        return f"DROP INDEX {self.name}"

    def create(self) -> str:
        if self.constraint:
            return f"ALTER TABLE {self.table} ADD CONSTRAINT {self.name} {self.definition}"
        return self.definition


def set_indexes_aside(url: str) -> list[SetAside]:
    with psycopg.connect(url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT t.relname, i.relname, pg_get_indexdef(i.oid), c.conname, "
            "pg_get_constraintdef(c.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "LEFT JOIN pg_constraint c ON c.conindid = i.oid AND c.conrelid = t.oid "
            "AND c.contype IN ('p', 'u') "
            "WHERE t.relname = ANY(%s) AND t.relnamespace = 'public'::regnamespace "
            "ORDER BY t.relname, i.relname",
            (list(LOADED_TABLES),),
        ).fetchall()
        # A partitioned table's index is defined "ON ONLY" the table: built so, it would
        # leave the partitions without one.
        aside = [
            SetAside(
                table,
                constraint or index,
                constraint_definition or definition.replace(" ON ONLY ", " ON ", 1),
                bool(constraint),
            )
            for table, index, definition, constraint, constraint_definition in rows
        ]
        for each in aside:
            connection.execute(each.drop())
    return aside


def build_indexes(url: str, aside: list[SetAside]) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SET maintenance_work_mem = '1GB'")
        for each in aside:
            started = time.perf_counter()
            connection.execute(each.create())
            print(
                f"  {each.table}: {each.name} in {time.perf_counter() - started:.1f} s", flush=True
            )
        started = time.perf_counter()
        for table in LOADED_TABLES:
            connection.execute(f"ANALYZE {table}")
        print(f"  analysed in {time.perf_counter() - started:.1f} s", flush=True)


# --- the account, before the fill ----------------------------------------------------------------


def prepare(services: Services) -> tuple[str, list[str], dict[tuple[int, str], str]]:
    """The account, its user and its six integrations (each with a finished sync and a few
    processed deliveries); returns the account's id, its integrations and their metrics."""
    now = services.clock.now()
    with services.database.write() as connection:
        account, _key = create_account(connection, ACCOUNT_NAME, now)
        integration_ids = []
        for store in STORES:
            integration = create_integration(
                connection,
                services.cipher,
                account_id=account.id,
                platform=store.platform,
                name=f"{store.label} store",
                credentials={"store_url": f"https://{store.platform}.shop.example.com"},
                settings={},
                now=now,
            )
            integration_ids.append(integration.id)
            connection.execute(
                update(integrations)
                .where(integrations.c.id == integration.id)
                .values(next_sync_at=now + timedelta(minutes=5), health="ok")
            )
            connection.execute(
                sync_runs.insert().values(
                    id=new_id(),
                    account_id=account.id,
                    integration_id=integration.id,
                    state="succeeded",
                    backfill=False,
                    window_since=now - timedelta(minutes=10),
                    window_until=now - timedelta(minutes=5),
                    started_at=now - timedelta(minutes=5),
                    finished_at=now - timedelta(minutes=4),
                    pages=1,
                    orders_seen=3,
                    rows_written=3,
                    events_recorded=5,
                )
            )
            entries = [
                InboxEntry(
                    account_id=account.id,
                    integration_id=integration.id,
                    source="webhook",
                    topic="orders/updated",
                    body=b"{}",
                    dedupe_key=f"bench:{integration.id}:{n}",
                )
                for n in range(DELIVERIES)
            ]
            write_entries(connection, entries, now)
        connection.execute(update(inbox).values(state="processed", processed_at=now))
        rows = connection.execute(
            select(metrics.c.integration_id, metrics.c.name, metrics.c.id).where(
                metrics.c.account_id == account.id
            )
        ).all()
    create_user(services, account_id=account.id, email=EMAIL, password=BENCH_PASSWORD)
    index_of = {integration_id: n for n, integration_id in enumerate(integration_ids)}
    metric_ids = {(index_of[row.integration_id], row.name): row.id for row in rows}
    return account.id, integration_ids, metric_ids


def fill(services: Services, url: str, options: argparse.Namespace) -> str:
    """Fills the migrated database; says what it holds and how long filling it took."""
    started = time.perf_counter()
    account_id, integration_ids, metric_ids = prepare(services)
    aside = set_indexes_aside(url)
    print(f"set aside {len(aside)} indexes and keys of {', '.join(LOADED_TABLES)}")
    filler = Filler(
        url,
        account_id,
        integration_ids,
        metric_ids,
        events=options.events,
        profiles=options.profiles,
        days=options.days,
        now=services.clock.now(),
    )
    filler.run()
    loaded = time.perf_counter() - started
    print(f"loaded in {loaded:.0f} s; building the indexes…")
    build_indexes(url, aside)
    seconds = time.perf_counter() - started
    return (
        f"{filler.events:,} events, {filler.orders:,} orders, {options.profiles:,} profiles, "
        f"{len(STORES)} integrations over {options.days} days, in {seconds / 60:.1f} min "
        f"({loaded / 60:.1f} min loading, {(seconds - loaded) / 60:.1f} min indexing and "
        "analysing)"
    )
