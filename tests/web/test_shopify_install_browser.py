"""Installing the account's Shopify app on a client's shop, end to end in Debian's Chromium:
``shoptrack serve`` as a process (its public URL the one the browser uses), a simulated shop on
a real socket whose approval page sends the browser back, and the shop's orders imported."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from shoptrack.simulators import ShopifySimulator
from tests.processes import Server
from tests.stores import serving
from tests.web.test_browser import (
    EMAIL,
    PASSWORD,
    _note_problem,
    _wait_until_synced_and_processed,
    desktop_page,
    launch_chromium,
    serve_with_a_user,
)

pytestmark = pytest.mark.slow

SHOP = "client-store.myshopify.com"
ORDERS = 3


@pytest.fixture
def store() -> Iterator[tuple[ShopifySimulator, str]]:
    simulator = ShopifySimulator(shop_domain=SHOP, shop_name="Client Store")
    simulator.add_orders(ORDERS, email="shopper@example.com", interval=timedelta(hours=5))
    with serving(simulator.app) as base_url:
        yield simulator, base_url


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    # Shopify sends the browser back to the public URL: the one the browser reaches.
    yield from serve_with_a_user(database_url, tmp_path, public_url=True)


def test_an_agency_installs_its_app_on_a_clients_shop(
    server: Server, store: tuple[ShopifySimulator, str]
) -> None:
    from playwright.sync_api import expect, sync_playwright

    simulator, store_url = store
    base = server.url
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = desktop_page(browser, problems)
            page.on("console", lambda message: _note_problem(problems, message))
            page.goto(base + "/sign-in")
            page.get_by_label("Email").fill(EMAIL)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Home")).to_be_visible()

            # Without the app, Add a Shopify store says where to enter it.
            page.goto(base + "/integrations/new?platform=shopify")
            expect(page.get_by_text("Protected customer data").first).to_be_visible()
            page.locator("#shopify-app-missing").get_by_role("link", name="Settings").click()

            # The app, entered once in Settings.
            expect(page.locator("#shopify-callback-url")).to_have_text(
                base + "/integrations/shopify/callback"
            )
            page.get_by_label("Client ID").fill(simulator.client_id)
            page.get_by_label("Secret").fill(simulator.client_secret)
            page.locator("#shopify-app-form summary").click()
            page.get_by_label("API base URL").fill(store_url)
            page.get_by_role("button", name="Save the Shopify app").click()
            expect(page.get_by_text("The Shopify app is saved")).to_be_visible()

            # A shop outside myshopify.com is refused, naming the field.
            page.goto(base + "/integrations/new?platform=shopify")
            page.get_by_label("The shop's myshopify.com domain").fill("client.example.com")
            page.get_by_role("button", name="Install on the shop").click()
            expect(page.get_by_text("must be the shop's myshopify.com domain")).to_be_visible()

            # Installed: to Shopify's approval page and back, connected, orders imported.
            page.goto(base + "/integrations/new?platform=shopify")
            page.get_by_label("The shop's myshopify.com domain").fill(SHOP)
            page.get_by_role("button", name="Install on the shop").click()
            expect(page.get_by_text("client-store is connected")).to_be_visible()
            expect(page).to_have_url(re.compile(re.escape(base) + r"/integrations/\w+$"))
            _wait_until_synced_and_processed(page)
            expect(page.locator("#last-sync")).to_contain_text("succeeded")
            expect(page.locator("#last-sync")).to_contain_text(f"{ORDERS} orders read")
        finally:
            browser.close()
    assert {hook.topic for hook in simulator.webhooks} >= {"orders/create", "app/uninstalled"}
    # Only the deliberately refused shop's 400 reached the console.
    refused = [p for p in problems if "status of 400" in p and "shop=client.example.com" in p]
    assert len(refused) == 1
    assert [p for p in problems if p not in refused] == [], "\n".join(problems)
