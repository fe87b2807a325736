"""Processing on real SQLite and PostgreSQL: inbox rows → order states → events, exactly once."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
import sqlalchemy
from sqlalchemy import func, select

from shoptrack.clock import FrozenClock
from shoptrack.connectors.woocommerce import WooCommerce
from shoptrack.flows.entry import FlowEntry
from shoptrack.pipeline.processing import BatchResult, Processor, reevaluate
from shoptrack.services import Services
from shoptrack.store.inbox import (
    MAX_ATTEMPTS,
    InboxEntry,
    InboxShare,
    InboxState,
    ReplaySelection,
    pending_before,
    replay,
    write_entries,
    write_entry,
)
from shoptrack.store.integrations import get_integration
from shoptrack.store.schema import (
    events,
    inbox,
    integrations,
    metric_rollups,
    metrics,
    order_states,
    profile_orders,
    profiles,
)
from shoptrack.testing import WEBHOOK_SECRET, Shop, make_shop, woo_order, woo_webhook
from tests.conftest import START
from tests.helpers import deliver, event_counts, inbox_states, profile_count


def _process(services: Services) -> Processor:
    processor = Processor(services.database, services.clock)
    processor.run_until_idle()
    return processor


def test_placed_order_only_at_processing_then_fulfilled(services: Services) -> None:
    shop = make_shop(services)
    t0 = START - timedelta(minutes=30)
    deliver(services, shop, woo_order(101, "pending", t0), "d1")
    _process(services)
    assert event_counts(services, shop.account_id) == {}

    later = t0 + timedelta(minutes=5)
    deliver(services, shop, woo_order(101, "processing", later, created=t0), "d2")
    _process(services)
    assert event_counts(services, shop.account_id) == {"Placed Order": 1, "Ordered Product": 2}

    done = t0 + timedelta(minutes=9)
    deliver(services, shop, woo_order(101, "completed", done, created=t0), "d3")
    _process(services)
    assert event_counts(services, shop.account_id) == {
        "Placed Order": 1,
        "Ordered Product": 2,
        "Fulfilled Order": 1,
    }
    with services.database.read() as connection:
        placed = connection.execute(
            select(events.c.value, events.c.time, events.c.backfill, events.c.properties)
            .where(events.c.unique_id == "101")
            .order_by(events.c.time)
        ).first()
    assert placed is not None
    assert placed.value == Decimal("59.9000")
    assert placed.time == t0
    assert placed.backfill is False
    assert placed.properties["OrderNumber"] == "101"
    assert inbox_states(services) == {"processed": 3}


def test_duplicated_and_reordered_deliveries_record_each_event_once(services: Services) -> None:
    shop = make_shop(services)
    t0 = START - timedelta(hours=1)
    history = [
        woo_order(7, "processing", t0),
        woo_order(7, "completed", t0 + timedelta(minutes=10)),
        woo_order(7, "refunded", t0 + timedelta(minutes=20)),
    ]
    # Newest first, then everything again under new delivery ids (webhook + poll of the same).
    for n, order in enumerate([history[2], history[0], history[1], *history]):
        deliver(services, shop, order, f"r{n}")
    assert deliver(services, shop, history[0], "r1") is False  # same delivery id: nothing new
    _process(services)
    counts = event_counts(services, shop.account_id)
    # The refund was seen first: it implies the order was placed; nothing records twice.
    assert counts == {"Placed Order": 1, "Ordered Product": 2, "Refunded Order": 1}
    with services.database.read() as connection:
        state = connection.execute(select(order_states)).one()
    assert state.raw_status == "refunded"
    assert state.platform_updated_at == t0 + timedelta(minutes=20)


def test_one_profile_per_email_whatever_its_case_and_spaces(services: Services) -> None:
    shop = make_shop(services)
    for n, email in enumerate(["A@x.com", " a@x.com", "a@X.COM "]):
        deliver(services, shop, woo_order(200 + n, "processing", START, email=email), f"p{n}")
    _process(services)
    assert profile_count(services, shop.account_id) == 1
    assert event_counts(services, shop.account_id)["Placed Order"] == 3


def test_rollups_follow_inserted_events(services: Services) -> None:
    shop = make_shop(services)
    deliver(services, shop, woo_order(1, "processing", START, total="10.10"), "a")
    deliver(services, shop, woo_order(2, "processing", START, total="0.20"), "b")
    deliver(services, shop, woo_order(2, "processing", START, total="0.20"), "c")
    _process(services)
    with services.database.read() as connection:
        rows = connection.execute(
            select(metrics.c.name, metric_rollups.c.count, metric_rollups.c.value_sum).join(
                metrics, metrics.c.id == metric_rollups.c.metric_id
            )
        ).all()
    by_metric = {row.name: (row.count, row.value_sum) for row in rows}
    assert by_metric["Placed Order"] == (2, Decimal("10.3000"))
    assert by_metric["Ordered Product"][0] == 4


def test_polled_order_created_long_ago_is_backfill(services: Services) -> None:
    shop = make_shop(services)
    old = woo_order(5, "processing", START - timedelta(days=3))
    with services.database.write() as connection:
        write_entry(
            connection,
            InboxEntry(
                account_id=shop.account_id,
                integration_id=shop.integration.id,
                source="poll",
                topic="order",
                body=orjson.dumps(old),
            ),
            START,
        )
    _process(services)
    with services.database.read() as connection:
        assert set(connection.execute(select(events.c.backfill)).scalars()) == {True}


def test_custom_status_is_kept_and_a_rule_change_records_it_as_backfill(
    services: Services,
) -> None:
    shop = make_shop(services)
    deliver(services, shop, woo_order(9, "awaiting-shipment", START), "c1")
    _process(services)
    assert event_counts(services, shop.account_id) == {}
    with services.database.write() as connection:
        connection.execute(
            integrations.update()
            .where(integrations.c.id == shop.integration.id)
            .values(settings={"placed_statuses": {"include": ["processing", "awaiting-shipment"]}})
        )
        integration = get_integration(connection, shop.account_id, shop.integration.id)
    recorded = reevaluate(services.database, integration, START)
    assert {e.metric for e in recorded} == {"Placed Order", "Ordered Product"}
    assert all(e.backfill for e in recorded)
    assert reevaluate(services.database, integration, START) == []


def test_poison_row_goes_to_dead_letter_and_replay_finishes_it(
    services: Services, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = make_shop(services)
    deliver(services, shop, woo_order(1, "processing", START), "ok")
    deliver(services, shop, woo_order(66, "processing", START), "poison")
    real_to_order = WooCommerce.to_order

    def broken(self: WooCommerce, raw: dict[str, object]) -> object:
        if raw["id"] == 66:
            raise ValueError("line_items[0].price: cannot be read")
        return real_to_order(self, raw)

    monkeypatch.setattr(WooCommerce, "to_order", broken)
    processor = Processor(services.database, clock)
    for _ in range(MAX_ATTEMPTS):
        processor.run_until_idle()
        clock.advance(timedelta(hours=2))
    assert inbox_states(services) == {"processed": 1, "dead": 1}
    assert event_counts(services, shop.account_id)["Placed Order"] == 1

    monkeypatch.setattr(WooCommerce, "to_order", real_to_order)  # the fix is deployed
    with services.database.write() as connection:
        assert replay(connection, ReplaySelection(account_id=shop.account_id), clock.now()) == 1
    processor.run_until_idle()
    assert inbox_states(services) == {"processed": 2}
    assert event_counts(services, shop.account_id)["Placed Order"] == 2
    # Replaying everything again records nothing new.
    with services.database.write() as connection:
        replay(connection, ReplaySelection(states=(InboxState.PROCESSED,)), clock.now())
    assert processor.run_until_idle().events_recorded == 0


def test_an_order_that_records_nothing_creates_no_profile(services: Services) -> None:
    shop = make_shop(services)
    deliver(services, shop, woo_order(1, "pending", START), "p")
    deliver(services, shop, woo_order(2, "cancelled", START, email="b@x.com"), "c")
    _process(services)
    assert profile_count(services, shop.account_id) == 0
    deliver(
        services,
        shop,
        woo_order(1, "processing", START + timedelta(minutes=1), created=START),
        "p2",
    )
    _process(services)
    assert profile_count(services, shop.account_id) == 1


def _api_event_entry(shop: Shop, profile: dict[str, Any], unique_id: str) -> InboxEntry:
    body = orjson.dumps(
        {
            "data": {
                "type": "event",
                "attributes": {
                    "properties": {"OrderId": unique_id},
                    "time": START.isoformat(),
                    "unique_id": unique_id,
                    "metric": {"data": {"type": "metric", "attributes": {"name": "Placed Order"}}},
                    "profile": {"data": {"type": "profile", **profile}},
                },
            }
        }
    )
    return InboxEntry(
        account_id=shop.account_id, integration_id=None, source="api", topic="event", body=body
    )


def test_one_poison_row_among_500_fails_alone(services: Services) -> None:
    """The batch is applied as a set; a row that fails it is found by halving, and every other
    row still records its events exactly once (nothing of a failed attempt is kept)."""
    shop = make_shop(services)
    entries = []
    for n in range(500):
        if n == 321:
            # An API event naming a profile id that does not exist: it fails where profiles
            # are resolved, after the set's order states were written in the same savepoint.
            entries.append(_api_event_entry(shop, {"id": "01NOSUCHPROFILE0000000000"}, "bad"))
            continue
        headers, body = woo_webhook(
            woo_order(1000 + n, "processing", START, email=f"b{n % 50}@x.com"),
            secret=WEBHOOK_SECRET,
            delivery_id=str(n),
        )
        entries.append(
            InboxEntry(
                account_id=shop.account_id,
                integration_id=shop.integration.id,
                source="webhook",
                topic="order.updated",
                body=body,
                headers=headers,
            )
        )
    with services.database.write() as connection:
        write_entries(connection, entries, START)
    result = Processor(services.database, services.clock, batch_size=500).run_once()
    assert (result.claimed, result.processed, result.retried, result.dead) == (500, 499, 1, 0)
    assert event_counts(services, shop.account_id) == {
        "Placed Order": 499,
        "Ordered Product": 998,
    }
    assert profile_count(services, shop.account_id) == 50
    with services.database.read() as connection:
        failed = connection.execute(
            select(inbox.c.state, inbox.c.attempts, inbox.c.last_error).where(
                inbox.c.state != "processed"
            )
        ).one()
        states = connection.execute(select(func.count()).select_from(order_states)).scalar_one()
    assert (failed.state, failed.attempts) == ("pending", 1)
    assert "no profile 01NOSUCHPROFILE0000000000" in failed.last_error
    assert states == 499


def test_sightings_of_one_order_in_one_batch_apply_in_turn(services: Services) -> None:
    shop = make_shop(services)
    t0 = START - timedelta(hours=1)
    for n, status in enumerate(["pending", "processing", "completed", "refunded"]):
        deliver(services, shop, woo_order(5, status, t0 + timedelta(minutes=n), created=t0), f"{n}")
    result = Processor(services.database, services.clock).run_once()
    assert result.processed == 4
    assert event_counts(services, shop.account_id) == {
        "Placed Order": 1,
        "Ordered Product": 2,
        "Fulfilled Order": 1,
        "Refunded Order": 1,
    }
    with services.database.read() as connection:
        state = connection.execute(select(order_states)).one()
    assert state.raw_status == "refunded"
    assert state.first_seen_at == START
    assert None not in (state.placed_recorded_at, state.fulfilled_recorded_at)


def test_a_batch_is_a_handful_of_statements_whatever_its_size(services: Services) -> None:
    shop = make_shop(services)
    for n in range(300):
        deliver(services, shop, woo_order(n, "processing", START, email=f"c{n}@x.com"), f"{n}")
    statements: list[str] = []
    engine = services.database.engine

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    # As processes run it: with the flows hook, which credits each live order to a flow email.
    processor = Processor(
        services.database, services.clock, batch_size=300, on_recorded=FlowEntry(services.clock)
    )
    sqlalchemy.event.listen(engine, "before_cursor_execute", count)
    try:
        result = processor.run_once()
    finally:
        sqlalchemy.event.remove(engine, "before_cursor_execute", count)
    assert result.processed == 300
    assert len(result.recorded) == 900
    # Per row it was ~14 round trips, and crediting orders to flows 3 more; now the batch's
    # statements do not grow with its rows.
    assert len(statements) < 40, statements


@pytest.mark.postgres
def test_concurrent_workers_on_postgresql_share_orders_and_people_exactly_once(
    services: Services,
) -> None:
    """Four processors at once, in small batches, over orders whose sightings and customers are
    spread across batches: each event once, one profile per person, no row lost or dead."""
    if services.database.is_sqlite:
        pytest.skip("one writer on SQLite: concurrent processors are a PostgreSQL matter")
    shop = make_shop(services)
    base = START - timedelta(hours=1)
    for step, status in enumerate(("pending", "processing", "completed")):
        for order_id in range(1, 121):
            order = woo_order(
                order_id,
                status,
                base + timedelta(minutes=step),
                created=base,
                email=f"shared{order_id % 17}@x.com",
            )
            deliver(services, shop, order, f"{order_id}-{status}")
    start = threading.Barrier(4)
    errors: list[BaseException] = []
    results: list[BatchResult] = []

    def work() -> None:
        processor = Processor(services.database, services.clock, batch_size=25)
        start.wait()
        try:
            results.append(processor.run_until_idle())
        except BaseException as error:  # noqa: BLE001  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # Rows are locked in one order by every worker: no deadlock sent any back.
    assert [result.retried + result.dead for result in results] == [0, 0, 0, 0]
    assert sum(result.processed for result in results) == 360
    assert inbox_states(services) == {"processed": 360}
    assert event_counts(services, shop.account_id) == {
        "Placed Order": 120,
        "Ordered Product": 240,
        "Fulfilled Order": 120,
    }
    assert profile_count(services, shop.account_id) == 17


# Shares of the inbox are SQLite's (``serve``'s two worker processes).
_SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _states_by_id(services: Services) -> dict[int, str]:
    with services.database.read() as connection:
        return {row.id: row.state for row in connection.execute(select(inbox.c.id, inbox.c.state))}


@_SQLITE_ONLY
def test_a_processor_with_a_share_of_the_inbox_takes_its_blocks_in_turn(
    services: Services,
) -> None:
    shop = make_shop(services)
    for n in range(1, 10):  # ids 1-9: blocks of three, the shares taking every other block
        deliver(services, shop, woo_order(n, "processing", START, email=f"s{n}@x.com"), f"{n}")
    first, second = (
        Processor(services.database, services.clock, share=InboxShare(n, 2, block=3))
        for n in range(2)
    )
    assert first.run_once().processed == 2  # ids 1 and 2; 3 begins the other share's block
    assert second.run_once().processed == 3  # ids 3-5: no row before them waits any more
    assert first.run_once().processed == 3  # ids 6-8
    assert {row_id for row_id, state in _states_by_id(services).items() if state == "pending"} == {
        9
    }
    assert second.run_once().processed == 1
    assert inbox_states(services) == {"processed": 9}


@_SQLITE_ONLY
def test_rows_of_another_share_that_wait_too_long_are_taken_over_for_a_while(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A share's rows whose process died are processed by the other share's process after
    ``_TAKE_OVER_AFTER`` — the rows before its own first — and every share's rows after them
    for ``_TAKEN_OVER_FOR``, without waiting again."""
    monkeypatch.setattr("shoptrack.pipeline.processing._TAKE_OVER_AFTER", 0.0)
    monkeypatch.setattr("shoptrack.pipeline.processing._TAKEN_OVER_FOR", 3600.0)
    shop = make_shop(services)
    for n in range(1, 9):  # ids 1 and 2 of the first share, 3-5 the second's, 6-8 the first's
        deliver(services, shop, woo_order(n, "processing", START, email=f"t{n}@x.com"), f"{n}")
    second = Processor(services.database, services.clock, share=InboxShare(1, 2, block=3))
    assert second.run_once(limit=1).processed == 1  # id 1: taken over
    # Taken over for a while: the rows of either share, in order, none waited for.
    never = second.run_once(interrupted=lambda: True)
    assert never.processed == 7
    assert event_counts(services, shop.account_id)["Placed Order"] == 8


@_SQLITE_ONLY
def test_a_processor_waiting_for_another_share_stops_when_told(services: Services) -> None:
    shop = make_shop(services)
    for n in range(1, 6):
        deliver(services, shop, woo_order(n, "processing", START, email=f"w{n}@x.com"), f"{n}")
    second = Processor(services.database, services.clock, share=InboxShare(1, 2, block=3))
    # Its rows 3-5 come after the first share's 1 and 2: it waits, and stops when told.
    assert second.run_once(interrupted=lambda: True).claimed == 0
    assert inbox_states(services) == {"pending": 5}


@_SQLITE_ONLY
def test_processors_sharing_the_inbox_write_each_order_in_order(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processors at once, each with its share of the rows (as ``serve``'s two worker
    processes), over orders each seen placed in one block and cancelled or completed in the
    next — the other share's: the events one processor records, each once, one profile per
    person, every row processed once. Written out of order, an order seen cancelled before its
    placed sighting would record neither Placed nor Cancelled Order."""
    # Each share's process writes its own rows: none waits long enough to take any over.
    monkeypatch.setattr("shoptrack.pipeline.processing._TAKE_OVER_AFTER", 60.0)
    shop = make_shop(services)
    block = 10
    placed_at = START - timedelta(hours=1)
    for first in range(0, 60, block):
        orders = range(first + 1, first + block + 1)
        for order_id in orders:  # one block's worth placed, then the same orders' next sighting
            order = woo_order(order_id, "processing", placed_at, email=f"p{order_id % 7}@x.com")
            deliver(services, shop, order, f"{order_id}-placed")
        for order_id in orders:
            status = "cancelled" if order_id % 2 else "completed"
            later = placed_at + timedelta(minutes=5)
            order = woo_order(
                order_id, status, later, created=placed_at, email=f"p{order_id % 7}@x.com"
            )
            deliver(services, shop, order, f"{order_id}-{status}")
    # The second share starts first; the first once the second waits for it (or, were it not
    # to wait, has written all it could): the placed sightings come after the others' unless
    # the second share waits for them.
    second_waits = threading.Event()

    def waiting(*key: Any) -> bool:
        second_waits.set()
        return bool(pending_before(*key))

    monkeypatch.setattr("shoptrack.pipeline.processing.pending_before", waiting)
    errors: list[BaseException] = []
    results: dict[int, BatchResult] = {}

    def work(share: InboxShare) -> None:
        processor = Processor(services.database, services.clock, batch_size=block, share=share)
        if share.index == 0:
            second_waits.wait()
        try:
            results[share.index] = processor.run_until_idle()
        except BaseException as error:  # noqa: BLE001  # reported by the assertion below
            errors.append(error)
        finally:
            second_waits.set()

    threads = [threading.Thread(target=work, args=(InboxShare(n, 2, block=block),)) for n in (1, 0)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert event_counts(services, shop.account_id) == {
        "Placed Order": 60,
        "Ordered Product": 120,
        "Cancelled Order": 30,
        "Fulfilled Order": 30,
    }
    assert [results[0].processed, results[1].processed] == [60, 60]
    assert inbox_states(services) == {"processed": 120}
    assert profile_count(services, shop.account_id) == 7


def test_rollups_keep_currencies_and_test_orders_apart_and_profiles_total_their_orders(
    services: Services,
) -> None:
    shop = make_shop(services)
    t0 = START - timedelta(hours=2)
    deliver(services, shop, woo_order(1, "processing", t0, total="10.00"), "usd")
    deliver(services, shop, woo_order(2, "processing", t0, total="7.00", currency="EUR"), "eur")
    later = t0 + timedelta(minutes=30)
    deliver(services, shop, woo_order(1, "refunded", later, created=t0, total="10.00"), "refund")
    test_buyer = "test-order+20261127@shoptrack.invalid"
    deliver(services, shop, woo_order(3, "processing", t0, total="1.00", email=test_buyer), "t")
    _process(services)
    with services.database.read() as connection:
        placed = connection.execute(
            select(metric_rollups.c.currency, metric_rollups.c.test, metric_rollups.c.value_sum)
            .join(metrics, metrics.c.id == metric_rollups.c.metric_id)
            .where(metrics.c.name == "Placed Order")
        ).all()
        totals = {
            (row.currency, row.orders, row.placed_value, row.refunded_value)
            for row in connection.execute(select(profile_orders))
        }
        flagged = connection.execute(
            select(events.c.unique_id, events.c.test, events.c.properties).where(
                events.c.unique_id == "3"
            )
        ).one()
    assert sorted(placed) == [
        ("EUR", False, Decimal("7.0000")),
        ("USD", False, Decimal("10.0000")),
        ("USD", True, Decimal("1.0000")),
    ]
    # One buyer: orders per currency, the refund netted, the test order left out.
    assert totals == {
        ("EUR", 1, Decimal("7.0000"), Decimal("0.0000")),
        ("USD", 1, Decimal("10.0000"), Decimal("10.0000")),
    }
    assert flagged.test is True
    assert flagged.properties["IsTest"] is True


@pytest.mark.parametrize("source", ["poll", "backfill", "fetch"])
def test_nul_characters_of_fetched_orders_are_removed_and_counted(
    services: Services, source: str
) -> None:
    """Rows a sync or a fetch wrote, as they write them (``orjson.dumps`` of the store's
    order), lose their NUL characters in processing, keys and nested lists included."""
    shop = make_shop(services)
    order = woo_order(6, "processing", START)
    order["billing"]["first_name"] = "\x00A\x00da\x00"
    order["line_items"][1]["meta_data"] = [{"key": "size\x00", "value": ["X\x00L"]}]
    with services.database.write() as connection:
        write_entry(
            connection,
            InboxEntry(
                account_id=shop.account_id,
                integration_id=shop.integration.id,
                source=source,
                topic="order",
                body=orjson.dumps(order),
            ),
            START,
        )
    _process(services)
    assert inbox_states(services) == {"processed": 1}
    assert event_counts(services, shop.account_id)["Placed Order"] == 1
    with services.database.read() as connection:
        removed = connection.execute(select(inbox.c.nul_characters_removed)).scalar_one()
        (snapshot,) = connection.execute(select(order_states.c.snapshot)).scalars()
    assert removed == 5
    assert "\x00" not in orjson.dumps(snapshot).decode()
    assert "Ada" in orjson.dumps(snapshot).decode()


def test_a_body_without_nul_characters_counts_none(services: Services) -> None:
    shop = make_shop(services)
    order = woo_order(7, "processing", START, customer_note="a\\u0000 written out")
    deliver(services, shop, order, "d1")
    _process(services)
    with services.database.read() as connection:
        removed = connection.execute(select(inbox.c.nul_characters_removed)).scalar_one()
    assert removed == 0


def test_customers_who_share_a_phone_number_get_a_profile_each(services: Services) -> None:
    """Two people, one phone (a family's, or a store's placeholder): each email is a profile;
    the phone stays with the profile that had it first, and no order fails for it."""
    shop = make_shop(services)

    def order(order_id: int, email: str) -> dict[str, Any]:
        placed = woo_order(order_id, "processing", START, email=email)
        placed["billing"] = placed["billing"] | {"phone": "+49 30 5550 1234"}
        return placed

    deliver(services, shop, order(1, "first@example.com"), "1")
    Processor(services.database, services.clock).run_until_idle()
    # Then two more in one batch: one alone, one beside another of its kind.
    deliver(services, shop, order(2, "second@example.com"), "2")
    deliver(services, shop, order(3, "third@example.com"), "3")
    result = Processor(services.database, services.clock).run_until_idle()
    assert (result.processed, result.retried, result.dead) == (2, 0, 0)
    assert event_counts(services, shop.account_id)["Placed Order"] == 3
    with services.database.read() as connection:
        phones = dict(connection.execute(select(profiles.c.email, profiles.c.phone_number)).all())
    assert phones == {
        "first@example.com": "+493055501234",
        "second@example.com": None,
        "third@example.com": None,
    }


def test_a_profile_s_last_event_is_its_newest_whether_created_or_found(services: Services) -> None:
    shop = make_shop(services)
    t0 = START - timedelta(hours=5)

    def last_event() -> Any:
        with services.database.read() as connection:
            return connection.execute(select(profiles.c.last_event_at)).scalar_one()

    # A new customer's two orders in one batch: the profile is created with the newer one's time.
    deliver(services, shop, woo_order(1, "processing", t0 + timedelta(hours=1), created=t0), "d1")
    later = t0 + timedelta(hours=2)
    deliver(services, shop, woo_order(2, "processing", later, created=later), "d2")
    _process(services)
    assert last_event() == later
    # An older order seen afterwards leaves it; a newer one moves it on.
    earlier = t0 - timedelta(hours=1)
    deliver(services, shop, woo_order(3, "processing", earlier, created=earlier), "d3")
    _process(services)
    assert last_event() == later
    newest = t0 + timedelta(hours=3)
    deliver(services, shop, woo_order(4, "processing", newest, created=newest), "d4")
    _process(services)
    assert last_event() == newest
