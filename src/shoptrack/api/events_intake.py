"""Event intake on the fast path: ``POST /api/events`` (private key) and
``POST /client/events?company_id=`` (public key, CORS, rate-limited).

``/client/events`` also takes ``&integration_id=``, shoptrack's addition for its onsite tracker:
the events are then recorded on that integration's metrics (its Viewed Product, not the API's).
The integration must belong to the public key's account; without the parameter the endpoint is
Klaviyo's, unchanged.

Both check the event against Klaviyo's rules, hand the raw body to the group-commit writer and
answer 202 with no body once it is committed; the event is recorded by processing, which is what
Klaviyo's 202 promises too ("validated and submitted for processing").
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import orjson
from starlette.concurrency import run_in_threadpool

from shoptrack.api.asgi import Answer, IntakeRequest, MethodNotAllowedError
from shoptrack.api.auth import CACHE_SECONDS, KeyCache
from shoptrack.api.jsonapi import refuse_unstorable
from shoptrack.clock import Clock
from shoptrack.domain.api_events import EventPayloadError, parse_event
from shoptrack.errors import InputError, ShoptrackError
from shoptrack.pipeline.writer import GroupCommitWriter
from shoptrack.services import Services
from shoptrack.store.inbox import InboxEntry
from shoptrack.store.integrations import Integration, find_integration
from shoptrack.store.schema import profiles

__all__ = ["EventIntake", "RateLimitedError", "TokenBucket"]

# Klaviyo's limits for /client/events: 350 a second in bursts, 3,500 a minute steadily.
CLIENT_BURST = 350
CLIENT_PER_MINUTE = 3500

_CORS_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"POST, OPTIONS"),
    (b"access-control-allow-headers", b"content-type, revision, accept"),
    (b"access-control-max-age", b"86400"),
]


class RateLimitedError(ShoptrackError):
    """Too many requests for this key; ``retry_after`` says when to try again (seconds)."""

    code = "throttled"
    status = 429
    title = "Request was throttled."

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, meta={"retry_after": retry_after})
        self.retry_after = retry_after


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBucket:
    """Per-key token buckets: ``burst`` tokens at most, refilled at ``per_minute`` a minute.

    Limits hold per process; behind a load balancer with N processes a key gets N times them.
    """

    def __init__(self, burst: int, per_minute: int, clock: Clock) -> None:
        self._burst = burst
        self._rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        now = self._clock.now().timestamp()
        with self._lock:
            bucket = self._buckets.setdefault(key, _Bucket(float(self._burst), now))
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
            bucket.updated = now
            if bucket.tokens < 1:
                wait = max(1, int((1 - bucket.tokens) / self._rate) + 1)
                raise RateLimitedError(
                    f"more than {CLIENT_PER_MINUTE} client events a minute for this public key",
                    retry_after=wait,
                )
            bucket.tokens -= 1


class EventIntake:
    """The lean handlers (``asgi.lean``) of the two event endpoints."""

    def __init__(self, services: Services, writer: GroupCommitWriter, keys: KeyCache) -> None:
        self._services = services
        self._writer = writer
        self._keys = keys
        self._client_limit = TokenBucket(CLIENT_BURST, CLIENT_PER_MINUTE, services.clock)
        # integration id -> (expires, owning account id, removed); like KeyCache, so the
        # tracker's requests do not read the database each time.
        self._integrations: dict[str, tuple[float, str, bool]] = {}

    async def api_events(self, request: IntakeRequest) -> Answer:
        """``POST /api/events``: 202 once the event is committed."""
        if request.method != "POST":
            raise MethodNotAllowedError("events are sent with POST")
        account = await self._keys.account(request.headers.get("authorization"))
        await self._accept(account.id, "api", await request.body())
        return Answer(202)

    async def client_events(self, request: IntakeRequest) -> Answer:
        """``POST /client/events``: 202 once the event is committed; every answer, errors
        included, with the CORS headers a page of any origin needs."""
        if request.method == "OPTIONS":
            return Answer(204, b"", "text/plain", _CORS_HEADERS)
        try:
            if request.method != "POST":
                raise MethodNotAllowedError("client events are sent with POST")
            account = await self._keys.account_by_public_key(request.parameter("company_id"))
            self._client_limit.take(account.public_key)
            integration_id = await self._client_integration(
                account.id, request.parameter("integration_id")
            )
            await self._accept(
                account.id, "client", await request.body(), integration_id=integration_id
            )
        except RateLimitedError as error:
            retry = [(b"retry-after", str(error.retry_after).encode())]
            return Answer.error(error, _CORS_HEADERS + retry)
        except ShoptrackError as error:
            return Answer.error(error, _CORS_HEADERS)
        return Answer(202, headers=_CORS_HEADERS)

    async def _client_integration(self, account_id: str, integration_id: str | None) -> str | None:
        """The ``integration_id`` parameter, checked: an integration of this account, not
        removed. Absent (Klaviyo's form), the events are the API's."""
        if integration_id is None:
            return None
        entry = self._integrations.get(integration_id)
        if entry is None or entry[0] < time.monotonic():
            found = await run_in_threadpool(self._find_integration, integration_id)
            if found is None:
                # Not cached: made-up ids must not grow the cache (the rate limit bounds them).
                raise _not_of_account(integration_id)
            entry = (
                time.monotonic() + CACHE_SECONDS,
                found.account_id,
                found.removed_at is not None,
            )
            self._integrations[integration_id] = entry
        _expires, owner, removed = entry
        if owner != account_id:
            raise _not_of_account(integration_id)
        if removed:
            raise InputError(
                f"integration {integration_id} was removed: reconnect the store and configure "
                "the tracker with the new integration's id",
                parameter="integration_id",
            )
        return integration_id

    def _find_integration(self, integration_id: str) -> Integration | None:
        with self._services.database.read() as connection:
            return find_integration(connection, integration_id)

    async def _accept(
        self, account_id: str, source: str, body: bytes, *, integration_id: str | None = None
    ) -> None:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise InputError(f"the body is not JSON: {error}", pointer="/") from error
        if b"\\u0000" in body:
            # PostgreSQL's JSON cannot hold NUL: refuse now rather than acknowledge and then fail.
            refuse_unstorable(document)
        try:
            event = parse_event(document, now=self._services.clock.now())
        except EventPayloadError as error:
            raise InputError(error.detail, pointer=error.pointer) from error
        profile_id = event.data.attributes.profile.data.id
        if profile_id is not None and not await run_in_threadpool(
            self._profile_exists, account_id, profile_id
        ):
            raise InputError(
                f"no profile {profile_id} in this account",
                pointer="/data/attributes/profile/data/id",
            )
        await self._writer.write(
            InboxEntry(
                account_id=account_id,
                source=source,
                topic="event",
                body=body,
                integration_id=integration_id,
            )
        )

    def _profile_exists(self, account_id: str, profile_id: str) -> bool:
        with self._services.database.read() as connection:
            return (
                connection.execute(
                    profiles.select()
                    .with_only_columns(profiles.c.id)
                    .where(profiles.c.account_id == account_id, profiles.c.id == profile_id)
                ).first()
                is not None
            )


def _not_of_account(integration_id: str) -> InputError:
    return InputError(
        f"integration_id {integration_id!r} is not an integration of the account of this "
        "company_id (public key)",
        parameter="integration_id",
    )
