"""Drop detection: whether a metric's recent count is implausibly low against its own history.

For each trailing window ending at ``end`` (from 1 hour to 7 days, ``WINDOW_HOURS``), the
*expected* count is the mean count of the same hours of the week over the previous 4 weeks —
the window moved back by exactly 7, 14, 21 and 28 days (in UTC) — using only the weeks that lie
wholly after the metric's first event. A window is judged when at least 2 such weeks exist and
at least 5 events were expected; it is a *drop* when the probability of counting as few as were
observed, if events kept arriving at the expected rate (a Poisson process), is below 0.001.

Counting the same hours of the week makes a quiet Sunday night no drop and a busy Monday
morning's silence one. Several windows catch both a busy store stopping for an hour and a slow
one stopping for days; the most improbable drop among them is the one reported.

Everything here is arithmetic on the counts it is given: hourly counts (:func:`detect_drop`), or
the store's counts of each week's slices (:func:`slice_of`, :func:`judge_windows`), a few dozen
numbers whatever the history's size.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "HISTORY_WEEKS",
    "HOURS_IN_WEEK",
    "MIN_EXPECTED",
    "MIN_HISTORY_WEEKS",
    "SIGNIFICANCE",
    "WINDOW_HOURS",
    "DropVerdict",
    "Slice",
    "WindowCount",
    "detect_drop",
    "history_range",
    "judge_windows",
    "poisson_lower_tail",
    "slice_of",
]

# The trailing windows judged, in hours: short ones catch a busy store that stops, day multiples
# a slow one (and are blind to the time of day).
WINDOW_HOURS = (1, 2, 3, 6, 12, 24, 48, 72, 96, 120, 144, 168)
HISTORY_WEEKS = 4  # how many previous weeks make the expected count
MIN_HISTORY_WEEKS = 2  # fewer weeks than this give no verdict
MIN_EXPECTED = 5.0  # a window expecting fewer events than this is too small to judge
SIGNIFICANCE = 0.001  # a count this improbable is a drop

_HOUR = timedelta(hours=1)
_WEEK = timedelta(days=7)
# Terms of the tail sum smaller than this share of the sum change nothing a float can hold.
_NEGLIGIBLE = 1e-17


def poisson_lower_tail(observed: int, expected: float) -> float:
    """P(X <= observed) for X ~ Poisson(expected): how likely a count as low as ``observed``
    is when ``expected`` events are due.

    The terms are summed outwards from the largest one kept (at ``min(observed, expected)``),
    each from its neighbour by one multiplication, and scaled by that term computed in
    logarithms: exact to float precision, no overflow at any size, and only as many terms as
    contribute.
    """
    if observed < 0:
        return 0.0
    if expected <= 0:
        return 1.0
    peak = min(observed, math.floor(expected))
    log_peak = -expected + peak * math.log(expected) - math.lgamma(peak + 1)
    total = 1.0
    term = 1.0
    for i in range(peak, 0, -1):  # downwards: each term is the next one times i / expected
        term *= i / expected
        total += term
        if term < _NEGLIGIBLE * total:
            break
    term = 1.0
    for i in range(peak + 1, observed + 1):  # upwards, past the mode they only shrink
        term *= expected / i
        total += term
        if i > expected and term < _NEGLIGIBLE * total:
            break
    return min(1.0, math.exp(log_peak) * total)


@dataclass(frozen=True, slots=True)
class WindowCount:
    """One trailing window: what it counted, what the same hours of previous weeks had on
    average, and how improbable the difference is."""

    hours: int
    since: datetime
    until: datetime
    observed: int
    expected: float
    weeks: int  # the previous weeks whose mean is ``expected``
    probability: float  # P(count <= observed) at the expected rate

    @property
    def judged(self) -> bool:
        return self.weeks >= MIN_HISTORY_WEEKS and self.expected >= MIN_EXPECTED

    @property
    def is_drop(self) -> bool:
        return self.judged and self.probability < SIGNIFICANCE

    def as_json(self) -> dict[str, object]:
        return {
            "hours": self.hours,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "observed": self.observed,
            "expected": round(self.expected, 2),
            "weeks": self.weeks,
            "probability": float(f"{self.probability:.3g}"),
        }


@dataclass(frozen=True, slots=True)
class DropVerdict:
    """Every window ending at ``end``, and the drop among them if any."""

    end: datetime
    history_weeks: int  # whole weeks of history before ``end`` (at most HISTORY_WEEKS)
    windows: tuple[WindowCount, ...]

    @property
    def judged(self) -> tuple[WindowCount, ...]:
        """The windows with enough history and enough expected events to be judged."""
        return tuple(window for window in self.windows if window.judged)

    @property
    def drop(self) -> WindowCount | None:
        """The most improbable window that is a drop (the shortest of equals), or None."""
        drops = [window for window in self.windows if window.is_drop]
        return min(drops, key=lambda w: (w.probability, w.hours)) if drops else None

    @property
    def closest(self) -> WindowCount | None:
        """The most improbable judged window, drop or not: how near the metric is to one."""
        judged = self.judged
        return min(judged, key=lambda w: (w.probability, w.hours)) if judged else None


def history_range(end: datetime) -> tuple[datetime, datetime]:
    """The hours ``detect_drop`` reads for windows ending at ``end``: [since, end)."""
    return end - timedelta(hours=max(WINDOW_HOURS)) - HISTORY_WEEKS * _WEEK, end


# Where an hour falls: (week, slice). Week 0 is the week before ``end``, 1 the one before it…;
# slice i of a week holds the hours that window i covers and window i - 1 does not, so window i
# of a week counts its slices 0 to i.
Slice = tuple[int, int]
HOURS_IN_WEEK = 168


def slice_of(hours_before: int) -> Slice:
    """The slice of the hour starting ``hours_before`` hours before ``end`` (1: the last hour),
    within :func:`history_range`."""
    week, hour = divmod(hours_before - 1, HOURS_IN_WEEK)
    return week, bisect.bisect_left(WINDOW_HOURS, hour + 1)


def detect_drop(
    hourly: Mapping[datetime, int], *, end: datetime, history_start: datetime | None
) -> DropVerdict:
    """Judges the windows ending at ``end`` (the start of an hour) against the hourly counts.

    ``hourly`` maps the start of each UTC hour to its count (hours without events may be left
    out), over at least :func:`history_range`; ``history_start`` is the hour of the metric's
    first event (None: it has none), before which a week is no history but a store not yet
    connected or not yet open.
    """
    since, _ = history_range(end)
    slices: dict[Slice, int] = {}
    for hour, count in hourly.items():
        if since <= hour < end:
            key = slice_of((end - hour) // _HOUR)
            slices[key] = slices.get(key, 0) + count
    return judge_windows(slices, end=end, history_start=history_start)


def judge_windows(
    slices: Mapping[Slice, int], *, end: datetime, history_start: datetime | None
) -> DropVerdict:
    """Judges the windows ending at ``end`` (the start of an hour) from the count of each slice
    (:func:`slice_of`; slices without events may be left out); ``history_start`` as in
    :func:`detect_drop`."""
    if end != end.replace(minute=0, second=0, microsecond=0):
        raise ValueError("windows end at the start of an hour")
    if history_start is None:
        return DropVerdict(end, 0, ())
    span = end - history_start
    history_weeks = max(0, min(HISTORY_WEEKS, span // _WEEK))
    # counted[week][i]: window i of that week, its slices 0 to i added up.
    counted = [
        list(itertools.accumulate(slices.get((week, i), 0) for i in range(len(WINDOW_HOURS))))
        for week in range(HISTORY_WEEKS + 1)
    ]
    windows = []
    for index, hours in enumerate(WINDOW_HOURS):
        length = timedelta(hours=hours)
        weeks = max(0, min(HISTORY_WEEKS, (span - length) // _WEEK))
        past = [counted[week][index] for week in range(1, weeks + 1)]
        observed = counted[0][index]
        expected = sum(past) / weeks if weeks else 0.0
        windows.append(
            WindowCount(
                hours=hours,
                since=end - length,
                until=end,
                observed=observed,
                expected=expected,
                weeks=weeks,
                probability=poisson_lower_tail(observed, expected),
            )
        )
    return DropVerdict(end, history_weeks, tuple(windows))
