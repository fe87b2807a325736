"""Telling subscribers that alerts opened or resolved: one email per account and run listing
them all (the flows' SMTP settings, or the outbox folder), and a Standard Webhooks POST per
alert and webhook subscription (the flows' sender, through the outbound guard).

Alert emails go to the people who run the account, not to its customers: they bypass the
flows' suppression list and carry no tracking. A notice is claimed before it is sent and marked
after; a process that dies in between leaves it claimed, and once the claim is stale it goes
again — an email with the same Message-ID, a webhook with the same ``webhook-id`` — which
mailbox providers and Standard Webhooks receivers drop.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import Connection

from shoptrack.flows.delivery import DeliveryError, Mailer, WebhookSender, mailer_from_settings
from shoptrack.flows.email import message_id_for
from shoptrack.services import Services
from shoptrack.store.accounts import get_account
from shoptrack.store.alerts import (
    AlertRecord,
    NotificationRecord,
    claim_notifications,
    get_alert,
    list_subscriptions,
    mark_notifications,
    retry_notifications,
    set_message_id,
    webhook_subscription,
)
from shoptrack.store.database import Database
from shoptrack.store.flows import account_email_from
from shoptrack.store.integrations import find_integration
from shoptrack.store.secrets import CredentialCipher

__all__ = ["MAX_ATTEMPTS", "STALE_CLAIM", "AlertNotifier", "NoticeOutcome", "alert_document"]

# Sends that fail are tried again on the next runs, this many times in all.
MAX_ATTEMPTS = 5
# Longer than any send of one account's notices may take: a claim this old was a crash.
STALE_CLAIM = timedelta(minutes=30)


def alert_document(event: str, alert: AlertRecord) -> dict[str, Any]:
    """The body of an alert webhook: ``{"type": "alert.opened" | "alert.resolved", "alert":
    {id, and the API's attributes}}``."""
    return {"type": f"alert.{event}", "alert": {"id": alert.id, **alert.attributes()}}


@dataclass(slots=True)
class NoticeOutcome:
    """What notifying one account did."""

    emails: int = 0  # emails sent (one per account and run at most)
    webhooks: int = 0  # webhook POSTs answered 2xx
    failed: int = 0  # notices whose send failed (tried again later, or given up)
    notices: int = 0  # notices taken

    def add(self, other: NoticeOutcome) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True, slots=True)
class _Envelope:
    """Who one account's alert email is from and to, and when it is sent."""

    account: str
    sender: str
    recipients: list[str]
    now: datetime


@dataclass(frozen=True, slots=True)
class _Notice:
    notification: NotificationRecord
    alert: AlertRecord
    store: str  # "Woo (woocommerce)", or "the account"


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("shoptrack.alerts", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _evidence(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


class AlertNotifier:
    """Sends an account's pending notices: what the watchdog calls after each account."""

    def __init__(
        self,
        *,
        database: Database,
        mailer: Mailer,
        webhooks: WebhookSender,
        cipher: CredentialCipher,
        public_url: str,
        email_from: str,
    ) -> None:
        self._database = database
        self._mailer = mailer
        self._webhooks = webhooks
        self._cipher = cipher
        self._public_url = public_url.rstrip("/")
        self._email_from = email_from
        self._templates = _environment()

    @classmethod
    def from_services(
        cls,
        services: Services,
        *,
        mailer: Mailer | None = None,
        webhooks: WebhookSender | None = None,
    ) -> AlertNotifier:
        """A notifier delivering as the flows do: SMTP or the outbox folder, and webhooks
        through the outbound guard."""
        settings = services.settings
        return cls(
            database=services.database,
            mailer=mailer or mailer_from_settings(settings.smtp_url, settings.data_dir),
            webhooks=webhooks or WebhookSender(services.outbound),
            cipher=services.cipher,
            public_url=settings.public_url,
            email_from=settings.email_from,
        )

    def close(self) -> None:
        self._webhooks.close()

    def claim(
        self, connection: Connection, account_id: str, now: datetime
    ) -> list[NotificationRecord]:
        """Takes the account's notices to send, in the caller's transaction (the watchdog's,
        which holds its lease), and gives the email notices their Message-ID before anything
        is sent: a repeat of the same notices after a crash is the same email."""
        claimed = claim_notifications(connection, account_id, now, STALE_CLAIM)
        emails = [n for n in claimed if n.channel == "email"]
        if emails:
            sender = account_email_from(connection, account_id) or self._email_from
            known = {n.message_id for n in emails}
            if len(known) == 1 and None not in known:
                message_id = str(known.pop())
            else:
                digest = hashlib.sha256(" ".join(sorted(n.id for n in emails)).encode())
                message_id = message_id_for(f"alerts-{digest.hexdigest()[:26]}", sender)
            set_message_id(connection, [n.id for n in emails], message_id)
            claimed = [
                replace(n, message_id=message_id) if n.channel == "email" else n for n in claimed
            ]
        return claimed

    def send(
        self, account_id: str, claimed: Sequence[NotificationRecord], now: datetime
    ) -> NoticeOutcome:
        """Sends the notices :meth:`claim` took, outside any transaction, and records how each
        went."""
        outcome = NoticeOutcome(notices=len(claimed))
        if not claimed:
            return outcome
        with self._database.read() as connection:
            notices = self._notices(connection, account_id, claimed)
            envelope = _Envelope(
                account=get_account(connection, account_id).name,
                sender=account_email_from(connection, account_id) or self._email_from,
                recipients=[s.target for s in list_subscriptions(connection, account_id, "email")],
                now=now,
            )
            targets = {
                n.subscription_id: webhook_subscription(connection, n.subscription_id)
                for n in claimed
                if n.channel == "webhook" and n.subscription_id is not None
            }
        emails = [n for n in notices if n.notification.channel == "email"]
        if emails:
            self._send_email(envelope, emails, outcome)
        for notice in notices:
            if notice.notification.channel == "webhook":
                target = targets.get(notice.notification.subscription_id or "")
                self._send_webhook(notice, target, now, outcome)
        return outcome

    def _notices(
        self, connection: Connection, account_id: str, claimed: Sequence[NotificationRecord]
    ) -> list[_Notice]:
        alerts: dict[str, AlertRecord] = {}
        stores: dict[str | None, str] = {None: "the account"}
        notices = []
        for notification in claimed:
            alert = alerts.get(notification.alert_id) or get_alert(
                connection, account_id, notification.alert_id
            )
            if alert is None:  # alerts are never deleted; a notice of none is left alone
                continue
            alerts[alert.id] = alert
            if alert.integration_id not in stores:
                integration = find_integration(connection, str(alert.integration_id))
                stores[alert.integration_id] = (
                    f"{integration.name} ({integration.platform})"
                    if integration is not None
                    else f"integration {alert.integration_id}"
                )
            notices.append(_Notice(notification, alert, stores[alert.integration_id]))
        return notices

    def _record(
        self,
        ids: list[str],
        now: datetime,
        outcome: NoticeOutcome,
        error: DeliveryError | None = None,
    ) -> None:
        """Marks notices sent, or after ``error`` failed for good or to be tried again."""
        with self._database.write() as connection:
            if error is None:
                mark_notifications(connection, ids, "sent", now)
            elif error.permanent:
                mark_notifications(connection, ids, "failed", now, error=str(error))
            else:
                retry_notifications(connection, ids, str(error), max_attempts=MAX_ATTEMPTS, now=now)
        if error is not None:
            outcome.failed += len(ids)

    def _send_email(
        self, envelope: _Envelope, notices: list[_Notice], outcome: NoticeOutcome
    ) -> None:
        ids = [n.notification.id for n in notices]
        if not envelope.recipients:
            with self._database.write() as connection:
                mark_notifications(
                    connection, ids, "cancelled", envelope.now, error="no email subscriber"
                )
            return
        message_id = str(notices[0].notification.message_id)
        message = self._message(envelope, notices, message_id)
        try:
            # The outbox folder names its file by this: a repeat is not written twice.
            self._mailer.send(message, message_id.strip("<>").partition("@")[0])
        except DeliveryError as error:
            self._record(ids, envelope.now, outcome, error)
            return
        outcome.emails += 1
        self._record(ids, envelope.now, outcome)

    def _send_webhook(
        self,
        notice: _Notice,
        target: tuple[str, str] | None,
        now: datetime,
        outcome: NoticeOutcome,
    ) -> None:
        notification = notice.notification
        if target is None:  # unsubscribed since the alert opened
            with self._database.write() as connection:
                mark_notifications(
                    connection, [notification.id], "cancelled", now, error="unsubscribed"
                )
            return
        url, token = target
        try:
            self._webhooks.send(
                url,
                str(self._cipher.decrypt(token)["secret"]),
                notification.id,  # the webhook-id: the same on every attempt
                alert_document(notification.event, notice.alert),
                now,
            )
        except DeliveryError as error:
            self._record([notification.id], now, outcome, error)
            return
        outcome.webhooks += 1
        self._record([notification.id], now, outcome)

    def _message(
        self, envelope: _Envelope, notices: list[_Notice], message_id: str
    ) -> EmailMessage:
        base = self._public_url
        context = {
            "account": envelope.account,
            "checked": envelope.now.strftime("%Y-%m-%d %H:%M UTC"),
            "alerts_url": f"{base}/alerts",
            "settings_url": f"{base}/settings",
            "notices": [
                {
                    "event": n.notification.event,
                    "heading": _heading(n),
                    "summary": n.alert.summary,
                    "evidence": [
                        (name, _evidence(value))
                        for name, value in (n.alert.finding.get("evidence") or {}).items()
                    ],
                    "fix": n.alert.finding.get("fix"),
                    "opened": n.alert.opened_at.strftime("%Y-%m-%d %H:%M UTC"),
                    "link": f"{base}/alerts#alert-{n.alert.id}",
                }
                for n in notices
            ],
        }
        message = EmailMessage()
        message["From"] = envelope.sender
        message["To"] = ", ".join(envelope.recipients)
        message["Subject"] = _subject(envelope.account, notices)
        message["Date"] = email.utils.format_datetime(envelope.now)
        message["Message-ID"] = message_id
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to it
        message.set_content(self._templates.get_template("email.txt").render(context))
        message.add_alternative(
            self._templates.get_template("email.html").render(context), subtype="html"
        )
        return message


def _heading(notice: _Notice) -> str:
    alert = notice.alert
    if notice.notification.event == "opened":
        return f"Opened: {alert.code} ({alert.severity}) on {notice.store}"
    return f"Resolved: {alert.code} on {notice.store}"


def _subject(account_name: str, notices: list[_Notice]) -> str:
    """ "[shoptrack] My shop: opened placed_order_drop, credentials_rejected on Woo (woocommerce);
    resolved …", or the counts when that is too long for a subject."""
    parts = []
    for event in ("opened", "resolved"):
        by_store: dict[str, list[str]] = {}
        for notice in notices:
            if notice.notification.event == event:
                by_store.setdefault(notice.store, []).append(notice.alert.code)
        if by_store:
            stores = "; ".join(
                f"{', '.join(codes)} on {store}" for store, codes in by_store.items()
            )
            parts.append(f"{event} {stores}")
    subject = f"[shoptrack] {account_name}: {' / '.join(parts)}"
    if len(subject) <= 180:
        return subject
    opened = sum(1 for n in notices if n.notification.event == "opened")
    resolved = len(notices) - opened
    return f"[shoptrack] {account_name}: {opened} alerts opened, {resolved} resolved"
