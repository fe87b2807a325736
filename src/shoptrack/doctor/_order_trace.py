"""One order followed through shoptrack: what is kept of it, what the rules make of its status
now, and why an event it should have recorded is missing (``doctor --order``)."""

from __future__ import annotations

from typing import Any

from shoptrack.doctor._checks_access import iso
from shoptrack.doctor._examination import Examination
from shoptrack.domain.lifecycle import stages_of
from shoptrack.domain.status import Lifecycle
from shoptrack.store.diagnostics import order_state
from shoptrack.store.order_states import order_from_snapshot

__all__ = ["trace_order"]

_RECORDED = {stage: f"{stage.value}_recorded_at" for stage in Lifecycle}


def trace_order(exam: Examination, order_id: str) -> dict[str, Any]:
    """What shoptrack knows of ``order_id`` (the platform's internal id) and why."""
    with exam.read() as connection:
        state = order_state(connection, exam.integration.id, order_id)
    if state is None:
        return {
            "order_id": order_id,
            "kept": False,
            "explanation": "shoptrack has not received this order: no webhook and no sync "
            "brought it (see sync_pending, webhooks_missing, firewall_blocked), or the id is "
            "not the platform's internal order id.",
        }
    rules = exam.integration.rules
    order = order_from_snapshot(state["snapshot"])
    stages = stages_of(order, rules)
    recorded = {stage.value: iso(state[column]) for stage, column in _RECORDED.items()}
    status = order.raw_status
    if recorded[Lifecycle.PLACED.value]:
        explanation = f"Placed Order was recorded at {recorded[Lifecycle.PLACED.value]}."
    elif state["skipped"]:
        explanation = (
            f"First seen {status!r} (cancelled or declined): never placed, so nothing is "
            "recorded (status_skipped)."
        )
    elif not stages and status not in exam.connector.known_statuses and not rules.names(status):
        explanation = (
            f"Its status {status!r} is one no rule knows: add it to placed_statuses "
            "(custom_status_unmapped)."
        )
    elif not stages:
        explanation = (
            f"Its status {status!r} is not placed under the rules (placed_statuses "
            f"{rules.placed.to_setting()}); Placed Order follows once it is."
        )
    else:
        explanation = "Its status is placed now; the event is recorded with the next sighting."
    return {
        "order_id": order_id,
        "kept": True,
        "number": order.number,
        "raw_status": status,
        "stages_now": sorted(stage.value for stage in stages),
        "recorded": recorded,
        "skipped": bool(state["skipped"]),
        "created": iso(order.created_at),
        "updated_on_store": iso(order.updated_at),
        "first_seen": iso(state["first_seen_at"]),
        "last_seen": iso(state["last_seen_at"]),
        "explanation": explanation,
    }
