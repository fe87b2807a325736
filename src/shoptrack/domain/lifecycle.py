"""The order lifecycle: a stored state plus a new sighting gives the events to record, once each.

Rules (DESIGN.md, "Order lifecycle"):

- Sightings are ordered by the platform's own updated time: an older one never undoes a newer.
- Placed Order is recorded the first time the order is seen placed, or fulfilled or refunded
  (which imply it was placed). An order first seen cancelled records nothing and is marked
  ``skipped`` so the doctor can report it.
- Fulfilled, Cancelled and Refunded Order are each recorded once, and only for a placed order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from shoptrack.domain.order import Order
from shoptrack.domain.status import Lifecycle, StatusRules

__all__ = ["OrderState", "Transition", "stages_of", "transition"]

_IMPLY_PLACED = frozenset({Lifecycle.FULFILLED, Lifecycle.REFUNDED})


@dataclass(frozen=True, slots=True)
class OrderState:
    """The last-known state of one order of one integration: the anchor of exactly-once."""

    platform_order_id: str
    raw_status: str
    platform_updated_at: datetime
    recorded: frozenset[Lifecycle] = frozenset()
    skipped: bool = False


@dataclass(frozen=True, slots=True)
class Transition:
    """What one sighting does: the new state and the stages to record now, in lifecycle order."""

    state: OrderState
    record: tuple[Lifecycle, ...]
    stale: bool = False


def stages_of(order: Order, rules: StatusRules) -> frozenset[Lifecycle]:
    """The lifecycle stages an order is in, by its status and the platform's own markers."""
    stages = set(rules.stages(order.raw_status, order.status_fallback))
    if order.fulfilled_at is not None:
        stages.add(Lifecycle.FULFILLED)
    if order.cancelled_at is not None:
        stages.add(Lifecycle.CANCELLED)
    if stages & _IMPLY_PLACED:
        stages.add(Lifecycle.PLACED)
    elif Lifecycle.CANCELLED in stages:
        # "All but pending" rules (BigCommerce, Magento 2, Shopify) would otherwise place a
        # cancelled or declined order; an order first seen so records nothing.
        stages.discard(Lifecycle.PLACED)
    return frozenset(stages)


def transition(previous: OrderState | None, order: Order, rules: StatusRules) -> Transition:
    """Applies one sighting of ``order`` to its stored state.

    A sighting older than the stored state changes nothing (``stale``). A sighting as new as the
    stored one is applied again, which is how a rule change re-evaluates kept orders.
    """
    if previous is not None and order.updated_at < previous.platform_updated_at:
        return Transition(previous, (), stale=True)
    already = previous.recorded if previous is not None else frozenset()
    stages = stages_of(order, rules)
    placed = Lifecycle.PLACED in stages or Lifecycle.PLACED in already
    record = tuple(s for s in Lifecycle if s in stages and s not in already) if placed else ()
    skipped = (
        previous.skipped
        if previous is not None
        else Lifecycle.CANCELLED in stages and Lifecycle.PLACED not in stages
    )
    base = previous or OrderState(order.platform_order_id, order.raw_status, order.updated_at)
    state = replace(
        base,
        raw_status=order.raw_status,
        platform_updated_at=order.updated_at,
        recorded=already | frozenset(record),
        skipped=skipped,
    )
    return Transition(state, record)
