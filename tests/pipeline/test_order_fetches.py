"""Order fetches: one per order however many webhooks name it, and none lost to a race."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from shoptrack.clock import FrozenClock
from shoptrack.pipeline.fetch import MAX_ATTEMPTS, retry_delay
from shoptrack.services import Services
from shoptrack.store.order_fetches import (
    COALESCE_DELAY,
    claim_fetches,
    fail_fetch,
    finish_fetch,
    request_fetches,
)
from shoptrack.store.schema import order_fetches
from shoptrack.testing import Shop

LEASE = timedelta(minutes=5)


def _request(services: Services, shop: Shop, *order_ids: str) -> None:
    with services.database.write() as connection:
        request_fetches(
            connection,
            account_id=shop.account_id,
            integration_id=shop.integration.id,
            order_ids=order_ids,
            now=services.clock.now(),
        )


def _waiting(services: Services) -> int:
    with services.database.read() as connection:
        return int(connection.execute(select(func.count()).select_from(order_fetches)).scalar_one())


def test_repeated_requests_for_an_order_make_one_fetch_when_due(
    services: Services, shop: Shop, clock: FrozenClock
) -> None:
    _request(services, shop, "250", "250")
    clock.advance(timedelta(seconds=1))
    _request(services, shop, "250", "251")
    assert _waiting(services) == 2

    with services.database.write() as connection:
        assert claim_fetches(connection, "a", clock.now(), LEASE) == []  # not due yet
    clock.advance(COALESCE_DELAY)
    with services.database.write() as connection:
        claimed = claim_fetches(connection, "a", clock.now(), LEASE)
        # The first request's due time holds: later requests don't push the fetch back.
        assert [fetch.platform_order_id for fetch in claimed] == ["250", "251"]
        assert claim_fetches(connection, "b", clock.now(), LEASE) == []  # leased to "a"
        for fetch in claimed:
            finish_fetch(connection, fetch, "a")
    assert _waiting(services) == 0


def test_a_request_during_a_fetch_is_fetched_again(
    services: Services, shop: Shop, clock: FrozenClock
) -> None:
    _request(services, shop, "250")
    clock.advance(COALESCE_DELAY)
    with services.database.write() as connection:
        [fetch] = claim_fetches(connection, "a", clock.now(), LEASE)
    clock.advance(timedelta(milliseconds=300))
    _request(services, shop, "250")  # the order changed after the store answered the fetch
    with services.database.write() as connection:
        finish_fetch(connection, fetch, "a")
    assert _waiting(services) == 1
    with services.database.write() as connection:
        [again] = claim_fetches(connection, "b", clock.now(), LEASE)
        assert again.requested_at > fetch.requested_at


def test_a_failed_fetch_waits_and_an_expired_lease_is_taken_over(
    services: Services, shop: Shop, clock: FrozenClock
) -> None:
    _request(services, shop, "250")
    clock.advance(COALESCE_DELAY)
    with services.database.write() as connection:
        [fetch] = claim_fetches(connection, "a", clock.now(), LEASE)
        fail_fetch(connection, fetch, "a", "store_unavailable: 503", clock.now() + LEASE)
        assert claim_fetches(connection, "b", clock.now(), LEASE) == []
    clock.advance(LEASE)
    with services.database.write() as connection:
        [retried] = claim_fetches(connection, "b", clock.now(), LEASE)
        assert retried.attempts == 1
    # "b" dies holding the lease: once it expires another process takes the fetch.
    clock.advance(LEASE + timedelta(seconds=1))
    with services.database.write() as connection:
        [taken] = claim_fetches(connection, "c", clock.now(), LEASE)
        finish_fetch(connection, retried, "b")  # the dead process's late finish changes nothing
        finish_fetch(connection, taken, "c")
    assert _waiting(services) == 0


def test_a_webhook_brings_a_backed_off_fetch_forward(
    services: Services, shop: Shop, clock: FrozenClock
) -> None:
    _request(services, shop, "250")
    clock.advance(COALESCE_DELAY)
    with services.database.write() as connection:
        [fetch] = claim_fetches(connection, "a", clock.now(), LEASE)
        fail_fetch(connection, fetch, "a", "store_unavailable: 503", clock.now() + LEASE * 12)
    _request(services, shop, "250")  # the store is back: it sends a webhook
    clock.advance(COALESCE_DELAY)
    with services.database.write() as connection:
        assert [
            f.platform_order_id for f in claim_fetches(connection, "b", clock.now(), LEASE)
        ] == ["250"]


def test_a_fetch_that_keeps_failing_is_given_up(
    services: Services, shop: Shop, clock: FrozenClock
) -> None:
    assert retry_delay(0) == timedelta(seconds=30)
    assert retry_delay(MAX_ATTEMPTS - 2) == timedelta(hours=1)
    assert retry_delay(MAX_ATTEMPTS - 1) is None
    _request(services, shop, "250")
    clock.advance(COALESCE_DELAY)
    with services.database.write() as connection:
        [fetch] = claim_fetches(connection, "a", clock.now(), LEASE)
        fail_fetch(connection, fetch, "a", "credentials_rejected: 401", None)
    assert _waiting(services) == 0
