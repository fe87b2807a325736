"""Webhook intake: ``POST /webhooks/{platform}/{integration_id}`` as a lean ASGI handler.

Verify, hand the raw delivery to the group-commit writer, answer once it is committed — and
nothing else on the request path: parsing into orders happens in processing. The answers follow
DESIGN.md: a bad signature is 401 and stored as rejected (the doctor shows it); a duplicate is 200
with nothing new; a disabled integration is 200, stored as ignored and replayable; load never
gives a 5xx, nor does the database being away (the writer spools what it acknowledges).

Two Shopify paths do more: ``/webhooks/shopify/compliance`` (the app's privacy topics, for
any shop) is verified and applied by ``shopify_compliance`` before its 200, and a store's
``uninstall_topic`` (``app/uninstalled``), once stored, disables its integration.

A rejected delivery keeps its headers, size, hash and first bytes only, and past the
integration's limit (``rejection_limit.py``) nothing but a count: anyone can post to a webhook
URL, and refusing a forgery must not cost disk.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import orjson
from starlette.concurrency import run_in_threadpool

from shoptrack.api.asgi import MAX_BODY_BYTES, Answer, IntakeRequest, MethodNotAllowedError
from shoptrack.api.rejection_limit import RejectionLimit
from shoptrack.connectors import Connector, WebhookCheck, WebhookVerdict, connector_for
from shoptrack.connectors.secret_variants import verifying_variant
from shoptrack.errors import AuthenticationError, NotFoundError, UnavailableError
from shoptrack.integrations import uninstalled
from shoptrack.pipeline.writer import RETRY_AFTER_SECONDS, GroupCommitWriter
from shoptrack.services import Services
from shoptrack.shopify_compliance import handle_compliance
from shoptrack.store.database import database_unavailable
from shoptrack.store.inbox import InboxEntry, InboxState, as_rejected
from shoptrack.store.integrations import find_integration

__all__ = ["MAX_BODY_BYTES", "WebhookIntake"]

# How long a process trusts its cached copy of an integration's secrets and enabled flag.
CACHE_SECONDS = 5.0
_KEPT_HEADERS_PREFIXES = ("x-", "webhook-", "content-type", "user-agent")


@dataclass(frozen=True, slots=True)
class _Target:
    integration_id: str
    account_id: str
    platform: str
    enabled: bool
    secrets: tuple[str, ...]


class WebhookIntake:
    """The lean handler (``asgi.lean``) of webhook deliveries: ``deliver``."""

    def __init__(self, services: Services, writer: GroupCommitWriter) -> None:
        self._services = services
        self._writer = writer
        self._cache: dict[str, tuple[float, _Target | None]] = {}
        self._rejections = RejectionLimit(services.clock)

    async def deliver(self, request: IntakeRequest) -> Answer:
        """Takes one delivery; answers 200 with what became of it (``status``)."""
        status, body = await self._handle(request)
        return Answer(status, orjson.dumps(body), "application/json")

    async def _handle(self, request: IntakeRequest) -> tuple[int, dict[str, str]]:
        parts = [p for p in request.path.split("/") if p]
        if len(parts) != 3:
            raise NotFoundError("webhook URLs are /webhooks/{platform}/{integration_id}")
        _, platform, integration_id = parts
        if request.method != "POST":
            raise MethodNotAllowedError("webhooks are delivered with POST")
        if (platform, integration_id) == ("shopify", "compliance"):
            body = await request.body()
            answer = await run_in_threadpool(
                handle_compliance, self._services, request.headers, body
            )
            return 200, {key: str(value) for key, value in answer.items()}
        try:
            connector: Connector = connector_for(platform)
        except KeyError:
            raise NotFoundError(f"unknown platform {platform!r} in the webhook URL") from None
        target = await self._target(integration_id)
        if target is None or target.platform != platform:
            raise NotFoundError(f"no {platform} integration {integration_id}")
        body = await request.body()
        headers = request.headers
        check = connector.check_webhook(
            target.secrets, headers, body, now=self._services.clock.now()
        )
        if check.verdict is WebhookVerdict.PING:
            return 200, {"status": "ok"}
        kept = {k: v for k, v in headers.items() if k.startswith(_KEPT_HEADERS_PREFIXES)}
        entry = InboxEntry(
            account_id=target.account_id,
            integration_id=target.integration_id,
            source="webhook",
            topic=check.topic or "unknown",
            body=body,
            headers=kept,
            state=InboxState.PENDING if target.enabled else InboxState.IGNORED,
            reason=None if target.enabled else "integration disabled",
            dedupe_key=_dedupe_key(target.integration_id, check.delivery_id, body),
        )
        if check.verdict in (WebhookVerdict.REJECTED, WebhookVerdict.CLOCK_SKEW):
            await self._keep_rejected(target, connector, check, entry)
            raise AuthenticationError(
                check.reason or "the webhook signature does not verify",
                code="webhook_clock_skew"
                if check.verdict is WebhookVerdict.CLOCK_SKEW
                else "webhook_signature_rejected",
            )
        inserted = await self._writer.write(entry)
        if not inserted:
            return 200, {"status": "duplicate"}
        if connector.uninstall_topic is not None and check.topic == connector.uninstall_topic:
            await run_in_threadpool(uninstalled, self._services, target.integration_id, check.topic)
            self._cache.pop(target.integration_id, None)
        return 200, {"status": "ignored" if not target.enabled else "accepted"}

    async def _keep_rejected(
        self, target: _Target, connector: Connector, check: WebhookCheck, entry: InboxEntry
    ) -> None:
        """Stores a refused delivery, small, or past the integration's limit only counts it."""
        verdict = check.verdict.value
        if not self._rejections.allow(target.integration_id):
            self._writer.count_unstored(target.integration_id, verdict)
            return
        # Signed by the store with its secret in another white-space form, it is no forgery:
        # kept whole, the doctor's credentials_whitespace fix processes it.
        genuine = (
            check.verdict is WebhookVerdict.REJECTED
            and await run_in_threadpool(
                verifying_variant,
                connector,
                target.secrets,
                entry.headers,
                entry.body,
                now=self._services.clock.now(),
            )
            is not None
        )
        rejected = as_rejected(entry, f"{verdict}: {check.reason}", keep_whole=genuine)
        await self._writer.write_rejected(rejected, verdict)

    async def _target(self, integration_id: str) -> _Target | None:
        cached = self._cache.get(integration_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            target = await run_in_threadpool(self._load_target, integration_id)
        except Exception as error:
            if not database_unavailable(error):
                raise
            if cached is not None:
                # The database is away: what it said a moment ago still holds, and is asked
                # again in CACHE_SECONDS rather than by every delivery.
                self._cache[integration_id] = (time.monotonic() + CACHE_SECONDS, cached[1])
                return cached[1]
            raise UnavailableError(
                "the database is unavailable and this integration was not read since the "
                "server started: try again later",
                retry_after=RETRY_AFTER_SECONDS,
            ) from error
        self._cache[integration_id] = (time.monotonic() + CACHE_SECONDS, target)
        return target

    def _load_target(self, integration_id: str) -> _Target | None:
        with self._services.database.read() as connection:
            integration = find_integration(connection, integration_id)
        if integration is None or integration.removed_at is not None:
            return None
        credentials = integration.credentials(self._services.cipher)
        return _Target(
            integration_id=integration.id,
            account_id=integration.account_id,
            platform=integration.platform,
            enabled=integration.enabled,
            secrets=tuple(connector_for(integration.platform).webhook_secrets(credentials)),
        )


def _dedupe_key(integration_id: str, delivery_id: str | None, body: bytes) -> str | None:
    """What makes a repeat: the platform's delivery id *and* the body. WooCommerce's delivery id
    is a hash of the webhook id and the second, so two changes of one order within a second
    share it; a re-sent delivery carries the same bytes, a new change does not."""
    if not delivery_id:
        return None
    digest = hashlib.sha256(body).hexdigest()[:32]
    return f"webhook:{integration_id}:{delivery_id}:{digest}"
