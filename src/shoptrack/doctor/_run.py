"""The table of checks, and running them: for one integration, for the whole account, and to
apply a fix then look again."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace

from sqlalchemy import Connection

from shoptrack.doctor._checks_access import (
    check_credentials_rejected,
    check_credentials_whitespace,
    check_firewall_blocked,
    check_integration_disabled,
    check_scope_missing,
    check_settings_incomplete,
)
from shoptrack.doctor._checks_account import (
    check_account_integrations,
    check_plugin_outdated,
    missing_integration,
)
from shoptrack.doctor._checks_deliveries import (
    check_deliveries_dead_lettered,
    check_deliveries_spooled,
    check_deliveries_waiting,
    check_webhook_clock_skew,
    check_webhook_signature_rejected,
    check_webhooks_disabled_on_store,
    check_webhooks_missing,
)
from shoptrack.doctor._checks_drops import DROP_METRICS, drop_check
from shoptrack.doctor._checks_flows import check_platform_switched
from shoptrack.doctor._checks_orders import (
    check_custom_status_unmapped,
    check_no_recent_placed_orders,
    check_other_metrics_missing,
    check_status_skipped,
    check_sync_failing,
    check_sync_pending,
)
from shoptrack.doctor._checks_shopify import (
    check_customer_data_redacted,
    check_customer_data_requested,
)
from shoptrack.doctor._examination import ClientFactory, Examination
from shoptrack.doctor._findings import Finding, Report, Severity
from shoptrack.doctor._fixes import FIXES
from shoptrack.doctor._order_trace import trace_order
from shoptrack.domain.events import Metric
from shoptrack.errors import ConflictError, InputError, NotFoundError
from shoptrack.services import Services
from shoptrack.store.integrations import Integration, find_integration, list_integrations

__all__ = [
    "CHECKS",
    "FINDING_CODES",
    "Check",
    "FixNotApplicableError",
    "FixResult",
    "apply_fix",
    "diagnose_account",
    "diagnose_integration",
    "examine_account",
    "examine_integration",
]

_ORDER_METRICS = frozenset(
    {
        Metric.PLACED_ORDER,
        Metric.ORDERED_PRODUCT,
        Metric.FULFILLED_ORDER,
        Metric.CANCELLED_ORDER,
        Metric.REFUNDED_ORDER,
    }
)
_ONSITE_METRICS = frozenset({Metric.STARTED_CHECKOUT, Metric.ADDED_TO_CART, Metric.VIEWED_PRODUCT})


@dataclass(frozen=True, slots=True)
class Check:
    """One check of an integration: its stable code, the function that runs it, the
    metrics whose absence it can explain (None: any of the integration's), and whether it
    asks the store (``live``: left out when the doctor runs without asking stores)."""

    code: str
    run: Callable[[Examination], Finding]
    metrics: frozenset[str] | None = None
    live: bool = False


# Run in this order: a later check may point to the findings of earlier ones.
CHECKS: tuple[Check, ...] = (
    Check("integration_disabled", check_integration_disabled),
    Check("settings_incomplete", check_settings_incomplete),
    Check("credentials_whitespace", check_credentials_whitespace),
    Check("credentials_rejected", check_credentials_rejected, live=True),
    Check("scope_missing", check_scope_missing, live=True),
    Check("firewall_blocked", check_firewall_blocked, live=True),
    Check("webhook_signature_rejected", check_webhook_signature_rejected),
    Check("webhook_clock_skew", check_webhook_clock_skew),
    Check("webhooks_missing", check_webhooks_missing, live=True),
    Check("webhooks_disabled_on_store", check_webhooks_disabled_on_store, live=True),
    Check("deliveries_dead_lettered", check_deliveries_dead_lettered),
    Check("deliveries_waiting", check_deliveries_waiting),
    Check("deliveries_spooled", check_deliveries_spooled),
    Check("sync_failing", check_sync_failing, _ORDER_METRICS),
    Check("sync_pending", check_sync_pending, _ORDER_METRICS, live=True),
    Check("custom_status_unmapped", check_custom_status_unmapped, _ORDER_METRICS),
    Check("status_skipped", check_status_skipped, _ORDER_METRICS),
    Check("customer_data_redacted", check_customer_data_redacted, _ORDER_METRICS),
    Check("customer_data_requested", check_customer_data_requested),
    Check("other_metrics_missing", check_other_metrics_missing, _ONSITE_METRICS),
    Check("platform_switched", check_platform_switched, frozenset({Metric.PLACED_ORDER})),
    Check("no_recent_placed_orders", check_no_recent_placed_orders, _ORDER_METRICS),
    # Last: a drop names the integration's other findings as its likely causes.
    *(
        Check(code, drop_check(metric), frozenset({metric}))
        for metric, code in DROP_METRICS.items()
    ),
)
# Checks of the account rather than of one integration.
_ACCOUNT_CODES = ("integration_missing", "plugin_outdated")
# Every finding code the doctor gives, in report order (README.md lists them).
FINDING_CODES: tuple[str, ...] = (
    "integration_missing",
    *(check.code for check in CHECKS),
    "plugin_outdated",
)


class FixNotApplicableError(ConflictError):
    """The finding has no fix shoptrack can apply now (it is ok, or only the merchant can act)."""

    code = "fix_not_applicable"
    title = "This finding has no fix shoptrack can apply now."


@dataclass(frozen=True, slots=True)
class FixResult:
    """What applying a fix did, and the finding as the doctor sees it afterwards."""

    done: str
    finding: Finding
    report: Report


def _metric_filter(metric: str | None) -> Callable[[frozenset[str] | None], bool]:
    if metric is None:
        return lambda _metrics: True
    if metric not in {m.value for m in Metric}:
        raise InputError(
            f"unknown metric {metric!r}; choose one of {', '.join(m.value for m in Metric)}",
            parameter="metric",
        )
    return lambda metrics: metrics is None or metric in metrics


def _examine(
    exam: Examination,
    wanted: Callable[[frozenset[str] | None], bool],
    without: frozenset[str] = frozenset(),
) -> list[Finding]:
    """Runs every check of the examined integration but those of the codes ``without``; the
    findings ``wanted`` are returned."""
    integration_id = exam.integration.id
    findings = [
        Finding(
            "integration_missing",
            Severity.OK,
            "The integration is connected.",
            {"integration_id": integration_id, "platform": exam.integration.platform},
            integration_id=integration_id,
        )
    ]
    for check in CHECKS:
        if (check.live and not exam.live) or check.code in without:
            continue
        finding = replace(check.run(exam), integration_id=integration_id)
        exam.findings[check.code] = finding
        if wanted(check.metrics):
            findings.append(finding)
    return findings


def _diagnose(
    services: Services,
    account_id: str,
    integration_id: str,
    wanted: Callable[[frozenset[str] | None], bool],
    client_factory: ClientFactory | None,
    *,
    live: bool = True,
) -> tuple[Report, Examination | None]:
    with services.database.read() as connection:
        found = find_integration(connection, integration_id)
        enabled = [i for i in list_integrations(connection, account_id) if i.enabled]
    if found is None or found.account_id != account_id or found.removed_at is not None:
        owned = found if found is not None and found.account_id == account_id else None
        return Report([missing_integration(integration_id, owned, enabled)]), None
    exam = Examination(services, found, services.clock.now(), client_factory, live=live)
    findings = _examine(exam, wanted)
    if wanted(_ONSITE_METRICS):
        findings.append(check_plugin_outdated(services, account_id, exam.now))
    return Report(findings), exam


def diagnose_integration(
    services: Services,
    account_id: str,
    integration_id: str,
    *,
    metric: str | None = None,
    order: str | None = None,
    client_factory: ClientFactory | None = None,
    live: bool = True,
) -> Report:
    """Every check of one integration (asking its store live where a check says so), then the
    account's tracker check; with ``order``, that order's trace too. A missing or removed
    integration gives integration_missing only.

    ``live=False`` never asks the store: the live checks are left out and the others read
    the recorded health instead (for a page that diagnoses on every view)."""
    report, exam = _diagnose(
        services, account_id, integration_id, _metric_filter(metric), client_factory, live=live
    )
    if order is not None and exam is not None:
        return replace(report, order=trace_order(exam, order))
    return report


def diagnose_account(
    services: Services,
    account_id: str,
    *,
    metric: str | None = None,
    client_factory: ClientFactory | None = None,
    live: bool = True,
    without: frozenset[str] = frozenset(),
) -> Report:
    """The account's checks, then every check of each of its integrations (removed ones left
    out) but those of the codes ``without``. ``live=False`` asks no store, as in
    :func:`diagnose_integration`."""
    wanted = _metric_filter(metric)
    with services.database.read() as connection:
        integrations = list_integrations(connection, account_id)
    now = services.clock.now()
    findings = [check_account_integrations(services, account_id, integrations, now)]
    if wanted(_ONSITE_METRICS):
        findings.append(check_plugin_outdated(services, account_id, now))
    # Asking no store, the examinations read through one connection (a page's every view);
    # asking stores, each read takes its own, none held while a store answers.
    reading: AbstractContextManager[Connection | None] = (
        nullcontext() if live else services.database.read()
    )
    with reading as connection:
        for integration in integrations:
            exam = Examination(
                services, integration, now, client_factory, live=live, connection=connection
            )
            findings.extend(_examine(exam, wanted, without))
    return Report(findings)


def examine_account(services: Services, account_id: str) -> Report:
    """The account's own check of its integrations (integration_missing), without asking a
    store: what the watchdog reads of the account beside each enabled integration."""
    with services.database.read() as connection:
        integrations = list_integrations(connection, account_id)
    return Report(
        [check_account_integrations(services, account_id, integrations, services.clock.now())]
    )


def examine_integration(
    services: Services,
    integration: Integration,
    *,
    client_factory: ClientFactory | None = None,
    live: bool = True,
) -> Report:
    """Every check of one integration as read already, live ones included unless ``live`` is
    False: one examination, so each live answer of its store is asked once (the watchdog runs
    this once per enabled integration and run)."""
    exam = Examination(services, integration, services.clock.now(), client_factory, live=live)
    return Report(_examine(exam, _metric_filter(None)))


def apply_fix(
    services: Services,
    account_id: str,
    integration_id: str,
    code: str,
    *,
    client_factory: ClientFactory | None = None,
) -> FixResult:
    """Looks again, applies the fix of ``code`` if it is applicable now, then looks again:
    ``FixNotApplicableError`` when it is not, ``NotFoundError`` for a code the doctor does not
    give."""
    if code not in FINDING_CODES:
        raise NotFoundError(
            f"no finding {code!r}; the codes are {', '.join(FINDING_CODES)}", parameter="code"
        )
    before, exam = _diagnose(
        services, account_id, integration_id, _metric_filter(None), client_factory
    )
    finding = before.get(code)
    fix = finding.fix if finding is not None else None
    if exam is None or finding is None or fix is None or not fix.applicable or code not in FIXES:
        state = "ok" if finding is None else finding.severity.value
        reason = fix.text if fix is not None else "the check found nothing to fix"
        raise FixNotApplicableError(
            f"{code} ({state}) has no fix shoptrack can apply now: {reason}",
            parameter="code",
            meta={"finding": finding.as_json() if finding is not None else None},
        )
    done = FIXES[code](exam, finding)
    after = diagnose_integration(
        services, account_id, integration_id, client_factory=client_factory
    )
    return FixResult(
        done,
        after.get(code) or Finding(code, Severity.OK, "Fixed.", integration_id=integration_id),
        after,
    )
