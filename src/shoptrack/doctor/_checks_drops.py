"""Checks of whether a metric arrives as often as it used to: Placed Order, Started Checkout and
Added to Cart, each against the same hours of the week over the previous four weeks
(``shoptrack.domain.drops``). They run last, so a drop names the integration's other findings
as its likely causes.

``no_recent_placed_orders`` is the absolute check (not one Placed Order in 30 days, history or
not); ``placed_order_drop`` the relative one (fewer than the store's own history makes
plausible), which speaks within hours of a change and also while orders still trickle in. After
a stop both report it for a while; once weeks of silence have become the history, only the
first does. A drop is a warning — a quiet week of the shop's own is possible — that the watchdog
opens an alert for all the same."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from shoptrack.doctor._checks_access import iso
from shoptrack.doctor._examination import Examination
from shoptrack.doctor._findings import Finding, Fix, Severity
from shoptrack.domain.drops import (
    MIN_EXPECTED,
    MIN_HISTORY_WEEKS,
    SIGNIFICANCE,
    judge_windows,
)
from shoptrack.domain.events import Metric
from shoptrack.store.metric_history import (
    MetricHistory,
    last_synced_until,
    metric_histories,
    oldest_pending_delivery,
)

__all__ = ["DROP_CODES", "DROP_METRICS", "SETTLE", "drop_check"]

# The metrics watched for drops, and the code of each one's finding.
DROP_METRICS = {
    Metric.PLACED_ORDER: "placed_order_drop",
    Metric.STARTED_CHECKOUT: "started_checkout_drop",
    Metric.ADDED_TO_CART: "added_to_cart_drop",
}
DROP_CODES = frozenset(DROP_METRICS.values())
# Webhooks may arrive a few minutes after the order: the newest minutes are not judged yet.
SETTLE = timedelta(minutes=10)


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _counted_until(exam: Examination) -> datetime | None:
    """The hour up to which the integration's counts are complete: now (less the settling
    minutes) on stores with webhooks, the end of the last successful sync on polled stores,
    and never past a delivery still waiting to be processed. None: nothing was synced yet."""
    return exam.shared("counted_until", lambda: _read_counted_until(exam))


def _read_counted_until(exam: Examination) -> datetime | None:
    until = exam.now - SETTLE
    with exam.read() as connection:
        if not exam.has_webhooks:
            synced = last_synced_until(connection, exam.integration.id)
            if synced is None:
                return None
            until = min(until, synced)
        pending = oldest_pending_delivery(connection, exam.integration.id)
    if pending is not None:
        until = min(until, pending)
    return _hour(until)


def _histories(exam: Examination, end: datetime) -> dict[str, MetricHistory]:
    """The watched metrics' histories up to ``end``, read together for all three checks."""

    def read() -> dict[str, MetricHistory]:
        integration = exam.integration
        with exam.read() as connection:
            return metric_histories(
                connection,
                integration.account_id,
                integration.id,
                list(DROP_METRICS),
                end,
            )

    return exam.shared("drop_histories", read)


def _likely_causes(exam: Examination) -> list[str]:
    return sorted(
        finding.code
        for finding in exam.findings.values()
        if finding.severity in (Severity.WARNING, Severity.ERROR) and finding.code not in DROP_CODES
    )


def _fix(metric: Metric, causes: list[str]) -> Fix:
    if causes:
        return Fix(
            f"Fix {', '.join(causes)}: the likely causes (see those findings). The drop ends once "
            f"{metric} arrives as usual again."
        )
    if metric is Metric.PLACED_ORDER:
        return Fix(
            "No other check fails, so shoptrack records what the store sends: check that the "
            "store takes orders (its checkout, payment provider, a recent theme or plugin change)."
        )
    return Fix(
        "No other check fails: check that shoptrack's onsite tracker is still on the store's "
        "pages, with the account's public key and the integration's id."
    )


def _check_drop(exam: Examination, metric: Metric, code: str) -> Finding:
    integration = exam.integration
    if not integration.enabled:
        return Finding(code, Severity.OK, "Not judged: the integration is disabled.", {})
    end = _counted_until(exam)
    evidence: dict[str, Any] = {"metric": str(metric), "counted_until": iso(end)}
    if end is None:
        return Finding(
            code,
            Severity.OK,
            f"Not judged: no sync has succeeded yet, so no {metric} is counted.",
            evidence,
        )
    history = _histories(exam, end)[metric]
    start = history.first_hour
    verdict = judge_windows(history.slices, end=end, history_start=start)
    evidence["history_weeks"] = verdict.history_weeks
    evidence["first_event_hour"] = iso(start)
    if verdict.history_weeks < MIN_HISTORY_WEEKS:
        weeks = verdict.history_weeks
        return Finding(
            code,
            Severity.OK,
            f"Not judged: {weeks} week{'' if weeks == 1 else 's'} of {metric} history "
            f"({MIN_HISTORY_WEEKS} needed).",
            evidence,
        )
    closest = verdict.closest
    if closest is None:
        return Finding(
            code,
            Severity.OK,
            f"Not judged: no window expects {MIN_EXPECTED:g} or more {metric} events (too few "
            "to tell a drop from chance).",
            evidence,
        )
    drop = verdict.drop
    evidence["window"] = (drop or closest).as_json()
    if drop is None:
        return Finding(
            code,
            Severity.OK,
            f"{metric} arrives as often as in the same hours of the previous weeks.",
            evidence,
        )
    causes = _likely_causes(exam)
    evidence["likely_causes"] = causes
    hours = drop.hours
    span = f"{hours // 24} days" if hours % 24 == 0 and hours > 24 else f"{hours} hours"
    see = f" Likely causes: {', '.join(causes)}." if causes else ""
    return Finding(
        code,
        Severity.WARNING,
        f"{metric} dropped: {drop.observed} in the {span} to {iso(drop.until)}, where the same "
        f"hours of the previous {drop.weeks} weeks had {drop.expected:.1f} on average (a count "
        f"this low comes by chance less than once in {round(1 / SIGNIFICANCE):,}).{see}",
        evidence,
        _fix(metric, causes),
    )


def drop_check(metric: Metric) -> Callable[[Examination], Finding]:
    """The check of ``metric``'s drops, under its code in :data:`DROP_METRICS`."""
    code = DROP_METRICS[metric]

    def check(exam: Examination) -> Finding:
        return _check_drop(exam, metric, code)

    check.__name__ = f"check_{code}"
    return check
