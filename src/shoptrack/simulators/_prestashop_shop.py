"""What a simulated PrestaShop shop keeps: its order states, currencies, customers, addresses and
orders, as rows of the database the Webservice reads, with the demo catalogue of a fresh
install (the "Hummingbird" products and John DOE).

Times are kept as PrestaShop keeps them: the shop's wall clock without an offset, written
when the row is saved (``date('Y-m-d H:i:s')`` in ``PS_TIMEZONE``), so changing the time zone
later does not rewrite them. Amounts are ``Decimal`` and written ``DECIMAL(20,6)``-style.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = [
    "CORE_STATES",
    "DEMO_CUSTOMERS",
    "NEVER",
    "PRODUCTS",
    "Currency",
    "Customer",
    "Order",
    "OrderRow",
    "OrderState",
    "Product",
    "Shop",
    "money",
    "wall_clock",
]

NEVER = "0000-00-00 00:00:00"  # how MySQL writes a DATETIME never set
_CENT = Decimal("0.01")
_VAT = Decimal("1.20")  # the demo shop's 20 % VAT, on products and shipping


def wall_clock(moment: datetime, zone: tzinfo) -> str:
    """A moment as PrestaShop saves it: the shop's wall clock, to the second."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def money(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class OrderState:
    """An order state (``ps_order_state``) with the flags the back office sets on it."""

    id: int
    name: str
    color: str
    paid: bool = False
    shipped: bool = False
    delivery: bool = False
    invoice: bool = False
    logable: bool = False
    send_email: bool = False
    module_name: str = ""
    template: str = ""
    unremovable: bool = True


# install-dev/data/xml/order_state.xml and langs/en/data/order_state.xml (1.7 and 8.x ids).
CORE_STATES = (
    OrderState(1, "Awaiting check payment", "#4169E1", send_email=True,
               module_name="ps_checkpayment", template="cheque"),
    OrderState(2, "Payment accepted", "#32CD32", paid=True, invoice=True, logable=True,
               send_email=True, template="payment"),
    OrderState(3, "Processing in progress", "#FF8C00", paid=True, invoice=True, logable=True,
               delivery=True, send_email=True, template="preparation"),
    OrderState(4, "Shipped", "#8A2BE2", paid=True, shipped=True, delivery=True, invoice=True,
               logable=True, send_email=True, template="shipped"),
    OrderState(5, "Delivered", "#108510", paid=True, shipped=True, delivery=True, invoice=True,
               logable=True),
    OrderState(6, "Canceled", "#DC143C", send_email=True, template="order_canceled"),
    OrderState(7, "Refunded", "#EC2E15", paid=True, invoice=True, send_email=True,
               template="refund"),
    OrderState(8, "Payment error", "#8F0621", send_email=True, template="payment_error"),
    OrderState(9, "On backorder (paid)", "#FF69B4", paid=True, invoice=True, logable=True,
               send_email=True, template="outofstock"),
    OrderState(10, "Awaiting bank wire payment", "#4169E1", send_email=True,
               module_name="ps_wirepayment", template="bankwire"),
    OrderState(11, "Remote payment accepted", "#32CD32", paid=True, invoice=True, logable=True,
               send_email=True, template="payment"),
    OrderState(12, "On backorder (not paid)", "#FF69B4", send_email=True,
               template="outofstock"),
    OrderState(13, "Awaiting Cash On Delivery validation", "#4169E1", send_email=True,
               module_name="ps_cashondelivery", template="cashondelivery"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Currency:
    """A currency of the shop (``ps_currency``)."""

    id: int
    iso_code: str
    numeric_iso_code: str
    name: str
    symbol: str
    conversion_rate: str = "1.000000"
    precision: int = 2


@dataclass(frozen=True, slots=True)
class Product:
    """A product of the demo catalogue, with its price with tax."""

    id: int
    attribute_id: int
    name: str
    reference: str
    ean13: str
    price: Decimal


# A fresh install's demo products (PrestaShop 1.7/8 "classic" theme catalogue).
PRODUCTS = (
    Product(1, 1, "Hummingbird printed t-shirt - Size : S- Color : White", "demo_1",
            "3701234567890", Decimal("23.90")),
    Product(2, 9, "Hummingbird printed sweater - Size : M", "demo_3", "3701234567891",
            Decimal("35.90")),
    Product(3, 13, "The best is yet to come' Framed poster - Dimension : 40x60cm", "demo_6",
            "3701234567892", Decimal("29.00")),
    Product(6, 0, "Mug The best is yet to come", "demo_11", "3701234567893", Decimal("11.90")),
    Product(9, 25, "Brown bear cushion - Color : Black", "demo_16", "3701234567894",
            Decimal("18.90")),
    Product(16, 28, "Mountain fox notebook - Paper Type : Ruled", "demo_8", "3701234567895",
            Decimal("12.90")),
)  # fmt: skip

# (first name, last name, email, newsletter): the install's John DOE, then regulars.
DEMO_CUSTOMERS = (
    ("John", "DOE", "pub@prestashop.com", True),
    ("Marie", "Dubois", "marie.dubois@example.com", True),
    ("Lucas", "Martin", "lucas.martin@example.com", False),
    ("Emma", "Bernard", "emma.bernard@example.com", True),
    ("Noah", "Schmidt", "noah.schmidt@example.com", False),
    ("Sofia", "Rossi", "sofia.rossi@example.com", True),
    ("Liam", "Walsh", "liam.walsh@example.com", False),
    ("Chloé", "Laurent", "chloe.laurent@example.com", True),
)
# (address1, postcode, city, id_country): France is country 8 in a fresh install.
_STREETS = (
    ("16, Main street", "75002", "Paris", 8),
    ("12 rue de la Paix", "69002", "Lyon", 8),
    ("4 place du Capitole", "31000", "Toulouse", 8),
    ("27 quai des Chartrons", "33000", "Bordeaux", 8),
)


@dataclass(slots=True)
class Customer:
    """A customer account, or a guest's (``ps_customer``; guests have ``is_guest``)."""

    id: int
    firstname: str
    lastname: str
    email: str
    newsletter: bool
    date_add: str
    date_upd: str
    id_address: int = 0
    is_guest: bool = False
    optin: bool = False

    @property
    def secure_key(self) -> str:
        return hashlib.md5(f"customer{self.id}".encode(), usedforsecurity=False).hexdigest()

    @staticmethod
    def street(customer_id: int) -> tuple[str, str, str, int]:
        return _STREETS[customer_id % len(_STREETS)]


@dataclass(frozen=True, slots=True)
class OrderRow:
    """A line of an order (``ps_order_detail``, as the ``order_rows`` association)."""

    id: int
    product: Product
    quantity: int
    unit_price_tax_incl: Decimal

    @property
    def unit_price_tax_excl(self) -> Decimal:
        return money(self.unit_price_tax_incl / _VAT)

    def association(self) -> dict[str, Any]:
        """The row as ``Order::getWsOrderRows()`` selects it (values as SQL returns them)."""
        return {
            "id": self.id,
            "product_id": self.product.id,
            "product_attribute_id": self.product.attribute_id,
            "product_quantity": self.quantity,
            "product_name": self.product.name,
            "product_reference": self.product.reference,
            "product_ean13": self.product.ean13,
            "product_isbn": "",
            "product_upc": "",
            "product_price": self.unit_price_tax_excl,
            "id_customization": 0,
            "unit_price_tax_incl": self.unit_price_tax_incl,
            "unit_price_tax_excl": self.unit_price_tax_excl,
        }


@dataclass(slots=True)
class Order:
    """An order (``ps_orders``); its times are wall-clock strings, as saved."""

    id: int
    customer: Customer
    currency: Currency
    state: int
    rows: list[OrderRow]
    shipping: Decimal
    date_add: str
    date_upd: str
    module: str = "ps_wirepayment"
    payment: str = "Bank transfer"
    invoice_number: int = 0
    invoice_date: str = NEVER
    delivery_number: int = 0
    delivery_date: str = NEVER
    valid: bool = False
    history: list[tuple[int, str]] = field(default_factory=list)  # (state, date_add)

    @property
    def reference(self) -> str:
        """Nine capital letters, as ``Order::generateReference()`` makes them."""
        digest = hashlib.sha256(f"order{self.id}".encode()).digest()
        return "".join(string.ascii_uppercase[byte % 26] for byte in digest[:9])

    @property
    def products_tax_incl(self) -> Decimal:
        return sum((row.unit_price_tax_incl * row.quantity for row in self.rows), Decimal(0))

    @property
    def products_tax_excl(self) -> Decimal:
        return sum((row.unit_price_tax_excl * row.quantity for row in self.rows), Decimal(0))

    @property
    def total_tax_incl(self) -> Decimal:
        return self.products_tax_incl + self.shipping

    @property
    def total_tax_excl(self) -> Decimal:
        return self.products_tax_excl + money(self.shipping / _VAT)

    def record(self, state: OrderState, now: str, counters: dict[str, int]) -> None:
        """Moves the order into ``state`` as ``OrderHistory::changeIdOrderState()`` does:
        the invoice and delivery slip are numbered the first time a state calls for them."""
        self.state = state.id
        self.valid = state.logable
        if state.invoice and not self.invoice_number:
            counters["invoice"] += 1
            self.invoice_number, self.invoice_date = counters["invoice"], now
        if state.delivery and not self.delivery_number:
            counters["delivery"] += 1
            self.delivery_number, self.delivery_date = counters["delivery"], now
        self.history.append((state.id, now))
        self.date_upd = now


# A fresh install's currencies; the shop's default is chosen when it is made.
_CURRENCIES = (
    Currency(1, "EUR", "978", "Euro", "€"),
    Currency(2, "USD", "840", "US Dollar", "$"),
    Currency(3, "GBP", "826", "British Pound", "£"),
)
# What `passwd` shows: a bcrypt hash, as PrestaShop stores it (of no real password).
_PASSWD = "$2y$10$yGqCrVWdrMzjWOFYMRPdhOX2PqJC0iK5lQwNhi8uFr2EL6HP4vI8a"  # noqa: S105
_SHIPPING = Decimal("7.00")  # the demo carrier's price with tax


class Shop:
    """The simulated shop's tables, and each Webservice resource's rows read from them.

    Not thread-safe: the simulator holds its lock around every use.
    """

    def __init__(self, *, zone: tzinfo, zone_name: str, currency: str, name: str,
                 installed: datetime) -> None:  # fmt: skip
        self.zone = zone
        default = next((c for c in _CURRENCIES if c.iso_code == currency.upper()), None)
        if default is None:
            raise ValueError(f"unknown currency {currency!r}; known: EUR, USD, GBP")
        self.currency = default
        self.states: dict[int, OrderState] = {state.id: state for state in CORE_STATES}
        self.customers: dict[int, Customer] = {}
        self.orders: dict[int, Order] = {}
        self.counters = {"invoice": 0, "delivery": 0}
        installed_at = wall_clock(installed, zone)
        # (name, value, date_add, date_upd) of ps_configuration, global values.
        self.configuration: dict[str, list[str]] = {
            name: [value, installed_at, installed_at]
            for name, value in (
                ("PS_LANG_DEFAULT", "1"),
                ("PS_CURRENCY_DEFAULT", str(default.id)),
                ("PS_COUNTRY_DEFAULT", "8"),
                ("PS_SHOP_NAME", name),
                ("PS_SHOP_EMAIL", "demo@prestashop.com"),
                ("PS_TIMEZONE", zone_name),
                ("PS_WEBSERVICE", "1"),
            )
        }

    # -- changes -------------------------------------------------------------------------

    def configure(self, name: str, value: str, now: datetime) -> None:
        entry = self.configuration[name]
        entry[0], entry[2] = value, wall_clock(now, self.zone)

    def customer(self, email: str | None, now: datetime) -> Customer:
        """The customer with ``email`` (a new account if none), or the next demo regular."""
        if email is not None:
            found = next(
                (c for c in self.customers.values() if c.email.lower() == email.lower()), None
            )
            if found is not None:
                return found
            local = email.split("@", 1)[0].replace(".", " ").replace("_", " ").title().split()
            details = (local[0] if local else "Guest", local[-1] if len(local) > 1 else "",
                       email, False)  # fmt: skip
        else:
            index = len(self.orders) % len(DEMO_CUSTOMERS)
            details = DEMO_CUSTOMERS[index]
            found = next((c for c in self.customers.values() if c.email == details[2]), None)
            if found is not None:
                return found
        first, last, address, newsletter = details
        customer_id = len(self.customers) + 1
        at = wall_clock(now, self.zone)
        created = Customer(customer_id, first, last or "Customer", address, newsletter, at, at,
                           id_address=customer_id)  # fmt: skip
        self.customers[customer_id] = created
        return created

    def place(
        self,
        state: OrderState,
        *,
        email: str | None,
        created: datetime,
        updated: datetime,
        total: Decimal | None,
        lines: int | None,
    ) -> Order:
        """An order placed at ``created`` in ``state``, last changed at ``updated``."""
        order_id = max(self.orders, default=0) + 1
        customer = self.customer(email, created)
        count = lines or 1 + order_id % 3
        if total is not None:
            # The amount asked, shared between the lines, shipping offered.
            cents = int(money(total) * 100)
            shares = [
                cents // count + (cents % count if i == count - 1 else 0) for i in range(count)
            ]
            rows = [
                OrderRow(
                    order_id * 10 + i,
                    PRODUCTS[(order_id + i) % len(PRODUCTS)],
                    1,
                    Decimal(share) / 100,
                )
                for i, share in enumerate(shares)
            ]
            shipping = Decimal("0.00")
        else:
            rows = [
                OrderRow(order_id * 10 + i, product, 1 + (order_id + i) % 2, product.price)
                for i in range(count)
                for product in [PRODUCTS[(order_id * 3 + i) % len(PRODUCTS)]]
            ]
            shipping = _SHIPPING
        module, payment = {
            1: ("ps_checkpayment", "Payments by check"),
            13: ("ps_cashondelivery", "Cash on delivery (COD)"),
        }.get(state.id, ("ps_wirepayment", "Bank transfer"))
        at = wall_clock(created, self.zone)
        order = Order(order_id, customer, self.currency, state.id, rows, shipping, at, at,
                      module=module, payment=payment)  # fmt: skip
        order.record(state, at, self.counters)
        order.date_upd = wall_clock(updated, self.zone)
        self.orders[order_id] = order
        return order

    # -- the Webservice's rows -------------------------------------------------------------

    def rows(self, resource: str) -> list[dict[str, Any]]:
        """The rows ``resource`` lists, by id, with each field's value as the shop has it."""
        build = {
            "orders": lambda: [self._order(order) for order in self.orders.values()],
            "customers": lambda: [self._customer(c) for c in self.customers.values()],
            "addresses": lambda: [self._address(c) for c in self.customers.values()],
            "currencies": lambda: [_currency(currency) for currency in _CURRENCIES],
            "order_states": lambda: [_state(state) for state in self.states.values()],
            "configurations": self._configurations,
        }[resource]
        return sorted(build(), key=lambda row: int(row["id"]))

    def _order(self, order: Order) -> dict[str, Any]:
        customer = order.customer
        discounts = Decimal(0)
        products_incl, products_excl = order.products_tax_incl, order.products_tax_excl
        total_incl, total_excl = order.total_tax_incl, order.total_tax_excl
        return {
            "id": order.id,
            "id_address_delivery": customer.id_address,
            "id_address_invoice": customer.id_address,
            "id_cart": order.id + 4,
            "id_currency": order.currency.id,
            "id_lang": 1,
            "id_customer": customer.id,
            "id_carrier": 2,
            "current_state": order.state,
            "module": order.module,
            "invoice_number": order.invoice_number,
            "invoice_date": order.invoice_date,
            "delivery_number": order.delivery_number,
            "delivery_date": order.delivery_date,
            "valid": order.valid,
            "date_add": order.date_add,
            "date_upd": order.date_upd,
            "shipping_number": "",
            "id_shop_group": 1,
            "id_shop": 1,
            "secure_key": customer.secure_key,
            "payment": order.payment,
            "recyclable": False,
            "gift": False,
            "gift_message": "",
            "mobile_theme": False,
            "total_discounts": discounts,
            "total_discounts_tax_incl": discounts,
            "total_discounts_tax_excl": discounts,
            "total_paid": total_incl,
            "total_paid_tax_incl": total_incl,
            "total_paid_tax_excl": total_excl,
            "total_paid_real": total_incl if self._paid(order) else Decimal(0),
            "total_products": products_excl,
            "total_products_wt": products_incl,
            "total_shipping": order.shipping,
            "total_shipping_tax_incl": order.shipping,
            "total_shipping_tax_excl": money(order.shipping / _VAT),
            "carrier_tax_rate": "20.000",
            "total_wrapping": Decimal(0),
            "total_wrapping_tax_incl": Decimal(0),
            "total_wrapping_tax_excl": Decimal(0),
            "round_mode": 2,
            "round_type": 2,
            "conversion_rate": order.currency.conversion_rate,
            "reference": order.reference,
            "note": "",
            "associations": {"order_rows": [row.association() for row in order.rows]},
        }

    def _paid(self, order: Order) -> bool:
        # A module's state removed since (clear_faults) leaves its orders as they were.
        state = self.states.get(order.state)
        return state is not None and state.paid

    def _customer(self, customer: Customer) -> dict[str, Any]:
        return {
            "id": customer.id,
            "id_default_group": 2 if customer.is_guest else 3,  # Guest / Customer
            "id_lang": 1,
            "newsletter_date_add": customer.date_add if customer.newsletter else NEVER,
            "ip_registration_newsletter": "",
            "last_passwd_gen": customer.date_add,
            "secure_key": customer.secure_key,
            "deleted": False,
            "passwd": _PASSWD,
            "lastname": customer.lastname,
            "firstname": customer.firstname,
            "email": customer.email,
            "id_gender": 1,
            "birthday": "0000-00-00",
            "newsletter": customer.newsletter,
            "optin": customer.optin,
            "website": "",
            "company": "",
            "siret": "",
            "ape": "",
            "outstanding_allow_amount": Decimal(0),
            "show_public_prices": False,
            "id_risk": 0,
            "max_payment_days": 0,
            "active": True,
            "note": "",
            "is_guest": customer.is_guest,
            "id_shop": 1,
            "id_shop_group": 1,
            "date_add": customer.date_add,
            "date_upd": customer.date_upd,
            "reset_password_token": "",
            "reset_password_validity": NEVER,
            "associations": {"groups": [{"id": 2 if customer.is_guest else 3}]},
        }

    def _address(self, customer: Customer) -> dict[str, Any]:
        street, postcode, city, country = Customer.street(customer.id)
        return {
            "id": customer.id_address,
            "id_customer": customer.id,
            "id_manufacturer": 0,
            "id_supplier": 0,
            "id_warehouse": 0,
            "id_country": country,
            "id_state": 0,
            "alias": "My Address",
            "company": "",
            "lastname": customer.lastname,
            "firstname": customer.firstname,
            "vat_number": "",
            "address1": street,
            "address2": "",
            "postcode": postcode,
            "city": city,
            "other": "",
            "phone": f"01 23 45 67 {customer.id % 100:02d}",
            "phone_mobile": "",
            "dni": "",
            "deleted": False,
            "date_add": customer.date_add,
            "date_upd": customer.date_upd,
        }

    def _configurations(self) -> list[dict[str, Any]]:
        return [
            {
                "id": index,
                "value": value,
                "name": name,
                "id_shop_group": None,
                "id_shop": None,
                "date_add": added,
                "date_upd": changed,
            }
            for index, (name, (value, added, changed)) in enumerate(
                self.configuration.items(), start=1
            )
        ]


def _currency(currency: Currency) -> dict[str, Any]:
    return {
        "id": currency.id,
        "names": {1: currency.name},
        "name": currency.name,
        "symbol": {1: currency.symbol},
        "iso_code": currency.iso_code,
        "numeric_iso_code": currency.numeric_iso_code,
        "precision": currency.precision,
        "conversion_rate": currency.conversion_rate,
        "deleted": False,
        "active": True,
        "unofficial": False,
        "modified": False,
        "pattern": {1: ""},
    }


def _state(state: OrderState) -> dict[str, Any]:
    return {
        "id": state.id,
        "unremovable": state.unremovable,
        "delivery": state.delivery,
        "hidden": False,
        "send_email": state.send_email,
        "module_name": state.module_name,
        "invoice": state.invoice,
        "color": state.color,
        "logable": state.logable,
        "shipped": state.shipped,
        "paid": state.paid,
        "pdf_delivery": state.shipped,
        "pdf_invoice": state.invoice,
        "deleted": False,
        "name": {1: state.name},
        "template": {1: state.template},
    }
