"""Shared steps of the flow tests: a real SMTP server (aiosmtpd) on a free port, the engine
delivering to it, a webhook receiver on a real socket, events sent through the API, and flows
created through the API."""

from __future__ import annotations

import asyncio
import email
import email.policy
import html
import http.server
import re
import socket
import threading
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Protocol
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from shoptrack.flows.delivery import SmtpMailer, WebhookSender
from shoptrack.flows.engine import FlowEngine
from shoptrack.flows.entry import FlowEntry
from shoptrack.flows.model import FlowDefinition, FlowStatus
from shoptrack.listener import listening_socket
from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.store.flows import insert_flow
from shoptrack.store.metrics import ensure_metric
from shoptrack.testing import Shop
from tests.helpers import AppClient


@dataclass
class Mailbox:
    """What the SMTP server accepted, parsed."""

    messages: list[EmailMessage] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)  # as they came over the wire
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Recipients the server refuses, with its answer ("550 5.1.1 No such user").
    refusing: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(  # noqa: N802  # aiosmtpd's hook name
        self,
        _server: SMTP,
        _session: Session,
        envelope: Envelope,
        address: str,
        _options: list[str],
    ) -> str:
        if address in self.refusing:
            return self.refusing[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:  # noqa: N802  # aiosmtpd's hook name
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
            self.raw.append(content)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]

    @staticmethod
    def text(message: EmailMessage) -> str:
        part = message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]

    @staticmethod
    def html(message: EmailMessage) -> str:
        part = message.get_body(preferencelist=("html",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]

    @staticmethod
    def links(message: EmailMessage) -> list[str]:
        """The addresses of the HTML part's links, in order."""
        return [
            html.unescape(href)
            for href in re.findall(r'<a [^>]*href="([^"]*)"', Mailbox.html(message))
        ]

    @staticmethod
    def pixel(message: EmailMessage) -> str | None:
        """The address of the open pixel, if the message has one."""
        found = re.search(r'<img src="([^"]*/t/o/[^"]*)"', Mailbox.html(message))
        return None if found is None else html.unescape(found.group(1))


@dataclass
class SmtpServer:
    url: str
    mailbox: Mailbox


class _ListeningController(Controller):
    """aiosmtpd's controller serving on a socket bound beforehand, so the port it is given is
    its own from the start (aiosmtpd binds a port it is told, which another process may have
    taken since it was found free)."""

    def __init__(self, handler: Any, listener: socket.socket) -> None:
        self._listener = listener
        host, port = listener.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port)

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self.loop.create_server(
            self._factory_invoker, sock=self._listener, ssl=self.ssl_context
        )


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server on a free local port."""
    mailbox = Mailbox()
    listener = listening_socket("127.0.0.1", 0)
    port = int(listener.getsockname()[1])
    controller = _ListeningController(mailbox, listener)
    controller.start()
    try:
        yield SmtpServer(f"smtp://127.0.0.1:{port}", mailbox)
    finally:
        controller.stop()


@dataclass
class ReceivedWebhook:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """An HTTP server on a real socket that answers every POST with ``status``."""

    host: str
    port: int
    status: int
    received: list[ReceivedWebhook] = field(default_factory=list)

    def url(self, path: str = "/hook") -> str:
        return f"http://{self.host}:{self.port}{path}"


@contextmanager
def webhook_receiver(host: str = "127.0.0.1", status: int = 204) -> Iterator[WebhookReceiver]:
    """A receiver on ``host`` (127.0.0.1 is what the tests allow; 127.0.0.2 is loopback they
    do not)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {name.lower(): value for name, value in self.headers.items()}
            receiver.received.append(ReceivedWebhook(self.path, headers, body))
            self.send_response(receiver.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    receiver = WebhookReceiver(host, int(server.server_address[1]), status)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def local_path(url: str) -> str:
    """The path (and query) of an absolute URL of shoptrack's, to ask the in-process app."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def follow(client: AppClient, url: str, **headers: str) -> str:
    """Follows a tracked link of an email as a reader's browser does; where it redirects."""
    response = client.get(local_path(url), headers={"user-agent": READER, **headers})
    assert response.status_code == 302, response.text
    return str(response.headers["location"])


def open_pixel(client: AppClient, message: EmailMessage, **headers: str) -> None:
    """Loads a message's open pixel as a reader's mail client does."""
    pixel = Mailbox.pixel(message)
    assert pixel is not None
    response = client.get(local_path(pixel), headers={"user-agent": READER, **headers})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"


# A person's mail client and browser.
READER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)"


def flow_engine(
    services: Services, smtp: SmtpServer, webhooks: WebhookSender | None = None
) -> FlowEngine:
    return FlowEngine.from_services(services, mailer=SmtpMailer(smtp.url), webhooks=webhooks)


def process(services: Services) -> None:
    """Processes the inbox as serve does: live inserted events start flows."""
    Processor(
        services.database, services.clock, on_recorded=FlowEntry(services.clock)
    ).run_until_idle()


def send_event(
    client: AppClient,
    shop: Shop,
    metric: str,
    email_address: str,
    *,
    unique_id: str,
    properties: dict[str, Any] | None = None,
    value: float | None = None,
    value_currency: str | None = None,
    backfill: bool = False,
    first_name: str | None = None,
) -> None:
    """An event through ``POST /api/events``, as a custom shop sends it."""
    profile: dict[str, Any] = {"email": email_address}
    if first_name:
        profile["first_name"] = first_name
    attributes: dict[str, Any] = {
        "properties": properties or {},
        "unique_id": unique_id,
        "time": client.app.runtime.services.clock.now().isoformat(),
        "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
        "profile": {"data": {"type": "profile", "attributes": profile}},
    }
    if value is not None:
        attributes["value"] = value
    if value_currency is not None:
        attributes["value_currency"] = value_currency
    if backfill:
        attributes["backfill"] = True
    response = client.post(
        "/api/events",
        json={"data": {"type": "event", "attributes": attributes}},
        headers=shop.headers(),
    )
    assert response.status_code == 202, response.text


def api_metric(services: Services, shop: Shop, name: str) -> str:
    """The id of the API metric ``name`` (created now if no event made it yet)."""
    with services.database.write() as connection:
        return ensure_metric(connection, shop.account_id, name, services.clock.now())


class _Keyed(Protocol):
    def headers(self) -> dict[str, str]: ...


def create_flow(
    client: AppClient, shop: _Keyed, template: str, metric: str, status: str = "live"
) -> dict[str, Any]:
    response = client.post(
        "/api/flows",
        headers=shop.headers(),
        json={
            "data": {
                "type": "flow",
                "attributes": {"template": template, "trigger_metric_id": metric, "status": status},
            }
        },
    )
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()
    return document


def statistics(client: AppClient, shop: Shop, flow_id: str) -> dict[str, Any]:
    response = client.get(f"/api/flows/{flow_id}/statistics", headers=shop.headers())
    assert response.status_code == 200, response.text
    attributes: dict[str, Any] = response.json()["data"]["attributes"]
    return attributes


WEBHOOK_STEP_SECRET = "whsec_" + "c2hvcHRyYWNrLXRlc3Qtd2ViaG9vaw=="


def stored_webhook_flow(
    services: Services,
    shop: Shop,
    metric: str,
    url: str,
    status: str,
    *,
    message_status: str = "live",
) -> str:
    """A flow with one webhook step (id ``hook``) stored without the checks of the API and the
    web UI, as a flow saved before its address was refused (or before
    ``SHOPTRACK_PRIVATE_STORE_NETWORKS`` narrowed) is; its id."""
    step = {
        "type": "send-webhook",
        "id": "hook",
        "url": url,
        "status": message_status,
        "secret_encrypted": services.cipher.encrypt({"secret": WEBHOOK_STEP_SECRET}),
    }
    definition = FlowDefinition.model_validate({"actions": [step], "entry": "hook"})
    with services.database.write() as connection:
        flow = insert_flow(
            connection,
            account_id=shop.account_id,
            name="Stored webhook",
            template=None,
            status=FlowStatus(status),
            trigger_metric_id=metric,
            definition=definition,
            now=services.clock.now(),
        )
    return flow.id
