"""Checks of webhook deliveries: refused at intake (bad signature, clock skew), missing or
disabled on the store (asked live), stored ones that keep failing (dead letters) or that no
process processes, and acknowledged ones still waiting in the intake spool for the database."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta

from shoptrack.connectors.base import WebhookHealth, WebhookVerdict
from shoptrack.connectors.errors import StoreError
from shoptrack.doctor._checks_access import error_evidence, fix_command, iso
from shoptrack.doctor._examination import REJECTED_WINDOW_DAYS, Examination
from shoptrack.doctor._findings import Finding, Fix, Severity
from shoptrack.pipeline.spool import inspect_spool, spool_directory
from shoptrack.store.diagnostics import (
    StoredDelivery,
    WaitingDeliveries,
    delivery_summary,
    waiting_deliveries,
)
from shoptrack.store.inbox import MAX_ATTEMPTS

__all__ = [
    "WAITING_TOO_LONG",
    "check_deliveries_dead_lettered",
    "check_deliveries_spooled",
    "check_deliveries_waiting",
    "check_webhook_clock_skew",
    "check_webhook_signature_rejected",
    "check_webhooks_disabled_on_store",
    "check_webhooks_missing",
]

# A stored delivery due this long and still not processed: no process processes the database,
# or its processing is far behind (a worker takes the oldest due rows first).
WAITING_TOO_LONG = timedelta(minutes=15)


def _refusals(
    exam: Examination, rows: tuple[StoredDelivery, ...], unstored: int
) -> dict[str, object]:
    with exam.read() as connection:
        accepted = delivery_summary(connection, exam.integration.id, "processed", source="webhook")
    reasons = Counter((row.reason or "").partition(": ")[2] or row.reason for row in rows)
    return {
        "refused": len(rows) + unstored,
        # Past the integration's limit refusals are counted, not stored (see README, Webhooks).
        "not_stored": unstored,
        "window_days": REJECTED_WINDOW_DAYS,
        "first_refused": iso(rows[-1].received_at) if rows else None,
        "last_refused": iso(rows[0].received_at) if rows else None,
        "reasons": dict(reasons.most_common()),
        "delivery_ids": [row.id for row in rows[:10]],
        "user_agent": rows[0].headers.get("user-agent") if rows else None,
        "last_accepted": iso(accepted.newest),
    }


def _not_stored(unstored: int) -> str:
    if not unstored:
        return ""
    return f" ({unstored} of them past the integration's limit, counted but not stored)"


def _refused_deliveries(
    exam: Examination,
    code: str,
    verdict: WebhookVerdict,
    rows: tuple[StoredDelivery, ...],
    *,
    refused_for: str,
    warning: str,
    fix: Fix,
    evidence: dict[str, object] | None = None,
) -> Finding:
    """The finding on the webhook deliveries refused at intake with ``verdict`` (``rows``, and
    those counted but not stored): fine when none was refused in the window, else a warning
    whose ``warning`` text is formatted with the ``count`` refused and the ``not_stored`` note."""
    unstored = exam.rejected.unstored.get(verdict, 0)
    if not rows and not unstored:
        return Finding(
            code,
            Severity.OK,
            f"No webhook delivery was refused for its {refused_for} in {REJECTED_WINDOW_DAYS} "
            "days.",
            {"refused": 0, "window_days": REJECTED_WINDOW_DAYS},
        )
    return Finding(
        code,
        Severity.WARNING,
        warning.format(count=len(rows) + unstored, not_stored=_not_stored(unstored)),
        {**_refusals(exam, rows, unstored), **(evidence or {})},
        fix,
    )


def check_webhook_signature_rejected(exam: Examination) -> Finding:
    return _refused_deliveries(
        exam,
        "webhook_signature_rejected",
        WebhookVerdict.REJECTED,
        exam.rejected.signature,
        refused_for="signature",
        warning=(
            f"{{count}} webhook deliveries were refused in {REJECTED_WINDOW_DAYS} days"
            "{not_stored}: their signature verifies with no webhook secret shoptrack holds. "
            "Their orders arrive only by polling, late."
        ),
        fix=Fix(
            "If the deliveries come from your store, give its webhooks the integration's "
            "webhook_secret, or enter the store's secret in shoptrack; if they do not, someone "
            "else is posting to the webhook URL and is rightly refused.",
            f"shoptrack integrations update {exam.integration.id} -c webhook_secret=…",
        ),
    )


def check_webhook_clock_skew(exam: Examination) -> Finding:
    return _refused_deliveries(
        exam,
        "webhook_clock_skew",
        WebhookVerdict.CLOCK_SKEW,
        exam.rejected.clock_skew,
        refused_for="timestamp",
        warning=(
            "{count} signed webhook deliveries were refused because their timestamp is too far "
            "from shoptrack's clock{not_stored}: one of the two clocks is wrong."
        ),
        fix=Fix(
            "Synchronise the clocks (NTP) of the store's server and of shoptrack's; the "
            "reasons show how far apart they are.",
        ),
        evidence={"server_time": iso(exam.now)},
    )


def _store_webhooks(exam: Examination, code: str) -> WebhookHealth | Finding:
    """What the store says about its webhooks, or the finding when it cannot be asked."""
    health = exam.webhook_health
    if not exam.has_webhooks:
        return Finding(
            code,
            Severity.OK,
            f"{exam.integration.platform} has no webhooks: orders arrive by polling.",
            {"checked": False, "platform_has_webhooks": False},
        )
    if isinstance(health, StoreError):
        return Finding(
            code,
            Severity.INFO,
            f"The store's webhooks could not be listed: {health.detail}.",
            {"checked": False, **error_evidence(health)},
        )
    if health is None:
        reason = (
            "the store cannot be asked now (see the checks above)"
            if not exam.store_check.ok
            else f"shoptrack cannot list {exam.integration.platform} webhooks yet"
        )
        return Finding.not_checked(code, reason)
    return health


def _webhooks_lacking(
    exam: Examination,
    code: str,
    evidence: Mapping[str, object],
    topics: Sequence[str],
    *,
    fine: str,
    lacking: str,
    fix: str,
) -> Finding:
    """The finding on the topics the store sends shoptrack no webhook for: fine when there is
    none, else a warning (``lacking``, formatted with the ``topics``) whose fix, registering
    the webhooks, shoptrack can apply."""
    if not topics:
        return Finding(code, Severity.OK, fine, evidence)
    return Finding(
        code,
        Severity.WARNING,
        lacking.format(topics=", ".join(topics)) + ": those changes arrive only by polling, late.",
        evidence,
        Fix(fix, fix_command(exam, code), applicable=True),
    )


def check_webhooks_missing(exam: Examination) -> Finding:
    code = "webhooks_missing"
    health = _store_webhooks(exam, code)
    if isinstance(health, Finding):
        return health
    evidence = {
        "delivery_url": exam.delivery_url,
        "expected_topics": list(health.expected_topics),
        "missing_topics": list(health.missing_topics),
    }
    return _webhooks_lacking(
        exam,
        code,
        evidence,
        health.missing_topics,
        fine="The store has a webhook to shoptrack for every topic.",
        lacking="The store has no webhook to shoptrack for {topics}",
        fix="Register the missing webhooks in the store.",
    )


def check_webhooks_disabled_on_store(exam: Examination) -> Finding:
    code = "webhooks_disabled_on_store"
    health = _store_webhooks(exam, code)
    if isinstance(health, Finding):
        return health
    evidence = {"delivery_url": exam.delivery_url, "disabled": [dict(d) for d in health.disabled]}
    return _webhooks_lacking(
        exam,
        code,
        evidence,
        sorted({str(hook.get("topic")) for hook in health.disabled}),
        fine="The store's webhooks to shoptrack are active.",
        lacking=(
            "The store disabled its webhooks to shoptrack for {topics} (WooCommerce does so "
            "after repeated failed deliveries, and never retries them)"
        ),
        fix="Register active webhooks again (the disabled ones stay, for the store's log).",
    )


def check_deliveries_dead_lettered(exam: Examination) -> Finding:
    code = "deliveries_dead_lettered"
    with exam.read() as connection:
        dead = delivery_summary(connection, exam.integration.id, "dead")
    if not dead.count:
        return Finding(
            code, Severity.OK, "No stored delivery failed processing for good.", {"dead": 0}
        )
    return Finding(
        code,
        Severity.ERROR,
        f"{dead.count} stored deliveries failed processing {MAX_ATTEMPTS} times and wait as "
        "dead letters: their events are missing.",
        {
            "dead": dead.count,
            "first_received": iso(dead.oldest),
            "last_received": iso(dead.newest),
            "delivery_ids": list(dead.ids),
            "last_error": dead.last_error,
        },
        Fix(
            "Process them again, as backfill (once the cause in last_error is fixed).",
            fix_command(exam, code),
            applicable=True,
        ),
    )


def _kinds(waiting: WaitingDeliveries) -> str:
    backfill = waiting.count - waiting.live
    return f" ({waiting.live} live, {backfill} backfill)" if backfill else ""


def check_deliveries_waiting(exam: Examination) -> Finding:
    """Stored deliveries due for processing for ``WAITING_TOO_LONG`` and still pending: no
    ``serve`` with its worker processes, nor ``worker``, runs against this database, or its
    worker process keeps ending, or processing is far behind — events missing meanwhile, and
    nothing else in the doctor says so (a drop is judged only up to the oldest waiting one).
    An error while live deliveries wait (they start flows); a warning for backfill alone."""
    code = "deliveries_waiting"
    minutes = int(WAITING_TOO_LONG.total_seconds() // 60)
    with exam.read() as connection:
        waiting = waiting_deliveries(connection, exam.integration.id, exam.now, WAITING_TOO_LONG)
    if not waiting.count:
        return Finding(
            code,
            Severity.OK,
            f"No stored delivery has waited over {minutes} minutes to be processed.",
            {"waiting": 0, "minutes": minutes},
        )
    return Finding(
        code,
        Severity.ERROR if waiting.live else Severity.WARNING,
        f"{waiting.count} stored deliveries{_kinds(waiting)} have waited over {minutes} minutes "
        "to be processed: their events are missing until a worker processes them.",
        {
            "waiting": waiting.count,
            "live": waiting.live,
            "minutes": minutes,
            "first_received": iso(waiting.oldest),
            "last_received": iso(waiting.newest),
            "delivery_ids": list(waiting.ids),
        },
        Fix(
            "Run a process that processes this database: `shoptrack serve` with its worker "
            "processes (not --no-workers), or `shoptrack worker`. If one runs, its log says why "
            'it stops processing (serve: "the worker process ended"); a backlog of millions of '
            "rows (a large backfill) is processed in turn, oldest first.",
            "shoptrack worker",
        ),
    )


def check_deliveries_spooled(exam: Examination) -> Finding:
    """Deliveries of the integration acknowledged while the database took no writes, still in
    the intake spool of this machine (its data dir): waiting for the database in a running
    process, or left by a process that stopped."""
    code = "deliveries_spooled"
    directory = spool_directory(exam.services.settings.data_dir)
    files = [
        spooled
        for spooled in inspect_spool(directory)
        if spooled.deliveries.get(exam.integration.id)
    ]
    waiting = sum(f.deliveries[exam.integration.id] for f in files if f.running)
    left = sum(f.deliveries[exam.integration.id] for f in files if not f.running)
    evidence: dict[str, object] = {"spool_directory": str(directory), "spooled": waiting + left}
    if not files:
        return Finding(
            code, Severity.OK, "No delivery waits in the intake spool on this machine.", evidence
        )
    times = [f.since for f in files if f.since is not None]
    evidence |= {
        "waiting_in_running_processes": waiting,
        "left_by_stopped_processes": left,
        "since": iso(min(times)) if times else None,
        "files": [f.path.name for f in files],
    }
    if left:
        return Finding(
            code,
            Severity.ERROR,
            f"{left} deliveries acknowledged while the database took no writes wait in the "
            "spool of a shoptrack process that stopped: their events are missing until a "
            "process drains them.",
            evidence,
            Fix(
                "Start (or restart) `shoptrack serve` on this machine with the same "
                "SHOPTRACK_DATA_DIR: it drains spools that no running process holds.",
                "shoptrack serve",
            ),
        )
    return Finding(
        code,
        Severity.WARNING,
        f"{waiting} deliveries acknowledged while the database took no writes wait in the "
        "intake spool: they are written to the inbox as soon as the database takes writes.",
        evidence,
        Fix(
            "Make the database writable again (free its disk, end its read-only mode, bring it "
            "back); `GET /health` and the log say what it answers."
        ),
    )
