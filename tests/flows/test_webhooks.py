"""Flow webhooks cannot be turned against shoptrack: their URLs pass the outbound guard when a
flow is saved and at every send, a failure of the network says nothing that would map a
private network, and their signing secrets are stored encrypted and shown once."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shoptrack.clock import FrozenClock
from shoptrack.flows.delivery import SmtpMailer, WebhookSender, standard_webhook_signature
from shoptrack.flows.engine import FlowEngine
from shoptrack.flows.model import SendWebhook
from shoptrack.flows.sending import MAX_ATTEMPTS
from shoptrack.services import Services
from shoptrack.store.flows import get_flow
from shoptrack.store.schema import flow_deliveries, flows
from shoptrack.testing import Shop
from tests.flow_support import (
    SmtpServer,
    api_metric,
    process,
    send_event,
    smtp,
    statistics,
    stored_webhook_flow,
    webhook_receiver,
)
from tests.helpers import AppClient
from tests.processes import environment, run_cli

__all__ = ["smtp"]  # the fixture, imported so pytest finds it here

# Addresses a user may not point a webhook at (the tests allow 127.0.0.1 alone, for their
# simulators and receivers).
REFUSED = [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://127.0.0.2:8080/hook",
    "http://[::1]:6379/",
    "http://10.0.0.5/hook",
    "http://[fd00::1]/hook",
    "http://0.0.0.0:22/",  # reaches the local host on Linux
    "http://[::ffff:169.254.169.254]/",
]


def _webhook(url: str, *, status: str = "live") -> dict[str, Any]:
    return {"type": "send-webhook", "id": "hook", "url": url, "status": status}


def _post_flow(client: AppClient, shop: Shop, metric: str, url: str) -> httpx.Response:
    return client.post(
        "/api/flows",
        headers=shop.headers(),
        json={
            "data": {
                "type": "flow",
                "attributes": {
                    "name": "To the ERP",
                    "trigger_metric_id": metric,
                    "status": "live",
                    "definition": {"actions": [_webhook(url)], "entry": "hook"},
                },
            }
        },
    )


def _patch(client: AppClient, shop: Shop, path: str, kind: str, **attributes: Any) -> Any:
    return client.request(
        "PATCH",
        path,
        headers=shop.headers(),
        json={"data": {"type": kind, "attributes": attributes}},
    )


def _deliveries(services: Services) -> list[tuple[str, str, int, str | None]]:
    with services.database.read() as connection:
        return [
            (row.recipient, row.state, row.attempts, row.last_error)
            for row in connection.execute(
                select(flow_deliveries).order_by(flow_deliveries.c.recipient)
            )
        ]


# -- when a flow is saved ---------------------------------------------------------------------


@pytest.mark.parametrize("url", REFUSED)
def test_a_webhook_to_an_address_shoptrack_may_not_reach_is_refused_when_saved(
    services: Services, shop: Shop, client: AppClient, url: str
) -> None:
    response = _post_flow(client, shop, api_metric(services, shop, "Placed Order"), url)
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["code"] == "address_not_allowed"
    assert error["source"] == {"pointer": "/data/attributes/definition/actions/0/url"}
    assert "SHOPTRACK_PRIVATE_STORE_NETWORKS" in error["detail"]
    assert client.get("/api/flows", headers=shop.headers()).json()["data"] == []


def test_a_webhook_url_changed_to_a_refused_address_is_not_saved(
    services: Services, shop: Shop, client: AppClient
) -> None:
    with webhook_receiver() as receiver:
        created = _post_flow(
            client, shop, api_metric(services, shop, "Placed Order"), receiver.url()
        )
        assert created.status_code == 201, created.text
    flow_id = created.json()["data"]["id"]
    path = f"/api/flows/{flow_id}/flow-messages/hook"
    refused = _patch(client, shop, path, "flow-message", url=REFUSED[0])
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["source"] == {"pointer": "/data/attributes/url"}
    (message,) = client.get(f"/api/flows/{flow_id}/flow-messages", headers=shop.headers()).json()[
        "data"
    ]
    assert message["attributes"]["url"] == receiver.url()


def test_a_stored_refused_address_is_checked_again_when_its_flow_or_step_goes_live(
    services: Services, shop: Shop, client: AppClient
) -> None:
    metric = api_metric(services, shop, "Placed Order")
    flow_id = stored_webhook_flow(services, shop, metric, REFUSED[1], "draft")
    live = _patch(client, shop, f"/api/flows/{flow_id}", "flow", status="live")
    assert live.status_code == 422, live.text
    error = live.json()["errors"][0]
    assert error["code"] == "address_not_allowed"
    assert error["source"] == {"pointer": "/data/attributes/definition/actions/0/url"}
    path = f"/api/flows/{flow_id}/flow-messages/hook"
    # Taking the step out of service needs no check; putting it back does.
    assert _patch(client, shop, path, "flow-message", status="draft").status_code == 200
    assert _patch(client, shop, f"/api/flows/{flow_id}", "flow", status="live").status_code == 200
    again = _patch(client, shop, path, "flow-message", status="live")
    assert again.status_code == 422
    assert again.json()["errors"][0]["source"] == {"pointer": "/data/attributes/url"}
    with services.database.read() as connection:
        stored = get_flow(connection, shop.account_id, flow_id).definition.messages()[0]
    assert stored.status.value == "draft"


# -- when a webhook is sent -------------------------------------------------------------------


def test_a_refused_address_is_never_connected_to_and_fails_its_step_for_good(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer
) -> None:
    metric = api_metric(services, shop, "Placed Order")
    with webhook_receiver(host="127.0.0.2") as internal:
        flow_id = stored_webhook_flow(services, shop, metric, internal.url("/admin"), "live")
        send_event(client, shop, "Placed Order", "ada@example.com", unique_id="o1", value=10)
        process(services)
        engine = FlowEngine.from_services(services, mailer=SmtpMailer(smtp.url))
        try:
            report = engine.run_until_idle()
        finally:
            engine.close()
    assert internal.received == []
    assert report.skipped == 1
    assert statistics(client, shop, flow_id)["skipped"] == {"address_not_allowed": 1}
    ((_, state, attempts, error),) = _deliveries(services)
    assert (state, attempts) == ("failed", 1)
    assert error is not None
    assert "127.0.0.2" not in error.replace(internal.url("/admin"), "")


@contextmanager
def _refusing_port() -> Iterator[int]:
    """A port bound and not listening: connections are refused, and no other test can take
    the port meanwhile."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield int(bound.getsockname()[1])


@contextmanager
def _silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


@contextmanager
def _resetting_port() -> Iterator[int]:
    """A port that accepts each connection and resets it at once."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=10)


def test_every_network_failure_is_one_reason_and_a_status_is_told(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer, clock: FrozenClock
) -> None:
    """Refused, reset, timed out and unresolved read alike — no port scanning through error
    texts — while an allowed receiver's HTTP status is reported."""
    metric = api_metric(services, shop, "Placed Order")
    with (
        _refusing_port() as refusing,
        _silent_port() as silent,
        _resetting_port() as resetting,
        webhook_receiver(status=503) as failing,
    ):
        urls = {
            "refused": f"http://127.0.0.1:{refusing}/hook",
            "silent": f"http://127.0.0.1:{silent}/hook",
            "reset": f"http://127.0.0.1:{resetting}/hook",
            "unresolved": "http://webhooks.shoptrack.invalid/hook",
            "failing": failing.url(),
        }
        for url in urls.values():
            assert _post_flow(client, shop, metric, url).status_code == 201
        send_event(client, shop, "Placed Order", "bo@example.com", unique_id="o1", value=10)
        process(services)
        webhooks = WebhookSender(services.outbound, timeout=1.0)
        engine = FlowEngine.from_services(services, mailer=SmtpMailer(smtp.url), webhooks=webhooks)
        try:
            for _ in range(MAX_ATTEMPTS):
                engine.run_until_idle()
                clock.advance(timedelta(hours=1))
        finally:
            engine.close()
        assert len(failing.received) == MAX_ATTEMPTS
    errors = {recipient: (state, error) for recipient, state, _, error in _deliveries(services)}
    for name, url in urls.items():
        state, error = errors[url]
        assert state == "failed", name
        told = " answered 503" if name == "failing" else ": unreachable"
        assert error == f"webhook to {url}{told}", name
    flows = client.get("/api/flows", headers=shop.headers()).json()["data"]
    reasons = sorted(
        reason for flow in flows for reason in statistics(client, shop, flow["id"])["skipped"]
    )
    assert reasons == ["delivery_failed"] + ["unreachable"] * 4


def test_the_command_line_refuses_to_set_live_a_flow_posting_to_a_refused_address(
    services: Services, shop: Shop, tmp_path: Path
) -> None:
    metric = api_metric(services, shop, "Placed Order")
    flow_id = stored_webhook_flow(services, shop, metric, REFUSED[0], "draft")
    env = environment(services.settings.resolved_database_url(), tmp_path / "data")
    refused = run_cli(env, "flows", "set-status", flow_id, "live")
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        "error: definition.actions.0.url: 169.254.169.254 is a loopback, private"
    )
    assert len(refused.stderr.strip().splitlines()) == 1
    with services.database.read() as connection:
        assert get_flow(connection, shop.account_id, flow_id).status.value == "draft"


# -- the signing secret -----------------------------------------------------------------------


def _secrets_in(document: Any) -> list[str]:
    """Every ``whsec_…`` string anywhere in a document."""
    if isinstance(document, dict):
        return [found for value in document.values() for found in _secrets_in(value)]
    if isinstance(document, list):
        return [found for value in document for found in _secrets_in(value)]
    return [document] if isinstance(document, str) and "whsec_" in document else []


def test_a_webhook_secret_is_shown_once_when_made_and_stored_encrypted(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer, tmp_path: Path
) -> None:
    metric = api_metric(services, shop, "Placed Order")
    with webhook_receiver() as receiver:
        created = _post_flow(client, shop, metric, receiver.url())
        assert created.status_code == 201, created.text
        flow_id = created.json()["data"]["id"]
        (step,) = created.json()["data"]["attributes"]["definition"]["actions"]
        secret = step["secret"]
        assert step["secret_set"] is True
        assert _secrets_in(created.json()) == [secret]

        # Never again: not in the flow, its messages, PATCH answers, the CLI or the web UI.
        path = f"/api/flows/{flow_id}"
        answers = [
            client.get(f"{path}?additional-fields[flow]=definition", headers=shop.headers()),
            client.get(f"{path}/flow-messages", headers=shop.headers()),
            _patch(client, shop, f"{path}/flow-messages/hook", "flow-message", name="ERP"),
            _patch(client, shop, path, "flow", name="To the ERP, renamed"),
            client.get("/api/flows", headers=shop.headers()),
        ]
        for answer in answers:
            assert answer.status_code == 200, answer.text
            assert _secrets_in(answer.json()) == [], answer.url
            assert "secret_encrypted" not in answer.text
        (message,) = answers[1].json()["data"]
        assert message["attributes"]["secret_set"] is True
        env = environment(services.settings.resolved_database_url(), tmp_path / "data")
        shown = run_cli(env, "flows", "show", flow_id, "--json")
        assert shown.returncode == 0, shown.stderr
        assert "whsec_" not in shown.stdout
        assert "secret_encrypted" not in shown.stdout

        # Stored encrypted, and it still signs.
        with services.database.read() as connection:
            stored = connection.execute(select(flows.c.definition)).scalar_one()
        assert secret not in str(stored)
        assert secret.removeprefix("whsec_") not in str(stored)
        send_event(client, shop, "Placed Order", "cy@example.com", unique_id="o1", value=10)
        process(services)
        engine = FlowEngine.from_services(services, mailer=SmtpMailer(smtp.url))
        try:
            assert engine.run_until_idle().webhooks_sent == 1
        finally:
            engine.close()
    (request,) = receiver.received
    signed = request.headers["webhook-signature"]
    timestamp = int(request.headers["webhook-timestamp"])
    assert signed == standard_webhook_signature(
        secret, request.headers["webhook-id"], timestamp, request.body
    )


def test_a_given_secret_is_kept_and_a_new_one_can_replace_it(
    services: Services, shop: Shop, client: AppClient
) -> None:
    metric = api_metric(services, shop, "Placed Order")
    given = "whsec_" + "Z2l2ZW4tYnktdGhlLW1lcmNoYW50"
    with webhook_receiver() as receiver:
        response = client.post(
            "/api/flows",
            headers=shop.headers(),
            json={
                "data": {
                    "type": "flow",
                    "attributes": {
                        "trigger_metric_id": metric,
                        "definition": {
                            "actions": [{**_webhook(receiver.url()), "secret": given}],
                            "entry": "hook",
                        },
                    },
                }
            },
        )
    assert response.status_code == 201, response.text
    flow_id = response.json()["data"]["id"]
    path = f"/api/flows/{flow_id}/flow-messages/hook"
    replaced = _patch(client, shop, path, "flow-message", secret="whsec_" + "bmV3LXNlY3JldC1rZXk=")
    assert replaced.status_code == 200, replaced.text
    assert _secrets_in(replaced.json()) == []
    with services.database.read() as connection:
        step = get_flow(connection, shop.account_id, flow_id).definition.messages()[0]
    assert isinstance(step, SendWebhook)
    assert services.cipher.decrypt(step.secret_encrypted) == {
        "secret": "whsec_" + "bmV3LXNlY3JldC1rZXk="
    }


@pytest.mark.parametrize(
    ("action", "pointer"),
    [
        ({"secret": "whsec_short"}, "/data/attributes/definition/actions/0/secret"),
        ({"secret": "whsec_" + "A" * 17}, "/data/attributes/definition/actions/0/secret"),
        ({"secret": 12}, "/data/attributes/definition/actions/0/secret"),
        (
            {"secret_encrypted": "gAAAAA"},
            "/data/attributes/definition/actions/0/secret_encrypted",
        ),
    ],
)
def test_a_secret_that_cannot_sign_is_a_400_naming_it(
    services: Services, shop: Shop, client: AppClient, action: dict[str, Any], pointer: str
) -> None:
    response = client.post(
        "/api/flows",
        headers=shop.headers(),
        json={
            "data": {
                "type": "flow",
                "attributes": {
                    "trigger_metric_id": api_metric(services, shop, "Placed Order"),
                    "definition": {
                        "actions": [{**_webhook("https://erp.example.com/hook"), **action}],
                        "entry": "hook",
                    },
                },
            }
        },
    )
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["code"] == "invalid"
    assert error["source"] == {"pointer": pointer}
