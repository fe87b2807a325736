"""Reading fields of a store's raw JSON: each reader returns the value in shoptrack's type or
raises ``ValueError`` naming the field (``path`` is the prefix of nested fields, such as
``"line_items[0]."``), which processing records on the failed inbox row.

Every platform writes its times its own way: ``utc_time`` reads one with the parser its
connector hands in.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from shoptrack.domain.order import Address

_ADDRESS_FIELDS = tuple(field.name for field in dataclasses.fields(Address))
Read = TypeVar("Read")
_Keys = tuple[tuple[str, str | None], ...]

__all__ = [
    "address",
    "each",
    "first_text",
    "integer",
    "mapping",
    "money",
    "object_list",
    "optional_integer",
    "optional_text",
    "present",
    "text",
    "utc_time",
]


def present(raw: Mapping[str, Any], key: str, path: str = "") -> Any:
    value = raw.get(key)
    if value is None:
        raise ValueError(f"{path}{key}: missing")
    return value


def text(raw: Mapping[str, Any], key: str, path: str = "") -> str:
    value = present(raw, key, path)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{path}{key}: expected a string, got {value!r}")
    stripped = str(value).strip()
    if not stripped:
        raise ValueError(f"{path}{key}: empty")
    return stripped


def optional_text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value.__class__ is str:  # by far the most read: one check instead of three
        return value.strip() or None
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value).strip() or None
    return None


def first_text(*places: tuple[Mapping[str, Any], str]) -> str | None:
    """The text of the first of several ``(object, key)`` places that holds one, as
    ``optional_text`` reads it: for a value a platform writes in more than one place (the
    customer's name, else the billing address's)."""
    for raw, key in places:
        value = optional_text(raw, key)
        if value is not None:
            return value
    return None


def integer(raw: Mapping[str, Any], key: str, path: str = "") -> int:
    value = present(raw, key, path)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{path}{key}: expected a non-negative integer, got {value!r}")
    return value


def optional_integer(raw: Mapping[str, Any], key: str, path: str = "") -> int | None:
    return None if raw.get(key) is None else integer(raw, key, path)


def money(
    raw: Mapping[str, Any], key: str, path: str = "", *, default: Decimal | None = None
) -> Decimal:
    """An exact amount. Stores write decimal strings ("199.00"); ``str()`` first keeps a stray
    JSON number (WooCommerce's line ``price``) as exact as its JSON text. With a ``default``, a
    missing or empty amount is that default."""
    if default is not None and raw.get(key) in (None, ""):
        return default
    value = present(raw, key, path)
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, bool) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise ValueError(f"{path}{key}: not a decimal amount: {value!r}")
    return amount


def utc_time(
    raw: Mapping[str, Any], key: str, parse: Callable[[str], datetime], form: str
) -> datetime:
    """The time ``key`` of ``raw`` in UTC, read by ``parse`` (which raises ``ValueError`` or
    ``TypeError`` on what it cannot read); a time written without an offset is UTC, as the
    platforms that read times this way write them. ``form`` names how they write them (``"an
    ISO 8601 date-time"``) in the error."""
    value = present(raw, key)
    try:
        moment = parse(value) if isinstance(value, str) else None
    except (TypeError, ValueError):
        moment = None
    if moment is None:
        raise ValueError(f"{key}: not {form}: {value!r}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def mapping(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    # PHP stores (WooCommerce, BigCommerce) encode an empty array as [], even for an object.
    value = raw.get(key) or {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{key}: expected an object, got {value!r}")
    return value


def object_list(
    raw: Mapping[str, Any], key: str, *, required: bool = False, path: str = ""
) -> list[Mapping[str, Any]]:
    value = present(raw, key, path) if required else raw.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise ValueError(f"{path}{key}: expected a list of objects")
    return value


def address(raw: Mapping[str, Any], **keys: str | None) -> Address | None:
    """The address ``raw`` holds: each of ``Address``'s fields read as optional text from the
    key of its own name, or from the one ``keys`` names for it (None: the platform does not
    write that field); None when no field is set."""
    values = {
        name: optional_text(raw, key) if key else None
        for name, key in _address_keys(tuple(keys.items()))
    }
    return Address(**values) if any(value is not None for value in values.values()) else None


@functools.cache
def _address_keys(renamed: _Keys) -> _Keys:
    """Each field of ``Address`` with the key it is read from (a connector's few spellings,
    worked out once each: every order reads two addresses)."""
    keys = dict(renamed)
    unknown = set(keys) - set(_ADDRESS_FIELDS)
    if unknown:
        raise TypeError(f"Address has no field {', '.join(sorted(unknown))}")
    return tuple((name, keys.get(name, name)) for name in _ADDRESS_FIELDS)


def each(
    raw: Mapping[str, Any],
    key: str,
    read: Callable[[Mapping[str, Any], str], Read],
    *,
    required: bool = False,
) -> tuple[Read, ...]:
    """``read`` applied to every object of the list ``key``, with the path that names it in
    errors (``"line_items[0]."``)."""
    objects = object_list(raw, key, required=required)
    return tuple(read(item, f"{key}[{index}].") for index, item in enumerate(objects))
