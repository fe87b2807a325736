"""Chart.js configurations built from measured series (the browser only draws them), and the
same figures as a table for screen readers and for anyone who wants the numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from shoptrack.domain.buckets import Buckets, Interval

__all__ = ["Chart", "bucket_labels", "chart", "range_for"]

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

# How far back each interval looks by default: a month of days, a quarter of weeks, a year.
_SPANS: dict[Interval, int] = {"hour": 48, "day": 30, "week": 13, "month": 12}


def range_for(interval: Interval, now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The last ``_SPANS[interval]`` buckets up to and including the one ``now`` is in, in
    ``zone`` (the account's time zone): days start at its midnight."""
    now = now.astimezone(zone)
    if interval == "hour":
        end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return end - timedelta(hours=_SPANS["hour"]), end
    tomorrow = datetime.combine(now.date() + timedelta(days=1), time.min, zone)
    if interval == "day":
        return tomorrow - timedelta(days=_SPANS["day"]), tomorrow
    if interval == "week":
        return tomorrow - timedelta(weeks=_SPANS["week"]), tomorrow
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for _ in range(_SPANS["month"] - 1):
        start = (start - timedelta(days=1)).replace(day=1)
    return start, tomorrow


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
) -> Chart:
    """A stacked bar (or line) chart of one measurement, one dataset per source."""
    stacked = kind == "bar"
    config = {
        "type": kind,
        "data": {
            "labels": list(labels),
            "datasets": [
                {
                    "label": label,
                    "data": [_plain(value) for value in values],
                    "backgroundColor": PALETTE[index % len(PALETTE)],
                    "borderColor": PALETTE[index % len(PALETTE)],
                    "tension": 0.2,
                }
                for index, (label, values) in enumerate(datasets)
            ],
        },
        "options": {
            "plugins": {
                "legend": {"display": len(datasets) > 1, "position": "bottom"},
                "title": {"display": bool(title), "text": title},
            },
            "scales": {
                "x": {"stacked": stacked, "ticks": {"maxRotation": 0, "autoSkipPadding": 12}},
                "y": {"stacked": stacked, "beginAtZero": True, "ticks": {"precision": 0}},
            },
        },
    }
    rows = [
        [label, *(_shown(values[index], money) for _, values in datasets)]
        for index, label in enumerate(labels)
    ]
    return Chart(config, ["", *(label for label, _ in datasets)], rows)
