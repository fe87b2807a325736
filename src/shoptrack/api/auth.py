"""Who is calling: a private key (``Authorization: Klaviyo-API-Key pk_…``) or, on the client
endpoints, a public key (``company_id``). Lookups are cached briefly per process, so the intake
path does not read the database on every request; a revoked key stops working within
``CACHE_SECONDS``. While the database cannot be reached, a key read before keeps its answer, so
intake goes on acknowledging (into the spool) for the callers it knows."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from shoptrack.errors import AuthenticationError
from shoptrack.ids import hash_key
from shoptrack.services import Services
from shoptrack.store.accounts import Account, account_by_public_key, authenticate
from shoptrack.store.database import database_unavailable

__all__ = ["CACHE_SECONDS", "KeyCache", "private_key_of"]

CACHE_SECONDS = 5.0
_SCHEMES = ("klaviyo-api-key", "bearer")


def private_key_of(authorization: str | None) -> str:
    """The key in an ``Authorization`` header, or a 401 saying how to send one."""
    if not authorization:
        raise AuthenticationError(
            "missing Authorization header: send 'Authorization: Klaviyo-API-Key pk_…'"
        )
    scheme, _, key = authorization.strip().partition(" ")
    if scheme.lower() not in _SCHEMES or not key.strip():
        raise AuthenticationError(
            "the Authorization header must read 'Klaviyo-API-Key ' followed by a private key"
        )
    return key.strip()


@dataclass(frozen=True, slots=True)
class _Entry:
    expires: float
    account: Account | None


class KeyCache:
    """Private and public keys to accounts, each answer kept for ``CACHE_SECONDS``."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._private: dict[str, _Entry] = {}
        self._public: dict[str, _Entry] = {}

    async def account(self, authorization: str | None) -> Account:
        key = private_key_of(authorization)
        digest = hash_key(key)
        entry = await _fresh(self._private, digest, lambda: self._load_private(key))
        if entry.account is None:
            raise AuthenticationError("the private API key is unknown or revoked")
        return entry.account

    async def account_by_public_key(self, public_key: str | None) -> Account:
        if not public_key:
            raise AuthenticationError(
                "missing company_id: send your public API key as ?company_id=…",
                parameter="company_id",
            )
        entry = await _fresh(self._public, public_key, lambda: self._load_public(public_key))
        if entry.account is None:
            raise AuthenticationError(
                "company_id is not a known public API key", parameter="company_id"
            )
        return entry.account

    def _load_private(self, key: str) -> Account | None:
        with self._services.database.read() as connection:
            try:
                return authenticate(connection, key)
            except AuthenticationError:
                return None

    def _load_public(self, public_key: str) -> Account | None:
        with self._services.database.read() as connection:
            return account_by_public_key(connection, public_key)


async def _fresh(cache: dict[str, _Entry], key: str, load: Callable[[], Account | None]) -> _Entry:
    """The cached answer for ``key``, read again once it is older than ``CACHE_SECONDS`` —
    unless the database cannot be reached, when the old answer stands."""
    entry = cache.get(key)
    if entry is not None and entry.expires >= time.monotonic():
        return entry
    try:
        account = await run_in_threadpool(load)
    except Exception as error:
        if entry is None or not database_unavailable(error):
            raise
        # Asked again in CACHE_SECONDS, not by every request: a database that hangs rather
        # than refuses would make each of them wait for the connect timeout.
        entry = _Entry(time.monotonic() + CACHE_SECONDS, entry.account)
        cache[key] = entry
        return entry
    entry = _Entry(time.monotonic() + CACHE_SECONDS, account)
    cache[key] = entry
    return entry
