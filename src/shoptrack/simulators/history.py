"""A simulated store's past as a real one has it: orders in a weekly rhythm (busier at weekends
and in the evening), from many customers, some of whom come back — a few days later, or weeks.

``past_orders`` plans it, reproducibly for a given random generator; ``StoreLife.seed_history``
places the plan in a simulator. The demo's stores are seeded with 90 days of it, so that Home
compares a period with the one before, Profiles has returning customers with lifetime values,
and the watchdog has weeks of history to expect each hour of the week from.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["FIRST_NAMES", "LAST_NAMES", "PastOrder", "past_orders"]

# Orders on each day of the week (Monday first) and in each hour of the day, relative weights.
WEEKDAY_WEIGHTS = (0.9, 0.8, 0.85, 0.95, 1.1, 1.45, 1.3)
HOUR_WEIGHTS = (
    0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.4, 0.7, 0.9, 1.0, 1.0, 1.1,
    1.2, 1.1, 1.0, 1.0, 1.1, 1.3, 1.6, 1.9, 2.0, 1.7, 1.1, 0.5,
)  # fmt: skip
# Of all orders, how many come from a customer who ordered before; of those, how many come back
# within a few days (a flow email's attribution window) rather than weeks later.
RETURNING_SHARE = 0.3
SOON_SHARE = 0.4
SOON = timedelta(days=4)

# The customers' names the history draws from (the read-side benchmark's shop uses them too).
FIRST_NAMES = (
    "ada", "alan", "amara", "ben", "chen", "dana", "elif", "emma", "farah", "grace", "hugo",
    "ines", "ivan", "jonas", "kofi", "lena", "liam", "mei", "nadia", "noah", "olga", "omar",
    "priya", "rosa", "sami", "tariq", "una", "vera", "yusuf", "zoe",
)  # fmt: skip
LAST_NAMES = (
    "abbott", "baker", "costa", "dubois", "eriksen", "fischer", "garcia", "hansen", "ito",
    "jensen", "kowalski", "lopez", "moreau", "nakamura", "okafor", "novak", "rossi", "silva",
    "tanaka", "weber",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PastOrder:
    """One order of a store's past: when it was placed, by whom, and its place in the store's
    mix of statuses (an index into ``StoreLife.history``)."""

    created: datetime
    email: str
    mix: int


def past_orders(now: datetime, *, days: int, per_day: float, rng: random.Random) -> list[PastOrder]:
    """About ``per_day`` orders a day over the ``days`` before ``now`` (in the weekly and daily
    rhythm), oldest first, none in the last hour."""
    start = (now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    mean_weight = sum(WEEKDAY_WEIGHTS) / 7 * sum(HOUR_WEIGHTS) / 24
    times: list[datetime] = []
    hour = start
    while hour < now - timedelta(hours=1):
        weight = WEEKDAY_WEIGHTS[hour.weekday()] * HOUR_WEIGHTS[hour.hour] / mean_weight
        expected = per_day / 24 * weight
        # Poisson-like: each of a few chances in the hour takes an order.
        chances = 6
        for _ in range(chances):
            if rng.random() < expected / chances:
                times.append(hour + timedelta(seconds=rng.randrange(3600)))
        hour += timedelta(hours=1)
    times.sort()
    return _customers(times, rng)


def _customers(times: list[datetime], rng: random.Random) -> list[PastOrder]:
    """Who placed each order: mostly new customers, some returning — soon after their last
    order (within ``SOON``) or whenever."""
    orders: list[PastOrder] = []
    last_order: dict[str, datetime] = {}
    for index, created in enumerate(times):
        email = None
        if last_order and rng.random() < RETURNING_SHARE:
            soon = [
                known for known, at in last_order.items() if timedelta(0) < created - at <= SOON
            ]
            if soon and rng.random() < SOON_SHARE:
                email = rng.choice(sorted(soon))
            else:
                email = rng.choice(sorted(last_order))
        if email is None:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email = f"{first}.{last}.{index}@example.com"
        last_order[email] = created
        orders.append(PastOrder(created, email, rng.randrange(1_000_000)))
    return orders
