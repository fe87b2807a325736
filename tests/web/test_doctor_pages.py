"""The Doctor page and the doctor on Home, in-process against a simulated WooCommerce store on a
real socket: a custom status is found with readable evidence, its fix applied by a button (POST
with CSRF) records the missing Placed Order and the finding goes away; Home lists the open
problems without asking the store; another account's user cannot apply a fix."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape

import httpx
import pytest

from shoptrack.api.app import create_app
from shoptrack.clock import FrozenClock
from shoptrack.connectors.http import StoreClient
from shoptrack.doctor import diagnose_account
from shoptrack.doctor._examination import Examination
from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.simulators.woocommerce import WooCommerceSimulator
from shoptrack.store.accounts import create_account
from tests.helpers import AppClient, event_counts
from tests.stores import serving
from tests.web.pages import Browser, add_user, csrf_of, no_wait_client

pytestmark = pytest.mark.slow

EMAIL = "merchant@example.com"


@dataclass
class Clinic:
    services: Services
    browser: Browser
    account_id: str
    integration_id: str
    store: WooCommerceSimulator


@pytest.fixture
def clock() -> FrozenClock:
    """Near the real time: the store refuses OAuth timestamps 15 minutes away from its clock."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def clinic(services: Services, clock: FrozenClock) -> Iterator[Clinic]:
    """A signed-in merchant whose WooCommerce store puts orders in a custom status."""
    with services.database.write() as connection:
        account, key = create_account(connection, "Doctor's shop", clock.now())
    add_user(services, account.id, EMAIL)
    app = create_app(services, run_workers=False)
    assert app.web is not None
    app.web.app.state.doctor_client = no_wait_client
    client = AppClient(app)
    store = WooCommerceSimulator(
        clock=clock.now, webhook_delivery="manual", webhook_transport=httpx.ASGITransport(app=app)
    )
    store.set_faults({"custom_statuses": ["awaiting-shipment"]})
    try:
        with serving(store.app) as store_url:
            response = client.post(
                "/api/integrations",
                headers={"Authorization": f"Klaviyo-API-Key {key.key}"},
                json={
                    "data": {
                        "type": "integration",
                        "attributes": {
                            "platform": "woocommerce",
                            "name": "Woo",
                            "credentials": store.credentials(store_url)
                            | {"webhook_secret": "whsec-web-doctor"},
                        },
                    }
                },
            )
            assert response.status_code == 201, response.text
            store.add_orders(2, statuses=["awaiting-shipment", "processing"])
            client.call(store.deliver_pending)
            Processor(services.database, services.clock).run_until_idle()
            browser = Browser(client)
            assert browser.sign_in(EMAIL).status_code == 303
            yield Clinic(services, browser, account.id, str(response.json()["data"]["id"]), store)
    finally:
        client.close()


def _finding(html: str, code: str) -> str:
    start = html.index(f'data-code="{code}"')
    return html[start : html.index("</li>", start)]


def test_home_lists_the_doctors_open_problems_without_asking_the_store(
    clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(_exam: Examination) -> StoreClient:
        raise AssertionError("Home asked the store")

    monkeypatch.setattr(Examination, "client", refuse)
    home = clinic.browser.get("/")
    assert home.status_code == 200
    problems = home.text[home.text.index('id="doctor-problems"') :]
    assert "custom_status_unmapped" in problems
    assert "sit in statuses no rule knows (&#39;awaiting-shipment&#39;)" in problems
    assert 'href="/doctor"' in problems
    # The mode Home uses leaves the live checks out, and runs the others.
    codes = {
        f.code for f in diagnose_account(clinic.services, clinic.account_id, live=False).findings
    }
    assert {"credentials_rejected", "webhooks_missing", "sync_pending"}.isdisjoint(codes)
    assert {"custom_status_unmapped", "settings_incomplete", "sync_failing"} <= codes


def test_the_doctor_shows_evidence_and_its_fix_records_the_missing_order(clinic: Clinic) -> None:
    assert event_counts(clinic.services, clinic.account_id)["Placed Order"] == 1
    page = clinic.browser.get("/doctor")
    assert page.status_code == 200
    finding = _finding(page.text, "custom_status_unmapped")
    assert "warning" in finding
    # Readable evidence: labelled facts, with the raw JSON on demand.
    assert "<dt>Never placed</dt><dd>1</dd>" in finding
    assert "<dt>Awaiting-shipment</dt>" in finding  # the status, with its counts under it
    assert "As JSON" in finding
    action = f"/doctor/integrations/{clinic.integration_id}/fixes/custom_status_unmapped"
    assert f'action="{action}"' in finding
    # The live checks asked the store, which accepts the keys.
    assert "The store accepts the keys (asked just now)." in unescape(page.text)

    # Without this session's CSRF token, nothing is applied.
    forged = clinic.browser.post(action, {"csrf_token": "forged"})
    assert forged.status_code == 403
    assert event_counts(clinic.services, clinic.account_id)["Placed Order"] == 1

    fixed = clinic.browser.post(action, {"csrf_token": csrf_of(page.text)})
    assert fixed.status_code == 303
    assert fixed.headers["location"] == f"/doctor#integration-{clinic.integration_id}"
    after = clinic.browser.get(fixed.headers["location"])
    assert "Woo: " in after.text
    assert event_counts(clinic.services, clinic.account_id)["Placed Order"] == 2
    problems = after.text[: after.text.index("checks passed")]
    assert 'data-code="custom_status_unmapped"' not in problems
    assert 'data-code="custom_status_unmapped"' in after.text  # among the passed checks
    assert "custom_status_unmapped" not in clinic.browser.get("/").text

    # A fix that is not applicable says why.
    refused = clinic.browser.post(
        f"/doctor/integrations/{clinic.integration_id}/fixes/credentials_rejected",
        {"csrf_token": csrf_of(after.text)},
    )
    shown = unescape(clinic.browser.get(refused.headers["location"]).text)
    assert "credentials_rejected (ok) has no fix shoptrack can apply now" in shown


def test_another_accounts_user_gets_404_on_fixes(clinic: Clinic) -> None:
    with clinic.services.database.write() as connection:
        other, _ = create_account(connection, "Other shop", clinic.services.clock.now())
    add_user(clinic.services, other.id, "other@example.com")
    browser = clinic.browser
    browser.post("/sign-out", {"csrf_token": csrf_of(browser.get("/").text)})
    browser.sign_in("other@example.com")
    page = browser.get("/doctor")
    assert "Woo" not in page.text
    refused = browser.post(
        f"/doctor/integrations/{clinic.integration_id}/fixes/custom_status_unmapped",
        {"csrf_token": csrf_of(page.text)},
    )
    assert refused.status_code == 404
    assert event_counts(clinic.services, clinic.account_id)["Placed Order"] == 1
