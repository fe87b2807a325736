"""The watchdog in the web UI: Home shows the open alerts first, the Alerts page their evidence,
fixes and history, and the Settings page who is told of them."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

from shoptrack.alerts import Watchdog
from shoptrack.clock import FrozenClock
from shoptrack.services import Services
from shoptrack.store.accounts import create_account
from shoptrack.store.alerts import list_subscriptions
from shoptrack.testing import Shop
from tests.flow_support import webhook_receiver
from tests.helpers import AppClient
from tests.watch_support import no_wait, order_history
from tests.web.pages import Browser, add_user

EMAIL = "merchant@example.com"


def _signed_in(services: Services, shop: Shop, client: AppClient) -> Browser:
    add_user(services, shop.account_id, EMAIL)
    browser = Browser(client)
    assert browser.sign_in(EMAIL).status_code == 303
    return browser


def _run(services: Services) -> None:
    watchdog = Watchdog.from_services(services, client_factory=no_wait)
    try:
        watchdog.run()
    finally:
        watchdog.close()


def test_home_shows_open_alerts_first_and_the_alerts_page_keeps_them(
    services: Services, shop: Shop, client: AppClient, clock: FrozenClock
) -> None:
    browser = _signed_in(services, shop, client)
    assert 'id="open-alerts"' not in browser.get("/").text
    empty = browser.get("/alerts")
    assert empty.status_code == 200
    assert "No open alert." in empty.text
    now = clock.now()
    count = order_history(
        services,
        shop,
        since=now - timedelta(days=30),
        until=now - timedelta(days=2),
        every=timedelta(hours=4),
    )
    _run(services)
    home = browser.get("/").text
    assert 'id="open-alerts"' in home
    # First: before the charts.
    assert home.index('id="open-alerts"') < home.index('id="orders-heading"')
    assert 'data-code="placed_order_drop"' in home
    assert "Placed Order dropped: 0 in the" in unescape(home)
    assert ">Alerts</a>" in home  # in the navigation
    page = unescape(browser.get("/alerts").text)
    assert 'data-code="placed_order_drop"' in page
    assert "<strong>Woo</strong>" in page
    assert "Evidence" in page
    assert "Fix:" in page
    assert "No alert resolved yet." in page
    # Orders come back: two runs resolve it, and it moves to the history.
    order_history(
        services,
        shop,
        since=clock.now() - timedelta(days=2),
        until=clock.now(),
        every=timedelta(hours=4),
        first_id=count + 1,
    )
    _run(services)
    _run(services)
    page = unescape(browser.get("/alerts").text)
    assert "No open alert." in page
    history = page.split('id="alert-history"', 1)[1]
    assert 'data-code="placed_order_drop"' in history
    assert "resolved" in history
    assert 'id="open-alerts"' not in browser.get("/").text


def test_home_shows_a_drop_once_as_the_watchdog_s_alert_not_among_the_doctor_s_findings(
    services: Services, shop: Shop, client: AppClient, clock: FrozenClock
) -> None:
    browser = _signed_in(services, shop, client)
    now = clock.now()
    order_history(
        services,
        shop,
        since=now - timedelta(days=30),
        until=now - timedelta(days=2),
        every=timedelta(hours=4),
    )
    before = browser.get("/").text
    assert "placed_order_drop" not in before  # Home judges no drop itself
    _run(services)
    home = browser.get("/").text
    assert home.count('data-code="placed_order_drop"') == 1
    alerts = home.split('id="open-alerts"', 1)[1].split("</section>", 1)[0]
    assert 'data-code="placed_order_drop"' in alerts


def test_the_alerts_page_shows_only_the_account_s_own(
    services: Services, shop: Shop, client: AppClient, clock: FrozenClock
) -> None:
    now = clock.now()
    order_history(
        services,
        shop,
        since=now - timedelta(days=30),
        until=now - timedelta(days=2),
        every=timedelta(hours=4),
    )
    _run(services)
    with services.database.write() as connection:
        other, _key = create_account(connection, "Other shop", now)
    add_user(services, other.id, "other@example.com")
    browser = Browser(client)
    assert browser.sign_in("other@example.com").status_code == 303
    assert "placed_order_drop" not in browser.get("/alerts").text
    assert "placed_order_drop" not in browser.get("/").text


def test_settings_list_add_and_remove_alert_subscriptions(
    services: Services, shop: Shop, client: AppClient
) -> None:
    browser = _signed_in(services, shop, client)
    page = browser.get("/settings").text
    assert 'id="alert-subscriptions"' in page
    assert "Nobody is told yet" in page
    added = browser.submit(
        "/settings",
        "/settings/alert-subscriptions",
        {"channel": "email", "email": "Ops@Example.com"},
    )
    assert added.status_code == 303
    page = browser.get("/settings").text
    assert "<code>ops@example.com</code>" in page
    assert "ops@example.com is told of the account&#39;s alerts." in page
    bad = browser.submit(
        "/settings", "/settings/alert-subscriptions", {"channel": "email", "email": "nobody"}
    )
    assert bad.status_code == 400
    assert 'id="email-error"' in bad.text
    twice = browser.submit(
        "/settings",
        "/settings/alert-subscriptions",
        {"channel": "email", "email": "ops@example.com"},
    )
    assert twice.status_code == 409
    assert 'id="email-error"' in twice.text
    refused = browser.submit(
        "/settings",
        "/settings/alert-subscriptions",
        {"channel": "url", "url": "http://127.0.0.2/x"},
    )
    assert refused.status_code == 422
    assert 'id="url-error"' in refused.text
    with webhook_receiver() as receiver:
        hooked = browser.submit(
            "/settings", "/settings/alert-subscriptions", {"channel": "url", "url": receiver.url()}
        )
    assert hooked.status_code == 201
    assert 'id="new-webhook-secret"' in hooked.text
    assert "whsec_" in hooked.text
    assert "whsec_" not in browser.get("/settings").text  # shown once
    with services.database.read() as connection:
        found = list_subscriptions(connection, shop.account_id)
    assert [s.channel for s in found] == ["email", "webhook"]
    removed = browser.submit("/settings", f"/settings/alert-subscriptions/{found[0].id}/remove", {})
    assert removed.status_code == 303
    page = browser.get("/settings").text
    assert "<code>ops@example.com</code>" not in page
    # Without the page's CSRF token nothing is removed.
    forged = browser.post(f"/settings/alert-subscriptions/{found[1].id}/remove", {})
    assert forged.status_code == 403
    with services.database.read() as connection:
        assert len(list_subscriptions(connection, shop.account_id)) == 1
