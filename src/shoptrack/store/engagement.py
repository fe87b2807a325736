"""Flow emails' engagement in the database: tracking keys, the links of each sent email, the
engagement rows beside their events, and orders credited to flows. Every query of an account's
data is scoped by account (a delivery id names one account's delivery)."""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from shoptrack.flows.tracking import TrackingKey
from shoptrack.store._rows import from_row, text_value
from shoptrack.store.recording import RecordedEvent
from shoptrack.store.schema import (
    email_engagements,
    email_links,
    events,
    flow_attributions,
    flow_deliveries,
    flows,
    tracking_keys,
)
from shoptrack.store.sql import in_values, insert_ignore

__all__ = [
    "DeliveryFacts",
    "Touch",
    "add_engagement",
    "credit_order",
    "delivery_facts",
    "erase_profile_engagement",
    "link_address",
    "save_links",
    "signing_key",
    "touches",
    "tracking_secret",
]

# Profiles named in one statement (well below SQLite's limit of bound parameters).
_PROFILES_PER_STATEMENT = 500


def signing_key(connection: Connection, now: datetime) -> TrackingKey:
    """The newest tracking key, made (32 random bytes) the first time one is needed."""
    newest = select(tracking_keys).order_by(tracking_keys.c.id.desc()).limit(1)
    row = connection.execute(newest).first()
    if row is None:
        values = {"id": 1, "secret": secrets.token_bytes(32), "created_at": now}
        insert_ignore(connection, tracking_keys, values, conflict=("id",))
        row = connection.execute(newest).one()
    return TrackingKey(int(row.id), bytes(row.secret))


def tracking_secret(connection: Connection, key_id: int) -> bytes | None:
    """The secret of tracking key ``key_id``, None when there is no such key."""
    value = connection.execute(
        select(tracking_keys.c.secret).where(tracking_keys.c.id == key_id)
    ).scalar()
    return None if value is None else bytes(value)


def save_links(connection: Connection, delivery_id: str, links: Sequence[str]) -> None:
    """Stores the addresses of a delivery's tracked links by position. An address stored
    already stays: a message sent before (a retry after an uncertain attempt) may carry it."""
    for position, url in enumerate(links):
        insert_ignore(
            connection,
            email_links,
            {"delivery_id": delivery_id, "position": position, "url": url},
            conflict=("delivery_id", "position"),
        )


def link_address(connection: Connection, delivery_id: str, position: int) -> str | None:
    """Where link ``position`` of a delivery leads, None when it has no such link."""
    return text_value(
        connection,
        email_links.c.url,
        email_links.c.delivery_id == delivery_id,
        email_links.c.position == position,
    )


@dataclass(frozen=True, slots=True)
class DeliveryFacts:
    """What engagement events say about the email they concern."""

    id: str
    account_id: str
    flow_id: str
    flow_name: str
    step_id: str
    step_name: str | None
    profile_id: str
    recipient: str
    subject: str | None
    state: str
    sent_at: datetime | None

    def properties(self) -> dict[str, Any]:
        """The properties every engagement event of this email has (Klaviyo's ``$flow`` and
        ``$message``, and their names)."""
        return {
            "$flow": self.flow_id,
            "$message": self.step_id,
            "Flow Name": self.flow_name,
            "Message Name": self.step_name or self.step_id,
            "Subject": self.subject,
            "Email Domain": self.recipient.rpartition("@")[2],
        }


def delivery_facts(
    connection: Connection, delivery_id: str, account_id: str | None = None
) -> DeliveryFacts | None:
    """The email delivery ``delivery_id`` (of ``account_id`` when given) with its flow's and
    step's names; None when there is none (never made, or erased with its profile)."""
    query = (
        select(flow_deliveries, flows.c.name.label("flow_name"), flows.c.definition)
        .join(flows, flows.c.id == flow_deliveries.c.flow_id)
        .where(flow_deliveries.c.id == delivery_id, flow_deliveries.c.channel == "email")
    )
    if account_id is not None:
        query = query.where(flow_deliveries.c.account_id == account_id)
    row = connection.execute(query).first()
    if row is None:
        return None
    actions = (row.definition or {}).get("actions", [])
    step = next((a for a in actions if isinstance(a, dict) and a.get("id") == row.step_id), {})
    return from_row(DeliveryFacts, row, step_name=step.get("name"))


def add_engagement(
    connection: Connection,
    facts: DeliveryFacts,
    *,
    kind: str,
    at: datetime,
    event_id: str,
    link: int | None = None,
    machine: bool = False,
) -> None:
    """Records one engagement of an email beside the event that records it."""
    connection.execute(
        email_engagements.insert().values(
            account_id=facts.account_id,
            delivery_id=facts.id,
            flow_id=facts.flow_id,
            step_id=facts.step_id,
            profile_id=facts.profile_id,
            kind=kind,
            at=at,
            link=link,
            machine=machine,
            event_id=event_id,
        )
    )


@dataclass(frozen=True, slots=True)
class Touch:
    """A person's open or click of a flow email: what an order may be credited to."""

    delivery_id: str
    flow_id: str
    step_id: str
    kind: str
    at: datetime


def touches(
    connection: Connection,
    account_id: str,
    profile_ids: Collection[str],
    *,
    since: datetime,
    until: datetime,
    kinds: Collection[str],
) -> dict[str, list[Touch]]:
    """The opens or clicks (``kinds``) of flow emails that no machine made, by the profiles of
    ``profile_ids`` in ``[since, until]``: by profile, oldest first. One statement per 500
    profiles, whatever the number of orders asking."""
    found: dict[str, list[Touch]] = {}
    ordered = sorted(set(profile_ids))
    for start in range(0, len(ordered), _PROFILES_PER_STATEMENT):
        rows = connection.execute(
            select(email_engagements)
            .where(
                email_engagements.c.account_id == account_id,
                in_values(
                    connection,
                    (email_engagements.c.profile_id,),
                    ordered[start : start + _PROFILES_PER_STATEMENT],
                ),
                email_engagements.c.at >= since,
                email_engagements.c.at <= until,
                email_engagements.c.kind.in_(sorted(kinds)),
                email_engagements.c.machine.is_(False),
            )
            .order_by(email_engagements.c.at, email_engagements.c.id)
        )
        for row in rows:
            found.setdefault(row.profile_id, []).append(
                Touch(row.delivery_id, row.flow_id, row.step_id, row.kind, row.at)
            )
    return found


def credit_order(connection: Connection, order: RecordedEvent, touch: Touch) -> bool:
    """Credits the order event ``order`` to the email of ``touch``: the event's
    ``$attributed_flow`` and ``$attributed_message``, and its row in ``flow_attributions``;
    False when it was credited already (an event is credited once)."""
    key = (events.c.id == order.id, events.c.time == order.time)
    row = connection.execute(
        select(events.c.value, events.c.value_currency, events.c.properties).where(*key)
    ).one()
    credited = insert_ignore(
        connection,
        flow_attributions,
        {
            "event_id": order.id,
            "account_id": order.account_id,
            "metric_id": order.metric_id,
            "profile_id": order.profile_id,
            "time": order.time,
            "value": row.value,
            "currency": row.value_currency,
            "flow_id": touch.flow_id,
            "step_id": touch.step_id,
            "delivery_id": touch.delivery_id,
            "touch": touch.kind,
        },
        conflict=("event_id",),
    )
    if not credited:
        return False
    properties = {
        **(row.properties or {}),
        "$attributed_flow": touch.flow_id,
        "$attributed_message": touch.step_id,
    }
    connection.execute(update(events).where(*key).values(properties=properties))
    return True


def erase_profile_engagement(connection: Connection, account_id: str, profile_id: str) -> None:
    """Forgets a profile's engagement, credited orders and the links of its emails (for a
    deletion request; before its deliveries are deleted)."""
    deliveries = select(flow_deliveries.c.id).where(
        flow_deliveries.c.account_id == account_id, flow_deliveries.c.profile_id == profile_id
    )
    connection.execute(email_links.delete().where(email_links.c.delivery_id.in_(deliveries)))
    for table in (email_engagements, flow_attributions):
        connection.execute(
            table.delete().where(table.c.account_id == account_id, table.c.profile_id == profile_id)
        )
