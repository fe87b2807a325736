"""``shoptrack watch`` and ``shoptrack alerts`` as a merchant runs them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from shoptrack.clock import FrozenClock
from shoptrack.services import Services
from tests.flow_support import SmtpServer, smtp, webhook_receiver
from tests.processes import environment, run_cli
from tests.watch_support import WatchedStore, watched_store

__all__ = ["smtp"]  # the fixture, imported so pytest finds it here

pytestmark = pytest.mark.slow


@pytest.fixture
def clock() -> FrozenClock:
    """Near the real time: the commands run on the machine's clock."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def world(services: Services, clock: FrozenClock, smtp: SmtpServer) -> Iterator[WatchedStore]:
    with watched_store(services, clock, smtp) as store:
        yield store


@pytest.fixture
def env(database_url: str, tmp_path: Path, smtp: SmtpServer) -> dict[str, str]:
    return environment(database_url, tmp_path / "data") | {"SHOPTRACK_SMTP_URL": smtp.url}


def test_watch_once_then_alerts_list(world: WatchedStore, env: dict[str, str]) -> None:
    ran = run_cli(env, "watch", "--once")
    assert ran.returncode == 0, ran.stderr
    assert "Watched shop" in ran.stdout
    assert "opened    placed_order_drop  Placed Order dropped: 0 in the" in ran.stdout
    assert "told: 1 email, 0 webhooks" in ran.stdout
    assert len(world.emails()) == 1
    again = run_cli(env, "watch", "--once", "--json")
    assert again.returncode == 0, again.stderr
    report = orjson.loads(again.stdout)
    assert (report["opened"], report["open"], report["emails"]) == (0, 1, 0)
    assert report["accounts"][0]["integrations"] == [world.integration_id]
    listed = run_cli(env, "alerts", "list")
    assert listed.returncode == 0, listed.stderr
    assert "placed_order_drop on Woo (woocommerce) (open since" in listed.stdout
    document = orjson.loads(run_cli(env, "alerts", "list", "--all", "--json").stdout)
    (alert,) = document["data"]
    assert alert["type"] == "alert"
    assert alert["attributes"]["code"] == "placed_order_drop"
    assert len(world.emails()) == 1


def test_subscriptions_from_the_command_line(world: WatchedStore, env: dict[str, str]) -> None:
    listed = run_cli(env, "alerts", "subscriptions")
    assert "ops@example.com" in listed.stdout
    with webhook_receiver() as receiver:
        made = run_cli(env, "alerts", "subscribe", "--webhook", receiver.url(), "--json")
        assert made.returncode == 0, made.stderr
        resource = orjson.loads(made.stdout)["data"]
        assert resource["attributes"]["url"] == receiver.url()
        assert resource["attributes"]["secret"].startswith("whsec_")
        run = run_cli(env, "watch", "--once")
        assert run.returncode == 0, run.stderr
        assert len(receiver.received) == 1
    shown = run_cli(env, "alerts", "subscriptions", "--json")
    assert "whsec_" not in shown.stdout
    twice = run_cli(env, "alerts", "subscribe", "--email", "OPS@example.com")
    assert twice.returncode == 1
    assert twice.stderr.strip().startswith("error: the address ops@example.com is subscribed")
    neither = run_cli(env, "alerts", "subscribe")
    assert neither.returncode == 2
    refused = run_cli(env, "alerts", "subscribe", "--webhook", "http://127.0.0.2/hook")
    assert refused.returncode == 1
    assert "127.0.0.2" in refused.stderr
    gone = run_cli(env, "alerts", "unsubscribe", "--email", "ops@example.com")
    assert gone.returncode == 0, gone.stderr
    assert gone.stdout.strip() == "unsubscribed ops@example.com"
    missing = run_cli(env, "alerts", "unsubscribe", "--email", "ops@example.com")
    assert missing.returncode == 1
    left = orjson.loads(run_cli(env, "alerts", "subscriptions", "--json").stdout)["data"]
    assert [s["attributes"]["channel"] for s in left] == ["webhook"]
