"""The conformance suite: every connector against its platform's simulator, the same way.

Each test takes a platform's harness (``tests.conformance``) and runs shoptrack's real code — the
connector and its ``StoreClient`` over a real socket, and ``Syncer`` on both databases — against
the simulator, with faults switched on where a test needs them. Nothing is mocked: the only
stand-ins are the ``sleep`` a client is given (it records each delay instead of waiting) and the
transport that keeps the webhooks a store sends.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest
from sqlalchemy import Row, select

from shoptrack.clock import FrozenClock
from shoptrack.connectors import known_platforms
from shoptrack.connectors.base import WebhookCheck, WebhookVerdict, Window, clean_credentials
from shoptrack.connectors.errors import StoreConfigError, StoreTransientError
from shoptrack.connectors.http import USER_AGENT, StoreClient
from shoptrack.domain.order import Order
from shoptrack.errors import InputError
from shoptrack.integrations import update
from shoptrack.pipeline.sync import Syncer
from shoptrack.services import Services
from shoptrack.store.accounts import create_account
from shoptrack.store.integrations import create_integration, get_integration
from shoptrack.store.schema import inbox, integrations, sync_runs
from shoptrack.testing import SIMULATOR_GUARD
from tests.conformance import HARNESSES, PlatformHarness, ServedStore, WebhookRequest

WEBHOOK_SECRET = "whsec-conformance"
# Amounts a binary float gets wrong, or whose trailing zero a float would drop.
TOTALS = tuple(Decimal(value) for value in ("0.30", "19.99", "0.10", "1234.50", "0.01", "100.00"))
SECOND = timedelta(seconds=1)


# -- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture(params=HARNESSES, ids=lambda harness: harness.name)
def harness(request: pytest.FixtureRequest) -> PlatformHarness:
    chosen: PlatformHarness = request.param
    return chosen


@pytest.fixture
def clock() -> FrozenClock:
    """Near the machine's time, and shared with ``services``: some platforms sign requests with
    the machine's clock and refuse a signature far from their own (WooCommerce over OAuth 1.0a:
    15 minutes). Tests move it in small steps."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def store(harness: PlatformHarness, clock: FrozenClock) -> Iterator[ServedStore]:
    with harness.serve(clock) as running:
        yield running


class RecordingTransport(httpx.BaseTransport):
    """A real HTTP transport that remembers every request sent through it."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._network = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._network.handle_request(request)

    def close(self) -> None:
        self._network.close()


@dataclass
class Session:
    """A client of one store built by the platform's connector, with what it did: the requests
    it sent, and the delays it would have slept before retrying."""

    harness: PlatformHarness
    client: StoreClient
    transport: RecordingTransport
    delays: list[float]

    def fetch(self, window: Window) -> list[dict[str, Any]]:
        """Every raw order updated within ``window``, page after page."""
        pages = self.harness.connector.order_pages(self.client, window)
        return [raw for page in pages for raw in page.records]

    def ids(self, window: Window) -> list[str]:
        """The platform ids of the orders ``fetch`` returns, in the order they came."""
        return [_order_id(self.harness, raw) for raw in self.fetch(window)]

    def orders(self, window: Window) -> dict[str, Order]:
        return {
            order.platform_order_id: order
            for order in map(self.harness.connector.to_order, self.fetch(window))
        }


@contextmanager
def api_session(harness: PlatformHarness, credentials: Mapping[str, Any]) -> Iterator[Session]:
    """Credentials checked as shoptrack checks them on entry, then a client of the store."""
    cleaned, _ = clean_credentials(harness.connector.credentials_model, credentials)
    transport = RecordingTransport()
    delays: list[float] = []
    client = harness.connector.client(
        cleaned, guard=SIMULATOR_GUARD, transport=transport, sleep=delays.append
    )
    with client:
        yield Session(harness, client, transport, delays)


def everything(clock: FrozenClock) -> Window:
    """A window around every order the tests create (they stay within a few months of now)."""
    now = clock.now()
    return Window(now - timedelta(days=400), now + timedelta(days=1))


def _order_id(harness: PlatformHarness, raw: Mapping[str, Any]) -> str:
    return harness.connector.to_order(raw).platform_order_id


def _check(
    harness: PlatformHarness,
    request: WebhookRequest,
    secrets: Sequence[str],
    now: datetime | None = None,
) -> WebhookCheck:
    """The connector's verdict, with ``now`` the store's clock (signatures that carry a
    timestamp are compared with it)."""
    return harness.connector.check_webhook(secrets, request.headers, request.body, now=now)


def _needs_webhooks(harness: PlatformHarness) -> None:
    if not harness.webhooks:
        pytest.skip(f"{harness.platform} sends no webhooks; polling is its only source")


def _another(value: str) -> str:
    """``value`` with its last character changed: a wrong secret in the right format."""
    return value[:-1] + ("1" if value.endswith("0") else "0")


def test_every_platform_with_a_connector_has_a_harness() -> None:
    assert sorted({harness.platform for harness in HARNESSES}) == sorted(known_platforms())
    names = [harness.name for harness in HARNESSES]
    assert len(names) == len(set(names)), "two harnesses of a platform need distinct variants"


def test_the_connector_declares_its_webhooks(harness: PlatformHarness) -> None:
    connector = harness.connector
    assert connector.sends_webhooks == harness.webhooks
    if harness.webhooks:
        field = harness.webhook_secret_field
        assert field in connector.webhook_secret_fields
        assert connector.previous_webhook_secrets_field == f"previous_{field}s"
    else:
        assert connector.webhook_secrets({"webhook_secret": "s", "client_secret": "s"}) == []


# -- credentials ------------------------------------------------------------------------------


def test_working_credentials_pass_the_check(harness: PlatformHarness, store: ServedStore) -> None:
    with api_session(harness, store.credentials()) as api:
        harness.connector.check_credentials(api.client)
    assert api.delays == []


def test_a_wrong_secret_is_refused_with_the_stores_answer(
    harness: PlatformHarness, store: ServedStore
) -> None:
    credentials = store.credentials()
    credentials[harness.secret_field] = _another(credentials[harness.secret_field])

    with api_session(harness, credentials) as api, pytest.raises(StoreConfigError) as refused:
        harness.connector.check_credentials(api.client)

    assert refused.value.code == "credentials_rejected"
    assert refused.value.store_answer  # the store's own words, for the merchant and the doctor
    assert refused.value.meta["store_answer"] == refused.value.store_answer
    assert api.delays == []  # refused keys stay refused: nothing is retried


def test_padded_credentials_are_trimmed_named_and_work(
    harness: PlatformHarness, store: ServedStore
) -> None:
    credentials = store.credentials()
    # White space that copying from an admin page brings along.
    padded = {
        name: f" {value}\n" if isinstance(value, str) else value
        for name, value in credentials.items()
    }

    cleaned, trimmed = clean_credentials(harness.connector.credentials_model, padded)

    assert trimmed == sorted(name for name, value in credentials.items() if isinstance(value, str))
    assert cleaned == clean_credentials(harness.connector.credentials_model, credentials)[0]
    with api_session(harness, padded) as api:
        harness.connector.check_credentials(api.client)


def test_an_unknown_credential_field_is_named(harness: PlatformHarness, store: ServedStore) -> None:
    credentials = store.credentials() | {"api_secret_key": "sk_live_1"}

    with pytest.raises(InputError) as refused:
        clean_credentials(harness.connector.credentials_model, credentials)

    assert "api_secret_key" in refused.value.detail
    assert refused.value.pointer == "/data/attributes/credentials/api_secret_key"


# -- paging and windows -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "orders_for_page_size",
    [
        pytest.param(lambda size: 0, id="none"),
        pytest.param(lambda size: 1, id="one"),
        pytest.param(lambda size: size, id="one full page"),
        pytest.param(lambda size: size + 1, id="a page and one"),
        pytest.param(lambda size: size * 5 // 2, id="two and a half pages"),
    ],
)
def test_every_order_comes_back_exactly_once(
    harness: PlatformHarness,
    store: ServedStore,
    clock: FrozenClock,
    orders_for_page_size: Callable[[int], int],
) -> None:
    size = harness.connector.page_size
    count = orders_for_page_size(size)
    # All in one second: the hardest case for pages sorted by updated time, where only the
    # platform's tie-break keeps a page boundary from repeating or skipping orders.
    created = store.add_orders(
        count, statuses=harness.statuses, at=clock.now() - timedelta(hours=1)
    )

    with api_session(harness, store.credentials()) as api:
        listed = api.ids(everything(clock))

    assert len(listed) == len(set(listed)), "an order came back twice"
    assert sorted(listed) == sorted(created)
    # The paginator stops at the end: at most one request past the last page that has orders
    # (requests for an order's own sub-resources, BigCommerce's lines, are not pages).
    orders_path, _ = harness.connector.orders_request(everything(clock), None)
    pages = [r for r in api.transport.requests if r.url.path.endswith(orders_path)]
    assert len(pages) <= max(1, math.ceil(count / size)) + 1


def test_a_window_lists_the_orders_updated_within_it(
    harness: PlatformHarness, store: ServedStore, clock: FrozenClock
) -> None:
    until = clock.now() - timedelta(days=2)
    since = until - timedelta(days=2)
    edges = harness.window_edges
    # name: (when the order was last updated, whether the window lists it)
    orders = {
        "a day before": (since - timedelta(days=1), False),
        "a second before": (since - SECOND, False),
        "at since": (since, edges.since),
        "a second after since": (since + SECOND, True),
        "a second before until": (until - SECOND, True),
        "at until": (until, edges.until),
        "a second after until": (until + SECOND, False),
        "a day after": (until + timedelta(days=1), False),
    }
    ids = {
        name: store.add_orders(1, statuses=harness.statuses[:1], at=moment)[0]
        for name, (moment, _) in orders.items()
    }

    with api_session(harness, store.credentials()) as api:
        listed = set(api.ids(Window(since, until)))

    assert sorted(name for name, order_id in ids.items() if order_id in listed) == sorted(
        name for name, (_, inside) in orders.items() if inside
    )


# -- time -------------------------------------------------------------------------------------

# America/New_York springs forward at 2026-03-08 07:00 UTC (02:00 EST becomes 03:00 EDT) and
# falls back at 2026-11-01 06:00 UTC, so that 01:30 on the wall clock happens twice.
SPRING_FORWARD = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
FALL_BACK = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
AROUND_DST = (
    SPRING_FORWARD - SECOND,
    SPRING_FORWARD,
    SPRING_FORWARD + timedelta(minutes=30),
    FALL_BACK - timedelta(minutes=30),  # 01:30 EDT
    FALL_BACK + timedelta(minutes=30),  # 01:30 EST
)


def _as_read(harness: PlatformHarness, moment: datetime, site_timezone: str) -> datetime:
    """``moment`` as the connector can know it: exactly, unless the API writes wall-clock times
    without an offset (``wall_clock_times``), where a time of the hour a fall-back repeats
    reads as that wall-clock time's earlier moment (keeping a cursor behind the truth)."""
    if not harness.wall_clock_times:
        return moment
    zone = ZoneInfo(site_timezone)
    wall = moment.astimezone(zone).replace(tzinfo=None)
    return min(wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))


@pytest.mark.parametrize("site_timezone", ["UTC", "America/New_York"])
def test_updated_at_is_the_stores_modification_time_in_utc(
    harness: PlatformHarness, store: ServedStore, clock: FrozenClock, site_timezone: str
) -> None:
    store.set_faults({"site_timezone": site_timezone})
    modified = {
        store.add_orders(1, statuses=harness.statuses[:1], at=moment)[0]: moment
        for moment in AROUND_DST
    }
    # An order the shop admin changes now: its time comes from the store's own clock.
    (changed,) = store.add_orders(1, statuses=harness.statuses[:1], at=FALL_BACK)
    clock.advance(timedelta(minutes=1))
    store.set_status(changed, harness.statuses[1])
    modified[changed] = clock.now()

    day = timedelta(days=1)
    with api_session(harness, store.credentials()) as api:
        raws = api.fetch(Window(SPRING_FORWARD - day, max(clock.now(), FALL_BACK) + day))

    updated = {_order_id(harness, raw): harness.connector.updated_at(raw) for raw in raws}
    assert updated == {
        order_id: _as_read(harness, moment, site_timezone) for order_id, moment in modified.items()
    }
    assert {moment.utcoffset() for moment in updated.values()} == {timedelta(0)}


def test_windows_are_utc_across_daylight_saving_changes(
    harness: PlatformHarness, store: ServedStore
) -> None:
    store.set_faults({"site_timezone": "America/New_York"})
    first_0130, second_0130 = (
        store.add_orders(1, statuses=harness.statuses[:1], at=FALL_BACK + offset)[0]
        for offset in (timedelta(minutes=-30), timedelta(minutes=30))
    )
    before_jump, after_jump = (
        store.add_orders(1, statuses=harness.statuses[:1], at=SPRING_FORWARD + offset)[0]
        for offset in (timedelta(minutes=-15), timedelta(minutes=15))
    )
    hour = timedelta(hours=1)

    with api_session(harness, store.credentials()) as api:
        if harness.wall_clock_times:
            # Both were written 01:30 without an offset: each UTC hour holds both, never neither.
            both = sorted([first_0130, second_0130])
            assert sorted(api.ids(Window(FALL_BACK - hour, FALL_BACK))) == both
            assert sorted(api.ids(Window(FALL_BACK, FALL_BACK + hour))) == both
        else:
            # The wall clock's 01:30 twice: each UTC hour holds only its own.
            assert api.ids(Window(FALL_BACK - hour, FALL_BACK)) == [first_0130]
            assert api.ids(Window(FALL_BACK, FALL_BACK + hour)) == [second_0130]
        # 01:45 EST and 03:15 EDT are half an hour apart: one UTC hour holds both.
        spring = Window(SPRING_FORWARD - hour / 2, SPRING_FORWARD + hour / 2)
        assert sorted(api.ids(spring)) == sorted([before_jump, after_jump])


# -- faults -----------------------------------------------------------------------------------


def test_rate_limits_and_server_errors_are_retried_and_pages_complete(
    harness: PlatformHarness, store: ServedStore, clock: FrozenClock
) -> None:
    created = store.add_orders(
        harness.connector.page_size + 1, statuses=harness.statuses, interval=SECOND
    )
    store.set_faults({"rate_limit": {"burst": 3, "retry_after": 7}})

    with api_session(harness, store.credentials()) as api:
        pages = harness.connector.order_pages(api.client, everything(clock))
        first = next(pages)
        store.set_faults({"server_error": 2})  # the next page meets failing servers
        records = first.records + [raw for page in pages for raw in page.records]

    assert sorted(_order_id(harness, raw) for raw in records) == sorted(created)
    assert api.delays[:3] == [7.0, 7.0, 7.0]  # what Retry-After asked
    backoff = api.delays[3:]
    assert len(backoff) == 2
    assert 0 < backoff[0] < backoff[1]


def test_too_many_server_errors_end_in_a_transient_error(
    harness: PlatformHarness, store: ServedStore, clock: FrozenClock
) -> None:
    store.add_orders(1, statuses=harness.statuses[:1])
    store.set_faults({"server_error": 100})

    with (
        api_session(harness, store.credentials()) as api,
        pytest.raises(StoreTransientError) as gave_up,
    ):
        api.fetch(everything(clock))

    assert gave_up.value.kind == "transient"
    assert gave_up.value.store_status in {500, 502, 503}
    assert api.delays
    assert api.delays == sorted(api.delays)  # backing off, never hammering
    assert len(api.transport.requests) == len(api.delays) + 1


def test_a_firewall_page_for_shoptrack_is_a_config_error(
    harness: PlatformHarness, store: ServedStore, clock: FrozenClock
) -> None:
    store.add_orders(1, statuses=harness.statuses[:1])
    store.set_faults({"firewall_user_agent": USER_AGENT.split("/")[0]})

    with api_session(harness, store.credentials()) as api:
        with pytest.raises(StoreConfigError) as checking:
            harness.connector.check_credentials(api.client)
        with pytest.raises(StoreConfigError) as fetching:
            api.fetch(everything(clock))

    for blocked in (checking.value, fetching.value):
        assert blocked.code == "firewall_blocked"
        assert blocked.store_status == 403
    assert api.delays == []  # a block page does not go away by asking again


def test_slow_pages_still_complete(
    harness: PlatformHarness, store: ServedStore, clock: FrozenClock
) -> None:
    created = store.add_orders(
        harness.connector.page_size + 1, statuses=harness.statuses, interval=SECOND
    )
    store.set_faults({"slow_ms": 25})

    with api_session(harness, store.credentials()) as api:
        listed = api.ids(everything(clock))

    assert sorted(listed) == sorted(created)


# -- mapping ----------------------------------------------------------------------------------


def test_every_status_maps_with_the_stores_status_and_total(
    harness: PlatformHarness, store: ServedStore, clock: FrozenClock
) -> None:
    statuses = list(harness.statuses)
    if harness.custom_status is not None:
        store.set_faults({"custom_statuses": [harness.custom_status]})
        statuses.append(harness.custom_status)
    expected = {}
    for index, status in enumerate(statuses):
        total = TOTALS[index % len(TOTALS)]
        (order_id,) = store.add_orders(1, statuses=[status], total=total)
        expected[order_id] = (status, total)

    with api_session(harness, store.credentials()) as api:
        raws = api.fetch(everything(clock))

    orders = [harness.connector.to_order(raw) for raw in raws]
    assert {order.platform_order_id: (order.raw_status, order.total) for order in orders} == (
        expected
    )
    assert all(type(order.total) is Decimal for order in orders)
    assert [order.updated_at for order in orders] == list(map(harness.connector.updated_at, raws))
    ids = [order.platform_order_id for order in orders]
    assert [harness.connector.raw_order_id(raw) for raw in raws] == ids


# -- webhooks ---------------------------------------------------------------------------------


def _carried(
    harness: PlatformHarness,
    store: ServedStore,
    clock: FrozenClock,
    deliveries: list[WebhookRequest],
) -> dict[str, Order]:
    """The orders signed deliveries carry, by id (each delivery checked on the way). Where a
    platform's webhooks only name orders (BigCommerce), each named order is fetched from the
    store with ``fetch_order``, as processing does."""
    orders: dict[str, Order] = {}
    named: list[str] = []
    for delivery in deliveries:
        check = _check(harness, delivery, [WEBHOOK_SECRET], clock.now())
        assert check.verdict is WebhookVerdict.ACCEPTED, check.reason
        assert check.topic
        assert check.delivery_id
        payload = json.loads(delivery.body)
        for order in harness.connector.orders_from_webhook(check.topic, payload):
            orders[order.platform_order_id] = order
        named += harness.connector.order_ids_from_webhook(check.topic, payload)
    if named:
        with api_session(harness, store.credentials()) as api:
            for order_id in dict.fromkeys(named):
                raw = harness.connector.fetch_order(api.client, order_id)
                assert raw is not None, f"order {order_id} named by a webhook is not in the store"
                order = harness.connector.to_order(raw)
                orders[order.platform_order_id] = order
    return orders


def test_signed_deliveries_are_accepted_and_carry_the_apis_order(
    harness: PlatformHarness, store: ServedStore, clock: FrozenClock
) -> None:
    _needs_webhooks(harness)
    store.subscribe(WEBHOOK_SECRET)
    created = store.add_orders(2, statuses=harness.statuses[:2])

    carried = _carried(harness, store, clock, store.deliver())

    with api_session(harness, store.credentials()) as api:
        listed = api.orders(everything(clock))
    assert carried == {order_id: listed[order_id] for order_id in created}

    clock.advance(timedelta(minutes=1))
    store.set_status(created[0], harness.statuses[2])
    changed = _carried(harness, store, clock, store.deliver())

    with api_session(harness, store.credentials()) as api:
        listed = api.orders(everything(clock))
    assert changed == {created[0]: listed[created[0]]}
    assert changed[created[0]].raw_status == harness.statuses[2]


def test_the_stores_ping_is_answered_as_a_ping(
    harness: PlatformHarness, store: ServedStore
) -> None:
    _needs_webhooks(harness)

    pings = store.subscribe(WEBHOOK_SECRET)

    assert bool(pings) == harness.pings
    for ping in pings:
        assert _check(harness, ping, [WEBHOOK_SECRET]).verdict is WebhookVerdict.PING


def test_forged_deliveries_are_rejected(harness: PlatformHarness, store: ServedStore) -> None:
    _needs_webhooks(harness)
    unknown_secret = "a secret this integration never had"
    store.subscribe(unknown_secret)
    store.add_orders(1, statuses=harness.statuses[:1])
    deliveries = store.deliver()
    assert deliveries

    for delivery in deliveries:
        # What the store signs verifies with the secret it signed with...
        assert _check(harness, delivery, [unknown_secret]).verdict is WebhookVerdict.ACCEPTED
        tampered = WebhookRequest(delivery.headers, delivery.body + b"\n")
        forged = {
            "signed with another secret": _check(harness, delivery, [WEBHOOK_SECRET]),
            "changed after signing": _check(harness, tampered, [unknown_secret]),
            "no secret configured": _check(harness, delivery, []),
        }
        # ...and nothing else does.
        assert {name: check.verdict for name, check in forged.items()} == dict.fromkeys(
            forged, WebhookVerdict.REJECTED
        )
        assert all(check.reason for check in forged.values())


def test_deliveries_signed_with_a_rotated_out_secret_still_verify(
    harness: PlatformHarness, store: ServedStore
) -> None:
    _needs_webhooks(harness)
    store.subscribe("old-secret")
    store.add_orders(1, statuses=harness.statuses[:1])
    deliveries = store.deliver()
    assert deliveries
    field = harness.webhook_secret_field
    during_rotation = harness.connector.webhook_secrets(
        {field: "new-secret", f"previous_{field}s": ["old-secret"]}
    )
    after_rotation = harness.connector.webhook_secrets({field: "new-secret"})

    for delivery in deliveries:
        assert _check(harness, delivery, during_rotation).verdict is WebhookVerdict.ACCEPTED
        assert _check(harness, delivery, after_rotation).verdict is WebhookVerdict.REJECTED


def test_changing_the_webhook_secret_keeps_the_old_one_during_the_rotation(
    services: Services, harness: PlatformHarness, store: ServedStore
) -> None:
    _needs_webhooks(harness)
    account_id, integration_id = _integrate(services, harness, store)
    field = harness.webhook_secret_field
    for secret in ("first-secret", "rotated-secret"):
        update(
            services,
            account_id=account_id,
            integration_id=integration_id,
            credentials={field: secret},
        )
    with services.database.read() as connection:
        stored = get_integration(connection, account_id, integration_id)
    credentials = stored.credentials(services.cipher)
    kept = harness.connector.previous_webhook_secrets_field
    assert kept is not None
    assert credentials[kept][0] == "first-secret"  # newest first, before any older ones
    # What the store signed before the change still verifies, and the new secret first.
    secrets = harness.connector.webhook_secrets(credentials)
    assert secrets.index("rotated-secret") < secrets.index("first-secret")


# -- sync -------------------------------------------------------------------------------------


def _integrate(services: Services, harness: PlatformHarness, store: ServedStore) -> tuple[str, str]:
    """A new account with the store as its integration: the account's and integration's ids."""
    now = services.clock.now()
    with services.database.write() as connection:
        account, _ = create_account(connection, "Conformance", now)
        integration = create_integration(
            connection,
            services.cipher,
            account_id=account.id,
            platform=harness.platform,
            name=f"Simulated {harness.platform}",
            credentials=store.credentials(),
            settings={},
            now=now,
        )
    return account.id, integration.id


def _run(services: Services, run_id: str) -> Row[Any]:
    with services.database.read() as connection:
        return connection.execute(select(sync_runs).where(sync_runs.c.id == run_id)).one()


def _inbox(services: Services, integration_id: str) -> list[Mapping[str, Any]]:
    """The raw orders the integration's inbox rows hold, oldest row first."""
    with services.database.read() as connection:
        bodies = connection.execute(
            select(inbox.c.body)
            .where(inbox.c.integration_id == integration_id)
            .order_by(inbox.c.id)
        ).scalars()
        return [orjson.loads(body) for body in bodies]


def _cursor(services: Services, integration_id: str) -> datetime:
    with services.database.read() as connection:
        cursor = connection.execute(
            select(integrations.c.sync_cursor).where(integrations.c.id == integration_id)
        ).scalar_one()
    return datetime.fromisoformat(cursor["updated_at"])


def test_first_sync_sees_every_order_and_keeps_the_cursor_behind_its_start(
    harness: PlatformHarness, store: ServedStore, services: Services, clock: FrozenClock
) -> None:
    start = clock.now()
    # More than a page of history over the last month (spread to fit it, whatever the page)...
    count = harness.connector.page_size + 20
    created = store.add_orders(
        count,
        statuses=harness.statuses,
        at=start - timedelta(days=30),
        interval=timedelta(days=29) / count,
    )
    # ...and an order the store changed after the run began (its clock a little ahead).
    (late,) = store.add_orders(1, statuses=harness.statuses[:1], at=start + timedelta(minutes=1))
    account_id, integration_id = _integrate(services, harness, store)

    first = _run(services, Syncer(services).run(account_id, integration_id))

    assert (first.state, first.backfill) == ("succeeded", True)
    fetched = _inbox(services, integration_id)
    assert sorted(_order_id(harness, raw) for raw in fetched) == sorted(created)
    assert first.orders_seen == first.rows_written == len(created)
    # The bookmark is the platform's own newest updated time, never past the run's start.
    cursor = _cursor(services, integration_id)
    assert cursor == max(map(harness.connector.updated_at, fetched))
    assert cursor <= first.window_until == start

    clock.advance(timedelta(minutes=2))
    second = _run(services, Syncer(services).run(account_id, integration_id))

    assert (second.state, second.backfill, second.rows_written) == ("succeeded", False, 1)
    assert _order_id(harness, _inbox(services, integration_id)[-1]) == late


def test_a_first_sync_that_finds_no_orders_still_ends_the_backfill(
    harness: PlatformHarness, store: ServedStore, services: Services, clock: FrozenClock
) -> None:
    account_id, integration_id = _integrate(services, harness, store)
    first = _run(services, Syncer(services).run(account_id, integration_id))
    clock.advance(timedelta(minutes=2))
    (placed,) = store.add_orders(1, statuses=harness.statuses[:1])
    clock.advance(timedelta(minutes=2))

    second = _run(services, Syncer(services).run(account_id, integration_id))

    assert (first.state, first.backfill, first.orders_seen) == ("succeeded", True, 0)
    # The order was placed after the store was connected: it is live, and may trigger flows.
    assert (second.state, second.backfill, second.rows_written) == ("succeeded", False, 1)
    assert _order_id(harness, _inbox(services, integration_id)[0]) == placed


def test_later_syncs_fetch_only_what_changed(
    harness: PlatformHarness, store: ServedStore, services: Services, clock: FrozenClock
) -> None:
    placed, changed_to = harness.statuses[0], harness.statuses[1]
    created = store.add_orders(
        12, statuses=[placed], at=clock.now() - timedelta(days=2), interval=timedelta(minutes=10)
    )
    account_id, integration_id = _integrate(services, harness, store)
    Syncer(services).run(account_id, integration_id)
    rows_after_first = len(_inbox(services, integration_id))

    clock.advance(timedelta(minutes=2))
    unchanged = _run(services, Syncer(services).run(account_id, integration_id))

    assert unchanged.state == "succeeded"
    assert unchanged.orders_seen > 0  # the lookback reads the last hour before the cursor again
    assert unchanged.rows_written == 0
    assert len(_inbox(services, integration_id)) == rows_after_first

    clock.advance(timedelta(minutes=2))
    store.set_status(created[3], changed_to)
    clock.advance(timedelta(minutes=2))
    after_change = _run(services, Syncer(services).run(account_id, integration_id))

    assert (after_change.state, after_change.rows_written) == ("succeeded", 1)
    (new_row,) = _inbox(services, integration_id)[rows_after_first:]
    order = harness.connector.to_order(new_row)
    assert (order.platform_order_id, order.raw_status) == (created[3], changed_to)
