"""Refused webhook deliveries cost little disk: a forgery keeps its headers, size, hash and first
4 KB; past the integration's limit it keeps only a count, which the doctor still shows; a
delivery the store signed with its secret in another white-space form is kept whole, and the
doctor's fix still recovers it."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import orjson
from sqlalchemy import func, select

from shoptrack.api.asgi import MAX_BODY_BYTES
from shoptrack.api.rejection_limit import BURST, PER_HOUR
from shoptrack.clock import FrozenClock
from shoptrack.doctor import Severity, apply_fix, diagnose_integration
from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.store.inbox import (
    REJECTED_BODY_BYTES,
    InboxState,
    ReplaySelection,
    prune_rejected,
    replay,
)
from shoptrack.store.schema import inbox
from shoptrack.testing import WEBHOOK_SECRET, Shop, woo_order, woo_webhook
from tests.conftest import START
from tests.helpers import AppClient, event_counts, inbox_states
from tests.processes import wait_until


def _url(shop: Shop) -> str:
    return f"/webhooks/woocommerce/{shop.integration.id}"


def _forged(order_id: int, *, padding: int = 0) -> tuple[dict[str, str], bytes]:
    """A delivery signed with a secret that is not the integration's, ``padding`` bytes
    bigger than the order."""
    order = woo_order(order_id, "processing", START)
    if padding:
        order["customer_note"] = "x" * padding
    return woo_webhook(order, secret="not-the-secret", delivery_id=str(order_id))


def _diagnose(services: Services, shop: Shop) -> dict[str, dict[str, object]]:
    report = diagnose_integration(services, shop.account_id, shop.integration.id, live=False)
    return {f.code: {"severity": f.severity, **f.evidence} for f in report.findings}


def _refused(services: Services, shop: Shop, expected: int) -> dict[str, object]:
    """The doctor's finding on forged deliveries, once it counts ``expected`` of them (the
    writer records counts of unstored ones just after the 401s)."""
    wait_until(
        lambda: _diagnose(services, shop)["webhook_signature_rejected"]["refused"] == expected,
        timeout=30,
    )
    return _diagnose(services, shop)["webhook_signature_rejected"]


def test_a_forged_5_mb_delivery_keeps_headers_size_hash_and_4_kb(
    services: Services, shop: Shop, client: AppClient
) -> None:
    bodies = []
    for order_id in (1, 2, 3):
        headers, body = _forged(order_id, padding=MAX_BODY_BYTES - 8192)
        assert len(body) > MAX_BODY_BYTES - 8192
        response = client.post(_url(shop), content=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] == "webhook_signature_rejected"
        bodies.append((headers, body))
    with services.database.read() as connection:
        rows = connection.execute(select(inbox).order_by(inbox.c.id)).all()
        stored = connection.execute(select(func.sum(func.length(inbox.c.body)))).scalar_one()
    # Three 5 MB forgeries once grew the database by 15 MB; now by 12 KB of bodies.
    assert stored == 3 * REJECTED_BODY_BYTES
    for row, (headers, body) in zip(rows, bodies, strict=True):
        assert row.state == "rejected"
        assert row.body_truncated is True
        assert bytes(row.body) == body[:REJECTED_BODY_BYTES]
        assert row.body_size == len(body)
        assert row.body_sha256 == hashlib.sha256(body).hexdigest()
        assert row.headers["x-wc-webhook-signature"] == headers["x-wc-webhook-signature"]
        assert row.headers["x-wc-webhook-delivery-id"] == headers["x-wc-webhook-delivery-id"]
        assert row.reason == "rejected: signature does not match the webhook secret"
        assert row.dedupe_key is None
    # A truncated row is recognisably not what was sent, and never replayed as an order.
    with services.database.write() as connection:
        selection = ReplaySelection(states=(InboxState.REJECTED,), ids=[r.id for r in rows])
        assert replay(connection, selection, services.clock.now()) == 0
    assert inbox_states(services) == {"rejected": 3}


def test_past_the_limit_a_refusal_is_counted_not_stored_and_the_doctor_counts_it(
    services: Services, shop: Shop, client: AppClient, clock: FrozenClock
) -> None:
    for order_id in range(BURST + 5):
        headers, body = _forged(order_id)
        assert client.post(_url(shop), content=body, headers=headers).status_code == 401
    finding = _refused(services, shop, BURST + 5)
    assert inbox_states(services) == {"rejected": BURST}
    assert finding["severity"] is Severity.WARNING
    assert finding["not_stored"] == 5
    # The bucket refills with the clock: an hour later PER_HOUR more are stored.
    clock.advance(timedelta(hours=1))
    for order_id in range(100, 100 + PER_HOUR + 1):
        headers, body = _forged(order_id)
        assert client.post(_url(shop), content=body, headers=headers).status_code == 401
    finding = _refused(services, shop, BURST + 5 + PER_HOUR + 1)
    assert inbox_states(services) == {"rejected": BURST + PER_HOUR}
    assert finding["not_stored"] == 6
    # The limit is per integration: a real delivery is never held back by it.
    headers, body = woo_webhook(woo_order(1, "processing", START), secret=WEBHOOK_SECRET)
    assert client.post(_url(shop), content=body, headers=headers).json() == {"status": "accepted"}


def test_a_delivery_signed_with_a_padded_secret_is_kept_whole_and_recovered(
    services: Services, shop: Shop, client: AppClient
) -> None:
    order = woo_order(7, "processing", START, lines=40)
    headers, body = woo_webhook(order, secret=WEBHOOK_SECRET + "\n", delivery_id="7")
    assert len(body) > 2 * REJECTED_BODY_BYTES
    forged_headers, forged_body = _forged(8, padding=2 * REJECTED_BODY_BYTES)
    assert client.post(_url(shop), content=body, headers=headers).status_code == 401
    assert client.post(_url(shop), content=forged_body, headers=forged_headers).status_code == 401
    with services.database.read() as connection:
        rows = connection.execute(select(inbox).order_by(inbox.c.id)).all()
    genuine, forged = rows
    assert bytes(genuine.body) == body  # signed by the store: kept whole
    assert genuine.body_truncated is False
    assert forged.body_truncated is True
    findings = _diagnose(services, shop)
    assert findings["credentials_whitespace"]["severity"] is Severity.ERROR
    assert findings["credentials_whitespace"]["refused_deliveries"] == 1
    assert findings["webhook_signature_rejected"]["refused"] == 1  # the forgery
    result = apply_fix(services, shop.account_id, shop.integration.id, "credentials_whitespace")
    assert result.finding.severity is Severity.OK
    Processor(services.database, services.clock).run_until_idle()
    assert event_counts(services, shop.account_id)["Placed Order"] == 1
    with services.database.read() as connection:
        states = dict(connection.execute(select(inbox.c.id, inbox.c.state)).all())
    assert states == {genuine.id: "processed", forged.id: "rejected"}


def test_rejected_headers_are_bounded(services: Services, shop: Shop, client: AppClient) -> None:
    headers, body = _forged(1)
    padded = headers | {f"x-padding-{n}": "y" * 2000 for n in range(60)}
    assert client.post(_url(shop), content=body, headers=padded).status_code == 401
    with services.database.read() as connection:
        kept = connection.execute(select(inbox.c.headers)).scalar_one()
    assert len(kept) <= 40
    assert max(len(value) for value in kept.values()) <= 512
    assert len(orjson.dumps(kept)) < 24_000


def test_old_rejected_rows_are_pruned_and_nothing_else(
    services: Services, shop: Shop, client: AppClient, clock: FrozenClock
) -> None:
    headers, body = _forged(1)
    assert client.post(_url(shop), content=body, headers=headers).status_code == 401
    good_headers, good_body = woo_webhook(woo_order(2, "processing", START), secret=WEBHOOK_SECRET)
    assert client.post(_url(shop), content=good_body, headers=good_headers).status_code == 200
    clock.advance(timedelta(days=1))
    headers, body = _forged(3)
    assert client.post(_url(shop), content=body, headers=headers).status_code == 401
    with services.database.write() as connection:
        assert prune_rejected(connection, START + timedelta(hours=1)) == 1
    assert inbox_states(services) == {"rejected": 1, "pending": 1}


def test_the_workers_prune_rejected_rows_older_than_two_weeks(
    services: Services, shop: Shop, clock: FrozenClock
) -> None:
    from shoptrack.api.app import create_app

    client = AppClient(create_app(services, run_workers=False))
    try:
        headers, body = _forged(1)
        assert client.post(_url(shop), content=body, headers=headers).status_code == 401
    finally:
        client.close()
    clock.advance(timedelta(days=14, minutes=1))
    working = AppClient(create_app(services))  # maintenance runs as the workers start
    try:
        wait_until(lambda: inbox_states(services) == {}, timeout=30)
    finally:
        working.close()
