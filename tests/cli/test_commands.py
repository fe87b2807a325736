"""The ``shoptrack`` command as a user runs it."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from sqlalchemy import text

from shoptrack.store.database import Database
from shoptrack.store.migrations import head_revision
from tests.processes import environment, run_cli


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return environment(database_url, tmp_path / "data")


def test_accounts_create_prints_the_documented_json(env: dict[str, str]) -> None:
    result = run_cli(env, "accounts", "create", "Acme", "--json")
    assert result.returncode == 0, result.stderr
    document = orjson.loads(result.stdout)
    assert set(document) == {"id", "name", "public_key", "private_key"}
    assert document["name"] == "Acme"
    assert document["private_key"].startswith("pk_")
    assert len(document["private_key"]) == 37
    assert len(document["public_key"]) == 6


def test_keys_create_and_revoke(env: dict[str, str]) -> None:
    account = orjson.loads(run_cli(env, "accounts", "create", "Acme", "--json").stdout)
    created = run_cli(env, "keys", "create", "--label", "ci", "--json")
    assert created.returncode == 0, created.stderr
    key = orjson.loads(created.stdout)
    assert key["account_id"] == account["id"]
    revoked = run_cli(env, "keys", "revoke", key["id"])
    assert revoked.returncode == 0, revoked.stderr
    again = run_cli(env, "keys", "revoke", key["id"])
    assert again.returncode == 1
    assert again.stderr.strip().startswith("error: no active key")
    assert len(again.stderr.strip().splitlines()) == 1


def test_account_must_be_named_when_there_are_several(env: dict[str, str]) -> None:
    run_cli(env, "accounts", "create", "One")
    run_cli(env, "accounts", "create", "Two")
    result = run_cli(env, "keys", "create")
    assert result.returncode == 2
    assert "--account" in result.stderr


def test_empty_account_name_is_refused_in_one_line(env: dict[str, str]) -> None:
    result = run_cli(env, "accounts", "create", "  ")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: the account name is empty: give the account a name"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database of each kind with no schema at all."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    url: str = request.getfixturevalue("postgres_url")
    database = Database(url)
    try:
        with database.write() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        database.dispose()
    return url


def test_db_upgrade_is_idempotent(empty_database_url: str, tmp_path: Path) -> None:
    env = environment(empty_database_url, tmp_path / "data")
    first = run_cli(env, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"schema at revision {head_revision()} (upgraded)"
    second = run_cli(env, "db", "upgrade")
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == f"schema at revision {head_revision()}"  # nothing ran
    assert run_cli(env, "accounts", "create", "Acme").returncode == 0


def test_replay_rejects_rejected_rows(env: dict[str, str]) -> None:
    run_cli(env, "accounts", "create", "Acme")
    result = run_cli(env, "replay", "--state", "rejected")
    assert result.returncode == 2
    assert "rejected rows are never replayed" in result.stderr


def test_worker_refuses_sqlite_and_says_why(tmp_path: Path) -> None:
    env = environment(f"sqlite:///{tmp_path / 'x.db'}", tmp_path / "data")
    result = run_cli(env, "worker")
    assert result.returncode == 1
    assert "needs PostgreSQL" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_worker_refuses_a_share_of_the_inbox_that_does_not_exist(tmp_path: Path) -> None:
    env = environment(f"sqlite:///{tmp_path / 'x.db'}", tmp_path / "data")
    for share, problem in (("2/2", "share 2 of 2 does not exist"), ("half", "write K/N")):
        result = run_cli(env, "worker", "--inbox-share", share)
        assert result.returncode == 1
        assert "--inbox-share" in result.stderr
        assert problem in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_postgres_without_secret_key_is_a_clear_error(tmp_path: Path) -> None:
    env = environment("postgresql://postgres@127.0.0.1:1/none", tmp_path / "data")
    del env["SHOPTRACK_SECRET_KEY"]
    result = run_cli(env, "accounts", "list")
    assert result.returncode == 1
    assert "SHOPTRACK_SECRET_KEY is required with PostgreSQL" in result.stderr


def test_replay_finishes_dead_letters(env: dict[str, str], database_url: str) -> None:
    """Rows that died under an earlier bug are processed once `replay` runs on the fixed code."""
    from sqlalchemy import update

    from shoptrack.services import Services
    from shoptrack.settings import Settings
    from shoptrack.store.schema import inbox
    from shoptrack.testing import make_shop, woo_order
    from tests.conftest import START
    from tests.helpers import deliver, event_counts, inbox_states

    services = Services.build(
        Settings(database_url=database_url, secret_key=env["SHOPTRACK_SECRET_KEY"])
    )
    try:
        shop = make_shop(services)
        deliver(services, shop, woo_order(1, "processing", START), "a")
        with services.database.write() as connection:
            connection.execute(update(inbox).values(state="dead", attempts=5, last_error="bug"))
        result = run_cli(env, "replay", "--json")
        assert result.returncode == 0, result.stderr
        assert orjson.loads(result.stdout) == {
            "queued": 1,
            "processed": 1,
            "failed": 0,
            "events_recorded": 3,
        }
        assert inbox_states(services) == {"processed": 1}
        assert event_counts(services, shop.account_id)["Placed Order"] == 1
    finally:
        services.close()


def test_accounts_settings_shows_changes_and_names_the_option_it_refuses(
    env: dict[str, str],
) -> None:
    account = orjson.loads(run_cli(env, "accounts", "create", "Acme", "--json").stdout)
    shown = run_cli(env, "accounts", "settings")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == [
        *("time_zone", "UTC", "test_sends", "off", "attribution_window_days", "5"),
        *("attribution_clicks_only", "off", "email_tracking", "on", "utm_parameters", "on"),
    ]

    changed = run_cli(
        env,
        *("accounts", "settings", "--time-zone", "Europe/Berlin", "--test-sends"),
        *("--attribution-window-days", "3", "--attribution-clicks-only", "--no-email-tracking"),
        *("--no-utm-parameters", "--json"),
    )
    assert changed.returncode == 0, changed.stderr
    assert orjson.loads(changed.stdout) == {
        "account_id": account["id"],
        "time_zone": "Europe/Berlin",
        "test_sends": True,
        "attribution_window_days": 3,
        "attribution_clicks_only": True,
        "email_tracking": False,
        "utm_parameters": False,
    }
    refused = run_cli(env, "accounts", "settings", "--time-zone", "Mars/Base")
    assert refused.returncode == 1
    expected = "error: --time-zone: 'Mars/Base' is no IANA time zone; use a name such as"
    assert refused.stderr.strip().splitlines() == [f"{expected} Europe/Berlin or UTC"]
    kept = orjson.loads(run_cli(env, "accounts", "settings", "--json").stdout)
    assert kept["time_zone"] == "Europe/Berlin"
    too_long = run_cli(env, "accounts", "settings", "--attribution-window-days", "120")
    assert too_long.returncode == 1
    assert too_long.stderr.startswith("error: --attribution-window-days: ")
