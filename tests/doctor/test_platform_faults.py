"""The doctor's findings for faults only some platforms can show, injected through their
simulators: a Shopify token without ``read_all_orders`` (scope_missing), and BigCommerce
deliveries signed by a store whose clock is off (webhook_clock_skew)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shoptrack.api.app import create_app
from shoptrack.clock import FrozenClock
from shoptrack.doctor import Report, Severity, diagnose_integration
from shoptrack.pipeline.processing import Processor
from shoptrack.pipeline.sync import Syncer
from shoptrack.services import Services
from shoptrack.simulators.bigcommerce import BigCommerceSimulator
from shoptrack.simulators.shopify import ShopifySimulator
from shoptrack.testing import make_shop
from tests.helpers import AppClient
from tests.stores import serving

pytestmark = pytest.mark.slow


@pytest.fixture
def clock() -> FrozenClock:
    """Near the real time, as signed webhooks and store tokens expect."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


def _problems(report: Report) -> dict[str, Any]:
    return {
        finding.code: finding
        for finding in report.findings
        if finding.severity in (Severity.WARNING, Severity.ERROR)
    }


def _connect(client: AppClient, key: str, platform: str, credentials: dict[str, str]) -> str:
    response = client.post(
        "/api/integrations",
        headers={"Authorization": f"Klaviyo-API-Key {key}"},
        json={
            "data": {
                "type": "integration",
                "attributes": {
                    "platform": platform,
                    "name": f"My {platform} store",
                    "credentials": credentials,
                    "settings": {"backfill_days": 90},
                },
            }
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


@pytest.fixture
def app_client(services: Services) -> Iterator[tuple[AppClient, Any]]:
    app = create_app(services, run_workers=False)
    client = AppClient(app)
    yield client, app
    client.close()


def test_a_shopify_token_without_read_all_orders_is_scope_missing(
    services: Services, clock: FrozenClock, app_client: tuple[AppClient, Any]
) -> None:
    client, _ = app_client
    shop = make_shop(services)
    store = ShopifySimulator(clock=clock.now, webhook_delivery="manual")
    store.add_orders(created=clock.now() - timedelta(days=75))
    store.add_orders(created=clock.now() - timedelta(days=5))
    limited = store.add_token(["read_orders"])
    with serving(store.app) as url:
        credentials = store.credentials(url) | {"access_token": limited}
        integration_id = _connect(client, shop.private_key, "shopify", credentials)
        Syncer(services).run(shop.account_id, integration_id)
        report = diagnose_integration(services, shop.account_id, integration_id)
    finding = _problems(report)["scope_missing"]
    assert finding.severity is Severity.ERROR
    assert "read_all_orders" in finding.summary + str(finding.evidence) + finding.fix.text


def test_bigcommerce_deliveries_from_a_store_clock_ten_minutes_slow_are_clock_skew(
    services: Services, clock: FrozenClock, app_client: tuple[AppClient, Any]
) -> None:
    client, app = app_client
    shop = make_shop(services)
    slow: Callable[[], datetime] = lambda: clock.now() - timedelta(minutes=10)  # noqa: E731  # the store's clock
    store = BigCommerceSimulator(
        clock=slow,
        webhook_delivery="manual",
        webhook_transport=httpx.ASGITransport(app=app),
        require_https_destinations=False,
    )
    with serving(store.app) as url:
        integration_id = _connect(client, shop.private_key, "bigcommerce", store.credentials(url))
        store.add_orders(2, statuses=[11])
        client.call(store.deliver_pending)
        Processor(services.database, services.clock).run_until_idle()
        report = diagnose_integration(services, shop.account_id, integration_id)
    problems = _problems(report)
    assert "webhook_clock_skew" in problems
    assert "webhook_signature_rejected" not in problems  # skew is not forgery
