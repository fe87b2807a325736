"""``shoptrack demo`` as ``make demo`` runs it: six simulated stores connected, their history
imported, events recorded for each, the post-purchase and abandoned-checkout flows live with
their emails opened by simulated customers, and the same account found again on a second
start."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from shoptrack.simulators.catalog import CATALOG
from tests.processes import Process, environment, wait_until

pytestmark = pytest.mark.slow


def _placed_by_integration(url: str, key: str) -> dict[str, int]:
    """Placed Order events per integration, as the API's aggregates count them."""
    headers = {"Authorization": f"Klaviyo-API-Key {key}"}
    metrics = httpx.get(f"{url}/api/metrics", headers=headers, timeout=10).json()["data"]
    counts: dict[str, int] = {}
    for metric in metrics:
        integration = metric["attributes"]["integration"]
        if metric["attributes"]["name"] != "Placed Order" or integration["category"] == "API":
            continue
        events = httpx.get(
            f"{url}/api/events",
            params={"filter": f'equals(metric_id,"{metric["id"]}")', "page[size]": "5"},
            headers=headers,
            timeout=10,
        ).json()["data"]
        counts[integration["id"]] = len(events)
    return counts


def _opened_flow_emails(url: str, key: str) -> int:
    """Unique opens of the demo's flow emails in the last 30 days, as the flow report says."""
    headers = {"Authorization": f"Klaviyo-API-Key {key}"}
    metrics = httpx.get(f"{url}/api/metrics", headers=headers, timeout=10).json()["data"]
    placed = next(m["id"] for m in metrics if m["attributes"]["name"] == "Placed Order")
    body = {
        "data": {
            "type": "flow-values-report",
            "attributes": {
                "statistics": ["opens_unique"],
                "timeframe": {"key": "last_30_days"},
                "conversion_metric_id": placed,
            },
        }
    }
    response = httpx.post(f"{url}/api/flow-values-reports", json=body, headers=headers, timeout=10)
    results = response.json()["data"]["attributes"]["results"]
    return sum(int(result["statistics"]["opens_unique"]) for result in results)


def _start(tmp_path: Path) -> tuple[Process, str]:
    env = environment(f"sqlite:///{tmp_path / 'demo.db'}", tmp_path / "data")
    # The demo allows its own simulated stores' address by itself.
    del env["SHOPTRACK_PRIVATE_STORE_NETWORKS"]
    # On a port the demo binds itself (0: one the system picks), and says first.
    demo = Process(env, "demo", "--port", "0")
    found: list[str] = []

    def said_where() -> bool:
        if demo.process.poll() is not None:
            raise RuntimeError(f"the demo exited: {demo.stop()}")
        found.extend(re.findall(r"shoptrack demo on (http://127\.0\.0\.1:\d+)", demo.output()))
        return bool(found)

    wait_until(said_where, timeout=60)
    return demo, found[0]


def test_the_demo_connects_every_platform_and_records_their_orders(tmp_path: Path) -> None:
    demo, url = _start(tmp_path)
    state_file = tmp_path / "data" / "demo.json"
    try:
        state: dict[str, Any] = {}

        def connected() -> bool:
            if not state_file.exists():
                return False
            state.update(orjson.loads(state_file.read_bytes()))
            return len(state.get("integrations", {})) == len(CATALOG)

        wait_until(connected, timeout=120)
        assert set(state["integrations"]) == {life.platform for life in CATALOG}

        def recorded() -> bool:
            counts = _placed_by_integration(url, state["private_key"])
            return set(counts) == set(state["integrations"].values()) and all(counts.values())

        wait_until(recorded, timeout=120)
        # serve's worker may record the history before the demo's own import has finished.
        wait_until(lambda: "new orders arrive every few seconds" in demo.output(), timeout=120)
        headers = {"Authorization": f"Klaviyo-API-Key {state['private_key']}"}
        flows = httpx.get(f"{url}/api/flows", headers=headers, timeout=10).json()["data"]
        assert sorted((f["attributes"]["template"], f["attributes"]["status"]) for f in flows) == [
            ("abandoned-checkout", "live"),
            ("post-purchase", "live"),
        ]
        # A live order of the WooCommerce store is thanked, and its customer opens the email.
        wait_until(lambda: _opened_flow_emails(url, state["private_key"]) > 0, timeout=240)
    finally:
        output = demo.stop()
    assert "failed" not in output, output

    again, url = _start(tmp_path)
    try:
        wait_until(lambda: "new orders arrive" in again.output(), timeout=120)
        saved = orjson.loads(state_file.read_bytes())
        assert saved["account_id"] == state["account_id"]
        assert saved["integrations"] == state["integrations"]
        headers = {"Authorization": f"Klaviyo-API-Key {state['private_key']}"}
        flows = httpx.get(f"{url}/api/flows", headers=headers, timeout=10).json()["data"]
        assert len(flows) == 2  # found again, not made twice
    finally:
        again.stop()
