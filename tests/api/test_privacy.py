"""Profile deletion (``POST /api/data-privacy-deletion-jobs``): the person's profile, events and
exactly-once keys go, rollups stay equal to the events left, and order states keep their
recorded flags without the personal data."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.store.order_states import order_from_snapshot
from shoptrack.store.schema import event_keys, events, metric_rollups, order_states, profiles
from shoptrack.testing import Shop, make_shop, woo_order
from tests.conftest import START
from tests.helpers import AppClient, deliver, profile_count

Rollups = dict[tuple[str, datetime], tuple[int, Decimal]]


def deletion_body(
    profile_id: str | None = None, job_type: str = "data-privacy-deletion-job", **attributes: Any
) -> dict[str, Any]:
    profile: dict[str, Any] = {"type": "profile", "attributes": attributes}
    if profile_id is not None:
        profile["id"] = profile_id
    return {"data": {"type": job_type, "attributes": {"profile": {"data": profile}}}}


def _delete(client: AppClient, shop: Shop, body: dict[str, Any]) -> httpx.Response:
    return client.post("/api/data-privacy-deletion-jobs", json=body, headers=shop.headers())


def _send_event(
    client: AppClient, shop: Shop, *, email: str, value: float, unique_id: str, metric: str
) -> None:
    body = {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {"Source": "test"},
                "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
                "profile": {"data": {"type": "profile", "attributes": {"email": email}}},
                "value": value,
                "unique_id": unique_id,
            },
        }
    }
    assert client.post("/api/events", json=body, headers=shop.headers()).status_code == 202


def _process(services: Services) -> None:
    Processor(services.database, services.clock).run_until_idle()


def _rollups(services: Services, account_id: str) -> Rollups:
    with services.database.read() as connection:
        rows = connection.execute(
            select(metric_rollups).where(metric_rollups.c.account_id == account_id)
        )
        return {(r.metric_id, r.hour): (r.count, r.value_sum) for r in rows}


def _rollups_of_events(services: Services, account_id: str) -> Rollups:
    """What the rollups would be if they were built from the events stored now."""
    totals: dict[tuple[str, datetime], tuple[int, Decimal]] = defaultdict(
        lambda: (0, Decimal("0.0000"))
    )
    with services.database.read() as connection:
        rows = connection.execute(select(events).where(events.c.account_id == account_id))
        for row in rows:
            key = (row.metric_id, row.time.replace(minute=0, second=0, microsecond=0))
            count, value_sum = totals[key]
            totals[key] = (count + 1, value_sum + (row.value or Decimal(0)))
    return dict(totals)


def _profile_id(services: Services, account_id: str, email: str) -> str | None:
    with services.database.read() as connection:
        found = connection.execute(
            select(profiles.c.id).where(
                profiles.c.account_id == account_id, profiles.c.email == email
            )
        ).scalar()
    return None if found is None else str(found)


def _events_of(services: Services, profile_id: str) -> list[str]:
    with services.database.read() as connection:
        return list(
            connection.execute(select(events.c.id).where(events.c.profile_id == profile_id))
            .scalars()
            .all()
        )


def _order_state(services: Services, order_id: str) -> Any:
    with services.database.read() as connection:
        return connection.execute(
            select(order_states).where(order_states.c.platform_order_id == order_id)
        ).one()


def test_deletion_erases_the_person_and_keeps_aggregates_and_exactly_once(
    services: Services, shop: Shop, client: AppClient
) -> None:
    t0 = START - timedelta(hours=2)
    deliver(services, shop, woo_order(101, "processing", t0, email=" Ann@X.com"), "d1")
    deliver(services, shop, woo_order(102, "processing", t0, email="bob@x.com"), "d2")
    # First seen cancelled: records nothing, so only its email ties it to Ann.
    deliver(services, shop, woo_order(103, "cancelled", t0, email="ann@x.com"), "d3")
    _send_event(client, shop, email="ann@x.com", value=10, unique_id="a-1", metric="Placed Order")
    _send_event(
        client, shop, email="ann@x.com", value=5.5, unique_id="a-2", metric="Viewed Product"
    )
    _send_event(client, shop, email="bob@x.com", value=20, unique_id="b-1", metric="Placed Order")
    _process(services)
    ann = _profile_id(services, shop.account_id, "ann@x.com")
    assert ann is not None
    ann_events = _events_of(services, ann)
    assert len(ann_events) == 5  # Placed Order and 2 Ordered Product of 101, and 2 API events
    before = _rollups(services, shop.account_id)
    assert before == _rollups_of_events(services, shop.account_id)

    response = _delete(client, shop, deletion_body(email=" ANN@x.com"))
    assert response.status_code == 202, response.text
    assert response.content == b""

    assert client.get(f"/api/profiles/{ann}", headers=shop.headers()).status_code == 404
    assert _events_of(services, ann) == []
    with services.database.read() as connection:
        keys_left = connection.execute(
            select(event_keys.c.event_id).where(event_keys.c.event_id.in_(ann_events))
        ).all()
    assert keys_left == []
    after = _rollups(services, shop.account_id)
    assert after == _rollups_of_events(services, shop.account_id)
    assert sum(count for count, _ in after.values()) == sum(c for c, _ in before.values()) - 5
    assert profile_count(services, shop.account_id) == 1  # Bob's

    for order_id in ("101", "103"):
        state = _order_state(services, order_id)
        assert state.email is None
        order = order_from_snapshot(state.snapshot)
        assert (order.email, order.first_name, order.billing_address) == (None, None, None)
        assert order.line_items  # the sale itself is kept
    assert _order_state(services, "101").placed_recorded_at is not None
    bob_state = _order_state(services, "102")
    assert bob_state.email == "bob@x.com"
    assert order_from_snapshot(bob_state.snapshot).billing_address is not None

    # A new event for the address is a new person.
    _send_event(client, shop, email="ann@x.com", value=1, unique_id="a-3", metric="Viewed Product")
    _process(services)
    fresh = _profile_id(services, shop.account_id, "ann@x.com")
    assert fresh is not None
    assert fresh != ann
    assert len(_events_of(services, fresh)) == 1
    now = _rollups(services, shop.account_id)
    assert now == _rollups_of_events(services, shop.account_id)

    # The store sends the erased order again: its events were recorded once, not again.
    deliver(services, shop, woo_order(101, "processing", t0, email="ann@x.com"), "d1-again")
    _process(services)
    assert len(_events_of(services, fresh)) == 1
    assert _rollups(services, shop.account_id) == now


def test_deletion_by_id_and_by_phone_number(
    services: Services, shop: Shop, client: AppClient
) -> None:
    created = client.post(
        "/api/profiles",
        json={"data": {"type": "profile", "attributes": {"email": "a@x.com"}}},
        headers=shop.headers(),
    )
    profile_id = created.json()["data"]["id"]
    assert _delete(client, shop, deletion_body(profile_id)).status_code == 202
    assert profile_count(services, shop.account_id) == 0
    client.post(
        "/api/profiles",
        json={"data": {"type": "profile", "attributes": {"phone_number": "+15005550006"}}},
        headers=shop.headers(),
    )
    response = _delete(client, shop, deletion_body(phone_number="+1 500 555 0006"))
    assert response.status_code == 202
    assert profile_count(services, shop.account_id) == 0
    # Nobody left to match: a repeated request is still accepted.
    assert _delete(client, shop, deletion_body(phone_number="+15005550006")).status_code == 202


def test_a_key_never_erases_another_accounts_profile(
    services: Services, shop: Shop, client: AppClient
) -> None:
    other = make_shop(services)
    _send_event(client, other, email="a@x.com", value=1, unique_id="o-1", metric="Placed Order")
    _process(services)
    theirs = _profile_id(services, other.account_id, "a@x.com")
    assert theirs is not None
    # Another account's profile id is no resource of this one: 404, as an unknown id.
    refused = _delete(client, shop, deletion_body(theirs))
    assert refused.status_code == 404, refused.text
    (error,) = refused.json()["errors"]
    assert (error["code"], error["source"]) == (
        "not_found",
        {"pointer": "/data/attributes/profile/data/id"},
    )
    assert _delete(client, shop, deletion_body("01UNKNOWN")).status_code == 404
    assert _delete(client, shop, deletion_body(email="a@x.com")).status_code == 202
    assert _profile_id(services, other.account_id, "a@x.com") == theirs
    assert len(_events_of(services, theirs)) == 1


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (deletion_body("01ABC", email="a@x.com"), "/data/attributes/profile/data"),
        (
            deletion_body(email="a@x.com", phone_number="+15005550006"),
            "/data/attributes/profile/data",
        ),
        (deletion_body(), "/data/attributes/profile/data"),
        (deletion_body(email="not-an-email"), "/data/attributes/profile/data/attributes/email"),
        (
            deletion_body(phone_number="555"),
            "/data/attributes/profile/data/attributes/phone_number",
        ),
        (deletion_body(job_type="profile", email="a@x.com"), "/data/type"),
        (
            {"data": {"type": "data-privacy-deletion-job", "attributes": {}}},
            "/data/attributes/profile",
        ),
    ],
)
def test_bad_deletion_request_is_400_naming_the_field(
    services: Services, shop: Shop, client: AppClient, body: dict[str, Any], pointer: str
) -> None:
    _send_event(client, shop, email="a@x.com", value=1, unique_id="k-1", metric="Placed Order")
    _process(services)
    response = _delete(client, shop, body)
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["code"] == "invalid"
    assert error["source"]["pointer"] == pointer
    assert profile_count(services, shop.account_id) == 1


def test_without_a_key_is_401(client: AppClient) -> None:
    response = client.post("/api/data-privacy-deletion-jobs", json=deletion_body(email="a@x.com"))
    assert response.status_code == 401


def test_an_erased_customers_order_seen_again_brings_no_profile_back(
    services: Services, shop: Shop, client: AppClient
) -> None:
    t0 = START - timedelta(hours=2)
    deliver(services, shop, woo_order(201, "processing", t0, email="cy@x.com"), "e1")
    _process(services)
    assert _delete(client, shop, deletion_body(email="cy@x.com")).status_code == 202
    # The store sends the same order again (a poll, a webhook retry): it records nothing new,
    # so it must not create a profile for the erased address either.
    deliver(services, shop, woo_order(201, "processing", t0, email="cy@x.com"), "e2")
    _process(services)
    assert _profile_id(services, shop.account_id, "cy@x.com") is None
