"""The Metrics list in-process, on SQLite and PostgreSQL: a row per metric name with every
source together (amounts per currency), each source on opening it, metrics without events in
the period behind a toggle, the period and the comparison kept in the URL and in the links,
and a breadcrumb that leads somewhere."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

from shoptrack.clock import FrozenClock
from shoptrack.services import Services
from shoptrack.testing import Shop
from tests.flow_support import process, send_event
from tests.helpers import AppClient
from tests.web.pages import Browser, row_cells, text_of
from tests.web.test_pages import _metric_id, _metric_names, browser

__all__ = ["browser"]  # the fixture, imported so pytest finds it here


def _summary(html: str, name: str) -> str:
    found = re.search(
        rf'<details class="metric" data-metric="{name}">\s*<summary>(.*?)</summary>',
        html,
        re.DOTALL,
    )
    assert found is not None, name
    return text_of(found.group(1))


def test_a_row_per_metric_name_with_every_store_together(
    browser: Browser, services: Services, shop: Shop, client: AppClient
) -> None:
    send_event(client, shop, "Placed Order", "api@example.com", unique_id="a1", value=20.0)
    process(services)
    page = browser.get("/metrics").text
    names = _metric_names(page)
    assert names == sorted(names, key=str.lower)
    assert names.count("Placed Order") == 1
    # The store's 2 orders (59.50 USD) and the API's one (20.00, no currency): the amounts
    # stay apart, nothing in the previous 30 days.
    assert _summary(page, "Placed Order") == "Placed Order 3 20.00 59.50 USD 0 new"
    assert row_cells(page, "metrics-Placed-Order", "API API") == ["1", "20.00", "0"]
    assert row_cells(page, "metrics-Placed-Order", "Woo WooCommerce") == ["2", "59.50 USD", "0"]
    woo = _metric_id(services, shop, "Placed Order")
    # Its page, and every store's chart, for the same period.
    assert f'href="/metrics/{woo}?range=30d&amp;compare=previous"' in page
    assert "range=30d&amp;compare=previous&amp;integrations=all\">Chart every store's" in page


def test_metrics_without_events_are_behind_a_toggle(browser: Browser) -> None:
    page = browser.get("/metrics").text
    shown = _metric_names(page)
    assert "Placed Order" in shown
    assert "Cancelled Order" not in shown  # a metric of the store that had no event
    toggle = re.search(r'<p id="zero-toggle"><a href="([^"]+)">Show (\d+) more metrics', page)
    assert toggle is not None
    every = browser.get(unescape(toggle.group(1))).text
    assert "Cancelled Order" in _metric_names(every)
    assert len(_metric_names(every)) == len(shown) + int(toggle.group(2))
    assert "zeros=show" in toggle.group(1)
    assert "range=30d" in toggle.group(1)  # the period is kept
    assert "Hide the" in every


def test_the_period_and_comparison_are_read_from_and_kept_in_the_url(
    browser: Browser, clock: FrozenClock
) -> None:
    week = browser.get("/metrics", params={"range": "7d", "compare": "none", "q": "order"}).text
    assert '<option value="7d" selected>' in week
    assert '<option value="none" selected>' in week
    assert _summary(week, "Placed Order") == "Placed Order 2 59.50 USD"  # no comparison
    # The breadcrumb, the search and the toggle keep the period.
    crumb = re.search(r'<nav class="crumbs" aria-label="Breadcrumb">(.*?)</nav>', week, re.DOTALL)
    assert crumb is not None
    assert '<a href="/">Home</a>' in crumb.group(1)
    assert "/metrics?range=7d&amp;compare=none" in crumb.group(1)
    assert '<input type="hidden" name="range" value="7d">' in week
    assert "range=7d&amp;compare=none&amp;q=order&amp;zeros=show" in week

    # A period before the orders: none, against the week before with one.
    clock.advance(timedelta(days=2))
    custom = browser.get(
        "/metrics",
        params={"range": "custom", "start": "2026-11-27", "end": "2026-11-29", "q": "placed"},
    ).text
    assert _metric_names(custom) == []
    assert "Show 1 more metric without events" in custom
    shown = browser.get(
        "/metrics",
        params={
            "range": "custom",
            "start": "2026-11-23",
            "end": "2026-11-25",
            "q": "placed",
        },
    ).text
    assert _summary(shown, "Placed Order") == "Placed Order 1 40.00 USD 0 new"
    assert browser.get("/metrics", params={"range": "custom"}).status_code == 400


def test_the_metric_pages_breadcrumb_leads_back(
    browser: Browser, services: Services, shop: Shop
) -> None:
    placed = _metric_id(services, shop, "Placed Order")
    page = browser.get(f"/metrics/{placed}", params={"range": "7d"}).text
    crumb = re.search(r'<nav class="crumbs" aria-label="Breadcrumb">(.*?)</nav>', page, re.DOTALL)
    assert crumb is not None
    links = re.findall(r'<a href="([^"]+)"', crumb.group(1))
    assert links == ["/", "/metrics?range=7d&amp;compare=previous"]  # the period kept
    assert "Analytics" not in page
