"""``shoptrack doctor`` as a merchant runs it, against a simulated WooCommerce store on a real
socket: a readable report, exit status 1 on errors, ``--fix`` and ``--json``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

import shoptrack
from shoptrack.simulators import WooCommerceSimulator
from shoptrack.simulators.serving import serving
from tests.processes import environment, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture
def store() -> Iterator[tuple[WooCommerceSimulator, str]]:
    simulator = WooCommerceSimulator()
    simulator.add_orders(6, statuses=("processing", "pending"), interval=timedelta(hours=5))
    with serving(simulator.app) as base_url:
        yield simulator, base_url


def test_doctor_reports_fixes_and_exits_1_on_errors(
    database_url: str, tmp_path: Path, store: tuple[WooCommerceSimulator, str]
) -> None:
    simulator, base_url = store
    env = environment(database_url, tmp_path / "data")
    assert run_cli(env, "accounts", "create", "Acme").returncode == 0
    options = [f"--credential={k}={v}" for k, v in simulator.credentials(base_url).items()]
    added = run_cli(env, "integrations", "add", "woocommerce", "--name", "Woo", *options, "--json")
    assert added.returncode == 0, added.stderr
    integration_id = orjson.loads(added.stdout)["data"]["id"]

    # Connected, never synced: the store's orders are not here yet.
    first = run_cli(env, "doctor", integration_id)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "no_recent_placed_orders" in first.stdout
    assert "sync_pending" in first.stdout
    assert f"shoptrack doctor {integration_id} --fix sync_pending" in first.stdout

    fixed = run_cli(env, "doctor", integration_id, "--fix", "sync_pending")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "applied sync_pending" in fixed.stdout

    healthy = run_cli(env, "doctor", integration_id, "--json")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    document = orjson.loads(healthy.stdout)
    assert document["meta"]["worst"] in ("ok", "info")
    assert {r["type"] for r in document["data"]} == {"finding"}

    simulator.set_faults({"firewall_user_agent": "shoptrack"})
    blocked = run_cli(env, "doctor")  # the whole account
    assert blocked.returncode == 1
    assert "firewall_blocked" in blocked.stdout
    assert f"shoptrack/{shoptrack.__version__}" in blocked.stdout
    refused = run_cli(env, "doctor", integration_id, "--fix", "firewall_blocked")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: firewall_blocked (error) has no fix")
