"""How people are recognised: normalised email addresses and phone numbers."""

from __future__ import annotations

import re

__all__ = ["InvalidIdentifierError", "normalize_email", "normalize_phone"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_NOISE = re.compile(r"[\s().\-/]")
_TRUNK_PREFIX = re.compile(r"(?<=\d)\s*\(0\)")


class InvalidIdentifierError(ValueError):
    """An email address or phone number that cannot identify anyone."""


def normalize_email(value: str | None) -> str | None:
    """Trimmed and lower-cased, so ``" A@x.com"`` and ``"a@x.com"`` are one person.

    An empty value is None."""
    if value is None:
        return None
    email = value.strip().lower()
    if not email:
        return None
    if not _EMAIL.match(email):
        raise InvalidIdentifierError(f"{value!r} is not an email address")
    return email


def normalize_phone(value: str | None) -> str | None:
    """E.164 (``+`` and 8 to 15 digits) with separators removed; a number without ``+`` is refused
    because its country cannot be known."""
    if value is None:
        return None
    # "+44 (0)20 …": the bracketed trunk prefix is dialled only from inside the country.
    phone = _PHONE_NOISE.sub("", _TRUNK_PREFIX.sub("", value.strip()))
    if not phone:
        return None
    if phone.startswith("00"):
        phone = "+" + phone[2:]
    if not re.fullmatch(r"\+[1-9][0-9]{7,14}", phone):
        raise InvalidIdentifierError(
            f"{value!r} is not an E.164 phone number (write it as +<country code><number>)"
        )
    return phone
