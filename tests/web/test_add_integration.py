"""Adding an integration from the web UI, against a simulated WooCommerce store on a real socket:
the platform's own fields, white space trimmed and said so, keys checked before saving."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import pytest

from shoptrack.services import Services
from shoptrack.simulators import WooCommerceSimulator
from shoptrack.store.integrations import list_integrations
from shoptrack.testing import Shop
from tests.helpers import AppClient
from tests.stores import serving
from tests.web.pages import Browser, add_user

pytestmark = pytest.mark.slow


@pytest.fixture
def store() -> Iterator[tuple[WooCommerceSimulator, str]]:
    simulator = WooCommerceSimulator(webhook_delivery="manual")
    with serving(simulator.app) as base_url:
        yield simulator, base_url


@pytest.fixture
def browser(services: Services, shop: Shop, client: AppClient) -> Browser:
    add_user(services, shop.account_id, "merchant@example.com")
    signed_in = Browser(client)
    signed_in.sign_in("merchant@example.com")
    return signed_in


def _names(services: Services, shop: Shop) -> list[str]:
    with services.database.read() as connection:
        return sorted(i.name for i in list_integrations(connection, shop.account_id))


def test_the_form_has_the_platforms_fields(browser: Browser) -> None:
    page = browser.get("/integrations/new?platform=woocommerce")
    assert page.status_code == 200
    inputs = re.findall(r'<input id="([a-z_]+)" name="\1"', page.text)
    assert inputs[:4] == ["name", "store_url", "consumer_key", "consumer_secret"]
    assert {"api_base_url", "webhook_secret"} <= set(inputs)
    assert re.search(r'name="consumer_secret" type="password"', page.text)
    advanced = page.text[page.text.index("Advanced (optional)") :]
    assert 'name="webhook_secret"' in advanced


def test_adding_trims_checks_and_connects(
    browser: Browser, services: Services, shop: Shop, store: tuple[WooCommerceSimulator, str]
) -> None:
    simulator, base_url = store
    credentials = simulator.credentials(base_url)
    credentials["consumer_key"] = f"  {credentials['consumer_key']}\t"
    response = browser.submit(
        "/integrations/new?platform=woocommerce",
        "/integrations/new",
        {"platform": "woocommerce", "name": "My Woo", **credentials},
    )
    assert response.status_code == 303, response.text
    page = browser.get(response.headers["location"])
    text = unescape(page.text)
    assert "My Woo is connected" in text
    assert "white space was trimmed from consumer_key" in text
    assert "healthy" in text
    assert "A sync is queued" in text  # the first import starts on its own
    assert _names(services, shop) == ["My Woo", "Woo"]
    assert sorted(hook.topic for hook in simulator.webhooks) == ["order.created", "order.updated"]


def test_keys_the_store_refuses_are_not_saved(
    browser: Browser, services: Services, shop: Shop, store: tuple[WooCommerceSimulator, str]
) -> None:
    simulator, base_url = store
    credentials = simulator.credentials(base_url) | {"consumer_secret": "cs_wrong"}
    response = browser.submit(
        "/integrations/new?platform=woocommerce",
        "/integrations/new",
        {"platform": "woocommerce", "name": "My Woo", **credentials},
    )
    assert response.status_code == 422
    text = unescape(response.text)
    assert "woocommerce refused the credentials" in text
    assert "What the store answered" in text
    assert 'value="My Woo"' in text
    assert credentials["consumer_key"] in text
    assert "cs_wrong" not in text  # secrets are not written back into the page
    assert _names(services, shop) == ["Woo"]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"consumer_key": "  "}, "consumer_key", "Consumer key: required"),
        ({"name": ""}, "name", "Name: give the integration a name"),
        ({"store_url": "shop.example.com"}, "store_url", "Store URL: Value error, must be"),
        ({"api_base_url": "ftp://x"}, "api_base_url", "API base URL: Value error"),
    ],
)
def test_bad_fields_are_named(
    browser: Browser,
    services: Services,
    shop: Shop,
    store: tuple[WooCommerceSimulator, str],
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    simulator, base_url = store
    form = {"platform": "woocommerce", "name": "My Woo", **simulator.credentials(base_url)}
    response = browser.submit(
        "/integrations/new?platform=woocommerce", "/integrations/new", form | changes
    )
    assert response.status_code == 400
    assert f'id="{field}-error"' in response.text
    assert message in unescape(response.text)
    assert _names(services, shop) == ["Woo"]
