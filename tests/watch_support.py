"""Shared steps of the watchdog's tests: a store's order history delivered as the store would
send it and processed into events, and a simulated store connected to a watched account."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from shoptrack.alerts import AlertNotifier, Watchdog, WatchReport, subscribe
from shoptrack.clock import FrozenClock
from shoptrack.connectors import Connector
from shoptrack.connectors.base import Credentials
from shoptrack.connectors.http import StoreClient
from shoptrack.flows.delivery import SmtpMailer
from shoptrack.integrations import connect, update
from shoptrack.pipeline.processing import Processor
from shoptrack.pipeline.sync import Syncer
from shoptrack.services import Services
from shoptrack.simulators.woocommerce import WooCommerceSimulator
from shoptrack.store.accounts import create_account
from shoptrack.store.integrations import Integration
from shoptrack.testing import SIMULATOR_GUARD, Shop, woo_order
from tests.flow_support import SmtpServer
from tests.helpers import deliver
from tests.stores import serving


def order_history(
    services: Services,
    shop: Shop,
    *,
    since: datetime,
    until: datetime,
    every: timedelta,
    first_id: int = 1,
    email: str | None = None,
) -> int:
    """Delivers a paid WooCommerce order created at ``since`` and then every ``every`` before
    ``until`` (each by its own webhook), processes them, and returns how many there were."""
    order_id = first_id
    moment = since
    while moment < until:
        order = woo_order(
            order_id,
            "processing",
            moment,
            email=email or f"buyer{order_id}@example.com",
        )
        deliver(services, shop, order, f"history-{order_id}")
        order_id += 1
        moment += every
    Processor(services.database, services.clock).run_until_idle()
    return order_id - first_id


def no_wait(connector: Connector, credentials: Credentials) -> StoreClient:
    """The store's client without the waits between retries (tests never sleep)."""
    return connector.client(credentials, guard=SIMULATOR_GUARD, sleep=lambda _seconds: None)


@dataclass
class WatchedStore:
    """A simulated WooCommerce store on a real socket, connected to an account whose alerts go
    to ``subscriber`` over real SMTP; ``run()`` runs the watchdog once."""

    services: Services
    clock: FrozenClock
    store: WooCommerceSimulator
    url: str
    smtp: SmtpServer
    account_id: str
    integration_id: str = ""
    subscriber: str = "ops@example.com"

    def connect(self) -> str:
        result = connect(
            self.services,
            account_id=self.account_id,
            platform="woocommerce",
            name="Woo",
            credentials=self.store.credentials(self.url) | {"webhook_secret": STORE_SECRET},
            client_factory=no_wait,
        )
        self.integration_id = result.integration.id
        return self.integration_id

    def sync(self) -> None:
        """A sync of the store a little later (stores read changes before the sync's start,
        exclusively), to its end, processed (the first one imports its history)."""
        self.clock.advance(timedelta(seconds=10))
        Syncer(self.services, client_factory=_sync_client).run(self.account_id, self.integration_id)
        Processor(self.services.database, self.services.clock).run_until_idle()

    def watchdog(self, owner: str | None = None) -> Watchdog:
        notifier = AlertNotifier.from_services(self.services, mailer=SmtpMailer(self.smtp.url))
        return Watchdog.from_services(
            self.services, notifier=notifier, client_factory=no_wait, owner=owner
        )

    def run(self) -> WatchReport:
        """One run of the watchdog, a little after the last one (seconds, not the quarter of
        an hour between real runs: the store refuses OAuth signatures dated 15 minutes away
        from its clock, and the client signs with the machine's)."""
        self.clock.advance(timedelta(seconds=20))
        watchdog = self.watchdog()
        try:
            return watchdog.run()
        finally:
            watchdog.close()

    def emails(self) -> list[EmailMessage]:
        return self.smtp.mailbox.to(self.subscriber)

    def fix_keys(self) -> None:
        """The merchant enters the store's current keys."""
        update(
            self.services,
            account_id=self.account_id,
            integration_id=self.integration_id,
            credentials={
                "consumer_key": self.store.consumer_key,
                "consumer_secret": self.store.consumer_secret,
            },
            client_factory=no_wait,
        )


STORE_SECRET = "whsec-watch-test"


def _sync_client(connector: Connector, integration: Integration, services: Services) -> StoreClient:
    credentials = connector.credentials_model.model_validate(
        integration.credentials(services.cipher)
    )
    return no_wait(connector, credentials)


@contextmanager
def watched_store(
    services: Services, clock: FrozenClock, smtp: SmtpServer, *, history_days: int = 28
) -> Iterator[WatchedStore]:
    """A store with ``history_days`` of six paid orders a day, the last one two days ago,
    connected and imported, and an account whose alerts go to ops@example.com."""
    now = clock.now()
    store = WooCommerceSimulator(clock=clock.now, webhook_delivery="manual")
    if history_days:
        store.add_orders(
            history_days * 6,
            statuses=["processing"],
            created=now - timedelta(days=2 + history_days),
            interval=timedelta(hours=4),
        )
    with services.database.write() as connection:
        account, _key = create_account(connection, "Watched shop", now)
    with serving(store.app) as url:
        world = WatchedStore(services, clock, store, url, smtp, account.id)
        world.connect()
        world.sync()
        subscribe(services, account.id, email=world.subscriber)
        yield world
