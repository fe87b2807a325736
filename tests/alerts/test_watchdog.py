"""The watchdog against a simulated WooCommerce store on a real socket, with real SMTP: what
opens an alert, what resolves it, and what is sent — once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from shoptrack.alerts import WatchBusyError, Watchdog
from shoptrack.api.app import create_app
from shoptrack.clock import FrozenClock
from shoptrack.integrations import update
from shoptrack.pipeline.processing import Processor
from shoptrack.pipeline.workers import Workers
from shoptrack.services import Services
from shoptrack.settings import Settings
from shoptrack.store.alerts import list_alerts, open_alerts, watch_state
from shoptrack.store.schema import alert_notifications, email_suppressions
from tests.flow_support import Mailbox, SmtpServer, smtp
from tests.helpers import AppClient
from tests.processes import wait_until
from tests.watch_support import WatchedStore, watched_store

__all__ = ["smtp"]  # the fixture, imported so pytest finds it here

pytestmark = pytest.mark.slow


@pytest.fixture
def clock() -> FrozenClock:
    """Near the real time: the store checks OAuth timestamps against the machine's clock."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def world(services: Services, clock: FrozenClock, smtp: SmtpServer) -> Iterator[WatchedStore]:
    with watched_store(services, clock, smtp) as store:
        yield store


def _open_codes(world: WatchedStore) -> set[str]:
    with world.services.database.read() as connection:
        return {alert.code for alert in open_alerts(connection, world.account_id)}


def test_a_drop_opens_one_alert_and_one_email_and_a_second_run_sends_nothing(
    world: WatchedStore,
) -> None:
    report = world.run()
    assert [a.code for a in report.accounts[0].opened] == ["placed_order_drop"]
    (message,) = world.emails()
    assert "placed_order_drop" in message["Subject"]
    text = Mailbox.text(message)
    assert "Opened: placed_order_drop (warning) on Woo (woocommerce)" in text
    assert "Placed Order dropped: 0 in the" in text
    assert "Fix: No other check fails" in text
    assert "/alerts#alert-" in text
    # Nothing changed: the alert is seen again, and nobody hears of it again.
    again = world.run()
    assert again.accounts[0].opened == []
    assert again.accounts[0].still_open == 1
    assert len(world.emails()) == 1


def test_refused_keys_open_an_alert_that_resolves_after_two_passing_runs(
    world: WatchedStore,
) -> None:
    world.store.regenerate_key()  # the merchant revoked shoptrack's key in WooCommerce
    world.run()
    assert _open_codes(world) == {"credentials_rejected", "placed_order_drop"}
    (opened,) = world.emails()
    text = Mailbox.text(opened)
    assert "Opened: credentials_rejected (error) on Woo (woocommerce)" in text
    assert "Fix: Enter the store's current keys" in text
    assert f"shoptrack integrations update {world.integration_id}" in text
    assert "store_status: 401" in text
    world.run()
    assert len(world.emails()) == 1
    world.fix_keys()
    first = world.run()  # passes once: still open, no flapping
    assert first.accounts[0].resolved == []
    assert "credentials_rejected" in _open_codes(world)
    second = world.run()
    assert [a.code for a in second.accounts[0].resolved] == ["credentials_rejected"]
    assert _open_codes(world) == {"placed_order_drop"}
    _opened, resolved_mail = world.emails()
    assert str(resolved_mail["Subject"]).strip().startswith("[shoptrack] Watched shop: resolved")
    text = Mailbox.text(resolved_mail)
    assert "Resolved: credentials_rejected on Woo (woocommerce)" in text
    assert "placed_order_drop" not in text
    world.run()
    assert len(world.emails()) == 2


def test_a_failure_between_two_passes_starts_the_count_again(world: WatchedStore) -> None:
    world.store.regenerate_key()
    world.run()
    world.fix_keys()
    world.run()  # one pass
    world.store.regenerate_key()
    world.run()  # failing again: still the same alert, not a new one
    world.fix_keys()
    world.run()  # one pass
    assert "credentials_rejected" in _open_codes(world)
    world.run()  # two in a row
    assert "credentials_rejected" not in _open_codes(world)
    with world.services.database.read() as connection:
        alerts = list_alerts(connection, world.account_id)
    assert sorted(a.code for a in alerts) == ["credentials_rejected", "placed_order_drop"]
    assert len(world.emails()) == 2  # opened, then resolved


def test_a_store_that_cannot_be_asked_resolves_nothing(world: WatchedStore) -> None:
    """Keys refused, then a store that answers 5xx: the keys could not be checked, which is no
    pass; only two runs that check them resolve the alert."""
    world.store.regenerate_key()
    world.run()
    world.fix_keys()
    world.store.set_faults({"server_error": 10_000})
    for _ in range(3):
        world.run()
        assert "credentials_rejected" in _open_codes(world)
    world.store.clear_faults()
    world.run()
    assert "credentials_rejected" in _open_codes(world)
    world.run()
    assert "credentials_rejected" not in _open_codes(world)
    assert len(world.emails()) == 2


def test_a_new_store_with_no_history_opens_nothing(
    services: Services, clock: FrozenClock, smtp: SmtpServer
) -> None:
    with watched_store(services, clock, smtp, history_days=0) as world:
        report = world.run()
        assert report.accounts[0].integrations == [world.integration_id]
        assert report.accounts[0].opened == []
        with services.database.read() as connection:
            assert list_alerts(connection, world.account_id) == []
        assert world.emails() == []


def test_disabling_the_store_resolves_its_alerts_as_no_longer_watched(
    world: WatchedStore,
) -> None:
    world.run()
    update(
        world.services,
        account_id=world.account_id,
        integration_id=world.integration_id,
        settings={"enabled": False},
    )
    report = world.run()
    assert [a.code for a in report.accounts[0].resolved] == ["placed_order_drop"]
    # The account's own check opens one: no enabled integration records anything now.
    assert [a.code for a in report.accounts[0].opened] == ["integration_missing"]
    with world.services.database.read() as connection:
        (resolved,) = [
            a for a in list_alerts(connection, world.account_id) if a.code == "placed_order_drop"
        ]
    assert resolved.resolution == "unwatched"
    _opened, changed = world.emails()
    text = Mailbox.text(changed)
    assert "Resolved: placed_order_drop on Woo (woocommerce)" in text
    assert "Opened: integration_missing (error) on the account" in text


def test_alert_emails_ignore_the_flows_suppression_list(world: WatchedStore) -> None:
    with world.services.database.write() as connection:
        connection.execute(
            email_suppressions.insert().values(
                account_id=world.account_id,
                email=world.subscriber,
                reason="unsubscribed",
                created_at=world.clock.now(),
            )
        )
    world.run()
    (message,) = world.emails()
    assert message["List-Unsubscribe"] is None  # no flow footer, no tracking
    assert "utm_" not in Mailbox.html(message)


def test_an_smtp_server_that_is_down_gets_the_notice_on_a_later_run(
    world: WatchedStore, smtp: SmtpServer
) -> None:
    down = WatchedStore(**{**world.__dict__, "smtp": SmtpServer("smtp://127.0.0.1:9", Mailbox())})
    report = down.run()
    assert report.accounts[0].notices.failed == 1
    with world.services.database.read() as connection:
        states = connection.execute(select(alert_notifications.c.state)).scalars().all()
    assert states == ["pending"]
    assert world.emails() == []
    world.run()  # the server is back: the notice goes out, once
    (message,) = world.emails()
    assert "placed_order_drop" in message["Subject"]
    world.run()
    assert len(world.emails()) == 1


def test_one_run_at_a_time(world: WatchedStore) -> None:
    holder = world.watchdog(owner="process-a")
    other = world.watchdog(owner="process-b")
    try:
        from shoptrack.alerts.watchdog import LEASE
        from shoptrack.store.alerts import claim_watch

        with world.services.database.write() as connection:
            assert claim_watch(connection, "process-a", world.clock.now(), LEASE)
        with pytest.raises(WatchBusyError):
            other.run()
        # A process that died leaves its lease; once it expires another one runs.
        world.clock.advance(LEASE + timedelta(seconds=1))
        assert other.run().accounts[0].opened
        holder.run()  # its lease is gone: it runs anew
    finally:
        holder.close()
        other.close()
    assert len(world.emails()) == 1


def test_the_schedule_runs_every_interval(world: WatchedStore) -> None:
    # Minutes, not the default quarter of an hour: the store refuses OAuth signatures dated
    # 15 minutes away from its clock.
    world.services.settings.watch_interval_minutes = 4
    watchdog = world.watchdog()
    try:
        assert watchdog.run_if_due() is None  # the schedule starts: the first run is later
        world.clock.advance(watchdog.interval - timedelta(seconds=1))
        assert watchdog.run_if_due() is None
        world.clock.advance(timedelta(seconds=1))
        first = watchdog.run_if_due()
        assert first is not None
        assert watchdog.run_if_due() is None
        world.clock.advance(watchdog.interval)
        assert watchdog.run_if_due() is not None
    finally:
        watchdog.close()
    assert len(world.emails()) == 1


def test_a_watchdog_without_subscribers_records_alerts_and_sends_nothing(
    world: WatchedStore,
) -> None:
    from shoptrack.alerts import unsubscribe

    unsubscribe(world.services, world.account_id, email=world.subscriber)
    world.run()
    assert _open_codes(world) == {"placed_order_drop"}
    with world.services.database.read() as connection:
        assert connection.execute(select(alert_notifications)).all() == []
    assert world.emails() == []


def test_the_interval_is_a_quarter_of_an_hour_unless_set(services: Services) -> None:
    for minutes, expected in ((None, 15), (5, 5)):
        if minutes is not None:
            services.settings.watch_interval_minutes = minutes
        watchdog = Watchdog.from_services(services)
        try:
            assert watchdog.interval == timedelta(minutes=expected)
        finally:
            watchdog.close()
    assert Settings(_env_file=None).watch_interval_minutes == 15
    assert Settings(_env_file=None, watch_interval_minutes="30").watch_interval_minutes == 30
    with pytest.raises(ValidationError):
        Settings(_env_file=None, watch_interval_minutes=0)


def test_the_workers_run_the_watchdog_on_its_schedule(world: WatchedStore) -> None:
    world.services.settings.watch_interval_minutes = 4  # see the schedule test
    watchdog = world.watchdog()
    workers = Workers(
        world.services.database,
        world.clock,
        Processor(world.services.database, world.clock),
        watchdog=watchdog,
        watch_check_every=0.05,
    )

    def state() -> Any:
        with world.services.database.read() as connection:
            return watch_state(connection)

    workers.start()
    try:
        wait_until(lambda: state() is not None)  # the schedule started: nothing ran yet
        assert state().last_finished_at is None
        world.clock.advance(timedelta(minutes=4))
        wait_until(lambda: state().last_finished_at is not None)
    finally:
        workers.stop()
        watchdog.close()
    assert state().last_run["opened"] == 1
    assert len(world.emails()) == 1


def test_the_workers_of_serve_and_worker_include_the_watchdog(services: Services) -> None:
    client = AppClient(create_app(services))  # its workers in this process

    def state() -> Any:
        with services.database.read() as connection:
            return watch_state(connection)

    try:
        wait_until(lambda: state() is not None)
    finally:
        client.close()
    assert state().next_run_at == services.clock.now() + timedelta(minutes=15)
