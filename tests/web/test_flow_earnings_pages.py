"""What flows earned in the web UI, on SQLite and PostgreSQL: the Flows list's revenue per
flow, a flow's page and each email's recipients, open and click rates, conversions, revenue and
revenue per recipient over the period chosen, with charts; Home's revenue from flows beside the
total; and sends, opens and clicks in a profile's feed."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select

from shoptrack.clock import FrozenClock
from shoptrack.services import Services
from shoptrack.store.schema import profiles
from shoptrack.testing import Shop
from tests.flow_support import (
    Mailbox,
    SmtpServer,
    api_metric,
    create_flow,
    flow_engine,
    follow,
    open_pixel,
    process,
    send_event,
    smtp,
)
from tests.helpers import AppClient
from tests.web.pages import Browser, add_user, text_of

__all__ = ["smtp"]  # the fixture, imported so pytest finds it here

EMAIL = "merchant@example.com"


@pytest.fixture
def earned(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer, clock: FrozenClock
) -> str:
    """A post-purchase flow emailed Ada and Bob three days ago; Ada opened, clicked and ordered
    again for 45.50 the next day. The flow's id."""
    flow = create_flow(client, shop, "post-purchase", api_metric(services, shop, "Placed Order"))
    clock.advance(timedelta(days=-3))
    for address in ("ada@example.com", "bob@example.com"):
        send_event(client, shop, "Placed Order", address, unique_id=f"o-{address}", value=20.0)
    process(services)
    engine = flow_engine(services, smtp)
    try:
        engine.run_until_idle()
    finally:
        engine.close()
    (message,) = smtp.mailbox.to("ada@example.com")
    clock.advance(timedelta(hours=2))
    open_pixel(client, message)
    follow(client, next(link for link in Mailbox.links(message) if "/t/c/" in link))
    clock.advance(timedelta(days=1))
    send_event(client, shop, "Placed Order", "ada@example.com", unique_id="o-2", value=45.5)
    process(services)
    clock.advance(timedelta(days=2))
    return str(flow["data"]["id"])


@pytest.fixture
def browser(services: Services, shop: Shop, client: AppClient) -> Browser:
    add_user(services, shop.account_id, EMAIL)
    signed_in = Browser(client)
    assert signed_in.sign_in(EMAIL).status_code == 303
    return signed_in


def _facts(page: str, element_id: str) -> dict[str, str]:
    """Each figure of the list ``element_id``, with the period before's ("2 vs 0") when
    compared."""
    block = page[page.index(f'id="{element_id}"') :].split("</dl>", maxsplit=1)[0]
    return {
        text_of(label): text_of(value)
        for label, value in re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", block, re.DOTALL)
    }


def _chart(page: str, element_id: str) -> dict[str, object]:
    found = re.search(rf"id=\"{element_id}\"[^>]*data-chart='([^']*)'", page)
    assert found is not None
    chart: dict[str, object] = json.loads(unescape(found.group(1)))
    return chart


def test_flows_show_what_they_earned(
    browser: Browser, services: Services, shop: Shop, earned: str
) -> None:
    listed = browser.get("/flows").text
    row = listed[listed.index(f'href="/flows/{earned}?range=30d&amp;compare=previous"') :]
    row = row.split("</tr>")[0]
    assert re.findall(r'<td class="num flow-revenue[^"]*">(.*?)</td>', row) == [
        '<span class="amount" data-currency="">45.50</span>',
        "0.00",  # nothing before
    ]
    assert "Revenue before" in listed

    page = browser.get(f"/flows/{earned}").text
    assert _facts(page, "flow-figures") == {
        "Recipients": "2 vs 0",
        "Open rate": "50.0% vs 0.0%",
        "Click rate": "50.0% vs 0.0%",
        "Conversions": "1 vs 0",
        "Revenue": "45.50 vs 0.00",
        "Revenue per recipient": "22.75 vs 0.00",
    }
    step = _facts(page, "figures-thank-you-first")
    assert (step["Recipients"], step["Revenue"]) == ("2 vs 0", "45.50 vs 0.00")
    assert _facts(page, "figures-thank-you-returning")["Recipients"] == "0 vs 0"
    revenue = _chart(page, "flow-revenue-chart")
    datasets = revenue["data"]["datasets"]  # type: ignore[index]
    assert [d["label"] for d in datasets] == ["Thank you (first order)", "Previous 30 days"]
    assert sum(datasets[0]["data"]) == pytest.approx(45.5)
    assert len(revenue["data"]["labels"]) == 30  # type: ignore[index]
    recipients = _chart(page, "recipients-chart")["data"]["datasets"]  # type: ignore[index]
    assert sum(recipients[0]["data"]) == 2

    # A shorter period leaves out what came before it, and is kept in the URL.
    week = browser.get(f"/flows/{earned}", params={"range": "7d", "compare": "none"}).text
    assert _facts(week, "flow-figures")["Revenue"] == "45.50"
    assert len(_chart(week, "flow-revenue-chart")["data"]["labels"]) == 7  # type: ignore[index]
    assert '<option value="7d" selected>' in week
    quarter = browser.get(f"/flows/{earned}", params={"range": "90d"}).text
    assert _chart(quarter, "flow-revenue-chart")["data"]["labels"][0].startswith("week of")  # type: ignore[index]

    # The week before the last: the emails and the order are in the week after it.
    before = {"range": "custom", "start": "2026-11-17", "end": "2026-11-23"}
    earlier = browser.get(f"/flows/{earned}", params=before).text
    assert _facts(earlier, "flow-figures")["Recipients"] == "0 vs 0"
    later = {"range": "custom", "start": "2026-11-24", "end": "2026-11-30"}
    compared = browser.get(f"/flows/{earned}", params=later).text
    assert _facts(compared, "flow-figures")["Revenue"] == "45.50 vs 0.00"


def test_old_days_links_are_sent_to_the_period(browser: Browser, earned: str) -> None:
    old = browser.get(f"/flows/{earned}", params={"days": "7"})
    assert old.status_code == 301
    assert old.headers["location"] == f"/flows/{earned}?range=7d"
    assert browser.get("/flows", params={"days": "90"}).headers["location"] == "/flows?range=90d"
    unknown = browser.get(f"/flows/{earned}", params={"days": "12"})
    assert unknown.headers["location"] == f"/flows/{earned}"
    assert browser.get(f"/flows/{earned}", params={"range": "12d"}).status_code == 400


def test_revenue_is_kept_per_currency(
    browser: Browser,
    services: Services,
    shop: Shop,
    client: AppClient,
    smtp: SmtpServer,
    earned: str,
) -> None:
    """Bob opens his email and orders in euros: the flow's revenue is in two currencies,
    never added up."""
    (message,) = smtp.mailbox.to("bob@example.com")
    open_pixel(client, message)
    send_event(
        client,
        shop,
        "Placed Order",
        "bob@example.com",
        unique_id="o-3",
        value=30.0,
        value_currency="EUR",
    )
    process(services)
    page = browser.get(f"/flows/{earned}").text
    assert _facts(page, "flow-figures")["Revenue"] == "45.50, 30.00 EUR vs 0.00"
    assert _facts(page, "flow-figures")["Revenue per recipient"] == "22.75, 15.00 EUR vs 0.00"
    assert "75.50" not in page
    euros = _chart(page, "flow-revenue-chart-EUR")["data"]["datasets"]  # type: ignore[index]
    assert sum(euros[0]["data"]) == pytest.approx(30)
    assert "Revenue credited in EUR per day" in page
    listed = browser.get("/flows").text
    row = listed[listed.index(f'href="/flows/{earned}') :].split("</tr>")[0]
    assert re.findall(r'<span class="amount" data-currency="(\w*)">([^<]+)</span>', row) == [
        ("", "45.50"),
        ("EUR", "30.00 EUR"),
    ]


def test_home_shows_flow_revenue_beside_the_total_and_the_feed_the_emails(
    browser: Browser, services: Services, shop: Shop, earned: str
) -> None:
    home = unescape(browser.get("/").text)
    line = home[home.index('id="flow-revenue"') :].split("</p>")[0]
    assert "<strong>45.50</strong> of 85.50 (53%)" in line

    with services.database.read() as connection:
        ada = connection.execute(
            select(profiles.c.id).where(profiles.c.email == "ada@example.com")
        ).scalar_one()
    feed = browser.get(f"/profiles/{ada}").text
    feed = feed[feed.index('id="activity-feed"') :]
    for metric in ("Received Email", "Opened Email", "Clicked Email"):
        assert f">{metric}<" in feed, metric
    assert earned in feed  # each names its flow
