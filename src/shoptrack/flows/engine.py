"""The flow engine: walks due flow runs through their steps and sends their messages.

A run is a durable work row (``flow_runs``): its next step and when it is due. ``run_once``
claims due runs like the inbox is claimed (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the single
writer on SQLite) and, in that one transaction, takes every step that needs no outside world —
delays (the run is simply due again later, so a delay of days survives restarts), conditional
splits, exits, skipped messages — recording each in ``flow_activity``.

**Sending is exactly once in effect.** A message step is done in two transactions around the
send:

1. With the run locked, the filters, suppression list and smart sending are checked and the
   *intent* is written (``flow_deliveries``, state ``prepared``, with its Message-ID or
   webhook-id), and the run is leased to this process. Commit.
2. An email's templates are rendered, outside any transaction, in the renderer's process
   (``flows.renderer``: a time limit that really stops them). A template that fails or breaks a
   limit skips the step, recorded as ``template_error`` or ``template_limit``. A slow template
   thus holds no lock: other runs, and other accounts' deliveries, go on meanwhile.
3. The message goes out (SMTP, the outbox folder, or the webhook POST), outside any transaction.
4. The delivery is marked ``sent`` and the run moves past the step — only if this process still
   holds the lease there. Commit.

A failed send (refused, timed out) is known to have failed: it is retried with backoff on the
same intent, up to ``MAX_ATTEMPTS``. Two workers can never send the same step: the lease keeps
the run from being claimed again while its message is out, and the intent is unique per run and
step. What remains is a crash (or a lost database) between the server's acceptance and step 3:
the intent is still ``prepared`` when its lease expires, and nobody can know whether the message
went. The engine then sends it again, **with the same Message-ID / webhook-id** — at least once,
with an idempotency key: mailbox providers (Gmail among them) and Standard Webhooks receivers
drop a repeated id, and the outbox folder does not write a file that exists. This was chosen over
"at most once" (never retrying an uncertain intent) because a crash during the SMTP
conversation would then lose order confirmations silently; the window is the milliseconds between
the server's 250 reply and one commit, and the repeat is recorded as such in the run's activity.
"""

from __future__ import annotations

import dataclasses
import email.utils
import logging
import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Connection, select

from shoptrack.clock import Clock
from shoptrack.connectors import connector_for
from shoptrack.errors import ConfigurationError
from shoptrack.flows.conditions import ConditionContext, describe, failing_condition, holds
from shoptrack.flows.context import TriggerEvent, condition_context, load_profiles, load_triggers
from shoptrack.flows.delivery import DeliveryError, Mailer, WebhookSender, mailer_from_settings
from shoptrack.flows.email import build_message, message_id_for, render_email
from shoptrack.flows.engagement import EmailMetric, record_engagement
from shoptrack.flows.model import (
    Action,
    ConditionalSplit,
    ExitStep,
    FlowStatus,
    MessageStatus,
    SendEmail,
    SendWebhook,
    TimeDelay,
)
from shoptrack.flows.renderer import TemplateRenderer, TemplateRenderError
from shoptrack.flows.tracking import (
    TrackingKey,
    TrackingToken,
    sign_tracking_token,
    track_links,
)
from shoptrack.flows.unsubscribe import UnsubscribeToken, sign_token
from shoptrack.ids import new_id
from shoptrack.outbound import OutboundGuard
from shoptrack.services import Services
from shoptrack.store.accounts import account_settings
from shoptrack.store.database import Database
from shoptrack.store.engagement import delivery_facts, save_links, signing_key
from shoptrack.store.flows import (
    DeliveryRecord,
    FlowRecord,
    RunRecord,
    RunState,
    account_email_from,
    claim_due_runs,
    delivery_for,
    emailed_since,
    finish_run,
    finish_send,
    get_flow,
    hold_for_send,
    mark_delivery,
    move_run,
    prepare_delivery,
    record_activity,
    renew_send_lease,
    restart_delivery,
    retry_run,
    suppress,
    suppression_of,
)
from shoptrack.store.schema import accounts, events, integrations
from shoptrack.store.secrets import CredentialCipher

__all__ = ["MAX_ATTEMPTS", "EngineReport", "FlowEngine", "SenderSettings"]

logger = logging.getLogger(__name__)

# Attempts at a step before the run gives it up (a send) or exits (any other failure).
MAX_ATTEMPTS = 5
# Longer than any send may take (SMTP's timeout is 60 s), so a live sender keeps its run.
LEASE = timedelta(minutes=10)
# A definition cannot loop (the model refuses cycles); this bounds a walk all the same.
_MAX_STEPS_PER_WALK = 200


def _retry_delay(attempts: int) -> timedelta:
    """1, 2, 4, 8 … minutes after the n-th failure, at most an hour."""
    return timedelta(minutes=min(2 ** (attempts - 1), 60))


@dataclass(frozen=True, slots=True)
class SenderSettings:
    """Where links point, who emails are from, and the keys that sign unsubscribe links."""

    public_url: str
    email_from: str
    secret_keys: tuple[str, ...]


@dataclass(slots=True)
class EngineReport:
    """What one round did."""

    claimed: int = 0
    emailed: int = 0
    webhooks_sent: int = 0
    skipped: int = 0
    exited: int = 0
    completed: int = 0
    retried: int = 0

    def add(self, other: EngineReport) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True, slots=True)
class _Email:
    """What an email is made of, read in the transaction, rendered after it."""

    step: SendEmail
    context: dict[str, Any]
    sender: str
    unsubscribe_url: str
    date: datetime
    tracking_key: TrackingKey | None = None  # None: the account tracks no opens and clicks
    campaign: str | None = None  # utm_campaign of its links; None: no UTM parameters


@dataclass(slots=True)
class _Send:
    """A message whose intent is committed, to be rendered and sent outside the transaction."""

    run: RunRecord
    step: SendEmail | SendWebhook
    delivery: DeliveryRecord
    email: _Email | None = None
    document: dict[str, Any] = field(default_factory=dict)
    resumed: bool = False  # an interrupted attempt goes again


# What a step answers when the run stops there: it waits, or it left the flow.
_STOP = object()


def _activity(
    connection: Connection,
    run: RunRecord,
    now: datetime,
    kind: str,
    step_id: str | None,
    *,
    reason: str | None = None,
    detail: str | None = None,
) -> None:
    record_activity(
        connection,
        account_id=run.account_id,
        flow_id=run.flow_id,
        profile_id=run.profile_id,
        run_id=run.id,
        step_id=step_id,
        kind=kind,
        reason=reason,
        detail=detail,
        now=now,
    )


@dataclass(frozen=True, slots=True)
class _Walk:
    """One run being walked in one transaction: what every step reads."""

    connection: Connection
    run: RunRecord
    flow: FlowRecord
    profile: Mapping[str, Any]
    trigger: TriggerEvent
    now: datetime
    report: EngineReport

    @property
    def context(self) -> ConditionContext:
        return condition_context(self.connection, self.run.account_id, self.profile, self.trigger)

    def activity(
        self, kind: str, step_id: str | None, reason: str | None = None, detail: str | None = None
    ) -> None:
        _activity(self.connection, self.run, self.now, kind, step_id, reason=reason, detail=detail)

    def leave(self, reason: str, step_id: str | None, detail: str | None = None) -> None:
        """Ends the run early, for ``reason``."""
        finish_run(self.connection, self.run.id, RunState.EXITED, self.now, reason)
        self.activity("exited", step_id, reason, detail)
        self.report.exited += 1


class FlowEngine:
    """Runs due flow steps; any number of engines (threads, processes, machines) may share a
    PostgreSQL database, one engine per SQLite database."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        sender: SenderSettings,
        mailer: Mailer,
        *,
        cipher: CredentialCipher,
        webhooks: WebhookSender | None = None,
        renderer: TemplateRenderer | None = None,
        batch_size: int = 50,
    ) -> None:
        self._database = database
        self._clock = clock
        self._sender = sender
        self._mailer = mailer
        self._cipher = cipher  # decrypts webhook secrets, just before they sign
        # Without a sender given, webhooks reach public addresses only.
        self._webhooks = webhooks or WebhookSender(OutboundGuard())
        self._renderer = renderer or TemplateRenderer()
        self._batch_size = batch_size
        # Unique per engine, so two engines of one process never share a lease.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"[:64]

    @classmethod
    def from_services(
        cls,
        services: Services,
        *,
        mailer: Mailer | None = None,
        webhooks: WebhookSender | None = None,
        renderer: TemplateRenderer | None = None,
        batch_size: int = 50,
    ) -> FlowEngine:
        """An engine delivering as the settings say: SMTP, or the data dir's outbox folder."""
        settings = services.settings
        sender = SenderSettings(
            public_url=settings.public_url.rstrip("/"),
            email_from=settings.email_from,
            secret_keys=tuple(settings.secret_keys()),
        )
        return cls(
            services.database,
            services.clock,
            sender,
            mailer or mailer_from_settings(settings.smtp_url, settings.data_dir),
            cipher=services.cipher,
            webhooks=webhooks or WebhookSender(services.outbound),
            renderer=renderer,
            batch_size=batch_size,
        )

    def close(self) -> None:
        self._webhooks.close()
        self._renderer.close()

    def run_until_idle(self, max_rounds: int = 10_000) -> EngineReport:
        """Runs rounds until no step is due (for commands and tests)."""
        total = EngineReport()
        for _ in range(max_rounds):
            report = self.run_once()
            total.add(report)
            if report.claimed == 0:
                break
        return total

    def run_once(self) -> EngineReport:
        """Claims due runs, takes their steps, then sends what they prepared."""
        report = EngineReport()
        now = self._clock.now()
        sends: list[_Send] = []
        with self._database.write() as connection:
            runs = claim_due_runs(connection, now, self._batch_size)
            report.claimed = len(runs)
            flows: dict[str, FlowRecord] = {}
            for run in runs:
                try:
                    with connection.begin_nested():
                        if run.flow_id not in flows:
                            flows[run.flow_id] = get_flow(connection, run.account_id, run.flow_id)
                        send = self._walk(connection, run, flows[run.flow_id], now, report)
                    if send is not None:
                        sends.append(send)
                except Exception as error:  # one run's failure is that run's: retried, then exited
                    logger.exception("flow run %s failed at step %s", run.id, run.step_id)
                    with connection.begin_nested():
                        self._step_failed(connection, run, error, now, report)
        for send in sends:
            self._deliver(send, report)
        return report

    # --- walking ---------------------------------------------------------------------------

    def _walk(
        self,
        connection: Connection,
        run: RunRecord,
        flow: FlowRecord,
        now: datetime,
        report: EngineReport,
    ) -> _Send | None:
        """Takes the run's steps until it waits, finishes, or has a message to send."""
        trigger = load_triggers(connection, run.account_id, [run.trigger_event_id]).get(
            run.trigger_event_id
        )
        profile = load_profiles(connection, run.account_id, [run.profile_id]).get(run.profile_id)
        if trigger is None or profile is None:
            _activity(connection, run, now, "exited", run.step_id, reason="erased")
            finish_run(connection, run.id, RunState.EXITED, now, "erased")
            report.exited += 1
            return None
        walk = _Walk(connection, run, flow, profile, trigger, now, report)
        if flow.archived or flow.status is FlowStatus.DRAFT:
            state = "archived" if flow.archived else "draft"
            walk.leave("flow_stopped", run.step_id, f"the flow is {state}")
            return None
        step_id = run.step_id
        for _ in range(_MAX_STEPS_PER_WALK):
            if step_id is None:
                finish_run(connection, run.id, RunState.COMPLETED, now)
                walk.activity("completed", None)
                report.completed += 1
                return None
            step = flow.definition.step(step_id)
            if step is None:
                walk.leave("step_removed", step_id, "the flow no longer has this step")
                return None
            outcome = self._take(walk, step)
            if isinstance(outcome, _Send):
                return outcome
            if outcome is _STOP:
                return None
            step_id = outcome if isinstance(outcome, str) else None
        raise RuntimeError(f"flow {flow.id} took more than {_MAX_STEPS_PER_WALK} steps at once")

    def _take(self, walk: _Walk, step: Action) -> str | _Send | object | None:
        """Takes one step: the id of the next step to take now (None: the end), ``_STOP`` when
        the run waits or left, or the message to send."""
        if isinstance(step, TimeDelay):
            if not step.duration:
                return step.next
            due = walk.now + step.duration
            move_run(walk.connection, walk.run.id, step.next, due)
            walk.activity("waiting", step.id, detail=f"until {due.isoformat()}")
            return _STOP
        if isinstance(step, ConditionalSplit):
            passed = all(holds(condition, walk.context) for condition in step.conditions)
            walk.activity("split", step.id, "yes" if passed else "no")
            return step.yes if passed else step.no
        if isinstance(step, ExitStep):
            walk.leave("exit_step", step.id)
            return _STOP
        outcome = self._message_step(walk, step)
        if isinstance(outcome, _Send) or outcome is _STOP:
            return outcome
        if isinstance(outcome, tuple):
            walk.activity("skipped", step.id, outcome[0], outcome[1])
            walk.report.skipped += 1
        return step.next

    def _message_step(
        self, walk: _Walk, step: SendEmail | SendWebhook
    ) -> _Send | tuple[str, str] | object | None:
        """A message step: the send to make, (code, words) of a skip, ``_STOP`` when the run
        left the flow, or None when the step was done before (go on).

        An intent already there failed (``retry``) or was interrupted (``sending``, its lease
        expired): it goes again with the same Message-ID — unless the profile has left the flow
        or unsubscribed meanwhile, when it is cancelled.
        """
        connection, run, now = walk.connection, walk.run, walk.now
        existing = delivery_for(connection, run.id, step.id)
        if existing is not None and existing.state not in ("sending", "retry"):
            return None
        failing = failing_condition(walk.flow.definition.profile_filters, walk.context)
        skip = self._skip_reason(walk, step, repeat=existing is not None)
        if existing is not None and (failing is not None or skip is not None):
            reason = "the profile left the flow" if skip is None else skip[1]
            mark_delivery(connection, existing.id, "cancelled", now, reason)
        if failing is not None:
            walk.leave("profile_filter", step.id, f"no longer matches: {describe(failing)}")
            return _STOP
        if skip is not None:
            return skip
        if existing is None:
            send = self._first_attempt(walk, step)
        else:
            send = self._build(walk, step, existing)
            send.resumed = existing.state == "sending"
            send.delivery = restart_delivery(connection, existing)
        hold_for_send(connection, run.id, step.id, owner=self.owner, now=now, duration=LEASE)
        return send

    def _first_attempt(self, walk: _Walk, step: SendEmail | SendWebhook) -> _Send:
        """Writes the message's intent and gathers what it is made of (rendered later)."""
        connection, run = walk.connection, walk.run
        delivery_id = new_id()
        if isinstance(step, SendEmail):
            recipient = str(walk.profile["email"])
            message_id = message_id_for(delivery_id, self._from(connection, run.account_id, step))
        else:
            recipient, message_id = step.url, f"msg_{delivery_id}"
        delivery = prepare_delivery(
            connection,
            run=run,
            step_id=step.id,
            channel="email" if isinstance(step, SendEmail) else "webhook",
            recipient=recipient,
            message_id=message_id,
            delivery_id=delivery_id,
            subject=None,
            now=walk.now,
        )
        return self._build(walk, step, delivery)

    def _skip_reason(
        self, walk: _Walk, step: SendEmail | SendWebhook, *, repeat: bool
    ) -> tuple[str, str] | None:
        """Why this message is not sent, as (code, words), or None to send it. A repeated
        attempt skips the smart-sending check (its own first attempt would count)."""
        if walk.flow.status is FlowStatus.MANUAL:
            return "flow_manual", "the flow is manual: messages are not sent on their own"
        if step.status is not MessageStatus.LIVE:
            return f"message_{step.status.value}", f"the message is {step.status.value}"
        if isinstance(step, SendWebhook):
            return None
        return self._email_skip_reason(walk, step, repeat=repeat)

    def _email_skip_reason(
        self, walk: _Walk, step: SendEmail, *, repeat: bool
    ) -> tuple[str, str] | None:
        """The email's own reasons: no address, a suppressed one, smart sending."""
        address = walk.profile.get("email")
        if not address:
            return "no_email", "the profile has no email address"
        suppressed = suppression_of(walk.connection, walk.run.account_id, str(address))
        if suppressed is not None:
            code = "unsubscribed" if suppressed == "unsubscribed" else "suppressed"
            return code, f"{address} is on the suppression list ({suppressed})"
        hours = walk.flow.definition.smart_sending_hours
        if step.smart_sending and hours > 0 and not repeat:
            since = walk.now - timedelta(hours=hours)
            if emailed_since(walk.connection, walk.run.account_id, walk.run.profile_id, since):
                return "smart_sending", f"the profile was emailed in the last {hours} hours"
        return None

    def _from(self, connection: Connection, account_id: str, step: SendEmail) -> str:
        """The message's own From, else the account's, else ``SHOPTRACK_EMAIL_FROM``."""
        if step.from_email:
            if step.from_label:
                return email.utils.formataddr((step.from_label, step.from_email))
            return step.from_email
        return account_email_from(connection, account_id) or self._sender.email_from

    def _build(self, walk: _Walk, step: SendEmail | SendWebhook, delivery: DeliveryRecord) -> _Send:
        """What the email of a delivery is made of (rendered after the transaction), or the
        webhook's document."""
        run, flow, trigger = walk.run, walk.flow, walk.trigger
        if isinstance(step, SendWebhook):
            document = {
                "type": "flow.webhook",
                "flow": {"id": flow.id, "name": flow.name},
                "step": step.id,
                "profile": dict(walk.profile),
                "event": trigger.document(),
            }
            return _Send(run, step, delivery, document=document)
        organization = walk.connection.execute(
            select(accounts.c.name).where(accounts.c.id == run.account_id)
        ).scalar_one()
        token = sign_token(
            self._sender.secret_keys[0],
            UnsubscribeToken(run.account_id, delivery.recipient, delivery.id),
        )
        unsubscribe_url = f"{self._sender.public_url}/unsubscribe/{token}"
        settings = account_settings(walk.connection, run.account_id)
        value = trigger.value
        context = {
            "profile": walk.profile,
            "person": walk.profile,
            "event": {
                **trigger.properties,
                "$value": None if value is None else float(value),
                "$currency": trigger.currency,
            },
            "event_value": value,
            "currency": trigger.currency,
            "organization": organization,
            "flow": {"id": flow.id, "name": flow.name},
            "unsubscribe_url": unsubscribe_url,
            "store_url": self._store_url(walk.connection, run.account_id, trigger.id),
        }
        email = _Email(
            step=step,
            context=context,
            sender=self._from(walk.connection, run.account_id, step),
            unsubscribe_url=unsubscribe_url,
            date=walk.now,
            tracking_key=signing_key(walk.connection, walk.now)
            if settings.email_tracking
            else None,
            campaign=flow.name if settings.utm_parameters else None,
        )
        return _Send(run, step, delivery, email=email)

    def _store_url(self, connection: Connection, account_id: str, event_id: str) -> str | None:
        """The address of the store the trigger event came from, else of the account's first
        store that has one: where library emails link to."""
        source = connection.execute(
            select(events.c.integration_id).where(
                events.c.account_id == account_id, events.c.id == event_id
            )
        ).scalar()
        rows = connection.execute(
            select(integrations.c.id, integrations.c.platform, integrations.c.credentials)
            .where(integrations.c.account_id == account_id, integrations.c.removed_at.is_(None))
            .order_by(integrations.c.id)
        ).all()
        for row in sorted(rows, key=lambda row: row.id != source):
            try:
                connector = connector_for(row.platform)
                credentials = connector.credentials_model.model_validate(
                    self._cipher.decrypt(row.credentials)
                )
                url = connector.storefront_url(credentials)
            except (KeyError, ValueError, ConfigurationError):  # unreadable: try the next one
                continue
            if url:
                return url
        return None

    # --- sending ---------------------------------------------------------------------------

    def _deliver(self, send: _Send, report: EngineReport) -> None:
        """Renders an email and sends the message, outside any transaction, then records the
        outcome — only while this engine still holds the run's lease there (else another one
        took the run over)."""
        message: EmailMessage | None = None
        links: tuple[str, ...] = ()
        error: DeliveryError | None = None
        if send.email is not None:
            try:
                message, links = self._render(send.email, send.delivery)
            except TemplateRenderError as failure:
                detail = f"the message could not be rendered: {failure.detail}"
                error = DeliveryError(detail, permanent=True, reason=failure.reason)
            except OSError as failure:  # the renderer's process did not start: try again later
                logger.exception("the template renderer is unavailable")
                error = DeliveryError(f"the template renderer is unavailable: {failure}")
        if error is None:
            if not self._still_ours(send, links):
                logger.warning("flow run %s was taken over before sending", send.run.id)
                return
            error = self._send(send, message)
        subject = None if message is None else str(message["Subject"])
        outcome = self._record(send, error, subject=subject)
        if outcome == "sent":
            if isinstance(send.step, SendEmail):
                report.emailed += 1
            else:
                report.webhooks_sent += 1
        elif outcome == "failed":
            report.skipped += 1
        elif outcome == "retry":
            report.retried += 1

    def _render(
        self, email: _Email, delivery: DeliveryRecord
    ) -> tuple[EmailMessage, tuple[str, ...]]:
        """The email of a delivery, its templates rendered by the renderer's process, with its
        links tracked (and given UTM parameters) as the account's settings say; the addresses
        of its tracked links by position."""
        rendered = render_email(email.step, email.context, self._renderer)
        public, key = self._sender.public_url, email.tracking_key

        def click_url(position: int) -> str:
            assert key is not None
            token = sign_tracking_token(key, TrackingToken("click", delivery.id, position))
            return f"{public}/t/c/{token}"

        open_url = None
        if key is not None:
            opened = sign_tracking_token(key, TrackingToken("open", delivery.id))
            open_url = f"{public}/t/o/{opened}"
        tracked = track_links(
            rendered.html,
            rendered.text,
            unsubscribe_url=email.unsubscribe_url,
            campaign=email.campaign,
            click_url=click_url if key is not None else None,
            open_url=open_url,
        )
        message = build_message(
            dataclasses.replace(rendered, html=tracked.html, text=tracked.text),
            sender=email.sender,
            recipient=delivery.recipient,
            message_id=delivery.message_id,
            unsubscribe_url=email.unsubscribe_url,
            date=email.date,
        )
        return message, tracked.links

    def _record(
        self, send: _Send, error: DeliveryError | None, *, subject: str | None = None
    ) -> str | None:
        """Records a send's outcome while this engine holds the run's lease: ``sent``;
        ``failed`` (the step is skipped for ``error.reason``: permanent, or out of attempts);
        ``retry``; None when another engine took the run over."""
        step, run, delivery = send.step, send.run, send.delivery
        now = self._clock.now()
        with self._database.write() as connection:
            if error is not None and not error.permanent and delivery.attempts < MAX_ATTEMPTS:
                due = now + _retry_delay(delivery.attempts)
                if not retry_run(
                    connection, run.id, run.attempts, str(error), due, owner=self.owner
                ):
                    logger.warning("flow run %s was taken over while sending", run.id)
                    return None
                mark_delivery(connection, delivery.id, "retry", now, str(error), subject=subject)
                return "retry"
            if not finish_send(
                connection, run.id, owner=self.owner, step_id=step.id, next_step=step.next, now=now
            ):
                logger.warning("flow run %s was taken over while sending", run.id)
                return None
            if error is not None:
                mark_delivery(connection, delivery.id, "failed", now, str(error), subject=subject)
                _activity(
                    connection, run, now, "skipped", step.id, reason=error.reason, detail=str(error)
                )
                if error.reason == "bounced":
                    self._bounced(connection, delivery, now, str(error))
                return "failed"
            mark_delivery(connection, delivery.id, "sent", now, subject=subject)
            if isinstance(step, SendEmail):
                facts = delivery_facts(connection, delivery.id)
                if facts is not None:
                    record_engagement(connection, facts, EmailMetric.RECEIVED, now)
            again = " (sent again after an interrupted attempt, same id)" if send.resumed else ""
            kind = "emailed" if isinstance(step, SendEmail) else "webhook_sent"
            _activity(connection, run, now, kind, step.id, detail=f"{delivery.recipient}{again}")
            return "sent"

    def _bounced(
        self, connection: Connection, delivery: DeliveryRecord, now: datetime, reason: str
    ) -> None:
        """A permanent refusal of the address: Bounced Email, and the address suppressed."""
        facts = delivery_facts(connection, delivery.id)
        if facts is not None:
            properties = {"Bounce Type": "hard", "Reason": reason}
            record_engagement(connection, facts, EmailMetric.BOUNCED, now, properties=properties)
            suppress(connection, facts.account_id, delivery.recipient, "bounced", now)

    def _still_ours(self, send: _Send, links: tuple[str, ...] = ()) -> bool:
        """Renews the lease on a message about to go out: earlier sends of the batch may have
        outlasted the lease taken when it was claimed, and another engine taken the run. The
        addresses of the message's tracked links are stored meanwhile, before any click."""
        with self._database.write() as connection:
            ours = renew_send_lease(
                connection,
                send.run.id,
                send.step.id,
                owner=self.owner,
                now=self._clock.now(),
                duration=LEASE,
            )
            if ours and links:
                save_links(connection, send.delivery.id, links)
            return ours

    def _send(self, send: _Send, message: EmailMessage | None) -> DeliveryError | None:
        """The email or webhook sent; the refusal, when there is one."""
        step = send.step
        try:
            if message is not None:
                self._mailer.send(message, send.delivery.id)
            elif isinstance(step, SendWebhook):
                self._webhooks.send(
                    step.url,
                    str(self._cipher.decrypt(step.secret_encrypted)["secret"]),
                    send.delivery.message_id,
                    send.document,
                    self._clock.now(),
                )
        except DeliveryError as failure:
            return failure
        except ConfigurationError as failure:  # SHOPTRACK_SECRET_KEY changed: fixed, it goes
            return DeliveryError(failure.detail)
        except Exception as failure:  # a transport's unexpected fault is retried like a refusal
            logger.exception("delivery %s failed unexpectedly", send.delivery.id)
            if isinstance(step, SendWebhook):  # no words of the network's (see WebhookSender)
                return DeliveryError(f"webhook to {step.url}: unreachable", reason="unreachable")
            return DeliveryError(f"{type(failure).__name__}: {failure}")
        return None

    def _step_failed(
        self,
        connection: Connection,
        run: RunRecord,
        error: BaseException,
        now: datetime,
        report: EngineReport,
    ) -> None:
        attempts = run.attempts + 1
        text = f"{type(error).__name__}: {error}"
        if attempts >= MAX_ATTEMPTS:
            finish_run(connection, run.id, RunState.EXITED, now, "error")
            _activity(connection, run, now, "exited", run.step_id, reason="error", detail=text)
            report.exited += 1
            return
        retry_run(connection, run.id, attempts, text, now + _retry_delay(attempts))
        report.retried += 1
