"""Alert webhooks: signed the Standard Webhooks way with the subscription's own secret, sent
through the outbound guard, once per opening and resolving."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta

import orjson
import pytest
from sqlalchemy import select

from shoptrack.alerts import AlertNotifier, Watchdog, subscribe
from shoptrack.clock import FrozenClock
from shoptrack.errors import InputError
from shoptrack.flows.delivery import WebhookSender
from shoptrack.outbound import OutboundGuard
from shoptrack.services import Services
from shoptrack.store.alerts import get_alert
from shoptrack.store.schema import alert_notifications
from shoptrack.testing import Shop
from tests.flow_support import webhook_receiver
from tests.watch_support import no_wait, order_history

EVERY = timedelta(hours=4)


def _history_then_silence(services: Services, shop: Shop, clock: FrozenClock) -> int:
    now = clock.now()
    return order_history(
        services, shop, since=now - timedelta(days=30), until=now - timedelta(days=2), every=EVERY
    )


def _run(services: Services, sender: WebhookSender | None = None) -> None:
    notifier = AlertNotifier.from_services(services, webhooks=sender)
    watchdog = Watchdog.from_services(services, notifier=notifier, client_factory=no_wait)
    try:
        watchdog.run()
    finally:
        watchdog.close()


def _verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The Standard Webhooks check a receiver makes, written out here."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return f"v1,{expected}" in headers["webhook-signature"].split(" ")


def test_an_alert_is_posted_signed_once_when_it_opens_and_once_when_it_resolves(
    services: Services, shop: Shop, clock: FrozenClock
) -> None:
    count = _history_then_silence(services, shop, clock)
    with webhook_receiver() as receiver:
        made = subscribe(services, shop.account_id, url=receiver.url("/alerts"))
        assert made.secret is not None
        assert made.secret.startswith("whsec_")
        _run(services)
        (opened,) = receiver.received
        assert _verify(made.secret, opened.headers, opened.body)
        assert opened.headers["content-type"] == "application/json"
        document = orjson.loads(opened.body)
        assert document["type"] == "alert.opened"
        alert = document["alert"]
        with services.database.read() as connection:
            stored = get_alert(connection, shop.account_id, alert["id"])
        assert stored is not None
        assert alert == {"id": stored.id, **stored.attributes()}
        assert alert["code"] == "placed_order_drop"
        assert alert["integration_id"] == shop.integration.id
        assert alert["resolved"] is None
        assert alert["finding"]["evidence"]["window"]["observed"] == 0
        _run(services)
        assert len(receiver.received) == 1
        # Orders arrive again for the two silent days: two passing runs resolve it.
        order_history(
            services,
            shop,
            since=clock.now() - timedelta(days=2),
            until=clock.now(),
            every=EVERY,
            first_id=count + 1,
        )
        _run(services)
        assert len(receiver.received) == 1
        _run(services)
        _opened, resolved = receiver.received
        assert _verify(made.secret, resolved.headers, resolved.body)
        document = orjson.loads(resolved.body)
        assert document["type"] == "alert.resolved"
        assert document["alert"]["id"] == alert["id"]
        assert document["alert"]["resolved"] is not None
        assert resolved.headers["webhook-id"] != opened.headers["webhook-id"]
        _run(services)
        assert len(receiver.received) == 2


def test_an_address_the_guard_refuses_is_refused_when_saved_and_when_sent(
    services: Services, shop: Shop, clock: FrozenClock
) -> None:
    with pytest.raises(InputError) as refused:
        subscribe(services, shop.account_id, url="http://127.0.0.2:9/alerts")
    assert refused.value.code == "address_not_allowed"
    assert refused.value.pointer == "/data/attributes/url"
    _history_then_silence(services, shop, clock)
    with webhook_receiver() as receiver:
        subscribe(services, shop.account_id, url=receiver.url())
        # The operator no longer allows the network: the send is refused for good.
        _run(services, WebhookSender(OutboundGuard()))
        assert receiver.received == []
    with services.database.read() as connection:
        (row,) = connection.execute(select(alert_notifications)).all()
    assert row.state == "failed"
    assert "loopback, private" in row.last_error


def test_a_receiver_that_fails_gets_the_notice_again_until_it_answers(
    services: Services, shop: Shop, clock: FrozenClock
) -> None:
    _history_then_silence(services, shop, clock)
    with webhook_receiver(status=503) as receiver:
        subscribe(services, shop.account_id, url=receiver.url())
        _run(services)
        _run(services)
        first, second = receiver.received
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        receiver.status = 204
        _run(services)
        _run(services)
        assert len(receiver.received) == 3
    with services.database.read() as connection:
        (row,) = connection.execute(select(alert_notifications)).all()
    assert (row.state, row.attempts) == ("sent", 3)


def test_bad_subscriptions_are_refused_naming_the_field(services: Services, shop: Shop) -> None:
    cases = [
        ({"email": "not an address"}, "/data/attributes/email"),
        ({"email": "  "}, "/data/attributes/email"),
        ({"url": "ftp://example.com/x"}, "/data/attributes/url"),
        ({"url": "https://"}, "/data/attributes/url"),
        ({}, "/data/attributes"),
        ({"email": "a@example.com", "url": "https://example.com"}, "/data/attributes"),
    ]
    for given, pointer in cases:
        with pytest.raises(InputError) as refused:
            subscribe(services, shop.account_id, **given)
        assert refused.value.pointer == pointer, given
    subscribe(services, shop.account_id, email=" Ops@Example.com ")
    with pytest.raises(InputError) as twice:
        subscribe(services, shop.account_id, email="ops@example.com")
    assert twice.value.code == "conflict"


def test_a_name_that_cannot_resolve_is_unreachable_and_tried_again(
    services: Services, shop: Shop, clock: FrozenClock
) -> None:
    """A label no DNS name can have ("a..b") is saved like any name that does not resolve
    now, and sending to it is one more unreachable receiver: the run goes on."""
    _history_then_silence(services, shop, clock)
    subscribe(services, shop.account_id, url="http://a..b/alerts")
    _run(services)
    with services.database.read() as connection:
        (row,) = connection.execute(select(alert_notifications)).all()
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.last_error.endswith("unreachable")
