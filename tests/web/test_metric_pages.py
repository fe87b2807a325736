"""A metric's page in-process, on SQLite and PostgreSQL: the period picker's parameters read and
kept, totals (values per currency) beside the previous period, a value chart per currency, the
interval bounded by the period, every integration under ``integrations=all`` and old
``compare=1`` links sent there."""

from __future__ import annotations

import re

import pytest

from shoptrack.services import Services
from shoptrack.testing import Shop
from tests.flow_support import process, send_event
from tests.helpers import AppClient
from tests.web.pages import Browser, row_cells, text_of
from tests.web.test_home_pages import _figure, currencies
from tests.web.test_pages import _chart, _metric_id, browser

__all__ = ["browser", "currencies"]  # the fixtures, imported so pytest finds them here


def _labels(html: str, canvas_id: str = "metric-chart-canvas") -> list[str]:
    return [dataset["label"] for dataset in _chart(html, canvas_id)["data"]["datasets"]]


def _sums(html: str, canvas_id: str = "metric-chart-canvas") -> list[float]:
    return [sum(dataset["data"]) for dataset in _chart(html, canvas_id)["data"]["datasets"]]


def _intervals(html: str) -> list[str]:
    chosen = html[html.index('<select name="interval"') :]
    return re.findall(r'<option value="([^"]+)"', chosen[: chosen.index("</select>")])


def test_totals_and_a_value_chart_per_currency_beside_the_previous_period(
    currencies: Browser, services: Services, shop: Shop
) -> None:
    placed = _metric_id(services, shop, "Placed Order")
    page = currencies.get(f"/metrics/{placed}").text
    assert _figure(page, "events") == "Events 3 vs 1 +200%"
    assert _figure(page, "value", "USD") == "Value (USD) 59.50 vs 10.00 +495%"
    assert _figure(page, "value", "EUR") == "Value (EUR) 30.00 vs 0.00 new"
    assert _figure(page, "average", "USD").startswith("Average value (USD) 29.75 vs 10.00")
    assert "compared with 29 Sep 2026 \u2013 28 Oct 2026" in text_of(page)
    assert _labels(page) == ["Woo", "Previous 30 days"]
    assert _sums(page) == [3, 1]

    value = currencies.get(f"/metrics/{placed}", params={"measure": "value"}).text
    # One chart per currency, each with its own previous period; never added across them.
    assert _sums(value, "metric-chart-canvas") == [pytest.approx(30), 0]
    assert _sums(value, "metric-chart-canvas-USD") == [pytest.approx(59.5), pytest.approx(10)]
    assert "89.50" not in value
    assert "Value (sum) in EUR per day" in value

    alone = currencies.get(f"/metrics/{placed}", params={"range": "7d", "compare": "none"}).text
    assert _figure(alone, "events") == "Events 3"
    assert _labels(alone) == ["Woo"]
    assert len(_chart(alone, "metric-chart-canvas")["data"]["labels"]) == 7
    # Both forms keep the period and the chart's choices.
    assert '<option value="7d" selected>' in alone
    assert '<input type="hidden" name="range" value="7d">' in alone
    assert '<input type="hidden" name="interval" value="day">' in alone


def test_unique_profiles_beside_the_previous_period(
    browser: Browser, services: Services, shop: Shop
) -> None:
    placed = _metric_id(services, shop, "Placed Order")
    page = browser.get(f"/metrics/{placed}", params={"measure": "unique"}).text
    assert _labels(page) == ["Woo", "Previous 30 days"]
    assert _sums(page) == [2, 0]  # buyer@ and ann@, one order each


def test_the_interval_is_bounded_by_the_period(
    browser: Browser, services: Services, shop: Shop
) -> None:
    placed = _metric_id(services, shop, "Placed Order")
    url = f"/metrics/{placed}"
    week = browser.get(url, params={"range": "7d", "interval": "month"}).text
    assert _intervals(week) == ["day"]  # a week of weeks or months is a bar or two
    assert len(_chart(week, "metric-chart-canvas")["data"]["labels"]) == 7
    assert _intervals(browser.get(url, params={"range": "30d"}).text) == ["day", "week"]
    assert _intervals(browser.get(url, params={"range": "90d"}).text) == ["day", "week", "month"]
    year = {"range": "custom", "start": "2026-01-01", "end": "2026-11-27", "interval": "day"}
    long = browser.get(url, params=year).text
    assert _intervals(long) == ["week", "month"]  # 331 days: too many to draw one by one
    assert _chart(long, "metric-chart-canvas")["data"]["labels"][0] == "week of 29 Dec"

    # A week that starts before the period counts only the period's events: order 101 was
    # on 24 Nov, the Monday of the first week, before the period.
    later = {"range": "custom", "start": "2026-11-25", "end": "2026-12-10", "interval": "week"}
    weeks = browser.get(url, params=later).text
    assert _chart(weeks, "metric-chart-canvas")["data"]["labels"][0] == "week of 23 Nov"
    assert _sums(weeks)[0] == 1
    assert _figure(weeks, "events").startswith("Events 1 ")


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"interval": "fortnight"}, "interval: 'fortnight' is not a choice; use day, week or"),
        ({"measure": "revenue"}, "measure: 'revenue' is not a choice; use count, value or"),
        ({"integrations": "some"}, "integrations: 'some' is not a choice; use one or all"),
        ({"range": "year"}, "range: 'year' is not a period"),
    ],
)
def test_a_choice_that_names_nothing_is_a_400_naming_it(
    browser: Browser, services: Services, shop: Shop, params: dict[str, str], named: str
) -> None:
    page = browser.get(f"/metrics/{_metric_id(services, shop, 'Placed Order')}", params=params)
    assert page.status_code == 400
    assert named in text_of(page.text)


def test_every_integration_and_old_compare_links(
    browser: Browser, services: Services, shop: Shop, client: AppClient
) -> None:
    send_event(client, shop, "Placed Order", "api@example.com", unique_id="a1", value=20.0)
    process(services)
    placed = _metric_id(services, shop, "Placed Order")
    old = browser.get(f"/metrics/{placed}?compare=1&measure=value&interval=week")
    assert old.status_code == 301
    assert old.headers["location"] == (
        f"/metrics/{placed}?integrations=all&measure=value&interval=week"
    )
    page = browser.get(old.headers["location"]).text
    assert 'name="integrations" value="all" checked' in page
    assert "From every integration with this metric (2)." in page
    assert row_cells(page, "metric-sources", "API") == ["1", "20.00", "0", "—"]
    assert row_cells(page, "metric-sources", "Woo") == ["2", "59.50 USD", "0", "—"]
    # Amounts without a currency and in dollars are charted apart.
    assert _labels(page, "metric-chart-canvas") == ["API", "Previous 30 days"]
    assert _labels(page, "metric-chart-canvas-USD") == ["Woo", "Previous 30 days"]
    # Each source's own page, for the same period and chart.
    assert (
        f'<a href="/metrics/{placed}?range=30d&amp;compare=previous&amp;measure=value'
        '&amp;interval=week">Woo</a>' in page
    )


def test_home_links_to_the_metric_for_its_period(
    browser: Browser, services: Services, shop: Shop
) -> None:
    home = browser.get("/", params={"range": "7d"}).text
    placed = _metric_id(services, shop, "Placed Order")
    assert f'<a href="/metrics/{placed}?range=7d&amp;compare=previous">Woo</a>' in home
