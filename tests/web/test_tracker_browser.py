"""The onsite tracker in headless Chromium: a sample store's product and checkout pages, served
from another origin than shoptrack, include ``/static/shoptrack.js``; a shopper views a product
anonymously, is identified, adds it to the cart and starts checking out, and the three events are
recorded on the integration's metrics for the shopper's profile. An old copy of the tracker makes
the doctor's ``plugin_outdated`` a warning.

Chromium is Debian's, launched as in ``test_browser`` (skipped without it unless
``SHOPTRACK_REQUIRE_CHROMIUM`` is set).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from html import escape
from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

import shoptrack
from shoptrack.api.app import create_app
from shoptrack.clock import FrozenClock
from shoptrack.connectors.base import Connector, Credentials
from shoptrack.connectors.http import StoreClient
from shoptrack.doctor import Severity, diagnose_integration
from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.store.schema import events, inbox, metrics, profiles
from shoptrack.testing import SIMULATOR_GUARD, Shop, make_shop
from shoptrack.tracker import tracker_source
from tests.stores import serving
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, _require_chromium

pytestmark = pytest.mark.slow

EMAIL = "ada@example.com"
OLD_VERSION = "0.0.9"
PRODUCT = {
    "ProductID": "hoodie-1",
    "ProductName": "Hoodie",
    "SKU": "HD-1",
    "Price": 49.5,
    "Categories": ["Clothing"],
}
ITEM = {
    "ProductID": "hoodie-1",
    "ProductName": "Hoodie",
    "SKU": "HD-1",
    "ItemPrice": 49.5,
    "Quantity": 2,
    "Categories": ["Clothing"],
}
# The sample store's own script: what a theme adds beside the tracker's snippet.
STORE_SCRIPT = f"""
const product = {json.dumps(PRODUCT)};
const item = {json.dumps(ITEM)};
function done(what) {{
  return (accepted) => {{
    document.getElementById("status").textContent = what + (accepted ? " sent" : " kept");
  }};
}}
window.addEventListener("load", () => {{
  const page = document.body.dataset.page;
  if (page === "product") {{
    shoptrack.viewedProduct(product).then(done("Viewed Product"));
  }} else if (page === "checkout") {{
    shoptrack.startedCheckout({{CheckoutID: "c-1001", Items: [item],
      CheckoutURL: location.href}}).then(done("Started Checkout"));
  }}
}});
document.addEventListener("submit", (event) => {{
  event.preventDefault();
  shoptrack.identify({{email: event.target.email.value}}).then((sent) => {{
    document.getElementById("status").textContent = "identified, " + sent.length + " sent";
  }});
}});
document.addEventListener("click", (event) => {{
  if (event.target.id === "add") {{
    shoptrack.addedToCart(item, {{Items: [item], CheckoutURL: "/checkout"}})
      .then(done("Added to Cart"));
  }}
}});
"""


def _page(kind: str, tracker_tag: str, setup: str = "") -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sample store: {kind}</title>
<script>
  window.shoptrack = window.shoptrack || function () {{
    (window.shoptrack.q = window.shoptrack.q || []).push(arguments); }};
  {setup}
</script>
{tracker_tag}
<script src="/store.js" defer></script>
</head>
<body data-page="{kind}">
<h1>Hoodie</h1>
<form><label>Email <input name="email" type="email"></label><button>Sign in</button></form>
<button id="add" type="button">Add to cart</button>
<a id="checkout" href="/checkout">Checkout</a>
<p id="status"></p>
</body></html>"""


def _store_app(shoptrack_url: str, shop: Shop) -> Starlette:
    """A store of another origin, whose pages include the tracker (and, under ``/old``, an old
    copy of it that the store serves itself)."""
    attributes = (
        f'data-public-key="{escape(shop.public_key)}" '
        f'data-integration="{escape(shop.integration.id)}" async'
    )
    current = f'<script src="{shoptrack_url}/static/shoptrack.js?v={shoptrack.__version__}" '
    old = '<script src="/old-shoptrack.js" data-endpoint="' + shoptrack_url + '" '

    async def product(_request: Request) -> Response:
        return HTMLResponse(_page("product", current + attributes + "></script>"))

    async def checkout(_request: Request) -> Response:
        # Configured through the queue rather than the script's attributes.
        options = json.dumps({"publicKey": shop.public_key, "integration": shop.integration.id})
        tag = current + "async></script>"
        return HTMLResponse(_page("checkout", tag, f'shoptrack("init", {options});'))

    async def old_product(_request: Request) -> Response:
        return HTMLResponse(_page("product", old + attributes + "></script>"))

    async def store_script(_request: Request) -> Response:
        return Response(STORE_SCRIPT, media_type="text/javascript")

    async def old_tracker(_request: Request) -> Response:
        return Response(tracker_source(OLD_VERSION), media_type="text/javascript")

    async def no_icon(_request: Request) -> Response:
        return Response(status_code=204)

    return Starlette(
        routes=[
            Route("/product", product),
            Route("/checkout", checkout),
            Route("/old/product", old_product),
            Route("/store.js", store_script),
            Route("/old-shoptrack.js", old_tracker),
            Route("/favicon.ico", no_icon),
        ]
    )


@dataclass
class Site:
    services: Services
    shop: Shop
    shoptrack_url: str
    store_url: str

    def process(self) -> None:
        Processor(self.services.database, self.services.clock).run_until_idle()

    def client_rows(self) -> int:
        with self.services.database.read() as connection:
            return len(
                connection.execute(select(inbox.c.id).where(inbox.c.source == "client")).all()
            )

    def recorded(self) -> list[tuple[str, str | None, str | None, str | None]]:
        """(metric, its integration, profile email, profile anonymous id) of every event."""
        with self.services.database.read() as connection:
            rows = connection.execute(
                select(
                    metrics.c.name,
                    metrics.c.integration_id,
                    profiles.c.email,
                    profiles.c.anonymous_id,
                )
                .join(events, events.c.metric_id == metrics.c.id)
                .join(profiles, profiles.c.id == events.c.profile_id)
                .where(events.c.account_id == self.shop.account_id)
                .order_by(metrics.c.name)
            )
            return [(row[0], row[1], row[2], row[3]) for row in rows]

    def finding(self, code: str) -> tuple[Severity, Mapping[str, Any]]:
        report = diagnose_integration(
            self.services,
            self.shop.account_id,
            self.shop.integration.id,
            metric="Viewed Product",
            client_factory=_no_wait,
        )
        found = report.get(code)
        assert found is not None
        return found.severity, found.evidence


def _no_wait(connector: Connector, credentials: Credentials) -> StoreClient:
    return connector.client(credentials, guard=SIMULATOR_GUARD, sleep=lambda _seconds: None)


@pytest.fixture
def site(services: Services) -> Iterator[Site]:
    _require_chromium()
    shop = make_shop(services)
    app = create_app(services, run_workers=False)  # the test processes explicitly
    app.runtime.start()
    try:
        with serving(app) as shoptrack_url, serving(_store_app(shoptrack_url, shop)) as store_url:
            yield Site(services, shop, shoptrack_url, store_url)
    finally:
        app.runtime.stop()


def test_a_store_page_tracks_a_shopper_from_view_to_checkout(
    site: Site, clock: FrozenClock
) -> None:
    from playwright.sync_api import ConsoleMessage, expect, sync_playwright

    problems: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if message.type == "error" or message.text.startswith("shoptrack:"):
            problems.append(f"{message.type}: {message.text}")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context()
            # The browser's clock is the server's frozen one, so event times agree with it.
            context.clock.set_fixed_time(clock.now())
            page = context.new_page()
            page.set_default_timeout(20_000)
            page.on("console", note)
            page.on("pageerror", lambda error: problems.append(str(error)))
            status = page.locator("#status")

            # Anonymous: the view is kept in the browser, with a stable anonymous id.
            page.goto(site.store_url + "/product")
            expect(status).to_have_text("Viewed Product kept")
            anonymous_id = page.evaluate("JSON.parse(localStorage['shoptrack:anonymous_id'])")
            assert anonymous_id.startswith("anon-")
            assert page.evaluate("shoptrack.version") == shoptrack.__version__
            assert site.client_rows() == 0

            # The store learns the email: the kept view goes out, then the cart.
            page.get_by_label("Email").fill(EMAIL)
            page.get_by_role("button", name="Sign in").click()
            expect(status).to_have_text("identified, 1 sent")
            page.get_by_role("button", name="Add to cart").click()
            expect(status).to_have_text("Added to Cart sent")

            # Another page: the shopper is still known there.
            page.get_by_role("link", name="Checkout").click()
            expect(status).to_have_text("Started Checkout sent")
            assert page.evaluate("localStorage['shoptrack:queue']") == "[]"
            assert site.client_rows() == 3

            site.process()
            integration = site.shop.integration.id
            assert site.recorded() == [
                ("Added to Cart", integration, EMAIL, anonymous_id),
                ("Started Checkout", integration, EMAIL, anonymous_id),
                ("Viewed Product", integration, EMAIL, anonymous_id),
            ]
            severity, evidence = site.finding("plugin_outdated")
            assert severity is Severity.OK
            assert evidence["reported"] == {shoptrack.__version__: 3}
            assert site.finding("other_metrics_missing")[0] is Severity.OK

            # A page still carrying an old copy of the tracker.
            clock.advance(timedelta(minutes=5))
            page.goto(site.store_url + "/old/product")
            expect(status).to_have_text("Viewed Product sent")
            assert page.evaluate("shoptrack.version") == OLD_VERSION
            site.process()
            severity, evidence = site.finding("plugin_outdated")
            assert severity is Severity.WARNING
            assert evidence["newest"] == {
                "version": OLD_VERSION,
                "received": clock.now().isoformat(),
            }
        finally:
            browser.close()
    assert problems == [], "\n".join(problems)
