"""Flow deliveries in the database: the messages runs send (emails and webhooks), each written
as an intent before it goes out and kept whatever becomes of it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update

from shoptrack.store._rows import from_row
from shoptrack.store.flows._runs import RunRecord
from shoptrack.store.schema import flow_deliveries

__all__ = [
    "DeliveryRecord",
    "delivery_for",
    "emailed_since",
    "emails_sent_between",
    "mark_delivery",
    "prepare_delivery",
    "restart_delivery",
]


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A message a run sends: its intent, kept whatever becomes of it. ``state`` is
    ``sending`` while an attempt is out (or was interrupted), ``retry`` after a failed attempt,
    then ``sent``, ``failed`` or ``cancelled``; ``attempts`` counts the attempts started."""

    id: str
    run_id: str
    step_id: str
    channel: str
    recipient: str
    message_id: str
    state: str
    attempts: int


def _delivery(row: Any) -> DeliveryRecord:
    return from_row(DeliveryRecord, row, run_id=row.flow_run_id)


def delivery_for(connection: Connection, run_id: str, step_id: str) -> DeliveryRecord | None:
    """The intent of a run's message step, if one was written."""
    row = connection.execute(
        select(flow_deliveries).where(
            flow_deliveries.c.flow_run_id == run_id, flow_deliveries.c.step_id == step_id
        )
    ).first()
    return None if row is None else _delivery(row)


def prepare_delivery(
    connection: Connection,
    *,
    run: RunRecord,
    step_id: str,
    channel: str,
    recipient: str,
    message_id: str,
    delivery_id: str,
    subject: str | None,
    now: datetime,
) -> DeliveryRecord:
    """Writes a message's intent as its first attempt starts (state ``sending``)."""
    connection.execute(
        flow_deliveries.insert().values(
            id=delivery_id,
            account_id=run.account_id,
            flow_id=run.flow_id,
            flow_run_id=run.id,
            step_id=step_id,
            profile_id=run.profile_id,
            channel=channel,
            recipient=recipient,
            message_id=message_id,
            subject=subject,
            state="sending",
            attempts=1,
            created_at=now,
        )
    )
    found = delivery_for(connection, run.id, step_id)
    if found is None:
        raise LookupError("a delivery was written and cannot be read back")
    return found


def restart_delivery(connection: Connection, delivery: DeliveryRecord) -> DeliveryRecord:
    """Starts another attempt at a delivery (state ``sending``, one more attempt)."""
    restarted = replace(delivery, state="sending", attempts=delivery.attempts + 1)
    connection.execute(
        update(flow_deliveries)
        .where(flow_deliveries.c.id == delivery.id)
        .values(state=restarted.state, attempts=restarted.attempts)
    )
    return restarted


def mark_delivery(
    connection: Connection,
    delivery_id: str,
    state: str,
    now: datetime,
    error: str | None = None,
    *,
    subject: str | None = None,
) -> None:
    """Records an attempt's outcome: ``sent``; ``failed`` for good; ``retry``; or
    ``cancelled`` (not sent again: the profile unsubscribed or left the flow meanwhile); and an
    email's subject once its templates are rendered."""
    values: dict[str, Any] = {
        "state": state,
        "last_error": None if error is None else error[:2000],
        "sent_at": now if state == "sent" else None,
    }
    if subject is not None:
        values["subject"] = subject
    connection.execute(
        update(flow_deliveries).where(flow_deliveries.c.id == delivery_id).values(**values)
    )


def emailed_since(
    connection: Connection, account_id: str, profile_id: str, since: datetime
) -> bool:
    """Whether the profile was sent (or is being sent) an email since ``since``."""
    found = connection.execute(
        select(flow_deliveries.c.id)
        .where(
            flow_deliveries.c.account_id == account_id,
            flow_deliveries.c.profile_id == profile_id,
            flow_deliveries.c.channel == "email",
            flow_deliveries.c.state.in_(["sending", "retry", "sent"]),
            flow_deliveries.c.created_at >= since,
        )
        .limit(1)
    ).first()
    return found is not None


def emails_sent_between(
    connection: Connection, account_id: str, after: datetime, until: datetime
) -> list[Row[Any]]:
    """The ids and recipients of the account's emails sent after ``after``, until ``until``."""
    return list(
        connection.execute(
            select(flow_deliveries.c.id, flow_deliveries.c.recipient).where(
                flow_deliveries.c.account_id == account_id,
                flow_deliveries.c.channel == "email",
                flow_deliveries.c.state == "sent",
                flow_deliveries.c.sent_at <= until,
                flow_deliveries.c.sent_at > after,
            )
        )
    )
