"""The watchdog's "done when", as a merchant lives it: a simulated WooCommerce store on a real
socket, a real SMTP server, the injected clock — and, on PostgreSQL, two ``shoptrack watch``
processes at once that never tell the same alert twice."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from shoptrack.clock import FrozenClock
from shoptrack.services import Services
from shoptrack.settings import Settings
from shoptrack.store.alerts import list_alerts, open_alerts
from shoptrack.store.database import Database
from shoptrack.store.secrets import CredentialCipher
from shoptrack.testing import SIMULATOR_NETWORKS
from tests.conftest import TEST_SECRET_KEY
from tests.flow_support import Mailbox, SmtpServer, smtp
from tests.processes import environment
from tests.watch_support import WatchedStore, watched_store

__all__ = ["smtp"]  # the fixture, imported so pytest finds it here

pytestmark = pytest.mark.slow


@pytest.fixture
def clock() -> FrozenClock:
    """Near the real time: the store checks OAuth timestamps against the machine's clock."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


def _open(world: WatchedStore) -> set[str]:
    with world.services.database.read() as connection:
        return {alert.code for alert in open_alerts(connection, world.account_id)}


def test_the_watchdog_tells_the_merchant_first_and_once(
    services: Services, clock: FrozenClock, smtp: SmtpServer
) -> None:
    # Four weeks of daily orders, then none for two days; and shoptrack's key was revoked.
    with watched_store(services, clock, smtp, history_days=28) as world:
        world.store.regenerate_key()
        world.run()
        assert _open(world) == {"placed_order_drop", "credentials_rejected"}
        (message,) = world.emails()
        assert message["To"] == "ops@example.com"
        subject = str(message["Subject"]).strip()
        assert subject.startswith("[shoptrack] Watched shop: opened ")
        assert "on Woo (woocommerce)" in subject
        text = Mailbox.text(message)
        html = Mailbox.html(message)
        for part in (text, html):
            assert "Woo (woocommerce)" in part  # the store
            assert "placed_order_drop" in part  # the codes
            assert "credentials_rejected" in part
            assert "Enter the store&#39;s current keys" in part or (
                "Enter the store's current keys" in part
            )  # the fixes
            assert "check that the store takes orders" not in part  # the drop names its cause
            assert "Fix credentials_rejected: the likely causes" in part
            assert "/alerts#alert-" in part  # the web UI
        # A second run: nothing new, nothing sent.
        world.run()
        assert len(world.emails()) == 1
        # The merchant enters the current keys: two passing runs resolve it, one email says so.
        world.fix_keys()
        world.run()
        assert len(world.emails()) == 1
        world.run()
        assert _open(world) == {"placed_order_drop"}
        _opened, resolved = world.emails()
        text = Mailbox.text(resolved)
        assert "Resolved: credentials_rejected on Woo (woocommerce)" in text
        assert "placed_order_drop" not in text
        world.run()
        assert len(world.emails()) == 2


def test_a_new_store_with_no_history_opens_nothing(
    services: Services, clock: FrozenClock, smtp: SmtpServer
) -> None:
    with watched_store(services, clock, smtp, history_days=0) as world:
        world.store.add_orders(3, statuses=["processing"])  # its first orders, today
        world.sync()
        world.run()
        world.run()
        with services.database.read() as connection:
            found = list_alerts(connection, world.account_id)
        assert [(a.code, a.summary) for a in found] == []
        assert world.emails() == []


@pytest.fixture
def postgres_services(postgres_url: str, clock: FrozenClock, tmp_path: Path) -> Iterator[Services]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=postgres_url,
        secret_key=TEST_SECRET_KEY,
        private_store_networks=SIMULATOR_NETWORKS,
    )
    built = Services(
        settings=settings,
        database=Database(postgres_url),
        clock=clock,
        cipher=CredentialCipher([TEST_SECRET_KEY]),
    )
    yield built
    built.close()


@pytest.mark.postgres
def test_two_processes_on_postgresql_never_send_the_same_alert_twice(
    postgres_services: Services,
    postgres_url: str,
    clock: FrozenClock,
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    env = environment(postgres_url, tmp_path / "data") | {"SHOPTRACK_SMTP_URL": smtp.url}

    def two_at_once() -> list[dict[str, object]]:
        """``shoptrack watch --once`` in two processes started together."""
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "shoptrack", "watch", "--once", "--json"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        reports = []
        for process in processes:
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            reports.append(orjson.loads(out))
        return reports

    with watched_store(postgres_services, clock, smtp) as world:
        world.store.regenerate_key()
        first = two_at_once()
        # One of them opened both alerts; the other found them open.
        assert sorted(report["opened"] for report in first) == [0, 2]
        assert sum(int(str(report["emails"])) for report in first) == 1
        assert len(world.emails()) == 1
        two_at_once()
        assert len(world.emails()) == 1
        world.fix_keys()
        results = two_at_once()  # two runs, one after the other: resolved by the second
        assert sum(int(str(report["resolved"])) for report in results) == 1
        assert _open(world) == {"placed_order_drop"}
        two_at_once()
        emails = world.emails()
        assert len(emails) == 2
        assert "Resolved: credentials_rejected" in Mailbox.text(emails[1])
