"""Home's period picker, the Metrics list across stores, a metric's page with its period and
chart in the URL, and Home and Integrations on a phone,
in headless Chromium (Debian's): choices swapped in place by htmx and kept in the URL, charts
drawn for the period chosen, and nothing past the right edge of a 390-pixel screen."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from shoptrack.api.app import create_app
from shoptrack.services import Services
from shoptrack.store.schema import integrations
from shoptrack.testing import make_shop, woo_order
from tests.conftest import START
from tests.flow_support import process, send_event
from tests.helpers import AppClient, deliver
from tests.stores import serving
from tests.web.pages import PASSWORD, add_user
from tests.web.test_browser import _require_chromium, desktop_page, launch_chromium
from tests.web.test_pages import _sync_run

pytestmark = pytest.mark.slow

EMAIL = "merchant@example.com"
DAY = timedelta(days=1)
# Long enough to be cut off if a legend or a table cell did not wrap on a phone.
STORE_NAME = "The Very Long Named Outdoor Equipment Store"


@pytest.fixture
def site(services: Services, client: AppClient) -> Iterator[str]:
    """A store with orders over the last 40 days (one in euros), Placed Order sent through
    the API too, and a finished sync."""
    _require_chromium()
    shop = make_shop(services)
    with services.database.write() as connection:
        connection.execute(
            update(integrations)
            .where(integrations.c.id == shop.integration.id)
            .values(name=STORE_NAME)
        )
    add_user(services, shop.account_id, EMAIL)
    for number, days in enumerate((1, 2, 3, 5, 8, 12, 20, 35, 40), start=100):
        order = woo_order(number, "processing", START - days * DAY, total="25.00")
        deliver(services, shop, order, f"d{number}")
    euro = woo_order(120, "processing", START - 4 * DAY, total="30.00", currency="EUR")
    deliver(services, shop, euro, "d120")
    send_event(client, shop, "Placed Order", "api@example.com", unique_id="a1", value=12.0)
    process(services)
    # A finished sync that read an order already recorded (left unprocessed: nothing changes).
    _sync_run(services, shop, [woo_order(100, "processing", START - DAY, total="25.00")])
    app = create_app(services, run_workers=False)
    with serving(app) as url:
        yield url


def _signed_in(page: Any, site: str, path: str) -> None:
    page.goto(site + "/sign-in")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Home").wait_for()
    page.goto(site + path)


def _labels(page: Any, canvas_id: str, count: int) -> list[str]:
    """The labels of the chart on ``canvas_id`` once it is drawn with ``count`` of them."""
    drawn = page.wait_for_function(
        """([id, count]) => {
            const chart = window.Chart && Chart.getChart(id);
            return chart && chart.data.labels.length === count ? chart.data.labels : null;
        }""",
        arg=[canvas_id, count],
    )
    return list(drawn.json_value())


def _run(site: str, steps: Any, *, phone: bool = False) -> None:
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            if phone:
                page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
                page.set_default_timeout(20_000)
                page.on("pageerror", lambda error: problems.append(str(error)))
            else:
                page = desktop_page(browser, problems)
            page.on(
                "console",
                lambda message: problems.append(message.text) if message.type == "error" else None,
            )
            steps(page)
        finally:
            browser.close()
    assert problems == [], "\n".join(problems)


def test_the_period_picker_in_the_browser(site: str) -> None:
    from playwright.sync_api import expect

    def steps(page: Any) -> None:
        _signed_in(page, site, "/")
        assert len(_labels(page, "orders-chart", 30)) == 30
        orders = page.locator("[data-figure=orders]")
        # Seven orders in dollars, one in euros and the API's; two in the 30 days before.
        expect(orders.locator("strong")).to_have_text("9")
        expect(orders).to_contain_text("vs 2")
        expect(page.locator("#revenue-chart-USD")).to_have_count(1)

        page.locator("#range").select_option("7d")
        expect(page).to_have_url(re.compile(r"range=7d"))
        assert _labels(page, "orders-chart", 7)[-1] == "27 Nov"
        expect(page.get_by_role("heading", name="Placed Order, the last 7 days")).to_be_visible()
        expect(orders.locator("strong")).to_have_text("6")
        expect(orders).to_contain_text("vs 2")  # 8 and 12 days ago
        expect(page.locator("#start")).not_to_be_editable()

        # Custom dates: editable once chosen, each change swapped in and kept in the URL.
        page.locator("#range").select_option("custom")
        expect(page.locator("#start")).to_be_editable()
        page.locator("#start").fill("2026-11-15")
        expect(page).to_have_url(re.compile(r"range=custom&start=2026-11-15&end=2026-11-27"))
        assert _labels(page, "orders-chart", 13)[0] == "15 Nov"
        page.locator("#compare").select_option("none")
        expect(page).to_have_url(re.compile(r"compare=none"))
        expect(page.locator("#placed-order-totals")).not_to_contain_text("Orders before")

        # Reloaded, or back in history, the page shows the period its URL names.
        page.reload()
        expect(page.locator("#range")).to_have_value("custom")
        expect(page.locator("#start")).to_have_value("2026-11-15")
        page.go_back()
        expect(page).to_have_url(re.compile(r"compare=previous"))
        expect(page.locator("#placed-order-totals")).to_contain_text("Orders before")

    _run(site, steps)


def test_the_metrics_list_across_stores_in_the_browser(site: str) -> None:
    from playwright.sync_api import expect

    def steps(page: Any) -> None:
        _signed_in(page, site, "/metrics?range=90d")
        placed = page.locator("details.metric[data-metric='Placed Order']")
        events = placed.locator("summary [data-label=Events]")
        expect(events).to_have_text("11")  # the store's 10 orders and the API's
        stores = placed.locator("table.per-store")
        expect(stores).to_be_hidden()
        placed.locator("summary").click()
        expect(stores).to_be_visible()
        expect(stores.locator("tbody tr")).to_have_count(2)
        expect(stores.locator("tr[data-source='API']")).to_contain_text("12.00")
        expect(stores.locator(f"tr[data-source='{STORE_NAME}']")).to_contain_text("30.00 EUR")

        # Metrics without events wait behind the toggle, the period kept.
        expect(page.locator("details.metric[data-metric='Cancelled Order']")).to_have_count(0)
        page.locator("#zero-toggle a").click()
        expect(page).to_have_url(re.compile(r"range=90d.*zeros=show"))
        expect(page.locator("details.metric[data-metric='Cancelled Order']")).to_have_count(1)

        # A shorter period, swapped in place.
        page.locator("#range").select_option("7d")
        expect(page).to_have_url(re.compile(r"range=7d"))
        expect(events).to_have_text("6")  # 5 of the store's orders and the API's

        # Every store's chart of the metric, and the breadcrumb back.
        placed.locator("summary").click()
        placed.get_by_role("link", name="Chart every store's Placed Order").click()
        expect(page.get_by_role("heading", name="Placed Order")).to_be_visible()
        drawn = page.wait_for_function(
            """() => {
                const chart = window.Chart && Chart.getChart("metric-chart-canvas");
                return chart ? chart.data.datasets.map((d) => d.label) : null;
            }"""
        ).json_value()
        assert sorted(drawn) == sorted(["API", STORE_NAME, "Previous 7 days"])
        expect(page).to_have_url(re.compile(r"range=7d&compare=previous&integrations=all$"))
        page.get_by_role("navigation", name="Breadcrumb").get_by_role(
            "link", name="Metrics"
        ).click()
        expect(page.get_by_role("heading", name="Metrics")).to_be_visible()

    _run(site, steps)


def _datasets(page: Any, canvas_id: str, count: int) -> list[str]:
    """The dataset labels of the chart on ``canvas_id`` once it is drawn with ``count`` bars."""
    drawn = page.wait_for_function(
        """([id, count]) => {
            const chart = window.Chart && Chart.getChart(id);
            return chart && chart.data.labels.length === count
                ? chart.data.datasets.map((d) => d.label) : null;
        }""",
        arg=[canvas_id, count],
    )
    return list(drawn.json_value())


def test_a_metrics_page_keeps_its_period_and_chart_in_the_url(site: str) -> None:
    from playwright.sync_api import expect

    def steps(page: Any) -> None:
        # From the Metrics list, for the last 7 days: the store's own Placed Order.
        _signed_in(page, site, "/metrics?range=7d")
        placed = page.locator("details.metric[data-metric='Placed Order']")
        placed.locator("summary").click()
        placed.get_by_role("link", name=STORE_NAME).click()
        expect(page).to_have_url(re.compile(r"/metrics/\w+\?range=7d&compare=previous$"))
        events = page.locator("[data-figure=events]")
        expect(events.locator("strong")).to_have_text("5")  # 1, 2, 3, 4 (euros) and 5 days ago
        expect(events).to_contain_text("vs 2")  # 8 and 12 days ago
        assert _datasets(page, "metric-chart-canvas", 7) == [STORE_NAME, "Previous 7 days"]
        expect(page.locator("#interval option")).to_have_count(1)  # a week is charted by day

        # Values: a chart per currency.
        page.locator("#measure").select_option("value")
        expect(page).to_have_url(re.compile(r"range=7d.*measure=value"))
        _datasets(page, "metric-chart-canvas", 7)
        _datasets(page, "metric-chart-canvas-USD", 7)
        expect(page.locator("[data-figure=value][data-currency=EUR] strong")).to_have_text("30.00")

        # A longer period keeps the chart's choices and offers weeks and months.
        page.locator("#range").select_option("90d")
        expect(page).to_have_url(re.compile(r"measure=value.*range=90d"))
        expect(page.locator("#interval option")).to_have_count(3)
        page.locator("#interval").select_option("month")
        expect(page).to_have_url(re.compile(r"range=90d.*interval=month"))
        _datasets(page, "metric-chart-canvas-USD", 4)
        expect(events.locator("strong")).to_have_text("10")

        # Every integration: the API's events (no currency) charted apart from the store's.
        page.get_by_label("every integration").check()
        expect(page).to_have_url(re.compile(r"integrations=all"))
        expect(page.locator("#metric-sources tbody tr")).to_have_count(2)
        assert _datasets(page, "metric-chart-canvas", 4) == ["API", "Previous 90 days"]

        # Reloaded, or back in history, the page shows what its URL names.
        page.reload()
        expect(page.locator("#range")).to_have_value("90d")
        expect(page.locator("#interval")).to_have_value("month")
        expect(page.get_by_label("every integration")).to_be_checked()
        page.go_back()
        expect(page).not_to_have_url(re.compile(r"integrations=all"))
        expect(page.locator("#metric-sources")).to_have_count(0)

        # An old link to every integration's chart lands on the new one.
        old = page.url.split("?")[0] + "?compare=1"
        page.goto(old)
        expect(page).to_have_url(re.compile(r"\?integrations=all$"))
        expect(page.locator("#metric-sources tbody tr")).to_have_count(2)

    _run(site, steps)


# What is shown past the left or right edge of the screen: every visible element's box, but
# inside a box that scrolls or clips (a wide table of figures scrolls within its frame).
_OVERFLOWING = """() => {
    const width = document.documentElement.clientWidth;
    const clipped = (element) => {
        for (let parent = element.parentElement; parent; parent = parent.parentElement) {
            if (getComputedStyle(parent).overflowX !== "visible") return true;
        }
        return false;
    };
    return [...document.querySelectorAll("body *")]
        .filter((element) => element.checkVisibility() && !clipped(element))
        .map((element) => [element, element.getBoundingClientRect()])
        .filter(([, box]) => box.width > 0 && (box.right > width + 0.5 || box.left < -0.5))
        .map(([element, box]) =>
            `${element.tagName.toLowerCase()}#${element.id}.${element.className}` +
            ` ${Math.round(box.left)}..${Math.round(box.right)}`);
}"""


def test_home_integrations_and_metrics_fit_a_phone(site: str) -> None:
    from playwright.sync_api import expect

    def steps(page: Any) -> None:
        _signed_in(page, site, "/")
        _labels(page, "orders-chart", 30)
        legend = page.locator("#orders-chart-legend li")
        expect(page.locator("#orders-chart-legend")).to_contain_text(STORE_NAME)
        assert page.evaluate(_OVERFLOWING) == [], "Home: past the right edge"
        for item in legend.all():
            box = item.bounding_box()
            assert box is not None
            assert box["x"] + box["width"] <= 390

        page.goto(site + "/integrations")
        row = page.locator("#integrations tbody tr").first
        for cell in ("td.last-sync", "td.next-sync"):
            expect(row.locator(cell)).to_be_visible()
            expect(row.locator(cell)).to_be_in_viewport()
            box = row.locator(cell).bounding_box()
            assert box is not None
            assert 0 <= box["x"] <= box["x"] + box["width"] <= 390, cell
        expect(row.locator("td.last-sync")).to_contain_text("succeeded")
        assert page.evaluate(_OVERFLOWING) == [], "Integrations: past the right edge"

        page.goto(site + "/metrics")
        assert page.evaluate(_OVERFLOWING) == [], "Metrics: past the right edge"

        placed = page.locator("details.metric[data-metric='Placed Order']")
        placed.locator("summary").click()
        placed.get_by_role("link", name="Chart every store's Placed Order").click()
        expect(page.locator("#metric-sources")).to_be_visible()
        _datasets(page, "metric-chart-canvas", 30)
        assert page.evaluate(_OVERFLOWING) == [], "A metric's page: past the right edge"

    _run(site, steps, phone=True)
