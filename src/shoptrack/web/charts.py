"""Chart.js configurations built from measured series (the browser only draws them), and the
same figures as a table for screen readers and for anyone who wants the numbers.

Legends are the page's own HTML under each chart (Chart.js draws a legend inside the canvas,
where a long store name is cut off on a phone); a legend entry's colour is the class
``swatch-N`` of the stylesheet, N the dataset's place in ``PALETTE``.

A busy day must not flatten the others: when a bar stands far above the usual ones, a chart
drawn with ``scale="fit"`` stops its axis at a height the usual days are readable at, and says
which bars go past it (``Chart.busy``); ``scale="full"`` draws everything to its full height.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shoptrack.domain.buckets import Buckets, Interval

__all__ = ["SCALES", "Chart", "bucket_labels", "chart"]

# Distinguishable colours, each readable on white (integrations keep their colour across charts).
PALETTE = (
    "#2563eb",
    "#16a34a",
    "#d97706",
    "#dc2626",
    "#7c3aed",
    "#0891b2",
    "#db2777",
    "#65a30d",
)

# The scale choices of a chart whose busy days could flatten the rest.
SCALES = ("fit", "full")
# A bar counts as busy when it is this many times the usual busy day (the 90th percentile of the
# buckets that had anything); a fitted axis stops at twice that usual day.
_BUSY_FACTOR = 4
_FITTED_FACTOR = 2
_FEWEST_TO_JUDGE = 5

# The previous period's line: grey, so it reads as the background of this period's colours.
_PREVIOUS_COLOUR = "#9ca3af"


def bucket_labels(buckets: Buckets, interval: Interval) -> list[str]:
    formats = {"hour": "%d %b %H:00", "day": "%d %b", "week": "%d %b", "month": "%b %Y"}
    labels = [start.strftime(formats[interval]) for start in buckets.starts]
    return [f"week of {label}" for label in labels] if interval == "week" else labels


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart's Chart.js configuration and its figures as table rows."""

    config: dict[str, Any]
    headers: list[str]
    rows: list[list[str]]
    legend: list[tuple[str, int]] = field(default_factory=list)  # label, PALETTE index
    busy: list[tuple[str, str]] = field(default_factory=list)  # bucket label, its total
    fitted: bool = False  # whether the axis stops below the busy bars
    top: str = ""  # where a fitted axis stops, as the figures are written


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least ``value``."""
    power = 10 ** math.floor(math.log10(value))
    return float(next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value))


def _usual_top(totals: Sequence[float]) -> float | None:
    """Where a fitted axis stops, if some bars stand far above the usual ones."""
    nonzero = sorted(total for total in totals if total > 0)
    if len(nonzero) < _FEWEST_TO_JUDGE:
        return None
    usual = nonzero[int(0.9 * (len(nonzero) - 1))]
    if nonzero[-1] <= _BUSY_FACTOR * usual:
        return None
    return _nice_ceiling(_FITTED_FACTOR * usual)


def _plain(value: int | Decimal) -> float | int:
    return float(value) if isinstance(value, Decimal) else value


def _shown(value: int | Decimal, money: bool) -> str:
    return f"{value:,.2f}" if money else f"{value:,}"


def chart(
    labels: Sequence[str],
    datasets: Sequence[tuple[str, Sequence[int] | Sequence[Decimal]]],
    *,
    kind: str = "bar",
    money: bool = False,
    title: str = "",
    scale: str = "full",
    previous: tuple[str, Sequence[int] | Sequence[Decimal]] | None = None,
) -> Chart:
    """A stacked bar (or line) chart of one measurement, one dataset per source; ``previous``
    adds the period before as a dashed line of its own (day 1 beside day 1)."""
    stacked = kind == "bar"
    drawn = [
        {
            "label": label,
            "data": [_plain(value) for value in values],
            "backgroundColor": PALETTE[index % len(PALETTE)],
            "borderColor": PALETTE[index % len(PALETTE)],
            "tension": 0.2,
        }
        for index, (label, values) in enumerate(datasets)
    ]
    legend = [(label, index % len(PALETTE)) for index, (label, _) in enumerate(datasets)]
    if previous is not None:
        drawn.append(
            {
                "label": previous[0],
                "data": [_plain(value) for value in previous[1]],
                "type": "line",
                "stack": "previous",  # never stacked onto this period's bars
                "borderColor": _PREVIOUS_COLOUR,
                "backgroundColor": _PREVIOUS_COLOUR,
                "borderDash": [6, 4],
                "pointRadius": 0,
                "tension": 0.2,
            }
        )
        legend.append((previous[0], -1))
    totals = [sum(float(values[index]) for _, values in datasets) for index in range(len(labels))]
    top = _usual_top(totals) if stacked else None
    if top is not None and not money:
        top = float(math.ceil(top))  # counts are whole
    busy = [
        (label, _shown(sum((values[index] for _, values in datasets), Decimal(0)), money))
        for index, label in enumerate(labels)
        if top is not None and totals[index] > top
    ]
    y_axis: dict[str, Any] = {"stacked": stacked, "beginAtZero": True, "ticks": {"precision": 0}}
    fitted = bool(busy) and scale == "fit"
    if fitted:
        y_axis["max"] = top
    config = {
        "type": kind,
        "data": {"labels": list(labels), "datasets": drawn},
        "options": {
            "plugins": {
                # The page draws the legend under the chart, where it can wrap (see above).
                "legend": {"display": False},
                "title": {"display": bool(title), "text": title},
            },
            "scales": {
                "x": {"stacked": stacked, "ticks": {"maxRotation": 0, "autoSkipPadding": 12}},
                "y": y_axis,
            },
        },
    }
    shown = [*datasets, *([previous] if previous is not None else [])]
    rows = [
        [label, *(_shown(values[index], money) for _, values in shown)]
        for index, label in enumerate(labels)
    ]
    headers = ["", *(label for label, _ in shown)]
    top_shown = "" if top is None else _shown(Decimal(str(top)) if money else int(top), money)
    return Chart(config, headers, rows, legend if len(legend) > 1 else [], busy, fitted, top_shown)
