"""``shoptrack users …`` as an operator runs it."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.processes import environment, run_cli

pytestmark = pytest.mark.slow


def test_users_create_and_list(database_url: str, tmp_path: Path) -> None:
    env = environment(database_url, tmp_path / "data")
    account = orjson.loads(run_cli(env, "accounts", "create", "Acme", "--json").stdout)["id"]
    created = run_cli(
        env, "users", "create", "Owner@Example.com", "--password", "long enough pass", "--json"
    )
    assert created.returncode == 0, created.stderr
    document = orjson.loads(created.stdout)
    assert document["email"] == "owner@example.com"
    assert document["account_id"] == account
    assert "long enough pass" not in created.stdout

    again = run_cli(env, "users", "create", "owner@example.com", "--password", "another password")
    assert again.returncode == 1
    assert again.stderr == "error: a user with the email owner@example.com exists already\n"
    short = run_cli(env, "users", "create", "b@example.com", "--password", "short")
    assert short.returncode == 1
    assert "at least 10 characters" in short.stderr
    unknown = run_cli(
        env, "users", "create", "c@example.com", "--password", "x" * 12, "--account", "NOPE"
    )
    assert unknown.returncode == 1

    listed = run_cli(env, "users", "list", "--json")
    assert [user["email"] for user in orjson.loads(listed.stdout)] == ["owner@example.com"]
