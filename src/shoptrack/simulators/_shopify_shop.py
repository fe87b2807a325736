"""The shop's side of the Shopify simulator: its orders, checkouts, buyers and webhook
subscriptions, the events their changes raise, and the outbox that delivers them.

``ShopifySimulator`` (``shopify``) is this shop with an app installed: the app's tokens and
grants, the faults, and the shop's APIs served over HTTP.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, Unpack
from urllib.parse import urlsplit

from shoptrack.simulators._kit import (
    Clock,
    EdgeFaults,
    Ids,
    NewOrder,
    OrderArguments,
    WebhookSettings,
    WebhookSimulator,
)
from shoptrack.simulators._kit.values import second, zone
from shoptrack.simulators._shopify_order_json import build_checkout, build_order, build_refund
from shoptrack.simulators._shopify_orders import (
    CATALOGUE,
    FINANCIAL_STATUSES,
    Buyer,
    Fulfillment,
    Line,
    Refund,
    Shop,
    SimulatedCheckout,
    SimulatedOrder,
    buyer_for,
)
from shoptrack.simulators._shopify_rest import Token
from shoptrack.simulators._shopify_webhooks import (
    MAX_RETRIES,
    ORDER_TOPICS,
    TOPICS,
    Delivery,
    Event,
    Outgoing,
    Subscription,
    SubscriptionRefusedError,
    delivery_headers,
)

__all__ = ["ShopifyShop"]

# Names set_status takes besides the financial statuses: the admin's two other actions.
_ACTIONS = ("cancelled", "fulfilled")
# Financial statuses in which the money was captured (orders/paid has fired).
_PAID = frozenset({"paid", "partially_refunded", "refunded"})
_CENT = Decimal("0.01")


@dataclass(slots=True)
class _Pending:
    """An event waiting for one subscription; ``outgoing`` is fixed at its first attempt."""

    subscription_id: int
    event: Event
    webhook_id: str
    attempts: int = 0
    outgoing: Outgoing | None = None


class ShopifyShop(WebhookSimulator[_Pending, Outgoing, Delivery, Subscription]):
    """A simulated Shopify shop as its admin, its buyers and its webhooks see it; the app
    installed on it (``ShopifySimulator``) adds the rest.

    Args:
        shop_domain: The shop's permanent ``myshopify.com`` domain.
        shop_name: The shop's name.
        currency: The shop's currency.
        shop_timezone: The shop's IANA time zone.
        client_secret: The app's client secret, which signs every delivery.
        clock: Returns the current time (aware); defaults to the machine's clock.
        webhooks: How its webhooks are sent (``shopify``'s docstring tells the delivery modes).
        edge: The edge in front of the shop's APIs.
    """

    NEW_ORDER_STATUSES = ("paid",)

    def __init__(
        self,
        *,
        shop_domain: str,
        shop_name: str,
        currency: str,
        shop_timezone: str,
        client_secret: str,
        clock: Clock | None,
        webhooks: WebhookSettings,
        edge: EdgeFaults,
    ) -> None:
        super().__init__(clock, webhooks, edge=edge)
        zone(shop_timezone)  # fail early on a name nobody knows
        self.shop_domain = shop_domain
        self.shop_name = shop_name
        self.currency = currency
        self.client_secret = client_secret
        self._ids = Ids(5_820_000_000_000)
        self._numbers = Ids(1000)
        self._orders: dict[int, SimulatedOrder] = {}
        self._checkouts: dict[int, SimulatedCheckout] = {}
        self._buyers: dict[str, Buyer] = {}
        self.opened = self._now() - timedelta(days=730)
        self.custom_statuses: tuple[str, ...] = ()
        self.site_timezone = shop_timezone

    # -- the shop, from Python -------------------------------------------------------------

    def add_orders(
        self, count: int = 1, *, test: bool = False, **given: Unpack[OrderArguments]
    ) -> list[int]:
        """Creates orders as checkouts would (see ``SimulatedShop``); returns their ids.
        Statuses are financial statuses, ``cancelled`` or ``fulfilled``; ``total`` is shared
        by the lines; ``test`` makes Bogus Gateway test orders."""
        return self._place_all(
            self._new_orders(count, given), lambda order: self._place(order, test=test)
        )

    def set_status(self, order_id: int, status: str) -> None:
        """Changes an order as the shop admin would: a financial status (``refunded`` refunds
        what is left, ``partially_refunded`` half), or ``cancelled`` / ``fulfilled`` (nothing
        when the order already is)."""
        self._check_status(status)
        with self._lock:
            order = self._order(order_id)
            if status in _ACTIONS and _status_name(order) == status:
                return  # already cancelled, or fulfilled: nothing for the admin to do
            if status == "cancelled":
                self._cancel(order, "other")
            elif status == "fulfilled":
                self._fulfil(order)
            elif status == "refunded" and order.total > order.refunded():
                self._refund(order, order.total - order.refunded(), "")
            elif status == "partially_refunded" and order.refunded() == 0 and order.total > 0:
                self._refund(order, _half(order.total) or order.total, "")
                order.financial_status = status
            else:
                was_paid = order.financial_status in _PAID
                order.financial_status = status
                order.updated = self._now()
                if status == "paid" and not was_paid:
                    self._emit_order(order, "orders/paid")
                self._emit_order(order, "orders/updated")

    def refund(self, order_id: int, amount: Decimal | str, note: str = "") -> int:
        """Refunds ``amount`` of an order (its status becomes ``partially_refunded`` or
        ``refunded``); returns the refund's id. ``ValueError`` for an amount it cannot take."""
        with self._lock:
            return self._refund(self._order(order_id), Decimal(str(amount)), note).id

    def fulfil(self, order_id: int) -> None:
        """Ships every line of an order in one fulfilment."""
        with self._lock:
            self._fulfil(self._order(order_id))

    def cancel(self, order_id: int, reason: str = "customer") -> None:
        """Cancels an order (an authorisation is voided)."""
        with self._lock:
            order = self._order(order_id)
            if order.cancelled_at is not None:
                raise ValueError(f"order {order_id} is already cancelled")
            self._cancel(order, reason)

    def order(self, order_id: int) -> dict[str, Any]:
        """The order as ``GET /admin/api/2025-01/orders/{id}.json`` writes it."""
        with self._lock:
            return build_order(self._order(order_id), self._shop())

    def statuses(self) -> dict[int, str]:
        """Every order's status in ``set_status``'s names, as the admin's order list shows it:
        ``cancelled``; else a refund's financial status; else ``fulfilled``; else the financial
        status (shoptrack's raw status, which ``order()`` has beside its markers)."""
        with self._lock:
            return {order_id: _status_name(order) for order_id, order in self._orders.items()}

    def add_checkout(
        self,
        *,
        email: str | None = None,
        phone: str | None = None,
        contact: bool = True,
        lines: int | None = None,
        at: datetime | None = None,
    ) -> str:
        """Starts a checkout (``checkouts/create``); returns its token. A demo buyer gives an
        email (``email``), or only a ``phone``; ``contact=False`` is a checkout whose buyer has
        not typed either yet."""
        with self._lock:
            born = second(at or self._now())
            checkout_id = self._ids.next()
            checkout = SimulatedCheckout(
                id=checkout_id,
                token=secrets.token_hex(16),
                created=born,
                updated=born,
                buyer=self._contact(len(self._checkouts) * 7 + 3, email, phone)
                if contact
                else None,
                lines=self._lines(checkout_id % 97, lines, None),
            )
            self._checkouts[checkout.id] = checkout
            self._emit("checkouts/create", checkout.id, build_checkout(checkout, self._shop()))
            return checkout.token

    def update_checkout(
        self,
        token: str,
        *,
        email: str | None = None,
        phone: str | None = None,
        lines: int | None = None,
    ) -> None:
        """A step of the checkout (``checkouts/update``): a contact given, or a new cart of
        ``lines`` lines; with neither, a step that changes neither (an address, a rate)."""
        with self._lock:
            checkout = self._checkout(token)
            if email is not None or phone is not None:
                checkout.buyer = self._contact(checkout.id % 1000, email, phone)
            if lines is not None:
                checkout.lines = self._lines(self._ids.next() % 97, lines, None)
            checkout.updated = self._now()
            self._emit("checkouts/update", checkout.id, build_checkout(checkout, self._shop()))

    def complete_checkout(self, token: str) -> int:
        """The buyer pays: the checkout becomes a paid order; returns the order's id."""
        with self._lock:
            checkout = self._checkout(token)
            if checkout.completed is not None:
                raise ValueError(f"checkout {token} is already completed")
            now = self._now()
            buyer = checkout.buyer or self._contact(checkout.id % 1000, None, None)
            order = self._start_order(now, email=buyer.email, lines=0, total=None, test=False)
            order.buyer, order.lines, order.checkout_id = buyer, checkout.lines, checkout.id
            self._open(order, "paid", now)
            self._orders[order.id] = order
            checkout.completed, checkout.order_id, checkout.updated = now, order.id, now
            self._emit_order(order, "orders/create")
            self._emit_order(order, "orders/paid")
            # [UNCERTAIN] that Shopify sends checkouts/update for the completion.
            self._emit("checkouts/update", checkout.id, build_checkout(checkout, self._shop()))
            return order.id

    def checkout(self, token: str) -> dict[str, Any]:
        """The checkout as ``GET /admin/api/2025-01/checkouts.json`` writes it."""
        with self._lock:
            return build_checkout(self._checkout(token), self._shop())

    def subscribe(self, topic: str, address: str) -> Subscription:
        """Subscribes ``address`` to ``topic`` as the app would through ``webhooks.json``."""
        if topic not in TOPICS:
            raise ValueError(f"unknown webhook topic {topic!r}")
        with self._lock:
            now = self._now()
            subscription = Subscription(self._ids.next(), address, topic, now, now)
            self._subscriptions[subscription.id] = subscription
            return subscription

    def subscribe_checked(self, token: Token, topic: str, address: str) -> Subscription:
        """Subscribes as the Admin API does (``webhooks.json``, ``webhookSubscriptionCreate``);
        ``SubscriptionRefusedError`` for a topic the token's scopes do not cover (refused like
        an unknown one), an address that is no URL, or a topic already sent there."""
        allowed = sorted(t for t in TOPICS if t not in ORDER_TOPICS or token.allows("read_orders"))
        if topic not in allowed:
            raise SubscriptionRefusedError(
                "topic", f"Invalid topic specified: {topic}. Topics allowed: {', '.join(allowed)}"
            )
        # Shopify delivers over https only; the simulator takes http too, for local receivers.
        parts = urlsplit(address)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise SubscriptionRefusedError("address", "is not a valid URL")
        with self._lock:
            if any(s.topic == topic and s.address == address for s in self._subscriptions.values()):
                raise SubscriptionRefusedError("address", "for this topic has already been taken")
            return self.subscribe(topic, address)

    # -- state, always under the lock ------------------------------------------------------

    def _shop(self) -> Shop:
        return Shop(
            id=548380009,
            domain=self.shop_domain,
            name=self.shop_name,
            currency=self.currency,
            zone=zone(self.site_timezone),
            zone_name=self.site_timezone,
            location_id=655441491,
        )

    def _check_status(self, status: str) -> None:
        if status not in (*FINANCIAL_STATUSES, *self.custom_statuses, *_ACTIONS):
            known = ", ".join((*FINANCIAL_STATUSES, *self.custom_statuses, *_ACTIONS))
            raise ValueError(f"unknown order status {status!r}; known: {known}")

    def _order(self, order_id: int) -> SimulatedOrder:
        order = self._orders.get(order_id)
        if order is None:
            raise KeyError(f"no order {order_id}")
        return order

    def _checkout(self, token: str) -> SimulatedCheckout:
        for checkout in self._checkouts.values():
            if checkout.token == token:
                return checkout
        raise KeyError(f"no checkout {token}")

    def _contact(self, number: int, email: str | None, phone: str | None) -> Buyer:
        if phone is not None and email is None:
            # A guest who gave only a phone number: no customer record to speak of.
            demo = buyer_for(number, self._now())
            return Buyer(None, demo.first_name, demo.last_name, None, phone, demo.address,
                         False, demo.since)  # fmt: skip
        return self._buyer(number, email, self._now())

    def _buyer(self, number: int, email: str | None, since: datetime) -> Buyer:
        # One customer per email, first seen with their first order.
        buyer = buyer_for(number, since, email=email)
        assert buyer.email is not None  # buyer_for always writes one
        return self._buyers.setdefault(buyer.email, buyer)

    def _lines(self, number: int, count: int | None, total: Decimal | None) -> list[Line]:
        size = count or 1 + number % 3
        chosen = [CATALOGUE[(number + index * 3) % len(CATALOGUE)] for index in range(size)]
        if total is None:
            return [
                Line(self._ids.next(), product, 1 + (number + index) % 2, product.price)
                for index, product in enumerate(chosen)
            ]
        # The lines share a given total to the cent, one of each product.
        cents = int((total / _CENT).to_integral_value())
        shares = [cents // size + (cents % size if i == size - 1 else 0) for i in range(size)]
        return [
            Line(self._ids.next(), product, 1, Decimal(share) * _CENT)
            for product, share in zip(chosen, shares, strict=True)
        ]

    def _start_order(
        self,
        born: datetime,
        *,
        email: str | None,
        lines: int | None,
        total: Decimal | str | None,
        test: bool,
    ) -> SimulatedOrder:
        order_id = self._ids.next()
        self._ids.last += 2  # the order's sale transaction and shipping line take the next ids
        number = self._numbers.next()
        return SimulatedOrder(
            id=order_id,
            number=number,
            created=born,
            updated=born,
            buyer=self._buyer(number, email, born),
            lines=self._lines(number, lines, None if total is None else Decimal(str(total))),
            financial_status="pending",
            test=test,
            checkout_id=self._ids.next(),
        )

    def _check_new(self, order: NewOrder) -> None:
        self._check_status(order.status)

    def _place(self, new: NewOrder, *, test: bool = False) -> int:
        order = self._start_order(
            new.placed, email=new.email, lines=new.lines, total=new.total, test=test
        )
        self._open(order, new.status, new.placed)
        order.updated = max(new.changed, new.placed)
        self._orders[order.id] = order
        self._emit_order(order, "orders/create")
        for topic in self._topics_of_new(order):
            self._emit_order(order, topic)
        for refund in order.refunds:
            self._emit("refunds/create", order.id, build_refund(order, refund, self._shop()))
        return order.id

    def _open(self, order: SimulatedOrder, status: str, at: datetime) -> None:
        """Puts a new order in ``status`` as the checkout (and the admin right after) would."""
        order.gateway = "bogus" if order.test else "shopify_payments"
        if status == "pending":
            order.gateway = "bogus" if order.test else "manual"  # bank deposit, cash on delivery
        if status == "cancelled":
            order.financial_status = "voided"
            order.cancelled_at, order.cancel_reason, order.closed_at = at, "customer", at
        elif status == "fulfilled":
            order.financial_status = "paid"
            order.fulfillments.append(Fulfillment(self._ids.next(), at, _tracking(order.id)))
            order.fulfillment_status, order.closed_at = "fulfilled", at
        else:
            order.financial_status = status
            owed = {"refunded": order.total, "partially_refunded": _half(order.total)}
            if status in owed and owed[status] > 0:
                order.refunds.append(
                    Refund(self._ids.next(), self._ids.next(), owed[status], "", at)
                )

    def _topics_of_new(self, order: SimulatedOrder) -> list[str]:
        topics = ["orders/paid"] if order.financial_status in _PAID else []
        if order.fulfillment_status == "fulfilled":
            topics.append("orders/fulfilled")
        if order.cancelled_at is not None:
            topics.append("orders/cancelled")
        return topics

    def _refund(self, order: SimulatedOrder, amount: Decimal, note: str) -> Refund:
        left = order.total - order.refunded()
        if amount <= 0 or amount > left:
            raise ValueError(f"refund amount must be more than 0.00 and at most {left:.2f}")
        now = self._now()
        refund = Refund(self._ids.next(), self._ids.next(), amount.quantize(_CENT), note, now)
        order.refunds.append(refund)
        order.financial_status = "refunded" if amount == left else "partially_refunded"
        order.updated = now
        self._emit("refunds/create", order.id, build_refund(order, refund, self._shop()))
        self._emit_order(order, "orders/updated")
        return refund

    def _fulfil(self, order: SimulatedOrder) -> None:
        if order.fulfillment_status == "fulfilled":
            raise ValueError(f"order {order.id} is already fulfilled")
        now = self._now()
        order.fulfillments.append(Fulfillment(self._ids.next(), now, _tracking(order.id)))
        order.fulfillment_status = "fulfilled"
        if order.financial_status in _PAID:
            # The default "automatically archive the order" once it is paid and fulfilled.
            order.closed_at = now
        order.updated = now
        self._emit_order(order, "orders/fulfilled")
        self._emit_order(order, "orders/updated")

    def _cancel(self, order: SimulatedOrder, reason: str) -> None:
        now = self._now()
        if order.financial_status in ("pending", "authorized"):
            order.financial_status = "voided"  # cancelling voids an uncaptured payment
        order.cancelled_at, order.cancel_reason, order.closed_at = now, reason, now
        order.updated = now
        self._emit_order(order, "orders/cancelled")
        self._emit_order(order, "orders/updated")

    def _emit_order(self, order: SimulatedOrder, topic: str) -> None:
        self._emit(topic, order.id, build_order(order, self._shop()))

    def _emit(self, topic: str, resource_id: int, document: dict[str, Any]) -> None:
        """Queues ``topic`` for its subscriptions, with the resource as it is now."""
        targets = [s for s in self._subscriptions.values() if s.topic == topic]
        if not targets:
            return
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        event = Event(str(uuid.uuid4()), topic, resource_id, self.clock(), body)
        for subscription in targets:
            self._waiting.append(_Pending(subscription.id, event, str(uuid.uuid4())))

    # -- the outbox, always under the lock -------------------------------------------------

    def _prepare(self, item: _Pending) -> Outgoing | None:
        subscription = self._subscriptions.get(item.subscription_id)
        if subscription is None:
            return None
        item.attempts += 1
        if item.outgoing is None:
            headers = delivery_headers(
                item.event,
                secret=self.client_secret,
                shop_domain=self.shop_domain,
                webhook_id=item.webhook_id,
            )
            item.outgoing = Outgoing(
                subscription.id,
                subscription.address,
                headers,
                item.event.body,
                item.event.topic,
                item.event.resource_id,
                item.event.id,
                item.webhook_id,
            )
        return item.outgoing

    def _delivery(
        self, sent: Outgoing, status: int | None, error: str | None, item: _Pending | None
    ) -> Delivery:
        return Delivery(sent, self.clock(), status, error, item.attempts if item else 1)

    def _sent(self, item: _Pending, tries: Sequence[Delivery]) -> None:
        # A failed delivery is retried at each later round, up to MAX_RETRIES times; then a
        # subscription made through the API goes.
        if tries[-1].succeeded:
            return
        if item.attempts <= MAX_RETRIES:
            self._waiting.append(item)
        else:
            self._subscriptions.pop(item.subscription_id, None)


def _status_name(order: SimulatedOrder) -> str:
    if order.cancelled_at is not None:
        return "cancelled"
    if order.financial_status in ("refunded", "partially_refunded"):
        return order.financial_status
    if order.fulfillment_status == "fulfilled":
        return "fulfilled"
    return order.financial_status


def _half(amount: Decimal) -> Decimal:
    return (amount / 2).quantize(_CENT, rounding=ROUND_DOWN)


def _tracking(order_id: int) -> str:
    return f"1Z999AA1{order_id % 10**10:010d}"
