"""Unsubscribe links: a token that names an account and an email address, signed with a key
derived from ``SHOPTRACK_SECRET_KEY`` (every current key verifies, so rotation keeps old links
working). The link needs no login and reveals nothing it does not carry."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from shoptrack.errors import InputError

__all__ = ["UnsubscribeLinkError", "UnsubscribeToken", "sign_token", "verify_token"]

_PURPOSE = b"shoptrack unsubscribe v1"


class UnsubscribeLinkError(InputError):
    """An unsubscribe link that was not made here, or was altered."""

    code = "unsubscribe_link_invalid"
    title = "This unsubscribe link is not valid."


@dataclass(frozen=True, slots=True)
class UnsubscribeToken:
    """An account's address to unsubscribe, and the email whose link it is (links made before
    they named it have none)."""

    account_id: str
    email: str
    delivery_id: str | None = None


def _key(secret: str) -> bytes:
    # A key of its own for this purpose, so a token is never a valid signature of anything else.
    return hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_token(secret: str, token: UnsubscribeToken) -> str:
    """``payload.signature``, URL-safe."""
    document = {"a": token.account_id, "e": token.email}
    if token.delivery_id is not None:
        document["d"] = token.delivery_id
    payload = _encode(orjson.dumps(document))
    signature = hmac.new(_key(secret), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_encode(signature)}"


def verify_token(secrets: Sequence[str], text: str) -> UnsubscribeToken:
    """The token's account and address if any current secret signed it."""
    payload, _, signature = text.partition(".")
    try:
        given = _decode(signature)
        for secret in secrets:
            expected = hmac.new(_key(secret), payload.encode(), hashlib.sha256).digest()
            if hmac.compare_digest(expected, given):
                document = orjson.loads(_decode(payload))
                delivery = document.get("d")
                return UnsubscribeToken(
                    str(document["a"]),
                    str(document["e"]),
                    None if delivery is None else str(delivery),
                )
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        pass
    raise UnsubscribeLinkError("the link is incomplete or was not made by this server")
