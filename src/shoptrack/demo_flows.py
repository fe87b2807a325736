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
from datetime import timedelta
from email.message import EmailMessage
from html import unescape
from pathlib import Path

import httpx
from sqlalchemy import select

from shoptrack.domain.events import Metric
from shoptrack.flows.model import FlowStatus
from shoptrack.flows.service import FlowRequest, Safeguards, create_flow
from shoptrack.services import Services
from shoptrack.store.flows import list_flows
from shoptrack.store.metrics import ensure_metric
from shoptrack.store.schema import flow_deliveries

__all__ = ["DEMO_FLOWS", "DemoReaders", "ensure_demo_flows"]

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
            arrived = connection.execute(
                select(flow_deliveries.c.id, flow_deliveries.c.recipient).where(
                    flow_deliveries.c.account_id == self._account_id,
                    flow_deliveries.c.channel == "email",
                    flow_deliveries.c.state == "sent",
                    flow_deliveries.c.sent_at <= before,
                    flow_deliveries.c.sent_at > before - timedelta(hours=1),
                )
            ).all()
        read = 0
        for delivery_id, recipient in arrived:
            if delivery_id in self._read:
                continue
            self._read.add(delivery_id)
            message = _message(self._outbox / f"{delivery_id}.eml")
            if message is not None:
                self._read_one(message, recipient)
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
