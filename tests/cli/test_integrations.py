"""``shoptrack integrations …`` and ``shoptrack sync`` as a merchant runs them, against a
simulated WooCommerce store on a real socket."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from shoptrack.simulators import WooCommerceSimulator
from shoptrack.simulators.serving import serving
from tests.processes import environment, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture
def store() -> Iterator[tuple[WooCommerceSimulator, str]]:
    simulator = WooCommerceSimulator()
    simulator.add_orders(
        30, statuses=("processing", "completed", "pending"), interval=timedelta(hours=5)
    )
    with serving(simulator.app) as base_url:
        yield simulator, base_url


def _add(
    env: dict[str, str], credentials: dict[str, str], name: str = "Woo"
) -> subprocess.CompletedProcess[str]:
    options = [f"--credential={key}={value}" for key, value in credentials.items()]
    return run_cli(env, "integrations", "add", "woocommerce", "--name", name, *options, "--json")


def test_add_sync_update_and_remove(
    database_url: str, tmp_path: Path, store: tuple[WooCommerceSimulator, str]
) -> None:
    simulator, base_url = store
    env = environment(database_url, tmp_path / "data")
    assert run_cli(env, "accounts", "create", "Acme").returncode == 0

    credentials = simulator.credentials(base_url)
    credentials["consumer_key"] = f" {credentials['consumer_key']}  "
    added = _add(env, credentials)
    assert added.returncode == 0, added.stderr
    document = orjson.loads(added.stdout)
    integration_id = document["data"]["id"]
    assert document["data"]["attributes"]["health"] == "ok"
    assert document["meta"]["trimmed_fields"] == ["consumer_key"]
    assert simulator.consumer_secret not in added.stdout

    synced = run_cli(env, "sync", integration_id, "--json")
    assert synced.returncode == 0, synced.stderr
    run = orjson.loads(synced.stdout)["data"]["attributes"]
    assert run["state"] == "succeeded"
    assert run["orders_seen"] == 30
    assert run["backfill"] is True
    assert run["events_recorded"] >= 20 * 2  # 20 placed orders, each with its products

    assert run["pending_rows"] == 0  # what it read is processed before it answers

    again = run_cli(env, "sync", integration_id)
    assert again.returncode == 0, again.stderr
    assert re.search(r"\d+ orders seen, 0 new, 0 events recorded, all processed", again.stdout)

    rule = 'placed_statuses={"include": ["processing", "pending"]}'
    updated = run_cli(env, "integrations", "update", integration_id, "-s", rule, "--json")
    assert updated.returncode == 0, updated.stderr
    assert any("backfill" in w for w in orjson.loads(updated.stdout)["meta"]["warnings"])

    disabled = run_cli(env, "integrations", "update", integration_id, "--disable", "--json")
    assert orjson.loads(disabled.stdout)["data"]["attributes"]["enabled"] is False

    listed = orjson.loads(run_cli(env, "integrations", "list", "--json").stdout)["data"]
    assert [i["id"] for i in listed] == [integration_id]
    removed = run_cli(env, "integrations", "remove", integration_id)
    assert removed.returncode == 0
    assert orjson.loads(run_cli(env, "integrations", "list", "--json").stdout)["data"] == []


def test_refused_keys_are_one_readable_line_and_nothing_is_stored(
    database_url: str, tmp_path: Path, store: tuple[WooCommerceSimulator, str]
) -> None:
    simulator, base_url = store
    env = environment(database_url, tmp_path / "data")
    run_cli(env, "accounts", "create", "Acme")
    refused = _add(env, simulator.credentials(base_url) | {"consumer_secret": "cs_wrong"})
    assert refused.returncode == 1
    line = refused.stderr.strip()
    assert line.startswith("error: woocommerce refused the credentials")
    assert "\n" not in line
    assert orjson.loads(run_cli(env, "integrations", "list", "--json").stdout)["data"] == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["-c", "store_url=not a url"], "credentials.store_url"),
        (["-c", "colour=blue"], "credentials.colour: unknown field"),
        (["-s", "timezone=Mars/Olympus"], "settings.timezone"),
        (["-s", "placed_statuses=7"], "placed_statuses"),
        (["-c", "novalue"], "KEY=VALUE"),
    ],
)
def test_bad_fields_are_named(
    database_url: str,
    tmp_path: Path,
    store: tuple[WooCommerceSimulator, str],
    arguments: list[str],
    message: str,
) -> None:
    simulator, base_url = store
    env = environment(database_url, tmp_path / "data")
    run_cli(env, "accounts", "create", "Acme")
    options = [f"--credential={k}={v}" for k, v in simulator.credentials(base_url).items()]
    result = run_cli(
        env, "integrations", "add", "woocommerce", "--name", "Woo", *options, *arguments
    )
    assert result.returncode in (1, 2)
    assert message in result.stderr


def test_listing_and_showing_read_as_tables_without_naming_the_account(
    database_url: str, tmp_path: Path, store: tuple[WooCommerceSimulator, str]
) -> None:
    simulator, base_url = store
    env = environment(database_url, tmp_path / "data")
    first = orjson.loads(run_cli(env, "accounts", "create", "Acme", "--json").stdout)
    run_cli(env, "accounts", "create", "Other")
    options = [f"--credential={k}={v}" for k, v in simulator.credentials(base_url).items()]
    added = run_cli(
        env, "integrations", "add", "woocommerce", "--name", "Corner shop", *options,
        "--account", first["id"], "--json",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    integration_id = orjson.loads(added.stdout)["data"]["id"]

    # The integration's id names its account: no --account although there are two.
    synced = run_cli(env, "sync", integration_id)
    assert synced.returncode == 0, synced.stderr
    # In a log, the sync's progress is lines with counts, the store's total among them.
    assert "sync: Corner shop (woocommerce): 30/30 orders, 1 page" in synced.stderr

    listed = run_cli(env, "integrations", "list", "--account", first["id"])
    header, row = listed.stdout.splitlines()
    assert header.split() == [
        "ID", "Name", "Platform", "Health", "Enabled", "Last", "sync", "Next", "sync",
    ]  # fmt: skip
    assert row.startswith(f"{integration_id}  Corner shop  woocommerce  ok")
    assert row[header.index("Last sync") :].startswith("succeeded just now")

    shown = run_cli(env, "integrations", "show", integration_id)
    assert shown.returncode == 0, shown.stderr
    fields = dict(line.split(None, 1) for line in shown.stdout.splitlines() if "  " in line)
    assert shown.stdout.splitlines()[1].split(None, 1) == ["Name", "Corner shop"]
    assert "{" not in shown.stdout.split("setting")[0]  # not a JSON dump
    assert "30 orders, 30 new" in shown.stdout
    assert fields["Platform"].strip() == "woocommerce"

    doctor = run_cli(env, "doctor", integration_id)
    assert f"Corner shop (woocommerce), integration {integration_id}" in doctor.stdout
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:", doctor.stdout)  # no raw ISO times

    assert run_cli(env, "integrations", "remove", integration_id).returncode == 0
