"""The Profiles list in headless Chromium (Debian's): sorted by last activity, then by order
count and lifetime value from the sort menu (the list swapped in place, the sort kept in the
URL), and paged forward by cursor and back to the first page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest

from shoptrack.api.app import create_app
from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.testing import make_shop, woo_order
from shoptrack.web.routes import profiles as profile_routes
from tests.conftest import START
from tests.helpers import deliver
from tests.stores import serving
from tests.web.pages import PASSWORD, add_user
from tests.web.test_browser import _require_chromium, desktop_page, launch_chromium

pytestmark = pytest.mark.slow

EMAIL = "merchant@example.com"
DAY = timedelta(days=1)
# (email, [(days ago, total)]): each sort puts them in another order, without a tie.
CUSTOMERS = {
    "recent@example.com": [(1, "15.00")],
    "frequent@example.com": [(9, "10.00"), (8, "10.00"), (7, "10.00"), (6, "10.00")],
    "spender@example.com": [(5, "450.00"), (4, "450.00")],
    "other@example.com": [(10, "25.00"), (3, "25.00"), (2, "25.00")],
}


@pytest.fixture
def site(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    _require_chromium()
    monkeypatch.setattr(profile_routes, "PROFILE_PAGE", 2)
    shop = make_shop(services)
    add_user(services, shop.account_id, EMAIL)
    number = 100
    for email, orders in CUSTOMERS.items():
        for days, total in orders:
            number += 1
            order = woo_order(number, "processing", START - days * DAY, email=email, total=total)
            deliver(services, shop, order, f"d{number}")
    Processor(services.database, services.clock).run_until_idle()
    app = create_app(services, run_workers=False)
    with serving(app) as url:
        yield url


def test_profiles_sort_and_page_in_the_browser(site: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = desktop_page(browser, problems)
            page.on(
                "console",
                lambda message: problems.append(message.text) if message.type == "error" else None,
            )
            page.goto(site + "/sign-in")
            page.get_by_label("Email").fill(EMAIL)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.goto(site + "/profiles")
            rows = page.locator("#profiles tbody tr th a")

            # Most recently active first, two a page.
            expect(rows).to_have_text(["recent@example.com", "other@example.com"])
            page.locator("#next-page").click()
            expect(rows).to_have_text(["spender@example.com", "frequent@example.com"])
            expect(page.locator("#next-page")).to_have_count(0)
            page.get_by_role("link", name="First page").click()
            expect(rows).to_have_text(["recent@example.com", "other@example.com"])

            # By order count: the list is swapped in place and the URL keeps the sort.
            page.get_by_label("Sort by").select_option("orders")
            expect(page).to_have_url(re.compile(r"sort=orders"))
            expect(rows).to_have_text(["frequent@example.com", "other@example.com"])
            page.locator("#next-page").click()
            expect(rows).to_have_text(["spender@example.com", "recent@example.com"])
            expect(page.locator("#profiles")).to_have_attribute("data-sort", "orders")

            # By lifetime value.
            page.get_by_label("Sort by").select_option("value")
            expect(rows).to_have_text(["spender@example.com", "other@example.com"])
            first = page.locator("#profiles tbody tr").first
            expect(first.locator("td.num").nth(1)).to_have_text("900.00 USD")
            page.locator("#next-page").click()
            expect(rows).to_have_text(["frequent@example.com", "recent@example.com"])
            page.go_back()
            expect(rows).to_have_text(["spender@example.com", "other@example.com"])
        finally:
            browser.close()
    assert problems == [], "\n".join(problems)
