"""The web UI end to end in headless Chromium: ``shoptrack serve`` as a process with its workers,
a simulated WooCommerce store on a real socket, and Playwright driving Debian's ``chromium``.

Browsers cannot be downloaded here, so Playwright never installs one: it launches
``/usr/bin/chromium`` (Debian's package, which ``.ci/run`` installs). Without it the test is
skipped with a message, unless ``SHOPTRACK_REQUIRE_CHROMIUM`` is set (CI sets it) — then it fails.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from shoptrack.simulators import WooCommerceSimulator
from tests.processes import Listener, Server, environment, run_cli
from tests.stores import serving

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
# As root, on a machine whose network is closed: no sandbox (root), and none of the background
# connections Chromium makes to Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
EMAIL = "owner@example.com"
PASSWORD = "a long enough password"
ORDERS = 6
WAIT_MS = 90_000


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)"
    if os.environ.get("SHOPTRACK_REQUIRE_CHROMIUM"):
        pytest.fail(message + "; SHOPTRACK_REQUIRE_CHROMIUM is set, so this is a failure")
    pytest.skip(message + " to run the browser tests")


@pytest.fixture
def store() -> Iterator[tuple[WooCommerceSimulator, str]]:
    simulator = WooCommerceSimulator(webhook_delivery="manual")
    simulator.add_orders(
        ORDERS,
        statuses=("processing", "completed"),
        email="shopper@example.com",
        interval=timedelta(hours=20),
    )
    with serving(simulator.app) as base_url:
        yield simulator, base_url


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    yield from serve_with_a_user(database_url, tmp_path)


def serve_with_a_user(
    database_url: str, tmp_path: Path, *, public_url: bool = False
) -> Iterator[Server]:
    """``shoptrack serve`` for an account with one user (``EMAIL``, ``PASSWORD``); with
    ``public_url``, its public URL is the address it serves on (where stores send browsers
    back)."""
    _require_chromium()
    env = environment(database_url, tmp_path / "data")
    created = run_cli(env, "accounts", "create", "Browser shop", "--json")
    assert created.returncode == 0, created.stderr
    account_id = orjson.loads(created.stdout)["id"]
    user = run_cli(env, "users", "create", EMAIL, "--account", account_id, "--password", PASSWORD)
    assert user.returncode == 0, user.stderr
    listener = Listener()
    if public_url:
        env["SHOPTRACK_PUBLIC_URL"] = listener.url
    serving_process = Server(env, listener=listener)
    try:
        yield serving_process
    finally:
        output = serving_process.stop()
        assert "Traceback" not in output, output


def test_a_merchant_signs_in_adds_a_store_and_finds_its_orders(
    server: Server, store: tuple[WooCommerceSimulator, str]
) -> None:
    from playwright.sync_api import sync_playwright

    simulator, store_url = store
    credentials = simulator.credentials(store_url)
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = desktop_page(browser, problems)
            page.on("console", lambda message: _note_problem(problems, message))
            _walk_through(page, server.url, credentials, simulator)
            _phone_layout(browser, server.url)
        finally:
            browser.close()
    assert problems == [], "\n".join(problems)


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium, headless, with a new empty profile directory that Playwright makes and
    removes."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )


def desktop_page(browser: Any, problems: list[str]) -> Any:
    """A page of a desktop's size in ``browser``; its script errors are kept in ``problems``."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(20_000)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return page


def _note_problem(problems: list[str], message: object) -> None:
    """Keeps the browser's console errors (a Content-Security-Policy violation, a script error,
    a missing file), but the 401 of the deliberately wrong password and the 400 of the
    deliberately broken email template."""
    from playwright.sync_api import ConsoleMessage

    assert isinstance(message, ConsoleMessage)
    if message.type != "error":
        return
    url = str(message.location.get("url", ""))
    if "status of 401" in message.text and url.endswith("/sign-in"):
        return
    if "status of 400" in message.text and url.endswith("/messages/thank-you-first"):
        return
    problems.append(f"{message.text} ({url})")


def _walk_through(
    page: object, base: str, credentials: dict[str, str], simulator: WooCommerceSimulator
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    # Every page needs a session: the home page sends the browser to sign in.
    page.goto(base + "/")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#sign-in-error")).to_contain_text("the email or the password is wrong")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Home")).to_be_visible()
    expect(page.get_by_text("No store is connected yet")).to_be_visible()

    # Add the simulated store, a key pasted with white space around it.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Integrations").click()
    page.get_by_role("link", name="Add an integration").first.click()
    page.get_by_label("WooCommerce").check()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Add WooCommerce")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Browser Woo")
    page.get_by_label("Store URL").fill(credentials["store_url"])
    page.get_by_label("Consumer key").fill(f"  {credentials['consumer_key']} ")
    page.get_by_label("Consumer secret").fill(credentials["consumer_secret"])
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_text("Browser Woo is connected")).to_be_visible()
    expect(page.get_by_text("white space was trimmed from consumer_key")).to_be_visible()

    # The first import runs by itself; the panel follows it (htmx polling) until every order it
    # read is processed: only then are its events on Home.
    _wait_until_synced_and_processed(page)
    expect(page.locator("#last-sync")).to_contain_text("succeeded")
    expect(page.locator("#last-sync")).to_contain_text(f"{ORDERS} orders read")

    # Home: the orders on the chart of the last 30 days.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Home").click()
    totals = page.locator("#placed-order-totals")
    expect(totals).to_contain_text("Browser Woo")
    expect(totals.locator("tbody tr").first.locator("td").first).to_have_text(str(ORDERS))
    _, drawn = _drawn_chart(page, "orders-chart")
    assert drawn == ORDERS
    assert page.locator("#orders-chart").bounding_box()["height"] > 100  # type: ignore[index]

    # Profiles: the shopper's orders, each under its number in the feed, properties on demand.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Profiles").click()
    page.get_by_role("searchbox").fill("shopper@")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="shopper@example.com").click()
    expect(page.locator("#profile-orders [data-figure=orders]")).to_have_text(str(ORDERS))
    feed = page.locator("#activity-feed")
    expect(feed.locator(".order-group")).to_have_count(ORDERS)
    expect(feed.locator(".event-metric", has_text="Placed Order")).to_have_count(ORDERS)
    order = feed.locator(".order-group").first
    expect(order.locator(".event-metric").first).to_contain_text("Order #")
    order.locator("summary", has_text="events").click()
    first = order.locator("li.event").first
    first.locator("summary", has_text="Properties").click()
    expect(first.locator("pre")).to_contain_text("OrderNumber")

    # Metrics: find Placed Order, opened for the list's period; its chart by week, swapped in
    # by htmx.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Metrics").click()
    page.get_by_role("searchbox").fill("Placed Order")
    page.get_by_role("button", name="Search").click()
    placed = page.locator("details.metric[data-metric='Placed Order']")
    placed.locator("summary").click()
    placed.get_by_role("link", name="Browser Woo").click()
    expect(page.get_by_role("heading", name="Placed Order")).to_be_visible()
    expect(page).to_have_url(re.compile(r"range=30d&compare=previous"))  # the list's period
    expect(page.locator("#latest-events .event")).to_have_count(ORDERS)
    page.locator("select[name=interval]").select_option("week")
    expect(page).to_have_url(re.compile(r"interval=week"))
    expect(page.locator("#metric-chart figcaption")).to_contain_text("per week")
    first_label, weekly = _drawn_chart(page, "metric-chart-canvas", label_prefix="week of")
    assert first_label.startswith("week of")
    assert weekly == ORDERS

    _flow_and_doctor(page, simulator)

    # Signing out ends the session.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(base + "/integrations")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Fintegrations"))


def _flow_and_doctor(page: object, simulator: WooCommerceSimulator) -> None:
    """A flow from the library, its email edited, switched live; then a custom status on the
    store found by the doctor, and its fix applied from the page."""
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Flows").click()
    expect(page.get_by_text("No flow yet")).to_be_visible()
    page.get_by_role("link", name="Create a flow").first.click()
    page.get_by_role("button", name="Create Post-purchase thank you").click()
    expect(page.get_by_text("Post-purchase thank you is created, as a draft")).to_be_visible()
    page.locator("#step-thank-you-first").get_by_role("link", name="Edit email").click()
    page.get_by_label("HTML").fill("<p>{% if event.OrderNumber %}Order {{ event.OrderNumber }}")
    page.get_by_role("button", name="Save email").click()
    expect(page.locator("#html-error")).to_contain_text("html, line 1")
    page.get_by_label("HTML").fill("<p>Order {{ event.OrderNumber }} is in, thank you!</p>")
    page.get_by_label("Subject").fill("Welcome aboard, {{ profile.first_name or 'friend' }}")
    page.get_by_role("button", name="Save email").click()
    expect(page.get_by_text("Thank you (first order) is saved.")).to_be_visible()
    expect(page.locator("#step-thank-you-first")).to_contain_text("Welcome aboard")
    page.locator("#status").select_option("live")
    page.get_by_role("button", name="Change status").click()
    expect(page.get_by_text("The flow is live")).to_be_visible()
    nav.get_by_role("link", name="Flows").click()
    expect(page.locator("#flows tbody tr").first).to_contain_text("live")

    # The store puts an order in a status of its own: a sync brings it, nothing is placed.
    simulator.set_faults({"custom_statuses": ["awaiting-shipment"]})
    simulator.add_orders(1, statuses=["awaiting-shipment"], email="custom@example.com")
    nav.get_by_role("link", name="Integrations").click()
    page.get_by_role("link", name="Browser Woo").click()
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#sync-panel")).to_have_attribute("data-state", "queued")
    _wait_until_synced_and_processed(page)
    expect(page.locator("#last-sync")).to_contain_text("succeeded")
    expect(page.locator("#last-sync")).to_contain_text("1 new")
    nav.get_by_role("link", name="Home").click()
    expect(page.locator("#doctor-problems")).to_contain_text("awaiting-shipment")
    nav.get_by_role("link", name="Doctor").click()
    problem = page.locator(".finding.severity-warning[data-code=custom_status_unmapped]")
    expect(problem).to_contain_text("1 of them recorded no Placed Order")
    problem.get_by_text("Evidence").click()
    expect(problem.locator("dl.facts").first).to_contain_text("Never placed")
    problem.get_by_role("button", name="Apply the fix for custom_status_unmapped").click()
    expect(page.get_by_text("placed_statuses now include", exact=False)).to_be_visible()
    expect(problem).to_have_count(0)
    nav.get_by_role("link", name="Home").click()
    expect(page.get_by_role("heading", name="Home")).to_be_visible()
    expect(page.locator("[data-code=custom_status_unmapped]")).to_have_count(0)


def _drawn_chart(page: object, canvas_id: str, *, label_prefix: str = "") -> tuple[str, int]:
    """The first label and the sum of the first dataset of the chart on ``canvas_id``, once
    ui.js has drawn it (after the page loaded, or htmx swapped it in) with labels starting with
    ``label_prefix``; if it is not drawn in time, what the page holds instead."""
    from playwright.sync_api import Page
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    assert isinstance(page, Page)
    try:
        drawn = page.wait_for_function(
            """([id, prefix]) => {
                const chart = window.Chart && Chart.getChart(id);
                if (!chart || !String(chart.data.labels[0]).startsWith(prefix)) return null;
                const sum = chart.data.datasets[0].data.reduce((a, b) => a + b, 0);
                return [chart.data.labels[0], sum];
            }""",
            arg=[canvas_id, label_prefix],
        ).json_value()
    except PlaywrightTimeout:
        state = page.evaluate(
            """(id) => {
                const canvas = document.getElementById(id);
                const chart = window.Chart && Chart.getChart(id);
                return {
                    chartJs: typeof window.Chart, htmx: typeof window.htmx, canvas: !!canvas,
                    drawnFlag: canvas && canvas.dataset.drawn, labels: chart && chart.data.labels,
                    url: location.href,
                };
            }""",
            canvas_id,
        )
        message = f"chart {canvas_id} not drawn with labels {label_prefix!r}: {state}"
        raise AssertionError(message) from None
    return str(drawn[0]), int(drawn[1])


def _wait_until_synced_and_processed(page: object) -> None:
    """Waits for the sync panel to say that no sync is queued or running and that every order
    the syncs read is processed (it says "processing" until then)."""
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    expect(page.locator("#sync-panel")).to_have_attribute("data-state", "idle", timeout=WAIT_MS)
    expect(page.locator("#sync-panel .spinner")).to_have_count(0)
    expect(page.locator("#last-sync")).not_to_contain_text("still being processed")


def _phone_layout(browser: object, base: str) -> None:
    """A phone's width: nothing wider than the screen but the tables, which scroll."""
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone.goto(base + "/sign-in")
    phone.get_by_label("Email").fill(EMAIL)
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    expect(phone.get_by_role("heading", name="Home")).to_be_visible()
    for path in ("/", "/integrations", "/metrics", "/profiles", "/flows", "/doctor"):
        phone.goto(base + path)
        overflow = phone.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} is {overflow}px wider than a phone's screen"
    phone.close()
