"""Segment's tracking API (``POST /v1/batch``) mapped onto Klaviyo's e-commerce events.

A batch is checked whole at intake and mapped again, by the same code, when processing reads it
back, so a batch that was acknowledged cannot fail on a rule. Segment's e-commerce spec names map
onto Klaviyo's metrics ("Order Completed" is Placed Order) and properties (``products`` become
``Items``); the original properties are kept beside the mapped ones. Every event dedupes on its
``order_id``, else on its ``messageId``, so a message an SDK retries is recorded once.

``identify`` is checked (it must name a person) but records nothing yet, because processing
records profiles only through events; ``page``, ``screen``, ``group`` and ``alias`` are accepted
and skipped, as Klaviyo's own Segment destination does with them, and so are events of visitors
known only by an ``anonymousId``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from shoptrack.domain.api_events import EARLIEST, LATEST_AHEAD
from shoptrack.domain.events import EventDraft, Metric, Person
from shoptrack.domain.identity import InvalidIdentifierError, normalize_email, normalize_phone
from shoptrack.domain.properties import escape_pointer, property_problem, too_deep

__all__ = [
    "MESSAGE_TYPES",
    "SEGMENT_METRICS",
    "SKIPPED_TYPES",
    "SegmentPayloadError",
    "batch_drafts",
    "segment_drafts",
    "validate_batch",
]

# Segment's spec events with a Klaviyo equivalent; any other track event keeps its own name.
SEGMENT_METRICS: Mapping[str, str] = {
    "Order Completed": Metric.PLACED_ORDER,
    "Checkout Started": Metric.STARTED_CHECKOUT,
    "Product Added": Metric.ADDED_TO_CART,
    "Product Viewed": Metric.VIEWED_PRODUCT,
    "Order Refunded": Metric.REFUNDED_ORDER,
    "Order Cancelled": Metric.CANCELLED_ORDER,
}

MESSAGE_TYPES = frozenset({"track", "identify", "page", "screen", "group", "alias"})
# Accepted so that an SDK's mixed batch is not refused, and recorded as nothing.
SKIPPED_TYPES = frozenset({"page", "screen", "group", "alias"})

# The lengths of the columns these land in; longer values are refused rather than cut.
MAX_METRIC_NAME = 128
MAX_UNIQUE_ID = 255
MAX_EXTERNAL_ID = 200
MAX_NAME = 200
MAX_EMAIL = 320
MAX_AMOUNT = Decimal(10) ** 16
_CENTS = Decimal("0.0001")

# How deep a batch may nest: its properties nest 10 levels below a message's, and its traits and
# context as much; far below what the JSON writer that stores a batch can write (255 levels).
MAX_BATCH_NESTING = 32

# The first of these properties present is the event's value (Segment's ``revenue`` excludes
# shipping and tax; ``total`` is what the customer paid, which is what Klaviyo's value means).
_VALUE_PROPERTIES = ("total", "revenue", "value")

# Traits by name: each value with the JSON pointer it was read from, for errors.
_Traits = dict[str, tuple[Any, str]]


class SegmentPayloadError(ValueError):
    """A batch that cannot be recorded; ``pointer`` is the JSON pointer of the field at fault."""

    def __init__(self, detail: str, pointer: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.pointer = pointer


def _fail(pointer: str, problem: str) -> SegmentPayloadError:
    return SegmentPayloadError(f"{pointer}: {problem}", pointer)


def segment_drafts(body: bytes, received_at: datetime) -> list[EventDraft]:
    """The events a stored batch records (checked at intake, so this fails only on a changed
    rule)."""
    return batch_drafts(orjson.loads(body), received_at=received_at)


def validate_batch(document: Any, *, received_at: datetime) -> None:
    """Checks a decoded batch as processing will map it; ``SegmentPayloadError`` names the field."""
    batch_drafts(document, received_at=received_at)


def batch_drafts(document: Any, *, received_at: datetime) -> list[EventDraft]:
    """The event drafts of a decoded ``/v1/batch`` body, in message order.

    Args:
        document: the decoded JSON body.
        received_at: when shoptrack received it; the time of messages without a timestamp.

    Raises:
        SegmentPayloadError: the first message or field that cannot be recorded.
    """
    if not isinstance(document, dict):
        raise _fail("/", "the body must be a JSON object with a batch array")
    deepest = too_deep(document, MAX_BATCH_NESTING)
    if deepest is not None:
        raise _fail(
            deepest, f"a batch nests at most {MAX_BATCH_NESTING} levels of objects and arrays"
        )
    batch = document.get("batch")
    if not isinstance(batch, list):
        raise _fail("/batch", "must be an array of messages")
    sent_at = _time(document.get("sentAt"), "/sentAt", received_at)
    batch_traits = _traits_of(document.get("context"), "/context")
    drafts: list[EventDraft] = []
    for index, message in enumerate(batch):
        draft = _message_draft(
            message,
            f"/batch/{index}",
            batch_traits=batch_traits,
            default_time=sent_at or received_at,
            received_at=received_at,
        )
        if draft is not None:
            drafts.append(draft)
    return drafts


def _message_draft(
    message: Any,
    pointer: str,
    *,
    batch_traits: _Traits,
    default_time: datetime,
    received_at: datetime,
) -> EventDraft | None:
    if not isinstance(message, dict):
        raise _fail(pointer, "each message must be an object")
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in MESSAGE_TYPES:
        raise _fail(f"{pointer}/type", "must be one of " + ", ".join(sorted(MESSAGE_TYPES)))
    if kind in SKIPPED_TYPES:
        return None
    person = _person(message, pointer, kind, batch_traits)
    if kind == "identify":
        return None
    event = message.get("event")
    if not isinstance(event, str) or not event.strip():
        raise _fail(f"{pointer}/event", "a track message needs the event's name")
    if len(event) > MAX_METRIC_NAME:
        raise _fail(f"{pointer}/event", f"at most {MAX_METRIC_NAME} characters")
    properties = _properties(message.get("properties"), f"{pointer}/properties")
    order_id = _identifier(properties.get("order_id"), f"{pointer}/properties/order_id")
    message_id = _identifier(message.get("messageId"), f"{pointer}/messageId")
    time = (
        _time(message.get("timestamp"), f"{pointer}/timestamp", received_at)
        or _time(message.get("originalTimestamp"), f"{pointer}/originalTimestamp", received_at)
        or default_time
    ).replace(microsecond=0)
    # Without an id, Klaviyo's rule: one event per profile, metric and second.
    unique_id = order_id or message_id or f"{_identity(person)}@{int(time.timestamp())}"
    value, currency = _value(properties, f"{pointer}/properties")
    if not person.identified:
        # A visitor known only by a device id has no profile yet: the message is valid (so the
        # batch is kept: SDKs drop a batch answered 400, identified events with it) but skipped.
        return None
    return EventDraft(
        metric=SEGMENT_METRICS.get(event, event),
        person=person,
        time=time,
        unique_id=unique_id,
        properties=_klaviyo_properties(properties, order_id),
        value=value,
        value_currency=currency,
    )


# --- people ---------------------------------------------------------------------------------


def _traits_of(context: Any, pointer: str) -> _Traits:
    """The traits in a ``context`` object (Segment's SDKs put the known user's traits there)."""
    if context is None:
        return {}
    if not isinstance(context, dict):
        raise _fail(pointer, "must be an object")
    return _trait_map(context.get("traits"), f"{pointer}/traits")


def _trait_map(traits: Any, pointer: str) -> _Traits:
    if traits is None:
        return {}
    if not isinstance(traits, dict):
        raise _fail(pointer, "must be an object")
    return {name: (value, f"{pointer}/{escape_pointer(name)}") for name, value in traits.items()}


def _person(message: dict[str, Any], pointer: str, kind: str, batch_traits: _Traits) -> Person:
    """Who a message is about: ``userId`` is the external id, the traits give email and names.

    The message's ``context.traits`` come first, then its own ``traits`` (where ``identify``
    puts them), then the batch's ``context.traits``.
    """
    traits = (
        batch_traits
        | _trait_map(message.get("traits"), f"{pointer}/traits")
        | _traits_of(message.get("context"), f"{pointer}/context")
    )
    external_id = _identifier(message.get("userId"), f"{pointer}/userId", limit=MAX_EXTERNAL_ID)
    email = _email(traits.get("email"))
    anonymous_id = _identifier(
        message.get("anonymousId"), f"{pointer}/anonymousId", limit=MAX_EXTERNAL_ID
    )
    if external_id is None and email is None and anonymous_id is None:
        # Segment's spec: every message names a userId or an anonymousId.
        raise _fail(
            f"{pointer}/userId",
            f"{kind} messages need a userId, an anonymousId or an email in context.traits.email",
        )
    phone = None
    if "phone" in traits and isinstance(traits["phone"][0], str):
        try:
            phone = normalize_phone(traits["phone"][0])
        except InvalidIdentifierError:
            # Segment takes any phone text; a number without its country code identifies
            # no one, so it is left off (as for orders) rather than refusing the batch.
            phone = None
    attributes: dict[str, Any] = {}
    if anonymous_id is not None:
        attributes["anonymous_id"] = anonymous_id
    return Person(
        email=email,
        phone_number=phone,
        external_id=external_id,
        first_name=_name(traits, "firstName", "first_name"),
        last_name=_name(traits, "lastName", "last_name"),
        attributes=attributes,
        # Traits are what the sending app knows of the user now, as an API profile is.
        overwrite=True,
    )


def _email(trait: tuple[Any, str] | None) -> str | None:
    if trait is None or trait[0] is None:
        return None
    value, pointer = trait
    if not isinstance(value, str):
        raise _fail(pointer, "must be a string")
    if len(value) > MAX_EMAIL:
        raise _fail(pointer, f"at most {MAX_EMAIL} characters")
    try:
        return normalize_email(value)
    except InvalidIdentifierError as error:
        raise _fail(pointer, str(error)) from error


def _name(traits: _Traits, *names: str) -> str | None:
    for name in names:
        if name not in traits:
            continue
        value, pointer = traits[name]
        if value is None:
            continue
        if not isinstance(value, str):
            raise _fail(pointer, "must be a string")
        if len(value) > MAX_NAME:
            raise _fail(pointer, f"at most {MAX_NAME} characters")
        return value.strip() or None
    return None


def _identifier(value: Any, pointer: str, *, limit: int = MAX_UNIQUE_ID) -> str | None:
    """An id as text: Segment's SDKs send numeric ids as numbers or strings alike."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _fail(pointer, "must be a string or a number")
    text = str(value).strip()
    if len(text) > limit:
        raise _fail(pointer, f"at most {limit} characters")
    return text or None


def _identity(person: Person) -> str:
    return person.email or person.external_id or "anonymous"


# --- time and value ---------------------------------------------------------------------------


def _time(value: Any, pointer: str, received_at: datetime) -> datetime | None:
    """An ISO 8601 time, in UTC, within Klaviyo's bounds (after 1990, at most a year ahead)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(pointer, "must be an ISO 8601 time")
    try:
        time = datetime.fromisoformat(value.strip())
    except ValueError as error:
        raise _fail(pointer, f"{value!r} is not an ISO 8601 time") from error
    if time.tzinfo is None:
        time = time.replace(tzinfo=UTC)  # Segment reads a time without offset as UTC
    outside = _fail(pointer, "must be after 1990 and at most one year ahead")
    try:
        time = time.astimezone(UTC)
    except OverflowError:
        # Year 1 east of UTC (or 9999 west of it) has no UTC time the database could hold.
        raise outside from None
    if not EARLIEST <= time <= received_at + LATEST_AHEAD:
        raise outside
    return time


def _properties(value: Any, pointer: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(pointer, "must be an object")
    problem = property_problem(value)
    if problem is not None:
        where, reason = problem
        raise _fail(f"{pointer}{where}", reason)
    return value


def _value(properties: dict[str, Any], pointer: str) -> tuple[Decimal | None, str | None]:
    value = None
    for name in _VALUE_PROPERTIES:
        if properties.get(name) is not None:
            value = _amount(properties[name], f"{pointer}/{name}")
            break
    currency = properties.get("currency")
    if currency is None:
        return value, None
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise _fail(f"{pointer}/currency", "must be a three-letter ISO 4217 code")
    return value, currency.upper()


def _amount(value: Any, pointer: str) -> Decimal:
    """An exact amount to four places (the store's precision) from a JSON number or numeric
    text; a float's shortest text is taken, so 19.99 stays 19.99."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _fail(pointer, "must be a number")
    try:
        amount = Decimal(str(value).strip())
        if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
            raise _fail(pointer, "must be a finite amount below 10^16")
        return amount.quantize(_CENTS)
    except InvalidOperation as error:
        raise _fail(pointer, f"{value!r} is not a number") from error


# --- properties -------------------------------------------------------------------------------


def _klaviyo_properties(properties: dict[str, Any], order_id: str | None) -> dict[str, Any]:
    """The original properties plus Klaviyo's names for those of Segment's e-commerce spec
    (a property the sender named the Klaviyo way already is left as sent)."""
    mapped: dict[str, Any] = {}
    if order_id is not None:
        mapped["OrderId"] = order_id
    if isinstance(properties.get("coupon"), str):
        mapped["DiscountCode"] = properties["coupon"]
    if properties.get("discount") is not None:
        mapped["DiscountValue"] = properties["discount"]
    products = properties.get("products")
    if isinstance(products, list):
        # Free-form properties are not refused for their shape: a non-object entry is skipped.
        items = [_item(product) for product in products if isinstance(product, dict)]
        mapped["Items"] = items
        mapped["ItemNames"] = [item["ProductName"] for item in items if item["ProductName"]]
        mapped["Categories"] = _unique(c for item in items for c in item["Categories"])
        mapped["Brands"] = _unique(
            item["Brand"] for item in items if isinstance(item["Brand"], str)
        )
    elif "product_id" in properties or "sku" in properties:
        # A single-product event (Product Viewed, Product Added): Klaviyo's names at the top.
        item = _item(properties)
        mapped |= {
            "ProductID": item["ProductID"],
            "SKU": item["SKU"],
            "ProductName": item["ProductName"],
            "Quantity": item["Quantity"],
            "Price": item["ItemPrice"],
            "ProductURL": item["ProductURL"],
            "ImageURL": item["ImageURL"],
            "Categories": item["Categories"],
            "Brand": item["Brand"],
        }
    return {**mapped, **properties}


def _item(product: dict[str, Any]) -> dict[str, Any]:
    """One of ``products`` in the shape of a Klaviyo order's ``Items`` entry."""
    price, quantity = product.get("price"), product.get("quantity")
    row_total = None
    if _is_number(price) and _is_number(quantity):
        row_total = float(Decimal(str(price)) * Decimal(str(quantity)))
    category = product.get("category")
    return {
        "ProductID": product.get("product_id", product.get("id")),
        "SKU": product.get("sku"),
        "ProductName": product.get("name"),
        "Quantity": quantity,
        "ItemPrice": price,
        "RowTotal": row_total,
        "ProductURL": product.get("url"),
        "ImageURL": product.get("image_url"),
        "Categories": [category] if isinstance(category, str) and category else [],
        "Brand": product.get("brand"),
    }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _unique(values: Any) -> list[Any]:
    return list(dict.fromkeys(values))
