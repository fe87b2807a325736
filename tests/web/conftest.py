"""The web UI's tests hash passwords with argon2id at its lowest cost: the production cost is
there to be slow, and checked once, without hashing, in ``test_sign_in``."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from shoptrack import users

_CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "_hasher", lambda: _CHEAP)
    monkeypatch.setattr(users, "_stand_in_hash", lambda: _CHEAP.hash("no password matches this"))
