"""Sending flow messages: the part of a message step that happens outside the walk's transaction.

**Sending is exactly once in effect.** A message step is done in two transactions around the
send:

1. With the run locked, the filters, suppression list and smart sending are checked and the
   *intent* is written (``flow_deliveries``, state ``prepared``, with its Message-ID or
   webhook-id), and the run is leased to this process. Commit. (``flows.engine`` does this.)
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
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Literal

from sqlalchemy import Connection

from shoptrack.clock import Clock
from shoptrack.errors import ConfigurationError
from shoptrack.flows.delivery import DeliveryError, Mailer, WebhookSender
from shoptrack.flows.email import build_message, render_email
from shoptrack.flows.engagement import EmailMetric, record_engagement
from shoptrack.flows.model import SendEmail, SendWebhook
from shoptrack.flows.renderer import TemplateRenderer, TemplateRenderError
from shoptrack.flows.tracking import TrackingKey, TrackingToken, sign_tracking_token, track_links
from shoptrack.store.database import Database
from shoptrack.store.engagement import delivery_facts, save_links
from shoptrack.store.flows import (
    DeliveryRecord,
    RunRecord,
    finish_send,
    mark_delivery,
    record_run_activity,
    renew_send_lease,
    retry_run,
    suppress,
)
from shoptrack.store.secrets import CredentialCipher

__all__ = [
    "LEASE",
    "MAX_ATTEMPTS",
    "EmailParts",
    "MessageSender",
    "Outcome",
    "PendingSend",
    "SenderSettings",
    "retry_delay",
]

logger = logging.getLogger(__name__)

# Attempts at a step before the run gives it up (a send) or exits (any other failure).
MAX_ATTEMPTS = 5
# Longer than any send may take (SMTP's timeout is 60 s), so a live sender keeps its run.
LEASE = timedelta(minutes=10)

# What became of a send: sent; given up (``failed``: the step is skipped); to be tried again.
Outcome = Literal["sent", "failed", "retry"]


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4, 8 … minutes after the n-th failure, at most an hour."""
    return timedelta(minutes=min(2 ** (attempts - 1), 60))


@dataclass(frozen=True, slots=True)
class SenderSettings:
    """Where links point, who emails are from, and the keys that sign unsubscribe links."""

    public_url: str
    email_from: str
    secret_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EmailParts:
    """What an email is made of, read in the transaction, rendered after it."""

    step: SendEmail
    context: dict[str, Any]
    sender: str
    unsubscribe_url: str
    date: datetime
    tracking_key: TrackingKey | None = None  # None: the account tracks no opens and clicks
    campaign: str | None = None  # utm_campaign of its links; None: no UTM parameters


@dataclass(slots=True)
class PendingSend:
    """A message whose intent is committed, to be rendered and sent outside the transaction."""

    run: RunRecord
    step: SendEmail | SendWebhook
    delivery: DeliveryRecord
    email: EmailParts | None = None
    document: dict[str, Any] = field(default_factory=dict)
    resumed: bool = False  # an interrupted attempt goes again


class MessageSender:
    """Renders and sends the messages whose intents a flow engine committed, and records what
    became of them while the engine (``owner``) still holds their runs' leases."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        sender: SenderSettings,
        mailer: Mailer,
        *,
        cipher: CredentialCipher,
        webhooks: WebhookSender,
        renderer: TemplateRenderer,
        owner: str,
    ) -> None:
        self._database = database
        self._clock = clock
        self._sender = sender
        self._mailer = mailer
        self._cipher = cipher  # decrypts webhook secrets, just before they sign
        self._webhooks = webhooks
        self._renderer = renderer
        self.owner = owner  # the engine whose leases this sender works under

    def close(self) -> None:
        self._webhooks.close()
        self._renderer.close()

    def deliver(self, send: PendingSend) -> Outcome | None:
        """Renders an email and sends the message, outside any transaction, then records the
        outcome — only while the engine still holds the run's lease there (else another one
        took the run over, and None is answered)."""
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
                return None
            error = self._send(send, message)
        subject = None if message is None else str(message["Subject"])
        return self._record(send, error, subject=subject)

    def _render(
        self, email: EmailParts, delivery: DeliveryRecord
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
        self, send: PendingSend, error: DeliveryError | None, *, subject: str | None = None
    ) -> Outcome | None:
        """Records a send's outcome while the engine holds the run's lease: ``sent``;
        ``failed`` (the step is skipped for ``error.reason``: permanent, or out of attempts);
        ``retry``; None when another engine took the run over."""
        step, run, delivery = send.step, send.run, send.delivery
        now = self._clock.now()
        with self._database.write() as connection:
            if error is not None and not error.permanent and delivery.attempts < MAX_ATTEMPTS:
                due = now + retry_delay(delivery.attempts)
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
                record_run_activity(
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
            record_run_activity(
                connection, run, now, kind, step.id, detail=f"{delivery.recipient}{again}"
            )
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

    def _still_ours(self, send: PendingSend, links: tuple[str, ...] = ()) -> bool:
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

    def _send(self, send: PendingSend, message: EmailMessage | None) -> DeliveryError | None:
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
