"""The flow engine: walks due flow runs through their steps and sends their messages.

A run is a durable work row (``flow_runs``): its next step and when it is due. ``run_once``
claims due runs like the inbox is claimed (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the single
writer on SQLite) and, in that one transaction, takes every step that needs no outside world —
delays (the run is simply due again later, so a delay of days survives restarts), conditional
splits, exits, skipped messages — recording each in ``flow_activity``.

A message step writes the message's intent and leases the run in that transaction; the message
is rendered and sent after it (``flows.sending``, which explains why that is exactly once in
effect).
"""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from shoptrack.connectors import connector_for
from shoptrack.errors import ConfigurationError
from shoptrack.flows.conditions import ConditionContext, describe, failing_condition, holds
from shoptrack.flows.context import TriggerEvent, condition_context, load_profiles, load_triggers
from shoptrack.flows.delivery import Mailer, WebhookSender, mailer_from_settings
from shoptrack.flows.email import message_id_for
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
from shoptrack.flows.renderer import TemplateRenderer
from shoptrack.flows.sending import (
    LEASE,
    MAX_ATTEMPTS,
    EmailParts,
    MessageSender,
    Outcome,
    PendingSend,
    SenderSettings,
    retry_delay,
)
from shoptrack.flows.unsubscribe import UnsubscribeToken, sign_token
from shoptrack.ids import lease_owner, new_id
from shoptrack.services import Services
from shoptrack.store.accounts import account_settings, get_account
from shoptrack.store.engagement import signing_key
from shoptrack.store.events import event_integration
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
    get_flow,
    hold_for_send,
    mark_delivery,
    move_run,
    prepare_delivery,
    record_run_activity,
    restart_delivery,
    retry_run,
    suppression_of,
)
from shoptrack.store.integrations import list_integrations

__all__ = ["EngineReport", "FlowEngine"]

logger = logging.getLogger(__name__)

# A definition cannot loop (the model refuses cycles); this bounds a walk all the same.
_MAX_STEPS_PER_WALK = 200


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

    def count(self, send: PendingSend, outcome: Outcome | None) -> None:
        """Counts what became of a send (nothing when another engine took its run over)."""
        if outcome == "sent":
            if isinstance(send.step, SendEmail):
                self.emailed += 1
            else:
                self.webhooks_sent += 1
        elif outcome == "failed":
            self.skipped += 1
        elif outcome == "retry":
            self.retried += 1


# What a step answers when the run stops there: it waits, or it left the flow.
_STOP = object()


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
        record_run_activity(
            self.connection, self.run, self.now, kind, step_id, reason=reason, detail=detail
        )

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
        services: Services,
        sender: SenderSettings,
        sending: MessageSender,
        *,
        batch_size: int = 50,
    ) -> None:
        self._database = services.database
        self._clock = services.clock
        self._cipher = services.cipher  # decrypts store credentials, for the store's address
        self._sender = sender
        self._sending = sending  # sends what a round prepared, under the engine's leases
        self._batch_size = batch_size

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
        sending = MessageSender(
            services.database,
            services.clock,
            sender,
            mailer or mailer_from_settings(settings.smtp_url, settings.data_dir),
            cipher=services.cipher,
            webhooks=webhooks or WebhookSender(services.outbound),
            renderer=renderer or TemplateRenderer(),
            # Unique per engine, so two engines of one process never share a lease.
            owner=lease_owner(per_instance=True),
        )
        return cls(services, sender, sending, batch_size=batch_size)

    def close(self) -> None:
        self._sending.close()

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
        sends: list[PendingSend] = []
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
            report.count(send, self._sending.deliver(send))
        return report

    # --- walking ---------------------------------------------------------------------------

    def _walk(
        self,
        connection: Connection,
        run: RunRecord,
        flow: FlowRecord,
        now: datetime,
        report: EngineReport,
    ) -> PendingSend | None:
        """Takes the run's steps until it waits, finishes, or has a message to send."""
        trigger = load_triggers(connection, run.account_id, [run.trigger_event_id]).get(
            run.trigger_event_id
        )
        profile = load_profiles(connection, run.account_id, [run.profile_id]).get(run.profile_id)
        if trigger is None or profile is None:
            record_run_activity(connection, run, now, "exited", run.step_id, reason="erased")
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
            if isinstance(outcome, PendingSend):
                return outcome
            if outcome is _STOP:
                return None
            step_id = outcome if isinstance(outcome, str) else None
        raise RuntimeError(f"flow {flow.id} took more than {_MAX_STEPS_PER_WALK} steps at once")

    def _take(self, walk: _Walk, step: Action) -> str | PendingSend | object | None:
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
        if isinstance(outcome, PendingSend) or outcome is _STOP:
            return outcome
        if isinstance(outcome, tuple):
            walk.activity("skipped", step.id, outcome[0], outcome[1])
            walk.report.skipped += 1
        return step.next

    def _message_step(
        self, walk: _Walk, step: SendEmail | SendWebhook
    ) -> PendingSend | tuple[str, str] | object | None:
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
        hold_for_send(
            connection, run.id, step.id, owner=self._sending.owner, now=now, duration=LEASE
        )
        return send

    def _first_attempt(self, walk: _Walk, step: SendEmail | SendWebhook) -> PendingSend:
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

    def _build(
        self, walk: _Walk, step: SendEmail | SendWebhook, delivery: DeliveryRecord
    ) -> PendingSend:
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
            return PendingSend(run, step, delivery, document=document)
        organization = get_account(walk.connection, run.account_id).name
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
        email = EmailParts(
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
        return PendingSend(run, step, delivery, email=email)

    def _store_url(self, connection: Connection, account_id: str, event_id: str) -> str | None:
        """The address of the store the trigger event came from, else of the account's first
        store that has one: where library emails link to."""
        source = event_integration(connection, account_id, event_id)
        stores = list_integrations(connection, account_id)
        for integration in sorted(stores, key=lambda integration: integration.id != source):
            try:
                connector = connector_for(integration.platform)
                credentials = connector.credentials_model.model_validate(
                    self._cipher.decrypt(integration.credentials_token)
                )
                url = connector.storefront_url(credentials)
            except (KeyError, ValueError, ConfigurationError):  # unreadable: try the next one
                continue
            if url:
                return url
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
            record_run_activity(
                connection, run, now, "exited", run.step_id, reason="error", detail=text
            )
            report.exited += 1
            return
        retry_run(connection, run.id, attempts, text, now + retry_delay(attempts))
        report.retried += 1
