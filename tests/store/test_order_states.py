"""Sightings worked out before the write transaction (SQLite's processor does, outside the write
lock) are written as planned only while the stored states are those the plan was made from."""

from __future__ import annotations

from datetime import timedelta

import pytest

import shoptrack.store.order_states as order_states_module
from shoptrack.connectors import connector_for
from shoptrack.domain.status import Lifecycle
from shoptrack.services import Services
from shoptrack.store.order_states import Sighting, apply_sightings, plan_sightings
from shoptrack.store.schema import order_states
from shoptrack.testing import Shop, make_shop, woo_order
from tests.conftest import START


def _sighting(shop: Shop, status: str, minutes: int) -> Sighting:
    integration = shop.integration
    order = connector_for("woocommerce").to_order(
        woo_order(1, status, START + timedelta(minutes=minutes), created=START)
    )
    return Sighting(integration.account_id, integration.id, integration.rules, order)


def test_a_plan_whose_states_are_still_stored_is_written_as_planned(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = make_shop(services)
    sightings = [_sighting(shop, "processing", 1)]
    with services.database.read() as connection:
        plan = plan_sightings(connection, sightings, START)

    def worked_out_again(*_: object) -> None:
        raise AssertionError("worked out again under the lock")

    monkeypatch.setattr(order_states_module, "transition", worked_out_again)
    with services.database.write() as connection:
        changes = apply_sightings(connection, sightings, START, plan)
    assert changes == plan.transitions
    assert changes[0].record == (Lifecycle.PLACED,)
    with services.database.read() as connection:
        row = connection.execute(order_states.select()).one()
    assert row.raw_status == "processing"
    assert row.placed_recorded_at == START


def test_a_plan_is_refused_for_other_sightings_or_another_time(services: Services) -> None:
    shop = make_shop(services)
    sightings = [_sighting(shop, "processing", 1)]
    with services.database.read() as connection:
        plan = plan_sightings(connection, sightings, START)
    with services.database.write() as connection:
        for other, now in ((list(sightings), START), (sightings, START + timedelta(seconds=1))):
            with pytest.raises(ValueError, match="other sightings or another time"):
                apply_sightings(connection, other, now, plan)


def test_a_plan_made_before_another_writer_changed_the_order_is_worked_out_again(
    services: Services,
) -> None:
    shop = make_shop(services)
    placed = _sighting(shop, "processing", 1)
    sightings = [placed]
    with services.database.read() as connection:
        plan = plan_sightings(connection, sightings, START)
    assert plan.transitions[0].record == (Lifecycle.PLACED,)
    # Meanwhile another processor records the same sighting, and then the order's completion.
    with services.database.write() as connection:
        apply_sightings(connection, [placed, _sighting(shop, "completed", 2)], START)
    with services.database.write() as connection:
        (change,) = apply_sightings(connection, sightings, START, plan)
    # Worked out from the stored state: stale, nothing recorded twice, nothing moved back.
    assert change.stale
    assert change.record == ()
    with services.database.read() as connection:
        row = connection.execute(order_states.select()).one()
    assert row.raw_status == "completed"
