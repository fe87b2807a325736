"""The Flows pages in-process, on SQLite and PostgreSQL: creating a flow from the library (with
the service's "haven't received" warning), its steps and per-step statistics, the email editor
(a template that does not compile is named by field and nothing is saved), the status switches,
flow steps in a profile's feed, and nothing of another account's flows."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select

from shoptrack.flows.engine import FlowEngine
from shoptrack.flows.entry import FlowEntry
from shoptrack.flows.model import SendEmail, SendWebhook
from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.store.accounts import create_account
from shoptrack.store.flows import get_flow
from shoptrack.store.schema import flows, metrics, profiles
from shoptrack.testing import Shop, woo_order
from tests.conftest import START
from tests.flow_support import stored_webhook_flow
from tests.helpers import AppClient, deliver
from tests.web.pages import Browser, add_user, csrf_of

EMAIL = "merchant@example.com"


@pytest.fixture
def browser(services: Services, shop: Shop, client: AppClient) -> Browser:
    """Signed in to the shop's account, whose store sent one placed order."""
    add_user(services, shop.account_id, EMAIL)
    signed_in = Browser(client)
    assert signed_in.sign_in(EMAIL).status_code == 303
    deliver(services, shop, woo_order(101, "processing", START - timedelta(days=2)), "d1")
    Processor(services.database, services.clock).run_until_idle()
    return signed_in


def _metric_id(services: Services, shop: Shop, name: str) -> str:
    with services.database.read() as connection:
        return str(
            connection.execute(
                select(metrics.c.id).where(
                    metrics.c.integration_id == shop.integration.id, metrics.c.name == name
                )
            ).scalar_one()
        )


def _create(browser: Browser, services: Services, shop: Shop, template: str, metric: str) -> str:
    """Creates a library flow from the Flows page; the new flow's id."""
    page = browser.get("/flows/new")
    card = page.text[page.text.index(f'id="template-{template}"') :]
    assert f'name="trigger_metric_id" value="{_metric_id(services, shop, metric)}"' in card
    created = browser.post(
        "/flows/new",
        {
            "csrf_token": csrf_of(page.text),
            "template": template,
            "trigger_metric_id": _metric_id(services, shop, metric),
        },
    )
    assert created.status_code == 303, created.text
    found = re.fullmatch(r"/flows/([0-9A-Z]+)", created.headers["location"])
    assert found is not None
    return found.group(1)


def test_a_library_flow_is_created_edited_and_switched_live(
    browser: Browser, services: Services, shop: Shop
) -> None:
    assert "No flow yet" in browser.get("/flows").text
    flow_id = _create(browser, services, shop, "post-purchase", "Placed Order")
    page = browser.get(f"/flows/{flow_id}")
    assert "Post-purchase thank you is created, as a draft" in page.text
    assert "haven&#39;t received" not in page.text  # Placed Order arrived 2 days ago
    steps = page.text[page.text.index('id="flow-steps"') :]
    # The split first, then its two emails, each with its editor and status switch.
    assert steps.index('id="step-first-order"') < steps.index('id="step-thank-you-first"')
    assert "has done Placed Order equals 1 times ever" in steps
    assert f'href="/flows/{flow_id}/messages/thank-you-first"' in steps
    assert 'name="status"' in page.text

    # A template that does not compile: the form again, the field named, nothing saved.
    editor_url = f"/flows/{flow_id}/messages/thank-you-first"
    editor = browser.get(editor_url)
    assert editor.status_code == 200
    assert "Thank you for your first order" in unescape(editor.text)
    broken = browser.post(
        editor_url,
        {
            "csrf_token": csrf_of(editor.text),
            "subject": "Thanks {{ profile.first_name }}",
            "preview_text": "",
            "html": "<p>{% if event.OrderNumber %}unclosed</p>",
            "text": "Thanks",
        },
    )
    assert broken.status_code == 400
    assert 'id="html-error"' in broken.text
    assert "html, line 1" in unescape(broken.text)
    assert "{% if event.OrderNumber %}unclosed" in unescape(broken.text)  # kept as typed
    with services.database.read() as connection:
        before = get_flow(connection, shop.account_id, flow_id).definition.step("thank-you-first")
    assert isinstance(before, SendEmail)
    assert before.subject.startswith("Thank you for your first order")

    saved = browser.post(
        editor_url,
        {
            "csrf_token": csrf_of(editor.text),
            "subject": "Welcome aboard, {{ profile.first_name or 'friend' }}",
            "preview_text": "Your first order",
            "html": "<p>Order {{ event.OrderNumber }} is in.</p>",
            "text": "Order {{ event.OrderNumber }} is in.",
            "from_label": "The shop",
        },
    )
    assert saved.status_code == 303
    with services.database.read() as connection:
        after = get_flow(connection, shop.account_id, flow_id).definition.step("thank-you-first")
    assert isinstance(after, SendEmail)
    assert after.subject == "Welcome aboard, {{ profile.first_name or 'friend' }}"
    assert after.from_label == "The shop"
    assert after.smart_sending is False  # the box left unticked

    # The flow switched live, and one of its messages to manual.
    switched = browser.submit(f"/flows/{flow_id}", f"/flows/{flow_id}/status", {"status": "live"})
    assert switched.status_code == 303
    assert "The flow is live" in browser.get(switched.headers["location"]).text
    held = browser.submit(
        f"/flows/{flow_id}",
        f"/flows/{flow_id}/messages/thank-you-returning/status",
        {"status": "manual"},
    )
    assert held.status_code == 303
    bad = browser.submit(f"/flows/{flow_id}", f"/flows/{flow_id}/status", {"status": "on"})
    assert "status must be one of draft, manual, live" in browser.get(bad.headers["location"]).text
    with services.database.read() as connection:
        flow = get_flow(connection, shop.account_id, flow_id)
    assert flow.status.value == "live"
    returning = flow.definition.step("thank-you-returning")
    assert isinstance(returning, SendEmail)
    assert returning.status.value == "manual"

    # Two live orders: the first-time buyer is emailed, the returning one skipped (manual).
    deliver(services, shop, woo_order(201, "processing", START, email="new@example.com"), "n1")
    deliver(services, shop, woo_order(202, "processing", START), "n2")
    Processor(
        services.database, services.clock, on_recorded=FlowEntry(services.clock)
    ).run_until_idle()
    engine = FlowEngine.from_services(services)
    try:
        engine.run_until_idle()
    finally:
        engine.close()

    listed = browser.get("/flows")
    row = listed.text[listed.text.index(f'href="/flows/{flow_id}?') :].split("</tr>")[0]
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["2", "0", "1", "1", "0"]
    page = browser.get(f"/flows/{flow_id}")
    statistics = page.text[page.text.index('id="flow-statistics"') :]
    assert "<dt>Entered</dt><dd>2</dd>" in statistics
    assert "1 (the message is manual)" in statistics
    split = page.text[page.text.index('id="step-first-order"') :]
    assert "Yes: 1 · No: 1" in " ".join(split.split())
    first = page.text[page.text.index('id="step-thank-you-first"') :]
    assert "Emailed: 1" in first.split("</li>")[0]
    returning_step = page.text[page.text.index('id="step-thank-you-returning"') :]
    assert "Skipped: 1 (the message is manual)" in " ".join(
        returning_step.split("</li>")[0].split()
    )

    # The profile's feed shows its flow steps beside its events.
    with services.database.read() as connection:
        profile_id = connection.execute(
            select(profiles.c.id).where(profiles.c.email == "new@example.com")
        ).scalar_one()
    feed = browser.get(f"/profiles/{profile_id}").text
    feed = feed[feed.index('id="activity-feed"') :]
    kinds = re.findall(r'<li class="event flow-step" data-kind="([a-z_]+)"', feed)
    assert kinds == ["completed", "emailed", "split", "entered"]
    assert "Post-purchase thank you" in feed
    assert feed.index('data-kind="completed"') < feed.index(">Placed Order<")


def test_a_quiet_trigger_metric_warns_and_the_flow_is_created(
    browser: Browser, services: Services, shop: Shop
) -> None:
    flow_id = _create(browser, services, shop, "order-cancelled", "Cancelled Order")
    page = unescape(browser.get(f"/flows/{flow_id}").text)
    assert "We haven't received Cancelled Order events recently" in page
    assert "none from Woo in the last 30 days" in page
    with services.database.read() as connection:
        assert get_flow(connection, shop.account_id, flow_id).status.value == "draft"


def test_old_days_links_move_to_the_period_picker(
    browser: Browser, services: Services, shop: Shop
) -> None:
    flow_id = _create(browser, services, shop, "post-purchase", "Placed Order")
    for path in ("/flows", f"/flows/{flow_id}"):
        old = browser.get(f"{path}?days=7&compare=none")
        assert old.status_code == 301
        assert old.headers["location"] == f"{path}?range=7d&compare=none"
        assert browser.get(f"{path}?days=9").headers["location"] == path
        assert browser.get(old.headers["location"]).status_code == 200
    # Signed out, the sign-in comes first.
    browser.post("/sign-out", {"csrf_token": csrf_of(browser.get("/flows").text)})
    assert browser.get("/flows?days=7").headers["location"].startswith("/sign-in")


def test_a_metric_that_does_not_fit_is_named(
    browser: Browser, services: Services, shop: Shop
) -> None:
    page = browser.get("/flows/new")
    refused = browser.post(
        "/flows/new",
        {
            "csrf_token": csrf_of(page.text),
            "template": "post-purchase",
            "trigger_metric_id": _metric_id(services, shop, "Cancelled Order"),
        },
    )
    assert refused.status_code == 400
    assert "post-purchase is triggered by Placed Order" in unescape(refused.text)
    with services.database.read() as connection:
        assert connection.execute(select(flows.c.id)).first() is None


def test_another_accounts_user_gets_404_on_flows(
    browser: Browser, services: Services, shop: Shop
) -> None:
    flow_id = _create(browser, services, shop, "post-purchase", "Placed Order")
    with services.database.write() as connection:
        other, _ = create_account(connection, "Other shop", services.clock.now())
    add_user(services, other.id, "other@example.com")
    outsider = Browser(browser.client)
    outsider.post("/sign-out", {"csrf_token": csrf_of(browser.get("/").text)})
    outsider.sign_in("other@example.com")
    assert outsider.get(f"/flows/{flow_id}").status_code == 404
    assert outsider.get(f"/flows/{flow_id}/messages/thank-you-first").status_code == 404
    token = csrf_of(outsider.get("/flows").text)
    assert "Post-purchase" not in outsider.get("/flows").text
    for action, data in [
        (f"/flows/{flow_id}/status", {"status": "live"}),
        (f"/flows/{flow_id}/messages/thank-you-first/status", {"status": "draft"}),
        (f"/flows/{flow_id}/messages/thank-you-first", {"subject": "x", "html": "x", "text": "x"}),
    ]:
        assert outsider.post(action, {"csrf_token": token, **data}).status_code == 404
    # Nor can its metric be used to create a flow in the other account.
    stolen = outsider.post(
        "/flows/new",
        {
            "csrf_token": token,
            "template": "post-purchase",
            "trigger_metric_id": _metric_id(services, shop, "Placed Order"),
        },
    )
    assert stolen.status_code == 400
    with services.database.read() as connection:
        flow = get_flow(connection, shop.account_id, flow_id)
        count = len(connection.execute(select(flows.c.id)).all())
    assert flow.status.value == "draft"
    assert count == 1


def test_a_webhook_step_shows_no_secret_and_cannot_go_live_to_a_refused_address(
    browser: Browser, services: Services, shop: Shop
) -> None:
    metric = _metric_id(services, shop, "Placed Order")
    url = "http://169.254.169.254/latest/meta-data/"
    flow_id = stored_webhook_flow(services, shop, metric, url, "live", message_status="draft")
    page = browser.get(f"/flows/{flow_id}")
    assert f"POST {url}, signed (secret set)" in page.text
    assert "whsec_" not in page.text  # shown once, when it was made; never here
    refused = browser.submit(
        f"/flows/{flow_id}", f"/flows/{flow_id}/messages/hook/status", {"status": "live"}
    )
    assert refused.status_code == 303
    shown = unescape(browser.get(refused.headers["location"]).text)
    assert "url: 169.254.169.254 is a loopback, private, link-local or reserved address" in shown
    with services.database.read() as connection:
        step = get_flow(connection, shop.account_id, flow_id).definition.step("hook")
    assert isinstance(step, SendWebhook)
    assert step.status.value == "draft"
