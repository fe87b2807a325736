"""Checks of what orders became: syncs failing or about to run, statuses no rule knows, orders
skipped, and whether Placed Order and the onsite metrics arrive at all."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from shoptrack.connectors.base import Window
from shoptrack.connectors.errors import StoreError
from shoptrack.doctor._checks_access import fix_command, iso
from shoptrack.doctor._examination import Examination
from shoptrack.doctor._findings import Finding, Fix, Severity
from shoptrack.domain.events import Metric
from shoptrack.domain.lifecycle import stages_of
from shoptrack.domain.order import Order
from shoptrack.pipeline.sync import DEFAULT_BACKFILL_DAYS, sync_interval
from shoptrack.store.diagnostics import (
    event_counts,
    known_order_updates,
    newest_order,
    orders_created_since,
    skipped_orders,
    status_groups,
    status_names,
)
from shoptrack.store.order_states import order_from_snapshot
from shoptrack.store.sync_runs import list_runs

__all__ = [
    "ONSITE_METRICS",
    "RECENT_DAYS",
    "check_custom_status_unmapped",
    "check_no_recent_placed_orders",
    "check_other_metrics_missing",
    "check_status_skipped",
    "check_sync_failing",
    "check_sync_pending",
    "placed_recently",
    "unmapped_statuses",
]

# How far back "recent" reaches for Placed Order and the onsite metrics.
RECENT_DAYS = 30
ONSITE_METRICS = (Metric.STARTED_CHECKOUT, Metric.ADDED_TO_CART, Metric.VIEWED_PRODUCT)
# How many recent runs the sync check reads.
_RUNS_READ = 10


def check_sync_failing(exam: Examination) -> Finding:
    code = "sync_failing"
    integration = exam.integration
    with exam.read() as connection:
        runs = [
            run
            for run in list_runs(connection, integration.account_id, integration.id, _RUNS_READ)
            if run.state != "running"
        ]
    if not runs or runs[0].state != "failed":
        return Finding(
            code,
            Severity.OK,
            "The last sync succeeded." if runs else "No sync has finished yet.",
            {
                "last_run_id": runs[0].id if runs else None,
                "last_run_finished": iso(runs[0].finished_at) if runs else None,
            },
        )
    streak = []
    for run in runs:
        if run.state != "failed":
            break
        streak.append(run)
    last = streak[0]
    config = last.error_kind == "config"
    severity = Severity.ERROR if config or len(streak) >= 3 else Severity.WARNING
    evidence = {
        "failed_runs": len(streak),
        "failing_since": iso(streak[-1].started_at),
        "run_ids": [run.id for run in streak],
        "error": {
            "code": last.error_code,
            "kind": last.error_kind,
            "detail": last.error_detail,
            "store_answer": last.error_answer,
        },
        "last_success": next((iso(run.finished_at) for run in runs if run.state != "failed"), None),
    }
    if config:
        fix = Fix(
            f"Fix {last.error_code} first (see that finding: only the merchant can), then sync "
            "again.",
            f"shoptrack sync {integration.id}",
        )
    else:
        fix = Fix("Sync again now.", fix_command(exam, code), applicable=True)
    return Finding(
        code,
        severity,
        f"The last {len(streak)} sync{'s' if len(streak) > 1 else ''} failed: "
        f"{last.error_code} ({last.error_kind}): {last.error_detail}.",
        evidence,
        fix,
    )


def _up_to_now(exam: Examination, since: datetime) -> Window:
    """From ``since`` to the end of the current second: stores compare updated times
    exclusively and to the second, and an order changed this second counts."""
    return Window(since, exam.now.replace(microsecond=0) + timedelta(seconds=1))


def _pending_orders(exam: Examination, since: datetime) -> tuple[list[Order], int | None]:
    """The first page of orders the store changed since ``since`` that shoptrack does not have
    in that version, and the store's count of all changed ones."""
    with exam.client() as client:
        page = next(iter(exam.connector.order_pages(client, _up_to_now(exam, since))), None)
    if page is None:
        return [], 0
    orders = []
    for raw in page.records:
        try:
            orders.append(exam.connector.to_order(raw))
        except ValueError:
            continue  # an order processing cannot read either: deliveries_dead_lettered shows it
    with exam.read() as connection:
        known = known_order_updates(
            connection, exam.integration.id, (o.platform_order_id for o in orders)
        )
    pending = [
        order
        for order in orders
        if order.platform_order_id not in known or known[order.platform_order_id] < order.updated_at
    ]
    return pending, page.total


def check_sync_pending(exam: Examination) -> Finding:
    code = "sync_pending"
    row = exam.row
    if not exam.integration.enabled:
        return Finding(code, Severity.OK, "Not checked: the integration is disabled.", {})
    if not exam.store_check.ok:
        return Finding.not_checked(code, "the store cannot be asked now (see the checks above)")
    cursor = (row.sync_cursor or {}).get("updated_at")
    days = int(exam.integration.settings.get("backfill_days") or DEFAULT_BACKFILL_DAYS)
    since = datetime.fromisoformat(cursor) if cursor else exam.now - timedelta(days=days)
    try:
        pending, total = _pending_orders(exam, since)
    except StoreError as error:
        return Finding.not_checked(code, f"the store's orders could not be listed ({error.detail})")
    next_sync = row.next_sync_at
    evidence: dict[str, Any] = {
        "last_synced_to": cursor,
        "next_sync_at": iso(next_sync),
        "interval_minutes": int(sync_interval(exam.integration).total_seconds() // 60),
        "changed_orders": total,
        "not_yet_seen": len(pending),
    }
    if not pending:
        return Finding(
            code,
            Severity.OK,
            "shoptrack has every order the store changed since its last sync.",
            evidence,
        )
    newest = max(pending, key=lambda order: order.updated_at)
    evidence["newest"] = {
        "order_id": newest.platform_order_id,
        "number": newest.number,
        "raw_status": newest.raw_status,
        "updated": iso(newest.updated_at),
    }
    when = (
        "no sync is scheduled"
        if next_sync is None
        else "the next sync is due now"
        if next_sync <= exam.now
        else f"the next sync runs at {iso(next_sync)} "
        f"(in {math.ceil((next_sync - exam.now).total_seconds() / 60)} min)"
    )
    first = "" if cursor else " (the first import has not run yet)"
    return Finding(
        code,
        Severity.INFO,
        f"{len(pending)} order{'s' if len(pending) > 1 else ''} changed on the store since the "
        f"last sync{first}; {when}. Not a fault.",
        evidence,
        Fix("Sync now instead of waiting.", fix_command(exam, code), applicable=True),
    )


def unmapped_statuses(exam: Examination) -> dict[str, dict[str, Any]]:
    """The raw statuses of kept orders that neither the platform's catalogue nor any rule
    knows and that record nothing, with their counts and newest example."""
    rules = exam.integration.rules
    known = exam.connector.known_statuses
    found: dict[str, dict[str, Any]] = {}
    with exam.read() as connection:
        # Counted only for the statuses nothing knows: usually none, whatever the orders.
        statuses = status_names(connection, exam.integration.id)
        unknown = [s for s in statuses if s not in known and not rules.names(s)]
        for group in status_groups(connection, exam.integration.id, unknown) if unknown else []:
            status = group.raw_status
            example = newest_order(
                connection, exam.integration.id, raw_status=status, skipped=False
            )
            if example is None:
                continue
            # The whole order decides (Magento 2's custom statuses fall back on their state).
            if stages_of(order_from_snapshot(example.snapshot), rules):
                continue
            found[status] = {
                "orders": group.orders,
                "never_placed": group.never_placed,
                "newest_example": {
                    "order_id": example.platform_order_id,
                    "created": iso(example.order_created_at),
                    "first_seen": iso(example.first_seen_at),
                },
            }
    return found


def check_custom_status_unmapped(exam: Examination) -> Finding:
    code = "custom_status_unmapped"
    found = unmapped_statuses(exam)
    placed_rule = exam.integration.rules.placed
    if not found:
        return Finding(code, Severity.OK, "Every kept order's status is one the rules know.", {})
    orders = sum(item["orders"] for item in found.values())
    never_placed = sum(item["never_placed"] for item in found.values())
    newest = max(
        ({"raw_status": s, **item["newest_example"]} for s, item in found.items()),
        key=lambda example: example["created"] or "",
    )
    names = ", ".join(repr(status) for status in found)
    return Finding(
        code,
        Severity.WARNING if never_placed else Severity.INFO,
        f"{orders} order{'s' if orders > 1 else ''} sit in statuses no rule knows ({names}); "
        f"{never_placed} of them recorded no Placed Order.",
        {
            "orders": orders,
            "never_placed": never_placed,
            "statuses": found,
            "newest_example": newest,
            "placed_statuses": placed_rule.to_setting(),
        },
        Fix(
            f"Add {names} to placed_statuses; the kept orders are evaluated again and their "
            "missing events recorded, as backfill.",
            fix_command(exam, code),
            applicable=not placed_rule.exclude,
        ),
    )


def check_status_skipped(exam: Examination) -> Finding:
    code = "status_skipped"
    with exam.read() as connection:
        statuses = skipped_orders(connection, exam.integration.id)
        example = newest_order(connection, exam.integration.id, skipped=True) if statuses else None
    if example is None:
        return Finding(code, Severity.OK, "No order was first seen cancelled or declined.", {})
    count = sum(statuses.values())
    return Finding(
        code,
        Severity.INFO,
        f"{count} order{'s' if count > 1 else ''} were first seen cancelled or declined and "
        "recorded no events, by design: they were never placed.",
        {
            "orders": count,
            "statuses": statuses,
            "newest_example": {
                "order_id": example.platform_order_id,
                "raw_status": example.raw_status,
                "created": iso(example.order_created_at),
            },
        },
        Fix(
            "Nothing to do, unless such orders should count as placed: then change "
            "cancelled_statuses."
        ),
    )


def _recent_counts(exam: Examination, names: tuple[str, ...]) -> dict[str, int]:
    since = exam.now - timedelta(days=RECENT_DAYS)
    integration = exam.integration
    with exam.read() as connection:
        return event_counts(
            connection,
            integration.account_id,
            names,
            since,
            integration_id=integration.id,
            with_api=True,
        )


def placed_recently(exam: Examination) -> int:
    """The integration's Placed Order events in the last ``RECENT_DAYS`` days."""

    def read() -> int:
        since = exam.now - timedelta(days=RECENT_DAYS)
        with exam.read() as connection:
            return event_counts(
                connection,
                exam.integration.account_id,
                [Metric.PLACED_ORDER],
                since,
                integration_id=exam.integration.id,
            )[Metric.PLACED_ORDER]

    return exam.shared("placed_recently", read)


def check_other_metrics_missing(exam: Examination) -> Finding:
    code = "other_metrics_missing"
    counts = _recent_counts(exam, tuple(ONSITE_METRICS))
    placed = placed_recently(exam)
    evidence = {"days": RECENT_DAYS, "events": counts, "placed_orders": placed}
    if any(counts.values()):
        return Finding(
            code, Severity.OK, "Onsite events (checkouts, carts, product views) arrive.", evidence
        )
    return Finding(
        code,
        Severity.INFO if placed else Severity.WARNING,
        f"No Started Checkout, Added to Cart or Viewed Product in {RECENT_DAYS} days: the "
        "onsite tracker is missing or not set up"
        + (" (Placed Order arrives, so the order rule is fine)." if placed else "."),
        evidence,
        Fix(
            "Install shoptrack's onsite tracker on the store with the account's public key, "
            "or send these events to /client/events; the order status rules play no part."
        ),
    )


def check_no_recent_placed_orders(exam: Examination) -> Finding:
    """Runs last: when orders exist but none was placed, it points to the failing checks."""
    code = "no_recent_placed_orders"
    placed = placed_recently(exam)
    since = exam.now - timedelta(days=RECENT_DAYS)
    evidence: dict[str, Any] = {"days": RECENT_DAYS, "placed_orders": placed}
    if placed:
        return Finding(
            code, Severity.OK, f"{placed} Placed Order events in {RECENT_DAYS} days.", evidence
        )
    with exam.read() as connection:
        kept = orders_created_since(connection, exam.integration.id, since)
    evidence["orders_received"] = kept
    causes = sorted(
        finding.code
        for finding in exam.findings.values()
        if finding.severity in (Severity.WARNING, Severity.ERROR)
    )
    evidence["see"] = causes
    if not kept and not exam.live:
        return Finding(
            code,
            Severity.INFO,
            f"No Placed Order in {RECENT_DAYS} days, and no order arrived in that time; the "
            "store was not asked whether it has any (the full doctor asks it).",
            evidence,
        )
    store_total: int | None = None
    if not kept and exam.store_check.ok:
        try:
            with exam.client() as client:
                page = next(iter(exam.connector.order_pages(client, _up_to_now(exam, since))))
            store_total = page.total if page.total is not None else len(page.records)
        except (StoreError, StopIteration):
            store_total = None
        evidence["store_orders_changed"] = store_total
    see = f" See {', '.join(causes)}." if causes else ""
    if kept or store_total:
        count = kept or store_total
        return Finding(
            code,
            Severity.ERROR,
            f"No Placed Order in {RECENT_DAYS} days while the store has {count} orders in that "
            f"time: something stops them.{see}",
            evidence,
            Fix("Fix the findings it points to; this one goes away with them."),
        )
    if store_total == 0:
        return Finding(
            code,
            Severity.INFO,
            f"No Placed Order in {RECENT_DAYS} days, and the store has no orders in that time: "
            "a new (or quiet) store. Nothing is missing.",
            evidence,
        )
    return Finding(
        code,
        Severity.WARNING,
        f"No Placed Order in {RECENT_DAYS} days, and the store cannot be asked whether it has "
        f"orders.{see}",
        evidence,
        Fix("Fix the findings it points to, then run the doctor again."),
    )
