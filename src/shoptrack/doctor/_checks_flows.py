"""The check of flows left behind by a platform switch, and its fix (retargeting them)."""

from __future__ import annotations

from collections import defaultdict

from shoptrack.doctor._checks_access import fix_command, iso
from shoptrack.doctor._checks_orders import RECENT_DAYS, placed_recently
from shoptrack.doctor._examination import Examination
from shoptrack.doctor._findings import Finding, Fix, Severity
from shoptrack.domain.events import Metric
from shoptrack.flows.service import retarget
from shoptrack.store.diagnostics import IdleTrigger, flows_on_idle_integrations
from shoptrack.store.metrics import ensure_metric

__all__ = ["check_platform_switched", "retarget_switched_flows"]


def _idle_triggers(exam: Examination) -> tuple[list[IdleTrigger], int]:
    """Flows on Placed Order of disabled or removed integrations, and this integration's recent
    Placed Order count."""
    integration = exam.integration
    with exam.read() as connection:
        idle = flows_on_idle_integrations(
            connection, integration.account_id, Metric.PLACED_ORDER, integration.id
        )
    return idle, placed_recently(exam)


def check_platform_switched(exam: Examination) -> Finding:
    code = "platform_switched"
    if not exam.integration.enabled:
        return Finding(code, Severity.OK, "Not checked: the integration is disabled.", {})
    idle, placed = _idle_triggers(exam)
    if not idle or not placed:
        return Finding(
            code,
            Severity.OK,
            "No flow waits on the Placed Order of a disabled or removed integration"
            + ("." if not idle else " while this one records Placed Order."),
            {"flows": len(idle), "placed_orders": placed, "days": RECENT_DAYS},
        )
    by_integration: dict[str, list[IdleTrigger]] = defaultdict(list)
    for trigger in idle:
        by_integration[trigger.integration_id].append(trigger)
    names = ", ".join(sorted({t.integration_name for t in idle}))
    return Finding(
        code,
        Severity.WARNING,
        f"{len(idle)} flow{'s' if len(idle) > 1 else ''} still wait for Placed Order of "
        f"{names}, which records nothing now, while this integration recorded {placed} in "
        f"{RECENT_DAYS} days: nobody enters them.",
        {
            "flows": [
                {
                    "id": t.flow_id,
                    "name": t.flow_name,
                    "status": t.flow_status,
                    "trigger_metric_id": t.metric_id,
                    "integration_id": t.integration_id,
                    "integration_removed_at": iso(t.integration_removed_at),
                }
                for t in idle
            ],
            "placed_orders": placed,
            "days": RECENT_DAYS,
        },
        Fix(
            "Move the flows to this integration's Placed Order.",
            fix_command(exam, code),
            applicable=True,
        ),
    )


def retarget_switched_flows(exam: Examination, finding: Finding) -> str:
    """The fix: every flow on an idle integration's Placed Order moves to this one's."""
    idle, _placed = _idle_triggers(exam)
    integration = exam.integration
    services = exam.services
    now = services.clock.now()
    moved: list[str] = []
    with services.database.write() as connection:
        target = ensure_metric(
            connection,
            integration.account_id,
            Metric.PLACED_ORDER,
            now,
            integration_id=integration.id,
        )
        for metric_id in sorted({t.metric_id for t in idle}):
            moved += retarget(connection, integration.account_id, metric_id, target, now)
    return (
        f"{len(moved)} flows now triggered by this integration's Placed Order: {', '.join(moved)}"
    )
