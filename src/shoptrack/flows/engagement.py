"""What became of a flow email, recorded as events on the recipient's profile in Klaviyo's names
— Received Email, Opened Email, Clicked Email, Bounced Email, Unsubscribed — on metrics of the
source ``email``, each naming the flow (``$flow``), the message (``$message``) and, for a click,
the link.

Each is recorded once, by its event key: one Received or Bounced Email per delivery, one
Unsubscribed per delivery, and at most one Opened Email per delivery and one Clicked Email per
link in each hour (a mail client that fetches the pixel on every view records one open an hour;
a machine's opens and clicks are counted apart, so that they never hide a person's).
An open by a mail privacy proxy and a click by a link scanner are recorded, flagged
(``Machine Open`` / ``Bot Click``, with the reason), and never credited with an order.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection

from shoptrack.domain.events import EventDraft, Person
from shoptrack.store.engagement import DeliveryFacts, add_engagement, delivery_facts
from shoptrack.store.metrics import EMAIL_SOURCE
from shoptrack.store.recording import Recording, record_events

__all__ = ["EmailMetric", "record_engagement", "record_unsubscribe"]


class EmailMetric(StrEnum):
    """Klaviyo's email metrics, and the engagement kind each records."""

    RECEIVED = "Received Email"
    OPENED = "Opened Email"
    CLICKED = "Clicked Email"
    BOUNCED = "Bounced Email"
    UNSUBSCRIBED = "Unsubscribed"

    @property
    def kind(self) -> str:
        return _KINDS[self]


_KINDS = {
    EmailMetric.RECEIVED: "received",
    EmailMetric.OPENED: "opened",
    EmailMetric.CLICKED: "clicked",
    EmailMetric.BOUNCED: "bounced",
    EmailMetric.UNSUBSCRIBED: "unsubscribed",
}


def _unique_id(
    metric: EmailMetric, facts: DeliveryFacts, at: datetime, link: int | None, machine: bool
) -> str:
    # A machine's open or click has hours of its own: a proxy's prefetch never hides the
    # reader's own open of the same hour.
    kind = f"{metric.kind}-machine" if machine else metric.kind
    if metric is EmailMetric.OPENED:
        return f"{facts.id}:{kind}:{at:%Y-%m-%dT%H}"
    if metric is EmailMetric.CLICKED:
        return f"{facts.id}:{kind}:{link}:{at:%Y-%m-%dT%H}"
    return f"{facts.id}:{kind}"


def record_engagement(
    connection: Connection,
    facts: DeliveryFacts,
    metric: EmailMetric,
    at: datetime,
    *,
    link: int | None = None,
    flag: str | None = None,
    properties: Mapping[str, Any] | None = None,
) -> bool:
    """Records ``metric`` of the email ``facts`` at ``at`` (flagged as a machine's for the
    reason ``flag``); False when it was recorded already (within its hour, for opens and
    clicks)."""
    document: dict[str, Any] = {**facts.properties(), **(properties or {})}
    if flag is not None:
        document["Bot Click" if metric is EmailMetric.CLICKED else "Machine Open"] = True
        document["Flagged Because"] = flag
    draft = EventDraft(
        metric=metric.value,
        person=Person(profile_id=facts.profile_id),
        time=at,
        unique_id=_unique_id(metric, facts, at, link, flag is not None),
        properties=document,
    )
    recorded = record_events(
        connection, [Recording(facts.account_id, draft, source=EMAIL_SOURCE)], at
    )
    if not recorded:
        return False
    add_engagement(
        connection,
        facts,
        kind=metric.kind,
        at=at,
        event_id=recorded[0].id,
        link=link,
        machine=flag is not None,
    )
    return True


def record_unsubscribe(
    connection: Connection, account_id: str, delivery_id: str | None, at: datetime
) -> bool:
    """Unsubscribed, through the link of the email ``delivery_id`` (of ``account_id``); False
    when the link names no email that still exists, or it was recorded already."""
    if delivery_id is None:
        return False
    facts = delivery_facts(connection, delivery_id, account_id)
    if facts is None:
        return False
    return record_engagement(connection, facts, EmailMetric.UNSUBSCRIBED, at)
