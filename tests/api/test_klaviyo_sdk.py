"""The official ``klaviyo-api`` SDK works unchanged against a running ``shoptrack serve``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.exceptions import ApiException

from shoptrack.services import Services
from shoptrack.testing import Shop, make_shop
from tests.processes import Server, environment, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def running(services: Services, tmp_path: Path) -> Iterator[tuple[Shop, KlaviyoAPI]]:
    shop = make_shop(services)
    server = Server(environment(services.settings.resolved_database_url(), tmp_path / "data"))
    try:
        yield shop, KlaviyoAPI(shop.private_key, test_host=server.url, max_retries=0)
    finally:
        server.stop()


def _event(email: str, unique_id: str, value: float) -> dict[str, Any]:
    return {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {"OrderId": unique_id, "ItemNames": ["Winnie the Pooh"]},
                "time": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
                "value": value,
                "value_currency": "USD",
                "unique_id": unique_id,
                "metric": {"data": {"type": "metric", "attributes": {"name": "Placed Order"}}},
                "profile": {"data": {"type": "profile", "attributes": {"email": email}}},
            },
        }
    }


def _as_dict(response: Any) -> dict[str, Any]:
    return response if isinstance(response, dict) else response.to_dict()


def test_sdk_round_trip(running: tuple[Shop, KlaviyoAPI]) -> None:
    _shop, client = running
    client.Events.create_event(_event("A@x.com", "o-1", 29.98))
    client.Events.create_event(_event(" a@x.com", "o-2", 10.0))
    client.Events.create_event(_event("a@x.com", "o-2", 10.0))  # the same unique_id again

    def recorded() -> list[dict[str, Any]]:
        return list(_as_dict(client.Events.get_events())["data"])

    wait_until(lambda: len(recorded()) == 2, timeout=30)
    events = _as_dict(client.Events.get_events(include=["metric", "profile"]))
    profile_ids = {e["relationships"]["profile"]["data"]["id"] for e in events["data"]}
    assert len(profile_ids) == 1  # one profile for "A@x.com" and " a@x.com"

    profiles = _as_dict(client.Profiles.get_profiles(filter='equals(email,"a@x.com")'))
    assert [p["id"] for p in profiles["data"]] == list(profile_ids)
    with pytest.raises(ApiException) as duplicate:
        client.Profiles.create_profile(
            {"data": {"type": "profile", "attributes": {"email": "A@X.com"}}}
        )
    assert duplicate.value.status == 409
    assert "duplicate_profile" in str(duplicate.value.body)

    metrics = _as_dict(client.Metrics.get_metrics())["data"]
    placed = next(
        m
        for m in metrics
        if m["attributes"]["name"] == "Placed Order"
        and m["attributes"]["integration"]["id"] == "api"
    )
    now = datetime.now(UTC)
    since, until = (now - timedelta(days=2)).date(), (now + timedelta(days=1)).date()
    aggregates = _as_dict(
        client.Metrics.query_metric_aggregates(
            {
                "data": {
                    "type": "metric-aggregate",
                    "attributes": {
                        "metric_id": placed["id"],
                        "measurements": ["count", "sum_value"],
                        "interval": "day",
                        "filter": [
                            f"greater-or-equal(datetime,{since}T00:00:00)",
                            f"less-than(datetime,{until}T00:00:00)",
                        ],
                        "timezone": "UTC",
                    },
                }
            }
        )
    )
    measurements = aggregates["data"]["attributes"]["data"][0]["measurements"]
    assert sum(measurements["count"]) == 2
    assert sum(measurements["sum_value"]) == pytest.approx(39.98)


def test_a_made_up_key_fails_cleanly(running: tuple[Shop, KlaviyoAPI]) -> None:
    _shop, client = running
    impostor = KlaviyoAPI("pk_" + "x" * 34, test_host=client.configuration.host, max_retries=0)
    with pytest.raises(ApiException) as refused:
        impostor.Events.get_events()
    assert refused.value.status == 401
    with pytest.raises(ApiException) as refused_write:
        impostor.Events.create_event(_event("a@x.com", "x", 1.0))
    assert refused_write.value.status == 401
