"""Home in-process, on SQLite and PostgreSQL: totals in each currency (never added across
them) with the previous period beside them, the period picker's parameters kept in the URL and
its bad values named, a busy day that does not flatten the others, and legends of the page's
own."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.testing import Shop, woo_order
from tests.conftest import START
from tests.helpers import deliver
from tests.web.pages import Browser, row_cells, text_of
from tests.web.test_pages import _chart, browser

__all__ = ["browser"]  # the fixture, imported so pytest finds it here

DAY = timedelta(days=1)


def _order(
    services: Services, shop: Shop, number: int, days_ago: float, total: str, **more: Any
) -> None:
    order = woo_order(number, "processing", START - days_ago * DAY, total=total, **more)
    deliver(services, shop, order, f"h{number}")


@pytest.fixture
def currencies(browser: Browser, services: Services, shop: Shop) -> Browser:
    """Besides the fixture's two USD orders (3 and 1 days ago, 59.50): one in euros two days
    ago and one in dollars 40 days ago, in the previous 30 days."""
    _order(services, shop, 201, 2, "30.00", currency="EUR")
    _order(services, shop, 202, 40, "10.00")
    Processor(services.database, services.clock).run_until_idle()
    return browser


def _figure(html: str, name: str, currency: str | None = None) -> str:
    selector = f'data-figure="{name}"' + (f' data-currency="{currency}"' if currency else "")
    found = re.search(rf"<div class=\"figure\" {selector}>(.*?)</div>", html, re.DOTALL)
    assert found is not None, selector
    return text_of(found.group(1))


def test_totals_per_currency_beside_the_previous_period(currencies: Browser) -> None:
    page = currencies.get("/").text
    assert _figure(page, "orders") == "Orders 3 vs 1 +200%"
    assert _figure(page, "revenue", "USD") == "Revenue (USD) 59.50 vs 10.00 +495%"
    assert _figure(page, "revenue", "EUR") == "Revenue (EUR) 30.00 vs 0.00 new"
    assert _figure(page, "average", "USD").startswith("Average order (USD) 29.75 vs 10.00")
    assert "89.50" not in page  # dollars and euros are never added up
    assert row_cells(page, "placed-order-totals", "Woo") == [
        "3",
        "30.00 EUR 59.50 USD",
        "1",
        "10.00 USD",
    ]
    assert "compared with 29 Sep 2026 \u2013 28 Oct 2026" in text_of(page)
    # One revenue chart per currency; the orders chart counts them all, the previous period
    # as a line of its own.
    euros, dollars = _chart(page, "revenue-chart"), _chart(page, "revenue-chart-USD")
    assert sum(euros["data"]["datasets"][0]["data"]) == pytest.approx(30)
    assert sum(dollars["data"]["datasets"][0]["data"]) == pytest.approx(59.5)
    assert "Placed Order revenue in EUR per day" in page
    current, previous = _chart(page, "orders-chart")["data"]["datasets"]
    assert (sum(current["data"]), sum(previous["data"])) == (3, 1)
    assert previous["stack"] == "previous"


def test_the_period_picker_reads_and_keeps_its_parameters(currencies: Browser) -> None:
    week = currencies.get("/", params={"range": "7d"}).text
    assert len(_chart(week, "orders-chart")["data"]["labels"]) == 7
    assert _figure(week, "orders") == "Orders 3 vs 0 new"
    assert '<option value="7d" selected>' in week
    assert 'name="start" id="start" class="date" value="2026-11-21" readonly' in week

    quarter = currencies.get("/", params={"range": "90d"}).text
    assert len(_chart(quarter, "orders-chart")["data"]["labels"]) == 90
    assert _figure(quarter, "orders") == "Orders 4 vs 0 new"

    custom = currencies.get(
        "/",
        params={"range": "custom", "start": "2026-11-24", "end": "2026-11-25", "compare": "none"},
    ).text
    labels = _chart(custom, "orders-chart")["data"]["labels"]
    assert labels == ["24 Nov", "25 Nov"]
    # Order 101 (three days before START) and the one in euros.
    assert _figure(custom, "orders") == "Orders 2"
    assert _figure(custom, "revenue", "USD") == "Revenue (USD) 40.00"
    assert "Orders before" not in custom
    assert [d["label"] for d in _chart(custom, "orders-chart")["data"]["datasets"]] == ["Woo"]
    assert 'value="2026-11-24">' in custom  # editable: the dates are the period's
    assert "24 Nov 2026 \u2013 25 Nov 2026" in text_of(custom)

    long = currencies.get(
        "/", params={"range": "custom", "start": "2026-01-01", "end": "2026-11-27"}
    ).text
    assert _chart(long, "orders-chart")["data"]["labels"][0].startswith("week of")


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"range": "year"}, "range: 'year' is not a period; use 7d, 30d, 90d or custom"),
        ({"range": "custom", "end": "2026-11-01"}, "start: a custom period needs a start date"),
        (
            {"range": "custom", "start": "1 Nov", "end": "2026-11-01"},
            "start: '1 Nov' is not a date",
        ),
        (
            {"range": "custom", "start": "2026-11-02", "end": "2026-11-01"},
            "end: the period must end",
        ),
        (
            {"range": "custom", "start": "2024-01-01", "end": "2026-11-01"},
            "end: a period is 366 days",
        ),
        ({"range": "custom", "start": "0001-01-01", "end": "0001-01-02"}, "start: choose a date"),
        ({"compare": "maybe"}, "compare: 'maybe' is not a choice; use previous or none"),
    ],
)
def test_a_period_that_names_nothing_is_a_400_naming_the_field(
    browser: Browser, params: dict[str, str], named: str
) -> None:
    page = browser.get("/", params=params)
    assert page.status_code == 400
    assert named in text_of(page.text)


def test_a_busy_day_does_not_flatten_the_others(
    browser: Browser, services: Services, shop: Shop
) -> None:
    number = 300
    for days_ago in range(2, 12):  # two orders a day
        for hours in (2, 4):
            number += 1
            _order(services, shop, number, days_ago + hours / 24, "20.00")
    for _ in range(60):  # a sale: 60 orders on one day
        number += 1
        _order(services, shop, number, 15, "20.00")
    Processor(services.database, services.clock).run_until_idle()

    page = browser.get("/").text
    orders = _chart(page, "orders-chart")
    assert orders["options"]["scales"]["y"]["max"] == 5  # twice a usual busy day (2), rounded
    note = re.search(
        r'<p class="scale-note small" id="orders-chart-scale" data-fitted="yes">(.*?)</p>',
        page,
        re.DOTALL,
    )
    assert note is not None
    assert "12 Nov (60)" in text_of(note.group(1))
    full_url = re.search(
        r'<a href="(/\?[^"]*scale=full[^"]*)">Show the full scale</a>', note.group(1)
    )
    assert full_url is not None
    assert "range=30d&amp;compare=previous" in full_url.group(1)  # the period is kept
    full = browser.get(full_url.group(1).replace("&amp;", "&")).text
    assert "max" not in _chart(full, "orders-chart")["options"]["scales"]["y"]
    assert 'data-fitted="no"' in full
    assert "Fit the scale to the usual days" in full
    assert _chart(full, "orders-chart")["data"]["datasets"][0]["data"][14] == 60  # 12 Nov
