"""Installing the account's Shopify app on a shop it does not own, in-process against a
simulated shop on a real socket: the app configured through ``/api/shopify-app``, the install
started from the web UI, Shopify's redirect back checked (hmac, state, shop), the code
exchanged, the integration connected; then the shop's ``app/uninstalled``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from shoptrack.clock import FrozenClock
from shoptrack.services import Services
from shoptrack.shopify_app import INSTALL_LIFETIME, query_hmac
from shoptrack.simulators import ShopifySimulator
from shoptrack.store.integrations import find_integration, list_integrations
from shoptrack.testing import Shop
from tests.helpers import AppClient
from tests.stores import serving
from tests.web.pages import Browser, add_user

pytestmark = pytest.mark.slow

SHOP = "acme-outfitters.myshopify.com"
JSONAPI = {"Content-Type": "application/vnd.api+json"}


@pytest.fixture
def store(clock: FrozenClock) -> Iterator[tuple[ShopifySimulator, str]]:
    simulator = ShopifySimulator(shop_domain=SHOP, clock=clock.now, webhook_delivery="manual")
    with serving(simulator.app) as base_url:
        yield simulator, base_url


@pytest.fixture
def browser(services: Services, shop: Shop, client: AppClient) -> Browser:
    add_user(services, shop.account_id, "agency@example.com")
    signed_in = Browser(client)
    signed_in.sign_in("agency@example.com")
    return signed_in


def _put_app(client: AppClient, shop: Shop, attributes: dict[str, Any]) -> httpx.Response:
    return client.request(
        "PUT",
        "/api/shopify-app",
        json={"data": {"type": "shopify-app", "attributes": attributes}},
        headers={**shop.headers(), **JSONAPI},
    )


@pytest.fixture
def configured(
    client: AppClient, shop: Shop, store: tuple[ShopifySimulator, str]
) -> ShopifySimulator:
    simulator, base_url = store
    answer = _put_app(
        client,
        shop,
        {
            "client_id": simulator.client_id,
            "client_secret": simulator.client_secret,
            "api_base_url": base_url,
        },
    )
    assert answer.status_code == 200, answer.text
    return simulator


def _approve(browser: Browser, shop_domain: str = SHOP) -> list[tuple[str, str]]:
    """Starts the install and lets the simulated shop owner approve it: the query of
    Shopify's redirect back."""
    started = browser.get(f"/integrations/shopify/install?shop={shop_domain}")
    assert started.status_code == 303, started.text
    approved = httpx.get(started.headers["location"], follow_redirects=False)
    assert approved.status_code == 302, approved.text
    back = urlsplit(approved.headers["location"])
    assert back.path == "/integrations/shopify/callback"
    return parse_qsl(back.query)


def _callback(browser: Browser, query: list[tuple[str, str]]) -> httpx.Response:
    return browser.get(f"/integrations/shopify/callback?{urlencode(query)}")


def _signed(query: list[tuple[str, str]], secret: str, **changes: str) -> list[tuple[str, str]]:
    """``query`` with ``changes`` made and signed again with ``secret``."""
    changed = [(k, changes.get(k, v)) for k, v in query if k != "hmac"]
    return [*changed, ("hmac", query_hmac(secret, changed))]


def test_the_signature_is_shopifys() -> None:
    # shopify.dev's example: a redirect's query signed with the secret "hush".
    query = [("code", "0907a61c0c8d55e99db179b68161bc00"), ("shop", "some-shop.myshopify.com"),
             ("timestamp", "1337178173")]  # fmt: skip
    assert (
        query_hmac("hush", query)
        == "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20"
    )


def test_the_app_is_configured_and_shown_without_its_secret(
    client: AppClient, shop: Shop, store: tuple[ShopifySimulator, str]
) -> None:
    simulator, _ = store
    missing = client.get("/api/shopify-app", headers=shop.headers())
    assert missing.status_code == 404
    assert "PUT /api/shopify-app" in missing.json()["errors"][0]["detail"]
    no_secret = _put_app(client, shop, {"client_id": simulator.client_id})
    assert no_secret.status_code == 400
    assert no_secret.json()["errors"][0]["source"]["pointer"] == "/data/attributes/client_secret"
    made = _put_app(
        client, shop, {"client_id": f" {simulator.client_id} ", "client_secret": "shpss_one"}
    )
    assert made.status_code == 200, made.text
    shown = client.get("/api/shopify-app", headers=shop.headers())
    attributes = shown.json()["data"]["attributes"]
    assert attributes["client_id"] == simulator.client_id
    assert attributes["scopes"] == ["read_orders", "read_all_orders", "read_customers"]
    assert attributes["callback_url"].endswith("/integrations/shopify/callback")
    assert attributes["compliance_webhooks_url"].endswith("/webhooks/shopify/compliance")
    assert "shpss_one" not in shown.text
    rotated = _put_app(client, shop, {"client_id": simulator.client_id, "client_secret": "two"})
    assert rotated.json()["data"]["attributes"]["previous_secrets_kept"] == 1


def test_a_shop_is_installed_and_connected(
    browser: Browser, services: Services, shop: Shop, configured: ShopifySimulator
) -> None:
    query = dict(_approve(browser))
    assert {"code", "hmac", "shop", "state", "timestamp"} <= set(query)
    done = _callback(browser, list(query.items()))
    assert done.status_code == 303, done.text
    page = browser.get(done.headers["location"])
    assert "acme-outfitters is connected" in unescape(page.text)
    with services.database.read() as connection:
        installed = [i for i in list_integrations(connection, shop.account_id)
                     if i.platform == "shopify"]  # fmt: skip
    assert len(installed) == 1
    credentials = installed[0].credentials(services.cipher)
    assert credentials["shop_domain"] == SHOP
    assert credentials["access_token"].startswith("shpat_")
    assert credentials["webhook_secret"] == configured.client_secret
    assert {hook.topic for hook in configured.webhooks} >= {
        "orders/create",
        "orders/updated",
        "app/uninstalled",
    }
    # The state was used: the same redirect again is refused.
    again = _callback(browser, list(query.items()))
    assert again.status_code == 400
    assert "state" in unescape(again.text)


def test_a_redirect_with_a_bad_hmac_is_refused(
    browser: Browser, services: Services, shop: Shop, configured: ShopifySimulator
) -> None:
    query = _approve(browser)
    forged = _signed(query, "not the app's secret")
    answer = _callback(browser, forged)
    assert answer.status_code == 400
    assert "hmac: the redirect's signature does not verify" in unescape(answer.text)
    # Changing a parameter without the secret breaks the signature too.
    query = _approve(browser)
    tampered = [(k, "evil.myshopify.com" if k == "shop" else v) for k, v in query]
    assert _callback(browser, tampered).status_code == 400
    with services.database.read() as connection:
        assert [i.platform for i in list_integrations(connection, shop.account_id)] == [
            "woocommerce"
        ]


def test_a_wrong_or_expired_state_is_refused(
    browser: Browser,
    services: Services,
    clock: FrozenClock,
    configured: ShopifySimulator,
    shop: Shop,
) -> None:
    secret = configured.client_secret
    unknown = _signed(_approve(browser), secret, state="a-state-never-given")
    answer = _callback(browser, unknown)
    assert answer.status_code == 400
    assert "state: this install was not started here" in unescape(answer.text)

    query = _approve(browser)
    clock.advance(INSTALL_LIFETIME + timedelta(seconds=1))
    expired = _callback(browser, query)
    assert expired.status_code == 400
    assert "state: the install expired" in unescape(expired.text)

    # Another session (of the same account) cannot finish this session's install.
    query = _approve(browser)
    add_user(services, shop.account_id, "someone@example.com")
    browser.client._client.cookies.clear()  # another browser, its own sign-in
    browser.sign_in("someone@example.com")
    stolen = _callback(browser, query)
    assert stolen.status_code == 400
    assert "another session" in unescape(stolen.text)


def test_only_myshopify_shops_are_installed(browser: Browser, configured: ShopifySimulator) -> None:
    for shop_domain in ("shop.example.com", "evil.myshopify.com.example.com", ""):
        answer = browser.get(f"/integrations/shopify/install?shop={shop_domain}")
        assert answer.status_code == 400, shop_domain
        assert "shop: must be the shop's myshopify.com domain" in unescape(answer.text)


def test_installing_needs_the_app(browser: Browser) -> None:
    answer = browser.get(f"/integrations/shopify/install?shop={SHOP}")
    assert answer.status_code == 409
    assert "Settings" in unescape(answer.text)
    page = browser.get("/integrations/new?platform=shopify")
    assert 'id="shopify-app-missing"' in page.text
    assert "Protected customer data" in page.text


def test_the_settings_page_saves_the_app(browser: Browser, services: Services, shop: Shop) -> None:
    saved = browser.submit(
        "/settings",
        "/settings/shopify-app",
        {"client_id": "abc123", "client_secret": "shpss_x", "api_base_url": ""},
    )
    assert saved.status_code == 303, saved.text
    page = browser.get("/settings")
    assert 'id="shopify-app-configured"' in page.text
    assert "abc123" in page.text
    assert "shpss_x" not in page.text
    missing = browser.submit("/settings", "/settings/shopify-app", {"client_id": "abc123"})
    assert missing.status_code == 400
    assert 'aria-describedby="client_secret-error"' in missing.text


def test_uninstalling_disables_and_installing_again_enables(
    browser: Browser, services: Services, shop: Shop, configured: ShopifySimulator
) -> None:
    done = _callback(browser, _approve(browser))
    integration_id = done.headers["location"].rsplit("/", 1)[1]
    configured._transport = httpx.ASGITransport(app=browser.client.app)
    browser.client.call(configured.uninstall_app)
    delivered = [d for d in configured.deliveries if d.outgoing.topic == "app/uninstalled"]
    assert [d.status for d in delivered] == [200]
    with services.database.read() as connection:
        integration = find_integration(connection, integration_id)
    assert integration is not None
    assert not integration.enabled
    doctor = browser.get("/doctor")
    assert "The app was uninstalled from acme-outfitters.myshopify.com" in unescape(doctor.text)
    # Installed again: the same integration, enabled, with a new token.
    again = _callback(browser, _approve(browser))
    assert again.headers["location"] == f"/integrations/{integration_id}"
    with services.database.read() as connection:
        integration = find_integration(connection, integration_id)
    assert integration is not None
    assert integration.enabled


def test_the_install_asks_for_read_scopes_and_write_orders_only_for_test_orders(
    browser: Browser, configured: ShopifySimulator
) -> None:
    def scopes(query: str) -> str:
        started = browser.get(f"/integrations/shopify/install?shop={SHOP}{query}")
        assert started.status_code == 303
        asked = dict(parse_qsl(urlsplit(started.headers["location"]).query))
        assert asked["client_id"] == configured.client_id
        assert asked["redirect_uri"].endswith("/integrations/shopify/callback")
        return asked["scope"]

    assert scopes("") == "read_orders,read_all_orders,read_customers"
    assert scopes("&test_orders=1") == "read_orders,read_all_orders,read_customers,write_orders"
