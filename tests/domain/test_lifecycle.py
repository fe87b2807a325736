"""The order lifecycle: sightings in any order, duplicated or replayed, record each stage once."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoptrack.connectors import connector_for, known_platforms
from shoptrack.domain.lifecycle import OrderState, Transition, stages_of, transition
from shoptrack.domain.order import Order
from shoptrack.domain.status import Lifecycle, StatusRules

PLACED = Lifecycle.PLACED
FULFILLED = Lifecycle.FULFILLED
CANCELLED = Lifecycle.CANCELLED
REFUNDED = Lifecycle.REFUNDED

CREATED = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
CUSTOM = "custom_unknown"

CATALOGUES: dict[str, tuple[str, ...]] = {
    "shopify": (
        "pending",
        "authorized",
        "partially_paid",
        "paid",
        "partially_refunded",
        "refunded",
        "voided",
    ),
    "bigcommerce": tuple(str(n) for n in range(15)),
    "magento2": (
        "pending",
        "pending_payment",
        "processing",
        "holded",
        "payment_review",
        "complete",
        "closed",
        "canceled",
    ),
    "woocommerce": (
        "pending",
        "processing",
        "on-hold",
        "completed",
        "cancelled",
        "refunded",
        "failed",
    ),
    "prestashop": tuple(str(n) for n in range(1, 14)),
    "shift4shop": tuple(str(n) for n in range(1, 11)),
}
MAGENTO_STATES = (
    "new",
    "pending_payment",
    "processing",
    "complete",
    "closed",
    "canceled",
    "holded",
    "payment_review",
)
SETTING_KEYS = ("placed_statuses", "fulfilled_statuses", "cancelled_statuses", "refunded_statuses")


def sighting(
    raw_status: str,
    minutes: int = 0,
    *,
    order_id: str = "1001",
    fallback: str | None = None,
    cancelled_at: datetime | None = None,
    fulfilled_at: datetime | None = None,
) -> Order:
    """One sighting of an order, ``minutes`` after its creation."""
    return Order(
        platform_order_id=order_id,
        number=f"#{order_id}",
        created_at=CREATED,
        updated_at=CREATED + timedelta(minutes=minutes),
        raw_status=raw_status,
        total=Decimal("59.90"),
        currency="EUR",
        email="ada@example.com",
        status_fallback=fallback,
        cancelled_at=cancelled_at,
        fulfilled_at=fulfilled_at,
    )


def apply_all(
    orders: list[Order], rules: StatusRules, previous: OrderState | None = None
) -> list[Transition]:
    transitions = []
    state = previous
    for order in orders:
        change = transition(state, order, rules)
        transitions.append(change)
        state = change.state
    return transitions


def recorded(transitions: list[Transition]) -> list[Lifecycle]:
    return [stage for change in transitions for stage in change.record]


# --- generated histories ----------------------------------------------------------------------


@dataclass(frozen=True)
class History:
    platform: str
    rules: StatusRules
    sightings: tuple[Order, ...]  # strictly increasing updated_at


@dataclass(frozen=True)
class Step:
    index: int  # which sighting was delivered
    before: OrderState | None
    change: Transition


def _setting(statuses: tuple[str, ...]) -> st.SearchStrategy[Any]:
    chosen = st.lists(st.sampled_from(statuses), unique=True, max_size=4)
    return st.one_of(
        chosen,
        chosen.map(lambda values: {"include": values}),
        chosen.map(lambda values: {"exclude": values}),
    )


@st.composite
def histories(draw: st.DrawFn) -> History:
    platform = draw(st.sampled_from(known_platforms()))
    statuses = (*CATALOGUES[platform], CUSTOM)
    rules = connector_for(platform).default_rules
    if draw(st.booleans()):  # sometimes a merchant's own rules, which may name the custom status
        rules = rules.with_settings(
            draw(st.dictionaries(st.sampled_from(SETTING_KEYS), _setting(statuses), max_size=4))
        )
    count = draw(st.integers(min_value=1, max_value=6))
    moment = CREATED
    sightings = []
    for _ in range(count):
        moment += timedelta(seconds=draw(st.integers(min_value=1, max_value=86_400)))
        shopify = platform == "shopify"
        sightings.append(
            Order(
                platform_order_id="1001",
                number="1001",
                created_at=CREATED,
                updated_at=moment,
                raw_status=draw(st.sampled_from(statuses)),
                total=Decimal("10.00"),
                currency="USD",
                status_fallback=(
                    draw(st.sampled_from(MAGENTO_STATES)) if platform == "magento2" else None
                ),
                cancelled_at=moment if shopify and draw(st.booleans()) else None,
                fulfilled_at=moment if shopify and draw(st.booleans()) else None,
            )
        )
    return History(platform, rules, tuple(sightings))


def deliveries(count: int) -> st.SearchStrategy[list[int]]:
    """Every sighting at least once, some more than once, in any order."""
    extras = st.lists(st.integers(min_value=0, max_value=count - 1), max_size=count * 2)
    return extras.flatmap(lambda more: st.permutations([*range(count), *more]))


def deliver(history: History, order: list[int]) -> list[Step]:
    steps = []
    state: OrderState | None = None
    for index in order:
        change = transition(state, history.sightings[index], history.rules)
        steps.append(Step(index, state, change))
        state = change.state
    return steps


def implied(history: History, index: int) -> frozenset[Lifecycle]:
    return stages_of(history.sightings[index], history.rules)


BOUNDED = settings(max_examples=200, deadline=None)


@BOUNDED
@given(data=st.data())
def test_each_stage_is_recorded_at_most_once(data: st.DataObject) -> None:
    history = data.draw(histories())
    steps = deliver(history, data.draw(deliveries(len(history.sightings))))
    counts = Counter(stage for step in steps for stage in step.change.record)
    assert all(count == 1 for count in counts.values()), counts
    assert steps[-1].change.state.recorded == frozenset(counts)
    everything_implied = frozenset().union(*(implied(history, step.index) for step in steps))
    assert frozenset(counts) <= everything_implied


@BOUNDED
@given(data=st.data())
def test_final_state_is_the_newest_sighting(data: st.DataObject) -> None:
    history = data.draw(histories())
    steps = deliver(history, data.draw(deliveries(len(history.sightings))))
    newest = history.sightings[-1]
    final = steps[-1].change.state
    assert final.raw_status == newest.raw_status
    assert final.platform_updated_at == newest.updated_at
    assert final.platform_order_id == newest.platform_order_id


@BOUNDED
@given(data=st.data())
def test_nothing_is_recorded_before_placed(data: st.DataObject) -> None:
    history = data.draw(histories())
    steps = deliver(history, data.draw(deliveries(len(history.sightings))))
    placed_seen = False
    for step in steps:
        record = step.change.record
        if not placed_seen and record:
            assert record[0] is PLACED, record
        placed_seen = placed_seen or PLACED in record
        # the stages come in lifecycle order, never twice in one transition
        assert list(record) == sorted(set(record), key=list(Lifecycle).index)
        assert step.change.state.recorded == (
            (step.before.recorded if step.before else frozenset()) | frozenset(record)
        )


@BOUNDED
@given(data=st.data())
def test_duplicate_deliveries_change_nothing(data: st.DataObject) -> None:
    history = data.draw(histories())
    with_duplicates = data.draw(deliveries(len(history.sightings)))
    once_each = list(dict.fromkeys(with_duplicates))

    def outcome(order: list[int]) -> tuple[OrderState, list[tuple[int, Lifecycle]]]:
        steps = deliver(history, order)
        events = [(step.index, stage) for step in steps for stage in step.change.record]
        return steps[-1].change.state, events

    assert outcome(with_duplicates) == outcome(once_each)


@BOUNDED
@given(data=st.data())
def test_in_time_order_every_stage_after_placement_is_recorded_once(data: st.DataObject) -> None:
    history = data.draw(histories())
    in_time_order = sorted(data.draw(deliveries(len(history.sightings))))
    steps = deliver(history, in_time_order)

    where_recorded: dict[Lifecycle, int] = {}
    for step in steps:
        for stage in step.change.record:
            assert stage not in where_recorded
            where_recorded[stage] = step.index

    count = len(history.sightings)
    first_placed = next((i for i in range(count) if PLACED in implied(history, i)), None)
    expected: dict[Lifecycle, int] = {}
    if first_placed is not None:
        for i in range(first_placed, count):
            for stage in implied(history, i):
                expected.setdefault(stage, i)  # recorded at the first sighting that shows it
    assert where_recorded == expected
    assert not any(step.change.stale for step in steps)


@BOUNDED
@given(data=st.data())
def test_stale_sightings_are_reported_and_change_nothing(data: st.DataObject) -> None:
    history = data.draw(histories())
    steps = deliver(history, data.draw(deliveries(len(history.sightings))))
    for step in steps:
        order = history.sightings[step.index]
        older = step.before is not None and order.updated_at < step.before.platform_updated_at
        assert step.change.stale is older
        if older:
            assert step.change.state == step.before
            assert step.change.record == ()
        else:
            assert step.change.state.platform_updated_at == order.updated_at
            assert step.change.state.raw_status == order.raw_status


@BOUNDED
@given(data=st.data())
def test_replaying_everything_records_nothing_more(data: st.DataObject) -> None:
    history = data.draw(histories())
    steps = deliver(history, data.draw(deliveries(len(history.sightings))))
    state = steps[-1].change.state
    replay = data.draw(st.permutations(range(len(history.sightings))))
    for index in replay:
        change = transition(state, history.sightings[index], history.rules)
        assert change.record == ()
        assert change.state.recorded == state.recorded
        state = change.state
    assert state == steps[-1].change.state


@BOUNDED
@given(data=st.data())
def test_skipped_marks_an_order_first_seen_cancelled_and_not_placed(data: st.DataObject) -> None:
    history = data.draw(histories())
    steps = deliver(history, data.draw(deliveries(len(history.sightings))))
    first = implied(history, steps[0].index)
    expected = CANCELLED in first and PLACED not in first
    assert all(step.change.state.skipped is expected for step in steps)


# --- examples ---------------------------------------------------------------------------------

WOO = connector_for("woocommerce").default_rules


def test_woocommerce_processing_then_completed() -> None:
    changes = apply_all([sighting("processing", 0), sighting("completed", 90)], WOO)
    assert [change.record for change in changes] == [(PLACED,), (FULFILLED,)]
    assert changes[-1].state.recorded == {PLACED, FULFILLED}
    assert changes[-1].state.raw_status == "completed"


def test_woocommerce_full_lifecycle() -> None:
    changes = apply_all(
        [
            sighting("pending", 0),
            sighting("on-hold", 1),
            sighting("processing", 2),
            sighting("completed", 3),
            sighting("refunded", 4),
        ],
        WOO,
    )
    assert [change.record for change in changes] == [(), (), (PLACED,), (FULFILLED,), (REFUNDED,)]


def test_virtual_order_straight_to_completed_records_placed_and_fulfilled_at_once() -> None:
    change = transition(None, sighting("completed"), WOO)
    assert change.record == (PLACED, FULFILLED)
    assert not change.stale
    assert not change.state.skipped


def test_first_seen_refunded_implies_placed() -> None:
    assert transition(None, sighting("refunded"), WOO).record == (PLACED, REFUNDED)


def test_prestashop_payment_accepted_then_shipped() -> None:
    rules = connector_for("prestashop").default_rules
    changes = apply_all([sighting("2", 0), sighting("4", 60), sighting("5", 120)], rules)
    assert [change.record for change in changes] == [(), (PLACED, FULFILLED), ()]


def test_first_seen_cancelled_records_nothing_and_is_skipped() -> None:
    change = transition(None, sighting("cancelled"), WOO)
    assert change.record == ()
    assert change.state.skipped
    assert change.state.recorded == frozenset()
    assert change.state.raw_status == "cancelled"


def test_placed_order_cancelled_later_records_cancelled() -> None:
    changes = apply_all([sighting("processing", 0), sighting("cancelled", 5)], WOO)
    assert [change.record for change in changes] == [(PLACED,), (CANCELLED,)]
    assert not changes[-1].state.skipped


def test_pending_then_cancelled_records_nothing() -> None:
    changes = apply_all([sighting("pending", 0), sighting("cancelled", 5)], WOO)
    assert recorded(changes) == []


def test_cancelled_then_reinstated_records_placed() -> None:
    changes = apply_all([sighting("cancelled", 0), sighting("processing", 5)], WOO)
    assert recorded(changes) == [PLACED]


def test_bigcommerce_awaiting_payment_then_awaiting_fulfillment_then_cancelled() -> None:
    rules = connector_for("bigcommerce").default_rules
    changes = apply_all([sighting("7", 0), sighting("11", 5), sighting("5", 10)], rules)
    assert [change.record for change in changes] == [(), (PLACED,), (CANCELLED,)]


def test_shift4shop_abandoned_is_never_placed_nor_skipped() -> None:
    change = transition(None, sighting("7"), connector_for("shift4shop").default_rules)
    assert change.record == ()
    assert not change.state.skipped


def test_magento_custom_status_uses_its_state() -> None:
    rules = connector_for("magento2").default_rules
    waiting = transition(None, sighting("awaiting_transfer", 0, fallback="pending_payment"), rules)
    assert waiting.record == ()
    picked = transition(waiting.state, sighting("ready_to_pick", 5, fallback="complete"), rules)
    assert picked.record == (PLACED, FULFILLED)


def test_stale_sighting_changes_nothing() -> None:
    newer = transition(None, sighting("completed", 10), WOO)
    older = transition(newer.state, sighting("processing", 5), WOO)
    assert older.stale
    assert older.record == ()
    assert older.state == newer.state


def test_sighting_as_new_as_the_state_is_applied_again() -> None:
    first = transition(None, sighting("processing", 10), WOO)
    again = transition(first.state, sighting("processing", 10), WOO)
    assert not again.stale
    assert again.record == ()
    assert again.state == first.state


def test_newest_first_then_older_records_only_what_the_newest_shows() -> None:
    changes = apply_all([sighting("refunded", 20), sighting("completed", 10)], WOO)
    assert recorded(changes) == [PLACED, REFUNDED]
    assert changes[-1].stale


def test_state_of_a_new_order_carries_its_identity_and_time() -> None:
    change = transition(None, sighting("processing", 7, order_id="A-9"), WOO)
    assert change.state.platform_order_id == "A-9"
    assert change.state.platform_updated_at == CREATED + timedelta(minutes=7)


# --- re-evaluation with changed rules ---------------------------------------------------------


def test_rule_change_records_the_missing_placed() -> None:
    kept = transition(None, sighting("awaiting-pickup", 3), WOO)
    assert kept.record == ()
    assert not kept.state.skipped

    new_rules = WOO.with_settings({"placed_statuses": ["processing", "awaiting-pickup"]})
    again = transition(kept.state, sighting("awaiting-pickup", 3), new_rules)
    assert not again.stale
    assert again.record == (PLACED,)
    assert again.state.recorded == {PLACED}

    # and a second re-evaluation records nothing more
    assert transition(again.state, sighting("awaiting-pickup", 3), new_rules).record == ()


def test_rule_change_for_a_custom_fulfilled_status_records_placed_and_fulfilled() -> None:
    kept = transition(None, sighting("shipped-by-partner", 3), WOO)
    assert kept.record == ()
    new_rules = WOO.with_settings({"fulfilled_statuses": ["completed", "shipped-by-partner"]})
    again = transition(kept.state, sighting("shipped-by-partner", 3), new_rules)
    assert again.record == (PLACED, FULFILLED)


def test_narrowing_rules_never_unrecords() -> None:
    placed = transition(None, sighting("processing", 3), WOO)
    narrower = WOO.with_settings({"placed_statuses": []})
    again = transition(placed.state, sighting("processing", 3), narrower)
    assert again.record == ()
    assert again.state.recorded == {PLACED}


# --- Shopify: cancelled_at and fulfilled_at beside financial_status -------------------------

SHOPIFY = connector_for("shopify").default_rules


def test_shopify_order_is_placed_whatever_its_financial_status() -> None:
    for status in ("pending", "authorized", "paid", "partially_paid", "voided"):
        assert transition(None, sighting(status), SHOPIFY).record == (PLACED,)


def test_shopify_markers_record_fulfilled_then_cancelled_then_refunded() -> None:
    fulfilled_at = CREATED + timedelta(minutes=30)
    cancelled_at = CREATED + timedelta(minutes=60)
    changes = apply_all(
        [
            sighting("paid", 0),
            sighting("paid", 30, fulfilled_at=fulfilled_at),
            sighting("paid", 60, fulfilled_at=fulfilled_at, cancelled_at=cancelled_at),
            sighting("refunded", 61, fulfilled_at=fulfilled_at, cancelled_at=cancelled_at),
        ],
        SHOPIFY,
    )
    assert [change.record for change in changes] == [
        (PLACED,),
        (FULFILLED,),
        (CANCELLED,),
        (REFUNDED,),
    ]


def test_shopify_first_seen_fulfilled() -> None:
    change = transition(None, sighting("paid", 5, fulfilled_at=CREATED), SHOPIFY)
    assert change.record == (PLACED, FULFILLED)


def test_shopify_first_seen_refunded_and_cancelled_was_placed() -> None:
    change = transition(None, sighting("refunded", 5, cancelled_at=CREATED), SHOPIFY)
    assert change.record == (PLACED, CANCELLED, REFUNDED)
    assert not change.state.skipped


def test_shopify_markers_are_stages() -> None:
    order = sighting("paid", fulfilled_at=CREATED, cancelled_at=CREATED)
    assert stages_of(order, SHOPIFY) == {PLACED, FULFILLED, CANCELLED}
    assert stages_of(sighting("paid"), SHOPIFY) == {PLACED}
    # markers count on every platform that reports them, not only Shopify
    assert stages_of(sighting("completed", fulfilled_at=CREATED), WOO) == {PLACED, FULFILLED}


# --- first seen cancelled or declined (DESIGN.md: "records nothing; the doctor reports it") ---

# "All but pending" placed rules (BigCommerce, Magento 2, Shopify) must not place an order whose
# only news is that it is cancelled or declined.


@pytest.mark.parametrize(
    ("platform", "first_sighting"),
    [
        ("bigcommerce", sighting("5")),  # Cancelled
        ("bigcommerce", sighting("6")),  # Declined
        ("magento2", sighting("canceled", fallback="canceled")),
        ("magento2", sighting("fraud_rejected", fallback="canceled")),  # custom status
        ("shopify", sighting("voided", 5, cancelled_at=CREATED)),
        ("shopify", sighting("paid", 5, cancelled_at=CREATED)),
        ("woocommerce", sighting("cancelled")),
    ],
)
def test_first_seen_cancelled_or_declined_records_nothing(
    platform: str, first_sighting: Order
) -> None:
    rules = connector_for(platform).default_rules
    assert PLACED not in stages_of(first_sighting, rules)
    change = transition(None, first_sighting, rules)
    assert change.record == ()
    assert change.state.skipped


def test_bigcommerce_pending_then_declined_records_nothing() -> None:
    changes = apply_all(
        [sighting("1", 0), sighting("6", 5)], connector_for("bigcommerce").default_rules
    )
    assert recorded(changes) == []
    assert not changes[-1].state.skipped  # not first seen so: an abandoned payment


def test_magento_processing_then_canceled_records_cancelled() -> None:
    rules = connector_for("magento2").default_rules
    changes = apply_all(
        [sighting("processing", 0, fallback="processing"), sighting("canceled", 5)], rules
    )
    assert [change.record for change in changes] == [(PLACED,), (CANCELLED,)]


def test_shopify_placed_then_cancelled_records_cancelled() -> None:
    cancelled_at = CREATED + timedelta(minutes=5)
    changes = apply_all(
        [sighting("paid", 0), sighting("voided", 5, cancelled_at=cancelled_at)], SHOPIFY
    )
    assert [change.record for change in changes] == [(PLACED,), (CANCELLED,)]


def test_placed_bigcommerce_order_later_declined_records_cancelled() -> None:
    rules = connector_for("bigcommerce").default_rules
    changes = apply_all([sighting("11", 0), sighting("6", 5)], rules)
    assert [change.record for change in changes] == [(PLACED,), (CANCELLED,)]


def test_order_requires_aware_times() -> None:
    with pytest.raises(ValueError, match="updated_at"):
        Order(
            platform_order_id="1",
            number="1",
            created_at=CREATED,
            updated_at=datetime(2024, 3, 1, 12, 0),  # noqa: DTZ001 - naive on purpose
            raw_status="processing",
            total=Decimal(1),
            currency="USD",
        )
