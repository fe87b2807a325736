"""The onsite tracker's server side: ``/static/shoptrack.js`` as served, and ``/client/events``
with ``integration_id`` recording on that integration's metrics (the browser itself is in
``tests/web/test_tracker_browser.py``)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

import shoptrack
from shoptrack.doctor import TRACKER_VERSION_PROPERTY
from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.store.integrations import find_integration, remove_integration
from shoptrack.store.schema import events, metrics, profiles
from shoptrack.testing import Shop, make_shop
from shoptrack.tracker import VERSION_MARKER, tracker_source
from tests.helpers import AppClient


def _client_event(metric: str = "Viewed Product", **profile: Any) -> dict[str, Any]:
    return {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {"ProductName": "Hoodie", TRACKER_VERSION_PROPERTY: "0.1.0"},
                "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
                "profile": {
                    "data": {
                        "type": "profile",
                        "attributes": profile or {"email": "ada@example.com"},
                    }
                },
                "unique_id": "view-1",
            },
        }
    }


def _recorded(services: Services, account_id: str) -> list[tuple[str, str | None, str]]:
    """(metric name, the metric's integration id, the profile's email) of each event."""
    with services.database.read() as connection:
        rows = connection.execute(
            select(metrics.c.name, metrics.c.integration_id, profiles.c.email)
            .join(events, events.c.metric_id == metrics.c.id)
            .join(profiles, profiles.c.id == events.c.profile_id)
            .where(events.c.account_id == account_id)
            .order_by(metrics.c.name)
        )
        return [(row[0], row[1], row[2]) for row in rows]


def _process(services: Services) -> None:
    Processor(services.database, services.clock).run_until_idle()


def test_the_script_carries_the_server_version_where_the_doctor_reads_it() -> None:
    source = tracker_source().decode()
    assert VERSION_MARKER not in source
    assert f'var VERSION = "{shoptrack.__version__}";' in source
    assert f"properties.{TRACKER_VERSION_PROPERTY} = VERSION;" in source
    assert tracker_source("9.9.9").decode().count('"9.9.9"') == 1


def test_the_script_is_public_cross_origin_and_cacheable(client: AppClient) -> None:
    answer = client.get("/static/shoptrack.js", headers={"origin": "https://shop.example"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.headers["cross-origin-resource-policy"] == "cross-origin"
    assert answer.headers["cache-control"] == "public, max-age=3600"
    assert "set-cookie" not in answer.headers
    assert answer.content == tracker_source()

    versioned = client.get(f"/static/shoptrack.js?v={shoptrack.__version__}")
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
    # An older snippet's ?v= gets today's script, but not for a year.
    assert client.get("/static/shoptrack.js?v=0.0.1").headers["cache-control"].endswith("3600")

    etag = answer.headers["etag"]
    again = client.get("/static/shoptrack.js", headers={"if-none-match": f"W/{etag}"})
    assert again.status_code == 304
    assert again.content == b""
    head = client.request("HEAD", "/static/shoptrack.js")
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) == len(tracker_source())
    refused = client.post("/static/shoptrack.js")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD"


def test_the_web_ui_keeps_its_own_script(client: AppClient) -> None:
    assert client.get("/static/ui.js").text.startswith("/* shoptrack's web UI")
    sign_in = client.get("/sign-in").text
    assert 'src="/static/ui.js"' in sign_in
    assert "/static/shoptrack.js" not in sign_in


def test_client_events_for_an_integration_go_on_its_metrics(
    services: Services, shop: Shop, client: AppClient
) -> None:
    url = f"/client/events?company_id={shop.public_key}"
    answer = client.post(f"{url}&integration_id={shop.integration.id}", json=_client_event())
    assert answer.status_code == 202, answer.text
    assert answer.headers["access-control-allow-origin"] == "*"
    # Klaviyo's form, without the parameter: the API's metric, as before.
    klaviyo = client.post(url, json=_client_event("Added to Cart"))
    assert klaviyo.status_code == 202, klaviyo.text
    _process(services)
    assert _recorded(services, shop.account_id) == [
        ("Added to Cart", None, "ada@example.com"),
        ("Viewed Product", shop.integration.id, "ada@example.com"),
    ]


@pytest.mark.parametrize("whose", ["unknown", "another account's", "removed"])
def test_an_integration_id_outside_the_account_is_400(
    services: Services, shop: Shop, client: AppClient, whose: str
) -> None:
    integration_id = "no-such-integration"
    if whose == "another account's":
        integration_id = make_shop(services).integration.id
    elif whose == "removed":
        integration_id = shop.integration.id
        with services.database.write() as connection:
            found = find_integration(connection, integration_id)
            assert found is not None
            remove_integration(connection, found, services.clock.now())
    answer = client.post(
        f"/client/events?company_id={shop.public_key}&integration_id={integration_id}",
        json=_client_event(),
    )
    assert answer.status_code == 400, answer.text
    assert answer.headers["access-control-allow-origin"] == "*"  # the tracker can read why
    (error,) = answer.json()["errors"]
    assert error["code"] == "invalid"
    assert error["source"] == {"parameter": "integration_id"}
    assert integration_id in error["detail"]
    _process(services)
    assert _recorded(services, shop.account_id) == []
