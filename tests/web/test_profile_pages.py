"""The Profiles pages in-process, on SQLite and PostgreSQL: the list paged by cursor and sorted by
last activity, lifetime value and order count; a profile's order figures from the statistics
recording keeps (refunds taken away, test orders left out, one figure per currency), its
properties as a table, and "first seen" from its earliest event."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import insert, select, update

from shoptrack.domain.events import TEST_ORDER_DOMAIN
from shoptrack.ids import new_id
from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.store.schema import profiles
from shoptrack.testing import Shop, woo_order
from shoptrack.web.routes import profiles as profile_routes
from tests.conftest import START
from tests.helpers import AppClient, deliver
from tests.web.pages import Browser, add_user

DAY = timedelta(days=1)


@pytest.fixture
def browser(services: Services, shop: Shop, client: AppClient) -> Browser:
    """Signed in to a shop whose customers ordered differently: the big spender twice (one
    refunded), the frequent buyer three small orders, one buyer in dollars and euros, a test
    order, and a profile with no event at all."""
    add_user(services, shop.account_id, "merchant@example.com")
    signed_in = Browser(client)
    assert signed_in.sign_in("merchant@example.com").status_code == 303
    orders = [
        # (order id, status, when, email, total, currency)
        (1, "processing", START - 9 * DAY, "big@example.com", "300.00", "EUR"),
        (2, "refunded", START - 8 * DAY, "big@example.com", "100.00", "EUR"),
        (3, "processing", START - 7 * DAY, "often@example.com", "10.00", "EUR"),
        (4, "processing", START - 5 * DAY, "often@example.com", "20.00", "EUR"),
        (5, "completed", START - 2 * DAY, "often@example.com", "30.00", "EUR"),
        (6, "processing", START - 4 * DAY, "both@example.com", "500.00", "USD"),
        (7, "processing", START - 3 * DAY, "both@example.com", "40.00", "EUR"),
        (8, "processing", START - DAY, f"tester@{TEST_ORDER_DOMAIN}", "999.00", "EUR"),
    ]
    for number, status, when, email, total, currency in orders:
        order = woo_order(number, status, when, email=email, total=total, currency=currency)
        deliver(services, shop, order, f"d{number}")
    Processor(services.database, services.clock).run_until_idle()
    # Someone who signed up and never did anything: no event, no last activity.
    with services.database.write() as connection:
        now = services.clock.now()
        connection.execute(
            insert(profiles).values(
                id=new_id(),
                account_id=shop.account_id,
                email="window@example.com",
                properties={},
                created_at=now,
                updated_at=now,
            )
        )
    return signed_in


def _emails(html: str) -> list[str]:
    table = html[html.index('id="profiles"') :]
    return re.findall(r'<a href="/profiles/[^"]+">([^<]+)</a>', table)


def _next(html: str) -> str | None:
    found = re.search(r'<a class="button secondary" id="next-page" href="([^"]+)"', html)
    return None if found is None else unescape(found.group(1))


def _all_pages(browser: Browser, url: str) -> list[list[str]]:
    pages = []
    next_url: str | None = url
    while next_url is not None:
        page = browser.get(next_url)
        assert page.status_code == 200
        pages.append(_emails(page.text))
        next_url = _next(page.text)
    return pages


def test_sorted_by_last_activity_by_default_and_paged_by_cursor(
    browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(profile_routes, "PROFILE_PAGE", 2)
    pages = _all_pages(browser, "/profiles")
    assert pages == [
        [f"tester@{TEST_ORDER_DOMAIN}", "often@example.com"],
        ["both@example.com", "big@example.com"],
        ["window@example.com"],
    ]
    first = browser.get("/profiles").text
    assert "First page" not in first
    assert "First page" in browser.get(_next(first) or "").text


def test_sorted_by_order_count_and_lifetime_value(
    browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(profile_routes, "PROFILE_PAGE", 2)
    by_orders = [email for page in _all_pages(browser, "/profiles?sort=orders") for email in page]
    # Test orders count for nobody; profiles without an order come last, newest first.
    assert by_orders[0] == "often@example.com"
    assert sorted(by_orders[1:3]) == ["big@example.com", "both@example.com"]  # two each
    assert sorted(by_orders[3:]) == [f"tester@{TEST_ORDER_DOMAIN}", "window@example.com"]

    # Euros are the account's main currency: placed minus refunded, 200 > 60 > 40.
    by_value = [email for page in _all_pages(browser, "/profiles?sort=value") for email in page]
    assert by_value[:3] == ["big@example.com", "often@example.com", "both@example.com"]
    page = browser.get("/profiles?sort=value").text
    assert re.search(r'<option value="USD"', page)  # another currency to sort by
    in_dollars = _all_pages(browser, "/profiles?sort=value&currency=USD")
    assert in_dollars[0][0] == "both@example.com"
    # A currency the account never took falls back to its main one.
    assert _emails(browser.get("/profiles?sort=value&currency=XYZ").text)[0] == "big@example.com"


def test_search_keeps_the_sort_and_a_bad_cursor_is_the_first_page(browser: Browser) -> None:
    found = browser.get("/profiles", params={"q": "B", "sort": "value"}).text
    assert _emails(found) == ["big@example.com", "both@example.com"]  # 300 EUR, 40 EUR
    assert 'value="B"' in found
    garbage = browser.get("/profiles", params={"after": "not-a-cursor", "sort": "value"})
    assert garbage.status_code == 200
    assert _emails(garbage.text)[0] == "big@example.com"


def _figures(html: str) -> dict[str, dict[str, str]]:
    rows = re.findall(
        r'<tr>\s*<th scope="row">([^<]+)</th>\s*'
        r'<td class="num" data-figure="lifetime-value">([^<]+)</td>\s*'
        r'<td class="num" data-figure="orders">([^<]+)</td>\s*'
        r'<td class="num" data-figure="average-order-value">([^<]+)</td>',
        html,
    )
    return {c: {"value": v, "orders": n, "average": a} for c, v, n, a in rows}


def _profile_id(services: Services, email: str) -> str:
    with services.database.read() as connection:
        return str(
            connection.execute(select(profiles.c.id).where(profiles.c.email == email)).scalar_one()
        )


def test_a_profile_shows_its_orders_per_currency(browser: Browser, services: Services) -> None:
    big = browser.get(f"/profiles/{_profile_id(services, 'big@example.com')}").text
    # Two placed (300 + 100), the second refunded in full: 400 - 100.
    assert _figures(big) == {"EUR": {"value": "300.00", "orders": "2", "average": "200.00"}}
    assert re.search(r'id="first-order"><time datetime="2026-11-18T12:00:00\+00:00"', big)
    assert re.search(r'id="last-order"><time datetime="2026-11-19T12:00:00\+00:00"', big)

    both = browser.get(f"/profiles/{_profile_id(services, 'both@example.com')}").text
    assert _figures(both) == {
        "EUR": {"value": "40.00", "orders": "1", "average": "40.00"},
        "USD": {"value": "500.00", "orders": "1", "average": "500.00"},
    }
    tester = browser.get(f"/profiles/{_profile_id(services, f'tester@{TEST_ORDER_DOMAIN}')}")
    assert _figures(tester.text) == {}
    assert "No orders yet." in tester.text


def test_properties_read_as_a_table_and_first_seen_is_the_earliest_event(
    browser: Browser, services: Services
) -> None:
    profile_id = _profile_id(services, "often@example.com")
    with services.database.write() as connection:
        connection.execute(
            update(profiles)
            .where(profiles.c.id == profile_id)
            .values(
                properties={"plan": "gold", "address": {"city": "Lyon"}, "tags": ["vip", "eu"]},
                location={"city": "Lyon", "country": "France"},
            )
        )
    page = browser.get(f"/profiles/{profile_id}").text
    assert "<pre>" not in page[: page.index('id="activity-feed"')]  # no JSON dumps
    table = page[page.index('id="profile-properties"') :]
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td>([^<]*)</td></tr>', table)
    assert rows == [("address.city", "Lyon"), ("plan", "gold"), ("tags", "vip, eu")]
    assert re.search(r'<th scope="row">Location.city</th><td>Lyon</td>', page)
    # The profile was made when its first order arrived (now), from an order of 7 days ago.
    first_seen = re.search(r'id="first-seen"><time datetime="([^"]+)"', page)
    assert first_seen is not None
    assert first_seen.group(1) == (START - 7 * DAY).isoformat()
    listing = browser.get("/profiles?sort=orders").text
    row = listing[listing.index("often@example.com") :].split("</tr>")[0]
    assert re.search(r'<td class="num">3</td>\s*<td class="num">60.00 EUR</td>', row)
