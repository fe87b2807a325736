"""The watchdog: the doctor runs by itself on every account and tells the merchant first.

A run examines each account — its own check of its integrations, then every check of each
enabled integration, live ones included: one examination per integration, so each of its
store's live answers is asked once per run — and turns what it finds into alerts:

- a finding of severity ``error``, or a drop (``placed_order_drop``…), opens an alert, unless
  one of that code is open for that integration already (then it is seen again: its snapshot,
  summary and severity follow the finding);
- an open alert resolves once its check passed (ok or info) on two runs in a row (no flapping);
  a check that could not tell (evidence ``checked: false``), or a warning, neither passes nor
  fails; an alert of an integration that is disabled or removed resolves at once, as no longer
  watched;
- each opening and resolving is one notice per channel, written with it in one transaction and
  sent right after the account's examination (``AlertNotifier``): one email per account and
  run, whatever opened or resolved, and a webhook per alert and webhook subscription.

One run at a time across processes: the run holds a lease on the ``watchdog`` row, renewed as it
goes and checked in every transaction that writes alerts or claims notices (on PostgreSQL the
row stays locked until that transaction commits, so a process cannot take the lease in
between). The workers of ``serve`` and ``worker`` start a run every
``SHOPTRACK_WATCH_INTERVAL_MINUTES``; ``shoptrack watch --once`` starts one now.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from shoptrack.alerts.notifications import AlertNotifier, NoticeOutcome
from shoptrack.connectors.base import ClientFactory
from shoptrack.doctor import (
    DROP_CODES,
    Finding,
    Severity,
    examine_account,
    examine_integration,
)
from shoptrack.errors import ConflictError
from shoptrack.ids import lease_owner
from shoptrack.leases import when_free
from shoptrack.services import Services
from shoptrack.store.accounts import Account, list_accounts
from shoptrack.store.alerts import (
    AlertRecord,
    add_notifications,
    claim_watch,
    insert_alert,
    open_alerts,
    release_watch,
    renew_watch,
    schedule_watch,
    update_alert,
    watch_due,
    watch_state,
)
from shoptrack.store.integrations import list_integrations

__all__ = [
    "LEASE",
    "RESOLVING_RUNS",
    "AccountWatch",
    "WatchBusyError",
    "WatchReport",
    "Watchdog",
    "is_alarming",
    "is_passing",
]

logger = logging.getLogger(__name__)

# Renewed after each integration and in every writing transaction: a run that stops renewing
# it for this long (a process that died) leaves the next one to another process.
LEASE = timedelta(minutes=10)
# Runs in a row an alert's check must pass before the alert resolves.
RESOLVING_RUNS = 2


class WatchBusyError(ConflictError):
    """Another process runs the watchdog now (or took its lease over mid-run)."""

    code = "watch_running"
    title = "The watchdog is running in another process."


def is_alarming(finding: Finding) -> bool:
    """Whether a finding opens (or keeps open) an alert: an error, or any drop."""
    return finding.severity is Severity.ERROR or (
        finding.code in DROP_CODES and finding.severity is not Severity.OK
    )


def is_passing(finding: Finding) -> bool:
    """Whether a finding counts towards resolving its open alert: ok or info, from a check that
    could tell. A check that could not (the store could not be asked, too little history:
    evidence ``checked: false``) or a warning (degraded is not fixed) neither passes nor fails."""
    return (
        finding.severity in (Severity.OK, Severity.INFO)
        and finding.evidence.get("checked") is not False
    )


@dataclass(slots=True)
class AccountWatch:
    """What one run did in one account."""

    account_id: str
    name: str
    integrations: list[str] = field(default_factory=list)  # examined
    failed: list[str] = field(default_factory=list)  # whose examination broke (logged)
    opened: list[AlertRecord] = field(default_factory=list)
    resolved: list[AlertRecord] = field(default_factory=list)
    still_open: int = 0
    notices: NoticeOutcome = field(default_factory=NoticeOutcome)

    def as_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "name": self.name,
            "integrations": self.integrations,
            "failed_integrations": self.failed,
            "opened": [_brief(alert) for alert in self.opened],
            "resolved": [_brief(alert) for alert in self.resolved],
            "open": self.still_open,
            "emails": self.notices.emails,
            "webhooks": self.notices.webhooks,
            "failed_notices": self.notices.failed,
        }


def _brief(alert: AlertRecord) -> dict[str, Any]:
    return {"id": alert.id, "code": alert.code, "integration_id": alert.integration_id}


@dataclass(slots=True)
class WatchReport:
    """What one run of the watchdog did."""

    started: datetime
    finished: datetime | None = None
    accounts: list[AccountWatch] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat() if self.finished else None,
            "opened": sum(len(a.opened) for a in self.accounts),
            "resolved": sum(len(a.resolved) for a in self.accounts),
            "open": sum(a.still_open for a in self.accounts),
            "emails": sum(a.notices.emails for a in self.accounts),
            "webhooks": sum(a.notices.webhooks for a in self.accounts),
            "accounts": [a.as_json() for a in self.accounts],
        }


class Watchdog:
    """Runs the watchdog for one process."""

    def __init__(
        self,
        services: Services,
        notifier: AlertNotifier,
        *,
        client_factory: ClientFactory | None = None,
        owner: str | None = None,
    ) -> None:
        self._services = services
        self._notifier = notifier
        self._client_factory = client_factory
        self.owner = owner or lease_owner()
        self.interval = timedelta(minutes=services.settings.watch_interval_minutes)

    @classmethod
    def from_services(
        cls,
        services: Services,
        *,
        notifier: AlertNotifier | None = None,
        client_factory: ClientFactory | None = None,
        owner: str | None = None,
    ) -> Watchdog:
        """A watchdog notifying through ``notifier``, by default as the settings say (the
        flows' SMTP settings or outbox)."""
        return cls(
            services,
            notifier or AlertNotifier.from_services(services),
            client_factory=client_factory,
            owner=owner,
        )

    def close(self) -> None:
        self._notifier.close()

    def run_if_due(self) -> WatchReport | None:
        """Runs when the schedule says so and no other process is running it (what the workers
        call); the first run comes one interval after the schedule is made."""
        now = self._services.clock.now()
        with self._services.database.read() as connection:
            row = watch_state(connection)
        if row is None:  # the first look of any process: the schedule starts
            with self._services.database.write() as connection:
                row = schedule_watch(connection, now + self.interval)
        if not watch_due(row, now):
            return None
        try:
            return self.run()
        except WatchBusyError:
            return None  # another process took it between the look and the lease

    def run_when_free(self) -> WatchReport:
        """:meth:`run`, after waiting out a run another process holds (``watch --once``)."""
        return when_free(self.run, WatchBusyError)

    def run(self) -> WatchReport:
        """One run over every account now; ``WatchBusyError`` while another process runs."""
        database = self._services.database
        started = self._services.clock.now()
        with database.write() as connection:
            if not claim_watch(connection, self.owner, started, LEASE):
                raise WatchBusyError("the watchdog is running in another process right now")
        report = WatchReport(started)
        try:
            with database.read() as connection:
                accounts = list_accounts(connection)
            for account in accounts:
                report.accounts.append(self._watch_account(account))
        finally:
            report.finished = self._services.clock.now()
            with database.write() as connection:
                release_watch(
                    connection,
                    self.owner,
                    report.finished,
                    started + self.interval,
                    _summary(report),
                )
        return report

    @contextmanager
    def _holding(self) -> Iterator[Connection]:
        """A write transaction of the lease's holder: ``WatchBusyError`` if it was lost."""
        now = self._services.clock.now()
        with self._services.database.write() as connection:
            if not renew_watch(connection, self.owner, now, LEASE):
                raise WatchBusyError("another process took the watchdog's lease over mid-run")
            yield connection

    def _watch_account(self, account: Account) -> AccountWatch:
        watch = AccountWatch(account.id, account.name)
        services = self._services
        with services.database.read() as connection:
            integrations = list_integrations(connection, account.id)
        findings: list[Finding] = []
        if integrations:  # an account that never connected a store has nothing to watch
            findings += examine_account(services, account.id).findings
        for integration in integrations:
            if not integration.enabled:
                continue
            try:
                report = examine_integration(
                    services, integration, client_factory=self._client_factory
                )
            except Exception:  # one store's unexpected failure must not stop the others' watch
                logger.exception("the watchdog could not examine integration %s", integration.id)
                watch.failed.append(integration.id)
            else:
                findings += report.findings
                watch.integrations.append(integration.id)
            with self._holding():
                pass  # renews the lease: a slow store must not let another process start
        with self._holding() as connection:
            now = services.clock.now()
            self._apply(connection, watch, findings, now)
            watch.still_open = len(open_alerts(connection, account.id))
            claimed = self._notifier.claim(connection, account.id, now)
        watch.notices = self._notifier.send(account.id, claimed, now)
        return watch

    def _apply(
        self,
        connection: Connection,
        watch: AccountWatch,
        findings: Sequence[Finding],
        now: datetime,
    ) -> None:
        """Opens, sees again, counts passes of and resolves the account's alerts."""
        open_by_key = {alert.key: alert for alert in open_alerts(connection, watch.account_id)}
        seen: set[tuple[str | None, str]] = set()
        for finding in findings:
            key = (finding.integration_id, finding.code)
            seen.add(key)
            alert = open_by_key.get(key)
            if is_alarming(finding):
                snapshot = finding.as_json()
                if alert is None:
                    opened = insert_alert(connection, watch.account_id, snapshot, now)
                    add_notifications(connection, opened, "opened", now)
                    watch.opened.append(opened)
                else:
                    update_alert(
                        connection,
                        alert.id,
                        last_seen_at=now,
                        severity=finding.severity.value,
                        summary=finding.summary,
                        finding=snapshot,
                        passing_runs=0,
                    )
            elif alert is not None and is_passing(finding):
                self._passed(connection, watch, alert, now)
        examined = {None, *watch.integrations} if findings else set()
        for key, alert in open_by_key.items():
            if key in seen or alert.integration_id in watch.failed:
                continue
            if alert.integration_id in examined:
                continue  # a check the doctor no longer gives: left as it is
            # Its integration is disabled or removed (or the account's are all gone).
            self._resolve(connection, watch, alert, now, "unwatched")

    def _passed(
        self, connection: Connection, watch: AccountWatch, alert: AlertRecord, now: datetime
    ) -> None:
        passing = alert.passing_runs + 1
        if passing >= RESOLVING_RUNS:
            self._resolve(connection, watch, alert, now, "passed", passing=passing)
        else:
            update_alert(connection, alert.id, passing_runs=passing)

    def _resolve(
        self,
        connection: Connection,
        watch: AccountWatch,
        alert: AlertRecord,
        now: datetime,
        resolution: str,
        *,
        passing: int | None = None,
    ) -> None:
        values: dict[str, Any] = {"resolved_at": now, "resolution": resolution}
        if passing is not None:
            values["passing_runs"] = passing
        update_alert(connection, alert.id, **values)
        add_notifications(connection, alert, "resolved", now)
        watch.resolved.append(alert)


def _summary(report: WatchReport) -> dict[str, Any]:
    """What the ``watchdog`` row keeps of the last run: its totals."""
    document = report.as_json()
    document.pop("accounts")
    document["accounts"] = len(report.accounts)
    return document
