"""Drop detection: the Poisson tail against exact sums, and the verdict of hourly histories."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoptrack.domain.drops import (
    HISTORY_WEEKS,
    SIGNIFICANCE,
    WINDOW_HOURS,
    detect_drop,
    history_range,
    poisson_lower_tail,
    slice_of,
)

END = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _exact_tail(observed: int, expected: Fraction) -> float:
    """P(X <= observed) term by term in exact fractions (e^-mu as a float at the end)."""
    total = Fraction(0)
    term = Fraction(1)
    for i in range(observed + 1):
        if i:
            term = term * expected / i
        total += term
    return float(total) * math.exp(-float(expected))


def test_the_tail_of_nothing_observed_is_e_to_the_minus_expected() -> None:
    assert poisson_lower_tail(0, 5.0) == pytest.approx(math.exp(-5.0), rel=1e-12)
    assert poisson_lower_tail(0, 24.0) == pytest.approx(math.exp(-24.0), rel=1e-12)


def test_known_values() -> None:
    # P(X <= 2 | 10) = e^-10 (1 + 10 + 50)
    assert poisson_lower_tail(2, 10.0) == pytest.approx(61 * math.exp(-10), rel=1e-12)
    assert poisson_lower_tail(-1, 3.0) == 0.0
    assert poisson_lower_tail(4, 0.0) == 1.0
    # A count at the mean is anything but improbable; far above it the tail is all of it.
    assert 0.5 < poisson_lower_tail(100, 100.0) < 0.6
    assert poisson_lower_tail(10_000, 100.0) == pytest.approx(1.0)


def test_huge_counts_neither_overflow_nor_take_long() -> None:
    # lgamma keeps e^-mu * mu^k / k! representable where each factor alone is not.
    tail = poisson_lower_tail(9_000, 10_000.0)
    assert 0 < tail < 1e-20
    assert poisson_lower_tail(1_000_000, 1_000_000.0) == pytest.approx(0.5, abs=0.01)


@settings(max_examples=200, deadline=None)
@given(
    observed=st.integers(min_value=0, max_value=120),
    expected=st.fractions(min_value=Fraction(1, 100), max_value=80, max_denominator=100),
)
def test_the_tail_equals_the_exact_sum(observed: int, expected: Fraction) -> None:
    assert poisson_lower_tail(observed, float(expected)) == pytest.approx(
        _exact_tail(observed, expected), rel=1e-9, abs=1e-300
    )


def _history(per_hour: int, since: datetime, until: datetime) -> dict[datetime, int]:
    hours = {}
    hour = since
    while hour < until:
        hours[hour] = per_hour
        hour += HOUR
    return hours


def test_a_store_that_stopped_two_days_ago_is_a_drop_in_its_48_hour_window() -> None:
    start = END - timedelta(days=30)
    hourly = _history(1, start, END - timedelta(days=2))
    verdict = detect_drop(hourly, end=END, history_start=start)
    drop = verdict.drop
    assert drop is not None
    assert drop.observed == 0
    # The 48-hour window expects 48; longer ones expect more and saw some.
    assert drop.hours == 48
    assert drop.expected == 48.0
    assert drop.weeks == 4
    assert drop.probability == pytest.approx(math.exp(-48), rel=1e-9)
    assert drop.since == END - timedelta(hours=48)
    assert verdict.history_weeks == 4


def test_a_steady_store_is_no_drop() -> None:
    start = END - timedelta(days=40)
    verdict = detect_drop(_history(6, start, END), end=END, history_start=start)
    assert verdict.drop is None
    assert len(verdict.judged) == len(WINDOW_HOURS)
    closest = verdict.closest
    assert closest is not None
    assert closest.probability > SIGNIFICANCE


def test_the_same_hours_of_the_week_are_compared() -> None:
    """A store busy only on weekday mornings is quiet every night: no drop at night."""
    start = END - timedelta(days=35)
    hourly = {}
    hour = start
    while hour < END:
        if hour.weekday() < 5 and 8 <= hour.hour < 12:
            hourly[hour] = 10
        hour += HOUR
    night = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # a Friday, 03:00
    assert detect_drop(hourly, end=night, history_start=start).drop is None
    # That Friday's morning (08:00-12:00) without orders is one.
    silent_morning = {h: c for h, c in hourly.items() if h < datetime(2026, 11, 27, tzinfo=UTC)}
    drop = detect_drop(silent_morning, end=END, history_start=start).drop
    assert drop is not None
    assert drop.observed == 0


def test_fewer_than_two_weeks_of_history_give_no_verdict() -> None:
    start = END - timedelta(days=13)
    hourly = _history(5, start, END - timedelta(days=2))
    verdict = detect_drop(hourly, end=END, history_start=start)
    assert verdict.history_weeks == 1
    assert verdict.judged == ()
    assert verdict.drop is None
    # No event at all: nothing to judge.
    empty = detect_drop({}, end=END, history_start=None)
    assert empty.windows == ()
    assert empty.drop is None


def test_two_weeks_judge_the_short_windows_only() -> None:
    start = END - timedelta(days=15)
    hourly = _history(2, start, END - timedelta(hours=12))
    verdict = detect_drop(hourly, end=END, history_start=start)
    assert verdict.history_weeks == 2
    # A 7-day window would need its two earlier weeks to start 21 days back; an hour or two
    # expect fewer than 5.
    assert {w.hours for w in verdict.judged} == {3, 6, 12, 24}
    drop = verdict.drop
    assert drop is not None
    assert drop.weeks == 2
    assert drop.observed == 0


def test_fewer_than_five_expected_is_not_judged() -> None:
    """One order a day: a day expects 1, and even six days without one prove nothing."""
    start = END - timedelta(days=30)
    hourly = {}
    day = start
    while day < END - timedelta(days=4):
        hourly[day] = 1
        day += timedelta(days=1)
    verdict = detect_drop(hourly, end=END, history_start=start)
    assert verdict.drop is None
    assert all(window.expected >= 5 for window in verdict.judged)
    assert {w.hours for w in verdict.judged} <= {120, 144, 168}


def test_a_partial_drop_is_found_and_noise_is_not() -> None:
    start = END - timedelta(days=35)
    hourly = _history(10, start, END - timedelta(hours=24))
    hourly |= _history(5, END - timedelta(hours=24), END)  # half the usual
    drop = detect_drop(hourly, end=END, history_start=start).drop
    assert drop is not None
    assert drop.observed < drop.expected
    hourly |= _history(9, END - timedelta(hours=24), END)  # a little under
    assert detect_drop(hourly, end=END, history_start=start).drop is None


def test_windows_end_on_the_hour() -> None:
    with pytest.raises(ValueError, match="start of an hour"):
        detect_drop({}, end=END + timedelta(minutes=5), history_start=END)
    since, until = history_range(END)
    assert until == END
    assert since == END - timedelta(days=35)


def test_an_hour_falls_in_the_slice_of_the_shortest_window_that_holds_it() -> None:
    assert slice_of(1) == (0, 0)  # the last hour: every window of this week has it
    assert slice_of(2) == (0, 1)
    assert slice_of(4) == (0, 3)  # in the 6-hour window, not the 3-hour one
    assert slice_of(168) == (0, len(WINDOW_HOURS) - 1)
    assert slice_of(169) == (1, 0)  # the same hour a week before
    since, end = history_range(END)
    assert slice_of((end - since) // timedelta(hours=1)) == (HISTORY_WEEKS, len(WINDOW_HOURS) - 1)
