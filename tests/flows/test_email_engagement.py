"""What becomes of a flow email, on both databases and a real SMTP server: Received Email as it
is handed over, Opened Email from the pixel, Clicked Email from tracked links that lead where the
template did, Bounced Email on a permanent refusal, Unsubscribed — each once, bounded, naming
the flow and the message, and machines' opens and clicks flagged."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from shoptrack.api.app import create_app
from shoptrack.clock import FrozenClock
from shoptrack.flows.tracking import TrackingToken, sign_tracking_token
from shoptrack.services import Services
from shoptrack.settings import Settings
from shoptrack.store.accounts import account_settings, save_account_settings
from shoptrack.store.database import Database
from shoptrack.store.engagement import signing_key
from shoptrack.store.flows import suppression_of
from shoptrack.store.schema import email_engagements, email_links, events, flow_deliveries, metrics
from shoptrack.store.secrets import CredentialCipher
from shoptrack.testing import SIMULATOR_NETWORKS, Shop
from tests.flow_support import (
    READER,
    Mailbox,
    SmtpServer,
    api_metric,
    create_flow,
    flow_engine,
    follow,
    local_path,
    open_pixel,
    process,
    send_event,
    smtp,
)
from tests.helpers import AppClient

__all__ = ["smtp"]  # the fixture, imported so pytest finds it here

BUYER = "ada@example.com"
ORDER = {
    "OrderNumber": "#1001",
    "Items": [{"ProductName": "Blue mug", "Quantity": 2, "RowTotal": 19.8}],
}


@dataclass
class Sent:
    flow_id: str
    message: EmailMessage


def _send(
    services: Services,
    shop: Shop,
    client: AppClient,
    smtp: SmtpServer,
    address: str = BUYER,
    **settings: Any,
) -> Sent:
    """A live post-purchase flow emails ``address`` about its first order."""
    if settings:
        with services.database.write() as connection:
            changed = account_settings(connection, shop.account_id).changed(settings)
            save_account_settings(connection, shop.account_id, changed)
    flow = create_flow(client, shop, "post-purchase", api_metric(services, shop, "Placed Order"))
    unique_id = f"o-{address}"
    send_event(
        client, shop, "Placed Order", address, unique_id=unique_id, properties=ORDER, value=29.5
    )
    process(services)
    engine = flow_engine(services, smtp)
    try:
        engine.run_until_idle()
    finally:
        engine.close()
    messages = smtp.mailbox.to(address)
    return Sent(flow["data"]["id"], messages[0] if messages else EmailMessage())


def _engagement(services: Services, shop: Shop) -> list[tuple[str, dict[str, Any]]]:
    """The account's email events (metric of the source ``email``, properties), oldest first."""
    with services.database.read() as connection:
        rows = connection.execute(
            select(metrics.c.name, events.c.properties)
            .join(events, events.c.metric_id == metrics.c.id)
            .where(events.c.account_id == shop.account_id, metrics.c.source == "email")
            .order_by(events.c.time, events.c.id)
        )
        return [(row.name, dict(row.properties)) for row in rows]


def _named(services: Services, shop: Shop, metric: str) -> list[dict[str, Any]]:
    return [properties for name, properties in _engagement(services, shop) if name == metric]


def _delivery_id(services: Services) -> str:
    with services.database.read() as connection:
        return str(connection.execute(select(flow_deliveries.c.id)).scalar_one())


def test_a_sent_email_is_received_and_its_links_lead_where_the_template_did(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer
) -> None:
    sent = _send(services, shop, client, smtp)
    (received,) = _named(services, shop, "Received Email")
    assert received["$flow"] == sent.flow_id
    assert received["$message"] == "thank-you-first"
    assert received["Flow Name"] == "Post-purchase thank you"
    assert received["Subject"] == "Thank you for your first order, #1001!"
    listed = client.get("/api/metrics", headers=shop.headers()).json()["data"]
    (metric,) = [m for m in listed if m["attributes"]["name"] == "Received Email"]
    assert metric["attributes"]["integration"]["id"] == "email"

    # Every link but the unsubscribe link passes through shoptrack; the store's address comes
    # from the integration, with UTM parameters for the store's own analytics.
    links = Mailbox.links(sent.message)
    unsubscribe = sent.message["List-Unsubscribe"].strip("<>")
    assert unsubscribe in links
    tracked = [link for link in links if link != unsubscribe]
    assert tracked
    assert all(link.startswith("http://127.0.0.1:8000/t/c/") for link in tracked)
    store = urlsplit(follow(client, tracked[0]))
    assert (store.scheme, store.netloc) == ("https", "shop.example.com")
    assert parse_qs(store.query) == {
        "utm_source": ["shoptrack"],
        "utm_medium": ["email"],
        "utm_campaign": ["Post-purchase thank you"],
    }
    text = Mailbox.text(sent.message)
    assert "/t/c/" in text
    assert "shop.example.com" not in text
    assert unsubscribe in text

    # The tracking URLs carry nothing of the recipient's, in clear or in base64.
    pixel = Mailbox.pixel(sent.message)
    assert pixel is not None
    for url in [pixel, *tracked]:
        token = url.rsplit("/", 1)[1]
        decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert b"ada" not in decoded
        assert "ada" not in url
        assert len(token) < 60


def test_opens_are_recorded_once_an_hour_and_machines_flagged(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer, clock: FrozenClock
) -> None:
    sent = _send(services, shop, client, smtp)
    # Apple Mail Privacy Protection fetches images as the message arrives.
    open_pixel(client, sent.message)
    clock.advance(timedelta(minutes=20))
    open_pixel(client, sent.message)  # the reader, the same hour: not hidden by the prefetch
    open_pixel(client, sent.message)  # and again: one open an hour
    clock.advance(timedelta(hours=1))
    open_pixel(client, sent.message, **{"user-agent": "Mozilla/5.0"})
    open_pixel(client, sent.message, **{"user-agent": READER})
    opens = _named(services, shop, "Opened Email")
    flags = [(o.get("Machine Open", False), o.get("Flagged Because")) for o in opens]
    assert flags == [
        (True, "opened as it was delivered"),
        (False, None),
        (True, "privacy proxy"),
        (False, None),
    ]
    assert {o["$flow"] for o in opens} == {sent.flow_id}
    assert {o["$message"] for o in opens} == {"thank-you-first"}
    with services.database.read() as connection:
        machine = connection.execute(
            select(email_engagements.c.machine)
            .where(email_engagements.c.kind == "opened")
            .order_by(email_engagements.c.id)
        ).scalars()
        assert list(machine) == [True, False, True, False]

    # A token that was altered, or made for a click, records nothing and still answers the image.
    pixel = Mailbox.pixel(sent.message)
    assert pixel is not None
    altered = pixel[:-2] + ("AA" if not pixel.endswith("AA") else "BB")
    for path in (local_path(altered), "/t/o/nonsense"):
        answer = client.get(path)
        assert (answer.status_code, answer.headers["content-type"]) == (200, "image/gif")
    assert len(_named(services, shop, "Opened Email")) == 4


def test_clicks_are_recorded_and_redirect_only_to_the_emails_own_links(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer, clock: FrozenClock
) -> None:
    sent = _send(services, shop, client, smtp)
    link = next(link for link in Mailbox.links(sent.message) if "/t/c/" in link)
    target = follow(client, link)  # as it is delivered: a scanner's
    clock.advance(timedelta(minutes=3))
    assert follow(client, link) == target
    assert follow(client, link) == target  # one click an hour per link
    clock.advance(timedelta(hours=1))
    follow(client, link, **{"user-agent": "Mozilla/5.0 (compatible; BingPreview/1.0b)"})
    head = client.request("HEAD", local_path(link))
    assert (head.status_code, head.headers["location"]) == (302, target)  # records nothing
    clicks = _named(services, shop, "Clicked Email")
    assert [(c.get("Bot Click", False), c.get("Flagged Because")) for c in clicks] == [
        (True, "clicked as it was delivered"),
        (False, None),
        (True, "link scanner"),
    ]
    assert {(c["URL"], c["Link"], c["$flow"], c["$message"]) for c in clicks} == {
        (target, 0, sent.flow_id, "thank-you-first")
    }

    # Nothing but the email's own links: an altered token, an open's token, a position the
    # email has no link at (even signed with the real key) are 404s, and record nothing.
    with services.database.write() as connection:
        key = signing_key(connection, clock.now())
    delivery = _delivery_id(services)
    elsewhere = sign_tracking_token(key, TrackingToken("click", delivery, 7))
    pixel = Mailbox.pixel(sent.message)
    assert pixel is not None
    opened_token = pixel.rsplit("/", 1)[1]
    for path in (
        local_path(link)[:-3] + "xyz",
        f"/t/c/{opened_token}",
        f"/t/c/{elsewhere}",
        "/t/c/https%3A%2F%2Fevil.example",
    ):
        answer = client.get(path, headers={"user-agent": READER})
        assert answer.status_code == 404, path
        assert "location" not in answer.headers
    assert len(_named(services, shop, "Clicked Email")) == 3


def test_tracking_and_utm_parameters_follow_the_accounts_settings(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer
) -> None:
    untracked = _send(services, shop, client, smtp, "ada@example.com", email_tracking=False)
    assert Mailbox.pixel(untracked.message) is None
    store = next(link for link in Mailbox.links(untracked.message) if "shop.example.com" in link)
    assert "utm_medium=email" in store
    assert len(_named(services, shop, "Received Email")) == 1  # sends are known all the same

    plain = _send(
        services, shop, client, smtp, "bob@example.com", email_tracking=True, utm_parameters=False
    )
    link = next(link for link in Mailbox.links(plain.message) if "/t/c/" in link)
    assert follow(client, link) == "https://shop.example.com"


def test_a_refused_address_is_a_bounce_and_is_suppressed(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer
) -> None:
    smtp.mailbox.refusing["gone@example.com"] = "550 5.1.1 No such user"
    smtp.mailbox.refusing["busy@example.com"] = "450 4.2.1 Mailbox busy, try later"
    _send(services, shop, client, smtp, "gone@example.com")
    _send(services, shop, client, smtp, "busy@example.com")
    (bounced,) = _named(services, shop, "Bounced Email")
    assert bounced["Bounce Type"] == "hard"
    assert "No such user" in bounced["Reason"]
    assert bounced["$message"] == "thank-you-first"
    assert _named(services, shop, "Received Email") == []
    with services.database.read() as connection:
        assert suppression_of(connection, shop.account_id, "gone@example.com") == "bounced"
        assert suppression_of(connection, shop.account_id, "busy@example.com") is None
        states = dict(
            connection.execute(select(flow_deliveries.c.recipient, flow_deliveries.c.state)).all()
        )
    assert states == {"gone@example.com": "failed", "busy@example.com": "retry"}


def test_unsubscribing_records_which_email_it_came_from_once(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer
) -> None:
    sent = _send(services, shop, client, smtp)
    unsubscribe = local_path(sent.message["List-Unsubscribe"].strip("<>"))
    for _ in range(2):  # RFC 8058's one-click POST, then the page's button
        assert client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    (unsubscribed,) = _named(services, shop, "Unsubscribed")
    assert (unsubscribed["$flow"], unsubscribed["$message"]) == (sent.flow_id, "thank-you-first")


def test_tracking_links_outlive_a_rotation_of_the_secret_key(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer, clock: FrozenClock
) -> None:
    sent = _send(services, shop, client, smtp)
    clock.advance(timedelta(minutes=5))
    url = services.settings.database_url
    assert url is not None
    settings = Settings(
        data_dir=services.settings.data_dir,
        database_url=url,
        secret_key="an-entirely-new-key",
        private_store_networks=SIMULATOR_NETWORKS,
    )
    rotated = Services(
        settings=settings,
        database=Database(url),
        clock=clock,
        cipher=CredentialCipher(["an-entirely-new-key"]),
    )
    other = AppClient(create_app(rotated, run_workers=False))
    try:
        open_pixel(other, sent.message)
        link = next(link for link in Mailbox.links(sent.message) if "/t/c/" in link)
        assert follow(other, link).startswith("https://shop.example.com")
    finally:
        other.close()
        rotated.close()
    assert len(_named(services, shop, "Opened Email")) == 1
    assert len(_named(services, shop, "Clicked Email")) == 1


@pytest.mark.parametrize("settings", [{"email_tracking": False}, {}])
def test_every_email_of_the_library_links_to_the_store(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer, settings: dict[str, Any]
) -> None:
    from shoptrack.flows.library import LIBRARY

    for template in LIBRARY.values():
        definition = template.build()
        for step in definition.messages():
            assert "store_url" in getattr(step, "html", ""), (template.key, step.id)
            assert "store_url" in getattr(step, "text", ""), (template.key, step.id)
    sent = _send(services, shop, client, smtp, **settings)
    assert any(
        "shop.example.com" in link or "/t/c/" in link for link in Mailbox.links(sent.message)
    )


def test_deleting_a_profile_forgets_its_emails_engagement_and_links(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer, clock: FrozenClock
) -> None:
    sent = _send(services, shop, client, smtp)
    clock.advance(timedelta(minutes=5))
    open_pixel(client, sent.message)
    link = next(link for link in Mailbox.links(sent.message) if "/t/c/" in link)
    follow(client, link)
    body = {
        "data": {
            "type": "data-privacy-deletion-job",
            "attributes": {
                "profile": {"data": {"type": "profile", "attributes": {"email": BUYER}}}
            },
        }
    }
    response = client.post("/api/data-privacy-deletion-jobs", json=body, headers=shop.headers())
    assert response.status_code == 202, response.text
    with services.database.read() as connection:
        for table in (email_engagements, email_links, flow_deliveries):
            assert connection.execute(select(table)).all() == [], table.name
    assert _engagement(services, shop) == []
    # The email's links lead nowhere now, and record nothing.
    assert client.get(local_path(link), headers={"user-agent": READER}).status_code == 404
    open_pixel(client, sent.message)
    assert _engagement(services, shop) == []
