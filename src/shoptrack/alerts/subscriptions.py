"""Who hears of an account's alerts: subscribing an email address or a webhook URL, listing and
unsubscribing them — the one place the API, the CLI and the web UI's Settings page go through.

An address is trimmed and lower-cased; a URL must be http(s) and pass the outbound guard when it
is saved (and again at every send). A webhook subscription gets a ``whsec_`` secret of its own,
stored encrypted like store credentials and shown once, in the answer that makes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from shoptrack.domain.identity import InvalidIdentifierError, normalize_email
from shoptrack.errors import InputError, NotFoundError
from shoptrack.flows.service import new_webhook_secret
from shoptrack.services import Services
from shoptrack.store.alerts import (
    SubscriptionRecord,
    add_subscription,
    list_subscriptions,
    remove_subscription,
)

__all__ = ["NewSubscription", "subscribe", "subscriptions", "unsubscribe"]

_MAX_URL = 2000


@dataclass(frozen=True, slots=True)
class NewSubscription:
    """A subscription just made, and its webhook secret (None for email): shown this once."""

    subscription: SubscriptionRecord
    secret: str | None = None


def _address(email: str) -> str:
    try:
        address = normalize_email(email)
    except InvalidIdentifierError as error:
        raise InputError(
            f"email: {error}; give an address such as ops@example.com",
            pointer="/data/attributes/email",
        ) from error
    if address is None:
        raise InputError("email is empty: give an address", pointer="/data/attributes/email")
    return address


def _url(services: Services, url: str) -> str:
    url = url.strip()
    pointer = "/data/attributes/url"
    try:
        parsed = httpx.URL(url)
        host = parsed.host  # decoded on first use: a bad IDNA label fails here
    except (httpx.InvalidURL, UnicodeError) as error:
        raise InputError(f"url: {error}", pointer=pointer) from error
    if any(character.isspace() for character in url):
        raise InputError("url has white space inside it", pointer=pointer)
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise InputError(f"url: port {parsed.port} is not 1 to 65535", pointer=pointer)
    if parsed.scheme not in ("http", "https") or not host:
        raise InputError(
            "url must be an http:// or https:// address, such as https://example.com/hooks",
            pointer=pointer,
        )
    if len(url) > _MAX_URL:
        raise InputError(f"url is longer than {_MAX_URL} characters", pointer=pointer)
    services.outbound.check_url(url, field="url")
    return url


def subscribe(
    services: Services, account_id: str, *, email: str | None = None, url: str | None = None
) -> NewSubscription:
    """Subscribes an email address or a webhook URL (exactly one) to the account's alerts;
    409 ``conflict`` when it is subscribed already."""
    if (email is None) == (url is None):
        raise InputError(
            "give either email or url (one subscription at a time)",
            pointer="/data/attributes",
        )
    now = services.clock.now()
    if email is not None:
        address = _address(email)
        with services.database.write() as connection:
            return NewSubscription(add_subscription(connection, account_id, "email", address, now))
    target = _url(services, str(url))
    secret = new_webhook_secret()
    with services.database.write() as connection:
        record = add_subscription(
            connection,
            account_id,
            "webhook",
            target,
            now,
            secret_encrypted=services.cipher.encrypt({"secret": secret}),
        )
    return NewSubscription(record, secret)


def subscriptions(services: Services, account_id: str) -> list[SubscriptionRecord]:
    with services.database.read() as connection:
        return list_subscriptions(connection, account_id)


def unsubscribe(
    services: Services,
    account_id: str,
    *,
    subscription_id: str | None = None,
    email: str | None = None,
    url: str | None = None,
) -> SubscriptionRecord:
    """Removes a subscription named by its id, its address or its URL; 404 when the account
    has none such. Its notices not sent yet are cancelled."""
    with services.database.write() as connection:
        found = list_subscriptions(connection, account_id)
        if subscription_id is not None:
            match = [s for s in found if s.id == subscription_id]
        elif email is not None:
            address = _address(email)
            match = [s for s in found if s.channel == "email" and s.target == address]
        elif url is not None:
            match = [s for s in found if s.channel == "webhook" and s.target == url.strip()]
        else:
            raise InputError("name the subscription: its id, email or url", parameter="id")
        if not match:
            raise NotFoundError("the account has no such alert subscription", parameter="id")
        remove_subscription(connection, account_id, match[0].id)
    return match[0]
