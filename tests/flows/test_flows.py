"""Flows through the API and the engine, with the injected clock and a real SMTP server: delays,
filters, smart sending, suppression, backfill, restarts, and the ``flow`` resource."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from shoptrack.clock import FrozenClock
from shoptrack.doctor._fixes import _process as fix_processing
from shoptrack.domain.events import TEST_ORDER_DOMAIN
from shoptrack.flows.delivery import SmtpMailer
from shoptrack.flows.engine import FlowEngine
from shoptrack.flows.sending import LEASE
from shoptrack.services import Services
from shoptrack.settings import Settings
from shoptrack.store.database import Database
from shoptrack.store.flows import set_account_email_from
from shoptrack.store.schema import flow_deliveries, flow_runs, metrics
from shoptrack.store.secrets import CredentialCipher
from shoptrack.testing import SIMULATOR_NETWORKS, Shop, woo_order
from tests.conftest import START, TEST_SECRET_KEY
from tests.flow_support import (
    Mailbox,
    SmtpServer,
    WebhookReceiver,
    api_metric,
    create_flow,
    flow_engine,
    follow,
    process,
    send_event,
    smtp,
    statistics,
    webhook_receiver,
)
from tests.helpers import AppClient, deliver

__all__ = ["smtp"]  # the fixture, imported so pytest finds it here

CART = {
    "Items": [
        {"ProductName": "Blue mug", "Quantity": 2, "RowTotal": 19.8},
        {"ProductName": "Tea towel", "Quantity": 1, "RowTotal": 7.5},
    ],
    "CheckoutURL": "https://shop.example.com/checkout/abc",
}


def _activity(client: AppClient, shop: Shop, email_address: str) -> list[dict[str, Any]]:
    profiles = client.get(
        f'/api/profiles?filter=equals(email,"{email_address}")', headers=shop.headers()
    ).json()["data"]
    profile_id = profiles[0]["id"]
    response = client.get(f"/api/profiles/{profile_id}/flow-activity", headers=shop.headers())
    assert response.status_code == 200, response.text
    return [item["attributes"] for item in response.json()["data"]]


def test_abandoned_checkout_waits_and_skips_those_who_ordered(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer, clock: FrozenClock
) -> None:
    flow = create_flow(
        client, shop, "abandoned-checkout", api_metric(services, shop, "Started Checkout")
    )
    for address in ("ada@example.com", "bob@example.com"):
        send_event(
            client,
            shop,
            "Started Checkout",
            address,
            unique_id=f"c-{address}",
            properties=CART,
            value=27.3,
            first_name=address.split("@")[0].title(),
        )
    process(services)
    engine = flow_engine(services, smtp)
    engine.run_until_idle()
    assert statistics(client, shop, flow["data"]["id"])["waiting"] == 2

    clock.advance(timedelta(hours=1))
    send_event(client, shop, "Placed Order", "bob@example.com", unique_id="order-1", value=27.3)
    process(services)
    clock.advance(timedelta(hours=2, minutes=59))
    engine.run_until_idle()
    assert smtp.mailbox.messages == []  # the delay is four hours

    clock.advance(timedelta(minutes=1))
    engine.run_until_idle()
    (sent,) = smtp.mailbox.messages
    assert sent["To"] == "ada@example.com"
    assert sent["Subject"] == "You left something in your cart"
    assert "Hi Ada," in Mailbox.text(sent)
    # The checkout link passes through shoptrack, which counts the click and sends the reader on.
    checkout, *_ = Mailbox.links(sent)
    assert follow(client, checkout).startswith("https://shop.example.com/checkout/abc?utm_source=")
    stats = statistics(client, shop, flow["data"]["id"])
    assert stats["entered"] == 2
    assert stats["emailed"] == 1
    assert stats["waiting"] == 0
    assert stats["exited"] == {"profile_filter": 1}
    exited = [a for a in _activity(client, shop, "bob@example.com") if a["kind"] == "exited"]
    assert "Placed Order equals 0 times since starting this flow" in exited[0]["detail"]
    engine.run_until_idle()
    assert len(smtp.mailbox.messages) == 1


def test_smart_sending_skips_an_email_and_says_why(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer, clock: FrozenClock
) -> None:
    browse = create_flow(
        client, shop, "browse-abandonment", api_metric(services, shop, "Viewed Product")
    )
    checkout = create_flow(
        client, shop, "abandoned-checkout", api_metric(services, shop, "Started Checkout")
    )
    engine = flow_engine(services, smtp)
    send_event(
        client,
        shop,
        "Viewed Product",
        "cy@example.com",
        unique_id="v1",
        properties={"ProductName": "Blue mug", "URL": "https://shop.example.com/mug"},
    )
    process(services)
    engine.run_until_idle()  # serve's flow loop reaches the delay at once
    clock.advance(timedelta(hours=2))
    engine.run_until_idle()
    assert [m["Subject"] for m in smtp.mailbox.messages] == ["Still thinking about Blue mug?"]

    clock.advance(timedelta(hours=1))
    send_event(client, shop, "Started Checkout", "cy@example.com", unique_id="c1", properties=CART)
    process(services)
    engine.run_until_idle()
    clock.advance(timedelta(hours=4))  # 5 hours after the first email: inside the 16 hours
    engine.run_until_idle()
    assert len(smtp.mailbox.messages) == 1
    assert statistics(client, shop, checkout["data"]["id"])["skipped"] == {"smart_sending": 1}
    assert statistics(client, shop, browse["data"]["id"])["emailed"] == 1
    skipped = [a for a in _activity(client, shop, "cy@example.com") if a["kind"] == "skipped"]
    assert skipped[0]["reason"] == "smart_sending"
    assert "emailed in the last 16 hours" in skipped[0]["detail"]


def test_unsubscribed_and_suppressed_profiles_get_nothing(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer, clock: FrozenClock
) -> None:
    flow = create_flow(client, shop, "post-purchase", api_metric(services, shop, "Placed Order"))
    engine = flow_engine(services, smtp)
    send_event(client, shop, "Placed Order", "dee@example.com", unique_id="o1", value=10)
    process(services)
    engine.run_until_idle()
    (thanks,) = smtp.mailbox.messages
    link = thanks["List-Unsubscribe"].strip("<>")
    assert thanks["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in Mailbox.text(thanks)
    path = urlsplit(link).path

    page = client.get(path)  # what a link scanner does: nothing changes
    assert page.status_code == 200
    assert "dee@example.com" in page.text
    assert client.post(path).status_code == 200  # the button (or a one-click POST)
    tampered = client.post(path[:-3] + "AAA")
    assert tampered.status_code == 400
    assert "not valid" in tampered.text

    suppressed = client.post(
        "/api/email-suppressions",
        headers=shop.headers(),
        json={"data": {"type": "email-suppression", "attributes": {"email": " Eve@Example.com"}}},
    )
    assert suppressed.status_code == 201, suppressed.text
    listed = client.get("/api/email-suppressions", headers=shop.headers()).json()["data"]
    assert {(s["id"], s["attributes"]["reason"]) for s in listed} == {
        ("dee@example.com", "unsubscribed"),
        ("eve@example.com", "manual"),
    }
    clock.advance(timedelta(days=1))
    send_event(client, shop, "Placed Order", "dee@example.com", unique_id="o2", value=10)
    send_event(client, shop, "Placed Order", "eve@example.com", unique_id="o3", value=10)
    process(services)
    engine.run_until_idle()
    assert len(smtp.mailbox.messages) == 1
    assert statistics(client, shop, flow["data"]["id"])["skipped"] == {
        "suppressed": 1,
        "unsubscribed": 1,
    }


def test_backfilled_events_start_no_flow(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer
) -> None:
    flow = create_flow(client, shop, "post-purchase", api_metric(services, shop, "Placed Order"))
    send_event(
        client, shop, "Placed Order", "old@example.com", unique_id="history-1", backfill=True
    )
    process(services)
    flow_engine(services, smtp).run_until_idle()
    assert smtp.mailbox.messages == []
    assert statistics(client, shop, flow["data"]["id"])["entered"] == 0


def test_draft_flows_start_nothing_and_manual_flows_send_nothing(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer
) -> None:
    metric = api_metric(services, shop, "Placed Order")
    draft = create_flow(client, shop, "post-purchase", metric, status="draft")
    manual = create_flow(
        client,
        shop,
        "order-fulfilled",
        api_metric(services, shop, "Fulfilled Order"),
        status="manual",
    )
    send_event(client, shop, "Placed Order", "fay@example.com", unique_id="o1")
    send_event(client, shop, "Fulfilled Order", "fay@example.com", unique_id="o1")
    process(services)
    flow_engine(services, smtp).run_until_idle()
    assert smtp.mailbox.messages == []
    assert statistics(client, shop, draft["data"]["id"])["entered"] == 0
    assert statistics(client, shop, manual["data"]["id"])["skipped"] == {"flow_manual": 1}


def test_a_restart_during_a_delay_still_sends_once(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer, clock: FrozenClock
) -> None:
    create_flow(client, shop, "abandoned-checkout", api_metric(services, shop, "Started Checkout"))
    send_event(client, shop, "Started Checkout", "gus@example.com", unique_id="c1", properties=CART)
    process(services)
    first = flow_engine(services, smtp)
    first.run_until_idle()  # waiting for four hours
    first.close()
    services.database.dispose()  # the process ends

    clock.advance(timedelta(hours=5))
    restarted = Services(
        settings=services.settings,
        database=Database(services.settings.resolved_database_url()),
        clock=clock,
        cipher=CredentialCipher([TEST_SECRET_KEY]),
    )
    try:
        engine = flow_engine(restarted, smtp)
        assert engine.run_until_idle().emailed == 1
        clock.advance(timedelta(days=3))
        assert engine.run_until_idle().emailed == 0
    finally:
        restarted.close()
    assert [m["To"] for m in smtp.mailbox.messages] == ["gus@example.com"]


class _CrashAfterAccept(SmtpMailer):
    """Hands the message to the server, then dies before the engine can record it."""

    def send(self, message: Any, delivery_id: str) -> None:
        super().send(message, delivery_id)
        raise SystemExit("killed after the SMTP server accepted")


def test_a_crash_after_the_server_accepted_resends_with_the_same_message_id(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer, clock: FrozenClock
) -> None:
    flow = create_flow(client, shop, "post-purchase", api_metric(services, shop, "Placed Order"))
    send_event(client, shop, "Placed Order", "hal@example.com", unique_id="o1")
    process(services)
    crashing = FlowEngine.from_services(services, mailer=_CrashAfterAccept(smtp.url))
    with pytest.raises(SystemExit):
        crashing.run_once()
    engine = flow_engine(services, smtp)
    assert engine.run_until_idle().emailed == 0  # the dead process's lease still holds
    clock.advance(LEASE + timedelta(seconds=1))
    assert engine.run_until_idle().emailed == 1
    first, second = smtp.mailbox.messages
    assert first["Message-ID"] == second["Message-ID"]  # the receiver can drop the repeat
    assert statistics(client, shop, flow["data"]["id"])["emailed"] == 1
    emailed = [a for a in _activity(client, shop, "hal@example.com") if a["kind"] == "emailed"]
    assert "sent again after an interrupted attempt" in emailed[0]["detail"]


def test_a_refused_send_is_retried_then_given_up(
    services: Services, shop: Shop, client: AppClient, clock: FrozenClock
) -> None:
    flow = create_flow(client, shop, "post-purchase", api_metric(services, shop, "Placed Order"))
    send_event(client, shop, "Placed Order", "ida@example.com", unique_id="o1")
    process(services)
    closed = SmtpServer("smtp://127.0.0.1:9", Mailbox())  # nothing listens there
    engine = flow_engine(services, closed)
    for _ in range(5):
        engine.run_until_idle()
        clock.advance(timedelta(hours=1))
    stats = statistics(client, shop, flow["data"]["id"])
    assert stats["skipped"] == {"delivery_failed": 1}
    assert stats["completed"] == 1
    with services.database.read() as connection:
        state, attempts = connection.execute(
            select(flow_deliveries.c.state, flow_deliveries.c.attempts)
        ).one()
    assert (state, attempts) == ("failed", 5)


def test_the_thank_you_splits_first_and_returning_customers(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer, clock: FrozenClock
) -> None:
    create_flow(client, shop, "post-purchase", api_metric(services, shop, "Placed Order"))
    engine = flow_engine(services, smtp)
    order = {
        "OrderNumber": "1001",
        "Items": [{"ProductName": "Blue mug", "Quantity": 2, "RowTotal": 19.8}],
        "DiscountCode": "WELCOME10",
        "DiscountValue": 2.2,
    }
    send_event(
        client,
        shop,
        "Placed Order",
        "jo@example.com",
        unique_id="1001",
        properties=order,
        value=17.6,
    )
    process(services)
    engine.run_until_idle()
    clock.advance(timedelta(days=2))
    send_event(
        client,
        shop,
        "Placed Order",
        "jo@example.com",
        unique_id="1002",
        properties={**order, "OrderNumber": "1002"},
        value=17.6,
    )
    process(services)
    engine.run_until_idle()
    first, second = smtp.mailbox.messages
    assert first["Subject"] == "Thank you for your first order, 1001!"
    assert second["Subject"] == "Thank you for your order 1002"
    text = Mailbox.text(first)
    assert "- 2 x Blue mug: 19.80" in text
    assert "Discount code WELCOME10: -2.20" in text
    assert "Total: 17.60" in text
    assert first["From"] == services.settings.email_from
    with services.database.write() as connection:
        set_account_email_from(connection, shop.account_id, "Jo's Shop <hello@jos.example.com>")
    clock.advance(timedelta(days=1))
    send_event(client, shop, "Placed Order", "jo@example.com", unique_id="1003")
    process(services)
    engine.run_until_idle()
    assert smtp.mailbox.messages[-1]["From"] == "Jo's Shop <hello@jos.example.com>"
    assert smtp.mailbox.messages[-1]["Message-ID"].endswith("@jos.example.com>")


def test_webhook_steps_post_the_event_signed_the_standard_webhooks_way(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer
) -> None:
    with webhook_receiver() as receiver:
        _post_a_signed_webhook(services, shop, client, smtp, receiver)


def _post_a_signed_webhook(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer, receiver: WebhookReceiver
) -> None:
    metric = api_metric(services, shop, "Placed Order")
    response = client.post(
        "/api/flows",
        headers=shop.headers(),
        json={
            "data": {
                "type": "flow",
                "attributes": {
                    "name": "Order to ERP",
                    "trigger_metric_id": metric,
                    "status": "live",
                    "definition": {
                        "trigger_filters": [
                            {
                                "type": "event-property",
                                "property": "$value",
                                "operator": "greater-than",
                                "value": 50,
                            }
                        ],
                        "actions": [
                            {
                                "type": "send-webhook",
                                "id": "erp",
                                "url": receiver.url("/erp"),
                            }
                        ],
                        "entry": "erp",
                    },
                },
            }
        },
    )
    assert response.status_code == 201, response.text
    # The secret shoptrack made, shown this once (see tests/flows/test_webhooks.py).
    (step,) = response.json()["data"]["attributes"]["definition"]["actions"]
    secret = step["secret"]
    assert secret.startswith("whsec_")
    send_event(client, shop, "Placed Order", "kim@example.com", unique_id="small", value=20)
    send_event(
        client,
        shop,
        "Placed Order",
        "kim@example.com",
        unique_id="big",
        value=80,
        properties={"OrderId": "big"},
    )
    process(services)
    engine = flow_engine(services, smtp)
    assert engine.run_until_idle().webhooks_sent == 1
    (request,) = receiver.received
    assert request.path == "/erp"
    body = request.body
    signed = (
        f"{request.headers['webhook-id']}.{request.headers['webhook-timestamp']}.".encode() + body
    )
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert request.headers["webhook-signature"] == f"v1,{expected}"
    document = orjson.loads(body)
    assert document["event"]["properties"] == {"OrderId": "big"}
    assert document["event"]["value"] == 80
    assert document["profile"]["email"] == "kim@example.com"


@pytest.mark.postgres
def test_two_workers_on_postgresql_never_send_twice(
    postgres_url: str, smtp: SmtpServer, tmp_path: Any
) -> None:
    import threading

    from shoptrack.testing import make_shop

    clock = FrozenClock(START)

    def build() -> Services:
        return Services(
            settings=Settings(
                data_dir=tmp_path,
                database_url=postgres_url,
                secret_key=TEST_SECRET_KEY,
                private_store_networks=SIMULATOR_NETWORKS,
            ),
            database=Database(postgres_url),
            clock=clock,
            cipher=CredentialCipher([TEST_SECRET_KEY]),
        )

    services = build()
    shop = make_shop(services)
    from shoptrack.api.app import create_app

    client = AppClient(create_app(services, run_workers=False))
    try:
        create_flow(client, shop, "post-purchase", api_metric(services, shop, "Placed Order"))
        for number in range(40):
            send_event(
                client, shop, "Placed Order", f"p{number}@example.com", unique_id=str(number)
            )
        process(services)
    finally:
        client.close()
    workers = [build(), build()]
    # Small batches, so that the two engines interleave.
    engines = [
        FlowEngine.from_services(w, mailer=SmtpMailer(smtp.url), batch_size=5) for w in workers
    ]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(engine: FlowEngine) -> None:
        try:
            start.wait()
            engine.run_until_idle()
        except BaseException as error:  # noqa: BLE001  # collected for the assert below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    recipients = [m["To"] for m in smtp.mailbox.messages]
    assert len(recipients) == 40
    assert len(set(recipients)) == 40
    with services.database.read() as connection:
        states = dict(
            connection.execute(
                select(flow_runs.c.state, func.count()).group_by(flow_runs.c.state)
            ).all()
        )
    assert states == {"completed": 40}
    for built in (services, *workers):
        built.close()


# --- the API ---------------------------------------------------------------------------------


def test_creating_a_flow_on_a_quiet_metric_warns_and_creates_it(
    services: Services, shop: Shop, client: AppClient
) -> None:
    listed = client.get("/api/metrics", headers=shop.headers()).json()["data"]
    placed = next(
        m
        for m in listed
        if m["attributes"]["name"] == "Placed Order"
        and m["attributes"]["integration"]["id"] == shop.integration.id
    )
    document = create_flow(client, shop, "post-purchase", placed["id"], status="draft")
    (warning,) = document["meta"]["warnings"]
    assert warning["code"] == "trigger_metric_quiet"
    assert "We haven't received Placed Order events recently" in warning["detail"]
    assert warning["links"]["diagnostics"] == "http://shoptrack.test/api/diagnostics"
    assert warning["integration"]["id"] == shop.integration.id
    flow_id = document["data"]["id"]
    assert document["data"]["attributes"]["status"] == "draft"
    fetched = client.get(f"/api/flows/{flow_id}", headers=shop.headers())
    assert fetched.status_code == 200
    # A metric with recent events: no warning.
    send_event(client, shop, "Viewed Product", "lou@example.com", unique_id="v1")
    process(services)
    viewed = api_metric(services, shop, "Viewed Product")
    assert create_flow(client, shop, "browse-abandonment", viewed)["meta"]["warnings"] == []


def test_flows_are_listed_in_klaviyos_shape(
    services: Services, shop: Shop, client: AppClient
) -> None:
    from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker

    from tests.api.test_klaviyo_openapi import _spec

    create_flow(client, shop, "post-purchase", api_metric(services, shop, "Placed Order"))
    create_flow(client, shop, "win-back", api_metric(services, shop, "Placed Order"), "manual")
    response = client.get("/api/flows/", headers=shop.headers())
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.api+json"
    body = response.json()
    spec = _spec("metrics.json")
    schema = {
        "$ref": "#/components/schemas/GetFlowResponseCollection",
        "components": spec["components"],
    }
    errors = list(OAS30ReadValidator(schema, format_checker=oas30_format_checker).iter_errors(body))
    assert errors == []
    assert [f["attributes"]["trigger_type"] for f in body["data"]] == ["Metric", "Metric"]
    live = client.get('/api/flows?filter=equals(status,"manual")', headers=shop.headers())
    assert [f["attributes"]["template"] for f in live.json()["data"]] == ["win-back"]
    archived = client.get("/api/flows?filter=equals(archived,false)", headers=shop.headers())
    assert len(archived.json()["data"]) == 2
    for wrong in ('equals(archived,"x")', "contains(name,5)"):
        refused = client.get(f"/api/flows?filter={wrong}", headers=shop.headers())
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["source"] == {"parameter": "filter"}
    page = client.get("/api/flows?page[size]=1", headers=shop.headers()).json()
    assert len(page["data"]) == 1
    following = client.get(page["links"]["next"], headers=shop.headers()).json()
    assert following["data"][0]["id"] != page["data"][0]["id"]
    assert "next" not in following["links"]


def test_status_changes_and_message_edits(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer
) -> None:
    flow = create_flow(
        client, shop, "order-fulfilled", api_metric(services, shop, "Fulfilled Order"), "draft"
    )
    flow_id = flow["data"]["id"]
    live = client.request(
        "PATCH",
        f"/api/flows/{flow_id}",
        headers=shop.headers(),
        json={"data": {"type": "flow", "id": flow_id, "attributes": {"status": "live"}}},
    )
    assert live.status_code == 200
    assert live.json()["data"]["attributes"]["status"] == "live"
    edited = client.request(
        "PATCH",
        f"/api/flows/{flow_id}/flow-messages/shipped",
        headers=shop.headers(),
        json={
            "data": {
                "type": "flow-message",
                "attributes": {
                    "subject": "On its way, {{ profile.first_name }}!",
                    "text": "Order {{ event.OrderNumber }} shipped. {{ unsubscribe_url }}",
                    "from_email": "orders@shop.example.com",
                    "from_label": "Shop",
                },
            }
        },
    )
    assert edited.status_code == 200, edited.text
    send_event(
        client,
        shop,
        "Fulfilled Order",
        "max@example.com",
        unique_id="7",
        properties={"OrderNumber": "7"},
        first_name="Max",
    )
    process(services)
    flow_engine(services, smtp).run_until_idle()
    (sent,) = smtp.mailbox.messages
    assert sent["Subject"] == "On its way, Max!"
    assert sent["From"] == "Shop <orders@shop.example.com>"
    assert Mailbox.text(sent).startswith("Order 7 shipped. http://127.0.0.1:8000/unsubscribe/")
    assert "Unsubscribe:" not in Mailbox.text(sent)  # the template has its own link


@pytest.mark.parametrize(
    ("attributes", "status", "code", "pointer"),
    [
        ({"template": "thank-you-forever"}, 400, "invalid", "/data/attributes/template"),
        (
            {"template": "post-purchase", "trigger_metric_id": "nope"},
            404,
            "not_found",
            "/data/attributes/trigger_metric_id",
        ),
        ({"template": "post-purchase", "status": "on"}, 400, "invalid", "/data/attributes/status"),
        (
            {"template": "browse-abandonment", "trigger_metric_id": "$placed"},
            400,
            "trigger_metric_mismatch",
            "/data/attributes/trigger_metric_id",
        ),
        (
            {
                "definition": {"actions": [{"type": "exit", "id": "a"}], "entry": "b"},
                "trigger_metric_id": "$placed",
            },
            400,
            "invalid",
            "/data/attributes/definition",
        ),
        (
            {
                "definition": {
                    "actions": [
                        {"type": "time-delay", "id": "a", "unit": "days", "value": 1, "next": "a"}
                    ],
                    "entry": "a",
                },
                "trigger_metric_id": "$placed",
            },
            400,
            "invalid",
            "/data/attributes/definition",
        ),
        (
            {
                "definition": {
                    "actions": [{"type": "time-delay", "id": "a", "unit": "years", "value": 1}],
                    "entry": "a",
                },
                "trigger_metric_id": "$placed",
            },
            400,
            "invalid",
            "/data/attributes/definition/actions/0/unit",
        ),
        (
            {
                "definition": {
                    "actions": [
                        {
                            "type": "send-email",
                            "id": "a",
                            "subject": "x",
                            "html": "{% if %}",
                            "text": "x",
                        }
                    ],
                    "entry": "a",
                },
                "trigger_metric_id": "$placed",
            },
            400,
            "template_syntax",
            "/data/attributes/definition/actions/0/html",
        ),
    ],
)
def test_bad_flow_input_is_a_4xx_naming_the_field(
    services: Services,
    shop: Shop,
    client: AppClient,
    attributes: dict[str, Any],
    status: int,
    code: str,
    pointer: str,
) -> None:
    placed = api_metric(services, shop, "Placed Order")
    if attributes.get("trigger_metric_id") == "$placed":
        attributes = {**attributes, "trigger_metric_id": placed}
    response = client.post(
        "/api/flows",
        headers=shop.headers(),
        json={"data": {"type": "flow", "attributes": attributes}},
    )
    assert response.status_code == status, response.text
    (error,) = response.json()["errors"]
    assert error["code"] == code
    assert error["source"]["pointer"] == pointer


def test_bad_message_edits_are_400s_naming_the_field(
    services: Services, shop: Shop, client: AppClient
) -> None:
    flow = create_flow(client, shop, "order-refunded", api_metric(services, shop, "Refunded Order"))
    path = f"/api/flows/{flow['data']['id']}/flow-messages/refunded"

    def patch(attributes: dict[str, Any]) -> httpx.Response:
        return client.request(
            "PATCH",
            path,
            headers=shop.headers(),
            json={"data": {"type": "flow-message", "attributes": attributes}},
        )

    broken = patch({"html": "<p>{{ event.OrderNumber </p>"})
    assert broken.status_code == 400
    assert broken.json()["errors"][0]["code"] == "template_syntax"
    assert broken.json()["errors"][0]["source"]["pointer"] == "/data/attributes/html"
    unknown = patch({"url": "https://x.example.com"})
    assert unknown.json()["errors"][0]["source"]["pointer"] == "/data/attributes/url"
    status = patch({"status": "sometimes"})
    assert status.json()["errors"][0]["source"]["pointer"] == "/data/attributes/status"
    sender = patch({"from_email": "not an email"})
    assert sender.status_code == 400
    assert sender.json()["errors"][0]["source"]["pointer"] == "/data/attributes/from_email"
    assert patch({"from_email": " Shop@Example.com"}).status_code == 200
    missing = client.request(
        "PATCH",
        f"/api/flows/{flow['data']['id']}/flow-messages/nope",
        headers=shop.headers(),
        json={"data": {"type": "flow-message", "attributes": {}}},
    )
    assert missing.status_code == 404


def test_flows_of_another_account_are_not_found(
    services: Services, shop: Shop, client: AppClient
) -> None:
    from shoptrack.testing import make_shop

    flow = create_flow(client, shop, "post-purchase", api_metric(services, shop, "Placed Order"))
    other = make_shop(services)
    assert (
        client.get(f"/api/flows/{flow['data']['id']}", headers=other.headers()).status_code == 404
    )
    assert client.get("/api/flows", headers=other.headers()).json()["data"] == []
    moved = client.post(
        "/api/flow-retargets",
        headers=other.headers(),
        json={
            "data": {
                "type": "flow-retarget",
                "attributes": {
                    "from_metric_id": flow["data"]["attributes"]["trigger_metric_id"],
                    "to_metric_id": api_metric(services, other, "Placed Order"),
                },
            }
        },
    )
    assert moved.status_code == 404
    assert moved.json()["errors"][0]["source"]["pointer"] == "/data/attributes/from_metric_id"


def test_the_trigger_filters_and_reentry_rules(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer, clock: FrozenClock
) -> None:
    flow = create_flow(
        client, shop, "abandoned-checkout", api_metric(services, shop, "Started Checkout")
    )
    engine = flow_engine(services, smtp)
    send_event(client, shop, "Started Checkout", "ned@example.com", unique_id="c1")
    process(services)
    engine.run_until_idle()
    clock.advance(timedelta(hours=2))
    send_event(client, shop, "Started Checkout", "ned@example.com", unique_id="c2")
    process(services)  # within a day of entering: not again
    clock.advance(timedelta(days=1))
    engine.run_until_idle()
    send_event(client, shop, "Started Checkout", "ned@example.com", unique_id="c3")
    process(services)
    engine.run_until_idle()
    clock.advance(timedelta(days=1))
    engine.run_until_idle()
    stats = statistics(client, shop, flow["data"]["id"])
    assert stats["entered"] == 2
    assert stats["not_entered"] == {"reentry": 1}
    assert stats["emailed"] == 2
    assert [m["To"] for m in smtp.mailbox.messages] == ["ned@example.com"] * 2


def test_erasing_a_person_forgets_their_flows_but_keeps_their_unsubscribe(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer
) -> None:
    from tests.api.test_privacy import deletion_body

    flow = create_flow(client, shop, "post-purchase", api_metric(services, shop, "Placed Order"))
    send_event(client, shop, "Placed Order", "oli@example.com", unique_id="o1")
    process(services)
    flow_engine(services, smtp).run_until_idle()
    (thanks,) = smtp.mailbox.messages
    assert client.post(urlsplit(thanks["List-Unsubscribe"].strip("<>")).path).status_code == 200
    erased = client.post(
        "/api/data-privacy-deletion-jobs",
        json=deletion_body(email="oli@example.com"),
        headers=shop.headers(),
    )
    assert erased.status_code == 202, erased.text
    with services.database.read() as connection:
        for table in (flow_runs, flow_deliveries):
            assert connection.execute(select(func.count()).select_from(table)).scalar_one() == 0
    assert statistics(client, shop, flow["data"]["id"])["entered"] == 0
    listed = client.get("/api/email-suppressions", headers=shop.headers()).json()["data"]
    assert [s["id"] for s in listed] == ["oli@example.com"]


class _SlowMailer:
    """An SMTP relay that takes minutes per message; on its second message another engine
    runs first, as a second worker would while this one's batch drags on."""

    def __init__(self, inner: SmtpMailer, clock: FrozenClock, other: FlowEngine) -> None:
        self._inner, self._clock, self._other = inner, clock, other
        self.calls = 0

    def send(self, message: EmailMessage, delivery_id: str) -> None:
        self.calls += 1
        if self.calls == 1:
            self._clock.advance(LEASE - timedelta(minutes=1))
        else:
            self._clock.advance(timedelta(minutes=2))  # past the lease taken at the claim
            self._other.run_once()
        self._inner.send(message, delivery_id)


def test_a_slow_batch_never_sends_a_message_another_engine_took_over(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer, clock: FrozenClock
) -> None:
    metric = api_metric(services, shop, "Placed Order")
    definition = {
        "entry": "thanks",
        "actions": [
            {
                "type": "send-email",
                "id": "thanks",
                "subject": "Thank you",
                "html": "<p>Thank you</p>",
                "text": "Thank you",
                "smart_sending": False,
                "status": "live",
            }
        ],
    }
    response = client.post(
        "/api/flows",
        headers=shop.headers(),
        json={
            "data": {
                "type": "flow",
                "attributes": {
                    "definition": definition,
                    "trigger_metric_id": metric,
                    "status": "live",
                },
            }
        },
    )
    assert response.status_code == 201, response.text
    for n in range(2):
        send_event(client, shop, "Placed Order", f"p{n}@example.com", unique_id=f"o-{n}", value=1)
    process(services)
    other = FlowEngine.from_services(services, mailer=SmtpMailer(smtp.url))
    slow = FlowEngine.from_services(
        services, mailer=_SlowMailer(SmtpMailer(smtp.url), clock, other)
    )
    slow.run_once()
    other.run_until_idle()
    recipients = sorted(str(message["To"]) for message in smtp.mailbox.messages)
    assert recipients == ["p0@example.com", "p1@example.com"]


def test_live_events_processed_by_a_doctor_fix_still_start_their_flows(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer
) -> None:
    flow = create_flow(
        client, shop, "abandoned-checkout", api_metric(services, shop, "Started Checkout")
    )
    send_event(client, shop, "Started Checkout", "ada@example.com", unique_id="c-1", value=10)
    # A fix replays its rows and processes what is pending, live rows of others included.
    fix_processing(services)
    assert statistics(client, shop, flow["data"]["id"])["entered"] == 1


def test_a_test_order_starts_no_flow_unless_the_account_allows_test_sends(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer
) -> None:
    deliver(services, shop, woo_order(201, "processing", START, email="first@example.com"), "t1")
    process(services)
    with services.database.read() as connection:
        placed = connection.execute(
            select(metrics.c.id).where(
                metrics.c.integration_id == shop.integration.id,
                metrics.c.name == "Placed Order",
            )
        ).scalar_one()
    flow = create_flow(client, shop, "post-purchase", placed)
    test_address = f"test-order+20261206@{TEST_ORDER_DOMAIN}"
    deliver(services, shop, woo_order(202, "processing", START, email=test_address), "t2")
    deliver(services, shop, woo_order(203, "processing", START, email="ada@example.com"), "t3")
    process(services)
    flow_engine(services, smtp).run_until_idle()
    assert statistics(client, shop, flow["data"]["id"])["entered"] == 1
    with services.database.read() as connection:
        entered = connection.execute(select(func.count()).select_from(flow_runs)).scalar_one()
    assert entered == 1

    # An account that allows test sends gets its test orders' emails.
    allowed = client.request(
        "PATCH",
        "/api/account-settings",
        headers={**shop.headers(), "content-type": "application/vnd.api+json"},
        json={"data": {"type": "account-settings", "attributes": {"test_sends": True}}},
    )
    assert allowed.status_code == 200, allowed.text
    another = f"test-order+20261207@{TEST_ORDER_DOMAIN}"
    deliver(services, shop, woo_order(204, "processing", START, email=another), "t4")
    process(services)
    assert statistics(client, shop, flow["data"]["id"])["entered"] == 2
