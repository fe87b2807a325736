"""The demo: ``serve`` with an account and six simulated stores connected — one per platform —
their 90 days of history imported (a weekly rhythm, customers who come back) and new orders
moving through their statuses every few seconds; the post-purchase and abandoned-checkout flows
live on the WooCommerce store, with simulated customers opening and clicking their emails and
ordering again (``demo_flows``).

The account and its keys are kept in the data dir (``demo.json``), so a second ``make demo`` finds
the same account and integrations; the simulated stores themselves start afresh each time, and
their integrations are pointed at the new stores' addresses and keys.
"""

from __future__ import annotations

import asyncio
import functools
import random
import threading
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field

import orjson
import uvicorn
from rich.console import Console

from shoptrack.api.app import create_app
from shoptrack.cli.progress import SyncReport
from shoptrack.connectors import connector_for
from shoptrack.demo_flows import DemoReaders, ensure_demo_flows, replay_flow_history
from shoptrack.errors import NotFoundError
from shoptrack.integrations import connect, update
from shoptrack.listener import address, command_socket
from shoptrack.outbound import host_networks
from shoptrack.pipeline.sync import Syncer
from shoptrack.services import Services
from shoptrack.settings import Settings
from shoptrack.simulators.catalog import CATALOG, SimulatedShop, StoreLife
from shoptrack.simulators.history import past_orders
from shoptrack.simulators.serving import serving
from shoptrack.simulators.woocommerce import WooCommerceSimulator
from shoptrack.store.accounts import create_account, get_account
from shoptrack.store.integrations import get_integration
from shoptrack.store.users import user_by_email
from shoptrack.users import create_user

__all__ = ["DemoState", "run_demo"]

# How often one of the demo stores takes a new order or moves one along (seconds).
ACTIVITY_EVERY = 2.0
# Each store's past: 90 days in a weekly rhythm, about this many orders a day.
HISTORY_DAYS = 90
HISTORY_ORDERS_PER_DAY = 3.0
# Stores without webhooks are polled; in the demo every minute rather than every five.
DEMO_SYNC_MINUTES = 1


@dataclass(slots=True)
class DemoState:
    """What a later ``make demo`` reuses: the account, its keys, one integration per platform."""

    account_id: str
    public_key: str
    private_key: str
    integrations: dict[str, str] = field(default_factory=dict)


def _state(services: Services) -> DemoState:
    path = services.settings.data_dir / "demo.json"
    if path.exists():
        saved = orjson.loads(path.read_bytes())
        state = DemoState(
            account_id=saved["account_id"],
            public_key=saved["public_key"],
            private_key=saved["private_key"],
            integrations=dict(saved.get("integrations") or {}),
        )
        try:
            with services.database.read() as connection:
                get_account(connection, state.account_id)
        except NotFoundError:
            pass  # a new database under an old demo.json: start over
        else:
            return state
    with services.database.write() as connection:
        account, key = create_account(connection, "Demo shop", services.clock.now())
    state = DemoState(account_id=account.id, public_key=account.public_key, private_key=key.key)
    _save(services, state)
    return state


# Who signs in to the demo's web UI: a local demo's password, printed when it starts.
DEMO_USER_EMAIL = "demo@shoptrack.local"
DEMO_USER_PASSWORD = "shoptrack-demo"  # noqa: S105  # printed for the person running the demo


def _ensure_demo_user(services: Services, state: DemoState) -> None:
    with services.database.read() as connection:
        existing = user_by_email(connection, DEMO_USER_EMAIL)
    if existing is None:
        create_user(
            services,
            account_id=state.account_id,
            email=DEMO_USER_EMAIL,
            password=DEMO_USER_PASSWORD,
        )


def _save(services: Services, state: DemoState) -> None:
    """Writes the demo's state whole, then renames it into place: a reader never sees half."""
    path = services.settings.data_dir / "demo.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(".demo.json.partial")
    partial.write_bytes(orjson.dumps(asdict(state), option=orjson.OPT_INDENT_2))
    partial.chmod(0o600)
    partial.replace(path)


@dataclass(frozen=True, slots=True)
class DemoStore:
    """One simulated store of the demo, serving at ``url``."""

    life: StoreLife
    shop: SimulatedShop
    url: str


class DemoShop:
    """Connects the simulated stores once ``serve`` listens, then keeps them busy."""

    def __init__(
        self,
        services: Services,
        stores: list[DemoStore],
        state: DemoState,
        console: Console,
    ) -> None:
        self._services = services
        self._stores = stores
        self._state = state
        self._console = console
        self._random = random.Random()  # noqa: S311  # demo activity, not security

    def run(self, server: uvicorn.Server) -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.05)
        try:
            connected = {store.life.platform: self._connect(store) for store in self._stores}
            self._import_history(connected)
            woocommerce = connected["woocommerce"]
            flow_ids = ensure_demo_flows(self._services, self._state.account_id, woocommerce)
            # What the post-purchase flow would have done over the imported history.
            replay_flow_history(
                self._services,
                self._state.account_id,
                integration_id=woocommerce,
                flow_id=flow_ids[0],
                rng=random.Random(0),  # noqa: S311  # demo data, not security
            )
            self._describe(connected)
        except Exception as error:  # noqa: BLE001  # shown to the user; the server keeps serving
            self._console.print(f"[red]demo set-up failed:[/red] {error}")
            return
        readers = DemoReaders(
            self._services, self._state.account_id, self._order_again, self._random
        )
        try:
            while not server.should_exit:
                store = self._random.choice(self._stores)
                try:
                    store.life.step(store.shop, self._random)
                    readers.step()
                except Exception as error:  # noqa: BLE001  # one store's hiccup must not end the demo
                    self._console.print(f"[yellow]{store.life.label} store:[/yellow] {error}")
                time.sleep(ACTIVITY_EVERY)
        finally:
            readers.close()

    def _order_again(self, address: str) -> None:
        """A customer who clicked through a flow email orders again at the WooCommerce store."""
        for store in self._stores:
            if isinstance(store.shop, WooCommerceSimulator):
                store.shop.add_orders(1, statuses=["processing"], email=address)
                asyncio.run(store.shop.deliver_pending())

    def _connect(self, store: DemoStore) -> str:
        label, platform = store.life.label, store.life.platform
        self._console.print(f"connecting the simulated {label} store…")
        credentials = store.shop.credentials(store.url)
        state, services = self._state, self._services
        known = state.integrations.get(platform)
        if known is not None:
            try:
                with services.database.read() as connection:
                    existing = get_integration(connection, state.account_id, known)
            except NotFoundError:
                existing = None
            if existing is not None and existing.removed_at is None:
                update(
                    services,
                    account_id=state.account_id,
                    integration_id=existing.id,
                    credentials=credentials,
                )
                return existing.id
        settings: dict[str, object] = {"backfill_days": HISTORY_DAYS}
        if not connector_for(platform).sends_webhooks:
            settings["sync_interval_minutes"] = DEMO_SYNC_MINUTES
        result = connect(
            services,
            account_id=state.account_id,
            platform=platform,
            name=f"Demo {label} store",
            credentials=credentials,
            settings=settings,
        )
        state.integrations[platform] = result.integration.id
        _save(services, state)
        return result.integration.id

    def _import_history(self, connected: dict[str, str]) -> None:
        labels = {store.life.platform: f"{store.life.label} store" for store in self._stores}
        with SyncReport(self._console, "importing order history") as report:
            for platform, integration_id in connected.items():
                label = labels[platform]
                report.start(label)
                # serve's scheduler may already be importing a store just connected: then this
                # run, after it, only reads what changed since (the first sync of an
                # integration reads its ``backfill_days`` of history, whoever runs it).
                Syncer(self._services).run_when_free(
                    self._state.account_id,
                    integration_id,
                    progress=functools.partial(report.update, label),
                    waiting=functools.partial(report.waiting, label),
                )
                report.done(label)

    def _describe(self, connected: dict[str, str]) -> None:
        base = self._services.settings.public_url
        state = self._state
        self._console.print(f"\n[bold]shoptrack demo[/bold] on {base}  (Ctrl-C stops it)")
        lines = [
            f"  web UI         {base}/  (sign in as {DEMO_USER_EMAIL}, {DEMO_USER_PASSWORD})",
            f"  account        {state.account_id}",
            f"  public key     {state.public_key}",
            f"  private key    {state.private_key}",
        ]
        for store in self._stores:
            platform = store.life.platform
            lines.append(
                f"  {store.life.label:<14} integration {connected[platform]}, store {store.url}"
            )
        lines += [
            f"  API docs       {base}/docs",
            (
                "  try            curl -g -H 'Authorization: Klaviyo-API-Key "
                f"{state.private_key}' '{base}/api/events?include=metric&page[size]=5'"
            ),
            (
                "  flows          post-purchase and abandoned-checkout, live on the WooCommerce "
                f"store; emails in {self._services.settings.data_dir / 'outbox'}, opened and "
                "clicked by simulated customers, some of whom order again"
            ),
            "new orders arrive every few seconds and move through their statuses\n",
        ]
        self._console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)


def run_demo(settings: Settings, *, host: str, port: int, console: Console) -> None:
    """Serves the demo until interrupted."""
    # Bound first: the public URL is the address served, even when 0 picked the port.
    listener = command_socket(host, port, "demo")
    bound_host, bound_port = address(listener)
    public_url = f"http://{bound_host}:{bound_port}"
    # The simulated stores listen beside the server: exactly their address is allowed.
    settings = settings.model_copy(
        update={
            "public_url": public_url,
            "private_store_networks": (*settings.private_store_networks, *host_networks(host)),
        }
    )
    services = Services.build(settings)
    console.print(
        f"shoptrack demo on {public_url}: preparing its database ({services.database.dialect})…"
    )
    services.upgrade()
    state = _state(services)
    _ensure_demo_user(services, state)
    with ExitStack() as stack:
        stores = []
        now = services.clock.now()
        for number, life in enumerate(CATALOG):
            shop = life.build(None, True)  # a store learns its address from its requests
            # Reproducible: every demo's stores have the same past, relative to now.
            rng = random.Random(number)  # noqa: S311  # demo data, not security
            past = past_orders(now, days=HISTORY_DAYS, per_day=HISTORY_ORDERS_PER_DAY, rng=rng)
            life.seed_history(shop, past)
            stores.append(DemoStore(life, shop, stack.enter_context(serving(shop.app, host))))
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(services, worker_process=True),
                host=bound_host,
                port=bound_port,
                http="httptools",
                log_level="warning",
                access_log=False,
            )
        )
        shop_thread = DemoShop(services, stores, state, console)
        threading.Thread(
            target=shop_thread.run, args=(server,), name="demo-shop", daemon=True
        ).start()
        server.run(sockets=[listener])
    services.close()
