"""Alerts, their subscriptions and notifications, and the watchdog's schedule and lease."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, insert, or_, select, update

from shoptrack.errors import ConflictError
from shoptrack.ids import new_id
from shoptrack.store._leases import Lease
from shoptrack.store._rows import from_row, row_values
from shoptrack.store.schema import alert_notifications, alert_subscriptions, alerts, watchdog
from shoptrack.store.sql import for_update, insert_ignore

__all__ = [
    "AlertRecord",
    "NotificationRecord",
    "SubscriptionRecord",
    "add_notifications",
    "add_subscription",
    "claim_notifications",
    "claim_watch",
    "get_alert",
    "insert_alert",
    "list_alerts",
    "list_subscriptions",
    "mark_notifications",
    "open_alerts",
    "release_watch",
    "remove_subscription",
    "renew_watch",
    "retry_notifications",
    "schedule_watch",
    "set_message_id",
    "update_alert",
    "watch_due",
    "watch_state",
    "webhook_subscription",
]

_WATCHDOG_ID = "watchdog"
# The lease of the one process running the watchdog.
_WATCH_LEASE = Lease(watchdog.c.lease_owner, watchdog.c.lease_expires_at)


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One alert: a finding of the watchdog from the run that opened it to the one that resolved
    it; ``finding`` is the doctor's finding as last seen (code, severity, summary, evidence,
    fix, integration_id)."""

    id: str
    account_id: str
    integration_id: str | None
    code: str
    severity: str
    summary: str
    finding: Mapping[str, Any]
    opened_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    passing_runs: int
    resolution: str | None = None  # passed (two runs in a row), unwatched (no longer examined)

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def key(self) -> tuple[str | None, str]:
        return self.integration_id, self.code

    def attributes(self) -> dict[str, Any]:
        """The attributes of the API's ``alert`` resource (and of alert webhooks)."""
        return {
            "code": self.code,
            "severity": self.severity,
            "summary": self.summary,
            "integration_id": self.integration_id,
            "opened": self.opened_at.isoformat(),
            "last_seen": self.last_seen_at.isoformat(),
            "resolved": self.resolved_at.isoformat() if self.resolved_at else None,
            "finding": dict(self.finding),
        }


def _alert(row: Row[Any]) -> AlertRecord:
    return from_row(AlertRecord, row)


def open_alerts(connection: Connection, account_id: str) -> list[AlertRecord]:
    """The account's open alerts, oldest first."""
    rows = connection.execute(
        select(alerts)
        .where(alerts.c.account_id == account_id, alerts.c.resolved_at.is_(None))
        .order_by(alerts.c.opened_at, alerts.c.id)
    )
    return [_alert(row) for row in rows]


def list_alerts(
    connection: Connection,
    account_id: str,
    *,
    status: str | None = None,
    integration_id: str | None = None,
    code: str | None = None,
    after: tuple[bool, datetime, str] | None = None,
    limit: int = 100,
) -> list[AlertRecord]:
    """The account's alerts, open ones first, each part newest first; ``status`` keeps the
    ``open`` or the ``resolved`` ones; ``after`` continues after the (resolved?, opened_at, id)
    of the last alert read."""
    resolved = alerts.c.resolved_at.is_not(None)
    query = select(alerts).where(alerts.c.account_id == account_id)
    if status == "open":
        query = query.where(alerts.c.resolved_at.is_(None))
    elif status == "resolved":
        query = query.where(resolved)
    if integration_id is not None:
        query = query.where(alerts.c.integration_id == integration_id)
    if code is not None:
        query = query.where(alerts.c.code == code)
    if after is not None:
        was_resolved, opened, alert_id = after
        later = or_(
            alerts.c.opened_at < opened,
            and_(alerts.c.opened_at == opened, alerts.c.id < alert_id),
        )
        query = query.where(or_(resolved, later) if not was_resolved else and_(resolved, later))
    rows = connection.execute(
        query.order_by(resolved, alerts.c.opened_at.desc(), alerts.c.id.desc()).limit(limit)
    )
    return [_alert(row) for row in rows]


def get_alert(connection: Connection, account_id: str, alert_id: str) -> AlertRecord | None:
    row = connection.execute(
        select(alerts).where(alerts.c.account_id == account_id, alerts.c.id == alert_id)
    ).first()
    return None if row is None else _alert(row)


def insert_alert(
    connection: Connection,
    account_id: str,
    finding: Mapping[str, Any],
    now: datetime,
) -> AlertRecord:
    """Opens an alert for a finding (``Finding.as_json()``)."""
    record = AlertRecord(
        id=new_id(),
        account_id=account_id,
        integration_id=finding.get("integration_id"),
        code=str(finding["code"]),
        severity=str(finding["severity"]),
        summary=str(finding["summary"]),
        finding=dict(finding),
        opened_at=now,
        last_seen_at=now,
        resolved_at=None,
        passing_runs=0,
    )
    connection.execute(insert(alerts).values(row_values(record)))
    return record


def update_alert(connection: Connection, alert_id: str, **values: Any) -> None:
    """Changes an alert's columns (``last_seen_at``, ``finding``, ``passing_runs``…)."""
    connection.execute(update(alerts).where(alerts.c.id == alert_id).values(**values))


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    """Who hears of an account's alerts: an email address, or a URL for signed webhooks."""

    id: str
    account_id: str
    channel: str  # email, webhook
    target: str
    created_at: datetime

    def attributes(self) -> dict[str, Any]:
        """The attributes of the API's ``alert-subscription`` resource."""
        return {
            "channel": self.channel,
            "email": self.target if self.channel == "email" else None,
            "url": self.target if self.channel == "webhook" else None,
            "created": self.created_at.isoformat(),
        }


def _subscription(row: Row[Any]) -> SubscriptionRecord:
    return SubscriptionRecord(row.id, row.account_id, row.channel, row.target, row.created_at)


def add_subscription(
    connection: Connection,
    account_id: str,
    channel: str,
    target: str,
    now: datetime,
    *,
    secret_encrypted: str | None = None,
) -> SubscriptionRecord:
    """Subscribes ``target``; ``ConflictError`` when it is subscribed already."""
    record = SubscriptionRecord(new_id(), account_id, channel, target, now)
    added = insert_ignore(
        connection,
        alert_subscriptions,
        {**row_values(record), "secret_encrypted": secret_encrypted},
        conflict=("account_id", "channel", "target"),
    )
    if not added:
        what = "address" if channel == "email" else "URL"
        raise ConflictError(
            f"the {what} {target} is subscribed to the account's alerts already",
            pointer="/data/attributes/" + ("email" if channel == "email" else "url"),
        )
    return record


def list_subscriptions(
    connection: Connection, account_id: str, channel: str | None = None
) -> list[SubscriptionRecord]:
    query = select(alert_subscriptions).where(alert_subscriptions.c.account_id == account_id)
    if channel is not None:
        query = query.where(alert_subscriptions.c.channel == channel)
    rows = connection.execute(
        query.order_by(alert_subscriptions.c.created_at, alert_subscriptions.c.id)
    )
    return [_subscription(row) for row in rows]


def remove_subscription(connection: Connection, account_id: str, subscription_id: str) -> bool:
    """Unsubscribes; False when the account has no such subscription. Its notices not sent yet
    are cancelled."""
    removed = connection.execute(
        delete(alert_subscriptions)
        .where(
            alert_subscriptions.c.account_id == account_id,
            alert_subscriptions.c.id == subscription_id,
        )
        .returning(alert_subscriptions.c.id)
    ).first()
    if removed is None:
        return False
    connection.execute(
        update(alert_notifications)
        .where(
            alert_notifications.c.subscription_id == subscription_id,
            alert_notifications.c.state == "pending",
        )
        .values(state="cancelled")
    )
    return True


def webhook_subscription(connection: Connection, subscription_id: str) -> tuple[str, str] | None:
    """A webhook subscription's URL and encrypted secret (None: it was removed since)."""
    row = connection.execute(
        select(alert_subscriptions.c.target, alert_subscriptions.c.secret_encrypted).where(
            alert_subscriptions.c.id == subscription_id,
            alert_subscriptions.c.channel == "webhook",
        )
    ).first()
    if row is None or row.secret_encrypted is None:
        return None
    return str(row.target), str(row.secret_encrypted)


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    """One notice of an alert opening or resolving, for one channel."""

    id: str
    account_id: str
    alert_id: str
    event: str  # opened, resolved
    channel: str  # email, webhook
    subscription_id: str | None
    attempts: int
    message_id: str | None


def _notification(row: Row[Any]) -> NotificationRecord:
    return NotificationRecord(
        row.id,
        row.account_id,
        row.alert_id,
        row.event,
        row.channel,
        row.subscription_id,
        row.attempts,
        row.message_id,
    )


def add_notifications(connection: Connection, alert: AlertRecord, event: str, now: datetime) -> int:
    """The notices of ``alert``'s ``event`` to the account's subscribers as they are now: one
    for its email subscribers together, one per webhook subscription. Returns how many."""
    subscriptions = list_subscriptions(connection, alert.account_id)
    targets: list[tuple[str, str | None]] = []
    if any(s.channel == "email" for s in subscriptions):
        targets.append(("email", None))
    targets += [("webhook", s.id) for s in subscriptions if s.channel == "webhook"]
    if targets:
        connection.execute(
            insert(alert_notifications),
            [
                {
                    "id": new_id(),
                    "account_id": alert.account_id,
                    "alert_id": alert.id,
                    "event": event,
                    "channel": channel,
                    "subscription_id": subscription_id,
                    "state": "pending",
                    "attempts": 0,
                    "created_at": now,
                }
                for channel, subscription_id in targets
            ],
        )
    return len(targets)


def claim_notifications(
    connection: Connection, account_id: str, now: datetime, stale: timedelta
) -> list[NotificationRecord]:
    """Takes the account's notices to send: pending ones, and ones a process claimed longer
    than ``stale`` ago without saying how the send went (it may have died mid-send: they go
    again, an email with its Message-ID)."""
    rows = connection.execute(
        for_update(
            connection,
            select(alert_notifications)
            .where(
                alert_notifications.c.account_id == account_id,
                or_(
                    alert_notifications.c.state == "pending",
                    and_(
                        alert_notifications.c.state == "sending",
                        alert_notifications.c.claimed_at < now - stale,
                    ),
                ),
            )
            .order_by(alert_notifications.c.created_at, alert_notifications.c.id),
            skip_locked=True,
        )
    ).all()
    claimed = [_notification(row) for row in rows]
    if claimed:
        connection.execute(
            update(alert_notifications)
            .where(alert_notifications.c.id.in_([n.id for n in claimed]))
            .values(
                state="sending",
                claimed_at=now,
                attempts=alert_notifications.c.attempts + 1,
            )
        )
    return claimed


def set_message_id(connection: Connection, ids: Iterable[str], message_id: str) -> None:
    """Gives the notices ``ids`` the Message-ID of the one email that carries them."""
    connection.execute(
        update(alert_notifications)
        .where(alert_notifications.c.id.in_(list(ids)))
        .values(message_id=message_id)
    )


def mark_notifications(
    connection: Connection,
    ids: Iterable[str],
    state: str,
    now: datetime,
    *,
    error: str | None = None,
    message_id: str | None = None,
) -> None:
    """Records how sending went: ``sent``, ``failed`` (for good), ``cancelled`` (nobody to
    send to any more) or ``pending`` (tried again by the next run)."""
    values: dict[str, Any] = {"state": state, "last_error": error}
    if state == "sent":
        values["sent_at"] = now
    if message_id is not None:
        values["message_id"] = message_id
    connection.execute(
        update(alert_notifications)
        .where(alert_notifications.c.id.in_(list(ids)), alert_notifications.c.state == "sending")
        .values(**values)
    )


def retry_notifications(
    connection: Connection, ids: Sequence[str], error: str, *, max_attempts: int, now: datetime
) -> None:
    """A send that failed: tried again by the next run, or failed for good after
    ``max_attempts``."""
    for notification_id in ids:
        attempts = connection.execute(
            select(alert_notifications.c.attempts).where(
                alert_notifications.c.id == notification_id
            )
        ).scalar_one()
        state = "failed" if attempts >= max_attempts else "pending"
        mark_notifications(connection, [notification_id], state, now, error=error)


def _ensure_watchdog(connection: Connection) -> None:
    insert_ignore(connection, watchdog, {"id": _WATCHDOG_ID}, conflict=("id",))


def claim_watch(connection: Connection, owner: str, now: datetime, lease: timedelta) -> bool:
    """Takes the watchdog's lease; False while another process holds it."""
    _ensure_watchdog(connection)
    return _WATCH_LEASE.take(
        connection, watchdog.c.id == _WATCHDOG_ID, owner, now, lease, last_started_at=now
    )


def renew_watch(connection: Connection, owner: str, now: datetime, lease: timedelta) -> bool:
    """Extends the lease ``owner`` holds; False when it lost it. On PostgreSQL the row stays
    locked until the transaction ends, so no other process takes the lease meanwhile: what the
    transaction writes is written by the lease's holder."""
    return _WATCH_LEASE.renew(connection, watchdog.c.id == _WATCHDOG_ID, owner, now + lease)


def release_watch(
    connection: Connection,
    owner: str,
    now: datetime,
    next_run_at: datetime,
    summary: Mapping[str, Any] | None,
) -> None:
    _WATCH_LEASE.update(
        connection,
        watchdog.c.id == _WATCHDOG_ID,
        _WATCH_LEASE.held_by(owner),
        **_WATCH_LEASE.released(),
        next_run_at=next_run_at,
        last_finished_at=now,
        last_run=dict(summary) if summary is not None else None,
    )


def watch_state(connection: Connection) -> Row[Any] | None:
    """The watchdog's row: next run, lease, last run (None before its schedule exists)."""
    return connection.execute(select(watchdog).where(watchdog.c.id == _WATCHDOG_ID)).first()


def schedule_watch(connection: Connection, first_run_at: datetime) -> Row[Any]:
    """The watchdog's row, made with its first run at ``first_run_at`` if it did not exist."""
    insert_ignore(
        connection, watchdog, {"id": _WATCHDOG_ID, "next_run_at": first_run_at}, conflict=("id",)
    )
    return connection.execute(select(watchdog).where(watchdog.c.id == _WATCHDOG_ID)).one()


def watch_due(row: Row[Any], now: datetime) -> bool:
    """Whether the watchdog's run is due and no process holds its lease."""
    leased = row.lease_owner is not None and row.lease_expires_at >= now
    return not leased and (row.next_run_at is None or row.next_run_at <= now)
