"""The web UI's pages in-process, on SQLite and PostgreSQL: what each shows of the signed-in
user's account, its forms (errors named by field), and nothing of another account."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from shoptrack.domain.events import TEST_ORDER_DOMAIN
from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.store.accounts import account_settings, create_account
from shoptrack.store.inbox import InboxEntry, write_entries
from shoptrack.store.integrations import get_integration
from shoptrack.store.schema import integrations, metrics, profiles
from shoptrack.store.sync_runs import count_page, finish_run, start_run
from shoptrack.testing import Shop, woo_order
from tests.conftest import START
from tests.helpers import AppClient, deliver
from tests.web.pages import Browser, add_user, csrf_of, no_wait_client, row_cells

EMAIL = "merchant@example.com"


@pytest.fixture
def browser(services: Services, shop: Shop, client: AppClient) -> Browser:
    """Signed in to the shop's account, whose store sent three orders (two placed)."""
    add_user(services, shop.account_id, EMAIL)
    signed_in = Browser(client)
    assert signed_in.sign_in(EMAIL).status_code == 303
    day = timedelta(days=1)
    deliver(services, shop, woo_order(101, "processing", START - 3 * day, total="40.00"), "d1")
    deliver(
        services,
        shop,
        woo_order(102, "completed", START - day, email="ann@example.com", total="19.50"),
        "d2",
    )
    deliver(services, shop, woo_order(103, "pending", START - day, total="5.00"), "d3")
    Processor(services.database, services.clock).run_until_idle()
    return signed_in


def _chart(html: str, canvas_id: str) -> dict[str, Any]:
    found = re.search(rf'<canvas id="{canvas_id}"[^>]*data-chart=\'([^\']*)\'', html)
    assert found is not None, f"no chart {canvas_id}"
    config: dict[str, Any] = orjson.loads(unescape(found.group(1)))
    return config


def _metric_id(services: Services, shop: Shop, name: str) -> str:
    with services.database.read() as connection:
        return str(
            connection.execute(
                select(metrics.c.id).where(
                    metrics.c.account_id == shop.account_id,
                    metrics.c.integration_id == shop.integration.id,
                    metrics.c.name == name,
                )
            ).scalar_one()
        )


def _metric_names(html: str) -> list[str]:
    return re.findall(r'<span class="metric-name">([^<]+)</span>', html)


def _profile_id(services: Services, email: str) -> str:
    with services.database.read() as connection:
        return str(
            connection.execute(select(profiles.c.id).where(profiles.c.email == email)).scalar_one()
        )


def test_layout_links_the_pages_that_exist(browser: Browser) -> None:
    web = browser.client.app.web
    assert web is not None
    web.app.state.doctor_client = no_wait_client  # the Doctor page asks the (closed) store
    page = browser.get("/")
    nav = page.text[page.text.index('<nav aria-label="Main">') : page.text.index("</nav>")]
    for label, href in [
        ("Home", "/"),
        ("Integrations", "/integrations"),
        ("Metrics", "/metrics"),
        ("Profiles", "/profiles"),
        ("Flows", "/flows"),
        ("Doctor", "/doctor"),
        ("Settings", "/settings"),
    ]:
        assert f'<a href="{href}"' in nav
        assert label in nav
    assert 'name="viewport"' in page.text
    for href in re.findall(r'<a href="(/[^"?#]*)"', nav):
        assert browser.get(href).status_code == 200, href


def test_home_charts_placed_orders_per_integration(browser: Browser) -> None:
    page = browser.get("/")
    assert page.status_code == 200
    assert row_cells(page.text, "placed-order-totals", "Woo")[:2] == ["2", "59.50 USD"]
    orders = _chart(page.text, "orders-chart")
    assert orders["type"] == "bar"
    assert len(orders["data"]["labels"]) == 30
    dataset, previous = orders["data"]["datasets"]
    assert dataset["label"] == "Woo"
    assert (previous["label"], previous["type"], sum(previous["data"])) == (
        "Previous 30 days",
        "line",
        0,
    )
    assert sum(dataset["data"]) == 2
    assert dataset["data"][-4] == 1
    assert dataset["data"][-2] == 1
    revenue = _chart(page.text, "revenue-chart")
    assert sum(revenue["data"]["datasets"][0]["data"]) == pytest.approx(59.5)
    assert "healthy" in page.text or "not checked yet" in page.text


def test_integrations_list_and_page(browser: Browser, shop: Shop) -> None:
    listed = browser.get("/integrations")
    assert f'href="/integrations/{shop.integration.id}"' in listed.text
    assert "WooCommerce" in listed.text
    page = browser.get(f"/integrations/{shop.integration.id}")
    assert page.status_code == 200
    assert f"/webhooks/woocommerce/{shop.integration.id}" in page.text
    deliveries = page.text[page.text.index('id="deliveries"') :]
    assert deliveries.count("<tr>") == 3 + 1  # three deliveries and the header
    assert "order.updated" in deliveries
    assert "accepted" in deliveries
    assert "Consumer secret" in page.text  # which credentials are stored, never their values
    assert "cs_x" not in page.text


def test_sync_now_queues_a_sync_and_shows_progress(
    browser: Browser, services: Services, shop: Shop
) -> None:
    page = browser.get(f"/integrations/{shop.integration.id}")
    assert "Sync now" in page.text
    panel = browser.client.post(
        f"/integrations/{shop.integration.id}/sync",
        headers={"X-CSRF-Token": csrf_of(page.text), "HX-Request": "true"},
    )
    assert panel.status_code == 200
    assert 'id="sync-panel"' in panel.text
    assert "A sync is queued" in panel.text
    assert 'hx-trigger="every 2s"' in panel.text  # the panel keeps polling while queued
    with services.database.read() as connection:
        queued = connection.execute(
            select(integrations.c.next_sync_at).where(integrations.c.id == shop.integration.id)
        ).scalar_one()
    assert queued == services.clock.now()
    polled = browser.get(f"/integrations/{shop.integration.id}/sync-status")
    assert "A sync is queued" in polled.text
    # Without JavaScript the same form redirects back with a message.
    plain = browser.submit(
        f"/integrations/{shop.integration.id}",
        f"/integrations/{shop.integration.id}/sync",
        {},
    )
    assert plain.status_code == 303
    assert "sync is queued" in browser.get(plain.headers["location"]).text


def _sync_run(services: Services, shop: Shop, orders: list[dict[str, Any]]) -> str:
    """A finished sync that read ``orders``, as ``Syncer`` stores them."""
    now = services.clock.now()
    with services.database.write() as connection:
        run = start_run(
            connection,
            account_id=shop.account_id,
            integration_id=shop.integration.id,
            backfill=False,
            since=now - timedelta(hours=1),
            until=now,
            now=now,
        )
        entries = [
            InboxEntry(
                account_id=shop.account_id,
                integration_id=shop.integration.id,
                source="poll",
                topic="order",
                body=orjson.dumps(order),
                dedupe_key=f"poll:{order['id']}:{order['date_modified_gmt']}",
                sync_run_id=run.id,
            )
            for order in orders
        ]
        written = sum(write_entries(connection, entries, now))
        count_page(connection, run.id, len(entries), written)
        finish_run(connection, run.id, now)
    return run.id


def _panel_state(html: str) -> str:
    found = re.search(r'id="sync-panel"[^>]*data-state="([a-z]+)"', html)
    assert found is not None, html
    return found.group(1)


def test_the_sync_panel_says_processing_until_every_order_a_sync_read_is_processed(
    browser: Browser, services: Services, shop: Shop
) -> None:
    status_url = f"/integrations/{shop.integration.id}/sync-status"
    assert _panel_state(browser.get(status_url).text) == "idle"
    orders = [woo_order(200 + n, "processing", START - timedelta(minutes=n)) for n in range(3)]
    _sync_run(services, shop, orders)
    services.clock.advance(timedelta(seconds=5))
    # A later sync that read nothing new does not hide the earlier one's waiting orders.
    latest = _sync_run(services, shop, orders)
    panel = browser.get(status_url).text
    assert _panel_state(panel) == "processing"
    assert "3 orders the last syncs read are still being processed" in panel
    assert 'hx-trigger="every 2s"' in panel  # polled until it is done
    run = browser.client.get(
        f"/api/integrations/{shop.integration.id}/sync-runs/{latest}", headers=shop.headers()
    ).json()["data"]["attributes"]
    assert (run["rows_written"], run["pending_rows"]) == (0, 0)
    Processor(services.database, services.clock).run_until_idle()
    panel = browser.get(status_url).text
    assert _panel_state(panel) == "idle"
    assert "still being processed" not in panel
    assert 'hx-trigger="every 2s"' not in panel


def test_status_rule_editor(browser: Browser, services: Services, shop: Shop) -> None:
    settings_url = f"/integrations/{shop.integration.id}/settings"
    page = browser.get(settings_url)
    assert page.status_code == 200
    rules = page.text[page.text.index('id="status-rules"') :]
    # The catalogue as check boxes, the defaults checked; statuses seen on orders marked.
    assert 'name="rule_placed" value="processing" aria-label="Processing: Placed" checked' in rules
    assert 'name="rule_placed" value="on-hold" aria-label="On hold: Placed">' in rules
    assert "seen on orders" in rules
    statuses = re.findall(r'name="status" value="([^"]+)"', rules)
    assert {"pending", "processing", "on-hold", "completed", "cancelled", "refunded"} <= set(
        statuses
    )

    form = {
        "name": "Woo store",
        "enabled": "1",
        "timezone": "Europe/Paris",
        "sync_interval_minutes": "30",
        "backfill_days": "",
        "status": statuses,
        "rule_placed": ["processing", "on-hold"],
        "rule_fulfilled": ["completed"],
        "rule_cancelled": ["cancelled"],
        "rule_refunded": ["refunded"],
    }
    saved = browser.submit(settings_url, settings_url, form)
    assert saved.status_code == 303
    shown = browser.get(saved.headers["location"])
    assert "The settings are saved." in shown.text
    with services.database.read() as connection:
        integration = get_integration(connection, shop.account_id, shop.integration.id)
    assert integration.name == "Woo store"
    assert integration.settings["placed_statuses"] == {"include": ["on-hold", "processing"]}
    # Lists equal to the platform's defaults are not stored: the defaults keep applying.
    assert "fulfilled_statuses" not in integration.settings
    assert integration.settings["timezone"] == "Europe/Paris"
    assert integration.settings["sync_interval_minutes"] == 30
    again = browser.get(settings_url)
    assert 'value="on-hold" aria-label="On hold: Placed" checked' in again.text


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("timezone", "Mars/Olympus", "Timezone"),
        ("sync_interval_minutes", "often", "Sync interval (minutes)"),
        ("sync_interval_minutes", "0", "Sync interval minutes"),
        ("name", "   ", "Name"),
    ],
)
def test_bad_settings_are_named_and_nothing_is_saved(
    browser: Browser, services: Services, shop: Shop, field: str, value: str, named: str
) -> None:
    settings_url = f"/integrations/{shop.integration.id}/settings"
    form = {"name": "Renamed", "enabled": "1", field: value}
    response = browser.submit(settings_url, settings_url, form)
    assert response.status_code == 400
    assert f'id="{field}-error"' in response.text
    assert named in unescape(response.text)
    assert f'value="{value}"' in response.text  # what was typed stays in the form
    with services.database.read() as connection:
        integration = get_integration(connection, shop.account_id, shop.integration.id)
    assert integration.name == "Woo"


def test_removing_an_integration(browser: Browser, services: Services, shop: Shop) -> None:
    confirm_url = f"/integrations/{shop.integration.id}/remove"
    assert "events, metrics and profiles stay" in browser.get(confirm_url).text
    removed = browser.submit(confirm_url, confirm_url, {})
    assert removed.status_code == 303
    listed = browser.get(removed.headers["location"])
    assert "is removed" in listed.text
    assert f'href="/integrations/{shop.integration.id}"' not in listed.text
    assert browser.get(f"/integrations/{shop.integration.id}").status_code == 404
    # Its orders stay on the home page.
    assert "59.50" in browser.get("/").text


def test_metrics_search_and_metric_page(browser: Browser, services: Services, shop: Shop) -> None:
    listed = browser.get("/metrics", params={"q": "placed"})
    assert _metric_names(listed.text) == ["Placed Order"]
    checkout = browser.get("/metrics", params={"q": "Started Checkout", "zeros": "show"})
    assert _metric_names(checkout.text) == ["Started Checkout"]
    assert "No metric is called" in browser.get("/metrics", params={"q": "zzz"}).text

    placed = _metric_id(services, shop, "Placed Order")
    page = browser.get(f"/metrics/{placed}")
    assert page.status_code == 200
    config = _chart(page.text, "metric-chart-canvas")
    assert sum(config["data"]["datasets"][0]["data"]) == 2
    assert len(config["data"]["labels"]) == 30
    latest = page.text[page.text.index('id="latest-events"') :]
    assert latest.index("ann@example.com") < latest.index("buyer@example.com")  # newest first
    assert "Properties" in latest
    assert "OrderNumber" in latest

    value = _chart(browser.get(f"/metrics/{placed}?measure=value").text, "metric-chart-canvas")
    assert sum(value["data"]["datasets"][0]["data"]) == pytest.approx(59.5)
    unique = _chart(
        browser.get(f"/metrics/{placed}?measure=unique&interval=week").text, "metric-chart-canvas"
    )
    assert sum(unique["data"]["datasets"][0]["data"]) == 2
    assert unique["data"]["labels"][0].startswith("week of")
    quarter = browser.get(f"/metrics/{placed}?range=90d&interval=month").text
    month = _chart(quarter, "metric-chart-canvas")
    assert month["data"]["labels"] == ["Aug 2026", "Sep 2026", "Oct 2026", "Nov 2026"]
    missing = browser.get("/metrics/NOSUCHMETRIC")
    assert missing.status_code == 404
    assert "no metric NOSUCHMETRIC in this account" in missing.text
    assert '<nav aria-label="Main">' in missing.text  # signed in: the layout stays


def test_metric_page_compares_integrations(
    browser: Browser, services: Services, shop: Shop
) -> None:
    from shoptrack.testing import make_shop

    make_shop(services)  # another account with an integration called Woo too
    with services.database.write() as connection:
        from shoptrack.store.integrations import create_integration

        create_integration(
            connection,
            services.cipher,
            account_id=shop.account_id,
            platform="woocommerce",
            name="Second store",
            credentials={
                "store_url": "https://two.example.com",
                "consumer_key": "ck_2",
                "consumer_secret": "cs_2",
                "webhook_secret": "s",
            },
            settings={},
            now=services.clock.now(),
        )
    placed = _metric_id(services, shop, "Placed Order")
    page = browser.get(f"/metrics/{placed}?integrations=all")
    labels = [d["label"] for d in _chart(page.text, "metric-chart-canvas")["data"]["datasets"]]
    # Never the other account's "Woo"; the previous period as one line.
    assert sorted(labels) == ["Previous 30 days", "Second store", "Woo"]


def test_profiles_search_and_activity_feed(
    browser: Browser, services: Services, shop: Shop
) -> None:
    found = browser.get("/profiles", params={"q": "ANN@"})
    assert re.findall(r'<a href="/profiles/[^"]+">([^<]+)</a>', found.text) == ["ann@example.com"]
    everyone = browser.get("/profiles")
    assert "ann@example.com" in everyone.text
    assert "buyer@example.com" in everyone.text
    assert "starts with" in browser.get("/profiles", params={"q": "zed"}).text
    # LIKE's wildcards are searched for as themselves.
    assert "ann@example.com" not in browser.get("/profiles", params={"q": "%"}).text

    page = browser.get(f"/profiles/{_profile_id(services, 'buyer@example.com')}")
    assert page.status_code == 200
    feed = page.text[page.text.index('id="activity-feed"') :]
    kinds = re.findall(r'<span class="event-metric">([^<]+)</span>', feed)
    # Order 101's events (order 103 is pending: it placed nothing), its two lines included,
    # under its order number.
    assert kinds[0] == "Order #101"
    assert sorted(kinds[1:]) == ["Ordered Product", "Ordered Product", "Placed Order"]
    detail = re.search(r"<p class=\"detail\">([^<]+)</p>", feed)
    assert detail is not None
    assert detail.group(1) == "Placed Order · 2 Ordered Product"
    assert "Properties" in feed
    assert "Email" in page.text
    assert "buyer@example.com" in page.text


def _event_times(html: str) -> list[str]:
    """The times of the feed's events, those gathered under an order number included."""
    return re.findall(r'<li class="event">.*?<time datetime="([^"]+)"', html, flags=re.DOTALL)


def test_activity_feed_pages_back(browser: Browser, services: Services, shop: Shop) -> None:
    for number in range(20):
        moment = START - timedelta(hours=number + 1)
        deliver(services, shop, woo_order(500 + number, "processing", moment), f"p{number}")
    Processor(services.database, services.clock).run_until_idle()
    url = f"/profiles/{_profile_id(services, 'buyer@example.com')}"
    first = browser.get(url)
    times = _event_times(first.text[first.text.index("activity-feed") :])
    assert len(times) == 25
    assert times == sorted(times, reverse=True)
    older = re.search(r'hx-get="([^"]+)" hx-target="#older-events"', first.text)
    assert older is not None
    following = browser.get(unescape(older.group(1)), headers={"HX-Request": "true"})
    assert following.status_code == 200
    assert "<html" not in following.text  # only the items, appended under the others
    more = _event_times(following.text)
    assert more
    assert max(more) <= min(times)


def test_another_accounts_data_is_never_shown(
    browser: Browser, services: Services, shop: Shop
) -> None:
    with services.database.write() as connection:
        other, _ = create_account(connection, "Other shop", services.clock.now())
    add_user(services, other.id, "other@example.com")
    outsider = Browser(browser.client)
    outsider.post("/sign-out", {"csrf_token": csrf_of(browser.get("/").text)})
    outsider.sign_in("other@example.com")
    placed = _metric_id(services, shop, "Placed Order")
    profile = _profile_id(services, "ann@example.com")
    assert outsider.get(f"/metrics/{placed}").status_code == 404
    assert outsider.get(f"/profiles/{profile}").status_code == 404
    assert "ann@example.com" not in outsider.get("/profiles", params={"q": "ann"}).text
    assert "Placed Order" not in outsider.get("/metrics", params={"zeros": "show"}).text
    home = outsider.get("/")
    assert "59.50" not in home.text
    assert "Woo" not in home.text


def test_status_rules_that_list_exclusions_stay_so(
    browser: Browser, services: Services, shop: Shop
) -> None:
    """BigCommerce places every status but a few: unticking one more adds it to those left out,
    and statuses a rule names are offered even when no order had them yet."""
    from shoptrack.store.integrations import create_integration

    with services.database.write() as connection:
        integration = create_integration(
            connection,
            services.cipher,
            account_id=shop.account_id,
            platform="bigcommerce",
            name="Big",
            credentials={"store_hash": "abc123", "access_token": "token"},
            settings={"refunded_statuses": ["4", "99"]},
            now=services.clock.now(),
        )
    settings_url = f"/integrations/{integration.id}/settings"
    page = browser.get(settings_url)
    assert "any status not listed here counts as placed too" in page.text
    statuses = re.findall(r'name="status" value="([^"]+)"', page.text)
    assert "99" in statuses  # a custom status the refunded rule names
    placed = re.findall(r'name="rule_placed" value="([^"]+)"[^>]*checked', page.text)
    assert set(statuses) - set(placed) == {"0", "1", "7"}
    form = {
        "name": "Big",
        "enabled": "1",
        "status": statuses,
        "rule_placed": [s for s in placed if s != "13"],  # Disputed: not placed any more
        "rule_fulfilled": ["2", "10"],
        "rule_cancelled": ["5", "6"],
        "rule_refunded": ["4"],
    }
    assert browser.submit(settings_url, settings_url, form).status_code == 303
    with services.database.read() as connection:
        saved = get_integration(connection, shop.account_id, integration.id)
    assert saved.settings["placed_statuses"] == {"exclude": ["0", "1", "13", "7"]}
    assert "refunded_statuses" not in saved.settings  # back to the default: not stored
    assert "fulfilled_statuses" not in saved.settings


def test_test_orders_are_marked_and_stay_out_of_charts_unless_asked_for(
    browser: Browser, services: Services, shop: Shop
) -> None:
    test_address = f"test-order+20261206@{TEST_ORDER_DOMAIN}"
    order = woo_order(
        104, "processing", START - timedelta(days=1), email=test_address, total="1000.00"
    )
    deliver(services, shop, order, "d4")
    Processor(services.database, services.clock).run_until_idle()

    home = browser.get("/")
    assert row_cells(home.text, "placed-order-totals", "Woo")[:2] == ["2", "59.50 USD"]
    revenue = _chart(home.text, "revenue-chart")
    assert sum(revenue["data"]["datasets"][0]["data"]) == pytest.approx(59.5)

    placed = _metric_id(services, shop, "Placed Order")
    page = browser.get(f"/metrics/{placed}")
    assert sum(_chart(page.text, "metric-chart-canvas")["data"]["datasets"][0]["data"]) == 2
    latest = page.text[page.text.index('id="latest-events"') :]
    assert '<span class="badge" title="A test order' in latest  # listed, and marked
    asked = browser.get(f"/metrics/{placed}", params={"test": "1", "measure": "value"})
    value = _chart(asked.text, "metric-chart-canvas")
    assert sum(value["data"]["datasets"][0]["data"]) == pytest.approx(1059.5)
    assert "test orders included" in asked.text

    listed = browser.get("/metrics", params={"q": "placed"})
    assert row_cells(listed.text, "metrics-Placed-Order", "Woo WooCommerce")[0] == "2"


def test_settings_page_saves_the_time_zone_that_home_counts_days_in(
    browser: Browser, services: Services, shop: Shop
) -> None:
    page = browser.get("/settings")
    assert page.status_code == 200
    assert 'value="UTC"' in page.text
    assert "days in UTC" in browser.get("/").text

    refused = browser.submit("/settings", "/settings", {"time_zone": "Mars/Base"})
    assert refused.status_code == 400
    assert 'id="time_zone-error"' in refused.text
    assert "no IANA time zone" in refused.text
    with services.database.read() as connection:
        assert account_settings(connection, shop.account_id).time_zone == "UTC"

    # Fourteen hours ahead of UTC: a day later than UTC's for most of the day.
    not_a_number = browser.submit(
        "/settings", "/settings", {"time_zone": "UTC", "attribution_window_days": "five"}
    )
    assert not_a_number.status_code == 400
    assert 'id="attribution_window_days-error"' in not_a_number.text

    saved = browser.submit(
        "/settings",
        "/settings",
        {
            "time_zone": "Pacific/Kiritimati",
            "test_sends": "1",
            "attribution_window_days": "10",
            "email_tracking": "1",
        },
    )
    assert saved.status_code == 303
    with services.database.read() as connection:
        settings = account_settings(connection, shop.account_id)
    assert (settings.time_zone, settings.test_sends) == ("Pacific/Kiritimati", True)
    assert settings.attribution_window_days == 10
    assert (settings.email_tracking, settings.utm_parameters) == (True, False)
    home = browser.get("/")
    assert "days in Pacific/Kiritimati" in home.text
    labels = _chart(home.text, "orders-chart")["data"]["labels"]
    assert labels[-1] == START.astimezone(settings.zone).strftime("%d %b")
    dataset = _chart(home.text, "orders-chart")["data"]["datasets"][0]
    assert sum(dataset["data"]) == 2  # the same orders, counted in the zone's days
