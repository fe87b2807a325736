"""The demo: ``serve`` with an account and a simulated WooCommerce store connected, its history
imported and new orders moving through their statuses every few seconds.

The account, its keys and the store's API keys are kept in the data dir (``demo.json``), so a
second ``make demo`` finds the same account; the simulated store itself starts afresh each time.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import threading
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import timedelta
from decimal import Decimal

import orjson
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from shoptrack.api import create_app
from shoptrack.errors import NotFoundError
from shoptrack.integrations import connect, update
from shoptrack.pipeline.sync import Syncer, SyncProgress
from shoptrack.services import Services
from shoptrack.settings import Settings
from shoptrack.simulators import WooCommerceSimulator
from shoptrack.simulators.serving import serving
from shoptrack.store.accounts import create_account, get_account
from shoptrack.store.integrations import get_integration

__all__ = ["DemoState", "run_demo"]

# How often the demo shop takes a new order or moves one along (seconds).
ACTIVITY_EVERY = 4.0
HISTORY_ORDERS = 80
HISTORY_MIX = ("completed", "completed", "processing", "cancelled", "completed", "refunded")


@dataclass(slots=True)
class DemoState:
    """What a later ``make demo`` reuses."""

    account_id: str
    public_key: str
    private_key: str
    consumer_key: str
    consumer_secret: str
    integration_id: str | None = None


def _state(services: Services) -> DemoState:
    path = services.settings.data_dir / "demo.json"
    if path.exists():
        state = DemoState(**orjson.loads(path.read_bytes()))
        try:
            with services.database.read() as connection:
                get_account(connection, state.account_id)
        except NotFoundError:
            pass  # a new database under an old demo.json: start over
        else:
            return state
    with services.database.write() as connection:
        account, key = create_account(connection, "Demo shop", services.clock.now())
    state = DemoState(
        account_id=account.id,
        public_key=account.public_key,
        private_key=key.key,
        consumer_key="ck_" + secrets.token_hex(20),
        consumer_secret="cs_" + secrets.token_hex(20),
    )
    _save(services, state)
    return state


def _save(services: Services, state: DemoState) -> None:
    path = services.settings.data_dir / "demo.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(asdict(state), option=orjson.OPT_INDENT_2))
    path.chmod(0o600)


class DemoShop:
    """Connects the simulated store once ``serve`` listens, then keeps it busy."""

    def __init__(
        self,
        services: Services,
        store: WooCommerceSimulator,
        store_url: str,
        state: DemoState,
        console: Console,
    ) -> None:
        self._services = services
        self._store = store
        self._store_url = store_url
        self._state = state
        self._console = console
        self._random = random.Random()  # noqa: S311  # demo activity, not security

    def run(self, server: uvicorn.Server) -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.05)
        try:
            integration_id = self._connect()
            self._import_history(integration_id)
            self._describe(integration_id)
        except Exception as error:  # noqa: BLE001  # shown to the user; the server keeps serving
            self._console.print(f"[red]demo set-up failed:[/red] {error}")
            return
        while not server.should_exit:
            self._activity()
            time.sleep(ACTIVITY_EVERY)

    def _connect(self) -> str:
        self._console.print("connecting the simulated WooCommerce store…")
        credentials = self._store.credentials(self._store_url)
        state, services = self._state, self._services
        if state.integration_id is not None:
            try:
                with services.database.read() as connection:
                    existing = get_integration(connection, state.account_id, state.integration_id)
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
        result = connect(
            services,
            account_id=state.account_id,
            platform="woocommerce",
            name="Demo WooCommerce store",
            credentials=credentials,
            settings={"backfill_days": 60},
        )
        state.integration_id = result.integration.id
        _save(services, state)
        return result.integration.id

    def _import_history(self, integration_id: str) -> None:
        with Progress(
            TextColumn("importing order history"),
            BarColumn(),
            MofNCompleteColumn(),
            console=self._console,
            transient=True,
        ) as bar:
            task = bar.add_task("import", total=None)

            def show(progress: SyncProgress) -> None:
                bar.update(task, completed=progress.orders, total=progress.total)

            Syncer(self._services).run(
                self._state.account_id, integration_id, backfill_days=60, progress=show
            )

    def _describe(self, integration_id: str) -> None:
        base = self._services.settings.public_url
        state = self._state
        self._console.print(f"\n[bold]shoptrack demo[/bold] on {base}  (Ctrl-C stops it)")
        self._console.print(
            "\n".join(
                [
                    f"  account        {state.account_id}",
                    f"  public key     {state.public_key}",
                    f"  private key    {state.private_key}",
                    f"  integration    {integration_id}",
                    f"  store          simulated WooCommerce at {self._store_url}",
                    f"  API docs       {base}/docs",
                    (
                        "  try            curl -g -H 'Authorization: Klaviyo-API-Key "
                        f"{state.private_key}' '{base}/api/events?include=metric&page[size]=5'"
                    ),
                    "new orders arrive every few seconds and move through their statuses\n",
                ]
            ),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )

    def _activity(self) -> None:
        """One step of shop life: a checkout, and one order moving along."""
        store = self._store
        store.add_orders(1, statuses=[self._random.choice(("pending", "processing"))])
        candidates = [
            (order_id, status)
            for order_id, status in store.statuses().items()
            if status in ("pending", "processing")
        ]
        if candidates:
            order_id, status = self._random.choice(candidates)
            if status == "pending":
                store.set_status(order_id, self._random.choice(("processing", "cancelled")))
            elif self._random.random() < 0.1:
                order = store.order(order_id)
                store.refund(order_id, Decimal(order["total"]), "changed their mind")
            else:
                store.set_status(order_id, "completed")
        asyncio.run(store.deliver_pending())


def run_demo(settings: Settings, *, host: str, port: int, console: Console) -> None:
    """Serves the demo until interrupted."""
    settings = settings.model_copy(update={"public_url": f"http://{host}:{port}"})
    services = Services.build(settings)
    console.print(f"preparing the demo database ({services.database.dialect})…")
    services.upgrade()
    state = _state(services)
    store = WooCommerceSimulator(
        consumer_key=state.consumer_key,
        consumer_secret=state.consumer_secret,
        webhook_delivery="manual",
    )
    store.add_orders(HISTORY_ORDERS, statuses=HISTORY_MIX, interval=timedelta(hours=17), email=None)
    with ExitStack() as stack:
        store_url = stack.enter_context(serving(store.app, host))
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(services),
                host=host,
                port=port,
                http="httptools",
                log_level="warning",
                access_log=False,
            )
        )
        shop = DemoShop(services, store, store_url, state, console)
        threading.Thread(target=shop.run, args=(server,), name="demo-shop", daemon=True).start()
        server.run()
    services.close()
