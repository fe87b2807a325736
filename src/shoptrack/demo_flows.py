"""The demo's flows and their readers: the post-purchase and abandoned-checkout flows live on the
demo's WooCommerce store (emails go to the outbox folder), and simulated customers who open
the emails a little after they arrive, click some of them, and sometimes order again — so that
the Flows pages soon show what a flow earns.

The readers act as a person's mail client and browser would: they fetch the open pixel and
follow tracked links over HTTP from shoptrack's own public address, with a browser's user
agent, long enough after delivery not to look like a privacy proxy or a link scanner.
"""

from __future__ import annotations

import email
import email.policy
import random
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from html import unescape
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Connection, Row

from shoptrack.domain.events import Metric
from shoptrack.flows.email import message_id_for
from shoptrack.flows.engagement import EmailMetric, record_engagement
from shoptrack.flows.model import FlowStatus
from shoptrack.flows.service import FlowRequest, Safeguards, create_flow
from shoptrack.ids import new_id
from shoptrack.services import Services
from shoptrack.store.accounts import account_settings
from shoptrack.store.engagement import Touch, credit_order, delivery_facts
from shoptrack.store.events import imported_placed_orders, profiles_by_id
from shoptrack.store.flows import (
    FlowRecord,
    RunRecord,
    RunState,
    emails_sent_between,
    finish_run,
    get_flow,
    list_flows,
    mark_delivery,
    prepare_delivery,
    record_activity,
    start_run,
)
from shoptrack.store.metrics import ensure_metric
from shoptrack.store.recording import RecordedEvent

__all__ = ["DEMO_FLOWS", "DemoReaders", "ensure_demo_flows", "replay_flow_history"]

# The library flows the demo runs, and the metric of the store each is triggered by.
DEMO_FLOWS = (
    ("post-purchase", Metric.PLACED_ORDER),
    ("abandoned-checkout", Metric.STARTED_CHECKOUT),
)
# How a reader behaves: opens this long after delivery (a privacy proxy's prefetch is quicker).
READ_AFTER = timedelta(seconds=15)
CLICK_CHANCE = 0.5
ORDER_AGAIN_CHANCE = 0.5
READER_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)


def ensure_demo_flows(services: Services, account_id: str, integration_id: str) -> list[str]:
    """The demo's flows on the integration's metrics, created live unless they exist; their
    ids."""
    now = services.clock.now()
    with services.database.write() as connection:
        existing = {
            flow.template: flow.id
            for flow in list_flows(connection, account_id, limit=1000)
            if not flow.archived
        }
        ids = []
        for template, metric in DEMO_FLOWS:
            if template in existing:
                ids.append(existing[template])
                continue
            metric_id = ensure_metric(
                connection, account_id, metric.value, now, integration_id=integration_id
            )
            created = create_flow(
                connection,
                FlowRequest(
                    account_id=account_id,
                    template=template,
                    trigger_metric_id=metric_id,
                    status=FlowStatus.LIVE.value,
                ),
                now,
                diagnostics_url="/doctor",
                safeguards=Safeguards.of(services),
            )
            ids.append(created.flow.id)
    return ids


class DemoReaders:
    """The people the demo's flow emails go to. Each ``step`` reads the emails sent since the
    last one (once they are ``READ_AFTER`` old): every one is opened, about half are clicked
    through, and about half of those who click order again through ``order_again``."""

    def __init__(
        self,
        services: Services,
        account_id: str,
        order_again: Callable[[str], None],
        rng: random.Random,
    ) -> None:
        self._services = services
        self._account_id = account_id
        self._order_again = order_again
        self._random = rng
        self._outbox = services.settings.data_dir / "outbox"
        self._read: set[str] = set()
        self._client = httpx.Client(
            base_url=services.settings.public_url,
            headers={"User-Agent": READER_AGENT},
            follow_redirects=False,
            timeout=10,
        )

    def close(self) -> None:
        self._client.close()

    def step(self) -> int:
        """Reads what arrived; how many emails were read."""
        before = self._services.clock.now() - READ_AFTER
        with self._services.database.read() as connection:
            arrived = emails_sent_between(
                connection, self._account_id, before - timedelta(hours=1), before
            )
        read = 0
        for delivery in arrived:
            if delivery.id in self._read:
                continue
            self._read.add(delivery.id)
            message = _message(self._outbox / f"{delivery.id}.eml")
            if message is not None:
                self._read_one(message, delivery.recipient)
                read += 1
        return read

    def _read_one(self, message: EmailMessage, recipient: str) -> None:
        html = message.get_body(preferencelist=("html",))
        text = "" if html is None else str(html.get_content())
        pixel = re.search(r'<img src="([^"]*/t/o/[^"]*)"', text)
        if pixel is not None:
            self._client.get(_path(unescape(pixel.group(1))))
        links = [unescape(link) for link in re.findall(r'href="([^"]*/t/c/[^"]*)"', text)]
        if links and self._random.random() < CLICK_CHANCE:
            self._client.get(_path(self._random.choice(links)))
            if self._random.random() < ORDER_AGAIN_CHANCE:
                self._order_again(recipient)


# How the demo's past readers behaved: the thank-you email goes out this long after an order,
# this many are opened (hours later), and this many of the opened ones clicked.
PAST_SEND_AFTER = timedelta(minutes=2)
PAST_OPEN_CHANCE = 0.55
PAST_CLICK_CHANCE = 0.35


def replay_flow_history(
    services: Services, account_id: str, integration_id: str, flow_id: str, rng: random.Random
) -> int:
    """The post-purchase flow's past, as shoptrack would have recorded it had the flow run while
    the store's history happened: for each imported Placed Order of the integration a run, its
    thank-you email sent, Received Email, and some Opened and Clicked Email; an order that came
    within the account's attribution window after a click is credited to it. Orders that have a
    run already are left alone (a second demo start adds nothing); how many runs were made."""
    with services.database.write() as connection:
        flow = get_flow(connection, account_id, flow_id)
        window = timedelta(days=account_settings(connection, account_id).attribution_window_days)
        orders = imported_placed_orders(connection, account_id, integration_id)
        buyers = profiles_by_id(
            connection, account_id, sorted({order.profile_id for order in orders})
        )
        emails = {profile_id: row.email for profile_id, row in buyers.items()}
        clicks: dict[str, Touch] = {}  # a profile's last click, for the order after it
        made = 0
        seen: set[str] = set()
        for order in orders:
            recorded = _recorded(order)
            touch = clicks.get(order.profile_id)
            if touch is not None and touch.at < order.time <= touch.at + window:
                credit_order(connection, recorded, touch)
            step = "thank-you-returning" if order.profile_id in seen else "thank-you-first"
            seen.add(order.profile_id)
            recipient = emails.get(order.profile_id)
            if recipient is None:
                continue
            run_id = start_run(connection, flow=flow, trigger=recorded, now=order.time)
            if run_id is None:
                continue
            made += 1
            click = _past_email(
                connection,
                flow,
                run_id=run_id,
                order=order,
                step=step,
                recipient=recipient,
                rng=rng,
            )
            if click is not None:
                clicks[order.profile_id] = click
    return made


def _past_email(
    connection: Connection,
    flow: FlowRecord,
    *,
    run_id: str,
    order: Row[Any],
    step: str,
    recipient: str,
    rng: random.Random,
) -> Touch | None:
    """One past run of the flow: entered, emailed, completed; the email's engagement. The
    click it got, if any."""
    sent = order.time + PAST_SEND_AFTER

    def activity(kind: str, at: datetime, step_id: str | None = None) -> None:
        record_activity(
            connection, account_id=flow.account_id, flow_id=flow.id, profile_id=order.profile_id,
            run_id=run_id, step_id=step_id, kind=kind, now=at,
        )  # fmt: skip

    activity("entered", order.time)
    delivery_id = new_id()
    run = RunRecord(
        id=run_id, account_id=flow.account_id, flow_id=flow.id, profile_id=order.profile_id,
        trigger_event_id=order.id, trigger_time=order.time, step_id=step, attempts=0,
        entered_at=order.time,
    )  # fmt: skip
    prepare_delivery(
        connection, run=run, step_id=step, channel="email", recipient=recipient,
        message_id=message_id_for(delivery_id, "shop@example.com"), delivery_id=delivery_id,
        subject=f"Thank you for your order {order.unique_id}", now=sent,
    )  # fmt: skip
    mark_delivery(connection, delivery_id, "sent", sent)
    activity("emailed", sent, step)
    finish_run(connection, run_id, RunState.COMPLETED, sent)
    activity("completed", sent)
    facts = delivery_facts(connection, delivery_id)
    if facts is None:
        return None
    record_engagement(connection, facts, EmailMetric.RECEIVED, sent)
    if rng.random() >= PAST_OPEN_CHANCE:
        return None
    opened = sent + timedelta(minutes=rng.randrange(20, 30 * 60))
    record_engagement(connection, facts, EmailMetric.OPENED, opened)
    if rng.random() >= PAST_CLICK_CHANCE:
        return None
    clicked = opened + timedelta(seconds=rng.randrange(5, 300))
    record_engagement(connection, facts, EmailMetric.CLICKED, clicked, link=0)
    return Touch(delivery_id, flow.id, step, "clicked", clicked)


def _recorded(order: Row[Any]) -> RecordedEvent:
    return RecordedEvent(
        id=order.id,
        account_id=order.account_id,
        metric_id=order.metric_id,
        metric=Metric.PLACED_ORDER.value,
        profile_id=order.profile_id,
        integration_id=order.integration_id,
        time=order.time,
        backfill=order.backfill,
    )


def _message(path: Path) -> EmailMessage | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return message if isinstance(message, EmailMessage) else None


def _path(url: str) -> str:
    """The path of one of shoptrack's own absolute URLs (the client's base is its address)."""
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1]
